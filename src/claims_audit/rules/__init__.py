"""The rule catalogue and the common shape of rule output.

Rules are polars expressions over the whole run's ``lines`` frame. Each rule module returns a frame with
:data:`OUTPUT_SCHEMA`; the catalogue (data/rules/*.yaml) says what each rule checks, why, and its source.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import polars as pl
import yaml

DATA = Path(__file__).resolve().parent.parent / "data"
SEVERITIES = ("error", "warning", "review", "info")

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
}


@dataclass(frozen=True)
class RuleInfo:
    id: str
    severity: str
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


@lru_cache(maxsize=1)
def catalogue() -> tuple[RuleInfo, ...]:
    """Every rule described in data/rules/*.yaml, in file-name then file order."""
    out: list[RuleInfo] = []
    for f in sorted((DATA / "rules").glob("*.yaml")):
        for e in yaml.safe_load(f.read_text(encoding="utf-8")) or []:
            out.append(RuleInfo(e["id"], e["severity"], e["title"], e["checks"], e["why"], e["source"]))
    return tuple(out)


@lru_cache(maxsize=1)
def rules_version() -> str:
    """Release from data/ruleset.yaml plus a hash of every rule data file's name and content."""
    release = yaml.safe_load((DATA / "ruleset.yaml").read_text(encoding="utf-8"))["release"]
    h = hashlib.sha256()
    for f in sorted(p for p in DATA.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        h.update(f.relative_to(DATA).as_posix().encode())
        h.update(b"\0")
        h.update(f.read_bytes())
    return f"{release}+{h.hexdigest()[:10]}"
