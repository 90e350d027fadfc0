"""Report outputs: the Excel workbook and the JSON manifest, written atomically, owner-readable only.

Each file is written to a temporary file in the output folder (mode 0600) and renamed over the final
name, so a run killed half-way leaves the previous report intact and never a half-written file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import ConfigError, OutputError
from . import excel, manifest

MASK_KEY_ENV = "CLAIMS_AUDIT_MASK_KEY"


@dataclass(frozen=True)
class ReportPaths:
    xlsx: Path
    json: Path


def report_paths(out_dir: Path, run_date: dt.date) -> ReportPaths:
    stem = f"claims-audit-{run_date.isoformat()}"
    return ReportPaths(out_dir / f"{stem}.xlsx", out_dir / f"{stem}.json")


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a 0600 temporary file in the same folder, then rename over `path`."""
    atomic_write_all([(path, write)])


def atomic_write_all(items: list[tuple[Path, Callable[[Path], None]]]) -> None:
    """Write every file to its own 0600 temporary file first; only when all are written, rename each over
    its final name. A failure in any write leaves every previous file as it was (never a new workbook
    beside an old manifest) and removes the temporary files."""
    temps: list[tuple[Path, Path]] = []
    try:
        for path, write in items:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.close(fd)
            temps.append((Path(tmp), path))
            write(Path(tmp))
            os.chmod(tmp, 0o600)
        for tmp, path in temps:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in temps:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise


def mask_key() -> bytes:
    key = os.environ.get(MASK_KEY_ENV, "")
    if len(key) < 16:
        raise ConfigError(f"--mask-member-ids needs a secret key of at least 16 characters in the "
                          f"environment variable {MASK_KEY_ENV}")
    return key.encode("utf-8")


def mask_ids(series: pl.Series, key: bytes) -> pl.Series:
    """Keyed hash (HMAC-SHA256) of member ids: the same member masks the same way within a key."""
    uniq = series.drop_nulls().unique()
    table = {v: "M-" + hmac.new(key, v.encode("utf-8"), hashlib.sha256).hexdigest()[:16]
             for v in uniq.to_list()}
    return series.replace_strict(table, default=None, return_dtype=pl.String) if table else series


MASKED_VALUE_NOTE = " (the value shown is the masked member id)"


def masked(findings: pl.DataFrame, rejected: pl.DataFrame, key: bytes) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Findings with masked member ids, and rejected cells whose rejected member_id value is masked too
    (its problem says so, since the value no longer is what the file held). Member ids appear nowhere
    else in the report: the claim edits' evidence names the related line, never the member."""
    findings = findings.with_columns(mask_ids(findings.get_column("member_id"), key).alias("member_id"))
    is_member = (pl.col("column") == "member_id") & pl.col("value").is_not_null()
    masked_values = mask_ids(rejected.get_column("value"), key)
    rejected = rejected.with_columns(
        pl.when(is_member).then(masked_values).otherwise(pl.col("value")).alias("value"),
        pl.when(is_member).then(pl.col("problem") + MASKED_VALUE_NOTE).otherwise(pl.col("problem"))
        .alias("problem"))
    return findings, rejected


def write_reports(result: Any, out_dir: Path, *, mask: bool = False,
                  dispositions: tuple[str, ...] = excel.DEFAULT_DISPOSITIONS,
                  closed: pl.DataFrame | None = None, history: pl.DataFrame | None = None,
                  extra_manifest: dict[str, Any] | None = None, notes: list[str] | None = None,
                  comparison: pl.DataFrame | None = None,
                  summary_items: list[tuple[str, object]] | None = None) -> ReportPaths:
    """Write the workbook and the manifest for a finished run.

    With the review ledger (see :mod:`claims_audit.ledger`): `closed` holds the findings whose decision
    closed them (they move from Findings to a Closed sheet), `history` one row per recent run for the
    findings-per-night chart, `comparison` per rule: new, recurring, decided, closed, resolved, and
    `summary_items` extra Summary rows (ledger, previous run, counts).
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"output folder {out_dir} cannot be created: {exc.strerror}") from None
    paths = report_paths(out_dir, result.run_date)
    findings, rejected = result.findings, result.rejected
    if closed is not None and closed.height:
        findings = findings.filter(~pl.col("finding_id").is_in(closed.get_column("finding_id").implode()))
    if mask:
        key = mask_key()
        findings, rejected = masked(findings, rejected, key)
        if closed is not None and closed.height:
            closed = closed.with_columns(mask_ids(closed.get_column("member_id"), key).alias("member_id"))
    notes = list(notes or [])
    if getattr(result, "records", None) is not None:  # --records: what was read, and what could not be
        notes += result.records.notes()
        summary_items = list(summary_items or []) + result.records.summary_rows()
        extra_manifest = {**(extra_manifest or {}), "records": result.records.manifest()}
    if mask:
        notes.append(f"member_id values are masked with a keyed hash ({MASK_KEY_ENV}).")
    try:
        doc = manifest.build(result, {"xlsx": str(paths.xlsx), "json": str(paths.json)},
                             {**(extra_manifest or {}), "member_ids_masked": mask})
        atomic_write_all([
            (paths.xlsx, lambda p: _write_workbook(result, p, findings, rejected, dispositions, closed,
                                                   history, notes, comparison, summary_items or [])),
            (paths.json, lambda p: p.write_text(manifest.dumps(doc), encoding="utf-8")),
        ])
    except OSError as exc:
        raise OutputError(f"report cannot be written to {out_dir}: {exc.strerror or type(exc).__name__}"
                          ) from None
    return paths


def _write_workbook(result: Any, path: Path, findings: pl.DataFrame, rejected: pl.DataFrame,
                    dispositions: tuple[str, ...], closed: pl.DataFrame | None,
                    history: pl.DataFrame | None, notes: list[str], comparison: pl.DataFrame | None = None,
                    summary_items: list[tuple[str, object]] | None = None) -> None:
    wb = excel.new_workbook()
    f_frame = excel.findings_frame(findings)
    overflow = [t for t in ("Findings", "Rejected")
                if (f_frame if t == "Findings" else rejected).height > excel.DATA_ROWS_PER_SHEET]
    notes = notes + [f"{t} has more rows than one sheet holds; it continues on sheets '{t} 2', ..."
                     for t in overflow]
    excel.write_summary(wb, _summary_info(result) + list(summary_items or []), _inputs_frame(result),
                        _by_rule_frame(result, comparison), notes, history)
    excel.write_table(wb, excel.SheetTable("Findings", f_frame, {"disposition": dispositions}))
    excel.write_table(wb, excel.SheetTable("Rejected", rejected.select(excel.REJECTED_SHEET_COLUMNS)))
    excel.write_table(wb, excel.SheetTable("Rules", excel.rules_frame(result.rules_version,
                                                                       result.rule_config)))
    if closed is not None:
        excel.write_table(wb, excel.SheetTable("Closed", excel.findings_frame(closed),
                                               {"disposition": dispositions}))  # to reopen one
    excel.save(wb, path)


def _summary_info(result: Any) -> list[tuple[str, object]]:
    t = result.totals
    return [
        ("run_date", result.run_date), ("tool_version", result.tool_version),
        ("rules_version", result.rules_version), ("schema", result.layout),
        ("rule_config", result.rule_config.source or "(defaults)"),
        ("inputs", len(result.inputs)), ("rows_read", t["rows_read"]), ("rows_audited", t["rows_audited"]),
        ("rows_rejected", t["rows_rejected"]), ("lines_34421", t["lines_34421"]),
        ("findings", t["findings"]), ("exit_code", int(result.exit_code)),
    ]


def _inputs_frame(result: Any) -> pl.DataFrame:
    return pl.DataFrame(
        [{"path": i.path, "sha256": i.sha256, "rows_read": i.rows_read, "rows_audited": i.rows_audited,
          "rows_rejected": i.rows_rejected, "status": i.status, "error": i.error, "encoding": i.encoding}
         for i in result.inputs],
        schema={"path": pl.String, "sha256": pl.String, "rows_read": pl.Int64, "rows_audited": pl.Int64,
                "rows_rejected": pl.Int64, "status": pl.String, "error": pl.String, "encoding": pl.String})


COMPARISON_COLUMNS = ("new", "recurring", "decided", "closed", "resolved")


def _by_rule_frame(result: Any, comparison: pl.DataFrame | None = None) -> pl.DataFrame:
    """Findings per rule; with the ledger also the comparison with the previous run (new, recurring,
    decided, closed, resolved = in the previous run and no longer present)."""
    from ..rules import catalogue
    sev = {r.id: r.severity for r in catalogue()}
    counts = result.findings_by_rule
    frame = pl.DataFrame({"rule_id": list(counts), "severity": [sev.get(k) for k in counts],
                          "findings": [counts[k] for k in counts]},
                         schema={"rule_id": pl.String, "severity": pl.String, "findings": pl.Int64})
    if comparison is None:
        return frame
    comp = comparison.select("rule_id", *[pl.col(c).cast(pl.Int64) for c in COMPARISON_COLUMNS])
    frame = frame.join(comp, on="rule_id", how="full", coalesce=True, maintain_order="left")
    return frame.with_columns(pl.col("severity").fill_null(pl.col("rule_id").replace_strict(
        sev, default=None, return_dtype=pl.String)),
        *[pl.col(c).fill_null(0) for c in ("findings", *COMPARISON_COLUMNS)])
