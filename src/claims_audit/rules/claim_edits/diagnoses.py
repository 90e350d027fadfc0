"""DIAGNOSIS_INVALID and DIAGNOSIS_NOT_SUPPORTING: the diagnoses of an audited line, one pass for both
(codes not in ICD-10-CM or not billable; no diagnosis at an audited-code site, saying which code family
the diagnoses point to). The only Python-level work is one lookup per *distinct* diagnosis code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from ... import ruledata
from ...findings import dotted_icd
from .. import empty_output, registry
from ..registry import AUDITED_LINES, declare, register
from .context import DX, EditContext, FAMILY, as_text, finish, icd9_text

if TYPE_CHECKING:
    from ..inputs import RuleInputs


def icd_facts(codes: list[str]) -> pl.DataFrame:
    """code, exists, billable, display (dotted), hint (billable codes under a heading) per distinct code."""
    table = ruledata.icd10cm_codes()
    info = pl.DataFrame({"code": codes}, schema={"code": pl.String}).join(table, on="code", how="left")
    headings = info.filter(pl.col("billable") == False).get_column("code").to_list()  # noqa: E712
    hints = {}
    for h in headings:  # one prefix search per distinct non-billable code, not per line
        kids = table.filter(pl.col("billable") & pl.col("code").str.starts_with(h)).get_column("code")
        dotted = [k[:3] + "." + k[3:] for k in kids.head(7).to_list()]
        hints[h] = ", ".join(dotted[:6]) + (", ..." if len(dotted) > 6 else "")
    c = pl.col("code")
    return info.with_columns(
        pl.col("billable").is_not_null().alias("exists"),
        pl.col("billable").fill_null(False),
        dotted_icd("code").alias("display"),
        c.replace_strict(hints, default="", return_dtype=pl.String).alias("hint"),
    )


def _classify(code: str, policy_items: tuple) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    """(kind, site/means, group, family, suggested_code) of a dx code from the policy prefix lists."""
    for kind, prefix, site, group, family, suggested in policy_items:
        if code.startswith(prefix):
            return kind, site, group, family, suggested
    return None, None, None, None, None


def _policy_items(ctx: EditContext) -> tuple:
    d = ctx.policy["diagnoses"]
    items: list[tuple] = []
    for e in d["supports"]:
        items.append(("support", str(e["prefix"]), e.get("site"), None, None, None))
    for e in d["supports_with_i82"]["codes"]:
        items.append(("pregnancy", str(e["prefix"]), e.get("site"), None, None, None))
    for e in d["weak"]:
        items.append(("weak", str(e["prefix"]), e.get("site"), None, None, None))
    for g in d["elsewhere"]:
        for p in g["prefixes"]:
            items.append(
                ("elsewhere", str(p), g.get("means"), g.get("group"), g.get("family"), g.get("suggested_code"))
            )
    # longest prefix first so a specific entry wins over a general one
    return tuple(sorted(items, key=lambda t: -len(t[1])))


def _dx_long(audited: pl.DataFrame, ctx: EditContext) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`A` (the audited-code lines) and their diagnoses one per row, with code-set and policy facts."""
    long = (
        audited.select("line_key", *DX)
        .unpivot(on=DX, index="line_key", variable_name="dx_col", value_name="code")
        .drop_nulls("code")
        .with_columns(pl.col("dx_col").str.strip_prefix("dx_").cast(pl.Int64).alias("pos"))
    )
    items = _policy_items(ctx)
    uniq = sorted(long["code"].unique().to_list())
    rows = [(code, *_classify(code, items)) for code in uniq]  # one per distinct code, not per line
    kinds = pl.DataFrame(
        rows,
        schema={"code": pl.String, "kind": pl.String, "site": pl.String, "group": pl.String,
                "family": pl.String, "suggested": pl.String},
        orient="row",
    )
    info = icd_facts(uniq).join(kinds, on="code", how="left")
    return audited, long.join(info, on="code", how="left").sort("line_key", "pos")


def diagnosis_edits(audited: pl.DataFrame, ctx: EditContext) -> tuple[pl.DataFrame, pl.DataFrame]:
    a, long = _dx_long(audited, ctx)
    if a.is_empty():
        return empty_output(), empty_output()
    ref_icd = ruledata.icd10cm_reference()
    companion = str(ctx.policy["diagnoses"]["supports_with_i82"]["companion_prefix"])

    # DIAGNOSIS_INVALID: one finding per line listing every invalid or non-billable code
    bad = long.filter(~pl.col("exists") | ~pl.col("billable"))
    invalid = empty_output()
    if not bad.is_empty():
        bad = bad.with_columns(
            pl.when(~pl.col("exists"))
            .then(pl.format("{} is not an ICD-10-CM code", pl.col("code")))
            .otherwise(pl.format("{} is a heading, not a billable code; use a complete code such as {}",
                                 pl.col("display"), pl.col("hint")))
            .alias("why"),
            pl.format("{} = {}", pl.col("dx_col"), pl.col("display")).alias("ev"),
        )
        per = bad.group_by("line_key", maintain_order=True).agg(
            pl.col("why").str.join("; ").alias("why"), pl.col("ev").str.join(", ").alias("ev")
        )
        invalid = finish(
            per,
            "DIAGNOSIS_INVALID",
            message=pl.format("{}. Replace it with the valid, complete ICD-10-CM code the record supports.",
                              pl.col("why")),
            evidence=pl.col("ev"),
            reference=pl.lit(ref_icd),
        )

    # DIAGNOSIS_NOT_SUPPORTING
    ok = long.filter(pl.col("exists"))
    agg = ok.group_by("line_key").agg(
        (pl.col("kind") == "support").any().alias("support"),
        (pl.col("kind") == "pregnancy").any().alias("preg"),
        pl.col("code").str.starts_with(companion).any().alias("i82"),
        (pl.col("kind") == "weak").any().alias("weak"),
        pl.col("display").filter(pl.col("kind") == "weak").first().alias("weak_code"),
        pl.col("site").filter(pl.col("kind") == "weak").first().alias("weak_site"),
        pl.col("display").filter(pl.col("kind") == "elsewhere").first().alias("else_code"),
        pl.col("site").filter(pl.col("kind") == "elsewhere").first().alias("else_means"),
        pl.col("family").filter(pl.col("kind") == "elsewhere").first().alias("else_family"),
        pl.col("suggested").filter(pl.col("kind") == "elsewhere").first().alias("else_suggested"),
    )
    all_codes = long.group_by("line_key").agg(pl.col("display").str.join(", ").alias("codes"))
    lines = (
        a.select("line_key", "procedure_code", icd9_text(a).alias("icd9"))
        .join(agg, on="line_key", how="left")
        .join(all_codes, on="line_key", how="left")
        .with_columns(pl.col("support", "preg", "i82", "weak").fill_null(False))
    )
    supported = pl.col("support") | (pl.col("preg") & pl.col("i82"))
    hits = lines.filter(~supported)
    if hits.is_empty():
        return invalid, empty_output()
    code = pl.col("procedure_code")
    icd9_only = pl.col("codes").is_null() & pl.col("icd9").is_not_null()
    message = (
        pl.when(icd9_only).then(pl.format(
            "Could not judge the diagnoses: they are ICD-9-CM ({}), and this edit reads ICD-10-CM only (no "
            "crosswalk is applied). Review whether they name deep vein thrombosis or phlebitis of the vena cava, "
            "iliac, femoral or popliteal vein, as {} needs.", pl.col("icd9"), code))
        .when(pl.col("codes").is_null()).then(pl.format(
            "The line has no diagnosis. {} needs a diagnosis of deep vein thrombosis or phlebitis of the "
            "vena cava, iliac, femoral or popliteal vein; add the diagnosis the record supports.", code))
        .when(pl.col("weak")).then(pl.format(
            "{} ({}) does not name the vein. {} is supported by a code for the vena cava, iliac, femoral "
            "or popliteal vein; query for the specific site and code it if documented.",
            pl.col("weak_code"), pl.col("weak_site"), code))
        .when(pl.col("else_code").is_not_null()).then(pl.format(
            "No diagnosis supports {}: {} is {}, which points to another procedure family ({}). Either "
            "the procedure code or the diagnosis is wrong: recode the procedure, or add the diagnosis at a "
            "vena cava, iliac, femoral or popliteal vein if the record supports it.",
            code, pl.col("else_code"), pl.col("else_means"), pl.col("else_family")))
        .when(pl.col("preg")).then(pl.format(
            "The pregnancy/puerperium thrombosis code supports {} only with an I82 code naming the vein; "
            "add the I82 code for the vena cava, iliac, femoral or popliteal vein.", code))
        .otherwise(pl.format(
            "None of the diagnoses supports {}: it needs deep vein thrombosis or phlebitis of the vena "
            "cava, iliac, femoral or popliteal vein. Add the supporting diagnosis, or review the procedure "
            "code.", code))
    )
    severity = pl.when(pl.col("weak") | icd9_only).then(pl.lit("review")).otherwise(
        pl.lit(registry.default_severity("DIAGNOSIS_NOT_SUPPORTING"))
    )
    not_supporting = finish(
        hits,
        "DIAGNOSIS_NOT_SUPPORTING",
        severity=severity,
        message=message,
        suggested_code=pl.when(pl.col("weak")).then(None).otherwise(pl.col("else_suggested")),
        evidence=pl.when(icd9_only).then(pl.format("ICD-9-CM diagnoses: {}", pl.col("icd9")))
        .otherwise(pl.format("diagnoses: {}", as_text("codes", "none"))),
        reference=pl.format(
            "claims-audit diagnosis list for {} (claim_edit_policy.yaml, from ICD-10-CM FY2026 tabular)", code
        ),
    )
    return invalid, not_supporting


@register(
    declare("DIAGNOSIS_INVALID", severity="error", tables=("icd10cm",), scope=AUDITED_LINES, reads=("dx_",)),
    declare("DIAGNOSIS_NOT_SUPPORTING", severity="error", tables=("icd10cm", "claim_edit_policy"),
            scope=AUDITED_LINES, reads=("dx_",)),
    family=FAMILY, cost=3)
def check(inputs: RuleInputs) -> pl.DataFrame:
    return pl.concat(diagnosis_edits(inputs.audited, inputs.edits), how="vertical")
