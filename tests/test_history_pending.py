"""Tonight's lines on their way into the claims history (claims_audit.history_pending, issue 13): a run
whose members are audited group by group, its lines to record waiting as Parquet parts, records exactly
what a run of one group records (the same batch file, line for line and in order; the same ledger rows),
on both ledger back ends; the batch file is written range by range in the order of one sort."""

from __future__ import annotations

import datetime as dt
import json
import random
import sqlite3
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from claims_audit import audit, history_pending, retained, sample
from claims_audit.history import STORED
from claims_audit.history_pending import PendingLines, in_order, range_count, sort_piece
from claims_audit.ledger import Ledger

FILE_ORDER = ("member_key", "service_date", "source_file", "source_row")  # one stable sort in file order


def _nights(folder: Path, lines: int = 18_000, nights: int = 3) -> list[tuple[Path, dt.date]]:
    """A generated extract cut by service date into nights, its members recurring from night to night
    (a small plan), with replacements and voids of earlier claims."""
    extract = sample.generate(lines, seed=23, bad_fraction=0.01).with_row_index("_n")
    members = extract.get_column("member_id").unique(maintain_order=True).head(400).to_list()
    extract = extract.with_columns(
        pl.col("member_id").rank("dense").mod(400).cast(pl.Int64)
        .replace_strict(dict(enumerate(members)), default=None).alias("member_id"))
    dates = extract.get_column("service_date").str.to_date("%Y-%m-%d", strict=False)
    extract = extract.with_columns(dates.alias("_date")).drop_nulls("_date").sort("_date", "_n")
    out = []
    parts = extract.with_columns((pl.int_range(pl.len()) * nights // pl.len()).alias("_night")).partition_by(
        "_night", maintain_order=True)
    for i, part in enumerate(parts):
        part = part.with_columns(
            pl.when(pl.col("_n") % 97 == 0).then(pl.lit("7")).when(pl.col("_n") % 89 == 0).then(pl.lit("8"))
            .otherwise(None).alias("claim_frequency"))
        part = part.with_columns(pl.when(pl.col("claim_frequency").is_not_null()).then(pl.col("claim_id"))
                                 .alias("original_claim_id"))
        path = folder / f"night-{i}.csv"
        sample.write(part.drop("_n", "_date", "_night"), path)
        out.append((path, part.get_column("_date").max() + dt.timedelta(days=1)))
    return out


def _same_key_ledgers(targets: list[str | Path]) -> None:
    """Ledgers created empty with one history key, so that their member keys (and file order) agree."""
    key = None
    for target in targets:
        with Ledger.open(target, create=True) as store, store.transaction() as db:
            if key is None:
                key = db.execute("SELECT key FROM history_key").fetchone()[0]
            db.execute("UPDATE history_key SET key = ? WHERE id = 1", (key,))


def _ledger_rows(ledger: str | Path) -> dict[str, list[tuple]]:
    """Every row a run writes, but its time stamps, run ids and file names (random by design)."""
    queries = {
        "runs": "SELECT run_date, tool_version, rules_version, outcomes, previous_run_date, findings, new, "
                "recurring, decided, closed, resolved FROM runs ORDER BY run_date",
        "run_findings": "SELECT * FROM run_findings ORDER BY run_date, finding_id",
        "reports": "SELECT run_date, findings_digest FROM reports ORDER BY run_date",
        "batches": "SELECT batch_id, kind, run_date, lines, min_date, max_date FROM history_batches "
                   "ORDER BY batch_id",
        "sources": "SELECT batch_id, source_file, source_sha256, lines FROM history_sources "
                   "ORDER BY batch_id, source_file",
        "superseded": "SELECT batch_id, claim_id, frequency FROM history_superseded "
                      "ORDER BY batch_id, claim_id, frequency",
    }
    with Ledger.open(ledger) as store:
        return {name: store.query(sql) for name, sql in queries.items()}


def _history_lines(ledger: str | Path, folder: Path | None) -> list[pl.DataFrame]:
    """Each batch's lines: its Parquet file as written (order included), or its rows of history_lines
    (a table has no order: sorted)."""
    with Ledger.open(ledger) as store:
        batches = store.query("SELECT batch_id, file FROM history_batches ORDER BY batch_id")
        if folder is None:
            return [pl.DataFrame(store.query(f"SELECT {', '.join(STORED)} FROM history_lines WHERE batch_id = ?",
                                             [batch]), schema=STORED, orient="row").sort(pl.all())
                    for batch, _ in batches]
    return [pl.read_parquet(folder / name) for _, name in batches]


def test_groups_of_members_record_what_one_group_records(tmp_path, monkeypatch, ledger_backend, request):
    """Night after night, a run of 5 groups (its lines to record waiting as parts) writes the same batch
    files line for line and in order, and the same ledger rows, as a run of one group."""
    nights = _nights(tmp_path)
    server = ledger_backend.is_server
    ledgers = ({1: ledger_backend.ledger, 5: request.getfixturevalue("pg_server").new_database()} if server
               else {n: tmp_path / f"out{n}" / "claims-audit-ledger.sqlite" for n in (1, 5)})
    _same_key_ledgers(list(ledgers.values()))
    seen: dict[int, list] = {1: [], 5: []}
    for groups in (1, 5):
        monkeypatch.setattr(retained, "group_count", lambda *_, n=groups: n)
        out = tmp_path / f"out{groups}"
        for path, day in nights:
            done = audit.audit([path], out=out, run_date=day, ledger=ledgers[groups], memory_limit=96 << 20)
            doc = json.loads(done.paths.json.read_text())["history"]
            doc.pop("folder")
            seen[groups].append((done.result.findings, done.ledger.findings, doc))
            assert not list(out.glob(".claims-audit.*"))  # the run's scratch folder and its parts are gone
    for (found_1, view_1, doc_1), (found_5, view_5, doc_5) in zip(seen[1], seen[5]):
        assert_frame_equal(found_1, found_5)
        assert_frame_equal(view_1, view_5)
        assert doc_1 == doc_5
    assert sum(doc["lines_recorded"] for *_, doc in seen[1]) > 500
    assert sum(doc["lines_consulted"] for *_, doc in seen[1]) > 20  # later nights read earlier ones
    assert any(doc["lines_pruned"] for *_, doc in seen[1])  # and the retention cut-off applied
    assert _ledger_rows(ledgers[1]) == _ledger_rows(ledgers[5])
    folders = {n: None if server else tmp_path / f"out{n}" / "claims-audit-history" for n in (1, 5)}
    files_1, files_5 = (_history_lines(ledgers[n], folders[n]) for n in (1, 5))
    assert len(files_1) == len(files_5) >= 2  # (the first night is past retention by the last)
    for one, grouped in zip(files_1, files_5):
        assert_frame_equal(one, grouped)
        if not server:
            assert_frame_equal(one, one.sort(*FILE_ORDER))


def test_a_first_run_in_groups_records_its_night_in_the_order_of_one_sort(tmp_path, monkeypatch):
    """No ledger yet: the groups' members are keyed only when the new ledger records them; the file holds
    the lines one group records (other keys: another ledger), sorted by member_key and date, file order
    among equal keys. Its findings are those of the night against an empty history whose ledger exists."""
    [(path, day), *_] = _nights(tmp_path, nights=2)
    stored = {}
    for groups in (1, 4):
        monkeypatch.setattr(retained, "group_count", lambda *_, n=groups: n)
        done = audit.audit([path], out=tmp_path / f"out{groups}", run_date=day)
        [file] = (tmp_path / f"out{groups}" / "claims-audit-history").glob("history-*.parquet")
        stored[groups] = pl.read_parquet(file)
        assert_frame_equal(stored[groups], stored[groups].sort(*FILE_ORDER))
        # a ledger already there (empty): tonight's members are keyed as the night is prepared
        keyed_out = tmp_path / f"keyed{groups}"
        Ledger.open(keyed_out / "claims-audit-ledger.sqlite", create=True).close()
        keyed = audit.audit([path], out=keyed_out, run_date=day)
        assert_frame_equal(done.result.findings, keyed.result.findings)
    assert stored[1].height > 200
    assert_frame_equal(stored[1].drop("member_key").sort(pl.all()), stored[4].drop("member_key").sort(pl.all()))


def _lines(n: int, members: int, seed: int) -> pl.DataFrame:
    """Lines of `members` members (`_m`; member 0 without a key) spread over the 64-bit keys."""
    rng = random.Random(seed)
    member = [rng.randrange(members) for _ in range(n)]
    spread = {m: (m * 0x9E3779B97F4A7C15) % (1 << 64) - (1 << 63) for m in range(1, members)}
    return pl.DataFrame({
        "_m": member, "member_key": [spread.get(m) for m in member],
        "service_date": [dt.date(2026, 1, 1) + dt.timedelta(days=rng.randrange(30)) for _ in range(n)],
        "source_row": list(range(n)),
    }, schema={"_m": pl.Int64, "member_key": pl.Int64, "service_date": pl.Date, "source_row": pl.Int64})


@pytest.mark.parametrize("on_disk", [False, True])
def test_sorted_pieces_written_range_by_range_are_one_stable_sort(tmp_path, monkeypatch, on_disk):
    """Pieces of disjoint members (some keys null), each in file order, sorted apart and produced a range
    of member_keys at a time (ranges of a few lines: many ranges, most pieces spanning several), give the
    stable sort of the whole night; the lazy frame honours a projection, a filter and a row limit."""
    monkeypatch.setattr(history_pending, "RANGE_LINES", 37)
    monkeypatch.setattr(history_pending, "PART_ROW_GROUP", 16)
    whole = _lines(2_000, 300, seed=5)
    assert whole.get_column("member_key").null_count() > 0
    pieces = whole.with_columns((pl.col("_m") % 6).alias("_g")).partition_by("_g", maintain_order=True,
                                                                               include_key=False)
    folder = tmp_path if on_disk else None
    ranges = range_count(whole.height)
    assert ranges == 55
    sorted_pieces = [sort_piece(piece, folder, ranges) for piece in pieces]
    assert all(isinstance(p.data, Path) == on_disk for p in sorted_pieces)
    lazy = in_order(sorted_pieces, dict(whole.schema))
    expected = whole.sort("member_key", "service_date", maintain_order=True)
    assert_frame_equal(lazy.collect(), expected)
    out = tmp_path / "batch.parquet"
    lazy.sink_parquet(out)
    assert_frame_equal(pl.read_parquet(out), expected)
    assert_frame_equal(lazy.filter(pl.col("source_row") % 3 == 0).select("source_row").head(100).collect(),
                       expected.filter(pl.col("source_row") % 3 == 0).select("source_row").head(100))


def test_pending_parts_are_written_as_the_groups_go_and_read_once(tmp_path):
    pending = PendingLines(tmp_path)
    first, second = _lines(50, 10, seed=1), _lines(70, 10, seed=2)
    pending.add(first)
    more = PendingLines(tmp_path)
    more.add(second)
    pending.extend(more)
    assert pending.height == 120 and len(list(tmp_path.glob("history-pending-*.parquet"))) == 2
    frames = list(pending.frames())
    assert_frame_equal(frames[0], first) and assert_frame_equal(frames[1], second)
    assert not list(tmp_path.iterdir())  # each part removed once read
    held = PendingLines.of(first)
    assert held.height == 50 and [f.height for f in held.frames()] == [50]


@pytest.mark.sqlite_only
def test_a_killed_run_leaves_no_parts_once_the_next_run_settles_the_folder(tmp_path):
    """Parts live in the run's scratch folder in the output folder: a killed run's go with the next run."""
    from conftest import run_subprocess

    [(path, day), (path2, day2), *_] = _nights(tmp_path)
    out = tmp_path / "out"
    assert run_subprocess("run", path, "--out", out, "--run-date", day.isoformat(), "-q").returncode in (0, 1)
    killed = run_subprocess("run", path2, "--out", out, "--run-date", day2.isoformat(), "-q",
                            env={"CLAIMS_AUDIT_KILL_AT": "published"})
    assert killed.returncode == -9
    assert list(out.glob(".claims-audit.*.scratch"))  # left behind
    con = sqlite3.connect(out / "claims-audit-ledger.sqlite")
    assert [r[0] for r in con.execute("SELECT run_date FROM history_batches")] == [day.isoformat()]
    con.close()
    again = run_subprocess("run", path2, "--out", out, "--run-date", day2.isoformat(), "-q")
    assert again.returncode in (0, 1), again.stderr
    assert not list(out.glob(".claims-audit.*"))
