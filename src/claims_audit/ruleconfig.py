"""An organisation's rule configuration: switch rules off, change severities (YAML, documented in
README and data/rule_config.example.yaml). Unknown rule ids or severities are configuration errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import configfile
from .errors import ConfigError
from .rules import SEVERITIES, catalogue


def load_rule_config(path: Path) -> dict[str, Any]:
    doc = configfile.load(path, "rule configuration") or {}
    if not isinstance(doc, dict):
        raise ConfigError(f"rule configuration {path} must be a mapping")
    rules = doc.get("rules") or {}
    if not isinstance(rules, dict):
        raise ConfigError(f"rule configuration {path}: 'rules' must map rule ids to settings")
    known = {r.id for r in catalogue()}
    for rid, setting in rules.items():
        if rid not in known:
            raise ConfigError(f"rule configuration {path}: unknown rule id '{rid}'")
        if not isinstance(setting, dict) or set(setting) - {"enabled", "severity"}:
            raise ConfigError(f"rule configuration {path}: rule '{rid}' takes only 'enabled' and 'severity'")
        if "severity" in setting and setting["severity"] not in SEVERITIES:
            raise ConfigError(f"rule configuration {path}: rule '{rid}' severity must be one of "
                              + ", ".join(SEVERITIES))
        if "enabled" in setting and not isinstance(setting["enabled"], bool):
            raise ConfigError(f"rule configuration {path}: rule '{rid}' enabled must be true or false")
    from .rules.claim_edits import validate_config
    validate_config(doc)  # claim-edit options (e.g. allow_25_for_em_day_of_surgery) and their types
    return doc
