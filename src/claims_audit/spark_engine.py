"""The audit on Apache Spark (``claims-audit run ... --engine spark``): the same reading, validation and
rule code as a single-machine run, spread over a cluster.

How the work splits (one Spark job, one shuffle):

1. **Read and validate, one task per input file.** Each task runs the pipeline's own per-input step
   (:func:`claims_audit.pipeline._audit_input`: ``readers.read_chunks`` + ``validation.validate``, the same
   retries and file rejections) and keeps the lines a rule reads (``read_by_edits``, as
   :mod:`claims_audit.retained` does). Each kept line gets a *provisional* key (file index x 2**40 +
   position among that file's audited lines): it sorts exactly as the run's ``line_key`` will, which is
   only known once every file's count is. Lines travel as Arrow IPC blobs cut by member bucket
   (:mod:`claims_audit.buckets`); the file's summary and rejected cells travel beside them.
2. **One shuffle by member bucket**, then each bucket (``groupBy(bucket).applyInArrow``) is handed to
   :func:`claims_audit.pipeline.apply_rules` - the very polars code of a local run. Every rule is
   member-local (each claim edit compares lines of one member; the documentation and provider rules read
   one line), so a bucket holding all of its members' lines gives those lines the findings a whole-run
   evaluation gives. A bucket returns its rule output, the documentation classification and the lines
   the findings name.
3. **The driver** turns provisional keys into line keys, joins and orders the findings with
   :func:`claims_audit.findings.assemble` (same ids, same order) and builds the
   :class:`~claims_audit.pipeline.AuditResult` the report and ledger code take as from a local run; every
   input reconciles and the shuffle is checked to have delivered every kept line.

Not with Spark: the claims history (``--history``; a lookback audit over the lake already holds the
earlier nights) and medical-record folders (``--records``, files on the driver's disk).

PHI: nothing here logs; a task that fails raises an error naming only the exception's type, so no value
can reach Spark's logs through our code.
"""

from __future__ import annotations

import datetime as dt
import glob
import io
import math
import os
import pickle
import re
import sys
import tempfile
from urllib.parse import unquote
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from . import __version__, pipeline
from .buckets import member_bucket
from .errors import ClaimsAuditError, ExitCode, NoInputError, ReconciliationError, UsageError
from .findings import assemble
from .readers import COMPRESSED, DEFAULT_CHUNK_BYTES, SUPPORTED, SUPPORTED_TEXT, InputFile, ReadOptions, discover
from .rejected import RejectedCells
from .ruleconfig import DEFAULT, RuleConfig
from .rules import OUTPUT_SCHEMA, rules_version
from .schema import Layout, load_layout, load_mapping, validate_mapping

INSTALL_HINT = "--engine spark needs PySpark: pip install '.[spark]'"
DEFAULT_MASTER = "local[*]"
FILE_SHIFT = 40  # provisional key = file index << 40 | position in the file (files up to 2**40 lines)
BUCKET_INPUT_BYTES = 128 << 20  # about this much input per member bucket (a bucket is one Python worker's work)
ROWS_PER_BLOB = 200_000
FILE_TASKS_PER_CORE = 4  # rows of one Arrow blob travelling through Spark
BLOB_SCHEMA = "bucket int, file int, kind string, payload binary"
LOG_CONFIG = Path(__file__).with_name("spark-log4j2.properties")
# what a Spark started here defaults to (Spark's own configuration wins): no web UI, no console progress
# bar, the driver's log at error level
QUIET = {"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false",
         "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{LOG_CONFIG}"}
SUMMARY_BUCKET = -1  # summaries and rejected cells: passed through to the driver, no rules


class SparkJobFailed(ClaimsAuditError):
    """The Spark job could not finish (after Spark's own task retries): no report is written."""

    exit_code = ExitCode.INTERNAL


@dataclass(frozen=True)
class Job:
    """What every task needs (pickled to the executors): the inputs, how to read them, the rules' config."""

    inputs: tuple[InputFile, ...]
    layout: Layout
    mapping: dict[str, str]
    config: RuleConfig
    chunk_bytes: int | None
    buckets: int
    remote: dict[str, int] = field(default_factory=dict)  # file URL read through Spark -> input index
    remote_empty: frozenset[int] = frozenset()  # empty files listed through Spark (Spark reads no row of them)


# --- inputs ------------------------------------------------------------------------------------------------

BOOKKEEPING = ("_", ".")  # _SUCCESS, _committed_*, .crc files Spark and Hive write beside the data


def lake_inputs(paths: list[str | Path]) -> list[InputFile]:
    """The inputs of a lake run: as a local run finds them (:func:`claims_audit.readers.discover`), plus
    glob patterns (``'lake/2024-*.parquet'``, expanded in name order) and hive-partitioned datasets (a
    folder with ``key=value`` subfolders: every data file below them, in path order; Spark's bookkeeping
    files are listed as ignored, other subfolders as not searched)."""
    given: list[str | Path] = []
    extra: list[InputFile] = []
    for raw in paths:
        text = str(raw)
        if not Path(text).exists() and any(c in text for c in "*?["):
            given.extend(sorted(glob.glob(text)) or [raw])  # no match: reported as a missing path
        elif Path(text).is_dir() and _partition_folders(Path(text)):
            files, ignored = _dataset_files(Path(text), text)
            given.extend(files)
            extra.extend(ignored)
        else:
            given.append(raw)
    return discover(given) + extra


def _partition_folders(folder: Path) -> list[Path]:
    try:
        return sorted((p for p in folder.iterdir() if p.is_dir() and "=" in p.name and not p.name.startswith(BOOKKEEPING)),
                      key=lambda p: p.name)
    except OSError:
        return []


def _dataset_files(folder: Path, display: str) -> tuple[list[str], list[InputFile]]:
    """Every data file of a hive-partitioned dataset, and what was deliberately left out."""
    files: list[str] = []
    ignored: list[InputFile] = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        shown = str(Path(display) / entry.name)
        if entry.name.startswith(BOOKKEEPING):
            ignored.append(InputFile(entry, shown, ignored="Spark/Hive bookkeeping file of a dataset"))
        elif entry.is_dir() and "=" in entry.name:
            sub_files, sub_ignored = _dataset_files(entry, shown)
            files.extend(sub_files)
            ignored.extend(sub_ignored)
        elif entry.is_dir():
            ignored.append(InputFile(entry, shown, ignored="subfolder that is not a key=value partition"))
        else:
            files.append(shown)
    return files, ignored


# s3a://, abfss://, gs://, hdfs://, file://: Spark's file systems (a command-line PATH arrives as a Path,
# which folds the // into one: s3a:/bucket/key)
URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):/")


def url(text: str) -> str:
    """A URL as given, with the // a Path made of it dropped put back (file:/x is a URL already)."""
    match = URL.match(text)
    if match and match.group(1).lower() != "file" and not text.startswith(match.group(0) + "/"):
        return f"{match.group(0)}/{text[len(match.group(0)):]}"
    return text


def _remote_inputs(spark: Any, urls: list[str]) -> tuple[list[InputFile], dict[str, int]]:
    """The files under each URL, listed through Spark's own file systems (its Hadoop configuration:
    credentials, endpoints) in path order, and their sizes. Spark/Hive bookkeeping files are ignored;
    other files are audited or rejected by type as a local folder's are."""
    found: list[InputFile] = []
    sizes: dict[str, int] = {}
    for url in urls:
        try:
            rows = _listing(spark, url)
        except Exception as exc:
            found.append(InputFile(Path(url.rstrip("/").rsplit("/", 1)[-1] or "input"), url,
                                   problem=f"path cannot be listed through Spark ({type(exc).__name__})"))
            continue
        root, listed = rows
        for path, length in sorted(listed):
            found.append(_remote_file(path, path[len(root):] if path.startswith(root) else path.rsplit("/", 1)[-1]))
            sizes[path] = int(length)
    return found, sizes


def _listing(spark: Any, url: str) -> tuple[str, list[tuple[str, int]]]:
    """The URL as Hadoop spells it, and (path, bytes) of every file at or under it, through Hadoop's
    FileSystem with Spark's configuration (Spark's own file listing would leave out empty and hidden
    files without a word)."""
    path = spark._jvm.org.apache.hadoop.fs.Path(url)
    fs = path.getFileSystem(spark._jsc.hadoopConfiguration())
    status = fs.getFileStatus(path)
    root = unquote(status.getPath().toString())
    if status.isFile():
        return root.rsplit("/", 1)[0], [(root, int(status.getLen()))]
    files, found = fs.listFiles(path, True), []
    while files.hasNext():
        status = files.next()
        found.append((unquote(status.getPath().toString()), int(status.getLen())))
    return root, found


def _remote_file(path: str, below: str) -> InputFile:
    """One listed file; `below`: its path under the URL given (where bookkeeping names are looked for)."""
    name = path.rsplit("/", 1)[-1]
    suffix = Path(name).suffix.lower()
    if any(part.startswith(BOOKKEEPING) for part in below.split("/") if part):
        return InputFile(Path(name), path, ignored="Spark/Hive bookkeeping or hidden file")
    if suffix in COMPRESSED:
        return InputFile(Path(name), path, problem=f"compressed file ('{suffix}'): decompress it first "
                                                   f"(supported: {SUPPORTED_TEXT})")
    if suffix not in SUPPORTED:
        return InputFile(Path(name), path, problem=f"unsupported file type '{suffix or '(none)'}' "
                                                   f"(supported: {SUPPORTED_TEXT})")
    return InputFile(Path(name), path)


# --- the Spark session -------------------------------------------------------------------------------------

def session(master: str | None) -> tuple[Any, bool]:
    """The active Spark session, or a new one on `master` (default local[*]); True when created here (and
    to be stopped by the run). Spark's own configuration (spark-defaults.conf, SPARK_CONF_DIR,
    PYSPARK_SUBMIT_ARGS) applies; the web UI is off unless that configuration turns it on."""
    try:
        from pyspark import SparkConf
        from pyspark.sql import SparkSession
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    master = master or DEFAULT_MASTER
    conf = SparkConf().setAppName("claims-audit").setMaster(master)
    for key, value in QUIET.items():
        if not conf.contains(key):
            conf.set(key, value)
    if master.startswith("local") and not os.environ.get("PYSPARK_PYTHON") and not conf.contains("spark.pyspark.python"):
        os.environ["PYSPARK_PYTHON"] = sys.executable  # local workers import this very installation
    try:
        spark = SparkSession.builder.config(conf=conf).getOrCreate()
    except Exception as exc:
        raise UsageError(f"Spark could not start on --master {master} ({type(exc).__name__}): check the master "
                         "URL and that Java 17 is installed (java on PATH or JAVA_HOME)") from None
    spark.sparkContext.setLogLevel(os.environ.get("CLAIMS_AUDIT_SPARK_LOG_LEVEL", "ERROR"))
    return spark, True


def check_options(*, records: Any = None, history: Any = None) -> None:
    """UsageError (exit 2) for what a Spark run cannot do, before any work starts."""
    if not available():
        raise UsageError(INSTALL_HINT)
    if history is not None:
        raise UsageError("--history cannot be used with --engine spark: a lookback audit on Spark reads the "
                         "earlier claims from the lake itself (give them as inputs); use --no-history or no "
                         "--history")
    if records is not None:
        raise UsageError("--records cannot be used with --engine spark (the records folder is read on one "
                         "machine); run the audit without --engine spark to read medical records")


def available() -> bool:
    """Whether PySpark can be imported here."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return True


# --- the run -----------------------------------------------------------------------------------------------

def run(paths: list[str | Path], run_date: dt.date | None = None, *, schema_path: str | Path | None = None,
        mapping_path: str | Path | None = None, rule_config: RuleConfig = DEFAULT,
        progress: pipeline.Progress | None = None, chunk_bytes: int | None = DEFAULT_CHUNK_BYTES,
        master: str | None = None, buckets: int | None = None, records: Any = None, history: Any = None,
        work_dir: Any = None, retain_bytes: Any = None, rejected_bytes: int | None = None
        ) -> pipeline.AuditResult:
    """Audit every input on Spark; the result is that of :func:`claims_audit.pipeline.run` on the same
    inputs. Takes pipeline.run's arguments; `retain_bytes` concerns one machine's memory and does not apply,
    `work_dir` (the output folder) takes the driver's rejected cells past `rejected_bytes` held. Configuration is checked before Spark starts."""
    check_options(records=records, history=history)
    layout = load_layout(schema_path)
    mapping = load_mapping(mapping_path)
    validate_mapping(mapping, layout)
    local = [p for p in paths if not URL.match(str(p))]
    found = lake_inputs(local) if local else []
    spark, created = session(master)
    try:
        remote, sizes = _remote_inputs(spark, [url(str(p)) for p in paths if URL.match(str(p))])
        found += remote
        if not any(f.problem is None and f.ignored is None for f in found):
            raise NoInputError("no input could be found (" + "; ".join(
                f"{f.display}: {f.problem or f.ignored}" for f in found) + ")")
        inputs = tuple(i for i in found if i.ignored is None)
        if progress:
            progress(pipeline.ProgressEvent("reading and rules on Spark"))
        urls = {i.display: n for n, i in enumerate(inputs) if sizes.get(i.display) and i.problem is None}
        count = buckets or _bucket_count(inputs, sizes, spark.sparkContext.defaultParallelism)
        empty = frozenset(n for n, i in enumerate(inputs) if sizes.get(i.display) == 0 and i.problem is None)
        job = Job(inputs, layout, mapping, rule_config, chunk_bytes, count, urls, empty)
        blobs = _collect(spark, job)
    finally:
        if created:
            spark.stop()
    return _result(job, found, blobs, run_date or dt.date.today(), Path(work_dir) if work_dir is not None else None,
                   rejected_bytes)


def _bucket_count(inputs: tuple[InputFile, ...], sizes: dict[str, int], parallelism: int) -> int:
    """Enough member buckets to keep every core busy, and a bucket small enough for one Python worker."""
    size = 0
    for i in inputs:
        try:
            size += sizes[i.display] if i.display in sizes else i.path.stat().st_size
        except OSError:
            pass
    return max(2 * parallelism, math.ceil(size / BUCKET_INPUT_BYTES), 1)


def _collect(spark: Any, job: Job) -> list[tuple[int, int, str, bytes]]:
    """Run the one Spark job and bring its blobs to the driver: (bucket, file, kind, payload)."""
    # one file per task up to a few tasks per core; past that each task reads several files in turn
    local = [n for n in range(len(job.inputs)) if n not in job.remote.values()]
    tasks = max(min(len(local), FILE_TASKS_PER_CORE * spark.sparkContext.defaultParallelism), 1)
    files = spark.createDataFrame([(n,) for n in local], "id long").repartition(tasks)
    read = files.mapInArrow(lambda batches: _read_task(job, batches), BLOB_SCHEMA)
    if job.remote:  # files on Spark's file systems arrive as their bytes, one file a row
        content = spark.read.format("binaryFile").load(list(job.remote)).select("path", "content")
        read = read.unionByName(content.mapInArrow(lambda batches: _remote_task(job, batches), BLOB_SCHEMA))
    grouped = read.repartition(job.buckets + 1, "bucket").groupBy("bucket").applyInArrow(
        lambda table: _bucket_task(job, table), BLOB_SCHEMA)
    try:
        table = grouped.toArrow()
    except Exception as exc:  # a task failed past Spark's retries, an executor was lost, the job was killed
        raise SparkJobFailed(f"the Spark job could not finish ({type(exc).__name__}); no report was written. "
                             "The Spark logs name the failed stage") from None
    columns = [table.column(c).to_pylist() for c in ("bucket", "file", "kind", "payload")]
    return list(zip(*columns))


# --- on the executors -------------------------------------------------------------------------------------

class _KeptLines:
    """Stands in for RetainedLines on an executor: the kept lines of one input with provisional keys,
    forgotten by `rollback` when the input is read again or rejected (the pipeline's per-input protocol)."""

    def __init__(self, file_index: int, keep: pl.Expr):
        self.base = file_index << FILE_SHIFT
        self.keep = keep
        self.audited = 0  # validated lines of the file so far (kept or not)
        self.pieces: list[pl.DataFrame] = []

    def mark(self) -> tuple[int, int]:
        return len(self.pieces), self.audited

    def rollback(self, mark: tuple[int, int]) -> None:
        del self.pieces[mark[0]:]
        self.audited = mark[1]

    def add(self, lines: pl.DataFrame) -> None:
        keyed = lines.select((pl.int_range(pl.len(), dtype=pl.Int64) + (self.base + self.audited)).alias("line_key"),
                             pl.all())
        self.audited += lines.height
        kept = keyed.filter(self.keep)
        if kept.height:
            self.pieces.append(kept)


def _scrubbed(task):  # type: ignore[no-untyped-def]
    """A task that fails says only the exception's type: its message could quote a claim value, and
    Spark writes task errors to its logs."""
    def guarded(*args):  # type: ignore[no-untyped-def]
        try:
            yield from task(*args)
        except Exception as exc:
            if os.environ.get("CLAIMS_AUDIT_DEBUG"):
                raise
            raise RuntimeError(f"claims-audit task failed ({type(exc).__name__})") from None
    return guarded


@_scrubbed
def _read_task(job: Job, batches: Iterator[Any]) -> Iterator[Any]:
    """mapInArrow over file indexes: read and validate each file as a local run does."""
    from .rules.claim_edits.context import EditContext, read_by_edits
    from . import ruledata

    keep = read_by_edits(EditContext(ruledata.load(), job.config))
    for batch in batches:
        for index in batch.column(0).to_pylist():
            inp = job.inputs[int(index)]
            if int(index) in job.remote_empty:  # an empty file on Spark's file systems: read as one
                with tempfile.TemporaryDirectory(prefix="claims-audit-spark-") as folder:
                    (Path(folder) / inp.path.name).write_bytes(b"")
                    yield from _read_one(job, int(index), keep, InputFile(Path(folder) / inp.path.name, inp.display))
            else:
                yield from _read_one(job, int(index), keep)


@_scrubbed
def _remote_task(job: Job, batches: Iterator[Any]) -> Iterator[Any]:
    """mapInArrow over (path, content) rows of files Spark read: each written to a scratch file (named as
    the original, whose suffix tells the reader its format) and read as a local file is."""
    from .rules.claim_edits.context import EditContext, read_by_edits
    from . import ruledata

    keep = read_by_edits(EditContext(ruledata.load(), job.config))
    for batch in batches:
        for path, content in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist()):
            index = job.remote[unquote(path)]
            with tempfile.TemporaryDirectory(prefix="claims-audit-spark-") as folder:
                copy = Path(folder) / job.inputs[index].path.name
                copy.write_bytes(content)
                del content
                yield from _read_one(job, index, keep, InputFile(copy, job.inputs[index].display))


def _read_one(job: Job, index: int, keep: pl.Expr, inp: InputFile | None = None) -> Iterator[Any]:
    inp = inp or job.inputs[index]
    kept = _KeptLines(index, keep)
    with tempfile.TemporaryDirectory(prefix="claims-audit-spark-") as scratch:
        options = ReadOptions(job.chunk_bytes, scratch=Path(scratch))
        cells = RejectedCells(Path(scratch))
        summary = pipeline._audit_input(inp, job.layout, job.mapping, kept, cells, options,
                                        pipeline._Reading([inp], None))
        yield from _numbered_cells(index, cells)  # shipped as read, before the folder goes
        cell_count = cells.height
        cells.close()
    for piece in kept.pieces:
        cut = piece.with_columns(member_bucket(job.buckets))
        for (bucket,), part in cut.partition_by("member_bucket", as_dict=True, maintain_order=True).items():
            yield from _blobs(int(bucket), index, "lines", part.drop("member_bucket"))
    counts = {"summary": summary, "kept": sum(p.height for p in kept.pieces), "audited": kept.audited,
              "cells": cell_count}
    yield _batch(SUMMARY_BUCKET, index, "summary", pickle.dumps(counts))


CELL_ORDER = "__cell"  # a rejected cell's position among its file's: the driver puts them back in order


def _numbered_cells(index: int, cells: RejectedCells) -> Iterator[Any]:
    """The file's rejected cells as blobs, each cell numbered (blobs may reach the driver in any order)."""
    position = 0
    for batch in cells.batches():
        numbered = batch.with_columns(pl.int_range(position, position + batch.height, dtype=pl.Int64)
                                      .alias(CELL_ORDER))
        yield from _blobs(SUMMARY_BUCKET, index, "rejected", numbered)
        position += batch.height


def _cells_in_order(frames: list[pl.DataFrame], sent: int, name: str) -> pl.DataFrame:
    """One file's rejected cells as its executor numbered them, whatever order their blobs came in; all
    `sent` of them, or ReconciliationError (a lost blob is never a shorter Rejected sheet)."""
    received = sum(f.height for f in frames)
    if received != sent:
        raise ReconciliationError(f"internal error: {received} of the {sent} rejected cells of {name} "
                                  "reached the driver")
    return pl.concat(frames).sort(CELL_ORDER).drop(CELL_ORDER)


def _batch(bucket: int, file: int, kind: str, payload: bytes) -> Any:
    import pyarrow as pa

    return pa.RecordBatch.from_pydict(
        {"bucket": [bucket], "file": [file], "kind": [kind], "payload": [payload]},
        schema=pa.schema([("bucket", pa.int32()), ("file", pa.int32()), ("kind", pa.string()),
                          ("payload", pa.binary())]))


def _blobs(bucket: int, file: int, kind: str, frame: pl.DataFrame) -> Iterator[Any]:
    """A frame as one or more Arrow IPC blobs (each a one-row batch, well under Arrow's 2 GB cell limit)."""
    for start in range(0, max(frame.height, 1), ROWS_PER_BLOB):
        buffer = io.BytesIO()
        frame.slice(start, ROWS_PER_BLOB).write_ipc(buffer, compression="lz4")
        yield _batch(bucket, file, kind, buffer.getvalue())


def _frame(payload: bytes) -> pl.DataFrame:
    return pl.read_ipc(io.BytesIO(payload))


def _bucket_task(job: Job, table: Any) -> Any:
    """applyInArrow over one member bucket: the rules on its lines (summaries pass straight through)."""
    import pyarrow as pa

    try:
        batches = list(_evaluate_bucket(job, table))
    except Exception as exc:
        if os.environ.get("CLAIMS_AUDIT_DEBUG"):
            raise
        raise RuntimeError(f"claims-audit task failed ({type(exc).__name__})") from None
    return pa.Table.from_batches(batches) if batches else table.slice(0, 0)


def _evaluate_bucket(job: Job, table: Any) -> Iterator[Any]:
    bucket = table.column("bucket")[0].as_py()
    if bucket == SUMMARY_BUCKET:
        yield from table.to_batches()
        return
    pieces = [_frame(p) for p in table.column("payload").to_pylist()]
    lines = pl.concat(pieces, how="vertical_relaxed").sort("line_key")
    received = lines.height
    lines = _retained(lines, job.config)
    doc, output = pipeline.apply_rules(lines, job.config)
    named = pl.concat([output.get_column("line_key"), output.get_column("related_line_key")]).drop_nulls().unique()
    yield _batch(bucket, -1, "counts", pickle.dumps({"received": received, "lines_34421": doc.height}))
    if output.height:
        yield from _blobs(bucket, -1, "output", output)
        yield from _blobs(bucket, -1, "doc", doc.filter(pl.col("line_key").is_in(named.implode())))
        yield from _blobs(bucket, -1, "lines", lines.filter(pl.col("line_key").is_in(named.implode())))


def _retained(lines: pl.DataFrame, config: RuleConfig) -> pl.DataFrame:
    """The lines a local run hands the rules (:meth:`claims_audit.retained.RetainedLines.lines`): audited
    and family lines, and the other kept lines of members with an audited line - all of whom are in this
    bucket."""
    from . import ruledata
    from .rules.claim_edits.context import EditContext

    ctx = EditContext(ruledata.load(), config)
    members = lines.filter(pl.col("procedure_code").is_in(ctx.audited)).get_column("member_id").unique()
    return lines.filter(pl.col("procedure_code").is_in(ctx.family) | pl.col("member_id").is_in(members.implode()))


# --- on the driver ----------------------------------------------------------------------------------------

def _result(job: Job, found: list[InputFile], blobs: list[tuple[int, int, str, bytes]], run_date: dt.date,
            work_dir: Path | None = None, rejected_bytes: int | None = None) -> pipeline.AuditResult:
    """The blobs of the job as the AuditResult of a local run (its rejected cells past `rejected_bytes`
    held, in a scratch folder of `work_dir`, the output folder)."""
    per_file: dict[int, dict[str, Any]] = {}
    rejected: dict[int, list[pl.DataFrame]] = {}
    parts: dict[str, list[pl.DataFrame]] = {"output": [], "doc": [], "lines": []}
    received = lines_34421 = 0
    for bucket, file, kind, payload in blobs:
        if kind == "summary":
            per_file[file] = pickle.loads(payload)
        elif kind == "rejected":
            rejected.setdefault(file, []).append(_frame(payload))
        elif kind == "counts":
            counts = pickle.loads(payload)
            received += counts["received"]
            lines_34421 += counts["lines_34421"]
        else:
            parts[kind].append(_frame(payload))
    if sorted(per_file) != list(range(len(job.inputs))):
        raise ReconciliationError(f"internal error: {len(job.inputs) - len(per_file)} input(s) gave no summary")
    kept = sum(c["kept"] for c in per_file.values())
    if kept != received:
        raise ReconciliationError(f"internal error: {kept} lines were read for the rules but {received} reached them")
    offsets = _offsets([per_file[i]["audited"] for i in range(len(job.inputs))])
    output = _rekeyed(_concat(parts["output"], OUTPUT_SCHEMA), offsets, "line_key", "related_line_key")
    output = output.sort("line_key", maintain_order=True)  # each line's rows stay in the rules' order
    lines = _rekeyed(_concat(parts["lines"]), offsets, "line_key").sort("line_key") if parts["lines"] else None
    doc = _rekeyed(_concat(parts["doc"]), offsets, "line_key") if parts["doc"] else None
    if lines is None:
        lines = pipeline._no_lines(job.layout)
    findings = assemble(lines, output, doc)
    summaries = [per_file[i]["summary"] for i in range(len(job.inputs))]
    cells = RejectedCells(work_dir, held_bytes=rejected_bytes)
    with cells.closed_on_error():  # a failed spill or reconciliation leaves no file of cells in --out
        for i in range(len(job.inputs)):
            frames = rejected.pop(i, [])
            if frames or per_file[i].get("cells", 0):
                cells.add(_cells_in_order(frames, per_file[i].get("cells", 0), job.inputs[i].display))
        result = pipeline.AuditResult(
            run_date=run_date, tool_version=__version__, rules_version=rules_version(),
            layout=f"{job.layout.name} v{job.layout.version}", inputs=summaries, findings=findings,
            rejected_cells=cells,
            lines_34421=lines_34421, rule_config=job.config,
            ignored=[(i.display, i.ignored) for i in found if i.ignored is not None],
            extra={"engine": "spark", "member_buckets": job.buckets})
        pipeline.reconcile(result, sum(c["audited"] for c in per_file.values()))
    return result


def _offsets(audited: list[int]) -> dict[int, int]:
    """file index -> the line_key of its first audited line (the lines of earlier files come first)."""
    offsets, total = {}, 0
    for index, count in enumerate(audited):
        offsets[index] = total
        total += count
    return offsets


def _concat(frames: list[pl.DataFrame], schema: dict | None = None) -> pl.DataFrame:
    if not frames:
        return pl.DataFrame(schema=schema)
    return pl.concat(frames, how="vertical_relaxed")


def _rekeyed(frame: pl.DataFrame, offsets: dict[int, int], *columns: str) -> pl.DataFrame:
    """Provisional keys (file << 40 | position) as the run's line keys (the file's offset + position)."""
    span = 1 << FILE_SHIFT
    mapping = pl.DataFrame({"_file": list(offsets), "_offset": list(offsets.values())},
                           schema={"_file": pl.Int64, "_offset": pl.Int64})

    def key(column: str) -> pl.Expr:
        file = pl.col(column) // span
        offset = file.replace_strict(mapping.get_column("_file"), mapping.get_column("_offset"),
                                     return_dtype=pl.Int64)
        return (offset + pl.col(column) % span).alias(column)

    return frame.with_columns([key(c) for c in columns])
