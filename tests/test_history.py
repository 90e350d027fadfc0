"""The claims history (issue 12): each night is audited against the member's earlier claims, through the
CLI, night after night into one report folder. Every test runs on both back ends (issue 21): the SQLite
ledger with its Parquet files, and a PostgreSQL ledger holding the lines in its database."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from conftest import line, read_sheet, run_subprocess, write_csv

from claims_audit.ledger import Ledger

HEADER = ["claim_id", "line_number", "member_id", "service_date", "procedure_code", "units", "modifier_1",
          "modifier_2", "rendering_npi", "place_of_service", "charge_amount", "dx_1", "dx_2",
          "documented_approach", "documented_site", "op_note", "claim_frequency", "original_claim_id"]
N1, N2, N3 = "2026-11-03", "2026-11-13", "2026-11-20"


@pytest.fixture
def cli(cli, ledger_backend):
    """The CLI against the test's back end: on PostgreSQL, `run` and `history` commands get
    `--ledger URL` (replacing a file given by the test) unless they run without a ledger."""
    if not ledger_backend.is_server:
        return cli

    def invoke(*args, env=None):
        args = [str(a) for a in args]
        if args[0] in ("run", "history") and "--no-ledger" not in args:
            if "--ledger" in args:
                args[args.index("--ledger") + 1] = ledger_backend.ledger
            else:
                args += ["--ledger", ledger_backend.ledger]
        return cli(*args, env=env)

    return invoke


def stored_lines(tmp_path: Path, backend):  # -> polars.DataFrame
    """Every line the claims history holds (its Parquet files, or the history_lines table)."""
    import polars as pl

    from claims_audit.history import STORED

    if backend.is_server:
        with Ledger.open(backend.ledger) as s:
            rows = s.query(f"SELECT {', '.join(STORED)} FROM history_lines")
        return pl.DataFrame(rows, schema=STORED, orient="row")
    with Ledger.open(tmp_path / "out" / "claims-audit-ledger.sqlite") as s:  # the files its catalog lists
        listed = [f for (f,) in s.query("SELECT file FROM history_batches")]
    folder = tmp_path / "out" / "claims-audit-history"
    return pl.concat([pl.read_parquet(folder / f) for f in listed]) if listed else pl.DataFrame(schema=STORED)


def surgery(**kw: str) -> dict[str, str]:
    return line(claim_id=kw.pop("claim_id", "S1"), **kw)


def visit(date: str, **kw: str) -> dict[str, str]:
    return line(**{"claim_id": "V1", "procedure_code": "99213", "modifier_1": "", "service_date": date,
                   "documented_approach": "", "documented_site": "", "place_of_service": "11", **kw})


def night(cli, tmp_path: Path, day: str, rows: list[dict], *extra: str, name: str | None = None):
    src = write_csv(tmp_path / "in" / day / (name or f"claims_{day}.csv"), rows, header=HEADER)
    res = cli("run", src, "--out", tmp_path / "out", "--run-date", day, "--quiet", *extra)
    assert res.exit_code in (0, 1), res.output
    return findings(tmp_path, day)


def findings(tmp_path: Path, day: str) -> list[dict]:
    return read_sheet(tmp_path / "out" / f"claims-audit-{day}.xlsx", "Findings", drop_blank=True)


def rules_on(found: list[dict], claim: str) -> set[str]:
    return {f["rule_id"] for f in found if f["claim_id"] == claim}


def manifest(tmp_path: Path, day: str) -> dict:
    return json.loads((tmp_path / "out" / f"claims-audit-{day}.json").read_text(encoding="utf-8"))


def test_a_visit_ten_days_after_surgery_on_a_later_night_names_the_surgery(cli, tmp_path):
    assert night(cli, tmp_path, N1, [surgery()]) == []
    found = night(cli, tmp_path, N2, [visit("2026-11-12")])
    [f] = [f for f in found if f["claim_id"] == "V1"]
    assert f["rule_id"] == "GLOBAL_PERIOD_EM"
    assert (f["related_claim_id"], f["related_line_number"]) == ("S1", 1)
    assert f["related_source"].endswith(f"claims_{N1}.csv row 2, run {N1}")
    consulted = manifest(tmp_path, N2)["history"]
    assert consulted["lines_consulted"] == 1 and consulted["first_date"] == consulted["last_date"] == "2026-11-02"


def test_a_visit_120_days_later_is_outside_the_global_period(cli, tmp_path):
    night(cli, tmp_path, N1, [surgery()])
    assert night(cli, tmp_path, "2027-03-05", [visit("2027-03-02")]) == []


def test_a_resubmitted_identical_service_is_a_duplicate_of_the_first(cli, tmp_path):
    night(cli, tmp_path, N1, [surgery()])
    found = night(cli, tmp_path, N2, [surgery(claim_id="S2")])
    dup = [f for f in found if f["rule_id"] == "DUPLICATE_LINE"]
    assert [(f["claim_id"], f["related_claim_id"]) for f in dup] == [("S2", "S1")]
    assert "MUE_EXCEEDED" in rules_on(found, "S2")


def test_a_second_unit_on_a_later_claim_exceeds_the_mue(cli, tmp_path):
    night(cli, tmp_path, N1, [surgery()])
    found = night(cli, tmp_path, N2, [surgery(claim_id="S2", modifier_1="59")])
    assert "MUE_EXCEEDED" in rules_on(found, "S2") and "DUPLICATE_LINE" not in rules_on(found, "S2")


def test_right_one_night_left_the_next_is_a_bilateral_format_finding(cli, tmp_path):
    night(cli, tmp_path, N1, [surgery(modifier_1="RT", dx_1="I82.413")])
    found = night(cli, tmp_path, N2, [surgery(claim_id="S2", modifier_1="LT", dx_1="I82.413")])
    bilateral = [f for f in found if f["rule_id"] == "BILATERAL_FORMAT"]
    assert [(f["claim_id"], f["related_claim_id"]) for f in bilateral] == [("S2", "S1")]


def test_37187_the_next_night_for_the_same_member_date_and_provider_is_a_ptp_conflict(cli, tmp_path):
    night(cli, tmp_path, N1, [surgery()])
    found = night(cli, tmp_path, N2, [surgery(claim_id="P1", procedure_code="37187")])
    [ptp] = [f for f in found if f["rule_id"] == "PTP_CONFLICT"]
    assert (ptp["claim_id"], ptp["related_claim_id"]) == ("P1", "S1")


def test_a_void_then_a_new_identical_claim_is_no_duplicate(cli, tmp_path):
    night(cli, tmp_path, N1, [surgery()])
    voided = night(cli, tmp_path, N2, [surgery(claim_id="X1", claim_frequency="8", original_claim_id="S1")])
    assert voided == []  # the void itself raises no service finding
    found = night(cli, tmp_path, N3, [surgery(claim_id="S9")])
    assert found == []
    assert manifest(tmp_path, N2)["history"]["adjustments_without_original"] == 0


def test_a_replacement_is_no_duplicate_and_the_original_side_no_longer_counts(cli, tmp_path):
    night(cli, tmp_path, N1, [surgery(modifier_1="RT", dx_1="I82.413")])
    found = night(cli, tmp_path, N2, [surgery(modifier_1="LT", dx_1="I82.413", claim_frequency="7")])
    assert found == []
    # a later claim for the same service is a duplicate of the replacement, not of the original
    later = night(cli, tmp_path, N3, [surgery(claim_id="S5", modifier_1="LT", dx_1="I82.413")])
    [dup] = [f for f in later if f["rule_id"] == "DUPLICATE_LINE"]
    assert dup["related_source"].endswith(f"run {N2}")


def test_a_replacement_of_a_claim_history_does_not_hold_is_audited_and_noted(cli, tmp_path):
    found = night(cli, tmp_path, N1, [surgery(claim_frequency="7", original_claim_id="NEVER-SEEN",
                                              documented_approach="percutaneous")])
    assert rules_on(found, "S1") == {"APPROACH_MISMATCH"}
    assert manifest(tmp_path, N1)["history"]["adjustments_without_original"] == 1


def test_the_same_night_run_twice_gives_identical_reports(cli, tmp_path):
    night(cli, tmp_path, N1, [surgery()])
    rows = [visit("2026-11-12"), surgery(claim_id="S2"), surgery(claim_id="P1", procedure_code="37187")]
    first = night(cli, tmp_path, N2, rows)
    first_manifest = manifest(tmp_path, N2)
    second = night(cli, tmp_path, N2, rows)
    strip = ("status",)  # the second run sees the first's findings in the ledger: recurring, not new
    assert [{k: v for k, v in f.items() if k not in strip} for f in second] == \
           [{k: v for k, v in f.items() if k not in strip} for f in first]
    assert {r["rule_id"] for r in first} == {"GLOBAL_PERIOD_EM", "DUPLICATE_LINE", "MUE_EXCEEDED", "PTP_CONFLICT"}
    assert manifest(tmp_path, N2)["history"] == first_manifest["history"]


def test_a_folder_still_holding_yesterdays_file_never_makes_a_line_a_duplicate_of_itself(cli, tmp_path):
    folder = tmp_path / "in" / "nightly"
    write_csv(folder / "a.csv", [surgery()], header=HEADER)
    assert cli("run", folder, "--out", tmp_path / "out", "--run-date", N1, "-q").exit_code == 0
    write_csv(folder / "b.csv", [visit("2026-11-12")], header=HEADER)  # a.csv is still there
    assert cli("run", folder, "--out", tmp_path / "out", "--run-date", N2, "-q").exit_code == 0
    found = findings(tmp_path, N2)
    assert {f["rule_id"] for f in found} == {"GLOBAL_PERIOD_EM"}  # no DUPLICATE_LINE/MUE of S1 with itself
    assert manifest(tmp_path, N2)["history"]["inputs_already_recorded"] == [str(folder / "a.csv")]


def test_back_fill_then_a_night_finds_the_duplicate(cli, tmp_path):
    past = write_csv(tmp_path / "past" / "october.csv", [surgery(), line(claim_id="B1", line_number="1",
                                                                      member_id="")], header=HEADER)
    ledger = tmp_path / "out" / "claims-audit-ledger.sqlite"
    res = cli("history", "import", past, "--ledger", ledger)
    assert res.exit_code == 1, res.output  # the row without a member is rejected and counted
    assert "2 rows read, 1 valid, 1 rejected; 1 lines added" in res.output
    status = cli("history", "status", "--ledger", ledger)
    assert status.exit_code == 0 and "1 lines of 1 members" in status.output and "october.csv" in status.output
    found = night(cli, tmp_path, N2, [surgery(claim_id="S2")])
    assert "DUPLICATE_LINE" in rules_on(found, "S2")
    assert not (tmp_path / "out" / "claims-audit-2026-12-01.xlsx").exists()  # a back-fill writes no report


def test_no_history_audits_the_night_alone(cli, tmp_path):
    night(cli, tmp_path, N1, [surgery()])
    assert night(cli, tmp_path, N2, [visit("2026-11-12")], "--no-history") == []
    assert "history" not in manifest(tmp_path, N2)
    res = cli("run", tmp_path / "in" / N2, "--out", tmp_path / "o2", "--no-ledger", "--history", tmp_path / "h")
    assert res.exit_code == 2 and "--history cannot be used with" in res.output


@pytest.mark.sqlite_only
def test_history_holds_no_documentation_text_and_no_member_id(cli, tmp_path):
    import polars as pl

    night(cli, tmp_path, N1, [surgery(member_id="MBR-SECRET-77", op_note="confidential operative note")])
    files = list((tmp_path / "out" / "claims-audit-history").glob("*.parquet"))
    stored = pl.read_parquet(files[0])
    assert "member_id" not in stored.columns and "op_note" not in stored.columns
    assert stored.get_column("member_key").dtype == pl.Int64
    assert all(oct(f.stat().st_mode)[-3:] == "600" for f in files)
    assert oct((tmp_path / "out" / "claims-audit-history").stat().st_mode)[-3:] == "700"


def test_lines_older_than_the_retention_period_are_pruned(cli, tmp_path):
    night(cli, tmp_path, N1, [surgery()])
    night(cli, tmp_path, "2028-03-01", [surgery(claim_id="S3", service_date="2028-02-28")])
    assert manifest(tmp_path, "2028-03-01")["history"]["lines_pruned"] == 1
    ledger = tmp_path / "out" / "claims-audit-ledger.sqlite"
    res = cli("history", "prune", "--before", "2030-01-01", "--ledger", ledger)
    assert res.exit_code == 0 and "Removed 1 line(s)" in res.output
    assert cli("history", "prune", "--before", "01/01/2030", "--ledger", ledger).exit_code == 2


@pytest.mark.sqlite_only
def test_a_damaged_history_stops_the_run_with_a_clear_error(cli, tmp_path):
    night(cli, tmp_path, N1, [surgery()])
    [stored] = (tmp_path / "out" / "claims-audit-history").glob("*.parquet")
    stored.write_bytes(b"not parquet at all")
    src = write_csv(tmp_path / "in" / "n2.csv", [visit("2026-11-12")], header=HEADER)
    res = cli("run", src, "--out", tmp_path / "out", "--run-date", N2)
    assert res.exit_code == 2, res.output
    assert res.output.startswith("Error: claims history") and "--no-history" in res.output
    stored.unlink()
    res = cli("run", src, "--out", tmp_path / "out", "--run-date", N2)
    assert res.exit_code == 2 and "lacks" in res.output


def _catalog(ledger: str | Path) -> list[tuple]:
    if isinstance(ledger, str) and ledger.startswith("postgresql://"):
        with Ledger.open(ledger) as s:
            return s.query("SELECT file, run_date, lines FROM history_batches ORDER BY batch_id")
    con = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
    try:
        return con.execute("SELECT file, run_date, lines FROM history_batches ORDER BY batch_id").fetchall()
    finally:
        con.close()


@pytest.mark.slow
@pytest.mark.parametrize("step", ["staged", "published"])
def test_a_run_killed_before_its_commit_leaves_history_as_it_was(tmp_path, step, ledger_backend):
    out = tmp_path / "out"
    server = ledger_backend.is_server
    extra = ["--ledger", ledger_backend.ledger] if server else []
    first = write_csv(tmp_path / "in" / "n1.csv", [surgery()], header=HEADER)
    assert run_subprocess("run", first, "--out", out, "--run-date", N1, "-q", *extra).returncode == 0
    ledger = ledger_backend.ledger if server else out / "claims-audit-ledger.sqlite"
    before = _catalog(ledger)
    lines_before = stored_lines(tmp_path, ledger_backend).height
    files_before = [] if server else sorted(p.name for p in (out / "claims-audit-history").iterdir())
    second = write_csv(tmp_path / "in" / "n2.csv", [surgery(claim_id="S2")], header=HEADER)
    killed = run_subprocess("run", second, "--out", out, "--run-date", N2, "-q", *extra,
                            env={"CLAIMS_AUDIT_KILL_AT": step})
    assert killed.returncode == -9
    assert _catalog(ledger) == before  # the killed night is not history
    assert stored_lines(tmp_path, ledger_backend).height == lines_before
    # the next run settles the folder: the killed run's file goes, the night is audited against N1 only
    again = run_subprocess("run", second, "--out", out, "--run-date", N2, "-q", *extra)
    assert again.returncode == 0, again.stderr
    if not server:
        files_after = sorted(p.name for p in (out / "claims-audit-history").iterdir())
        assert set(files_before) <= set(files_after) and len(files_after) == len(files_before) + 1
    assert [r[1] for r in _catalog(ledger)] == [N1, N2]
    assert stored_lines(tmp_path, ledger_backend).height == lines_before + 1


def test_history_records_what_later_nights_need_and_not_tonights_visits(cli, tmp_path, ledger_backend):
    """A visit or procedure of an earlier night is only ever the line a finding sits on (and history lines
    get none), so history keeps the audited, family and NCCI column-1 partner lines only."""
    night(cli, tmp_path, N1, [surgery(), visit("2026-11-12"), surgery(claim_id="P1", procedure_code="37187")])
    stored = stored_lines(tmp_path, ledger_backend)
    assert sorted(stored.get_column("procedure_code").to_list()) == ["34421", "37187"]


def test_a_visit_of_a_member_whose_surgery_is_only_in_history_is_kept_by_a_streaming_run(cli, tmp_path):
    """Tonight holds no audited line of that member: the visit is kept for history's surgery alone."""
    night(cli, tmp_path, N1, [surgery()])
    found = night(cli, tmp_path, N2, [visit("2026-11-12"), line(claim_id="O1", member_id="OTHER-9",
                                                                 procedure_code="99213", modifier_1="")],
                  "--memory-limit", "64M")
    assert [(f["claim_id"], f["rule_id"]) for f in found] == [("V1", "GLOBAL_PERIOD_EM")]



def test_member_keys_are_the_keyed_blake2b_every_history_holds():
    """History files keep member keys across nights and versions: the key of a member id is, and stays,
    the first 8 bytes of BLAKE2b keyed with the history key, as a big-endian signed integer (nulls stay
    null; equal ids, equal keys)."""
    import hashlib

    import polars as pl

    from claims_audit.history import History

    history = History.__new__(History)
    history.ledger, history._run_key = None, bytes(range(32))
    members = pl.Series("member_id", ["M-1", None, "M-2", "M-1", "Zoë", ""])
    expected = [None if m is None else int.from_bytes(
        hashlib.blake2b(m.encode("utf-8"), digest_size=8, key=bytes(range(32))).digest(), "big", signed=True)
        for m in members.to_list()]
    keys = history.member_keys(members)
    assert keys.to_list() == expected and keys.name == "member_key" and keys.dtype == pl.Int64
    assert history.member_keys(members.clear()).to_list() == []
