"""MUE_EXCEEDED: units of an audited code per member and date of service (or on one line, by the MUE
adjudication indicator) above the NCCI Medically Unlikely Edit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from .. import empty_output
from ..registry import AUDITED_LINES, SAME_DATE, declare, register
from .context import EditContext, FAMILY, as_text, date_text, finish, in_window, line_ref

if TYPE_CHECKING:
    from ..inputs import RuleInputs


def mue_excess(audited: pl.DataFrame, ctx: EditContext) -> pl.DataFrame:
    """`A`: the audited-code lines, selected once in `apply` for every edit (`audited_lines`)."""
    mue = ctx.rd.mue.filter(
        (pl.col("mue_service") == str(ctx.policy.get("mue_service", "Practitioner")))
        & pl.col("hcpcs_code").is_in(ctx.audited)
    )
    a = (
        audited.join(mue, left_on="procedure_code", right_on="hcpcs_code")
        .filter(in_window())
        .sort("line_key")
    )
    if a.is_empty():
        return empty_output()
    grp = ["member_id", "service_date", "procedure_code"]
    per_line = pl.col("mue_mai") == 1
    a = a.with_columns(
        pl.when(per_line).then(pl.col("units")).otherwise(pl.col("units").cum_sum().over(grp)).alias("counted"),
        pl.when(per_line).then(pl.col("units")).otherwise(pl.col("units").sum().over(grp)).alias("total"),
        pl.when(per_line).then(1).otherwise(pl.len().over(grp)).alias("n_lines"),
        pl.col("line_key").first().over(grp).alias("first_key"),
        pl.col("claim_id").first().over(grp).alias("first_claim"),
        pl.col("line_number").first().over(grp).alias("first_line"),
    )
    hits = a.filter(pl.col("counted") > pl.col("mue_units"))
    if hits.is_empty():
        return empty_output()
    is_first = per_line | (pl.col("first_key") == pl.col("line_key"))
    scope = pl.when(per_line).then(pl.lit("on one line")).otherwise(pl.lit("per member and date of service"))
    return finish(
        hits,
        "MUE_EXCEEDED",
        message=pl.format(
            "{} units of {} are billed for this member on {} ({} line(s)); the MUE allows {} {}. Bill at "
            "most {} unit(s): a bilateral procedure is one line with modifier 50 and 1 unit; remove or "
            "correct the extra units{}.",
            as_text("total"), pl.col("procedure_code"), date_text("service_date"), as_text("n_lines"), as_text("mue_units"), scope,
            as_text("mue_units"),
            pl.when(is_first).then(pl.lit("")).otherwise(
                pl.format(" (the first line of that date is {})", line_ref("first_claim", "first_line"))
            ),
        ),
        evidence=pl.format(
            "units on this line {}; units counted up to and including this line {}; same member, date {}",
            as_text("units"), as_text("counted"), date_text("service_date"),
        ),
        related_claim_id=pl.when(is_first).then(None).otherwise(pl.col("first_claim")),
        related_line_key=pl.when(is_first).then(None).otherwise(pl.col("first_key")),
        related_line_number=pl.when(is_first).then(None).otherwise(pl.col("first_line")),
        reference=pl.format(
            "NCCI MUE {} ({}): {} unit(s), MAI {} ({}), effective {}",
            pl.col("procedure_code"), pl.col("mue_service"), as_text("mue_units"), as_text("mue_mai"),
            as_text("mue_rationale"), date_text("version_effective"),
        ),
    )


@register(
    declare("MUE_EXCEEDED", severity="error", tables=("ncci_mue", "claim_edit_policy"), scope=AUDITED_LINES,
            window=SAME_DATE),
    family=FAMILY, cost=1)
def check(inputs: RuleInputs) -> pl.DataFrame:
    return mue_excess(inputs.audited, inputs.edits)
