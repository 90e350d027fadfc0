"""Issue 21: a review team on several machines shares one ledger (and the claims history) on PostgreSQL.

Against a real server (conftest.pg_server). Who decided what, on both back ends; several reviewers
importing while the nightly run (twice, for the same night) runs; a URL with a password refused; a
holder of the write lock makes a writer fail cleanly while readers go on; `ledger migrate`.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time

import pytest
from conftest import run_subprocess
from test_review import DAY1, DAY2, SECRET_MEMBER, extract, review, run_night

from claims_audit import ledger as L
from claims_audit import postgres
from claims_audit.errors import ExitCode, LedgerError
from claims_audit.ledger import Ledger
from claims_audit.ruleconfig import DEFAULT_OUTCOMES

DECISIONS = {"CLM-APPROACH": ("Confirmed", "coder to fix"), "CLM-SITE": ("Not an error", "tibial is fine"),
             "CLM-INCOMPLETE": ("Corrected", None), "CLM-OTHER": ("Deferred", "ask the surgeon")}


def test_each_decision_records_its_reviewer_and_status_shows_decisions_per_reviewer(cli, tmp_path,
                                                                                      ledger_backend):
    ledger = ledger_backend.ledger
    report = run_night(cli, tmp_path, DAY1, "--ledger", ledger)
    first = review(report, {c: DECISIONS[c] for c in ("CLM-APPROACH", "CLM-SITE")}, tmp_path / "alice.xlsx")
    second = review(report, {"CLM-OTHER": DECISIONS["CLM-OTHER"]}, tmp_path / "bob.xlsx")
    r = cli("review", "import", first, "--ledger", ledger, "--reviewer", "Alice Coder")
    assert r.exit_code == 0 and "by Alice Coder" in r.output, r.output
    assert cli("review", "import", second, "--ledger", ledger).exit_code == 0  # the OS user by default
    with Ledger.open(ledger) as s:
        rows = s.query("SELECT decided_by, decided_at FROM decisions ORDER BY decision_id")
    assert [who for who, _ in rows][:2] == ["Alice Coder", "Alice Coder"] and rows[2][0]
    assert all(dt.datetime.fromisoformat(at).tzinfo is not None for _, at in rows)
    st = cli("review", "status", "--ledger", ledger)
    assert st.exit_code == 0, st.output
    section = st.output[st.output.index("By reviewer ("):]
    alice = next(x for x in section.splitlines() if x.startswith("Alice Coder"))
    assert alice.split()[2:5] == ["2", "1", "1"]  # decided, closed (Not an error), open
    assert SECRET_MEMBER not in st.output and "CLM-" not in st.output
    bad = cli("review", "import", first, "--ledger", ledger, "--reviewer", "line\nbreak")
    assert bad.exit_code == 2 and "--reviewer" in bad.output


def test_an_older_sqlite_ledger_migrates_and_keeps_who_imported(tmp_path, monkeypatch):
    path = tmp_path / "old.sqlite"
    monkeypatch.setattr(L, "MIGRATIONS", L.MIGRATIONS[:3])
    monkeypatch.setattr(L, "SCHEMA_VERSION", 3)
    with Ledger.open(path, create=True) as s:
        frame = __import__("polars").DataFrame({"finding_id": ["a"], "rule_id": ["R"], "severity": ["error"],
                                                "line_fingerprint": ["fa"]})
        s.record_run(frame, run_date=dt.date(2026, 11, 20), tool_version="t", rules_version="r",
                     outcomes=DEFAULT_OUTCOMES)
        with s.transaction() as db:  # an import as version 3 recorded it (no decided_by column yet)
            db.execute("INSERT INTO imports (imported_at, imported_by, workbook_path, workbook_sha256, "
                       "report_run_date, rows_read, decisions, unchanged) VALUES ('t', 'carol', 'w', 's', "
                       "'2026-11-20', 1, 1, 0)")
            db.execute("INSERT INTO decisions (import_id, finding_id, rule_id, line_fingerprint, disposition, "
                       "closes, report_run_date, decided_at) VALUES (1, 'a', 'R', 'fa', 'Confirmed', 0, "
                       "'2026-11-20', 't')")
    monkeypatch.undo()
    with Ledger.open(path) as s:
        assert s.schema_version == L.SCHEMA_VERSION == 4
        assert s.query("SELECT decided_by FROM decisions") == [("carol",)]
        assert s.status().per_reviewer().get_column("reviewer").to_list() == ["carol"]


def test_both_back_ends_have_the_same_migration_steps():
    assert len(postgres.MIGRATIONS) == len(L.MIGRATIONS) == L.SCHEMA_VERSION


@pytest.mark.parametrize("url", ["postgresql://audit:s3cr3t-pw@db.example/claims",
                                 "postgresql://audit@db.example/claims?password=s3cr3t-pw"])
def test_a_url_with_a_password_is_refused_and_never_echoed(cli, tmp_path, url):
    for args in (("review", "status", "--ledger", url), ("history", "status", "--ledger", url),
                 ("run", extract(tmp_path), "--out", tmp_path / "o", "--ledger", url),
                 ("ledger", "migrate", "--from", tmp_path / "x.sqlite", "--to", url)):
        r = cli(*args)
        assert r.exit_code == 2, r.output
        assert "PGPASSWORD" in r.output and ".pgpass" in r.output and "s3cr3t" not in r.output
    assert not (tmp_path / "o" / "claims-audit-ledger.sqlite").exists()


def test_history_must_live_with_its_ledger(cli, tmp_path, pg_url):
    src = extract(tmp_path)
    r = cli("run", src, "--out", tmp_path / "o", "--ledger", pg_url, "--history", tmp_path / "h")
    assert r.exit_code == 2 and "ledger's database" in r.output
    r = cli("run", src, "--out", tmp_path / "o", "--history", pg_url)
    assert r.exit_code == 2 and "--ledger" in r.output


def test_a_database_holding_other_tables_is_not_taken_over(pg_url, pg_server):
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute("CREATE TABLE payroll (x integer)")
    with pytest.raises(LedgerError, match="not a claims-audit ledger") as e:
        Ledger.open(pg_url, create=True)
    assert e.value.exit_code == ExitCode.USAGE
    with pytest.raises(LedgerError, match="no ledger") as e:  # review commands never create one
        Ledger.open(pg_server.new_database(), create=False)
    assert e.value.exit_code == ExitCode.USAGE


HOLD_ADVISORY_LOCK = """\
import sys, psycopg
con = psycopg.connect(sys.argv[1], autocommit=True)
con.execute("SELECT pg_advisory_lock(%s)", [int(sys.argv[2])])
print("locked", flush=True)
sys.stdin.read()
"""


def test_a_writer_waits_for_the_lock_then_fails_cleanly_and_readers_go_on(pg_url):
    frame = __import__("polars").DataFrame({"finding_id": ["a"], "rule_id": ["R"], "severity": ["error"],
                                            "line_fingerprint": ["fa"]})
    with Ledger.open(pg_url, create=True) as s:
        s.record_run(frame, run_date=dt.date(2026, 11, 20), tool_version="t", rules_version="r",
                     outcomes=DEFAULT_OUTCOMES)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_ADVISORY_LOCK, pg_url, str(postgres.WRITE_LOCK)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with Ledger.open(pg_url, timeout=0.5) as s:
            started = time.monotonic()
            with pytest.raises(LedgerError, match="busy") as e:
                s.record_run(frame, run_date=dt.date(2026, 11, 21), tool_version="t", rules_version="r",
                             outcomes=DEFAULT_OUTCOMES)
            assert 0.4 < time.monotonic() - started < 5
            assert e.value.exit_code == ExitCode.OUTPUT
            assert s.status().last_run == "2026-11-20"  # a reader never waits for the writer
    finally:
        holder.communicate("", timeout=10)
    with Ledger.open(pg_url) as s:
        assert s.query("SELECT run_date FROM runs") == [("2026-11-20",)]


@pytest.mark.slow
def test_reviewers_importing_at_once_while_the_night_runs_twice_lose_and_duplicate_nothing(cli, tmp_path,
                                                                                          pg_url):
    """Four reviewers import their workbooks from their desktops while the nightly job runs, and a second
    copy of the same night's job starts at the same moment: every decision is recorded exactly once,
    the night is recorded once, and both runs finish (the second waited for the first)."""
    report = run_night(cli, tmp_path, DAY1, "--ledger", pg_url)
    books = {claim: review(report, {claim: DECISIONS[claim]}, tmp_path / f"{n}.xlsx")
             for n, claim in enumerate(DECISIONS)}
    src = extract(tmp_path, "night2.csv")
    jobs = [[*("review", "import", wb, "--ledger", pg_url, "--reviewer", f"reviewer-{n}")]
            for n, wb in enumerate(books.values())]
    jobs += [["run", src, "--out", tmp_path / "reports", "--run-date", DAY2, "--ledger", pg_url, "-q"]] * 2
    exe = [sys.executable, "-m", "claims_audit"]
    procs = [subprocess.Popen(exe + [str(a) for a in job], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for job in jobs]
    results = [(p.wait(timeout=240), p.stderr.read()) for p in procs]
    assert [code for code, _ in results] == [0] * len(jobs), results
    with Ledger.open(pg_url) as s:
        decided = s.query("SELECT finding_id, decided_by, count(*) FROM decisions GROUP BY finding_id, decided_by")
        assert len(decided) == 4 and all(n == 1 for *_, n in decided)
        assert sorted(who for _, who, _ in decided) == [f"reviewer-{n}" for n in range(4)]
        assert s.query("SELECT count(*) FROM imports") == [(4,)]
        assert s.query("SELECT run_date FROM runs ORDER BY 1") == [(DAY1,), (DAY2,)]
        assert s.query("SELECT count(*) FROM run_findings WHERE run_date = ?", (DAY2,)) == [(4,)]
        assert s.query("SELECT count(*) FROM history_batches WHERE run_date = ?", (DAY2,))[0][0] <= 1
    # a third run of the night sees every decision
    again = cli("run", src, "--out", tmp_path / "reports", "--run-date", DAY2, "--ledger", pg_url, "-q")
    assert again.exit_code == 0, again.output
    with Ledger.open(pg_url) as s:
        statuses = s.query("SELECT status, count(*) FROM run_findings WHERE run_date = ? GROUP BY status", (DAY2,))
    assert statuses == [("decided", 4)]


# --- ledger migrate --------------------------------------------------------------------------------

HISTORY_NIGHT = ("claim_id,line_number,member_id,service_date,procedure_code,units,modifier_1,modifier_2,"
                 "rendering_npi,place_of_service,charge_amount,dx_1,dx_2,documented_approach,documented_site,"
                 "op_note\n{claim},1,M-77,2026-11-02,34421,1,LT,,1234567893,22,2400.00,I82.412,,"
                 "left groin incision,left common femoral vein,\n")


def _sqlite_team_history(cli, tmp_path):
    """Two nights on an SQLite ledger (one decision between), the second night a duplicate of the first."""
    report = run_night(cli, tmp_path, DAY1)
    wb = review(report, {"CLM-APPROACH": DECISIONS["CLM-APPROACH"]})
    assert cli("review", "import", wb, "--ledger", tmp_path / "reports" / "claims-audit-ledger.sqlite",
               "--reviewer", "dana").exit_code == 0
    night = tmp_path / "in" / "h1.csv"
    night.write_text(HISTORY_NIGHT.format(claim="S1"), encoding="utf-8")
    assert cli("run", night, "--out", tmp_path / "reports", "--run-date", "2026-11-22", "-q").exit_code in (0, 1)
    return tmp_path / "reports" / "claims-audit-ledger.sqlite"


def test_ledger_migrate_copies_ledger_and_history_verified_by_counts(cli, tmp_path, pg_url, pg_server):
    source = _sqlite_team_history(cli, tmp_path)
    r = cli("ledger", "migrate", "--from", source, "--to", pg_url)
    assert r.exit_code == 0, r.output
    with Ledger.open(source) as old:
        lines = old.query("SELECT sum(lines) FROM history_batches")[0][0]
    assert lines > 0 and "counts verified" in r.output and "1 decisions" in r.output
    assert f"{lines} history_lines" in r.output
    with Ledger.open(source) as old, Ledger.open(pg_url) as new:
        for table in ("runs", "run_findings", "imports", "decisions", "reports", "ledger_key", "history_key"):
            assert sorted(map(tuple, old.query(f"SELECT * FROM {table}"))) == \
                   sorted(map(tuple, new.query(f"SELECT * FROM {table}"))), table
    # a report written before the move imports into the new ledger (same seal key); a night on the new
    # ledger sees the old history (a duplicate of S1) and the old decision (decided)
    report = tmp_path / "reports" / f"claims-audit-{DAY1}.xlsx"
    wb = review(report, {"CLM-SITE": DECISIONS["CLM-SITE"]}, tmp_path / "late.xlsx")
    assert cli("review", "import", wb, "--ledger", pg_url).exit_code == 0
    night = tmp_path / "in" / "h2.csv"
    night.write_text(HISTORY_NIGHT.format(claim="S2"), encoding="utf-8")
    out = tmp_path / "after"
    assert cli("run", night, "--out", out, "--run-date", "2026-11-23", "--ledger", pg_url, "-q").exit_code in (0, 1)
    from conftest import read_sheet
    found = read_sheet(out / "claims-audit-2026-11-23.xlsx", "Findings", drop_blank=True)
    assert any(f["rule_id"] == "DUPLICATE_LINE" and f["related_claim_id"] == "S1" for f in found)
    with Ledger.open(pg_url) as new:
        assert new.query("SELECT max(decision_id), count(*) FROM decisions") == [(2, 2)]  # ids continue
    again = cli("ledger", "migrate", "--from", source, "--to", pg_url)  # now differs: refused
    assert again.exit_code == 2 and "already holds another ledger" in again.output
    other = pg_server.new_database()
    assert cli("ledger", "migrate", "--from", source, "--to", other).exit_code == 0
    same = cli("ledger", "migrate", "--from", source, "--to", other)
    assert same.exit_code == 0 and "already holds this ledger" in same.output


def test_ledger_migrate_rolls_back_when_the_counts_do_not_match(cli, tmp_path, pg_url, monkeypatch):
    source = _sqlite_team_history(cli, tmp_path)
    real = postgres.PostgresBackend.copy_records

    def drop_one(self, table, columns, rows):
        rows = list(rows)
        real(self, table, columns, rows[1:] if table == "run_findings" else rows)

    monkeypatch.setattr(postgres.PostgresBackend, "copy_records", drop_one)
    r = cli("ledger", "migrate", "--from", source, "--to", pg_url)
    assert r.exit_code == 4, r.output
    assert "does not match" in r.output and "run_findings" in r.output
    monkeypatch.undo()
    with Ledger.open(pg_url) as new:
        assert new.query("SELECT count(*) FROM runs") == [(0,)]
    assert cli("ledger", "migrate", "--from", source, "--to", pg_url).exit_code == 0


def test_a_subprocess_run_on_postgresql_leaves_no_password_and_no_file_ledger(tmp_path, pg_url):
    out = tmp_path / "out"
    res = run_subprocess("run", extract(tmp_path), "--out", out, "--run-date", DAY1, "--ledger", pg_url, "-q",
                         env={"PGPASSWORD": "not-needed-here"})
    assert res.returncode == 0, res.stderr
    assert not (out / "claims-audit-ledger.sqlite").exists() and not (out / "claims-audit-history").exists()
    text = (out / f"claims-audit-{DAY1}.json").read_text(encoding="utf-8")
    assert pg_url in text and "not-needed-here" not in text
