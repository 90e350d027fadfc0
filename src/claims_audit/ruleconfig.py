"""An organisation's rule configuration, parsed once into a frozen, typed object.

The `--rule-config` file (YAML, documented in the README and ``data/rule_config.example.yaml``) switches
rules off, changes their severity, sets payer policy options and lists the review outcomes. It is read
and checked once, before any work: every key at every level must be known, so a misspelt key (``rulez:``,
``allow_25_for_em_day_of_surgry``) stops the run with exit code 2, the key, the file and the closest known
key named, instead of being ignored while the user believes a rule is off. The rules, the report and the
ledger all read the same :class:`RuleConfig`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from . import configfile
from .errors import ConfigError

SEVERITIES = ("error", "warning", "review", "info")
TOP_LEVEL_KEYS = ("rules", "allow_25_for_em_day_of_surgery", "review_outcomes")
RULE_KEYS = ("enabled", "severity")
OUTCOME_KEYS = ("name", "closes", "meaning")


# --- review outcomes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewOutcome:
    """One choice of the Findings sheet's disposition drop-down, and whether it closes a finding."""

    name: str
    closes: bool = False
    meaning: str | None = None


def _outcome_key(value: str) -> str:
    return " ".join(value.split()).casefold()


@dataclass(frozen=True)
class ReviewOutcomes:
    """The allowed review outcomes (the disposition drop-down) and which of them close a finding."""

    items: tuple[ReviewOutcome, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.items)

    @property
    def closing(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.items if o.closes)

    def canonical(self, value: str) -> str | None:
        """The configured spelling of `value` (case and spacing ignored), or None if it is not allowed."""
        wanted = _outcome_key(value)
        return next((o.name for o in self.items if _outcome_key(o.name) == wanted), None)

    def closes(self, disposition: str | None) -> bool:
        return disposition is not None and _outcome_key(disposition) in {_outcome_key(n) for n in self.closing}

    def to_json(self) -> str:
        return json.dumps([{"name": o.name, "closes": o.closes, "meaning": o.meaning} for o in self.items])

    @classmethod
    def from_json(cls, text: str | None) -> ReviewOutcomes:
        """The outcomes a ledger recorded with a run (the defaults for runs recorded before they were)."""
        if not text:
            return DEFAULT_OUTCOMES
        return cls(tuple(ReviewOutcome(e["name"], bool(e.get("closes")), e.get("meaning"))
                         for e in json.loads(text)))


DEFAULT_OUTCOMES = ReviewOutcomes((
    ReviewOutcome("Confirmed", False, "the line is wrong and must be fixed"),
    ReviewOutcome("Corrected", True, "the line has been fixed since"),
    ReviewOutcome("Not an error", True, "the finding does not apply to this line"),
    ReviewOutcome("Provider education", False, "the provider is being educated; keep watching"),
    ReviewOutcome("Deferred", False, "decision postponed"),
))

_BAD_OUTCOME_NAME = re.compile(r'[,"\x00-\x1f]')
DROPDOWN_LIMIT = 250  # Excel allows 255 characters in a list drop-down


# --- the configuration -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleSetting:
    enabled: bool = True
    severity: str | None = None  # None: the rule's default severity


@dataclass(frozen=True)
class RuleConfig:
    """The whole rule configuration in force for a run (defaults where the file says nothing)."""

    rules: Mapping[str, RuleSetting] = field(default_factory=lambda: MappingProxyType({}))
    allow_25_for_em_day_of_surgery: bool = False
    review_outcomes: ReviewOutcomes = DEFAULT_OUTCOMES
    source: str | None = None  # the file it was read from
    sha256: str | None = None  # of that file's bytes, for the manifest

    def enabled(self, rule_id: str) -> bool:
        return self.rules.get(rule_id, RuleSetting()).enabled

    def severity(self, rule_id: str) -> str | None:
        """The configured severity of `rule_id`, or None when it keeps its default."""
        return self.rules.get(rule_id, RuleSetting()).severity

    @property
    def disabled(self) -> tuple[str, ...]:
        return tuple(rid for rid, s in self.rules.items() if not s.enabled)

    @property
    def severity_overrides(self) -> dict[str, str]:
        return {rid: s.severity for rid, s in self.rules.items() if s.severity}


DEFAULT = RuleConfig()


def load(path: str | Path) -> RuleConfig:
    """Read and check a rule configuration file; ConfigError (exit 2) on any defect."""
    path = Path(path)
    doc = configfile.load(path, "rule configuration")
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:  # configfile.load read it a moment ago
        raise ConfigError(f"rule configuration {path} cannot be read: {type(exc).__name__}") from None
    return parse(doc, source=str(path), sha256=digest)


def parse(doc: Any, *, source: str | None = None, sha256: str | None = None) -> RuleConfig:
    """Check a parsed configuration document (None = empty) and build the typed configuration."""
    where = f"rule configuration {source}" if source else "rule configuration"
    if doc is None:
        doc = {}
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{where} must be a mapping of settings")
    _reject_unknown(doc, TOP_LEVEL_KEYS, where, "setting")
    allow25 = doc.get("allow_25_for_em_day_of_surgery", False)
    if not isinstance(allow25, bool):
        raise ConfigError(f"{where}: allow_25_for_em_day_of_surgery must be true or false")
    return RuleConfig(rules=MappingProxyType(_rule_settings(doc.get("rules"), where)),
                      allow_25_for_em_day_of_surgery=allow25,
                      review_outcomes=_review_outcomes(doc.get("review_outcomes"), where),
                      source=source, sha256=sha256)


def _reject_unknown(mapping: Mapping[Any, Any], known: Iterable[str], where: str, kind: str) -> None:
    known = tuple(known)
    for key in mapping:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(known)})"
            raise ConfigError(f"{where}: unknown {kind} '{key}'{hint}")


def _rule_settings(rules: Any, where: str) -> dict[str, RuleSetting]:
    from .rules.registry import rule_ids

    if rules is None:
        return {}
    if not isinstance(rules, Mapping):
        raise ConfigError(f"{where}: 'rules' must map rule ids to settings")
    _reject_unknown(rules, rule_ids(), where, "rule id")
    settings: dict[str, RuleSetting] = {}
    for rule_id, setting in rules.items():
        setting = {} if setting is None else setting
        if not isinstance(setting, Mapping):
            raise ConfigError(f"{where}: rule '{rule_id}' takes a mapping of 'enabled' and 'severity'")
        _reject_unknown(setting, RULE_KEYS, f"{where}: rule '{rule_id}'", "setting")
        enabled = setting.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ConfigError(f"{where}: rule '{rule_id}' enabled must be true or false")
        severity = setting.get("severity")
        if severity is not None and severity not in SEVERITIES:
            raise ConfigError(f"{where}: rule '{rule_id}' severity must be one of {', '.join(SEVERITIES)}")
        settings[str(rule_id)] = RuleSetting(enabled, severity)
    return settings


def _review_outcomes(entries: Any, where: str) -> ReviewOutcomes:
    """The `review_outcomes` list: plain names (do not close) or {name, closes, meaning} mappings."""
    if entries is None:
        return DEFAULT_OUTCOMES
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{where}: 'review_outcomes' must be a non-empty list of outcomes")
    items: list[ReviewOutcome] = []
    for number, entry in enumerate(entries, start=1):
        outcome = _review_outcome(entry, number, where)
        if any(_outcome_key(o.name) == _outcome_key(outcome.name) for o in items):
            raise ConfigError(f"{where}: review outcome '{outcome.name}' is listed twice")
        items.append(outcome)
    if len(",".join(o.name for o in items)) > DROPDOWN_LIMIT:
        raise ConfigError(f"{where}: the review outcomes are too long for an Excel drop-down "
                          "(255 characters in all)")
    return ReviewOutcomes(tuple(items))


def _review_outcome(entry: Any, number: int, where: str) -> ReviewOutcome:
    if isinstance(entry, str):
        entry = {"name": entry}
    if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
        raise ConfigError(f"{where}: review outcome {number} must be a name or a mapping with 'name', "
                          "'closes' (true/false) and optionally 'meaning'")
    _reject_unknown(entry, OUTCOME_KEYS, f"{where}: review outcome {number}", "setting")
    name = " ".join(entry["name"].split())
    if not name or len(name) > 40 or _BAD_OUTCOME_NAME.search(name):
        raise ConfigError(f"{where}: review outcome {number} must be 1-40 characters without commas or "
                          "double quotes")
    if "closes" in entry and not isinstance(entry["closes"], bool):
        raise ConfigError(f"{where}: review outcome '{name}': closes must be true or false")
    meaning = entry.get("meaning")
    return ReviewOutcome(name, bool(entry.get("closes", False)), str(meaning) if meaning else None)
