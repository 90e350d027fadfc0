"""PTP_CONFLICT: two lines of the same member, date of service and rendering provider (a line without an
NPI pairs only with lines of its own claim) whose codes form an NCCI procedure-to-procedure edit with an
audited code on either side, without an allowed bypass. The finding sits on the column-2 line and names
the column-1 line.

An E/M visit paired with the audited surgery is not judged here: the global-surgery edit
(:mod:`.global_period`) judges every visit around the surgery, with one fix (57 on the day of a major
surgery; 25 only where the organisation allows it), so one visit never gets two findings that ask for
different modifiers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from ... import ruledata
from .. import empty_output
from ..registry import MEMBER_DATE_PROVIDER, SAME_DATE, declare, register
from .context import (
    EditContext, FAMILY, MODIFIERS, as_text, code_in_ranges, date_text, finish, has_modifier, in_window, line_ref, lines_of_members, modifier_side, modifiers_text, npi_key,
)

if TYPE_CHECKING:
    from ..inputs import RuleInputs


def ptp_conflicts(lines: pl.DataFrame, ctx: EditContext, audited: pl.DataFrame) -> pl.DataFrame:
    visit_after_surgery = pl.col("col1").is_in(ctx.audited) & code_in_ranges("col2", ctx.em_ranges)
    ptp = ctx.rd.ptp.filter(
        (pl.col("col1").is_in(ctx.audited) | pl.col("col2").is_in(ctx.audited))
        & (pl.col("modifier_indicator") != 9)
        & (pl.col("effective_to") >= pl.col("effective_from"))
        & ~visit_after_surgery  # judged by GLOBAL_PERIOD_EM
    )
    if ptp.is_empty():
        return empty_output()
    codes = sorted(set(ptp["col1"].to_list()) | set(ptp["col2"].to_list()))
    keys = ["member_id", "service_date", "npi_key"]
    # only lines of a member with an audited-code line can share (member, date, NPI) with one
    base = lines_of_members(lines, ["line_key", "claim_id", "line_number", "procedure_code", *MODIFIERS, "member_id",
                           "service_date", "rendering_npi"], audited.get_column("member_id").unique(),
                       pl.col("procedure_code").is_in(codes)).with_columns(npi_key())
    anchors = base.filter(pl.col("procedure_code").is_in(ctx.audited)).select(keys).unique()
    grp = base.join(anchors, on=keys, how="semi").with_columns(
        modifier_side(ctx).alias("side"),
        has_modifier(ctx.mod_set("ptp_bypass")).alias("bypass"),
        modifiers_text().alias("mods"),
    )
    sel = ["line_key", "claim_id", "line_number", "procedure_code", "side", "bypass", "mods", *keys]
    one = grp.select(sel).rename({c: f"{c}_1" for c in sel if c not in keys})
    two = grp.select(sel).rename({c: f"{c}_2" for c in sel if c not in keys})
    pairs = (
        one.join(two, on=keys)
        .filter(pl.col("line_key_1") != pl.col("line_key_2"))
        .join(ptp, left_on=["procedure_code_1", "procedure_code_2"], right_on=["col1", "col2"])
        .filter(in_window())
    )
    single = pl.col("side_1").is_in(["right", "left"]) & pl.col("side_2").is_in(["right", "left"])
    bypassed = (pl.col("modifier_indicator") == 1) & (
        pl.col("bypass_1") | pl.col("bypass_2")
        | (single & (pl.col("side_1") != pl.col("side_2")))
    )
    hits = (
        pairs.filter(~bypassed.fill_null(False))
        .sort("line_key_2", "line_key_1")
        .unique(subset=["line_key_2", "procedure_code_1"], keep="first", maintain_order=True)
    )
    if hits.is_empty():
        return empty_output()
    c1, c2 = pl.col("procedure_code_1"), pl.col("procedure_code_2")
    other = line_ref("claim_id_1", "line_number_1")
    msg0 = pl.format(
        "{} is bundled into {} ({}) billed for the same member on the same date by the same provider "
        "(NCCI rationale: {}), and this edit cannot be bypassed with a modifier. Remove {} from the claim; "
        "it is payable only if it was not performed together with {}.",
        c2, c1, other, as_text("rationale"), c2, c1,
    )
    msg1 = pl.format(
        "{} is bundled into {} ({}) billed for the same member on the same date by the same provider "
        "(NCCI rationale: {}). It is payable separately only when it was a distinct service (another "
        "site, incision or session): then add modifier 59 or XE/XS/XP/XU, or RT/LT when the two were on "
        "different sides, and make sure the documentation shows it; otherwise remove the line.",
        c2, c1, other, as_text("rationale"),
    )
    deleted = pl.col("deletion_date") < pl.lit(ruledata.OPEN_END)
    ref = pl.format(
        "NCCI PTP {}/{}, modifier indicator {}, effective {}{}",
        pl.col("col1_ref"), pl.col("col2_ref"), as_text("modifier_indicator"), date_text("version_effective"),
        pl.when(deleted).then(pl.format(", deleted after {}", date_text("deletion_date"))).otherwise(pl.lit("")),
    )
    hits = hits.with_columns(c1.alias("col1_ref"), c2.alias("col2_ref"))
    return finish(
        hits,
        "PTP_CONFLICT",
        line_key=pl.col("line_key_2"),
        message=pl.when(pl.col("modifier_indicator") == 0).then(msg0).otherwise(msg1),
        evidence=pl.format(
            "{} on {} and {} on this line, same member, date of service {}, rendering NPI {}; modifiers on "
            "this line: {}; on the other line: {}",
            c1, other, c2, date_text("service_date"),
            pl.col("npi_key").str.replace(r"^claim:.*$", "none"), pl.col("mods_2"),
            pl.col("mods_1"),
        ),
        related_claim_id=pl.col("claim_id_1"),
        related_line_key=pl.col("line_key_1"),
        related_line_number=pl.col("line_number_1"),
        reference=ref,
    )


@register(
    declare("PTP_CONFLICT", severity="error", tables=("ncci_ptp_practitioner", "claim_edit_policy"),
            scope=MEMBER_DATE_PROVIDER, window=SAME_DATE, reads=("modifier_", "rendering_npi")),
    family=FAMILY, cost=4)
def check(inputs: RuleInputs) -> pl.DataFrame:
    return ptp_conflicts(inputs.lines, inputs.edits, inputs.audited)
