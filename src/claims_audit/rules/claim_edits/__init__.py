"""Claim-level coding edits around the audited code (CPT 34421), one module per edit family:

============================  ==================================================================
:mod:`.ptp`                   PTP_CONFLICT (NCCI procedure-to-procedure pairs)
:mod:`.mue`                   MUE_EXCEEDED (units per member and date of service)
:mod:`.bilateral`             BILATERAL_FORMAT (modifier 50, RT/LT, units)
:mod:`.laterality`            LATERALITY_CONFLICT (sides of modifiers, diagnoses, documentation)
:mod:`.diagnoses`             DIAGNOSIS_INVALID, DIAGNOSIS_NOT_SUPPORTING
:mod:`.global_period`         GLOBAL_PERIOD_EM (visits and returns to the OR in the global period)
:mod:`.modifiers`             MODIFIER_NOT_PAYABLE (assistant, co-surgeon, team)
:mod:`.duplicates`            DUPLICATE_LINE
============================  ==================================================================

:mod:`.context` holds what they share. Every edit is a polars join or window expression over the whole
run's ``lines`` frame (all files together); the CMS tables and code lists they read are versioned rule
data (:mod:`claims_audit.ruledata`), their descriptions ``data/rules/claim_edits.yaml``.
"""

from __future__ import annotations

import polars as pl

from ...ruleconfig import DEFAULT, RuleConfig
from ..registry import evaluate
from .context import FAMILY


def apply(lines: pl.DataFrame, config: RuleConfig = DEFAULT, data_dir=None,  # noqa: ANN001 (ruledata.DataDir)
          doc: pl.DataFrame | None = None) -> pl.DataFrame:
    """The claim edits alone over `lines` (tests, benchmarks); the pipeline runs every family at once.

    ``doc``: line_key + doc_side of the audited lines, used when ``lines`` has no ``doc_side`` column."""
    from ..inputs import rule_inputs

    return evaluate(rule_inputs(lines, config, classified=doc, data_dir=data_dir), config, family=FAMILY)
