"""Helpers shared by the hostile-input tests (issue 4): building damaged extracts, running the audit,
checking the reconciliation, and looking inside saved workbooks."""

from __future__ import annotations

import codecs

import csv
import io
import json
import re
import zipfile
from pathlib import Path

import openpyxl

from conftest import HEADER, line

RUN_DATE = "2026-11-20"

# values a spreadsheet could evaluate (OWASP CSV injection) or mangle
INJECTIONS = ["=1+1", "+1", "-1", "@SUM(A1)", "\t=2+2", "\r=3+3", '=HYPERLINK("http://x.test","go")',
              "=cmd|' /C calc'!A0", "#N/A"]


def csv_text(rows: list[dict[str, str]], header: list[str] | None = None, delimiter: str = ",",
             lineterminator: str = "\n") -> str:
    """An extract as text, written by Python's csv module (quotes fields only when needed). A field
    holding a CR or LF is quoted whatever the line end, as spreadsheets write it (the csv module alone
    quotes only the characters of its own line terminator; a CR left bare ends a row when read)."""
    header = header or HEADER
    records = []
    for fields in [header, *([r.get(h, "") for h in header] for r in rows)]:
        buf = io.StringIO()
        csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerow(fields)
        records.append(buf.getvalue()[:-2])
    return "".join(record + lineterminator for record in records)


def row_text(row: dict[str, str], header: list[str] | None = None) -> str:
    """One record (no line end) as the csv module writes it."""
    return csv_text([row], header).split("\n", 1)[1].rstrip("\n")


def header_text(header: list[str] | None = None) -> str:
    return ",".join(header or HEADER)


def write_bytes(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def good(i: int, **overrides: str) -> dict[str, str]:
    """A valid 34421 line with its own claim and member."""
    return line(**{"claim_id": f"C{i}", "member_id": f"M{i:04d}", **overrides})


def run(cli, *paths: Path, out: Path, extra: tuple[str, ...] = (), env: dict[str, str] | None = None):
    """`claims-audit run` in-process; one-off (no review ledger) when the CLI has that option."""
    opts = ["--out", out, "--run-date", RUN_DATE, *extra]
    res = cli("run", *opts, "--no-ledger", "--", *paths, env=env)  # `--`: a file may be named '-x.csv'
    if res.exit_code == 2 and "no-ledger" in (res.output or ""):
        res = cli("run", *opts, "--", *paths, env=env)
    return res


def manifest(out: Path) -> dict:
    return json.loads((out / f"claims-audit-{RUN_DATE}.json").read_text(encoding="utf-8"))


def xlsx(out: Path) -> Path:
    return out / f"claims-audit-{RUN_DATE}.xlsx"


def assert_reconciled(m: dict, rejected_rows: list[dict] | None = None) -> None:
    """rows_read == rows_audited + rows_rejected for every input and in total; with the Rejected sheet,
    every rejected row of a partly rejected file is listed there."""
    for i in m["inputs"]:
        assert i["rows_read"] == i["rows_audited"] + i["rows_rejected"], i
        assert min(i["rows_read"], i["rows_audited"], i["rows_rejected"]) >= 0, i
    t = m["totals"]
    assert t["rows_read"] == sum(i["rows_read"] for i in m["inputs"])
    assert t["rows_audited"] == sum(i["rows_audited"] for i in m["inputs"])
    assert t["rows_rejected"] == sum(i["rows_rejected"] for i in m["inputs"])
    assert t["rows_read"] == t["rows_audited"] + t["rows_rejected"]
    if rejected_rows is not None:
        for i in m["inputs"]:
            mine = [r for r in rejected_rows if r["source_file"] == i["path"]]
            if i["status"] == "rejected":
                assert mine and all(r["source_row"] is None for r in mine), i
            else:  # the cells of rows audited without a bad optional value are listed but not rejected
                lost = [r for r in mine if r.get("outcome", "row rejected") == "row rejected"]
                kept = [r for r in mine if r.get("outcome") == "row audited without this value"]
                assert len({r["source_row"] for r in lost}) == i["rows_rejected"], (i, mine)
                assert len(kept) == sum(i.get("values_ignored", {}).values()), (i, kept)
                assert len(lost) + len(kept) == len(mine), mine


def sheet_rows(path: Path, sheet: str) -> list[dict[str, object]]:
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        rows = list(wb[sheet].iter_rows(values_only=True))
    finally:
        wb.close()
    if not rows:
        return []
    head = rows[0]
    return [dict(zip(head, r)) for r in rows[1:]]


def sheet_names(path: Path) -> list[str]:
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        return list(wb.sheetnames)
    finally:
        wb.close()


def formula_elements(path: Path) -> dict[str, list[str]]:
    """Every <f> (formula) element in every worksheet XML of a saved workbook, by part name."""
    found: dict[str, list[str]] = {}
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                xml = z.read(name).decode("utf-8")
                hits = re.findall(r"<(?:\w+:)?f[\s>/].*?(?:</(?:\w+:)?f>|/>)", xml, flags=re.S)
                if hits:
                    found[name] = hits
    return found


def all_cell_text(path: Path) -> list[str]:
    """Every string cell value of every sheet (read back by openpyxl)."""
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        return [v for ws in wb.worksheets for r in ws.iter_rows(values_only=True) for v in r
                if isinstance(v, str)]
    finally:
        wb.close()


def damaged_night(folder: Path) -> Path:
    """A folder of every kind of damage at once (a BOM, Windows-1252, empty and header-only files, ragged and
    cut records, binary bytes, a broken .xlsx, bad values, a blank line, Excel's re-saved values)."""
    files = {
        "01 bom.csv": codecs.BOM_UTF8 + csv_text([good(1)]).encode(),
        "02 cp1252.csv": csv_text([good(2, documented_site="Fémoral")]).encode("cp1252"),
        "03 empty.csv": b"",
        "04 header.csv": header_text().encode(),
        "05 ragged.csv": (header_text() + "\n" + row_text(good(5)) + ",x\n" + row_text(good(6)) + "\n").encode(),
        "06 cut.csv": (csv_text([good(7)]) + 'C8,1,"open').encode(),
        "07 binary.csv": bytes(range(256)) * 8,
        "08 corrupt.xlsx": b"PK\x03\x04broken",
        "09 values.csv": csv_text([good(9, service_date="2026-02-30"), good(10, units="-1"),
                                   good(11, procedure_code="")]).encode(),
        "10 blank.tsv": "\n".join([header_text().replace(",", "\t"), "", row_text(good(12)).replace(",", "\t")
                                   ]).encode(),
        "11 excel.csv": csv_text([good(13, charge_amount="$1,234.50", service_date="20261102"),
                                  good(14, charge_amount="1,2,3", modifier_1="L-T"),
                                  good(15, member_id="1.23457E+11")], lineterminator="\r\n").encode("cp1252"),
    }
    for name, data in files.items():
        write_bytes(folder / name, data)
    return folder
