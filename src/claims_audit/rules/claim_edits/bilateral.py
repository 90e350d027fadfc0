"""BILATERAL_FORMAT: a bilateral audited procedure billed as 2 units, as RT and LT on one line, or as separate
RT and LT lines for the same member and date, instead of one line with modifier 50 and 1 unit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from .. import empty_output
from ..registry import AUDITED_LINES, SAME_DATE, declare, register
from .context import (
    EditContext, FAMILY, as_text, date_text, finish, has_modifier, in_window, line_ref, modifier_side, modifiers_text, side_modifiers,
)

if TYPE_CHECKING:
    from ..inputs import RuleInputs


def bilateral_format(audited: pl.DataFrame, ctx: EditContext) -> pl.DataFrame:
    """`A`: the audited-code lines, selected once in `apply` for every edit (`audited_lines`)."""
    pfs = ctx.pfs.filter((pl.col("bilat_surg") == "1") & pl.col("hcpcs").is_in(ctx.audited))
    m50, rt, lt = (side_modifiers(ctx, s) for s in ("bilateral", "right", "left"))
    b = (
        audited.join(pfs, left_on="procedure_code", right_on="hcpcs")
        .filter(in_window())
        .with_columns(
            has_modifier(m50).alias("has50"),
            (has_modifier(rt) & has_modifier(lt)).alias("both_sides"),
            modifier_side(ctx).alias("side"),
            modifiers_text().alias("mods"),
        )
        .sort("line_key")
    )
    if b.is_empty():
        return empty_output()
    grp = ["member_id", "service_date", "procedure_code"]
    sided = b.filter(pl.col("side").is_in(["right", "left"]) & ~pl.col("both_sides"))
    firsts = (
        sided.group_by([*grp, "side"], maintain_order=True)
        .agg(pl.col("line_key").first().alias("opp_key"), pl.col("claim_id").first().alias("opp_claim"),
             pl.col("line_number").first().alias("opp_line"))
        .with_columns(pl.when(pl.col("side") == "right").then(pl.lit("left")).otherwise(pl.lit("right")).alias("side"))
    )
    b = b.join(firsts, on=[*grp, "side"], how="left")
    separate = pl.col("opp_key").is_not_null() & (pl.col("opp_key") < pl.col("line_key")) & ~pl.col("both_sides")
    both = pl.col("both_sides")
    fifty_units = pl.col("has50") & (pl.col("units") >= 2)
    two_units = ~pl.col("has50") & (pl.col("units") >= 2)
    hits = b.filter(both | fifty_units | two_units | separate)
    if hits.is_empty():
        return empty_output()
    code = pl.col("procedure_code")
    message = (
        pl.when(both).then(pl.format(
            "{} carries both RT and LT on one line. A bilateral {} is billed as one line with modifier 50 "
            "and 1 unit (instead of RT and LT).", code, code))
        .when(fifty_units).then(pl.format(
            "{} with modifier 50 is billed with {} units. A bilateral {} is one line with modifier 50 and "
            "1 unit; change the units to 1.", code, as_text("units"), code))
        .when(two_units).then(pl.format(
            "{} is billed with {} units on one line. If both sides were treated, bill one line with "
            "modifier 50 and 1 unit; if one side, bill 1 unit with RT or LT.", code, as_text("units")))
        .otherwise(pl.format(
            "{} is billed as separate {} and {} lines ({} is the other side). A bilateral {} is billed as "
            "one line with modifier 50 and 1 unit: replace the two lines by one.",
            code, pl.when(pl.col("side") == "left").then(pl.lit("RT")).otherwise(pl.lit("LT")),
            pl.when(pl.col("side") == "left").then(pl.lit("LT")).otherwise(pl.lit("RT")),
            line_ref("opp_claim", "opp_line"), code))
    )
    related = separate & ~both & ~fifty_units & ~two_units
    return finish(
        hits,
        "BILATERAL_FORMAT",
        message=message,
        evidence=pl.format("units {}, modifiers {}, date {}", as_text("units"), pl.col("mods"), date_text("service_date")),
        related_claim_id=pl.when(related).then(pl.col("opp_claim")).otherwise(None),
        related_line_key=pl.when(related).then(pl.col("opp_key")).otherwise(None),
        related_line_number=pl.when(related).then(pl.col("opp_line")).otherwise(None),
        reference=pl.format(
            "PFS {} bilateral surgery indicator {}, {}, effective {}",
            code, pl.col("bilat_surg"), pl.col("version"), date_text("version_effective"),
        ),
    )


@register(
    declare("BILATERAL_FORMAT", severity="warning", tables=("pfs_indicators", "claim_edit_policy"),
            scope=AUDITED_LINES, window=SAME_DATE, reads=("modifier_",)),
    family=FAMILY, cost=1)
def check(inputs: RuleInputs) -> pl.DataFrame:
    return bilateral_format(inputs.audited, inputs.edits)
