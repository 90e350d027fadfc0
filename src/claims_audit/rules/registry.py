"""The rule registry: every rule is declared once, beside the check that evaluates it.

A *check* is one function over the run's :class:`~claims_audit.rules.inputs.RuleInputs` that returns rule
output (see :data:`claims_audit.rules.OUTPUT_SCHEMA`) for the rules it declares: usually one, sometimes
several that share the work (the four documentation rules read one classification; the two diagnosis
edits one pass over the diagnoses). A declaration holds what the code must know about a rule: its id,
family, default severity, the rule-data tables it reads, which lines it looks at, and the window of
service dates it compares (what a claims history must keep for it). The text people read (title, what it
checks, why, source) is data, in ``data/rules/*.yaml``, joined to the registry by id
(:func:`claims_audit.rules.catalogue`).

The pipeline runs whatever the registry holds: every module under :mod:`claims_audit.rules` is imported
once, and the checks they register are all there is. Adding a rule is one module with a registered check,
one catalogue entry and its tests (docs/design.md, "Adding a rule").
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from ..ruleconfig import SEVERITIES

if TYPE_CHECKING:
    from ..ruleconfig import RuleConfig
    from .inputs import RuleInputs

# which lines a rule looks at (Rules sheet and docs/design.md use these words)
AUDITED_LINES = "lines of the audited code"
FAMILY_LINES = "lines of the audited code and its code family"
MEMBER_DATE_PROVIDER = "lines of the same member, date of service and rendering provider as an audited line"
MEMBER_PROVIDER = "lines of the same member and rendering provider as an audited line"

# the service dates a rule compares (what history must keep for it)
SAME_LINE = "the line itself"
SAME_DATE = "same date of service"
GLOBAL_PERIOD = "the global period of the surgery (and the day before)"


@dataclass(frozen=True)
class Declaration:
    """What the code knows about one rule (the catalogue YAML holds the words)."""

    id: str
    family: str
    severity: str  # default; an organisation may change it in its rule configuration
    tables: tuple[str, ...]  # rule-data tables read (names as on the Rules sheet)
    scope: str  # which lines it looks at
    window: str  # which service dates it compares
    reads: tuple[str, ...] = ()  # optional values it reads ("modifier_", "rendering_npi", "dx_": prefixes)


@dataclass(frozen=True)
class Check:
    """One evaluating function and the rules whose findings it returns."""

    name: str
    family: str
    rules: tuple[Declaration, ...]
    evaluate: Callable[[RuleInputs], pl.DataFrame]
    cost: int  # relative running time: the slowest checks start first so that the workers end together


_CHECKS: list[Check] = []


def declare(rule_id: str, *, severity: str, tables: tuple[str, ...] = (), scope: str = AUDITED_LINES,
            window: str = SAME_LINE, reads: tuple[str, ...] = ()) -> dict[str, object]:
    """The declaration of one rule, completed with its family by :func:`register`."""
    if severity not in SEVERITIES:
        raise ValueError(f"rule {rule_id}: severity {severity!r} is not one of {SEVERITIES}")
    return {"id": rule_id, "severity": severity, "tables": tuple(tables), "scope": scope, "window": window,
            "reads": tuple(reads)}


def register(*rules: dict[str, object], family: str, cost: int = 1
             ) -> Callable[[Callable[[RuleInputs], pl.DataFrame]], Callable[[RuleInputs], pl.DataFrame]]:
    """Register the decorated function as the check of `rules` (made with :func:`declare`)."""

    def add(fn: Callable[[RuleInputs], pl.DataFrame]) -> Callable[[RuleInputs], pl.DataFrame]:
        declared = tuple(Declaration(family=family, **r) for r in rules)  # type: ignore[arg-type]
        taken = {d.id for c in _CHECKS for d in c.rules} & {d.id for d in declared}
        if taken:
            raise ValueError(f"rule(s) registered twice: {', '.join(sorted(taken))}")
        _CHECKS.append(Check(f"{fn.__module__}.{fn.__name__}", family, declared, fn, cost))
        return fn

    return add


@functools.cache
def _import_rule_modules() -> None:
    """Import every module under claims_audit.rules, so that each registers its checks."""
    from .. import rules as package

    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)


def checks() -> tuple[Check, ...]:
    _import_rule_modules()
    return tuple(_CHECKS)


def declarations() -> dict[str, Declaration]:
    """Every registered rule by id, in registration order."""
    return {d.id: d for c in checks() for d in c.rules}


def rule_ids() -> tuple[str, ...]:
    return tuple(declarations())


def rules_reading(column_prefix: str) -> tuple[str, ...]:
    """The rules whose findings an optional value of this column (prefix) can change."""
    return tuple(d.id for d in declarations().values() if column_prefix in d.reads)


def default_severity(rule_id: str) -> str:
    return declarations()[rule_id].severity


def evaluate(inputs: RuleInputs, config: RuleConfig, family: str | None = None) -> pl.DataFrame:
    """Run every check (of `family`, or all) with at least one enabled rule, and apply the configuration:
    findings of disabled rules are dropped, configured severities replace the rules' own.

    The checks are independent chains of polars operations (which release the GIL): they run on one
    thread per polars core, the slowest first. The output is ordered by line, rule and related line,
    whatever order the checks finished in."""
    from . import conform, empty_output

    wanted = [c for c in checks() if (family is None or c.family == family)
              and any(config.enabled(d.id) for d in c.rules)]
    wanted.sort(key=lambda c: -c.cost)
    with ThreadPoolExecutor(pl.thread_pool_size()) as pool:
        parts = list(pool.map(lambda check: conform(check.evaluate(inputs)), wanted))
    out = pl.concat([empty_output(), *parts], how="vertical")
    if config.disabled:
        out = out.filter(~pl.col("rule_id").is_in(list(config.disabled)))
    overrides = config.severity_overrides
    if overrides:
        out = out.with_columns(pl.col("rule_id").replace_strict(overrides, default=pl.col("severity"),
                                                                return_dtype=pl.String).alias("severity"))
    return out.sort("line_key", "rule_id", "related_line_number", nulls_last=True, maintain_order=True)
