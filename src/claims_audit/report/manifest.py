"""The JSON manifest: the machine-readable twin of the Summary sheet (contract in the README)."""

from __future__ import annotations

import json
from typing import Any

from .safety import neutralize


def _safe(value: Any) -> Any:
    """OWASP guidance: text from the claims files that a spreadsheet could evaluate gets a leading quote."""
    if isinstance(value, str):
        return neutralize(value)
    if isinstance(value, list):
        return [_safe(v) for v in value]
    return value


def build(result: Any, outputs: dict[str, str], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The manifest. Only text that comes from the claims files (header names, and the reasons that may
    quote them) is neutralised; paths, delimiters, versions and the ledger section stay literal."""
    doc = {
        "run_date": result.run_date.isoformat(),
        "tool_version": result.tool_version,
        "rules_version": result.rules_version,
        "schema": result.layout,
        "rule_config": result.rule_config.source,
        "rule_config_sha256": result.rule_config.sha256,  # of the file's bytes: which configuration exactly
        "rules_disabled": list(result.rule_config.disabled),
        "rule_severities": dict(result.rule_config.severity_overrides),
        "inputs": [
            {"path": i.path, "sha256": i.sha256, "rows_read": i.rows_read, "rows_audited": i.rows_audited,
             "rows_rejected": i.rows_rejected, "status": i.status, "error": _safe(i.error),
             "encoding": i.encoding, "delimiter": i.delimiter, "unknown_columns": _safe(i.unknown_columns),
             "blank_lines": i.blank_lines, "values_ignored": i.values_ignored}
            for i in result.inputs
        ],
        "ignored": [{"path": path, "reason": reason} for path, reason in getattr(result, "ignored", [])],
        "totals": result.totals,
        "findings_by_rule": result.findings_by_rule,
        "exit_code": int(result.exit_code),
        "outputs": outputs,
    }
    doc.update(extra or {})
    return doc


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
