"""LATERALITY_CONFLICT: the side of an audited line's modifiers (RT/LT/50), of its diagnoses (the final
character of side-bearing ICD-10-CM codes) and of its documentation disagree; an unspecified-side
diagnosis beside a documented side is a query (review).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from ...findings import dotted_icd
from .. import empty_output, registry
from ..registry import AUDITED_LINES, declare, register
from .context import DX, EditContext, FAMILY, as_text, finish, icd9_text, modifier_side, modifiers_text

if TYPE_CHECKING:
    from ..inputs import RuleInputs


def _dx_side_expr(col: str, ctx: EditContext) -> pl.Expr:
    dxp = ctx.policy["diagnoses"]
    c = pl.col(col)
    no_side = [str(p) for p in dxp.get("no_side_prefixes", [])]
    last = c.str.slice(-1)
    expr: pl.Expr = pl.lit(None, dtype=pl.String)
    for group in reversed(dxp["laterality"]):
        prefixes = [str(p) for p in group["prefixes"]]
        match = pl.any_horizontal([c.str.starts_with(p) for p in prefixes])
        if group.get("length"):
            match = match & (c.str.len_chars() == int(group["length"]))
        mapping = {str(k): str(v) for k, v in group["final_character"].items()}
        side = last.replace_strict(mapping, default=None, return_dtype=pl.String)
        expr = pl.when(match).then(side).otherwise(expr)
    if no_side:
        expr = pl.when(pl.any_horizontal([c.str.starts_with(p) for p in no_side])).then(None).otherwise(expr)
    return expr


def _compatible(specific: pl.Expr, dx: pl.Expr) -> pl.Expr:
    """A procedure side fits a diagnosis side when equal, or when one side was treated of a bilateral dx."""
    return (specific == dx) | (specific.is_in(["right", "left"]) & (dx == "bilateral"))


def laterality_conflicts(audited: pl.DataFrame, ctx: EditContext) -> pl.DataFrame:
    """`A`: the audited-code lines with their documented side (see `audited_lines`)."""
    if audited.is_empty():
        return empty_output()
    side_cols = [f"_side_{i}" for i in range(1, 13)]
    a = audited.with_columns([_dx_side_expr(dx, ctx).alias(s) for dx, s in zip(DX, side_cols)])
    sides = [pl.col(s) for s in side_cols]
    a = a.with_columns(
        pl.any_horizontal([s.is_in(["right", "bilateral"]) for s in sides]).fill_null(False).alias("dx_r"),
        pl.any_horizontal([s.is_in(["left", "bilateral"]) for s in sides]).fill_null(False).alias("dx_l"),
        pl.any_horizontal([s == "unspecified" for s in sides]).fill_null(False).alias("dx_u"),
        pl.concat_str(
            [pl.when(pl.col(s).is_not_null()).then(pl.format("{} ({})", dotted_icd(dx), pl.col(s)))
             for dx, s in zip(DX, side_cols)],
            separator=", ", ignore_nulls=True,
        ).alias("dx_text"),
        modifier_side(ctx).alias("mod_side"),
        modifiers_text().alias("mods"),
        icd9_text(audited).alias("icd9"),
    )
    dx_side = (
        pl.when(pl.col("dx_r") & pl.col("dx_l")).then(pl.lit("bilateral"))
        .when(pl.col("dx_r")).then(pl.lit("right"))
        .when(pl.col("dx_l")).then(pl.lit("left"))
        .when(pl.col("dx_u")).then(pl.lit("unspecified"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    a = a.with_columns(dx_side.alias("dx_side"))
    sided_dx = pl.col("dx_side").is_in(["right", "left", "bilateral"])
    mod, doc, dxs = pl.col("mod_side"), pl.col("doc_side"), pl.col("dx_side")
    c_mod_dx = (mod.is_not_null() & sided_dx & ~_compatible(mod, dxs)).fill_null(False)
    c_mod_doc = (mod.is_not_null() & doc.is_not_null() & (mod != doc)).fill_null(False)
    c_dx_doc = (doc.is_not_null() & sided_dx & ~_compatible(doc, dxs)).fill_null(False)
    conflict = c_mod_dx | c_mod_doc | c_dx_doc
    query = ~conflict & (dxs == "unspecified").fill_null(False) & (mod.is_not_null() | doc.is_not_null())
    # ICD-9-CM codes carry no side in a final character: with a side claimed, say it could not be judged
    unjudged = (~conflict & ~query & dxs.is_null() & pl.col("icd9").is_not_null()
                & (mod.is_not_null() | doc.is_not_null()))
    a = a.with_columns(conflict.alias("conflict"), query.alias("query"), unjudged.alias("icd9_only"))
    hits = a.filter(pl.col("conflict") | pl.col("query") | pl.col("icd9_only"))
    if hits.is_empty():
        return empty_output()
    said = pl.format(
        "modifiers say {}, diagnoses say {}, documentation says {}",
        as_text("mod_side", "no side"), as_text("dx_side", "no side"), as_text("doc_side", "no side"),
    )
    documented = pl.coalesce(pl.col("doc_side"), pl.col("mod_side"))
    icd9_note = pl.when(pl.col("icd9").is_not_null()).then(pl.format(
        " The ICD-9-CM diagnoses ({}) could not be judged for side.", pl.col("icd9"))).otherwise(pl.lit(""))
    message = pl.when(pl.col("icd9_only")).then(pl.format(
        "Could not judge the side of the diagnoses: they are ICD-9-CM ({}), whose codes do not carry the side "
        "this edit reads (ICD-10-CM final character). The {} says {}: check that the record documents that side.",
        pl.col("icd9"),
        pl.when(pl.col("doc_side").is_not_null()).then(pl.lit("documentation")).otherwise(pl.lit("modifier")),
        documented,
    )).when(pl.col("conflict")).then(pl.format(
        "The sides disagree ({}). Make the modifier (RT right, LT left, 50 both sides), the final "
        "character of the diagnosis code (1 right, 2 left, 3 bilateral) and the operated side in the note "
        "agree: correct whichever is wrong.{}", said, icd9_note)
    ).otherwise(pl.format(
        "The diagnosis gives no side ({}) but the {} says {}. Query for the side-specific diagnosis "
        "code (final character 1 right, 2 left, 3 bilateral) so the claim is coded to the documented side.",
        pl.col("dx_text"),
        pl.when(pl.col("doc_side").is_not_null()).then(pl.lit("documentation")).otherwise(pl.lit("modifier")),
        documented,
    ))
    return finish(
        hits,
        "LATERALITY_CONFLICT",
        severity=pl.when(pl.col("conflict") & ~pl.col("icd9_only")).then(pl.lit(registry.default_severity("LATERALITY_CONFLICT")))
        .otherwise(pl.lit("review")),
        message=message,
        evidence=pl.format(
            "modifiers {}; side-bearing diagnoses {}; documented side {}",
            pl.col("mods"), as_text(pl.col("dx_text").replace("", None), "none"), as_text("doc_side", "none"),
        ),
        reference=pl.lit(
            "ICD-10-CM laterality convention (final character 1 right, 2 left, 3 bilateral, 9/0 unspecified); "
            "CMS anatomic modifiers RT/LT/50"
        ),
    )


@register(
    declare("LATERALITY_CONFLICT", severity="error", tables=("claim_edit_policy",), scope=AUDITED_LINES, reads=("modifier_", "dx_")),
    family=FAMILY, cost=2)
def check(inputs: RuleInputs) -> pl.DataFrame:
    return laterality_conflicts(inputs.audited, inputs.edits)
