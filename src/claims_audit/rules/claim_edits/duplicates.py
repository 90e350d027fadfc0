"""DUPLICATE_LINE: the same member, date of service, code, modifiers and rendering provider billed twice on
lines of the code family, across claims and files. The finding sits on every line after the first and
names the first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from .. import empty_output
from ..registry import FAMILY_LINES, SAME_DATE, declare, register
from .context import EditContext, FAMILY, MODIFIERS, as_text, date_text, finish, line_ref

if TYPE_CHECKING:
    from ..inputs import RuleInputs


def duplicate_lines(lines: pl.DataFrame, ctx: EditContext) -> pl.DataFrame:
    # only lines sharing member, date, code and provider with another line can be duplicates: find them
    # on the key columns of the family lines, then take the other columns of those few lines only
    pos = lines.select(pl.arg_where(pl.col("procedure_code").is_in(ctx.family))).to_series()
    grp = ["member_id", "service_date", "procedure_code", "rendering_npi"]
    shared = lines.select(pl.col(grp).gather(pos)).select(pl.len().over(grp) > 1).to_series()
    d = lines.select(pl.col("line_key", "claim_id", "line_number", "source_file", "source_row", *grp, *MODIFIERS)
                 .gather(pos.filter(shared)))
    if d.is_empty():
        return empty_output()
    d = d.with_columns(
        pl.concat_list(MODIFIERS).list.drop_nulls().list.unique().list.sort().list.join("-").alias("modset"),
        pl.col("rendering_npi").fill_null("").alias("npi_fill"),
    ).sort("line_key")
    keys = ["member_id", "service_date", "procedure_code", "modset", "npi_fill"]
    d = d.with_columns(
        pl.col("line_key").first().over(keys).alias("first_key"),
        pl.col("claim_id").first().over(keys).alias("first_claim"),
        pl.col("line_number").first().over(keys).alias("first_line"),
        pl.col("source_file").first().over(keys).alias("first_file"),
        pl.col("source_row").first().over(keys).alias("first_row"),
    )
    hits = d.filter(pl.col("line_key") != pl.col("first_key"))
    if hits.is_empty():
        return empty_output()
    return finish(
        hits,
        "DUPLICATE_LINE",
        message=pl.format(
            "The same service is billed twice: {} for this member on {} by the same provider with the same "
            "modifiers ({}) is already on {} ({} row {}). Remove this line, or if it was a separate service "
            "add the modifier that shows why (e.g. 76/77 repeat procedure, RT/LT, 59).",
            pl.col("procedure_code"), date_text("service_date"), pl.col("modset").replace("", "none"),
            line_ref("first_claim", "first_line"), pl.col("first_file"), as_text("first_row"),
        ),
        evidence=pl.format(
            "same member, date {}, code {}, modifiers {}, rendering NPI {}; this line {} row {}",
            date_text("service_date"), pl.col("procedure_code"), pl.col("modset").replace("", "none"),
            as_text("rendering_npi", "none"), pl.col("source_file"), as_text("source_row"),
        ),
        related_claim_id=pl.col("first_claim"),
        related_line_key=pl.col("first_key"),
        related_line_number=pl.col("first_line"),
        reference=pl.lit(
            "claims-audit duplicate rule: same member, date of service, code, modifiers and rendering NPI"
        ),
    )


@register(
    declare("DUPLICATE_LINE", severity="error", tables=("claim_edit_policy",), scope=FAMILY_LINES,
            window=SAME_DATE, reads=("modifier_", "rendering_npi")),
    family=FAMILY, cost=4)
def check(inputs: RuleInputs) -> pl.DataFrame:
    return duplicate_lines(inputs.lines, inputs.edits)
