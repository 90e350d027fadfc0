"""Reading the Summary sheet back in tests, by machine name.

Summary shows labels ("34421 lines audited", "Run ID"); these helpers map them back to the manifest's
names (``lines_34421``, ``run_id``) through :mod:`claims_audit.report.labels`, so a test says which fact it
checks in the same words as the manifest.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl

from claims_audit.report.labels import machine_name


def summary_rows(path: Path) -> list[tuple]:
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        return [tuple(r) for r in wb["Summary"].iter_rows(values_only=True)]
    finally:
        wb.close()


def summary_items(path: Path) -> dict[str, object]:
    """Every (label, value) row of Summary's blocks, keyed by machine name (the first occurrence wins)."""
    items: dict[str, object] = {}
    for row in summary_rows(path):
        if len(row) >= 2 and isinstance(row[0], str):
            key = machine_name(row[0])
            if key is not None and key not in items:
                items[key] = row[1]
    return items


def summary_table(path: Path, first: str, second: str) -> list[dict]:
    """The Summary table whose header starts with the labels of `first`, `second` (machine names), as
    dicts keyed by machine name."""
    rows = summary_rows(path)
    from claims_audit.report.labels import label

    start = next(i for i, r in enumerate(rows) if len(r) > 1 and (r[0], r[1]) == (label(first), label(second)))
    head = [machine_name(h) or h for h in rows[start] if h is not None]
    out = []
    for r in rows[start + 1:]:
        if not r or r[0] is None:
            break
        out.append(dict(zip(head, list(r) + [None] * (len(head) - len(r)))))  # read-only drops trailing blanks
    return out
