"""Report outputs: the Excel workbook and the JSON manifest, written atomically, owner-readable only.

Both files and the ledger's record of the run are one output transaction (:mod:`claims_audit.commit`):
each file is written in full to a temporary file in the output folder (mode 0600), both are renamed over
their final names with the previous ones kept aside, then the ledger commits; a failure anywhere before
that commit puts the previous files back, so report and ledger always describe the same run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from ..commit import OutputTransaction, new_run_id
from ..errors import ConfigError
from . import excel, manifest
from .tablerows import TableRows

if TYPE_CHECKING:
    from ..ledger import RunView

MASK_KEY_ENV = "CLAIMS_AUDIT_MASK_KEY"


@dataclass(frozen=True)
class ReportPaths:
    xlsx: Path
    json: Path


def report_paths(out_dir: Path, run_date: dt.date) -> ReportPaths:
    stem = f"claims-audit-{run_date.isoformat()}"
    return ReportPaths(out_dir / f"{stem}.xlsx", out_dir / f"{stem}.json")


def atomic_write_all(items: list[tuple[Path, Callable[[Path], None]]],
                     commit: Callable[[], None] | None = None, run_id: str | None = None,
                     ledger: Path | None = None) -> None:
    """Write every file in full first; only when all are written, rename each over its final name; then
    call `commit` (the stores' commit point). A failure anywhere before the commit point leaves every
    previous file as it was (never a new workbook beside an old manifest or an old ledger) and removes the
    temporary files; see :mod:`claims_audit.commit`."""
    folder = items[0][0].parent
    tx = OutputTransaction(folder, run_id=run_id or new_run_id(), ledger=ledger)
    with tx:
        for path, write in items:
            tx.stage(path, write)
        tx.publish()
        if commit is not None:
            commit()
        tx.finish()


def mask_key() -> bytes:
    key = os.environ.get(MASK_KEY_ENV, "")
    if len(key) < 16:
        raise ConfigError(f"--mask-member-ids needs a secret key of at least 16 characters in the "
                          f"environment variable {MASK_KEY_ENV}")
    return key.encode("utf-8")


def mask_ids(series: pl.Series, key: bytes) -> pl.Series:
    """Keyed hash (HMAC-SHA256) of member ids: the same member masks the same way within a key."""
    uniq = series.drop_nulls().unique()
    table = {v: _masked_id(v, key) for v in uniq.to_list()}
    return series.replace_strict(table, default=None, return_dtype=pl.String) if table else series


def _masked_id(member_id: str, key: bytes) -> str:
    return "M-" + hmac.new(key, member_id.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


MASKED_VALUE_NOTE = " (the value shown is the masked member id)"
MASKS_KEPT = 200_000  # member id masks kept across the Rejected sheet's batches and passes (~30 MiB)


def masked(findings: pl.DataFrame, rejected: TableRows, key: bytes) -> tuple[pl.DataFrame, TableRows]:
    """Findings with masked member ids, and rejected cells whose rejected member_id value is masked too
    (its problem says so, since the value no longer is what the file held), batch by batch as the sheet
    is written. Member ids appear nowhere else in the report: the claim edits' evidence names the related
    line, never the member."""
    findings = findings.with_columns(mask_ids(findings.get_column("member_id"), key).alias("member_id"))
    known: dict[str, str] = {}  # member id -> its mask, kept across batches and passes (each hashed once)
    return findings, rejected.map(lambda cells: _masked_cells(cells, key, known))


def _masked_cells(rejected: pl.DataFrame, key: bytes, known: dict[str, str]) -> pl.DataFrame:
    """One batch of rejected cells with its member_id values masked (only those are hashed)."""
    is_member = (pl.col("column") == "member_id") & pl.col("value").is_not_null()
    ids = rejected.filter(is_member).get_column("value").unique().to_list()
    if not ids:
        return rejected
    if len(known) > MASKS_KEPT:  # a night of millions of bad member ids: hashing again is cheap
        known.clear()
    known.update({v: _masked_id(v, key) for v in ids if v not in known})
    masked_values = pl.col("value").replace_strict({v: known[v] for v in ids}, default=None,
                                                   return_dtype=pl.String)
    return rejected.with_columns(
        pl.when(is_member).then(masked_values).otherwise(pl.col("value")).alias("value"),
        pl.when(is_member).then(pl.col("problem") + MASKED_VALUE_NOTE).otherwise(pl.col("problem"))
        .alias("problem"))


def write_reports(result: Any, out_dir: Path, review: RunView | None = None, *, mask: bool = False,
                  dispositions: tuple[str, ...] | None = None, notes: list[str] | None = None,
                  commit: Callable[[], None] | None = None, run_id: str | None = None) -> ReportPaths:
    """Write the workbook and the manifest for a finished run, as one output transaction.

    `review`: what the run learnt from the review ledger (statuses, the Closed sheet, the comparison with
    the previous run, the run id and seal that make the report importable); `commit`: the ledger's commit
    point, called after both files are in place (a failure restores the previous files).
    """
    paths = report_paths(out_dir, result.run_date)
    run_id = review.run_id if review is not None else (run_id or new_run_id())
    if dispositions is None:
        dispositions = review.outcomes.names if review is not None and review.outcomes else \
            excel.DEFAULT_DISPOSITIONS
    findings = review.findings if review is not None else result.findings
    closed = review.closed if review is not None else None
    rejected = TableRows.of(result.rejected_cells)  # in files when there are many: read batch by batch
    if closed is not None and closed.height:
        findings = findings.filter(~pl.col("finding_id").is_in(closed.get_column("finding_id").implode()))
    if mask:
        key = mask_key()
        findings, rejected = masked(findings, rejected, key)
        if closed is not None and closed.height:
            closed = closed.with_columns(mask_ids(closed.get_column("member_id"), key).alias("member_id"))
    notes = list(notes or [])
    totals, details = _summary_totals(result), _summary_details(result, run_id)
    if review is not None:
        review_totals, review_details = _review_items(review)
        totals, details = totals + review_totals, details + review_details
    extra: dict[str, Any] = {"run_id": run_id}
    if review is not None:
        extra["ledger"] = review.manifest()
    if getattr(result, "history", None) is not None:  # the claims history: what the run consulted
        details += result.history.consulted.summary_rows()
        extra["history"] = result.history.consulted.manifest()
    if getattr(result, "records", None) is not None:  # --records: what was read, and what could not be
        notes += result.records.notes()
        details += result.records.summary_rows()
        extra["records"] = result.records.manifest()
    if mask:
        notes.append(f"member_id values are masked with a keyed hash ({MASK_KEY_ENV}).")
    doc = manifest.build(result, {"xlsx": str(paths.xlsx), "json": str(paths.json)},
                         {**extra, "member_ids_masked": mask})
    sheets = _Sheets(findings, rejected, dispositions, closed, notes, totals, details,
                     review.history if review is not None else None,
                     review.by_rule if review is not None else None)
    atomic_write_all([(paths.xlsx, lambda p: _write_workbook(result, p, sheets)),
                      (paths.json, lambda p: p.write_text(manifest.dumps(doc), encoding="utf-8"))],
                     commit=commit, run_id=run_id, ledger=review.path if review is not None else None)
    return paths


def _review_items(view: RunView) -> tuple[list[tuple[str, object]], list[tuple[str, object]]]:
    """Summary rows from the ledger: (totals, details). `report_seal` with `run_id` lets review import
    prove the workbook is a report of a run this ledger recorded."""
    c = view.counts
    previous = (dt.date.fromisoformat(view.previous_run_date) if view.previous_run_date
                else "(first run in this ledger)")
    totals: list[tuple[str, object]] = [
        ("previous_run_date", previous), ("findings_open", c["open"]), ("findings_closed", c["closed"]),
        ("new", c["new"]), ("recurring", c["recurring"]), ("decided", c["decided"]),
        ("resolved", c["resolved"]),
    ]
    return totals, [("report_seal", view.seal), ("ledger", str(view.path))]


@dataclass(frozen=True)
class _Sheets:
    """What goes into the workbook besides the run result itself."""

    findings: pl.DataFrame
    rejected: TableRows
    dispositions: tuple[str, ...]
    closed: pl.DataFrame | None
    notes: list[str]
    totals: list[tuple[str, object]]
    details: list[tuple[str, object]]
    history: pl.DataFrame | None
    comparison: pl.DataFrame | None


def _write_workbook(result: Any, path: Path, sheets: _Sheets) -> None:
    wb = excel.new_workbook()
    f_frame = excel.findings_frame(sheets.findings)
    rejected = sheets.rejected
    overflow = [t for t in ("Findings", "Rejected")
                if (f_frame if t == "Findings" else rejected).height > excel.DATA_ROWS_PER_SHEET]
    notes = sheets.notes + [f"{t} has more rows than one sheet holds; it continues on sheets '{t} 2', ..."
                            for t in overflow]
    history = sheets.history
    if history is not None:  # nights as real dates
        history = history.with_columns(pl.col(history.columns[0]).cast(pl.String).str.to_date())
    excel.write_summary(wb, excel.Summary(sheets.totals, sheets.details, _by_rule_frame(result, sheets.comparison),
                                          _inputs_frame(result), notes, history, _ignored_frame(result)))
    excel.write_table(wb, excel.SheetTable("Findings", f_frame, {"disposition": sheets.dispositions}))
    excel.write_table(wb, excel.SheetTable("Rejected", rejected.map(
        lambda cells: cells.select(excel.REJECTED_SHEET_COLUMNS))))
    excel.write_table(wb, excel.SheetTable("Rules", excel.rules_frame(result.rules_version,
                                                                       result.rule_config)))
    if sheets.closed is not None:
        excel.write_table(wb, excel.SheetTable("Closed", excel.findings_frame(sheets.closed),
                                               {"disposition": sheets.dispositions}))  # to reopen one
    excel.save(wb, path)


def _ignored_frame(result: Any) -> pl.DataFrame:
    """Folder entries deliberately not audited (hidden files, our own outputs, subfolders, duplicates)."""
    rows = getattr(result, "ignored", None) or []
    return pl.DataFrame({"ignored": [p for p, _ in rows], "reason": [r for _, r in rows]},
                        schema={"ignored": pl.String, "reason": pl.String})


def _summary_totals(result: Any) -> list[tuple[str, object]]:
    """The run's counts, first on Summary."""
    t = result.totals
    return [
        ("run_date", result.run_date), ("exit_code", int(result.exit_code)), ("inputs", len(result.inputs)),
        ("rows_read", t["rows_read"]), ("rows_audited", t["rows_audited"]),
        ("rows_rejected", t["rows_rejected"]), ("lines_34421", t["lines_34421"]), ("findings", t["findings"]),
    ]


def _summary_details(result: Any, run_id: str) -> list[tuple[str, object]]:
    """What identifies the run and what it ran with (review import reads run_id and the versions)."""
    config = result.rule_config
    return [
        ("run_id", run_id), ("tool_version", result.tool_version), ("rules_version", result.rules_version),
        ("schema", result.layout), ("rule_config", config.source or "(defaults)"),
        *([("rule_config_sha256", config.sha256)] if config.sha256 else []),
    ]


def _inputs_frame(result: Any) -> pl.DataFrame:
    return pl.DataFrame(
        [{"path": i.path, "status": i.status, "rows_read": i.rows_read, "rows_audited": i.rows_audited,
          "rows_rejected": i.rows_rejected, "blank_lines": i.blank_lines,
          "values_ignored": sum((i.values_ignored or {}).values()), "encoding": i.encoding, "error": i.error,
          "sha256": i.sha256}
         for i in result.inputs],
        schema={"path": pl.String, "status": pl.String, "rows_read": pl.Int64, "rows_audited": pl.Int64,
                "rows_rejected": pl.Int64, "blank_lines": pl.Int64, "values_ignored": pl.Int64,
                "encoding": pl.String, "error": pl.String, "sha256": pl.String})


COMPARISON_COLUMNS = ("new", "recurring", "decided", "closed", "resolved")


def _by_rule_frame(result: Any, comparison: pl.DataFrame | None = None) -> pl.DataFrame:
    """Findings per rule, with the severity and enabled state the rule configuration gives them; with the
    ledger also the comparison with the previous run (new, recurring, decided, closed, resolved = in the
    previous run and no longer present)."""
    from ..rules import catalogue
    config = result.rule_config
    sev = {r.id: config.severity(r.id) or r.severity for r in catalogue()}
    counts = result.findings_by_rule
    frame = pl.DataFrame({"rule_id": list(counts), "severity": [sev.get(k) for k in counts],
                          "enabled": [config.enabled(k) for k in counts], "findings": [counts[k] for k in counts]},
                         schema={"rule_id": pl.String, "severity": pl.String, "enabled": pl.Boolean,
                                 "findings": pl.Int64})
    if comparison is None:
        return frame
    comp = comparison.select("rule_id", *[pl.col(c).cast(pl.Int64) for c in COMPARISON_COLUMNS])
    frame = frame.join(comp, on="rule_id", how="full", coalesce=True, maintain_order="left")
    return frame.with_columns(
        pl.col("severity").fill_null(pl.col("rule_id").replace_strict(sev, default=None, return_dtype=pl.String)),
        pl.col("rule_id").replace_strict({k: config.enabled(k) for k in frame.get_column("rule_id").to_list()},
                                         return_dtype=pl.Boolean).alias("enabled"),
        *[pl.col(c).fill_null(0) for c in ("findings", *COMPARISON_COLUMNS)])
