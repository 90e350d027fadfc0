"""Several nights of the review loop end to end: run -> reviewer edits the workbook -> review import -> run
again on partly changed extracts; plus concurrent use of one ledger by several processes."""

from __future__ import annotations

import conftest

import hashlib
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
from conftest import line, manifest, run_subprocess, write_csv
from report_reading import summary_items, summary_table

from claims_audit.errors import LedgerError

N1, N2, N3 = "2026-11-20", "2026-11-21", "2026-11-22"
MEMBER = "MBR-E2E-SECRET"

NIGHT1 = {
    "CLM-A": dict(documented_approach="percutaneous"),             # Confirmed, later Corrected
    "CLM-B": dict(documented_site="left posterior tibial vein"),   # Not an error -> closed
    "CLM-C": dict(documented_approach="percutaneous"),             # Confirmed; documentation changes
    "CLM-D": dict(documented_approach=""),                         # Corrected; line gone on night 2
    "CLM-E": dict(documented_approach="abdominal incision"),       # row deleted by the reviewer
    "CLM-F": {},                                                   # clean
}
NIGHT2 = {**{k: v for k, v in NIGHT1.items() if k != "CLM-D"},
          "CLM-C": dict(documented_approach="percutaneous", documented_site="left femoral vein"),
          "CLM-G": dict(documented_approach="percutaneous")}        # new line



def read_sheet(path: Path, sheet: str) -> list[dict[str, object]]:
    """Rows as dicts with every header key; rows a reviewer emptied are left out."""
    return conftest.read_sheet(path, sheet, drop_blank=True)

def extract(tmp_path: Path, night: str, claims: dict[str, dict]) -> Path:
    members = {c: f"{MEMBER}-{c[-1]}" for c in NIGHT2}  # one member each: no claim-level edits apply
    return write_csv(tmp_path / "in" / f"extract-{night}.csv",
                     [line(claim_id=c, member_id=members.get(c, MEMBER), **kw) for c, kw in claims.items()])


def header(ws) -> tuple[int, dict[str, int]]:
    for row in ws.iter_rows(min_row=1, max_row=10):
        names = [c.value for c in row]
        if "finding_id" in names:
            return row[0].row, {n: i for i, n in enumerate(names) if n}
    raise AssertionError("no header row")


def by_claim(path: Path, sheet: str) -> dict[str, dict]:
    return {r["claim_id"]: r for r in read_sheet(path, sheet)}


def db(path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def reviewer_night1(report: Path, out: Path) -> None:
    """Sort by rule, delete a row, add a column, hide a row, filter, and decide - as a person would."""
    wb = openpyxl.load_workbook(report)
    ws = wb["Findings"]
    _, col = header(ws)
    data = sorted(([c.value for c in row] for row in ws.iter_rows(min_row=2)),
                  key=lambda r: (r[col["rule_id"]], r[col["claim_id"]]), reverse=True)
    for i, r in enumerate(data, start=2):
        for j, v in enumerate(r, start=1):
            ws.cell(i, j, v)
    ws.delete_rows(next(i for i, r in enumerate(data, start=2) if r[col["claim_id"]] == "CLM-E"))
    ws.insert_cols(3)
    ws.cell(1, 3, "team")
    _, col = header(ws)
    decide = {"CLM-A": ("Confirmed", "fix coding"), "CLM-B": ("Not an error", "tibial is fine"),
              "CLM-C": ("confirmed", "needs 34401"), "CLM-D": ("Corrected", "rebilled")}
    for row in ws.iter_rows(min_row=2):
        claim = row[col["claim_id"]].value
        row[2].value = "north"
        if claim in decide:
            row[col["disposition"]].value, row[col["reviewer_note"]].value = decide[claim]
        if claim == "CLM-A":
            ws.row_dimensions[row[0].row].hidden = True
    ws.auto_filter.ref = f"A1:{openpyxl.utils.get_column_letter(ws.max_column)}{ws.max_row}"
    wb.save(out)


def reviewer_on(report: Path, out: Path, decide: dict[str, tuple[str, str | None]]) -> None:
    wb = openpyxl.load_workbook(report)
    ws = wb["Findings"]
    start, col = header(ws)
    for row in ws.iter_rows(min_row=start + 1):
        claim = row[col["claim_id"]].value
        if claim in decide:
            row[col["disposition"]].value, row[col["reviewer_note"]].value = decide[claim]
    wb.save(out)


def test_three_nights_of_review(cli, tmp_path, monkeypatch):
    reports = tmp_path / "reports"
    ledger = reports / "claims-audit-ledger.sqlite"

    # night 1: default --out (reports/) and so the default ledger next to the reports
    monkeypatch.chdir(tmp_path)
    r = cli("run", extract(tmp_path, N1, NIGHT1), "--run-date", N1, "--quiet")
    assert r.exit_code == 0, r.output
    assert ledger.exists()
    r1 = reports / f"claims-audit-{N1}.xlsx"
    assert len(read_sheet(r1, "Findings")) == 5, "test data no longer gives one finding per claim"
    assert {c: r["status"] for c, r in by_claim(r1, "Findings").items()} == {
        c: "new" for c in ("CLM-A", "CLM-B", "CLM-C", "CLM-D", "CLM-E")}
    assert manifest(reports, N1)["ledger"]["new"] == 5

    reviewed1 = tmp_path / "reviewed-night1.xlsx"
    reviewer_night1(r1, reviewed1)
    # the installed console script, as a scheduler or a person starts it; default ledger again
    p = run_subprocess("review", "import", reviewed1, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "Imported 4 decision(s)" in p.stdout and "2 close their finding" in p.stdout
    assert MEMBER not in p.stdout + p.stderr and "CLM-" not in p.stdout + p.stderr

    # night 2: C's documentation changed, D gone, G new
    r = cli("run", extract(tmp_path, N2, NIGHT2), "--out", reports, "--run-date", N2, "--quiet")
    assert r.exit_code == 0, r.output
    r2 = reports / f"claims-audit-{N2}.xlsx"
    findings2, closed2 = by_claim(r2, "Findings"), by_claim(r2, "Closed")
    assert {c: (f["status"], f["previous_disposition"], f["previous_note"]) for c, f in findings2.items()} == {
        "CLM-A": ("decided", "Confirmed", "fix coding"),
        "CLM-C": ("new", None, None),  # decided, but the line changed since: a person must look again
        "CLM-E": ("recurring", None, None),
        "CLM-G": ("new", None, None)}
    assert {c: (f["status"], f["previous_disposition"]) for c, f in closed2.items()} == {
        "CLM-B": ("decided", "Not an error")}
    assert all(f["disposition"] is None for f in (*findings2.values(), *closed2.values()))
    counts2 = {"findings": 5, "open": 4, "new": 2, "recurring": 1, "decided": 2, "closed": 1, "resolved": 1}
    led2 = manifest(reports, N2)["ledger"]
    assert {k: led2[k] for k in counts2} == counts2 and led2["previous_run_date"] == N1
    assert led2["path"] == str(ledger)
    items = summary_items(r2)
    assert items["previous_run_date"].date().isoformat() == N1 and items["findings"] == 5  # a real date
    assert (items["findings_open"], items["findings_closed"], items["new"], items["recurring"],
            items["decided"], items["resolved"]) == (4, 1, 2, 1, 2, 1)
    rules = {r["rule_id"]: r for r in summary_table(r2, "rule_id", "severity")}
    assert {k: rules["APPROACH_MISMATCH"][k] for k in ("findings", "new", "recurring", "decided", "closed",
                                                       "resolved")} == {
        "findings": 4, "new": 2, "recurring": 1, "decided": 1, "closed": 0, "resolved": 0}
    assert {k: rules["SITE_MISMATCH"][k] for k in ("decided", "closed")} == {"decided": 1, "closed": 1}
    assert rules["DOCUMENTATION_INCOMPLETE"]["resolved"] == 1 and rules["DOCUMENTATION_INCOMPLETE"]["findings"] == 0
    assert [h["night"].date().isoformat() for h in summary_table(r2, "night", "findings")] == [N1, N2]
    with zipfile.ZipFile(r2) as z:
        charts = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/chart")]
    assert any("Findings per night" in c for c in charts) and any("Findings per rule" in c for c in charts)

    # the ledger holds the runs, each run's findings and every decision with where it came from
    assert db(ledger, "SELECT run_date, findings, new, recurring, decided, closed, resolved FROM runs "
                      "ORDER BY run_date") == [(N1, 5, 5, 0, 0, 0, 0), (N2, 5, 2, 1, 2, 1, 1)]
    assert db(ledger, "SELECT count(*) FROM run_findings WHERE run_date = ?", (N2,)) == [(5,)]
    sha = hashlib.sha256(reviewed1.read_bytes()).hexdigest()
    assert db(ledger, "SELECT workbook_path, workbook_sha256, report_run_date, decisions FROM imports") == [
        (str(reviewed1), sha, N1, 4)]
    decisions = db(ledger, "SELECT disposition, reviewer_note, closes, report_run_date FROM decisions "
                           "ORDER BY disposition, reviewer_note")
    assert decisions == [("Confirmed", "fix coding", 0, N1), ("Confirmed", "needs 34401", 0, N1),
                         ("Corrected", "rebilled", 1, N1), ("Not an error", "tibial is fine", 1, N1)]
    assert all(MEMBER not in str(row) and "CLM-" not in str(row)
               for t in ("runs", "run_findings", "imports", "decisions")
               for row in db(ledger, f"SELECT * FROM {t}"))  # no claim values stored

    # night 3: same extract; decisions from the night-2 report
    reviewed2 = tmp_path / "reviewed-night2.xlsx"
    reviewer_on(r2, reviewed2, {"CLM-A": ("Corrected", "rebilled 12/1"), "CLM-C": ("Provider education", None),
                                "CLM-G": ("Deferred", "waiting for op note")})
    r = cli("review", "import", reviewed2, "--ledger", ledger)
    assert r.exit_code == 0, r.output
    src3 = extract(tmp_path, N3, NIGHT2)
    r = cli("run", src3, "--out", reports, "--run-date", N3, "--quiet")
    assert r.exit_code == 0, r.output
    r3 = reports / f"claims-audit-{N3}.xlsx"
    findings3, closed3 = by_claim(r3, "Findings"), by_claim(r3, "Closed")
    assert {c: (f["status"], f["previous_disposition"]) for c, f in findings3.items()} == {
        "CLM-C": ("decided", "Provider education"), "CLM-E": ("recurring", None),
        "CLM-G": ("decided", "Deferred")}
    assert findings3["CLM-G"]["previous_note"] == "waiting for op note"
    assert {c: f["previous_disposition"] for c, f in closed3.items()} == {"CLM-A": "Corrected",
                                                                          "CLM-B": "Not an error"}
    led3 = manifest(reports, N3)["ledger"]
    assert (led3["new"], led3["recurring"], led3["decided"], led3["closed"], led3["resolved"]) == (0, 1, 4, 2, 0)
    assert [h["findings"] for h in summary_table(r3, "night", "findings")] == [5, 5, 5]

    # re-running night 3 replaces its record: same report, same ledger figures
    before = (read_sheet(r3, "Findings"), read_sheet(r3, "Closed"), led3)
    r = cli("run", src3, "--out", reports, "--run-date", N3, "--quiet")
    assert r.exit_code == 0, r.output
    led3_again = manifest(reports, N3)["ledger"]
    assert led3_again.pop("run_id") != led3.pop("run_id")  # a new run, with its own id
    assert (read_sheet(r3, "Findings"), read_sheet(r3, "Closed"), led3_again) == before
    assert db(ledger, "SELECT count(*) FROM runs") == [(3,)]
    assert db(ledger, "SELECT count(*) FROM run_findings WHERE run_date = ?", (N3,)) == [(5,)]

    st = cli("review", "status", "--ledger", ledger)
    assert st.exit_code == 0, st.output
    assert f"Last run: {N3} (compared with {N2})" in st.output and "Open findings: 3" in st.output
    assert db(ledger, "PRAGMA integrity_check") == [("ok",)]


def test_concurrent_runs_against_one_ledger(tmp_path):
    """Two nightly jobs (real processes) at once on one new ledger: one waits for the other's transaction
    (or fails with a clear error); nothing is corrupted. (test_ledger has six writers at once.)"""
    ledger = tmp_path / "shared-ledger.sqlite"
    src = extract(tmp_path, N1, NIGHT1)
    exe = Path(sys.executable).parent / "claims-audit"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "claims_audit"]
    procs = [subprocess.Popen(cmd + ["run", str(src), "--out", str(tmp_path / f"out{i}"), "--run-date", day,
                                     "--ledger", str(ledger), "--quiet"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i, day in enumerate((N1, N2))]
    results = [p.communicate(timeout=300) + (p.returncode,) for p in procs]
    ok_days = set()
    for (out, err, code), day in zip(results, (N1, N2)):
        if code == 0:
            ok_days.add(day)
        else:  # the only acceptable failure: a clean, single-line "busy" error
            assert code == 3 and err.startswith("Error: ledger") and "busy" in err, err
            assert len(err.strip().splitlines()) == 1
    assert ok_days, results
    assert db(ledger, "PRAGMA integrity_check") == [("ok",)]
    assert {d for (d,) in db(ledger, "SELECT run_date FROM runs")} == ok_days
    for (day,) in db(ledger, "SELECT run_date FROM runs"):
        assert db(ledger, "SELECT count(*) FROM run_findings WHERE run_date = ?", (day,)) == [(5,)]


HOLD_LOCK = conftest.HOLD_LOCK


def test_a_run_and_an_import_fail_cleanly_when_the_ledger_stays_locked(cli, tmp_path):
    reports = tmp_path / "reports"
    ledger = reports / "claims-audit-ledger.sqlite"
    r = cli("run", extract(tmp_path, N1, NIGHT1), "--out", reports, "--run-date", N1, "--quiet")
    assert r.exit_code == 0, r.output
    reviewed = tmp_path / "reviewed.xlsx"
    reviewer_on(reports / f"claims-audit-{N1}.xlsx", reviewed, {"CLM-A": ("Confirmed", None)})
    before = [db(ledger, f"SELECT * FROM {t}") for t in ("runs", "run_findings", "imports", "decisions")]
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(ledger)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        env = {"CLAIMS_AUDIT_LEDGER_TIMEOUT": "0.5"}
        r = cli("run", extract(tmp_path, N2, NIGHT2), "--out", reports, "--run-date", N2, env=env)
        assert r.exit_code == 3 or isinstance(r.exception, LedgerError), r.output
        assert "busy" in r.output + str(r.exception)
        assert not (reports / f"claims-audit-{N2}.xlsx").exists()  # no report without its ledger record
        p = run_subprocess("review", "import", reviewed, "--ledger", ledger, env=env)
        assert p.returncode == 3, p.stderr
        assert p.stderr.startswith("Error: ledger") and "busy" in p.stderr and len(p.stderr.splitlines()) == 1
    finally:
        holder.communicate("", timeout=10)
    assert [db(ledger, f"SELECT * FROM {t}") for t in ("runs", "run_findings", "imports", "decisions")] == before
    assert db(ledger, "PRAGMA integrity_check") == [("ok",)]
