"""MODIFIER_NOT_PAYABLE: assistant (80/81/82/AS), co-surgeon (62) and team (66) modifiers on lines of the
code family that the fee schedule's indicators do not allow (or allow only with documentation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from .. import empty_output
from ..registry import FAMILY_LINES, declare, register
from .context import EditContext, FAMILY, MODIFIERS, date_text, finish, has_modifier, in_window

if TYPE_CHECKING:
    from ..inputs import RuleInputs


def unpayable_modifiers(lines: pl.DataFrame, ctx: EditContext) -> pl.DataFrame:
    kinds = ctx.policy["pfs_indicators"]
    all_mods = sorted({str(m) for k in kinds for m in ctx.mod_set(k)})
    base = (lines.select("line_key", "procedure_code", *MODIFIERS, "service_date")
            .filter(pl.col("procedure_code").is_in(ctx.family)).filter(has_modifier(all_mods)))
    if base.is_empty():
        return empty_output()
    base = base.join(ctx.pfs, left_on="procedure_code", right_on="hcpcs").filter(in_window())
    parts = []
    for kind, spec in kinds.items():
        mods = ctx.mod_set(kind)
        meaning = pl.DataFrame(
            {"ind": [str(k) for k in spec["values"]],
             "sev": [v.get("severity") for v in spec["values"].values()],
             "meaning": [v.get("meaning") for v in spec["values"].values()]},
            schema={"ind": pl.String, "sev": pl.String, "meaning": pl.String},
        )
        col = str(spec["column"])
        present = pl.concat_str(
            [pl.when(pl.col(m).is_in(mods)).then(pl.col(m)) for m in MODIFIERS], separator="-", ignore_nulls=True
        )
        part = (
            base.filter(has_modifier(mods))
            .with_columns(pl.col(col).alias("ind"), present.alias("present"), pl.lit(str(spec["label"])).alias("label"),
                          pl.lit(col).alias("ind_col"))
            .join(meaning, on="ind", how="left")
            .filter(pl.col("sev").is_not_null())
        )
        parts.append(part.select("line_key", "procedure_code", "ind", "sev", "meaning", "present", "label",
                                 "ind_col", "version", "version_effective", "service_date"))
    hits = pl.concat(parts)
    if hits.is_empty():
        return empty_output()
    fix = (
        pl.when(pl.col("sev") == "review").then(pl.lit(
            "Keep the modifier only if the operative note documents why it was needed, and send that "
            "documentation with the claim."))
        .when(pl.col("sev") == "warning").then(pl.lit("Remove the modifier; it has no meaning for this code."))
        .otherwise(pl.lit("Remove the modifier: that service is not payable for this code."))
    )
    return finish(
        hits,
        "MODIFIER_NOT_PAYABLE",
        severity=pl.col("sev"),
        message=pl.format(
            "Modifier {} ({}) on {}: the fee schedule {} indicator is {} - {}. {}",
            pl.col("present"), pl.col("label"), pl.col("procedure_code"), pl.col("label"), pl.col("ind"),
            pl.col("meaning"), fix,
        ),
        evidence=pl.format("{} with modifier {} on {}", pl.col("procedure_code"), pl.col("present"),
                           date_text("service_date")),
        reference=pl.format(
            "PFS {} {} indicator ({}) {}, {}, effective {}",
            pl.col("procedure_code"), pl.col("label"), pl.col("ind_col"), pl.col("ind"), pl.col("version"),
            date_text("version_effective"),
        ),
    )


@register(
    declare("MODIFIER_NOT_PAYABLE", severity="error", tables=("pfs_indicators", "claim_edit_policy"),
            scope=FAMILY_LINES, reads=("modifier_",)),
    family=FAMILY, cost=1)
def check(inputs: RuleInputs) -> pl.DataFrame:
    return unpayable_modifiers(inputs.lines, inputs.edits)
