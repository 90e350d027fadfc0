"""`review import` / `review status`: reading reviewed workbooks the way reviewers leave them, and every
rejected import changing nothing."""

from __future__ import annotations

import conftest

import shutil
import sqlite3
from pathlib import Path

import openpyxl
import pytest
from conftest import line, manifest, write_csv

from claims_audit.errors import ConfigError, UsageError
from claims_audit.review import read_workbook
from report_reading import summary_items

DAY1, DAY2 = "2026-11-20", "2026-11-21"
SECRET_MEMBER = "MBR-SECRET-77"
# claim ids are claim values too: none of them may ever be printed
CLAIMS = {"CLM-APPROACH": dict(documented_approach="percutaneous"),
          "CLM-SITE": dict(documented_site="left posterior tibial vein"),
          "CLM-INCOMPLETE": dict(documented_approach=""),
          "CLM-OTHER": dict(documented_approach="abdominal incision"),
          "CLM-CLEAN": {}}



def read_sheet(path: Path, sheet: str) -> list[dict[str, object]]:
    """Rows as dicts with every header key; rows a reviewer emptied are left out."""
    return conftest.read_sheet(path, sheet, drop_blank=True)
EXPECTED = [("CLM-APPROACH", "APPROACH_MISMATCH"), ("CLM-SITE", "SITE_MISMATCH"),
            ("CLM-INCOMPLETE", "DOCUMENTATION_INCOMPLETE"), ("CLM-OTHER", "APPROACH_MISMATCH")]


def extract(tmp_path: Path, name: str = "extract.csv", **changes: dict) -> Path:
    rows = [line(claim_id=c, member_id=f"{SECRET_MEMBER}{n}", **{**kw, **changes.get(c, {})})
            for n, (c, kw) in enumerate(CLAIMS.items())]  # one member each: no claim-level edits apply
    return write_csv(tmp_path / "in" / name, rows)


def run_night(cli, tmp_path: Path, day: str = DAY1, *extra: str, src: Path | None = None) -> Path:
    src = src or extract(tmp_path)
    r = cli("run", src, "--out", tmp_path / "reports", "--run-date", day, "--quiet", *extra)
    assert r.exit_code == 0, r.output
    path = tmp_path / "reports" / f"claims-audit-{day}.xlsx"
    found = sorted((f["claim_id"], f["rule_id"]) for sheet in ("Findings", "Closed")
                   for f in read_sheet(path, sheet))
    assert found == sorted(EXPECTED), f"test data no longer gives one finding per claim: {found}"
    return path


def ledger_path(tmp_path: Path) -> Path:
    return tmp_path / "reports" / "claims-audit-ledger.sqlite"


def state(path: Path) -> dict[str, list[tuple]]:
    con = sqlite3.connect(path)
    try:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
                for t in ("runs", "run_findings", "imports", "decisions")}
    finally:
        con.close()


def columns(ws) -> dict[str, int]:
    for row in ws.iter_rows(min_row=1, max_row=10):
        names = [c.value for c in row]
        if "finding_id" in names:
            return {n: i for i, n in enumerate(names) if n}
    raise AssertionError("no header")


def review(path: Path, decisions: dict[str, tuple[str | None, str | None]], out: Path | None = None,
           sheet: str = "Findings") -> Path:
    """Set disposition / reviewer_note on the rows of the given claims, as a reviewer would."""
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet]
    col = columns(ws)
    for row in ws.iter_rows(min_row=2):
        claim = row[col["claim_id"]].value
        if claim in decisions:
            disp, note = decisions[claim]
            row[col["disposition"]].value = disp
            row[col["reviewer_note"]].value = note
    out = out or path.with_name("reviewed-" + path.name)
    wb.save(out)
    return out


def cli_import(cli, wb: Path, tmp_path: Path):
    return cli("review", "import", wb, "--ledger", ledger_path(tmp_path))


def assert_clean_error(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for n in needles:
        assert n in lines[0], lines[0]
    assert SECRET_MEMBER not in result.output and "CLM-" not in result.output


def test_import_records_decisions_and_status_shows_them(cli, tmp_path):
    wb = review(run_night(cli, tmp_path), {"CLM-APPROACH": ("Confirmed", "coder to fix"),
                                           "CLM-SITE": (" not an ERROR", "tibial is fine here"),
                                           "CLM-OTHER": (None, "looked, undecided")})
    r = cli_import(cli, wb, tmp_path)
    assert r.exit_code == 0, r.output
    assert "Imported 2 decision(s)" in r.output and "1 close their finding" in r.output
    assert "1 row(s) have a reviewer note but no disposition" in r.output
    s = state(ledger_path(tmp_path))
    assert len(s["imports"]) == 1
    imp = s["imports"][0]
    assert imp[3] == str(wb.resolve()) and len(imp[4]) == 64 and imp[6] == DAY1
    by_disp = sorted((d[5], d[7]) for d in s["decisions"])
    assert by_disp == [("Confirmed", "coder to fix"), ("Not an error", "tibial is fine here")]
    assert all(d[8] == DAY1 and d[9] for d in s["decisions"])  # report run date, time

    again = cli_import(cli, wb, tmp_path)  # the same workbook twice: nothing new
    assert again.exit_code == 0 and "Imported 0 decision(s)" in again.output and "2 unchanged" in again.output
    assert len(state(ledger_path(tmp_path))["decisions"]) == 2

    st = cli("review", "status", "--ledger", ledger_path(tmp_path))
    assert st.exit_code == 0, st.output
    assert f"Last run: {DAY1}" in st.output and "Open findings: 3" in st.output
    assert "Not an error" in st.output and "(no decision yet)" in st.output
    assert SECRET_MEMBER not in st.output and "CLM-" not in st.output


def test_reviewer_edits_sorting_deleting_hiding_filtering_added_columns_and_a_title_row(cli, tmp_path):
    path = run_night(cli, tmp_path)
    wb = openpyxl.load_workbook(path)
    ws = wb["Findings"]
    data = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
    col = columns(ws)
    data.sort(key=lambda r: r[col["claim_id"]], reverse=True)  # sort by claim, descending
    for i, r in enumerate(data, start=2):
        for j, v in enumerate(r, start=1):
            ws.cell(i, j, v)
    gone = next(i for i, r in enumerate(data, start=2) if r[col["claim_id"]] == "CLM-INCOMPLETE")
    ws.delete_rows(gone)
    ws.insert_cols(1)  # the reviewer's own column in front
    ws.cell(1, 1, "my priority")
    ws.insert_rows(1, 2)  # and a title above the header
    ws.cell(1, 1, "Reviewed by team B")
    col = columns(ws)
    for row in ws.iter_rows(min_row=4):
        claim = row[col["claim_id"]].value
        row[0].value = "high"
        if claim == "CLM-APPROACH":
            row[col["disposition"]].value, row[col["reviewer_note"]].value = "Provider education", "call Dr"
            ws.row_dimensions[row[0].row].hidden = True  # hidden rows still count
        if claim == "CLM-OTHER":
            row[col["disposition"]].value = "Deferred"
    ws.auto_filter.ref = f"A3:{openpyxl.utils.get_column_letter(ws.max_column)}{ws.max_row}"
    ws.column_dimensions["B"].hidden = True
    out = tmp_path / "edited.xlsx"
    wb.save(out)

    rows = read_workbook(out).rows
    assert {r.disposition for r in rows} == {"Provider education", "Deferred", None}
    r = cli_import(cli, out, tmp_path)
    assert r.exit_code == 0, r.output
    decisions = {(d[5], d[7]) for d in state(ledger_path(tmp_path))["decisions"]}
    assert decisions == {("Provider education", "call Dr"), ("Deferred", None)}


def test_identical_duplicate_rows_are_one_decision(cli, tmp_path):
    path = review(run_night(cli, tmp_path), {"CLM-SITE": ("Corrected", "fixed")})
    wb = openpyxl.load_workbook(path)
    ws = wb["Findings"]
    col = columns(ws)
    row = next(r for r in ws.iter_rows(min_row=2) if r[col["claim_id"]].value == "CLM-SITE")
    ws.append([c.value for c in row])
    wb.save(path)
    r = cli_import(cli, path, tmp_path)
    assert r.exit_code == 0, r.output
    assert len(state(ledger_path(tmp_path))["decisions"]) == 1


def _set(ws, claim: str, column: str, value: object) -> None:
    col = columns(ws)
    row = next(r for r in ws.iter_rows(min_row=2) if r[col["claim_id"]].value == claim)
    row[col[column]].value = value


def _unknown_id(wb):
    _set(wb["Findings"], "CLM-OTHER", "finding_id", "ffffffffffffffff")
    _set(wb["Findings"], "CLM-OTHER", "disposition", "Confirmed")


def _pasted_claim_text_as_id(wb):
    _set(wb["Findings"], "CLM-OTHER", "finding_id", "Jane Doe DOB 1950-01-01")
    _set(wb["Findings"], "CLM-OTHER", "disposition", "Confirmed")


def _invalid_disposition(wb):
    _set(wb["Findings"], "CLM-OTHER", "disposition", "Maybe later")


def _no_findings_sheet(wb):
    del wb["Findings"]


def _no_disposition_column(wb):
    ws = wb["Findings"]
    ws.delete_cols(columns(ws)["disposition"] + 1)


def _conflicting_duplicates(wb):
    ws = wb["Findings"]
    col = columns(ws)
    row = next(r for r in ws.iter_rows(min_row=2) if r[col["claim_id"]].value == "CLM-SITE")
    copy = [c.value for c in row]
    copy[col["disposition"]] = "Confirmed"
    ws.append(copy)


def _decision_without_id(wb):
    _set(wb["Findings"], "CLM-OTHER", "finding_id", None)
    _set(wb["Findings"], "CLM-OTHER", "disposition", "Confirmed")


def _no_summary(wb):
    del wb["Summary"]


@pytest.mark.parametrize("edit, needles", [
    (_unknown_id, ["nothing imported", "not in run 2026-11-20", "ffffffffffffffff", "Findings row"]),
    (_pasted_claim_text_as_id, ["nothing imported", "not in run 2026-11-20", "(not a finding id)"]),
    (_invalid_disposition, ["nothing imported", "not one of Confirmed, Corrected, Not an error"]),
    (_no_findings_sheet, ["no Findings sheet"]),
    (_no_disposition_column, ["not a claims-audit report", "'disposition'"]),
    (_conflicting_duplicates, ["nothing imported", "more than once with different decisions"]),
    (_decision_without_id, ["nothing imported", "no finding id"]),
    (_no_summary, ["not a claims-audit report", "Summary"]),
])
def test_rejected_imports_change_nothing(cli, tmp_path, edit, needles):
    # every case also carries valid decisions: all or nothing
    path = review(run_night(cli, tmp_path), {"CLM-SITE": ("Not an error", "ok"),
                                             "CLM-APPROACH": ("Confirmed", None)})
    wb = openpyxl.load_workbook(path)
    edit(wb)
    wb.save(path)
    before = state(ledger_path(tmp_path))
    res = cli_import(cli, path, tmp_path)
    assert_clean_error(res, *needles)
    assert "Jane Doe" not in res.output  # whatever a reviewer pasted into a cell is never echoed
    assert state(ledger_path(tmp_path)) == before


def test_files_that_are_not_claims_audit_reports(cli, tmp_path):
    run_night(cli, tmp_path)
    before = state(ledger_path(tmp_path))
    text = tmp_path / "notes.xlsx"
    text.write_text("finding_id,disposition\nabc,Confirmed\n", encoding="utf-8")
    assert_clean_error(cli_import(cli, text, tmp_path), "not a claims-audit report", "cannot be opened")
    other = tmp_path / "other.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "Findings"
    wb.active.append(["finding_id", "disposition"])
    wb.active.append(["abc", "Confirmed"])
    wb.save(other)
    assert_clean_error(cli_import(cli, other, tmp_path), "not a claims-audit report")
    assert_clean_error(cli_import(cli, tmp_path / "missing.xlsx", tmp_path), "not found")
    assert state(ledger_path(tmp_path)) == before


def test_report_of_a_run_that_is_not_in_the_ledger(cli, tmp_path):
    run_night(cli, tmp_path)
    src = extract(tmp_path)
    r = cli("run", src, "--out", tmp_path / "oneoff", "--run-date", DAY2, "--no-ledger", "--quiet")
    assert r.exit_code == 0, r.output
    assert not (tmp_path / "oneoff" / "claims-audit-ledger.sqlite").exists()
    wb = review(tmp_path / "oneoff" / f"claims-audit-{DAY2}.xlsx", {"CLM-SITE": ("Confirmed", None)})
    before = state(ledger_path(tmp_path))
    assert_clean_error(cli_import(cli, wb, tmp_path), "not a report of a run recorded in the ledger",
                       "no run_id and report_seal", "--no-ledger")
    assert state(ledger_path(tmp_path)) == before


def test_missing_or_foreign_ledger(cli, tmp_path):
    wb = review(run_night(cli, tmp_path), {"CLM-SITE": ("Confirmed", None)})
    assert_clean_error(cli("review", "import", wb, "--ledger", tmp_path / "nope.sqlite"), "no ledger")
    assert not (tmp_path / "nope.sqlite").exists()
    assert_clean_error(cli("review", "status", "--ledger", tmp_path / "nope.sqlite"), "no ledger")
    assert_clean_error(cli("review", "status", "--ledger", wb), "not a claims-audit ledger")


def test_configured_review_outcomes(cli, tmp_path):
    config = tmp_path / "rules.yaml"
    config.write_text("review_outcomes:\n  - Open\n  - {name: Escalated}\n  - {name: Fixed at source, "
                      "closes: true}\n", encoding="utf-8")
    path = run_night(cli, tmp_path, DAY1, "--rule-config", config)
    wb = openpyxl.load_workbook(path)
    formulas = [dv.formula1 for dv in wb["Findings"].data_validations.dataValidation]
    assert formulas == ['"Open,Escalated,Fixed at source"']
    rejected = review(path, {"CLM-SITE": ("Confirmed", None)})
    assert_clean_error(cli_import(cli, rejected, tmp_path), "not one of Open, Escalated, Fixed at source")
    accepted = review(path, {"CLM-SITE": ("fixed at source", None), "CLM-OTHER": ("Escalated", None)})
    assert cli_import(cli, accepted, tmp_path).exit_code == 0
    run_night(cli, tmp_path, DAY2, "--rule-config", config)
    closed = read_sheet(tmp_path / "reports" / f"claims-audit-{DAY2}.xlsx", "Closed")
    assert [(r["claim_id"], r["previous_disposition"]) for r in closed] == [("CLM-SITE", "Fixed at source")]
    bad = tmp_path / "bad.yaml"
    bad.write_text("review_outcomes: [Open, open]\n", encoding="utf-8")
    r = cli("run", extract(tmp_path), "--out", tmp_path / "reports", "--run-date", DAY2, "--rule-config", bad)
    assert r.exit_code == 2 or isinstance(r.exception, ConfigError)
    assert "listed twice" in r.output + str(r.exception)


def test_no_ledger_is_the_plain_audit(cli, tmp_path):
    src = extract(tmp_path)
    r = cli("run", src, "--out", tmp_path / "plain", "--run-date", DAY1, "--no-ledger", "--quiet")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "plain").iterdir()) == [f"claims-audit-{DAY1}.json",
                                                                     f"claims-audit-{DAY1}.xlsx"]
    path = tmp_path / "plain" / f"claims-audit-{DAY1}.xlsx"
    assert openpyxl.load_workbook(path, read_only=True).sheetnames == ["Summary", "Findings", "Rejected", "Rules"]
    assert {r["status"] for r in read_sheet(path, "Findings")} == {None}
    assert "ledger" not in manifest(tmp_path / "plain", DAY1)
    items = summary_items(path)
    assert "run_id" in items and "ledger" not in items and "previous_run_date" not in items
    both = cli("run", src, "--out", tmp_path / "x", "--run-date", DAY1, "--no-ledger", "--ledger",
               tmp_path / "l.sqlite")
    assert both.exit_code == 2 or isinstance(both.exception, UsageError)
    assert "cannot be used together" in both.output + str(both.exception)
    assert not (tmp_path / "l.sqlite").exists()


def test_masked_member_ids_on_the_closed_sheet(cli, tmp_path):
    env = {"CLAIMS_AUDIT_MASK_KEY": "k" * 32}
    src = extract(tmp_path)
    r = cli("run", src, "--out", tmp_path / "reports", "--run-date", DAY1, "--quiet", "--mask-member-ids",
            env=env)
    assert r.exit_code == 0, r.output
    wb = review(tmp_path / "reports" / f"claims-audit-{DAY1}.xlsx", {"CLM-SITE": ("Corrected", None)})
    assert cli_import(cli, wb, tmp_path).exit_code == 0
    r = cli("run", src, "--out", tmp_path / "reports", "--run-date", DAY2, "--quiet", "--mask-member-ids",
            env=env)
    assert r.exit_code == 0, r.output
    closed = read_sheet(tmp_path / "reports" / f"claims-audit-{DAY2}.xlsx", "Closed")
    assert len(closed) == 1 and closed[0]["member_id"].startswith("M-")


def test_a_closed_finding_can_be_reopened_from_the_closed_sheet(cli, tmp_path):
    wb = review(run_night(cli, tmp_path), {"CLM-SITE": ("Not an error", None)})
    assert cli_import(cli, wb, tmp_path).exit_code == 0
    day2 = run_night(cli, tmp_path, DAY2)
    assert [r["claim_id"] for r in read_sheet(day2, "Closed")] == ["CLM-SITE"]
    dv = openpyxl.load_workbook(day2)["Closed"].data_validations.dataValidation
    assert [d.formula1 for d in dv] == ['"Confirmed,Corrected,Not an error,Provider education,Deferred"']
    reopened = review(day2, {"CLM-SITE": ("Confirmed", "it is an error after all")}, sheet="Closed")
    r = cli_import(cli, reopened, tmp_path)
    assert r.exit_code == 0, r.output
    day3 = run_night(cli, tmp_path, "2026-11-22")
    assert read_sheet(day3, "Closed") == []
    site = next(r for r in read_sheet(day3, "Findings") if r["claim_id"] == "CLM-SITE")
    assert (site["status"], site["previous_disposition"]) == ("decided", "Confirmed")


def test_copy_of_report_keeps_working(cli, tmp_path):
    """Reviewers often work on a copy somewhere else: the run date comes from the Summary, not the name."""
    path = run_night(cli, tmp_path)
    copy = tmp_path / "desk" / "my review.xlsx"
    copy.parent.mkdir()
    shutil.copy(path, copy)
    review(copy, {"CLM-APPROACH": ("Confirmed", None)}, out=copy)
    r = cli_import(cli, copy, tmp_path)
    assert r.exit_code == 0 and "Imported 1 decision(s) from the report of run 2026-11-20" in r.output
