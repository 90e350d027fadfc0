"""The whole nightly job as one library call: run the audit, consult and update the review ledger, then
write the report and manifest.

With the ledger (the default; ``no_ledger=True`` for one-off audits) each finding gets a status (new,
recurring, decided), findings closed by a decision move to the Closed sheet, and the Summary compares the
run with the previous one. The run's ledger record and its report are one transaction: the record is
committed only after the report was written, so a failed write leaves the ledger as it was.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import pipeline
from .errors import UsageError
from .ruleconfig import DEFAULT, RuleConfig
from .report import ReportPaths, report_paths, write_reports


@dataclass
class Outcome:
    result: pipeline.AuditResult
    paths: ReportPaths
    ledger: Any = None  # ledger.RunView when the ledger was used


def audit(paths: list[Path], *, out: Path, run_date: dt.date, mapping: Path | None = None,
          schema: Path | None = None, rule_config: RuleConfig = DEFAULT, mask: bool = False,
          progress: pipeline.Progress | None = None, ledger: Path | None = None,
          no_ledger: bool = False, records: Path | None = None) -> Outcome:
    """Run the audit and write its report.

    `ledger`: the review ledger file (default: claims-audit-ledger.sqlite in `out`); `no_ledger`: audit
    without one (no statuses, no Closed sheet, nothing recorded).
    """
    from .ledger import Ledger, default_path

    if ledger is not None and no_ledger:
        raise UsageError("--ledger and --no-ledger cannot be used together")
    outcomes = rule_config.review_outcomes
    if mask:  # fail on a missing key before hours of work, not after
        from .report import mask_key
        mask_key()
    store = None if no_ledger else Ledger.open(ledger or default_path(out), create=True)
    try:
        result = pipeline.run(paths, run_date, schema_path=schema, mapping_path=mapping,
                              rule_config=rule_config, progress=progress, records=records)
        if progress:
            progress("writing report", 1, 1)
        if store is None:
            report = write_reports(result, out, mask=mask, dispositions=outcomes.names)
            return Outcome(result, report)
        with store.transaction():
            view = store.record_run(result.findings, run_date=result.run_date,
                                    tool_version=result.tool_version, rules_version=result.rules_version,
                                    outcomes=outcomes,
                                    report_path=str(report_paths(out, result.run_date).xlsx))
            result.findings = view.findings
            report = write_reports(result, out, mask=mask, dispositions=outcomes.names, closed=view.closed,
                                   history=view.history, comparison=view.by_rule,
                                   summary_items=_summary_items(view),
                                   extra_manifest={"ledger": view.manifest()})
        return Outcome(result, report, view)
    finally:
        if store is not None:
            store.close()


def _summary_items(view: Any) -> list[tuple[str, object]]:
    c = view.counts
    return [
        ("ledger", str(view.path)),
        ("previous_run_date", view.previous_run_date or "(first run in this ledger)"),
        ("findings_open", c["open"]), ("findings_closed", c["closed"]),
        ("new", c["new"]), ("recurring", c["recurring"]), ("decided", c["decided"]),
        ("resolved", c["resolved"]),
    ]
