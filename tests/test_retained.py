"""The retained lines (issue 13): a run whose rules see its members group by group, with the kept lines
spilled to files, gives the results of a run that sees every member at once: findings (ids, order),
rejected rows, counts, medical-record evidence and what the claims history consulted and recorded."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from claims_audit import audit, pipeline, retained, ruledata, sample
from claims_audit.findings import spilled
from claims_audit.retained import RetainedLines, compact, group_count, held_bytes, restore
from claims_audit.ruleconfig import DEFAULT
from claims_audit.rules.claim_edits.context import EditContext, codes_where, read_by_edits

SAMPLES = Path(__file__).resolve().parents[1] / "sample_claims"
RUN = dt.date(2026, 11, 20)


def _same(a: pipeline.AuditResult, b: pipeline.AuditResult) -> None:
    assert_frame_equal(a.findings, b.findings)
    assert_frame_equal(a.rejected, b.rejected)
    assert a.inputs == b.inputs
    assert a.totals == b.totals and a.lines_34421 == b.lines_34421


def _nights(folder: Path, lines: int = 24_000, nights: int = 3) -> list[tuple[Path, dt.date]]:
    """One generated extract cut by service date into nights (members recur from night to night), with
    replacements and voids of earlier claims."""
    extract = sample.generate(lines, seed=31, bad_fraction=0.01).with_row_index("_n")
    members = extract.get_column("member_id").unique(maintain_order=True).head(500)
    extract = extract.with_columns(  # a small plan: each member has claims most nights
        pl.col("member_id").rank("dense").mod(500).cast(pl.Int64)
        .replace_strict(dict(enumerate(members.to_list())), default=None).alias("member_id"))
    dates = extract.get_column("service_date").str.to_date("%Y-%m-%d", strict=False)
    extract = extract.with_columns(dates.alias("_date")).drop_nulls("_date").sort("_date", "_n")
    out, previous = [], extract.clear()
    for i, part in enumerate(extract.with_columns((pl.int_range(pl.len()) * nights // pl.len()).alias("_night"))
                             .partition_by("_night", maintain_order=True)):
        part = part.with_columns(
            pl.when(pl.col("_n") % 97 == 0).then(pl.lit("7")).when(pl.col("_n") % 89 == 0).then(pl.lit("8"))
            .otherwise(None).alias("claim_frequency"))
        part = part.with_columns(pl.when(pl.col("claim_frequency").is_not_null()).then(pl.col("claim_id"))
                                 .alias("original_claim_id"))
        if previous.height:  # some of last night's surgeries billed again on a new claim: duplicates of history
            again = previous.filter(pl.col("procedure_code") == "34421").head(40)
            part = pl.concat([part, again.with_columns(pl.format("{}R", "claim_id").alias("claim_id"))])
        previous = part
        day = part.get_column("_date").max() + dt.timedelta(days=1)
        path = folder / f"night-{i}.csv"
        sample.write(part.drop("_n", "_date", "_night"), path)
        out.append((path, day))
    return out


def test_groups_of_members_give_the_results_of_the_whole_run(tmp_path, monkeypatch):
    files = [tmp_path / "a.csv", tmp_path / "b.csv"]  # one member's lines in both files
    waiting = []  # each group's findings wait in a file of the scratch folder (one group: in memory)
    monkeypatch.setattr(pipeline, "spilled", lambda rows, path: waiting.append(path) or spilled(rows, path))
    whole = sample.generate(16_000, seed=12, bad_fraction=0.02)
    sample.write(whole.slice(0, 9_000), files[0])
    sample.write(whole.slice(9_000), files[1])
    one = pipeline.run(files, RUN, buckets=1)
    assert one.findings.height > 200 and one.rejected.height > 30 and waiting == []
    for groups in (2, 7):
        _same(one, pipeline.run(files, RUN, buckets=groups, chunk_bytes=96 << 10, retain_bytes=0,
                                work_dir=tmp_path / f"out{groups}"))
        assert len(waiting) == groups and all(p.parent.parent == tmp_path / f"out{groups}" for p in waiting)
        waiting.clear()
        assert not list((tmp_path / f"out{groups}").iterdir())  # spilled groups removed with the scratch


def test_groups_of_members_on_the_samples(tmp_path):
    one = pipeline.run([SAMPLES], RUN, buckets=1)
    _same(one, pipeline.run([SAMPLES], RUN, buckets=5, retain_bytes=0, work_dir=tmp_path))


def test_groups_of_members_against_the_claims_history(tmp_path, monkeypatch):
    """Night after night with the history, the report and the manifest are those of one group, and the
    history holds the same lines."""
    nights = _nights(tmp_path)
    reports = {}
    for groups in (1, 4):
        monkeypatch.setattr(retained, "group_count", lambda *_: groups)
        out = tmp_path / f"out{groups}"
        for path, day in nights:
            done = audit.audit([path], out=out, run_date=day)
            reports[groups, day] = (done.result.findings, json.loads(done.paths.json.read_text()))
        stored = pl.read_parquet(sorted((out / "claims-audit-history").glob("*.parquet")))
        reports[groups, "history"] = stored.drop("member_key").sort(pl.all())
    consulted = 0
    for _, day in nights:
        (found_1, manifest_1), (found_4, manifest_4) = reports[1, day], reports[4, day]
        assert_frame_equal(found_1, found_4)
        for manifest in (manifest_1, manifest_4):
            for key in ("generated_at", "run_id", "report_seal", "outputs", "ledger"):
                manifest.pop(key, None)
            manifest["history"].pop("folder")
        assert manifest_1 == manifest_4
        consulted += manifest_1["history"]["lines_consulted"]
    assert consulted > 20  # the later nights did read earlier ones, and found on them:
    assert any(reports[4, day][0].get_column("related_source").str.contains(", run ").any() for _, day in nights)
    assert_frame_equal(reports[1, "history"], reports[4, "history"])


def test_the_kept_lines_of_a_piece_are_chosen_per_distinct_code(tmp_path):
    """codes_where (as the store uses it): the rows of the read_by_edits filter, evaluated once per code (codes out of every range,
    inside one, nulls, and non-numeric codes)."""
    keep = read_by_edits(EditContext(ruledata.load(), DEFAULT))
    frame = sample.generate(20_000, seed=4, bad_fraction=0.05).with_columns(
        pl.when(pl.int_range(pl.len()) % 50 == 0).then(None).otherwise(pl.col("procedure_code"))
        .alias("procedure_code"))
    frame = pl.concat([frame, frame.head(3).with_columns(pl.Series("procedure_code", ["9921A", "99213 ", "0001F"]))])
    assert_frame_equal(frame.filter(codes_where(frame, keep)), frame.filter(keep))


def test_compacted_parts_come_back_with_every_column_and_type():
    frame = pl.DataFrame({"line_key": [0, 1], "source_row": [2, 3], "source_file": ["f", "f"],
                          "member_id": ["m", None], "procedure_code": ["34421", "99213"],
                          "dx_2": pl.Series([None, None], dtype=pl.String), "units": [1, None],
                          "service_date": pl.Series([None, None], dtype=pl.Date)})
    small = compact(frame)
    assert small.columns == ["line_key", "source_row", "source_file", "member_id", "procedure_code", "units"]
    assert held_bytes(small) < held_bytes(frame)
    assert_frame_equal(restore([small.head(1), small.tail(1)], frame.schema), frame)


def test_memory_held_by_the_store_stays_within_its_budget(tmp_path):
    """Past its budget the store writes what it holds to Parquet: never more than the budget and one piece
    in memory, however many pieces come."""
    from claims_audit.schema import load_layout
    from claims_audit.readers import discover, read_chunks, ReadOptions
    from claims_audit.validation import validate

    path = tmp_path / "x.csv"
    sample.write(sample.generate(30_000, seed=9), path)
    layout = load_layout()
    store = RetainedLines(tmp_path, budget_bytes=1 << 20)
    biggest_piece, most_held = 0, 0
    for raw in read_chunks(discover([path])[0], layout, {}, ReadOptions(256 << 10, scratch=tmp_path)):
        lines = validate(raw, layout).lines.with_columns(pl.lit("x.csv").alias("source_file"))
        biggest_piece = max(biggest_piece, held_bytes(lines))
        store.add(lines)
        most_held = max(most_held, store._held)
    assert store.spilled >= 6 and most_held <= (1 << 20) + biggest_piece
    assert len(list(tmp_path.glob("lines-*.arrow"))) == store.spilled


@pytest.mark.parametrize(("size", "budget", "groups"), [
    (200 << 20, 512 << 20, 1), (512 << 20, 512 << 20, 1), (513 << 20, 512 << 20, 2), (5 << 30, 512 << 20, 10),
    (1 << 40, 512 << 20, 256), (10 << 20, 0, 1), (40 << 20, 0, 3)])
def test_a_run_is_split_into_groups_by_the_size_of_its_wanted_lines(size, budget, groups):
    assert group_count(size, budget) == groups


def _pieces(path: Path, folder: Path, size: int = 128 << 10) -> list[pl.DataFrame]:
    from claims_audit.readers import ReadOptions, discover, read_chunks
    from claims_audit.schema import load_layout
    from claims_audit.validation import validate

    layout = load_layout()
    return [validate(raw, layout).lines.with_columns(pl.lit(path.name).alias("source_file"))
            for raw in read_chunks(discover([path])[0], layout, {}, ReadOptions(size, scratch=folder))]


@pytest.mark.parametrize("groups", [1, 3])
def test_an_input_read_again_is_forgotten_even_when_a_spill_mixed_it_with_earlier_inputs(tmp_path, groups):
    """An input read again from its start (or rejected part-way) leaves none of its lines kept, though the
    spill that followed its first pieces wrote them into one file with the earlier inputs' lines."""
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    sample.write(sample.generate(6_000, seed=21), first)
    sample.write(sample.generate(6_000, seed=22), second)
    empty_lines = pipeline._no_lines(__import__("claims_audit.schema", fromlist=["x"]).load_layout())
    reference = RetainedLines(tmp_path / "ref", buckets=groups)
    (tmp_path / "ref").mkdir()
    for piece in _pieces(first, tmp_path) + _pieces(second, tmp_path):
        reference.add(piece)
    store = RetainedLines(tmp_path, budget_bytes=2 << 20, buckets=groups)
    for piece in _pieces(first, tmp_path):
        store.add(piece)
    assert store.spilled == 0  # the first input is held in memory when the second starts
    mark = store.mark()
    for piece in _pieces(second, tmp_path):
        store.add(piece)
    assert store.spilled > 0
    store.rollback(mark)
    for piece in _pieces(second, tmp_path):  # read again from its start
        store.add(piece)
    assert store.line_keys == reference.line_keys
    assert_frame_equal(store.lines(empty_lines), reference.lines(empty_lines))


def test_the_groups_are_sized_by_the_wanted_lines_not_by_the_kept_ones(tmp_path, monkeypatch):
    """Most kept lines belong to members without an audited line: they are written out while reading
    (the budget is small) but never split; the run is cut into groups by what it wants, and several
    groups chosen that way give the results of one."""
    files = [tmp_path / "a.csv"]
    sample.write(sample.generate(16_000, seed=12, bad_fraction=0.02), files[0])
    chosen = []

    def counted(wanted_bytes: int, group_bytes: int) -> int:
        chosen.append((wanted_bytes, group_count(wanted_bytes, group_bytes)))
        return chosen[-1][1]

    written = []
    write = retained.write_part
    monkeypatch.setattr(retained, "write_part", lambda frame, path: (written.append(path.name), write(frame, path)))
    monkeypatch.setattr(retained, "group_count", counted)
    monkeypatch.setattr(retained, "MIN_GROUP_BYTES", 64 << 10)  # a group as small as the tiny budget
    one = pipeline.run(files, RUN, buckets=1)
    pipeline.run(files, RUN, retain_bytes=1 << 30)  # what the run wants, as the rules see it (every column)
    (wanted, _), = chosen
    budget = 2 * wanted + (64 << 10)  # a group's lines (half the budget) hold every wanted line
    wide = pipeline.run(files, RUN, chunk_bytes=96 << 10, retain_bytes=budget, work_dir=tmp_path / "wide")
    spilled_wide = list(written)
    tight = pipeline.run(files, RUN, chunk_bytes=96 << 10, retain_bytes=256 << 10, work_dir=tmp_path / "tight")
    (_, wide_groups), (_, tight_groups) = chosen[1:]
    assert wide_groups == 1 and abs(chosen[1][0] - wanted) < wanted / 50  # about the same, however held
    assert spilled_wide and all(name.startswith("lines-") for name in spilled_wide)  # the kept ones did not fit
    assert tight_groups > 2 and any(name.startswith("group-") for name in written)
    _same(one, wide)
    _same(one, tight)
    assert not list((tmp_path / "tight").iterdir())


@pytest.mark.parametrize("groups", [1, 3])
def test_no_kept_line_is_held_while_the_rules_audit_a_group(tmp_path, groups):
    """Once the wanted lines are taken, the kept parts (frames and files) are let go: while a group is
    audited the store holds only the groups still to come, not the whole kept set (a memory bound)."""
    path = tmp_path / "x.csv"
    sample.write(sample.generate(12_000, seed=5), path)
    store = RetainedLines(tmp_path, budget_bytes=1 << 20, buckets=groups)
    for piece in _pieces(path, tmp_path):
        store.add(piece)
    assert store.spilled and store._parts
    empty = pipeline._no_lines(__import__("claims_audit.schema", fromlist=["x"]).load_layout())
    walk = store.buckets(empty)
    first = next(walk)
    assert first.height and store._parts == []
    held = walk.gi_frame.f_locals
    assert not held.get("parts") and "frames" not in held and "part" not in held
    assert not list(tmp_path.glob("lines-*.arrow"))  # every kept file read once and removed
    rest = list(walk)
    assert len(rest) == groups - 1 and not list(tmp_path.glob("*.arrow"))
