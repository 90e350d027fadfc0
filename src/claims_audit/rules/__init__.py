"""The rules: their common output shape, the catalogue people read, and the rule-set version.

Rules are polars expressions over the whole run's ``lines`` frame. Each check registered in
:mod:`.registry` returns a frame with :data:`OUTPUT_SCHEMA`. The catalogue joins each registered rule
(id, family, default severity, tables, scope, window: code) to its words (title, what it checks, why,
source: ``data/rules/*.yaml``); either side naming an id the other lacks is a packaging error.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import polars as pl

from .. import configfile
from ..ruleconfig import SEVERITIES
from ..shipped import DATA, RULE_CATALOGUE, RULESET

__all__ = ["DATA", "OUTPUT_SCHEMA", "SEVERITIES", "RuleInfo", "catalogue", "conform", "empty_output",
           "rules_version"]

OUTPUT_SCHEMA: dict[str, pl.DataType] = {
    "line_key": pl.Int64(),
    "rule_id": pl.String(),
    "severity": pl.String(),
    "message": pl.String(),
    "suggested_code": pl.String(),
    "evidence": pl.String(),
    "related_claim_id": pl.String(),
    "related_line_number": pl.Int64(),
    "reference": pl.String(),
    # the line_key of the related line (internal: the Findings sheet shows its claim, line and source)
    "related_line_key": pl.Int64(),
}
CATALOGUE_KEYS = ("id", "title", "checks", "why", "source")


@dataclass(frozen=True)
class RuleInfo:
    """A rule as the Rules sheet shows it: the registry's declaration and the catalogue's words."""

    id: str
    family: str
    severity: str
    tables: tuple[str, ...]
    scope: str
    window: str
    title: str
    checks: str
    why: str
    source: str


def empty_output() -> pl.DataFrame:
    return pl.DataFrame(schema=OUTPUT_SCHEMA)


def conform(frame: pl.DataFrame) -> pl.DataFrame:
    """Bring a rule's findings to the common columns and types (missing ones become null)."""
    cols = [pl.col(c).cast(t) if c in frame.columns else pl.lit(None, t).alias(c)
            for c, t in OUTPUT_SCHEMA.items()]
    return frame.select(cols)


def catalogue_entries() -> list[dict[str, Any]]:
    """The catalogue's words (data/rules/*.yaml), in file-name then file order."""
    entries: list[dict[str, Any]] = []
    for path in sorted(RULE_CATALOGUE.glob("*.yaml")):
        doc = configfile.load(path, "rule catalogue") or []
        if not isinstance(doc, list) or not all(isinstance(e, dict) and set(e) == set(CATALOGUE_KEYS)
                                                for e in doc):
            raise ValueError(f"rule catalogue {path.name}: every entry needs exactly {', '.join(CATALOGUE_KEYS)}")
        entries += doc
    return entries


@lru_cache(maxsize=1)
def catalogue() -> tuple[RuleInfo, ...]:
    """Every registered rule with its words, in catalogue order."""
    from .registry import declarations

    declared = declarations()
    entries = catalogue_entries()
    described = [e["id"] for e in entries]
    undescribed = sorted(set(declared) - set(described))
    unregistered = sorted(set(described) - set(declared))
    if undescribed or unregistered or len(described) != len(set(described)):
        raise ValueError(f"rule catalogue and registry disagree: no words for {undescribed}, no check for "
                         f"{unregistered}, or an id described twice")
    out = []
    for e in entries:
        d = declared[e["id"]]
        out.append(RuleInfo(d.id, d.family, d.severity, d.tables, d.scope, d.window, " ".join(e["title"].split()),
                            e["checks"], e["why"], e["source"]))
    return tuple(out)


@lru_cache(maxsize=1)
def rules_version() -> str:
    """Release from data/ruleset.yaml plus a hash of every rule data file's name and content and of the
    registry's declarations (ids, severities, tables), so it changes whenever a rule's data or default does."""
    from .registry import declarations

    ruleset = configfile.load(RULESET, "rule data")
    if not isinstance(ruleset, dict) or "release" not in ruleset:
        raise ValueError(f"{RULESET.name} must give the rule-set release")
    digest = hashlib.sha256()
    for path in sorted(p for p in DATA.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(DATA).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    for d in declarations().values():
        digest.update(repr((d.id, d.family, d.severity, d.tables, d.scope, d.window)).encode())
    return f"{ruleset['release']}+{digest.hexdigest()[:10]}"
