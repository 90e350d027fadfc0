"""What every check reads, prepared once per run: the whole run's lines (the columns the edits read),
the audited-code lines with their documented side, the documentation classification of those lines, the
claim edits' context (rule data, policy, configuration) and the configuration itself."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from .. import ruledata
from ..ruleconfig import DEFAULT, RuleConfig
from .claim_edits.context import EditContext, audited_lines, prepare


@dataclass(frozen=True)
class RuleInputs:
    lines: pl.DataFrame  # every audited row of the run (a zero-copy selection of its columns)
    audited: pl.DataFrame  # the lines of the audited code(s), with doc_side
    classified: pl.DataFrame  # the same lines with the documentation classification (doc_* columns)
    edits: EditContext
    config: RuleConfig


def rule_inputs(lines: pl.DataFrame, config: RuleConfig = DEFAULT, *, classified: pl.DataFrame | None = None,
                data_dir: ruledata.DataDir = None) -> RuleInputs:
    """Prepare the inputs of every check. `classified`: the audited lines as
    :func:`claims_audit.documentation.classify` returns them (its doc_side feeds the laterality edit);
    without it the documentation rules see no lines and the side comes from a doc_side column of `lines`,
    if any."""
    context = EditContext(ruledata.load(data_dir), config)
    prepared = prepare(lines)
    doc_side = classified.select("line_key", "doc_side") if classified is not None else None
    audited = audited_lines(prepared, context, doc_side)
    if classified is None:
        classified = audited.clear()
    return RuleInputs(prepared, audited, classified, context, config)
