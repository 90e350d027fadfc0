"""One audit run: read every input, validate, apply the rules over the whole run, reconcile the counts.

The run never stops on a bad row or a bad file: a file that cannot be read is recorded as rejected with
its reason and the other files are audited. Before anything is written, every input must reconcile
(rows read = rows audited + rows rejected); a mismatch is an internal error, never a report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from . import __version__, documentation, ruledata
from .errors import ExitCode, FileRejected, ReconciliationError
from .findings import assemble
from .readers import ROW, InputFile, discover, read, sha256
from .ruleconfig import DEFAULT, RuleConfig
from .rules import OUTPUT_SCHEMA, catalogue, registry, rules_version
from .rules.inputs import rule_inputs
from .schema import Layout, load_layout, load_mapping, validate_mapping
from .validation import FILE_REJECTED, validate
from .validation import REJECTED_CELL_SCHEMA

# the validator's rejected cells, with the file they came from
REJECTED_SCHEMA = {"source_file": pl.String, **REJECTED_CELL_SCHEMA}

Progress = Callable[[str, int, int], None]  # (what, done, total)


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
    rejected: pl.DataFrame
    lines_34421: int
    rule_config: RuleConfig = DEFAULT
    extra: dict[str, Any] = field(default_factory=dict)
    records: Any = None  # records.Records when the run read a --records folder
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (path, reason) deliberately not audited
    history: Any = None  # history.Night when the run consulted the claims history

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


def run(paths: list[str | Path], run_date: dt.date | None = None, *, schema_path: str | Path | None = None,
        mapping_path: str | Path | None = None, rule_config: RuleConfig = DEFAULT,
        progress: Progress | None = None, records: str | Path | None = None,
        history: Any = None) -> AuditResult:
    """Audit every input; raise only for usage/configuration problems or a failed reconciliation.

    ``records``: a folder of medical records read as the operative notes of the lines they name
    (claims_audit.records). ``history``: the claims history (:class:`claims_audit.history.History`)
    the history-aware edits read beside tonight's lines; the caller records tonight's lines in it."""
    layout, found, summaries, lines, rejected = _read_all(paths, schema_path, mapping_path, progress)
    inputs = [i for i in found if i.ignored is None]
    if progress:
        progress("applying rules", len(inputs), len(inputs))
    if records is not None:
        from . import records as records_mod
        if progress:
            progress("reading medical records", len(inputs), len(inputs))
        audited = lines.filter(pl.col("procedure_code").is_in(list(ruledata.audited_codes())))
        records = records_mod.load(records, lines, audited)
    night = None
    if history is not None:
        if progress:
            progress("reading the claims history", len(inputs), len(inputs))
        night = _against_history(history, lines, summaries, run_date or dt.date.today(), rule_config)
    doc, output = apply_rules(lines, rule_config, records, night)
    findings = assemble(lines, output, doc, night.history_lines if night is not None else None)
    rejected_all = pl.concat(rejected) if rejected else pl.DataFrame(schema=REJECTED_SCHEMA)
    result = AuditResult(
        run_date=run_date or dt.date.today(), tool_version=__version__, rules_version=rules_version(),
        layout=f"{layout.name} v{layout.version}", inputs=summaries, findings=findings,
        rejected=rejected_all, lines_34421=doc.height, rule_config=rule_config, records=records,
        ignored=[(i.display, i.ignored) for i in found if i.ignored is not None], history=night)
    reconcile(result, lines.height)
    return result


def _read_all(paths: list[str | Path], schema_path: str | Path | None, mapping_path: str | Path | None,
              progress: Progress | None = None
              ) -> tuple[Layout, list[InputFile], list[InputSummary], pl.DataFrame, list[pl.DataFrame]]:
    """Every input read and validated: the layout, what was found, each input's summary, the run's
    audited lines (with line_key) and the rejected cells per input."""
    layout = load_layout(schema_path)
    mapping = load_mapping(mapping_path)
    validate_mapping(mapping, layout)
    found = discover(paths)
    inputs = [i for i in found if i.ignored is None]
    summaries: list[InputSummary] = []
    frames: list[pl.DataFrame] = []
    rejected: list[pl.DataFrame] = []
    for n, inp in enumerate(inputs):
        if progress:
            progress(f"reading {inp.path.name}", n, len(inputs))
        summary, lines, bad = _audit_input(inp, layout, mapping)
        summaries.append(summary)
        if lines is not None and lines.height:
            frames.append(lines)
        rejected.append(bad)
    return layout, found, summaries, _concat_lines(frames, layout), rejected


def read_inputs(paths: list[str | Path], *, schema_path: str | Path | None = None,
                mapping_path: str | Path | None = None) -> tuple[list[InputSummary], pl.DataFrame]:
    """Read and validate inputs as a run does, without any rule (the history back-fill); reconciled."""
    _, _, summaries, lines, _ = _read_all(paths, schema_path, mapping_path)
    for i in summaries:
        if i.rows_read != i.rows_audited + i.rows_rejected:
            raise ReconciliationError(f"internal error: {i.path} read {i.rows_read} rows but audited "
                                      f"{i.rows_audited} and rejected {i.rows_rejected}")
    return summaries, lines


def _audit_input(inp: InputFile, layout: Layout, mapping: dict[str, str]
                 ) -> tuple[InputSummary, pl.DataFrame | None, pl.DataFrame]:
    summary = InputSummary(path=inp.display)
    if inp.problem:
        return _reject_file(summary, inp.problem, None, 0)
    try:
        raw = read(inp, layout, mapping)
    except FileRejected as exc:
        raw, rejected = None, exc
    try:  # reading a delimited file computes its checksum on the way (while polars parses it)
        summary.sha256 = raw.sha256 if raw is not None and raw.sha256 else sha256(inp.path)
    except OSError as exc:
        return _reject_file(summary, f"file cannot be read: {exc.strerror or type(exc).__name__}", None, 0)
    if raw is None:
        return _reject_file(summary, rejected.reason, rejected.column, rejected.rows)
    checked = validate(raw, layout)
    summary.encoding, summary.delimiter = raw.encoding, raw.delimiter
    summary.unknown_columns, summary.blank_lines = raw.unknown_columns, raw.blank_lines
    summary.rows_read = raw.rows_read
    summary.rows_rejected = checked.rows_rejected
    summary.rows_audited = checked.lines.height
    summary.values_ignored = checked.values_ignored
    summary.status = "ok" if checked.rows_rejected == 0 else "partial"
    lines = checked.lines.with_columns(pl.lit(inp.display).alias("source_file"))
    bad = checked.rejected.with_columns(pl.lit(inp.display).alias("source_file")).select(
        list(REJECTED_SCHEMA))
    return summary, lines, bad


def _reject_file(summary: InputSummary, reason: str, column: str | None, rows: int
                 ) -> tuple[InputSummary, None, pl.DataFrame]:
    summary.status, summary.error = "rejected", reason
    summary.rows_read = summary.rows_rejected = rows
    bad = pl.DataFrame({"source_file": [summary.path], ROW: [None], "column": [column], "value": [None],
                        "problem": [f"file rejected: {reason}"], "outcome": [FILE_REJECTED]},
                       schema=REJECTED_SCHEMA)
    return summary, None, bad


def _concat_lines(frames: list[pl.DataFrame], layout: Layout) -> pl.DataFrame:
    if frames:
        lines = pl.concat(frames, how="vertical_relaxed")
    else:
        empty = pl.DataFrame(schema={ROW: pl.Int64, **{c: pl.String for c in layout.names}})
        from .schema import cast
        lines = empty.with_columns([cast(s) for s in layout.columns]).with_columns(
            pl.lit(None, pl.String).alias("source_file"))
    return lines.with_row_index("line_key").with_columns(pl.col("line_key").cast(pl.Int64))


def _against_history(history: Any, lines: pl.DataFrame, summaries: list[InputSummary], run_date: dt.date,
                     config: RuleConfig) -> Any:
    from .history import Windows, prepare
    from .rules.claim_edits.context import EditContext, read_by_edits

    context = EditContext(ruledata.load(), config)
    shas = {s.path: s.sha256 for s in summaries if s.sha256 and s.status != "rejected"}
    return prepare(history, lines, run_date=run_date, shas=shas, keep=read_by_edits(context),
                   audited=context.audited, family=context.family, windows=Windows.from_policy(context.policy))


def apply_rules(lines: pl.DataFrame, config: RuleConfig = DEFAULT, records: Any = None, night: Any = None
                ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every registered rule over the whole run.

    Returns the documentation classification of the audited lines (line_key + doc_* columns) and the
    configured rule output. The whole-run `lines` frame is never copied: the checks select their own few
    rows and columns from it (see :mod:`claims_audit.rules.inputs`), and the classification is joined
    only where it is needed (the audited lines of the edits, the findings).
    """
    target = lines.filter(pl.col("procedure_code").is_in(list(ruledata.audited_codes())))
    if records is not None and records.assigned:  # the record text is read as the line's op_note
        from . import records as records_mod
        classified = documentation.classify(records_mod.attach(target, records))
        classified = records_mod.attribute(classified, target, records)
    else:
        classified = documentation.classify(target)
    doc = classified.select("line_key", *[c for c in classified.columns if c.startswith("doc_")])
    if night is None:
        output = registry.evaluate(rule_inputs(lines, config, classified=classified), config)
    else:  # the edits see tonight's lines beside history's; findings sit on tonight's lines only
        output = registry.evaluate(rule_inputs(night.edit_lines, config, classified=classified), config)
        output = output.filter((pl.col("line_key") >= 0) & ~pl.col("line_key").is_in(night.silent))
    return doc, output.select(list(OUTPUT_SCHEMA))


def reconcile(result: AuditResult, lines_total: int) -> None:
    """rows_read == rows_audited + rows_rejected for every input, and the audited rows all reached the
    rules. Raises ReconciliationError otherwise (never write a report that loses rows)."""
    for i in result.inputs:
        if i.rows_read != i.rows_audited + i.rows_rejected:
            raise ReconciliationError(
                f"internal error: {i.path} read {i.rows_read} rows but audited {i.rows_audited} and "
                f"rejected {i.rows_rejected}")
    if result.totals["rows_audited"] != lines_total:
        raise ReconciliationError(
            f"internal error: {result.totals['rows_audited']} rows audited but {lines_total} reached the rules")
