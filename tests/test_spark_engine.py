"""The audit on Spark (issue 20): the same answer as the default engine - findings (ids, rules, order),
rejected cells, counts, reconciliation - on the samples, the hostile-input corpus and a generated 200,000
line extract split over CSV files and a hive-partitioned Parquet dataset; the same report through the
CLI (ledger, masking); a job that cannot finish writes no report; without PySpark, exit 2.

One local[2] Spark session serves the whole module (starting Spark costs most of a run here).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest

from claims_audit import pipeline, sample, spark_engine
from hostile import RUN_DATE, csv_text, damaged_night, good, sheet_rows, write_bytes

RUN = dt.date.fromisoformat(RUN_DATE)
SAMPLES = Path(__file__).resolve().parent.parent / "sample_claims"


@pytest.fixture(scope="module")
def spark():
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("claims-audit-tests")
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "4")
               .config("spark.driver.extraJavaOptions",
                       f"-Dlog4j2.configurationFile=file:{spark_engine.LOG_CONFIG}")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _same(local: pipeline.AuditResult, spark: pipeline.AuditResult) -> None:
    """Identical findings (every column, in order), rejected cells, per-input counts and totals."""
    assert spark.findings.columns == local.findings.columns
    assert spark.findings.equals(local.findings), "findings differ"
    assert spark.rejected.equals(local.rejected), "rejected cells differ"
    assert spark.inputs == local.inputs
    assert spark.totals == local.totals
    assert spark.ignored == local.ignored
    assert spark.findings_by_rule == local.findings_by_rule


def _both(paths: list, **options) -> tuple[pipeline.AuditResult, pipeline.AuditResult]:
    local = pipeline.run(paths, RUN, **options)
    on_spark = spark_engine.run(paths, RUN, **options)
    return local, on_spark


def test_samples_give_the_same_answer(spark):
    local, on_spark = _both([SAMPLES])
    _same(local, on_spark)
    assert on_spark.findings.height > 100 and on_spark.totals["rows_rejected"] > 0


def _hostile_corpus(folder: Path) -> None:
    """The damage of test_hostile_inputs.test_everything_at_once_reconciles, plus a corrupt Parquet file."""
    damaged_night(folder)
    files = {
        "12 corrupt.parquet": b"PAR1 not really parquet PAR1",
        "13 same member.csv": csv_text([good(16, member_id="M0001"), good(17, member_id="M0001")]).encode(),
    }
    for name, data in files.items():
        write_bytes(folder / name, data)


def test_hostile_corpus_gives_the_same_answer_and_rejects_the_corrupt_files_with_their_reason(spark, tmp_path):
    _hostile_corpus(tmp_path / "night")
    local, on_spark = _both([tmp_path / "night"])
    _same(local, on_spark)
    status = {Path(i.path).name: (i.status, i.error) for i in on_spark.inputs}
    assert status["12 corrupt.parquet"] == ("rejected", "not a readable .parquet file")
    assert status["07 binary.csv"][0] == "rejected" and "not text" in status["07 binary.csv"][1]
    assert on_spark.exit_code == 1


def _lake(root: Path, lines: int = 200_000) -> tuple[list[Path], pl.DataFrame]:
    """A generated extract cut into 5 pieces (members' lines spread over all of them): two CSV files and
    a hive-partitioned Parquet dataset of three files, as Spark writes one (with _SUCCESS beside)."""
    frame = sample.generate(lines, seed=20)
    step = lines // 5
    pieces = [frame.slice(i * step, step) for i in range(5)]
    sample.write(pieces[0], root / "csv" / "part-a.csv")
    sample.write(pieces[1], root / "csv" / "part-b.csv")
    dataset = root / "lake"
    for n, piece in enumerate(pieces[2:]):
        sample.write(piece.with_columns(pl.lit(f"2026-0{n + 1}").alias("load_month")),
                     dataset / f"load_month=2026-0{n + 1}" / "part-00000.parquet")
    (dataset / "_SUCCESS").write_bytes(b"")
    return [root / "csv", dataset], frame


def test_generated_200k_over_csv_and_a_hive_dataset_gives_the_same_answer(spark, tmp_path):
    paths, frame = _lake(tmp_path)
    files = [*sorted((tmp_path / "csv").iterdir()), *sorted((tmp_path / "lake").glob("*/*.parquet"))]
    local = pipeline.run(files, RUN)  # the local engine is given the dataset's files one by one
    on_spark = spark_engine.run(paths, RUN, buckets=5)
    assert on_spark.findings.equals(local.findings)
    assert on_spark.rejected.equals(local.rejected)
    assert [(i.rows_read, i.rows_audited, i.rows_rejected, i.status) for i in on_spark.inputs] == [
        (i.rows_read, i.rows_audited, i.rows_rejected, i.status) for i in local.inputs]
    assert on_spark.totals == local.totals and on_spark.totals["rows_read"] == frame.height
    assert [Path(i.path).name for i in on_spark.inputs] == ["part-a.csv", "part-b.csv", *["part-00000.parquet"] * 3]
    assert [reason for _, reason in on_spark.ignored] == ["Spark/Hive bookkeeping file of a dataset"]
    # claim edits pair lines of different files: the shuffle by member brought them together
    across = on_spark.findings.filter(pl.col("related_source").is_not_null()).with_columns(
        pl.col("related_source").str.extract(r"^(.*) row \d+$").alias("related_file"))
    assert across.filter(pl.col("related_file") != pl.col("source_file")).height > 0
    assert on_spark.findings.height > 1000


def test_globs_expand_in_name_order(tmp_path):
    for name in ("b.csv", "a.csv", "notes.txt"):
        write_bytes(tmp_path / name, csv_text([good(1)]))
    found = spark_engine.lake_inputs([str(tmp_path / "*.csv")])
    assert [Path(f.display).name for f in found] == ["a.csv", "b.csv"]
    missing = spark_engine.lake_inputs([str(tmp_path / "*.csv"), str(tmp_path / "none-*.parquet")])
    assert missing[-1].problem == "path does not exist"


def test_cli_report_ledger_and_masking_are_those_of_a_local_run(spark, cli, tmp_path):
    env = {"CLAIMS_AUDIT_MASK_KEY": "k" * 32}
    outs = {}
    for engine in ("local", "spark"):
        out = tmp_path / engine
        res = cli("run", "--out", out, "--run-date", RUN_DATE, "--mask-member-ids", "--engine", engine,
                  "--", SAMPLES, env=env)
        assert res.exit_code == 1, res.output
        assert "Traceback" not in res.output
        outs[engine] = out
    book = {e: o / f"claims-audit-{RUN_DATE}.xlsx" for e, o in outs.items()}
    for sheet in ("Findings", "Rejected"):
        assert sheet_rows(book["spark"], sheet) == sheet_rows(book["local"], sheet), sheet
    findings = sheet_rows(book["spark"], "Findings")
    assert findings and {r["status"] for r in findings} == {"new"}  # the ledger gave every finding its status
    members = {str(r["member_id"]) for r in findings}
    real = set(pl.read_csv(SAMPLES / "claims_2026-11-20.csv", infer_schema=False).get_column("member_id"))
    assert not members & real, "masked member ids"
    assert (outs["spark"] / "claims-audit-ledger.sqlite").exists()


def test_a_job_that_cannot_finish_exits_non_zero_and_writes_no_report(spark, cli, tmp_path):
    """The job is cancelled while it runs (as when the cluster kills it): exit 4, nothing written."""
    _hostile_corpus(tmp_path / "night")
    stop = threading.Event()

    def cancel_once_running() -> None:
        tracker = spark.sparkContext.statusTracker()
        while not stop.is_set():
            if tracker.getActiveJobsIds():
                spark.sparkContext.cancelAllJobs()
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=cancel_once_running, daemon=True)
    watcher.start()
    out = tmp_path / "out"
    try:
        res = cli("run", "--out", out, "--run-date", RUN_DATE, "--no-ledger", "--engine", "spark", "--",
                  tmp_path / "night")
    finally:
        stop.set()
        watcher.join(5)
    assert res.exit_code == 4, res.output
    assert "Spark job could not finish" in res.output and "no report was written" in res.output
    assert not list(out.glob("claims-audit-*")) if out.exists() else True


def test_without_pyspark_the_spark_engine_exits_2_saying_how_to_install_it(cli, tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "pyspark" or m.startswith("pyspark.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark raises ImportError
    res = cli("run", "--out", tmp_path / "out", "--no-ledger", "--engine", "spark", "--", SAMPLES)
    assert res.exit_code == 2
    assert "pip install '.[spark]'" in res.output
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


@pytest.mark.parametrize("args,words", [
    (["--engine", "spark", "--history", "h"], "--history cannot be used with --engine spark"),
    (["--engine", "spark", "--records", "r"], "--records cannot be used with --engine spark"),
    (["--engine", "gpu"], "--engine must be local or spark"),
    (["--master", "local[2]"], "--master needs --engine spark"),
])
def test_options_the_spark_engine_cannot_take_exit_2(cli, tmp_path, args, words):
    res = cli("run", "--out", tmp_path / "out", *args, "--", SAMPLES)
    assert res.exit_code == 2, res.output
    assert words in res.output


def test_a_failing_task_names_only_the_exception_type(monkeypatch):
    """What a task raises reaches Spark's logs: never the message (it could quote a claim value)."""
    monkeypatch.delenv("CLAIMS_AUDIT_DEBUG", raising=False)

    @spark_engine._scrubbed
    def task(value):
        yield 1
        raise ValueError(f"could not parse {value!r}")

    with pytest.raises(RuntimeError) as caught:
        list(task("M0001-secret"))
    assert str(caught.value) == "claims-audit task failed (ValueError)"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.slow
def test_a_run_whose_workers_cannot_run_exits_4_without_a_report_and_quietly(tmp_path):
    """A real process whose Python workers get too little memory (Spark's own setting) to start: the job
    fails, the run exits 4 with one Error line, writes nothing, and Spark's console says only errors."""
    from conftest import run_subprocess

    out = tmp_path / "out"
    proc = run_subprocess("run", "--out", out, "--run-date", RUN_DATE, "--no-ledger", "--engine", "spark",
                          "--master", "local[1]", SAMPLES,
                          env={"PYSPARK_SUBMIT_ARGS": "--conf spark.executor.pyspark.memory=300m pyspark-shell"})
    assert proc.returncode == 4, proc.stderr[-2000:]
    assert proc.stderr.rstrip().splitlines()[-1].startswith("Error: the Spark job could not finish")
    assert not out.exists() or not list(out.glob("claims-audit-*"))
    logged = [ln for ln in proc.stderr.splitlines() if re.match(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d ", ln)]
    assert logged and all(" ERROR " in ln for ln in logged), "Spark's log is at error level"
    assert "Traceback" not in proc.stderr.split("Error: ")[-1]


def test_urls_are_read_through_sparks_own_file_systems(spark, tmp_path):
    """A file:// URL takes the path of s3a://, abfss:// or gs:// inputs: listed and read by Spark (its
    Hadoop configuration), then validated and audited by our code: the same findings as locally."""
    _hostile_corpus(tmp_path / "night")
    lake = tmp_path / "lake"
    sample.write(sample.generate(3_000, seed=5), lake / "year=2026" / "part-0.parquet")
    (lake / "_SUCCESS").write_bytes(b"")
    local = pipeline.run([tmp_path / "night", lake / "year=2026" / "part-0.parquet"], RUN)
    on_spark = spark_engine.run([f"file://{tmp_path / 'night'}", f"file://{lake}"], RUN)
    names = [Path(i.path).name for i in on_spark.inputs]
    assert names == [Path(i.path).name for i in local.inputs]
    assert all(i.path.startswith("file:") for i in on_spark.inputs)
    assert [(i.status, i.error, i.rows_read, i.rows_audited, i.rows_rejected) for i in on_spark.inputs] == [
        (i.status, i.error, i.rows_read, i.rows_audited, i.rows_rejected) for i in local.inputs]
    def as_paths(frame: pl.DataFrame) -> pl.DataFrame:  # file:/x/y (Hadoop's spelling) read as /x/y
        return frame.with_columns(pl.col(pl.String).str.replace_all(f"file:{tmp_path}", str(tmp_path), literal=True))

    assert as_paths(on_spark.findings).equals(local.findings)
    assert on_spark.findings.height > 10
    assert as_paths(on_spark.rejected).equals(local.rejected)
    assert [(Path(p).name, reason) for p, reason in on_spark.ignored] == [("_SUCCESS", "Spark/Hive bookkeeping or hidden file")]


@pytest.mark.parametrize("given,meant", [
    (Path("s3a://bucket/claims/2024"), "s3a://bucket/claims/2024"),  # as the command line hands it over
    ("abfss://c@acct.dfs.core.windows.net/x", "abfss://c@acct.dfs.core.windows.net/x"),
    (Path("file:///tmp/lake"), "file:/tmp/lake"),
])
def test_urls_survive_the_command_line(given, meant):
    assert spark_engine.url(str(given)) == meant


def test_rejected_cells_come_back_in_their_files_order_whatever_order_their_blobs_arrive(tmp_path, monkeypatch):
    """An executor ships a file's cells batch by batch, each cut into blobs; the driver puts them back in
    the order the file gave them even when the blobs arrive shuffled."""
    import random

    from claims_audit.rejected import RejectedCells
    from test_rejected import _cells

    monkeypatch.setattr(spark_engine, "ROWS_PER_BLOB", 7)
    cells = RejectedCells(tmp_path, held_bytes=2_000)
    for start in range(0, 120, 15):
        cells.add(_cells(start, 15).with_columns(pl.lit(start % 2, pl.Int64).alias("source_row")))  # ties
    expected = cells.frame()
    blobs = list(spark_engine._numbered_cells(0, cells))
    cells.close()
    assert len(blobs) > 10
    random.Random(5).shuffle(blobs)
    frames = [spark_engine._frame(blob.column(3)[0].as_py()) for blob in blobs]
    assert spark_engine._cells_in_order(frames, 120, "a.csv").equals(expected)
    from claims_audit.errors import ReconciliationError
    with pytest.raises(ReconciliationError, match=f"{120 - frames[0].height} of the 120 rejected cells of a.csv"):
        spark_engine._cells_in_order(frames[1:], 120, "a.csv")  # a blob lost on the way
