"""One audit run: read every input, validate, apply the rules over the whole run, reconcile the counts.

The run never stops on a bad row or a bad file: a file that cannot be read is recorded as rejected with
its reason and the other files are audited. Before anything is written, every input must reconcile
(rows read = rows audited + rows rejected); a mismatch is an internal error, never a report.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from . import __version__, documentation, ruledata
from .errors import ExitCode, FileRejected, ReconciliationError, UsageError
from .findings import finding_rows, ordered, spilled
from .commit import scratch_folder
from .rejected import REJECTED_SCHEMA, RejectedCells
from .readers import (DEFAULT_CHUNK_BYTES, ROW, InputFile, RawTable, ReadAgain, ReadOptions, discover, read_ahead,
                      read_chunks, sha256)
from .retained import DEFAULT_BUDGET_BYTES, PART_SUFFIX, RetainedLines
from .ruleconfig import DEFAULT, RuleConfig
from .rules import OUTPUT_SCHEMA, catalogue, registry, rules_version
from .rules.inputs import rule_inputs
from .schema import Layout, load_layout, load_mapping, validate_mapping
from .validation import FILE_REJECTED, IGNORED_COLUMNS, IGNORED_NOTE, Validated, validate

Progress = Callable[["ProgressEvent"], None]


@dataclass
class InputSummary:
    """What happened to one input; mirrors the manifest's `inputs` entries."""

    path: str
    sha256: str | None = None
    rows_read: int = 0
    rows_audited: int = 0
    rows_rejected: int = 0
    status: str = "ok"  # ok | partial | rejected
    error: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    unknown_columns: list[str] = field(default_factory=list)
    blank_lines: int = 0
    values_ignored: dict[str, int] = field(default_factory=dict)  # bad optional cells of audited rows


@dataclass
class AuditResult:
    run_date: dt.date
    tool_version: str
    rules_version: str
    layout: str
    inputs: list[InputSummary]
    findings: pl.DataFrame
    rejected_cells: RejectedCells  # read batch by batch; they may be in files: close() removes those
    lines_34421: int
    rule_config: RuleConfig = DEFAULT
    extra: dict[str, Any] = field(default_factory=dict)
    records: Any = None  # records.Records when the run read a --records folder
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (path, reason) deliberately not audited
    history: Any = None  # history.Night when the run consulted the claims history

    @property
    def rejected(self) -> pl.DataFrame:
        """Every rejected cell in one frame, in memory (the report reads them batch by batch instead)."""
        return self.rejected_cells.frame()

    def close(self) -> None:
        """Remove the files the rejected cells went to (once the report is written)."""
        self.rejected_cells.close()

    @property
    def totals(self) -> dict[str, int]:
        return {
            "rows_read": sum(i.rows_read for i in self.inputs),
            "rows_audited": sum(i.rows_audited for i in self.inputs),
            "rows_rejected": sum(i.rows_rejected for i in self.inputs),
            "lines_34421": self.lines_34421,
            "findings": self.findings.height,
        }

    @property
    def findings_by_rule(self) -> dict[str, int]:
        """Findings per rule: every catalogue rule (0 when silent) in catalogue order, then any other."""
        counts = dict(self.findings.group_by("rule_id").len().iter_rows()) if self.findings.height else {}
        known = {r.id: int(counts.get(r.id, 0)) for r in catalogue()}
        return known | {k: int(v) for k, v in counts.items() if k not in known}

    @property
    def exit_code(self) -> ExitCode:
        clean = all(i.status == "ok" for i in self.inputs)
        return ExitCode.OK if clean else ExitCode.REJECTED


CHUNK_ENV = "CLAIMS_AUDIT_CHUNK_BYTES"  # the piece size in bytes, overriding the default (tuning, tests)


def memory_settings(memory_limit: int | None = None) -> tuple[int, int, int | None]:
    """(piece size, bytes of kept lines held in memory, bytes of rejected cells held in memory or None
    for rejected.DEFAULT_HELD_BYTES) for a memory limit in bytes (None: the defaults, which keep a sample
    extract of 50M lines under 3 GB). A piece costs about 12 times its size while it is parsed and
    validated, and the next one, parsed meanwhile (readers.read_ahead), about 3 times; the kept lines
    about as much as their budget; the rejected cells a tenth of the kept lines' budget, as by default
    (64 MiB of 640). ``CLAIMS_AUDIT_CHUNK_BYTES`` sets the piece size itself."""
    chunk, budget, cells = DEFAULT_CHUNK_BYTES, DEFAULT_BUDGET_BYTES, None
    if memory_limit is not None:
        chunk = min(max(memory_limit // 40, 1 << 20), 256 << 20)
        budget = max(memory_limit // 6, 16 << 20)
        cells = max(budget // 10, 4 << 20)
    env = os.environ.get(CHUNK_ENV, "").strip()
    if env:
        try:
            chunk = int(env)
        except ValueError:
            raise UsageError(f"{CHUNK_ENV} must be a number of bytes, got '{env}'") from None
        if chunk < 1:
            raise UsageError(f"{CHUNK_ENV} must be at least 1")
    return chunk, budget, cells


@dataclass(frozen=True)
class ProgressEvent:
    """Where a run is, for a live display: the stage, the file being read and how far, the whole run."""

    stage: str  # reading | medical records | rules | ledger and history | report
    file: str | None = None
    file_done: int = 0  # bytes of the current file read
    file_total: int = 0
    run_done: int = 0  # bytes of every input read
    run_total: int = 0
    rows: int = 0  # rows read so far in the run
    group: int = 0  # the rules stage of a large run: the group of members being audited (1-based)...
    groups: int = 0  # ...of this many (0: the stage has no steps)


def run(paths: list[str | Path], run_date: dt.date | None = None, *, schema_path: str | Path | None = None,
        mapping_path: str | Path | None = None, rule_config: RuleConfig = DEFAULT,
        progress: Progress | None = None, records: str | Path | None = None,
        chunk_bytes: int | None = DEFAULT_CHUNK_BYTES, work_dir: str | Path | None = None,
        retain_bytes: int = DEFAULT_BUDGET_BYTES, history: Any = None, buckets: int | None = None,
        rejected_bytes: int | None = None) -> AuditResult:
    """Audit every input; raise only for usage/configuration problems or a failed reconciliation.

    Each input is read and validated in pieces of about `chunk_bytes` (None: whole), and only the lines
    the rules need are kept (:mod:`claims_audit.retained`), up to `retain_bytes` of them in memory, and
    the rejected cells up to `rejected_bytes` (None: rejected.DEFAULT_HELD_BYTES); temporary files go to a scratch folder in
    `work_dir` (the output folder; default: the system's temporary folder), removed when the run ends.
    ``records``: a folder of medical records read as the operative notes of the lines they name
    (claims_audit.records). ``history``: the claims history (:class:`claims_audit.history.History`)
    the history-aware edits read beside tonight's lines; the caller records tonight's lines in it.
    ``progress`` receives a :class:`ProgressEvent` as the run goes. ``buckets``: the groups of members the
    rules see one after another (default: as many as the wanted lines need once every input is read,
    :func:`claims_audit.retained.group_count`)."""
    run_date = run_date or dt.date.today()
    read = _read(paths, schema_path, mapping_path, rule_config, progress, chunk_bytes, work_dir, retain_bytes,
                 record_claims=_claims_named(records) if records is not None else None,
                 every_member=False,
                 more_members=_with_audited_history(history, run_date) if history is not None else None,
                 buckets=buckets, rejected_bytes=rejected_bytes)
    layout, found, summaries, rejected, store, reading, scratch = read
    with scratch, rejected.closed_on_error():
        if records is not None:
            from . import records as records_mod
            reading.stage("medical records")
            records = records_mod.load(records, store.claim_lines(), store.audited_lines())
        reading.stage("rules")
        findings, lines_34421, night = _rules_by_group(store, layout, rule_config, records, history,
                                                       summaries, run_date, reading)
        result = AuditResult(
            run_date=run_date, tool_version=__version__, rules_version=rules_version(),
            layout=f"{layout.name} v{layout.version}", inputs=summaries, findings=findings,
            rejected_cells=rejected, lines_34421=lines_34421, rule_config=rule_config, records=records,
            ignored=[(i.display, i.ignored) for i in found if i.ignored is not None], history=night)
        reconcile(result, store.line_keys)
    return result


def _rules_by_group(store: RetainedLines, layout: Layout, config: RuleConfig, records: Any, history: Any,
                    summaries: list[InputSummary], run_date: dt.date, reading: _Reading | None = None
                    ) -> tuple[pl.DataFrame, int, Any]:
    """Every rule over the run's retained lines, one group of members at a time (each group against the
    claims history when there is one): (the Findings frame in report order, the number of audited lines,
    the run's night against history or None). `reading` shows which group is audited, of how many."""
    groups, lines_34421, nights, known = [], 0, [], documentation.ClassifiedTexts()
    for lines in store.buckets(_no_lines(layout)):
        split = (store.bucket_count or 1) > 1  # known once the first group is made
        if reading is not None and split:
            reading.stage("rules", len(groups) + 1, store.bucket_count)
        night = against_history(history, lines, summaries, run_date, config) if history is not None else None
        doc, output = apply_rules(lines, config, records, night, known)
        rows = finding_rows(lines, output, doc, night.history_lines if night is not None else None)
        # a run of several groups: each group's findings wait in a file while the next groups are
        # audited, so that they do not add up in memory beside the groups' lines (findings.ordered)
        groups.append(spilled(rows, store.folder / f"findings-{len(groups):04d}{PART_SUFFIX}") if split else rows)
        del rows
        lines_34421 += doc.height
        if night is not None:  # what the run records and reports of it; its edit lines are done with
            night.edit_lines = night.edit_lines.clear()
            nights.append(night)
        del lines, doc, output
    if history is None:
        return ordered(groups), lines_34421, None
    from .history import merge_nights
    return ordered(groups), lines_34421, merge_nights(nights)


def _claims_named(folder: str | Path) -> set[str]:
    """The claim ids a medical-records folder can name (file stems, and their part before a _line)."""
    from .records import find_files

    try:
        files = find_files(Path(folder))
    except OSError:
        return set()
    names = set()
    for f in files:
        stem = f.path.name[: -len(f.path.suffix)] if f.path.suffix else f.path.name
        names.add(stem)
        names.add(stem.rpartition("_")[0])
    return names - {""}


class _Reading:
    """Progress of the reading stage: bytes of the current file and of the whole run."""

    def __init__(self, inputs: list[InputFile], progress: Progress | None):
        self.progress = progress
        self.sizes = {i.display: _size(i.path) for i in inputs}
        self.total = sum(self.sizes.values())
        self.before = 0  # bytes of the inputs already read
        self.rows = 0

    def file(self, inp: InputFile, fraction: float, rows: int) -> None:
        if self.progress is None:
            return
        size = self.sizes.get(inp.display, 0)
        done = int(size * fraction)
        self.progress(ProgressEvent("reading", inp.display, done, size, self.before + done, self.total,
                                    self.rows + rows))

    def done(self, inp: InputFile, rows: int) -> None:
        self.before += self.sizes.get(inp.display, 0)
        self.rows += rows

    def stage(self, name: str, group: int = 0, groups: int = 0) -> None:
        if self.progress is not None:
            self.progress(ProgressEvent(name, None, 0, 0, self.total, self.total, self.rows, group, groups))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


@dataclass
class _Counts:
    """What the pieces of one input add up to."""

    rows_read: int = 0
    rows_rejected: int = 0
    rows_audited: int = 0
    blank_lines: int = 0
    values_ignored: dict[str, int] = field(default_factory=dict)
    first: tuple[str, str | None, list[str]] | None = None  # encoding, delimiter, unknown columns
    sha256: str | None = None

    def add(self, raw: RawTable, checked: Validated) -> None:
        self.first = self.first or (raw.encoding, raw.delimiter, raw.unknown_columns)
        self.rows_read += raw.rows_read
        self.rows_rejected += checked.rows_rejected
        self.rows_audited += checked.lines.height
        self.blank_lines += raw.blank_lines
        for column, n in checked.values_ignored.items():
            self.values_ignored[column] = self.values_ignored.get(column, 0) + n
        self.sha256 = raw.sha256 or self.sha256


def _audit_input(inp: InputFile, layout: Layout, mapping: dict[str, str], store: RetainedLines,
                 cells: RejectedCells, options: ReadOptions, reading: _Reading) -> InputSummary:
    """Read, validate and keep one input piece by piece, its rejected cells into `cells`; a file rejected
    part-way leaves nothing kept and only its own rejection in `cells`. The progress counts the rows its
    summary says were read (a file rejected whole: the rows it was found to hold, or none)."""
    summary = _input_summary(inp, layout, mapping, store, cells, options, reading)
    reading.done(inp, summary.rows_read)
    return summary


def _input_summary(inp: InputFile, layout: Layout, mapping: dict[str, str], store: RetainedLines,
                   cells: RejectedCells, options: ReadOptions, reading: _Reading) -> InputSummary:
    summary = InputSummary(path=inp.display)
    if inp.problem:
        return _reject_file(summary, cells, inp.problem, None, 0)
    mark, cells_mark = store.mark(), cells.mark()
    rejected: FileRejected | None = None
    while True:
        counts = _Counts()
        try:
            for raw in read_ahead(read_chunks(inp, layout, mapping, options)):
                checked = validate(raw, layout)
                store.add(checked.lines.with_columns(pl.lit(inp.display).alias("source_file")))
                cells.add(checked.rejected.with_columns(pl.lit(inp.display).alias("source_file")))
                counts.add(raw, checked)
                reading.file(inp, raw.read_fraction, counts.rows_read)
                del raw, checked
            break
        except ReadAgain as again:
            store.rollback(mark)
            cells.rollback(cells_mark)
            options = again.options
        except FileRejected as exc:
            store.rollback(mark)
            cells.rollback(cells_mark)
            rejected = exc
            break
    try:  # reading a delimited file computes its checksum on the way
        summary.sha256 = counts.sha256 if rejected is None and counts.sha256 else sha256(inp.path)
    except OSError as exc:  # nothing of the file is kept: it is rejected as a whole
        store.rollback(mark)
        cells.rollback(cells_mark)
        return _reject_file(summary, cells, f"file cannot be read: {exc.strerror or type(exc).__name__}",
                            None, 0)
    if rejected is not None:
        return _reject_file(summary, cells, rejected.reason, rejected.column, rejected.rows)
    assert counts.first is not None
    summary.encoding, summary.delimiter, summary.unknown_columns = counts.first
    summary.blank_lines = counts.blank_lines
    summary.rows_read = counts.rows_read
    summary.rows_rejected = counts.rows_rejected
    summary.rows_audited = counts.rows_audited
    summary.values_ignored = {c: counts.values_ignored[c] for c in layout.names if c in counts.values_ignored}
    summary.status = "ok" if counts.rows_rejected == 0 else "partial"
    return summary


def _reject_file(summary: InputSummary, cells: RejectedCells, reason: str, column: str | None, rows: int
                 ) -> InputSummary:
    summary.status, summary.error = "rejected", reason
    summary.rows_read = summary.rows_rejected = rows
    bad = pl.DataFrame({"source_file": [summary.path], ROW: [None], "column": [column], "value": [None],
                        "problem": [f"file rejected: {reason}"], "outcome": [FILE_REJECTED]},
                       schema=REJECTED_SCHEMA)
    cells.add(bad)
    return summary


def _no_lines(layout: Layout) -> pl.DataFrame:
    from .schema import cast
    empty = pl.DataFrame(schema={ROW: pl.Int64, **{c: pl.String for c in layout.names}})
    lines = empty.with_columns([cast(s) for s in layout.columns]).with_columns(
        pl.lit(None, pl.String).alias(IGNORED_COLUMNS), pl.lit(None, pl.String).alias(IGNORED_NOTE),
        pl.lit(None, pl.String).alias("source_file"))
    return lines.with_row_index("line_key").with_columns(pl.col("line_key").cast(pl.Int64))


def _read(paths: list[str | Path], schema_path: str | Path | None, mapping_path: str | Path | None,
          rule_config: RuleConfig, progress: Progress | None, chunk_bytes: int | None,
          work_dir: str | Path | None, retain_bytes: int, *, record_claims: set[str] | None,
          every_member: bool, more_members: Any = None, buckets: int | None = None,
          keep_rejected: bool = True, rejected_bytes: int | None = None) -> tuple:
    """Every input read in pieces and validated, keeping what the rules need: (layout, what was found,
    each input's summary, the rejected cells, the store of retained lines, the progress reporter, and
    the context that removes the store's scratch folder: read the store inside it)."""
    layout = load_layout(schema_path)
    mapping = load_mapping(mapping_path)
    validate_mapping(mapping, layout)
    found = discover(paths)
    inputs = [i for i in found if i.ignored is None]
    reading = _Reading(inputs, progress)
    cleanup = contextlib.ExitStack()
    with cleanup:
        scratch = cleanup.enter_context(scratch_folder(Path(work_dir) if work_dir is not None else None))
        store = RetainedLines(scratch, rule_config, budget_bytes=retain_bytes, record_claims=record_claims,
                              every_member=every_member, more_members=more_members, buckets=buckets)
        options = ReadOptions(chunk_bytes, scratch=scratch)
        # the report reads them after the run: their files are not in the run's scratch folder
        rejected = RejectedCells(Path(work_dir) if work_dir is not None else None, held_bytes=rejected_bytes,
                                 keep=keep_rejected)
        with rejected.closed_on_error():
            summaries = [_audit_input(inp, layout, mapping, store, rejected, options, reading) for inp in inputs]
        return layout, found, summaries, rejected, store, reading, cleanup.pop_all()


def read_inputs(paths: list[str | Path], *, schema_path: str | Path | None = None,
                mapping_path: str | Path | None = None, work_dir: str | Path | None = None
                ) -> tuple[list[InputSummary], pl.DataFrame]:
    """Read and validate inputs as a run does, keeping every line a claim edit reads and applying no
    rule (the claims-history back-fill); every input reconciles."""
    layout, _, summaries, rejected, store, _, scratch = _read(
        paths, schema_path, mapping_path, DEFAULT, None, DEFAULT_CHUNK_BYTES, work_dir, DEFAULT_BUDGET_BYTES,
        record_claims=None, every_member=True, buckets=1, keep_rejected=False)  # counted, never listed
    rejected.close()
    with scratch:
        lines = store.lines(_no_lines(layout))
    reconcile_inputs(summaries)
    return summaries, lines


def _with_audited_history(history: Any, run_date: dt.date) -> Any:
    """The members (of a set of member ids) that have an audited line in the claims history."""
    def members(ids: pl.Series) -> pl.Series:
        return history.members_with_audited_lines(ids, run_date, ruledata.audited_codes())
    return members


def against_history(history: Any, lines: pl.DataFrame, summaries: list[InputSummary], run_date: dt.date,
                    config: RuleConfig = DEFAULT) -> Any:
    """Tonight's retained `lines` beside `history` (a :class:`claims_audit.history.Night`): what the
    edits see and what the run (or a back-fill) records."""
    from .history import Windows, prepare
    from .rules.claim_edits.context import EditContext, read_by_edits, recorded_for_later_nights

    context = EditContext(ruledata.load(), config)
    shas = {s.path: s.sha256 for s in summaries if s.sha256 and s.status != "rejected"}
    return prepare(history, lines, run_date=run_date, shas=shas, keep=read_by_edits(context),
                   audited=context.audited, family=context.family, windows=Windows.from_policy(context.policy),
                   record=recorded_for_later_nights(context))


def apply_rules(lines: pl.DataFrame, config: RuleConfig = DEFAULT, records: Any = None, night: Any = None,
                known: documentation.ClassifiedTexts | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every registered rule over the whole run.

    Returns the documentation classification of the audited lines (line_key + doc_* columns) and the
    configured rule output. The whole-run `lines` frame is never copied: the checks select their own few
    rows and columns from it (see :mod:`claims_audit.rules.inputs`), and the classification is joined
    only where it is needed (the audited lines of the edits, the findings).
    """
    target = lines.filter(pl.col("procedure_code").is_in(list(ruledata.audited_codes())))
    if records is not None and records.assigned:  # the record text is read as the line's op_note
        from . import records as records_mod
        classified = documentation.classify(records_mod.attach(target, records), known=known)
        classified = records_mod.attribute(classified, target, records)
    else:
        classified = documentation.classify(target, known=known)
    doc = classified.select("line_key", *[c for c in classified.columns if c.startswith("doc_")])
    if night is None:
        output = registry.evaluate(rule_inputs(lines, config, classified=classified), config)
    else:  # the edits see tonight's lines beside history's; findings sit on tonight's lines only
        output = registry.evaluate(rule_inputs(night.edit_lines, config, classified=classified), config)
        output = output.filter((pl.col("line_key") >= 0) & ~pl.col("line_key").is_in(night.silent))
    return doc, output.select(list(OUTPUT_SCHEMA))


def reconcile_inputs(inputs: list[InputSummary]) -> None:
    """rows_read == rows_audited + rows_rejected for every input; ReconciliationError otherwise."""
    for i in inputs:
        if i.rows_read != i.rows_audited + i.rows_rejected:
            raise ReconciliationError(
                f"internal error: {i.path} read {i.rows_read} rows but audited {i.rows_audited} and "
                f"rejected {i.rows_rejected}")


def reconcile(result: AuditResult, lines_total: int) -> None:
    """rows_read == rows_audited + rows_rejected for every input, and the audited rows all reached the
    rules. Raises ReconciliationError otherwise (never write a report that loses rows)."""
    reconcile_inputs(result.inputs)
    if result.totals["rows_audited"] != lines_total:
        raise ReconciliationError(
            f"internal error: {result.totals['rows_audited']} rows audited but {lines_total} reached the rules")
