"""The review ledger as a store: schema and migrations, statuses, idempotent runs, transactions, locking."""

from __future__ import annotations

import conftest

import datetime as dt
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap

import polars as pl
import pytest

from claims_audit import ledger as L
from claims_audit.errors import ConfigError, ExitCode, LedgerError
from claims_audit.ledger import Ledger, NewDecision
from claims_audit.ruleconfig import DEFAULT_OUTCOMES, ReviewOutcomes, parse

D1, D2, D3 = dt.date(2026, 11, 20), dt.date(2026, 11, 21), dt.date(2026, 11, 22)


def findings(*rows: tuple[str, str, str]) -> pl.DataFrame:
    """(finding_id, rule_id, line_fingerprint) -> a findings frame as the pipeline makes it (subset)."""
    return pl.DataFrame({"finding_id": [r[0] for r in rows], "rule_id": [r[1] for r in rows],
                         "severity": ["error"] * len(rows), "line_fingerprint": [r[2] for r in rows]},
                        schema={"finding_id": pl.String, "rule_id": pl.String, "severity": pl.String,
                                "line_fingerprint": pl.String})


def record(store: Ledger, frame: pl.DataFrame, day: dt.date, outcomes: ReviewOutcomes = DEFAULT_OUTCOMES):
    return store.record_run(frame, run_date=day, tool_version="t", rules_version="r", outcomes=outcomes)


def decide(store: Ledger, day: dt.date, *items: tuple[str, str, str, str]) -> None:
    """(finding_id, rule_id, fingerprint, disposition) decisions made on the report of `day`."""
    decisions = [NewDecision(f, r, fp, d, DEFAULT_OUTCOMES.closes(d), f"note {f}") for f, r, fp, d in items]
    store.record_import(workbook_path="wb.xlsx", workbook_sha256="0" * 64, modified_by=None,
                        report_run_date=day.isoformat(), rows_read=len(items), decisions=decisions,
                        unchanged=0, imported_by="tester")


def statuses(view) -> dict[str, str]:
    return dict(view.findings.select("finding_id", "status").iter_rows())


@pytest.fixture
def store(ledger_backend):
    """A new ledger on each back end (SQLite file, PostgreSQL database)."""
    s = Ledger.open(ledger_backend.ledger, create=True)
    yield s
    s.close()


def test_created_with_schema_version_wal_and_private_mode(tmp_path):
    path = tmp_path / "sub" / "ledger.sqlite"
    with Ledger.open(path, create=True) as s:
        assert s.schema_version == L.SCHEMA_VERSION
        assert s.query("PRAGMA journal_mode")[0][0] == "wal"
        assert s.query("PRAGMA application_id")[0][0] == L.APPLICATION_ID
        assert [v for v, *_ in s.query("SELECT * FROM schema_migrations")] == list(
            range(1, L.SCHEMA_VERSION + 1))
        assert s.integrity_ok()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with Ledger.open(path) as s:  # reopening migrates nothing
        assert len(s.query("SELECT * FROM schema_migrations")) == L.SCHEMA_VERSION


def test_migrations_bring_an_older_ledger_up_to_date(tmp_path, monkeypatch):
    path = tmp_path / "ledger.sqlite"
    extra = ("CREATE TABLE later_feature (x INTEGER)",)
    with Ledger.open(path, create=True) as s:
        s.query("SELECT 1")
    monkeypatch.setattr(L, "MIGRATIONS", L.MIGRATIONS + (extra,))
    monkeypatch.setattr(L, "SCHEMA_VERSION", L.SCHEMA_VERSION + 1)
    with Ledger.open(path) as s:
        assert s.schema_version == L.SCHEMA_VERSION
        assert s.query("SELECT count(*) FROM later_feature") == [(0,)]
        assert [v for v, *_ in s.query("SELECT version FROM schema_migrations")] == list(range(1, L.SCHEMA_VERSION + 1))


def test_refuses_newer_foreign_and_missing_ledgers(tmp_path):
    newer = tmp_path / "newer.sqlite"
    with Ledger.open(newer, create=True):
        pass
    con = sqlite3.connect(newer)
    con.execute(f"PRAGMA user_version = {L.SCHEMA_VERSION + 5}")
    con.close()
    with pytest.raises(LedgerError, match="newer") as e:
        Ledger.open(newer)
    assert e.value.exit_code == ExitCode.USAGE

    foreign = tmp_path / "other.sqlite"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE t (x)")
    con.close()
    with pytest.raises(LedgerError, match="not a claims-audit ledger"):
        Ledger.open(foreign, create=True)

    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(LedgerError):
        Ledger.open(garbage, create=True)

    with pytest.raises(LedgerError, match="no ledger") as e:
        Ledger.open(tmp_path / "missing.sqlite")
    assert e.value.exit_code == ExitCode.USAGE
    assert not (tmp_path / "missing.sqlite").exists()


def test_statuses_across_nights(store):
    n1 = record(store, findings(("a", "R1", "fa"), ("b", "R1", "fb"), ("c", "R2", "fc"), ("d", "R2", "fd")), D1)
    assert set(statuses(n1).values()) == {"new"} and n1.previous_run_date is None
    assert n1.counts == {"findings": 4, "open": 4, "new": 4, "recurring": 0, "decided": 0, "closed": 0,
                         "resolved": 0}
    decide(store, D1, ("a", "R1", "fa", "Confirmed"), ("b", "R1", "fb", "Not an error"),
           ("c", "R2", "fc", "Confirmed"))
    # night 2: a unchanged, b unchanged (closed), c's line changed, d gone, e appears
    n2 = record(store, findings(("a", "R1", "fa"), ("b", "R1", "fb"), ("c", "R2", "fc2"), ("e", "R2", "fe")), D2)
    assert statuses(n2) == {"a": "decided", "b": "decided", "c": "new", "e": "new"}
    assert n2.closed_ids == ["b"] and n2.previous_run_date == D1.isoformat()
    prev = dict(n2.findings.select("finding_id", "previous_disposition").iter_rows())
    assert prev == {"a": "Confirmed", "b": "Not an error", "c": None, "e": None}
    assert n2.counts == {"findings": 4, "open": 3, "new": 2, "recurring": 0, "decided": 2, "closed": 1,
                         "resolved": 1}
    assert n2.by_rule.filter(pl.col("rule_id") == "R2").row(0, named=True) == {
        "rule_id": "R2", "new": 2, "recurring": 0, "decided": 0, "closed": 0, "resolved": 1}
    # night 3: everything as night 2 -> c and e recur (their current versions were seen on night 2)
    n3 = record(store, findings(("a", "R1", "fa"), ("b", "R1", "fb"), ("c", "R2", "fc2"), ("e", "R2", "fe")), D3)
    assert statuses(n3) == {"a": "decided", "b": "decided", "c": "recurring", "e": "recurring"}
    assert n3.history.get_column("run_date").to_list() == [D1.isoformat(), D2.isoformat(), D3.isoformat()]
    assert n3.history.get_column("findings").to_list() == [4, 4, 4]


def test_rerunning_a_date_replaces_its_record(store):
    record(store, findings(("a", "R1", "fa")), D1)
    first = record(store, findings(("a", "R1", "fa"), ("b", "R1", "fb")), D2)
    again = record(store, findings(("a", "R1", "fa"), ("b", "R1", "fb")), D2)
    assert statuses(first) == statuses(again) == {"a": "recurring", "b": "new"}
    assert first.counts == again.counts
    assert store.query("SELECT count(*) FROM runs") == [(2,)]
    assert store.query("SELECT count(*) FROM run_findings WHERE run_date = ?", (D2.isoformat(),)) == [(2,)]
    # a replay of an earlier date compares only with what came before it
    replay = record(store, findings(("a", "R1", "fa")), D1)
    assert statuses(replay) == {"a": "new"} and replay.previous_run_date is None


def test_decisions_on_later_reports_do_not_change_an_earlier_night(store):
    record(store, findings(("a", "R1", "fa")), D1)
    record(store, findings(("a", "R1", "fa")), D2)
    decide(store, D2, ("a", "R1", "fa", "Corrected"))
    assert statuses(record(store, findings(("a", "R1", "fa")), D1)) == {"a": "new"}
    n3 = record(store, findings(("a", "R1", "fa")), D3)
    assert statuses(n3) == {"a": "decided"} and n3.closed_ids == ["a"]


def test_latest_decision_wins_and_closing_follows_the_configured_outcomes(store):
    record(store, findings(("a", "R1", "fa")), D1)
    decide(store, D1, ("a", "R1", "fa", "Not an error"))
    decide(store, D1, ("a", "R1", "fa", "Deferred"))
    n2 = record(store, findings(("a", "R1", "fa")), D2)
    assert n2.closed_ids == [] and n2.findings.item(0, "previous_disposition") == "Deferred"
    custom = parse({"review_outcomes": [{"name": "Deferred", "closes": True}]}).review_outcomes
    assert record(store, findings(("a", "R1", "fa")), D3, custom).closed_ids == ["a"]


def test_a_failed_transaction_changes_nothing(store):
    with pytest.raises(RuntimeError), store.transaction():
        record(store, findings(("a", "R1", "fa")), D1)
        raise RuntimeError("report could not be written")
    assert store.query("SELECT count(*) FROM runs") == [(0,)]
    assert store.query("SELECT count(*) FROM run_findings") == [(0,)]



def test_statuses_come_back_in_batches_beside_the_findings_in_their_order(store, monkeypatch):
    """Many findings in report order (not id order), fetched a few at a time: each keeps its own status,
    disposition and note, the view is the findings with the status columns beside them (the findings'
    own columns untouched, none copied), and run_findings holds one row per finding with that status."""
    monkeypatch.setattr(L, "FETCH_ROWS", 3)
    ids = [f"f{n:03d}" for n in range(60)][::-1]  # report order is not finding_id order
    night1 = findings(*[(f, "R1" if n % 2 else "R2", f"fp{f}") for n, f in enumerate(ids)])
    record(store, night1, D1)
    decide(store, D1, *[(f, "R1", f"fp{f}", "Not an error" if n % 4 == 1 else "Confirmed")
                        for n, f in enumerate(ids) if n % 2 and n < 30])
    # night 2: the same findings but every fifth line changed (a new version: no decision, not seen)
    night2 = findings(*[(f, "R1" if n % 2 else "R2", f"fp{f}" + ("x" if n % 5 == 0 else ""))
                        for n, f in enumerate(ids)]).with_columns(pl.lit("kept").alias("claim_id"))
    view = record(store, night2, D2)
    expected = []
    for n, f in enumerate(ids):
        decided = n % 2 and n < 30 and n % 5
        disposition = ("Not an error" if n % 4 == 1 else "Confirmed") if decided else None
        expected.append((f, disposition, f"note {f}" if decided else None,
                         "decided" if decided else "new" if n % 5 == 0 else "recurring"))
    assert view.findings.columns == [*night2.columns, "previous_disposition", "previous_note", "status"]
    assert list(view.findings.select("finding_id", "previous_disposition", "previous_note", "status")
                .iter_rows()) == expected
    assert view.findings.select(night2.columns).equals(night2)
    closing = {f for f, d, _, _ in expected if d == "Not an error"}
    assert sorted(view.closed_ids) == sorted(closing) and closing
    rows = store.query("SELECT finding_id, status, disposition, closed FROM run_findings WHERE run_date = ? "
                       "ORDER BY finding_id", (D2.isoformat(),))
    assert rows == sorted((f, st, d, int(f in closing)) for f, d, _, st in expected)
    assert view.counts["findings"] == 60 and view.counts["closed"] == len(closing)


HOLD_LOCK = conftest.HOLD_LOCK


def test_a_ledger_busy_for_too_long_fails_clearly_and_readers_are_not_blocked(tmp_path):
    path = tmp_path / "ledger.sqlite"
    with Ledger.open(path, create=True) as s:
        record(s, findings(("a", "R1", "fa")), D1)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with Ledger.open(path, timeout=0.3) as s:
            with pytest.raises(LedgerError, match="busy") as e:
                record(s, findings(("b", "R1", "fb")), D2)
            assert e.value.exit_code == ExitCode.OUTPUT
            assert s.status().last_run == D1.isoformat()  # WAL: reading while another process writes
    finally:
        holder.communicate("", timeout=10)
    with Ledger.open(path) as s:
        assert s.query("SELECT run_date FROM runs") == [(D1.isoformat(),)]
        assert s.integrity_ok()


def test_timeout_from_environment(monkeypatch):
    monkeypatch.setenv(L.TIMEOUT_ENV, "2.5")
    assert L._timeout() == 2.5
    monkeypatch.setenv(L.TIMEOUT_ENV, "soon")
    with pytest.raises(ConfigError):
        L._timeout()
    monkeypatch.delenv(L.TIMEOUT_ENV)
    assert L._timeout() == L.DEFAULT_TIMEOUT


def test_default_path_is_next_to_the_reports(tmp_path):
    assert L.default_path(tmp_path) == tmp_path / "claims-audit-ledger.sqlite"
    from claims_audit.review_cli import DEFAULT_LEDGER
    assert DEFAULT_LEDGER == L.default_path(type(tmp_path)("reports"))
    assert os.fspath(DEFAULT_LEDGER) == os.path.join("reports", "claims-audit-ledger.sqlite")


CREATE_AND_RECORD = textwrap.dedent("""
    import datetime as dt, sys, time
    import polars as pl
    from claims_audit.ledger import Ledger
    from claims_audit.ruleconfig import DEFAULT_OUTCOMES
    start, path, day = float(sys.argv[1]), sys.argv[2], sys.argv[3]
    while time.time() < start:
        time.sleep(0.001)
    frame = pl.DataFrame({"finding_id": ["a", "b"], "rule_id": ["R", "R"], "severity": ["error"] * 2,
                          "line_fingerprint": ["fa", "fb"]})
    with Ledger.open(path, create=True) as s:
        s.record_run(frame, run_date=dt.date.fromisoformat(day), tool_version="t", rules_version="r",
                     outcomes=DEFAULT_OUTCOMES)
""")


def test_many_processes_creating_and_writing_one_new_ledger_at_once(tmp_path):
    import time
    path = tmp_path / "new.sqlite"
    start = time.time() + 1.5  # all processes are up and importing by then: they hit the file together
    days = [f"2026-11-{d:02d}" for d in range(1, 7)]
    procs = [subprocess.Popen([sys.executable, "-c", CREATE_AND_RECORD, str(start), str(path), day],
                              stderr=subprocess.PIPE, text=True) for day in days]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * len(days), errors
    with Ledger.open(path) as s:
        assert s.integrity_ok()
        assert [d for (d,) in s.query("SELECT run_date FROM runs ORDER BY 1")] == days
        assert s.query("SELECT count(*) FROM schema_migrations") == [(L.SCHEMA_VERSION,)]
        assert s.query("SELECT count(*) FROM run_findings") == [(2 * len(days),)]
