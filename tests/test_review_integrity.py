"""`review import` cannot be fooled: only reports of runs this ledger recorded are accepted, crafted
workbooks can neither hang it nor exhaust its memory, formula cells are never dropped in silence, and the
review columns are text in the report."""

from __future__ import annotations

import re
import shutil
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from claims_audit import safexlsx
from report_reading import summary_items
from test_review import (DAY1, assert_clean_error, cli_import, columns, extract, ledger_path, read_sheet,
                         review, run_night, state)


def _finding_ids(path: Path) -> dict[str, str]:
    return {r["claim_id"]: r["finding_id"] for r in read_sheet(path, "Findings")}


def _part(path: Path, sheet: str) -> str:
    with safexlsx.Workbook(str(path)) as book:
        return book._sheets[sheet]


def _rewrite(path: Path, part: str, edit) -> None:
    """Replace one part of a workbook (a crafted file, as an attacker would make it)."""
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            dst.writestr(item.filename, edit(data) if item.filename == part else data)
    tmp.replace(path)


def _decisions(tmp_path: Path) -> list[tuple]:
    return state(ledger_path(tmp_path))["decisions"]


# --- provenance -----------------------------------------------------------------------------------


def _forged(tmp_path: Path, summary: list[tuple[str, object]], finding_id: str) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Summary"
    ws.append(["item", "value"])
    for row in summary:
        ws.append(list(row))
    findings = wb.create_sheet("Findings")
    findings.append(["finding_id", "disposition", "reviewer_note"])
    findings.append([finding_id, "Not an error", "forged"])
    path = tmp_path / "forged.xlsx"
    wb.save(path)
    return path


def _real_items(path: Path) -> dict[str, object]:
    return summary_items(path)


def test_a_hand_made_workbook_with_a_real_finding_id_is_refused(cli, tmp_path):
    report = run_night(cli, tmp_path)
    real_id = _finding_ids(report)["CLM-SITE"]
    items = _real_items(report)
    before = state(ledger_path(tmp_path))
    plain = _forged(tmp_path, [("run_date", DAY1), ("tool_version", "9.9"), ("rules_version", "x")], real_id)
    assert_clean_error(cli_import(cli, plain, tmp_path), "not a report of a run recorded in the ledger",
                       "no run_id and report_seal")
    # the run id is not secret (the manifest carries it): without the seal it proves nothing
    guessed = _forged(tmp_path, [("run_date", DAY1), ("tool_version", "9.9"), ("rules_version", "x"),
                                 ("run_id", items["run_id"]), ("report_seal", "0" * 64)], real_id)
    assert_clean_error(cli_import(cli, guessed, tmp_path), "report_seal does not match")
    moved = _forged(tmp_path, [("run_date", "2026-11-25"), ("tool_version", "9.9"), ("rules_version", "x"),
                               ("run_id", items["run_id"]), ("report_seal", items["report_seal"])], real_id)
    assert_clean_error(cli_import(cli, moved, tmp_path), "is not the date of run")
    assert state(ledger_path(tmp_path)) == before


def test_a_report_written_with_another_ledger_is_refused(cli, tmp_path):
    run_night(cli, tmp_path)
    other = tmp_path / "elsewhere"
    r = cli("run", extract(tmp_path), "--out", other, "--run-date", DAY1, "--quiet")
    assert r.exit_code == 0, r.output
    foreign = review(other / f"claims-audit-{DAY1}.xlsx", {"CLM-SITE": ("Not an error", None)})
    before = state(ledger_path(tmp_path))
    assert_clean_error(cli_import(cli, foreign, tmp_path), "not a report of a run recorded in the ledger",
                       "unknown there")
    assert state(ledger_path(tmp_path)) == before
    # the same workbook goes into its own ledger
    assert cli("review", "import", foreign, "--ledger", other / "claims-audit-ledger.sqlite").exit_code == 0


def test_an_earlier_report_of_a_rerun_date_still_imports(cli, tmp_path):
    """Re-running a date replaces its record, but the first report was a report of this ledger too."""
    first = run_night(cli, tmp_path)
    kept = tmp_path / "first.xlsx"
    shutil.copy(first, kept)
    run_night(cli, tmp_path)
    reviewed = review(kept, {"CLM-SITE": ("Confirmed", None)})
    r = cli_import(cli, reviewed, tmp_path)
    assert r.exit_code == 0, r.output
    assert len(_decisions(tmp_path)) == 1


# --- crafted workbooks ----------------------------------------------------------------------------


def test_declared_dimension_and_header_on_the_last_row_cannot_hang_it(cli, tmp_path):
    """The issue's 41 KB workbook: A1:XFD1048576 declared, header moved to row 1,048,576."""
    path = review(run_night(cli, tmp_path), {"CLM-SITE": ("Not an error", "fine"),
                                             "CLM-APPROACH": ("Confirmed", None)})
    part = _part(path, "Findings")

    def craft(xml: bytes) -> bytes:
        xml = re.sub(rb'<dimension ref="[^"]*"\s*/>', b'<dimension ref="A1:XFD1048576"/>', xml)
        header = re.search(rb'<row r="1"[^>]*>.*?</row>', xml, re.S).group(0)
        xml = xml.replace(header, b"")
        moved = re.sub(rb'r="([A-Z]+)1"', rb'r="\g<1>1048576"', header).replace(b'<row r="1"',
                                                                                  b'<row r="1048576"')
        return xml.replace(b"</sheetData>", moved + b"</sheetData>")

    _rewrite(path, part, craft)
    assert path.stat().st_size < 200_000
    started = time.monotonic()
    r = cli_import(cli, path, tmp_path)
    elapsed = time.monotonic() - started
    assert r.exit_code == 0, r.output
    assert "Imported 2 decision(s)" in r.output
    assert elapsed < 10, f"took {elapsed:.1f} s"


def test_a_shared_strings_zip_bomb_is_refused_before_it_is_read(cli, tmp_path):
    """The issue's 1.8 MB file with an 800 MB shared-strings part, scaled to 64 MB (same ratio check)."""
    path = review(run_night(cli, tmp_path), {"CLM-SITE": ("Not an error", None)})
    bomb = b"<si><t>x</t></si>" * (64 * 1024 * 1024 // 17)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/sharedStrings.xml", b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
                   b'2006/main">' + bomb + b"</sst>")
    assert path.stat().st_size < 2_000_000
    before = state(ledger_path(tmp_path))
    started = time.monotonic()
    assert_clean_error(cli_import(cli, path, tmp_path), "not a claims-audit report", "xl/sharedStrings.xml",
                       "zip bomb")
    assert time.monotonic() - started < 5
    assert state(ledger_path(tmp_path)) == before


def test_a_part_over_the_size_limit_is_refused(cli, tmp_path, monkeypatch):
    path = review(run_night(cli, tmp_path), {"CLM-SITE": ("Not an error", None)})
    monkeypatch.setattr(safexlsx, "MAX_PART_BYTES", 4096)
    assert_clean_error(cli_import(cli, path, tmp_path), "expands to", "at most 4,096")


@pytest.mark.parametrize("craft, needle", [
    (lambda xml: xml.replace(b"</sheetData>", b'<row r="1048577"><c r="A1048577" t="inlineStr"><is><t>x</t>'
                             b"</is></c></row></sheetData>"), "more than 1,048,576 rows"),
    (lambda xml: xml.replace(b"</sheetData>", b'<row r="900"><c r="XFE900" t="inlineStr"><is><t>x</t>'
                             b"</is></c></row></sheetData>"), "beyond column 16384"),
    (lambda xml: xml[: len(xml) // 2], "not well-formed XML"),
], ids=["row-beyond-excel", "column-beyond-excel", "cut-xml"])
def test_sheets_beyond_excel_limits_or_broken_are_refused(cli, tmp_path, craft, needle):
    path = review(run_night(cli, tmp_path), {"CLM-SITE": ("Not an error", None)})
    _rewrite(path, _part(path, "Findings"), craft)
    before = state(ledger_path(tmp_path))
    assert_clean_error(cli_import(cli, path, tmp_path), needle)
    assert state(ledger_path(tmp_path)) == before


# --- formulas and text-formatted review columns --------------------------------------------------


def _set_cell(path: Path, claim: str, column: str, value: object) -> None:
    wb = openpyxl.load_workbook(path)
    ws = wb["Findings"]
    col = columns(ws)
    row = next(r for r in ws.iter_rows(min_row=2) if r[col["claim_id"]].value == claim)
    row[col[column]].value = value
    wb.save(path)


def _saved_value(formula: bytes, value: bytes):
    """Give a formula cell the saved result Excel would store with it (t="str": a text result)."""
    pattern = re.compile(rb'<c r="([A-Z]+[0-9]+)"((?: s="[0-9]+")?)><f>' + re.escape(formula)
                         + rb"</f>(?:<v\s*/>|<v></v>)</c>")  # lxml writes <v></v>
    return lambda xml: pattern.sub(lambda m: b'<c r="' + m.group(1) + b'"' + m.group(2) + b' t="str"><f>'
                                   + formula + b"</f><v>" + value + b"</v></c>", xml)


def test_formula_cells_are_read_by_their_saved_value(cli, tmp_path):
    """Excel saves a formula's result with it: `="Corrected"` typed in Excel is the text Corrected."""
    path = review(run_night(cli, tmp_path), {"CLM-APPROACH": ("Confirmed", None)})
    _set_cell(path, "CLM-SITE", "disposition", '="Corrected"')
    _set_cell(path, "CLM-APPROACH", "reviewer_note", '="see "&"chart"')
    part = _part(path, "Findings")
    _rewrite(path, part, _saved_value(b'"Corrected"', b"Corrected"))
    _rewrite(path, part, _saved_value(b'"see "&amp;"chart"', b"see chart"))
    xml = zipfile.ZipFile(path).read(part)
    assert xml.count(b't="str"><f>') == 2
    r = cli_import(cli, path, tmp_path)
    assert r.exit_code == 0, r.output
    decided = sorted((d[5], d[7]) for d in _decisions(tmp_path))  # (disposition, note)
    assert decided == [("Confirmed", "see chart"), ("Corrected", None)]


def test_a_formula_without_a_saved_value_is_refused_not_dropped(cli, tmp_path):
    """A note `=A4` written by a tool that computes nothing has no value: the import says so."""
    path = review(run_night(cli, tmp_path), {"CLM-SITE": ("Confirmed", None)})
    _set_cell(path, "CLM-APPROACH", "reviewer_note", "=A4")
    before = state(ledger_path(tmp_path))
    assert_clean_error(cli_import(cli, path, tmp_path), "nothing imported", "Findings row",
                       "reviewer_note cell is a formula whose result was never computed")
    assert state(ledger_path(tmp_path)) == before


def test_review_columns_are_text_formatted(cli, tmp_path):
    path = review(run_night(cli, tmp_path), {"CLM-SITE": ("Not an error", None)})
    assert cli_import(cli, path, tmp_path).exit_code == 0
    day2 = run_night(cli, tmp_path, "2026-11-21")
    wb = openpyxl.load_workbook(day2)
    for sheet in ("Findings", "Closed"):
        ws = wb[sheet]
        col = columns(ws)
        for name in ("disposition", "reviewer_note"):
            letter = get_column_letter(col[name] + 1)
            assert ws.column_dimensions[letter].number_format == "@", (sheet, name)
        assert ws.column_dimensions[get_column_letter(col["finding_id"] + 1)].number_format != "@"
