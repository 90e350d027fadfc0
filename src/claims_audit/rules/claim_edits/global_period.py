"""GLOBAL_PERIOD_EM: E/M visits and later procedures by the same member and rendering provider inside the
global period of an audited-code line (the day before and the day of a major surgery without 57, later
visits without 24 or with the surgery's diagnosis, returns to the operating room without 58/78/79). The
finding sits on the visit or procedure line and names the surgery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from ...findings import dotted_icd
from .. import empty_output
from ..registry import GLOBAL_PERIOD, MEMBER_PROVIDER, declare, register
from .context import (
    DX, EditContext, FAMILY, MODIFIERS, as_text, code_in_ranges, codes_where, date_text, finish, has_modifier, in_window, line_ref, lines_of_members, modifiers_text, npi_key,
)

if TYPE_CHECKING:
    from ..inputs import RuleInputs


def global_period_findings(lines: pl.DataFrame, ctx: EditContext, audited: pl.DataFrame) -> pl.DataFrame:
    gp = ctx.policy["global_periods"]
    glob_map = pl.DataFrame(
        {"glob_days": [str(k) for k in gp], "post_days": [int(v["post_days"]) for v in gp.values()],
         "pre_days": [1 if v.get("day_before") else 0 for v in gp.values()]},
    )
    pfs = ctx.pfs.filter(pl.col("hcpcs").is_in(ctx.audited)).join(glob_map, on="glob_days")
    anchors = (
        audited.with_columns(npi_key())
        .join(pfs, left_on="procedure_code", right_on="hcpcs")
        .filter(in_window())
        .select(
            "member_id", "npi_key",
            pl.col("service_date").alias("a_date"), pl.col("line_key").alias("a_key"),
            pl.col("claim_id").alias("a_claim"), pl.col("line_number").alias("a_line"),
            pl.col("procedure_code").alias("a_code"), "glob_days", "post_days", "pre_days",
            pl.col("version").alias("pfs_version"), pl.col("version_effective").alias("pfs_effective"),
            *[pl.col(c).alias(f"a_{c}") for c in DX],  # the surgery's diagnoses (columns: no list building)
        )
    )
    if anchors.is_empty():
        return empty_output()
    keys = ["member_id", "npi_key"]
    who = anchors.select(keys).unique()
    is_em = code_in_ranges("procedure_code", ctx.em_ranges)
    is_proc = code_in_ranges("procedure_code", ctx.proc_ranges) & ~is_em
    cols = ["line_key", "claim_id", "line_number", "procedure_code", *MODIFIERS, "member_id", "service_date",
            "rendering_npi", "dx_1"]
    cand = (
        lines_of_members(lines, cols, who.get_column("member_id").unique(), codes_where(lines, is_em | is_proc))
        .with_columns(npi_key())
        .join(who, on=keys, how="semi")
    )
    pairs = (
        cand.join(anchors, on=keys)
        .filter(pl.col("line_key") != pl.col("a_key"))
        .with_columns((pl.col("service_date") - pl.col("a_date")).dt.total_days().alias("delta"))
        .filter((pl.col("delta") >= -pl.col("pre_days")) & (pl.col("delta") <= pl.col("post_days")))
        .with_columns(  # per pair inside the window only
            is_em.alias("is_em"),
            has_modifier(ctx.mod_set("decision_for_surgery")).alias("m57"),
            has_modifier(ctx.mod_set("separate_em_same_day")).alias("m25"),
            has_modifier(ctx.mod_set("unrelated_em_postop")).alias("m24"),
            has_modifier(ctx.mod_set("return_to_or")).alias("m_or"),
            modifiers_text().alias("mods"),
        )
    )
    allow25 = ctx.config.allow_25_for_em_day_of_surgery
    major = pl.col("pre_days") > 0
    em, delta = pl.col("is_em"), pl.col("delta")
    preop = em & (delta <= 0)
    preop_ok = (major & pl.col("m57")) | ((delta == 0) & pl.col("m25") & (pl.lit(allow25) | ~major))
    post = em & (delta > 0)
    same_dx = pl.col("dx_1").is_null() | pl.any_horizontal(
        [(pl.col(f"a_{c}") == pl.col("dx_1")).fill_null(False) for c in DX])
    post_24_same = post & pl.col("m24") & same_dx
    post_bad = post & (~pl.col("m24") | same_dx)
    proc_bad = ~em & (delta > 0) & ~pl.col("m_or")
    flagged = (preop & ~preop_ok) | post_bad | proc_bad
    hits = (
        pairs.filter(flagged)
        .with_columns(post_24_same.alias("same24"), preop.alias("preop"), delta.abs().alias("dist"))
        .sort("line_key", "dist", "a_key")
        .unique(subset="line_key", keep="first", maintain_order=True)
    )
    if hits.is_empty():
        return empty_output()
    surgery = pl.format("the {} on {} ({})", pl.col("a_code"), date_text("a_date"), line_ref("a_claim", "a_line"))
    day_word = pl.when(delta == 0).then(pl.lit("the day of")).otherwise(pl.lit("the day before"))
    pre_fix = (
        "add modifier 57 if this visit was the decision for surgery (or 25 for a significant, separately "
        "identifiable service on the day of surgery, which this organisation's policy allows)"
        if allow25 else "add modifier 57 if this visit was the decision for surgery"
    )
    message = (
        pl.when(pl.col("preop")).then(pl.format(
            "Visit {} on {} is {} {} by the same provider; it falls in the {}-day global period, so it is "
            "part of the surgical package. Remove it, or {} and make sure the note shows it.",
            pl.col("procedure_code"), date_text("service_date"), day_word, surgery, pl.col("glob_days"), pl.lit(pre_fix)))
        .when(pl.col("same24")).then(pl.format(
            "Visit {} on {} is {} day(s) after {} by the same provider and has modifier 24, but its diagnosis "
            "{} is the surgery's diagnosis. Modifier 24 is only for a problem unrelated to the surgery: "
            "remove the visit (post-operative care is in the {}-day global package) or code the unrelated "
            "diagnosis first.",
            pl.col("procedure_code"), date_text("service_date"), as_text("delta"), surgery,
            as_text(dotted_icd("dx_1"), "(none)"),
            pl.col("glob_days")))
        .when(em).then(pl.format(
            "Visit {} on {} is {} day(s) after {} by the same provider, inside its {}-day global period; "
            "post-operative visits are included in the surgery. Bill it only if it was for an unrelated "
            "problem, with modifier 24 and the unrelated diagnosis; otherwise remove it.",
            pl.col("procedure_code"), date_text("service_date"), as_text("delta"), surgery, pl.col("glob_days")))
        .otherwise(pl.format(
            "Procedure {} on {} is {} day(s) after {} by the same provider, inside its {}-day global period. "
            "Add 78 (unplanned return to the operating room for a related problem), 79 (unrelated "
            "procedure) or 58 (staged or planned) as the note supports; without one it is not payable "
            "separately.",
            pl.col("procedure_code"), date_text("service_date"), as_text("delta"), surgery, pl.col("glob_days")))
    )
    return finish(
        hits,
        "GLOBAL_PERIOD_EM",
        message=message,
        evidence=pl.format(
            "{} on {} with modifiers {} and first diagnosis {}; surgery {} on {} with diagnoses {}; rendering NPI {}",
            pl.col("procedure_code"), date_text("service_date"), pl.col("mods"), as_text(dotted_icd("dx_1"), "none"),
            pl.col("a_code"), date_text("a_date"),
            pl.concat_str([dotted_icd(f"a_{c}") for c in DX], separator=", ", ignore_nulls=True),
            pl.col("npi_key"),
        ),
        related_claim_id=pl.col("a_claim"),
        related_line_key=pl.col("a_key"),
        related_line_number=pl.col("a_line"),
        reference=pl.format(
            "PFS {} global days {}, {}, effective {}",
            pl.col("a_code"), pl.col("glob_days"), pl.col("pfs_version"), date_text("pfs_effective"),
        ),
    )


@register(
    declare("GLOBAL_PERIOD_EM", severity="error", tables=("pfs_indicators", "claim_edit_policy"),
            scope=MEMBER_PROVIDER, window=GLOBAL_PERIOD, reads=("modifier_", "rendering_npi", "dx_")),
    family=FAMILY, cost=5)
def check(inputs: RuleInputs) -> pl.DataFrame:
    return global_period_findings(inputs.lines, inputs.edits, inputs.audited)
