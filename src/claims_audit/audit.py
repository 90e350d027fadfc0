"""The whole nightly job as one library call: run the audit, then write the report and manifest."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import pipeline
from .report import ReportPaths, write_reports


@dataclass
class Outcome:
    result: pipeline.AuditResult
    paths: ReportPaths


def audit(paths: list[Path], *, out: Path, run_date: dt.date, mapping: Path | None = None,
          schema: Path | None = None, rule_config: dict[str, Any] | None = None,
          rule_config_path: str | None = None, mask: bool = False,
          progress: pipeline.Progress | None = None) -> Outcome:
    if mask:  # fail on a missing key before hours of work, not after
        from .report import mask_key
        mask_key()
    result = pipeline.run(paths, run_date, schema_path=schema, mapping_path=mapping, rule_config=rule_config,
                          rule_config_path=rule_config_path, progress=progress)
    if progress:
        progress("writing report", 1, 1)
    report = write_reports(result, out, mask=mask)
    return Outcome(result, report)
