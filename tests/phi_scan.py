"""A scan for member ids in everything a run writes (issue 17), shared by the PHI tests and the fuzz test.

The scan reads what a person or a program could read: every XML part of every workbook (decompressed),
every other file as text, and every row of every SQLite table (ledger, history). An id counts as found
only as a whole token (not inside a longer run of letters and digits), so a short id does not match
inside a SHA-256 or a finding id by chance.
"""

from __future__ import annotations

import re
import sqlite3
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import openpyxl
import polars as pl

MIN_ID_LENGTH = 5  # shorter ids would match ordinary numbers (units, row counts) by chance

# where a report may hold a raw member id when masking is off (the README's Privacy section lists these)
ALLOWED_UNMASKED = {"Findings": "member_id", "Closed": "member_id"}
REJECTED_VALUE_SHEET = "Rejected"  # column `value` of a rejected member_id cell


def member_ids(paths: Iterable[Path]) -> set[str]:
    """Every member id of the inputs, as written and normalised (CSV/TSV/PSV with a canonical header, or
    .xlsx), ignoring ids too short to scan for."""
    ids: set[str] = set()
    for path in paths:
        for value in _member_column(path):
            for form in {value, value.strip(), value.strip().upper()}:
                if len(form) >= MIN_ID_LENGTH:
                    ids.add(form)
    return ids


def _member_column(path: Path) -> list[str]:
    if path.suffix.lower() == ".xlsx":
        sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = [str(h).strip().lower() if h is not None else "" for h in next(rows)]
        at = header.index("member_id")
        return [str(r[at]) for r in rows if len(r) > at and r[at] is not None]
    separator = "\t" if path.suffix.lower() in {".tsv", ".txt"} else ","
    frame = pl.read_csv(path, infer_schema=False, separator=separator, truncate_ragged_lines=True)
    return frame.get_column("member_id").drop_nulls().to_list()


def pattern(ids: set[str]) -> re.Pattern[str]:
    assert ids, "no member ids to scan for: the scan would prove nothing"
    alternatives = "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
    return re.compile(rf"(?<![0-9A-Za-z])(?:{alternatives})(?![0-9A-Za-z])")


def texts(out: Path) -> Iterator[tuple[str, str]]:
    """(where, text) for everything under `out`: workbook parts, SQLite rows, other files."""
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        name = str(path.relative_to(out))
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as archive:
                for part in archive.namelist():
                    yield f"{name}:{part}", archive.read(part).decode("utf-8", "replace")
        elif path.suffix == ".sqlite":
            yield from _sqlite_rows(path, name)
        elif not path.name.endswith(("-wal", "-shm")):  # the WAL holds pages of the same tables
            yield name, path.read_bytes().decode("utf-8", "replace")


def _sqlite_rows(path: Path, name: str) -> Iterator[tuple[str, str]]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 (names from the file itself)
                yield f"{name}:{table}", "\x1f".join("" if v is None else str(v) for v in row)
    finally:
        con.close()


def hits_anywhere(out: Path, ids: set[str]) -> list[str]:
    """Every place under `out` holding a member id (for masked runs: must be empty)."""
    found = pattern(ids)
    return [f"{where}: {m}" for where, text in texts(out) for m in found.findall(text)]


def hits_outside_allowed(out: Path, ids: set[str]) -> list[str]:
    """For unmasked runs: member ids anywhere but the cells the README names (member_id on Findings and
    Closed and their overflow sheets, the value of a rejected member_id cell on Rejected)."""
    found = pattern(ids)
    wrong: list[str] = []
    for where, text in texts(out):
        part = where.partition(":")[2]
        if part.startswith("xl/worksheets/") or part == "xl/sharedStrings.xml":
            continue  # read cell by cell below, where the column is known
        wrong += [f"{where}: {m}" for m in found.findall(text)]
    for book in sorted(out.rglob("*.xlsx")):
        wrong += _cells_outside_allowed(book, found)
    return wrong


def _cells_outside_allowed(book: Path, found: re.Pattern[str]) -> list[str]:
    wrong = []
    workbook = openpyxl.load_workbook(book, read_only=True)
    for sheet in workbook.worksheets:
        table = sheet.title.rsplit(" ", 1)[0] if sheet.title[-1:].isdigit() else sheet.title
        rows = sheet.iter_rows(values_only=True)
        header = [str(h) if h is not None else "" for h in next(rows, ())]
        for number, row in enumerate(rows, start=2):
            cells = dict(zip(header, row))
            for column, value in cells.items():
                if value is None or not found.search(str(value)):
                    continue
                if ALLOWED_UNMASKED.get(table) == column:
                    continue
                if table == REJECTED_VALUE_SHEET and column == "value" and cells.get("column") == "member_id":
                    continue
                wrong.append(f"{book.name}:{sheet.title}!{column}{number}")
    return wrong
