"""Extracts that went through a spreadsheet (issue 16), through the CLI: the formats spreadsheets and
warehouses write are read; a bad optional cell costs only that value, never the row (a 34421 line is still
audited); damage a spreadsheet does to ids and codes is named as such; a stricter layout stays possible.
And .xlsx ids stored as zero-padded numbers are read as shown (issue 19, point 2)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import yaml

from claims_audit.schema import schemas_dir
from conftest import HEADER, line, write_csv
from hostile import assert_reconciled, manifest, run, sheet_rows, xlsx

IGNORED = "row audited without this value"
REJECTED = "row rejected"


def _audit(cli, tmp_path: Path, rows: list[dict[str, str]], *, expect_exit: int, extra: tuple[str, ...] = (),
           name: str = "saved-by-excel.csv"):
    src = write_csv(tmp_path / "in" / name, rows)
    out = tmp_path / "out"
    res = run(cli, src, out=out, extra=extra)
    assert res.exit_code == expect_exit, res.output
    assert "Traceback" not in res.output
    m = manifest(out)
    rejected = sheet_rows(xlsx(out), "Rejected")
    assert_reconciled(m, rejected)
    return m, sheet_rows(xlsx(out), "Findings"), rejected


def test_the_rows_of_the_issue_are_audited(cli, tmp_path):
    """The three rows of the issue's table: each was rejected before; the 34421 line gets its finding."""
    rows = [line(claim_id="C1", charge_amount="2,400.00", documented_approach="percutaneous"),
            line(claim_id="C2", procedure_code="99213", modifier_1="", charge_amount="$120.00"),
            line(claim_id="C3", procedure_code="99213", modifier_1="", service_date="2026-11-02 00:00:00")]
    m, findings, rejected = _audit(cli, tmp_path, rows, expect_exit=0)
    (entry,) = m["inputs"]
    assert (entry["status"], entry["rows_read"], entry["rows_audited"], entry["rows_rejected"]) == (
        "ok", 3, 3, 0)
    assert entry["values_ignored"] == {} and rejected == []
    assert m["totals"]["lines_34421"] == 1
    assert [(f["claim_id"], f["rule_id"], f["suggested_code"]) for f in findings
            if f["claim_id"] == "C1"] == [("C1", "APPROACH_MISMATCH", "37187")]


def test_money_and_dates_in_the_forms_spreadsheets_write(cli, tmp_path):
    charges = ["$1,234.50", "1,234.5", " 12 ", "$ 12", "12,345,678.90", "0"]
    dates = ["2026-11-02T00:00:00", "11/2/2026 0:00", "20261102", "11/2/2026 12:00:00 AM",
             "2026-11-02 00:00:00.000", "11/02/2026"]
    rows = [line(claim_id=f"C{i}", member_id=f"M{i}", charge_amount=c, service_date=d)
            for i, (c, d) in enumerate(zip(charges, dates))]
    m, findings, rejected = _audit(cli, tmp_path, rows, expect_exit=0)
    assert m["inputs"][0]["rows_audited"] == len(rows) and rejected == []


def test_ambiguous_forms_stay_rejected(cli, tmp_path):
    """Only unambiguous forms are read: a decimal comma, a 7-digit date, a 2-digit year, a real time."""
    rows = [line(claim_id="C1", service_date="2026112"), line(claim_id="C2", service_date="11/02/26"),
            line(claim_id="C3", service_date="2026-11-02 14:30"), line(claim_id="C4", charge_amount="1,5"),
            line(claim_id="C5", charge_amount="(12.00)"), line(claim_id="C6")]
    m, _, rejected = _audit(cli, tmp_path, rows, expect_exit=1)
    entry = m["inputs"][0]
    assert (entry["rows_audited"], entry["rows_rejected"]) == (3, 3)
    assert entry["values_ignored"] == {"charge_amount": 2}
    got = [(r["source_row"], r["column"], r["value"], r["outcome"]) for r in rejected]
    assert got == [(2, "service_date", "2026112", REJECTED), (3, "service_date", "11/02/26", REJECTED),
                   (4, "service_date", "2026-11-02 14:30", REJECTED), (5, "charge_amount", "1,5", IGNORED),
                   (6, "charge_amount", "(12.00)", IGNORED)]
    # an accounting negative is read as -12, then judged by the column's rule (at least 0)
    assert rejected[4]["problem"] == "charge_amount must be a number of at least 0"


def test_bad_optional_cells_are_ignored_and_the_34421_line_audited(cli, tmp_path):
    rows = [line(claim_id="C1", charge_amount="2.400,00", place_of_service="2", modifier_1="L T",
                 documented_approach="percutaneous"),
            line(claim_id="C2", member_id="M2", dx_1="I82-412"),
            line(claim_id="C3", member_id="M3", rendering_npi="1234567890", units="x", charge_amount="abc")]
    m, findings, rejected = _audit(cli, tmp_path, rows, expect_exit=1)
    entry = m["inputs"][0]
    assert (entry["status"], entry["rows_audited"], entry["rows_rejected"]) == ("partial", 2, 1)
    # counted per column, only for the rows that were audited (row 4 is rejected for its units)
    assert entry["values_ignored"] == {"modifier_1": 1, "place_of_service": 1, "charge_amount": 1, "dx_1": 1}
    outcome = {(r["source_row"], r["column"]): (r["value"], r["outcome"]) for r in rejected}
    assert outcome == {
        (2, "modifier_1"): ("L T", IGNORED), (2, "place_of_service"): ("2", IGNORED),
        (2, "charge_amount"): ("2.400,00", IGNORED), (3, "dx_1"): ("I82-412", IGNORED),
        (4, "units"): ("x", REJECTED), (4, "rendering_npi"): ("1234567890", REJECTED),
        (4, "charge_amount"): ("abc", REJECTED)}
    by_claim = {f["claim_id"]: f for f in findings}
    assert set(by_claim) == {"C1", "C2"}
    # the finding says which values were ignored (as they were in the file) and whether they mattered
    c1 = by_claim["C1"]
    assert c1["rule_id"] == "APPROACH_MISMATCH" and not c1["modifiers"]
    assert c1["message"].endswith('(Audited without modifier_1 "L T", place_of_service "2", charge_amount '
                                  '"2.400,00": not valid in the file, see the Rejected sheet; this finding '
                                  'does not depend on it.)')
    c2 = by_claim["C2"]
    assert c2["rule_id"] == "DIAGNOSIS_NOT_SUPPORTING" and not c2["dx_codes"]
    assert c2["message"].endswith('(Audited without dx_1 "I82-412": not valid in the file, see the Rejected '
                                  'sheet; the ignored value could have changed this finding.)')


def test_an_ignored_modifier_could_change_a_coding_edit(cli, tmp_path):
    """Two 34421 lines for one member and day, one with modifier "5 0" (meant as 50): the duplicate is
    flagged, and the finding says the modifier could have changed it."""
    rows = [line(claim_id="C1", modifier_1=""), line(claim_id="C2", modifier_1="5 0")]
    _, findings, rejected = _audit(cli, tmp_path, rows, expect_exit=0)
    assert [(r["column"], r["outcome"]) for r in rejected] == [("modifier_1", IGNORED)]
    dup = [f for f in findings if f["rule_id"] == "DUPLICATE_LINE"]
    assert dup and all(f["claim_id"] == "C2" for f in dup)
    assert all("could have changed this finding" in f["message"] for f in dup)
    assert not any("Audited without" in f["message"] for f in findings if f["claim_id"] == "C1")


def test_spreadsheet_damage_is_named(cli, tmp_path):
    rows = [line(claim_id="2.61121E+11"), line(claim_id="C2", member_id="1.23457E+11"),
            line(claim_id="C3", procedure_code="100"), line(claim_id="C4", procedure_code="1999"),
            line(claim_id="C5", rendering_npi="1.23457E+09"), line(claim_id="C6", place_of_service="2"),
            line(claim_id="C7", procedure_code="3442")]
    m, _, rejected = _audit(cli, tmp_path, rows, expect_exit=1)
    assert (m["inputs"][0]["rows_audited"], m["inputs"][0]["rows_rejected"]) == (2, 5)
    problem = {r["column"] + "@" + str(r["source_row"]): r for r in rejected}
    for key in ("claim_id@2", "member_id@3", "rendering_npi@6"):
        assert "is in scientific notation: a spreadsheet probably changed it" in problem[key]["problem"], key
    for key in ("procedure_code@4", "procedure_code@5", "procedure_code@8"):
        assert problem[key]["problem"] == (
            "procedure_code has fewer than 5 digits: a spreadsheet probably removed its leading zeros "
            "(00100 saved as 100); format the column as text and export it again"), key
    assert "(02 saved as 2)" in problem["place_of_service@7"]["problem"]
    assert [problem[k]["outcome"] for k in ("rendering_npi@6", "place_of_service@7", "claim_id@2")] == [
        IGNORED, IGNORED, REJECTED]
    assert problem["claim_id@2"]["value"] == "2.61121E+11"  # as it was in the file


def test_a_stricter_layout_rejects_what_the_shipped_one_accepts(cli, tmp_path):
    layout = yaml.safe_load((schemas_dir() / "claims-extract-v1.yaml").read_text(encoding="utf-8"))
    for col in layout["columns"]:
        col.pop("accept", None)
        if col["name"] == "service_date":
            col["formats"] = ["%Y-%m-%d"]
    strict = tmp_path / "strict.yaml"
    strict.write_text(yaml.safe_dump(layout), encoding="utf-8")
    rows = [line(claim_id="C1", charge_amount="$120.00"), line(claim_id="C2", service_date="20261102"),
            line(claim_id="C3", service_date="2026-11-02 00:00:00")]
    m, _, rejected = _audit(cli, tmp_path, rows, expect_exit=1, extra=("--schema", strict))
    assert (m["inputs"][0]["rows_audited"], m["inputs"][0]["rows_rejected"]) == (1, 2)
    assert [(r["column"], r["outcome"]) for r in rejected] == [
        ("charge_amount", IGNORED), ("service_date", REJECTED), ("service_date", REJECTED)]
    res = cli("schema")
    assert "accepts a leading $ ($1,234.50), thousands separators" in res.output


def test_xlsx_ids_stored_as_zero_padded_numbers_are_read_as_shown(cli, tmp_path):
    """Excel turns 000123 typed in a cell into the number 123 shown with the format 000000. Read as 123,
    the member in the xlsx would be another member than 000123 in the CSV, and the duplicate and the MUE
    across the two files would be missed."""
    folder = tmp_path / "in"
    write_csv(folder / "a.csv", [line(claim_id="C1")])
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    row = line(claim_id="C2")
    ws.append([row.get(h) or None for h in HEADER])
    member = ws.cell(row=2, column=HEADER.index("member_id") + 1)
    member.value, member.number_format = 123, "000000"
    pos = ws.cell(row=2, column=HEADER.index("place_of_service") + 1)
    pos.value, pos.number_format = 2, "00"  # 02: also a code that would lose its zero
    wb.save(folder / "b.xlsx")
    out = tmp_path / "out"
    res = run(cli, folder, out=out)
    assert res.exit_code == 0, res.output
    findings = sheet_rows(xlsx(out), "Findings")
    assert {f["member_id"] for f in findings} == {"000123"}
    rules = {(f["rule_id"], f["claim_id"]) for f in findings}
    assert ("DUPLICATE_LINE", "C2") in rules and ("MUE_EXCEEDED", "C2") in rules
    assert sheet_rows(xlsx(out), "Rejected") == []


def test_xlsx_display_formats_with_an_offset_table_and_literal_text(tmp_path):
    """The table may start anywhere on the sheet; a format may add literal text ("M"00000); numbers that
    are not whole, negative or in any other format are left as fastexcel reads them."""
    from claims_audit.readers import _read_xlsx
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["C3"], ws["D3"], ws["E3"] = "member_id", "procedure_code", "charge_amount"
    cells = [("C4", 123, "000000"), ("D4", 100, "00000"), ("E4", 12.5, "000"),
             ("C5", 42, '"M"00000'), ("D5", -7, "00000"), ("E5", 1234, "#,##0"), ("C6", 9, "General")]
    for ref, value, fmt in cells:
        ws[ref], ws[ref].number_format = value, fmt
    ws["B9"].number_format = "000"  # a formatted empty cell outside the table changes nothing
    path = tmp_path / "offset.xlsx"
    wb.save(path)
    parsed = _read_xlsx(path)
    assert parsed.header == ["member_id", "procedure_code", "charge_amount"]
    assert parsed.body.rows() == [(4, "000123", "00100", "12.5"), (5, "M00042", "-7", "1234"),
                                  (6, "9", None, None)]


def test_xlsx_without_padding_formats_reads_only_to_the_header(tmp_path, monkeypatch):
    """No zero-padding format in the workbook: the cells are not visited one by one (the common case)."""
    from claims_audit import readers
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["member_id"])
    ws.append([123])
    ws["A2"].number_format = "0.000"  # a custom format, not a padding one
    path = tmp_path / "plain.xlsx"
    wb.save(path)
    looked_at: list[str] = []
    padding = readers._padding
    monkeypatch.setattr(readers, "_padding", lambda fmt: looked_at.append(fmt) or padding(fmt))
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        assert readers._as_displayed(book, book.sheetnames[0]) == (1, 1, {})
    finally:
        book.close()
    assert looked_at == ["0.000"]  # the workbook's formats, never a cell's
    assert readers._read_xlsx(path).body.rows() == [(2, "123")]
