"""Vectorised sheet rows: every value type round-trips through a saved workbook exactly."""

from __future__ import annotations

import datetime as dt
import zipfile

import openpyxl
import polars as pl

from claims_audit.report import excel


def test_rows_round_trip_with_types_and_escaping(tmp_path):
    frame = pl.DataFrame({
        "text": ["a & b <c> \"q\" 'x'", "=1+1", None, "  spaced  ", "#N/A", "line1\r\nline2\r=3"],
        "n": [1, None, 3, -4, 0, 2**40],
        "f": [1.5, float("nan"), None, 0.25, 1e20, -2.0],
        "d": [dt.date(2026, 11, 20), None, dt.date(1999, 12, 31), dt.date(2024, 2, 29), dt.date(2000, 1, 1),
              dt.date(1900, 3, 1)],
        "b": [True, False, None, True, False, True],
    })
    wb = excel.new_workbook()
    excel.write_table(wb, excel.SheetTable("Findings", frame))
    path = tmp_path / "r.xlsx"
    excel.save(wb, path)
    with zipfile.ZipFile(path) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml
    ws = openpyxl.load_workbook(path)["Findings"]
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=2, max_row=7)]
    assert [r[0] for r in rows] == ["a & b <c> \"q\" 'x'", "=1+1", None, "  spaced  ", "#N/A", "line1\r\nline2\r=3"]
    assert [r[1] for r in rows] == [1, None, 3, -4, 0, 2**40]
    assert [r[2] for r in rows] == [1.5, None, None, 0.25, 1e20, -2.0]
    assert [r[3].date() if r[3] else None for r in rows] == frame.get_column("d").to_list()
    assert ws["D2"].is_date and ws["D2"].number_format == "yyyy-mm-dd"
    assert [r[4] for r in rows] == [True, False, None, True, False, True]
    assert ws.max_row == 7


def test_empty_table_keeps_its_header(tmp_path):
    wb = excel.new_workbook()
    excel.write_table(wb, excel.SheetTable("Rejected", pl.DataFrame(schema={"a": pl.String, "b": pl.Int64})))
    excel.save(wb, tmp_path / "e.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "e.xlsx")["Rejected"]
    assert [c.value for c in ws[1]] == ["a", "b"] and ws.max_row == 1


def _big_table(path, rows: int = 30_000) -> None:
    frame = pl.DataFrame({"finding_id": [f"{i:016x}" for i in range(rows)],
                          "message": [f"line {i} documents an endovascular approach" for i in range(rows)],
                          "n": list(range(rows))})
    wb = excel.new_workbook()
    excel.write_table(wb, excel.SheetTable("Findings", frame))
    excel.save(wb, path)


def test_the_streamed_sheet_is_deflated_by_isal_and_reads_as_zlib_writes_it(tmp_path, monkeypatch):
    """The spliced sheet goes through ISA-L's deflate: the zip entry is standard deflate (zipfile checks
    its CRC on reading) and the workbook holds exactly what zlib's would."""
    import sys

    from claims_audit.report import sheetxml

    used = []
    fast = sheetxml.fast_deflate
    monkeypatch.setattr(sheetxml, "fast_deflate", lambda entry: used.append(fast(entry)) or used[-1])
    _big_table(tmp_path / "isal.xlsx")
    assert used == [True]
    monkeypatch.setitem(sys.modules, "isal", None)  # as if isal were not installed: zlib
    _big_table(tmp_path / "zlib.xlsx")
    assert used == [True, False]
    with zipfile.ZipFile(tmp_path / "isal.xlsx") as fast_zip, zipfile.ZipFile(tmp_path / "zlib.xlsx") as slow_zip:
        assert fast_zip.testzip() is None
        assert fast_zip.getinfo("xl/worksheets/sheet1.xml").compress_type == zipfile.ZIP_DEFLATED
        for name in slow_zip.namelist():
            if name != "docProps/core.xml":  # its creation time
                assert fast_zip.read(name) == slow_zip.read(name), name
    sheet = openpyxl.load_workbook(tmp_path / "isal.xlsx", read_only=True)["Findings"]
    assert sum(1 for _ in sheet.iter_rows(min_row=2)) == 30_000
