"""Claim-level coding edits around CPT 34421 (issue 5).

``apply(lines, config, data_dir)`` looks at the whole run's ``lines`` frame (all files together) and
returns the rule output frame of ``docs/design.md``. Every edit is a polars join or window expression over
the whole frame; the only Python-level work per item is one ICD-10-CM lookup per *distinct* diagnosis code
(cached).

Rule ids (report contract): PTP_CONFLICT, MUE_EXCEEDED, BILATERAL_FORMAT, LATERALITY_CONFLICT,
DIAGNOSIS_NOT_SUPPORTING, DIAGNOSIS_INVALID, GLOBAL_PERIOD_EM, MODIFIER_NOT_PAYABLE, DUPLICATE_LINE.
Their plain-language descriptions and default severities are in ``data/rules/claim_edits.yaml``; the
CMS tables and code lists they read are in ``data/cms/`` (see :mod:`claims_audit.ruledata_cms`).

Configuration (a dict, usually read from the organisation's YAML file; see
``data/rule_config.example.yaml``)::

    rules:
      PTP_CONFLICT: {enabled: true, severity: warning}   # severity replaces every finding's severity
      DUPLICATE_LINE: {enabled: false}
    allow_25_for_em_day_of_surgery: false

Rule ids in ``rules`` that this module does not own are ignored (the same file configures other modules).

Which lines each edit looks at:

* PTP_CONFLICT: pairs of lines (same member, date of service, rendering NPI; a line without NPI pairs
  only with lines of its own claim) whose codes form an NCCI PTP edit with an audited code (34421) on
  either side. The finding sits on the column-2 line and names the column-1 line.
* MUE_EXCEEDED, BILATERAL_FORMAT, LATERALITY_CONFLICT, DIAGNOSIS_NOT_SUPPORTING, DIAGNOSIS_INVALID: lines
  of the audited code.
* GLOBAL_PERIOD_EM: E/M lines and later procedure lines of the same member and rendering NPI inside the
  global period of an audited-code line; the finding sits on the E/M / procedure line.
* MODIFIER_NOT_PAYABLE, DUPLICATE_LINE: lines of the audited code and of the thrombectomy family.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from .. import configfile, ruledata_cms
from ..errors import ConfigError
from ..findings import dotted_icd
from . import OUTPUT_SCHEMA, SEVERITIES, empty_output
from . import catalogue as _all_rules

RULE_IDS: tuple[str, ...] = (
    "PTP_CONFLICT",
    "MUE_EXCEEDED",
    "BILATERAL_FORMAT",
    "LATERALITY_CONFLICT",
    "DIAGNOSIS_NOT_SUPPORTING",
    "DIAGNOSIS_INVALID",
    "GLOBAL_PERIOD_EM",
    "MODIFIER_NOT_PAYABLE",
    "DUPLICATE_LINE",
)
MODS = [f"modifier_{i}" for i in range(1, 5)]
DX = [f"dx_{i}" for i in range(1, 13)]
REQUIRED = [
    "line_key", "source_file", "source_row", "claim_id", "member_id", "line_number", "units", "service_date",
    "procedure_code", *MODS, "rendering_npi", *DX,
]


# --- catalogue and configuration ---------------------------------------------------------------------


def catalogue() -> list[dict[str, Any]]:
    """The catalogue entries ({id, severity, title, checks, why, source}) of these edits
    (``data/rules/claim_edits.yaml``), in rule-id order."""
    by_id = {r.id: r for r in _all_rules()}
    missing = [rid for rid in RULE_IDS if rid not in by_id]
    if missing:
        raise ConfigError("rule catalogue lacks claim-edit rule(s): " + ", ".join(missing))
    return [dataclasses.asdict(by_id[rid]) for rid in RULE_IDS]


@functools.cache
def _severities() -> dict[str, str]:
    return {e["id"]: e["severity"] for e in catalogue()}


def default_severity(rule_id: str) -> str:
    """The catalogue severity of a claim-edit rule."""
    return _severities()[rule_id]


def validate_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check a configuration mapping and return it normalised. Raises ConfigError on a defect."""
    if config is None:
        config = {}
    if not isinstance(config, Mapping):
        raise ConfigError("rule configuration must be a mapping")
    rules = config.get("rules") or {}
    if not isinstance(rules, Mapping):
        raise ConfigError("rule configuration: 'rules' must be a mapping of rule id to settings")
    out_rules: dict[str, dict[str, Any]] = {}
    for rid, settings in rules.items():
        settings = settings or {}
        if not isinstance(settings, Mapping):
            raise ConfigError(f"rule configuration: settings of {rid} must be a mapping")
        unknown = set(settings) - {"enabled", "severity"}
        if unknown:
            raise ConfigError(f"rule configuration: {rid} has unknown setting(s) {', '.join(sorted(unknown))}")
        if "enabled" in settings and not isinstance(settings["enabled"], bool):
            raise ConfigError(f"rule configuration: {rid}.enabled must be true or false")
        if "severity" in settings and settings["severity"] not in SEVERITIES:
            raise ConfigError(f"rule configuration: {rid}.severity must be one of {', '.join(SEVERITIES)}")
        out_rules[str(rid)] = dict(settings)
    allow25 = config.get("allow_25_for_em_day_of_surgery", False)
    if not isinstance(allow25, bool):
        raise ConfigError("rule configuration: allow_25_for_em_day_of_surgery must be true or false")
    return {"rules": out_rules, "allow_25_for_em_day_of_surgery": allow25}


def load_config(path: str | Path | None) -> dict[str, Any]:
    """Read and validate a YAML rule configuration file (None: defaults)."""
    if path is None:
        return validate_config(None)
    return validate_config(configfile.load(path, "rule configuration file"))


# --- small expression helpers ------------------------------------------------------------------------


def _has_mod(codes: list[str] | set[str]) -> pl.Expr:
    codes = sorted(codes)
    return pl.any_horizontal([pl.col(m).is_in(codes) for m in MODS]).fill_null(False)


def _mods_text() -> pl.Expr:
    return pl.concat_str([pl.col(m) for m in MODS], separator="-", ignore_nulls=True).replace("", "none")


def _d(col: str) -> pl.Expr:
    return pl.col(col).dt.to_string("%Y-%m-%d")


def _s(col: str | pl.Expr, default: str = "") -> pl.Expr:
    e = pl.col(col) if isinstance(col, str) else col
    return e.cast(pl.String).fill_null(default)


def _where(claim: str, line: str) -> pl.Expr:
    return pl.format("claim {} line {}", _s(claim), _s(line))


def _in_window(date_col: str = "service_date") -> pl.Expr:
    return pl.col(date_col).is_between(pl.col("effective_from"), pl.col("effective_to"), closed="both")


def _code_range_expr(col: str, ranges: list[list[str]]) -> pl.Expr:
    c = pl.col(col)
    inside = [(c >= str(lo)) & (c <= str(hi)) for lo, hi in ranges]
    return c.str.contains(r"^\d{5}$").fill_null(False) & pl.any_horizontal(inside).fill_null(False)


def _codes_where(L: pl.DataFrame, predicate: pl.Expr) -> pl.Expr:
    """`procedure_code` is one of the run's codes satisfying `predicate` (evaluated once per distinct code)."""
    codes = L.select(pl.col("procedure_code").unique()).filter(predicate).get_column("procedure_code")
    return pl.col("procedure_code").is_in(codes.implode())


def _finish(df: pl.DataFrame, rule_id: str, **exprs: pl.Expr) -> pl.DataFrame:
    """Select the rule-output columns from a frame of flagged rows."""
    defaults: dict[str, pl.Expr] = {
        "line_key": pl.col("line_key"),
        "rule_id": pl.lit(rule_id),
        "severity": pl.lit(default_severity(rule_id)),
        "message": pl.lit(None),
        "suggested_code": pl.lit(None),
        "evidence": pl.lit(None),
        "related_claim_id": pl.lit(None),
        "related_line_number": pl.lit(None),
        "reference": pl.lit(None),
    }
    defaults.update(exprs)
    return df.select([defaults[c].cast(t).alias(c) for c, t in OUTPUT_SCHEMA.items()])


# --- context -----------------------------------------------------------------------------------------


class _Ctx:
    def __init__(self, rd: ruledata_cms.RuleData, cfg: dict[str, Any]):
        self.rd = rd
        self.cfg = cfg
        p = rd.policy
        self.policy = p
        self.audited = sorted(str(c) for c in p["audited_codes"])
        self.family = sorted(set(self.audited) | {str(c) for c in p.get("family_codes", [])})
        self.mods = p["modifiers"]
        self.em_ranges = p["em_code_ranges"]
        self.proc_ranges = p["procedure_code_ranges"]
        # PFS rows for the global service (no TC/26 modifier)
        self.pfs = rd.pfs.filter(pl.col("mod").is_null())

    def mod_set(self, name: str) -> list[str]:
        return [str(m) for m in self.mods[name]]


def _prepare(lines: pl.DataFrame) -> pl.DataFrame:
    """The columns the edits read (a zero-copy selection: `lines` may be the whole run's frame)."""
    missing = [c for c in REQUIRED if c not in lines.columns]
    if missing:
        raise ValueError("lines frame lacks required column(s): " + ", ".join(missing))
    return lines.select(list(dict.fromkeys(REQUIRED + [c for c in ("doc_side",) if c in lines.columns])))


def _npi_key() -> pl.Expr:
    """Rendering NPI, or the claim for a line without one (it then pairs only within its claim)."""
    return pl.coalesce(pl.col("rendering_npi"), pl.format("claim:{}", pl.col("claim_id"))).alias("npi_key")


def _audited_lines(L: pl.DataFrame, ctx: _Ctx, doc: pl.DataFrame | None) -> pl.DataFrame:
    """The lines of the audited codes, with their normalised documented side (`doc_side` of `L`, else of
    `doc`: line_key + doc_side, else null)."""
    a = L.filter(pl.col("procedure_code").is_in(ctx.audited))
    if "doc_side" not in a.columns:
        if doc is not None and "doc_side" in doc.columns:
            a = a.join(doc.select("line_key", "doc_side"), on="line_key", how="left", maintain_order="left")
        else:
            a = a.with_columns(pl.lit(None, dtype=pl.String).alias("doc_side"))
    return a.with_columns(pl.col("doc_side").cast(pl.String).str.to_lowercase().str.strip_chars().alias("doc_side"))


def _of_members(L: pl.DataFrame, cols: list[str], members: pl.Series, codes: pl.Expr) -> pl.DataFrame:
    """`cols` of the lines of `members` whose code satisfies `codes`, in line order (never copies `L`)."""
    return L.select(cols).filter(codes & pl.col("member_id").is_in(members.implode()))


def _side_mods(ctx: _Ctx, side: str) -> list[str]:
    """The modifiers the policy gives `side` (right / left / bilateral), e.g. RT, LT, 50."""
    return [str(k) for k, v in ctx.mods["side"].items() if v == side]


def _mod_side(ctx: _Ctx) -> pl.Expr:
    r, lft, b = (_has_mod(_side_mods(ctx, s)) for s in ("right", "left", "bilateral"))
    return (
        pl.when(b | (r & lft)).then(pl.lit("bilateral"))
        .when(r).then(pl.lit("right"))
        .when(lft).then(pl.lit("left"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )


# --- PTP_CONFLICT ------------------------------------------------------------------------------------


def _ptp(L: pl.DataFrame, ctx: _Ctx, A: pl.DataFrame) -> pl.DataFrame:
    ptp = ctx.rd.ptp.filter(
        (pl.col("col1").is_in(ctx.audited) | pl.col("col2").is_in(ctx.audited))
        & (pl.col("modifier_indicator") != 9)
        & (pl.col("effective_to") >= pl.col("effective_from"))
    )
    if ptp.is_empty():
        return empty_output()
    codes = sorted(set(ptp["col1"].to_list()) | set(ptp["col2"].to_list()))
    keys = ["member_id", "service_date", "npi_key"]
    # only lines of a member with an audited-code line can share (member, date, NPI) with one
    base = _of_members(L, ["line_key", "claim_id", "line_number", "procedure_code", *MODS, "member_id",
                           "service_date", "rendering_npi"], A.get_column("member_id").unique(),
                       pl.col("procedure_code").is_in(codes)).with_columns(_npi_key())
    anchors = base.filter(pl.col("procedure_code").is_in(ctx.audited)).select(keys).unique()
    grp = base.join(anchors, on=keys, how="semi").with_columns(
        _mod_side(ctx).alias("side"),
        _has_mod(ctx.mod_set("ptp_bypass")).alias("bypass"),
        (_has_mod(ctx.mod_set("ptp_bypass_em")) & _code_range_expr("procedure_code", ctx.em_ranges)).alias(
            "bypass_em"
        ),
        _mods_text().alias("mods"),
    )
    sel = ["line_key", "claim_id", "line_number", "procedure_code", "side", "bypass", "bypass_em", "mods",
           *keys]
    one = grp.select(sel).rename({c: f"{c}_1" for c in sel if c not in keys})
    two = grp.select(sel).rename({c: f"{c}_2" for c in sel if c not in keys})
    pairs = (
        one.join(two, on=keys)
        .filter(pl.col("line_key_1") != pl.col("line_key_2"))
        .join(ptp, left_on=["procedure_code_1", "procedure_code_2"], right_on=["col1", "col2"])
        .filter(_in_window())
    )
    single = pl.col("side_1").is_in(["right", "left"]) & pl.col("side_2").is_in(["right", "left"])
    bypassed = (pl.col("modifier_indicator") == 1) & (
        pl.col("bypass_1") | pl.col("bypass_2") | pl.col("bypass_em_2")
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
    other = _where("claim_id_1", "line_number_1")
    msg0 = pl.format(
        "{} is bundled into {} ({}) billed for the same member on the same date by the same provider "
        "(NCCI: {}), and this edit cannot be bypassed with a modifier. Remove {} from the claim; it is "
        "payable only if it was not performed together with {}.",
        c2, c1, other, _s("rationale").str.to_lowercase(), c2, c1,
    )
    msg1 = pl.format(
        "{} is bundled into {} ({}) billed for the same member on the same date by the same provider "
        "(NCCI: {}). It is payable separately only when it was a distinct service (another site, "
        "incision or session): then add modifier 59 or XE/XS/XP/XU, or RT/LT when the two were on "
        "different sides, and make sure the documentation shows it; otherwise remove the line.",
        c2, c1, other, _s("rationale").str.to_lowercase(),
    )
    msg_em = pl.format(
        "Visit {} is bundled into {} ({}) billed for the same member on the same date by the same provider "
        "(NCCI: {}). It is payable separately only with modifier 57 (the visit was the decision for "
        "surgery) or 25 (a significant, separately identifiable service) when the note supports it; "
        "otherwise remove the line.",
        c2, c1, other, _s("rationale").str.to_lowercase(),
    )
    em2 = _code_range_expr("procedure_code_2", ctx.em_ranges)
    deleted = pl.col("deletion_date") < pl.lit(ruledata_cms.OPEN_END)
    ref = pl.format(
        "NCCI PTP {}/{}, modifier indicator {}, effective {}{}",
        pl.col("col1_ref"), pl.col("col2_ref"), _s("modifier_indicator"), _d("version_effective"),
        pl.when(deleted).then(pl.format(", deleted after {}", _d("deletion_date"))).otherwise(pl.lit("")),
    )
    hits = hits.with_columns(c1.alias("col1_ref"), c2.alias("col2_ref"))
    return _finish(
        hits,
        "PTP_CONFLICT",
        line_key=pl.col("line_key_2"),
        message=pl.when(pl.col("modifier_indicator") == 0).then(msg0).when(em2).then(msg_em).otherwise(msg1),
        evidence=pl.format(
            "{} on {} and {} on this line, same member, date of service {}, rendering NPI {}; modifiers on "
            "this line: {}; on the other line: {}",
            c1, other, c2, _d("service_date"),
            pl.col("npi_key").str.replace(r"^claim:.*$", "none"), pl.col("mods_2"),
            pl.col("mods_1"),
        ),
        related_claim_id=pl.col("claim_id_1"),
        related_line_number=pl.col("line_number_1"),
        reference=ref,
    )


# --- MUE_EXCEEDED ------------------------------------------------------------------------------------


def _mue(A: pl.DataFrame, ctx: _Ctx) -> pl.DataFrame:
    """`A`: the audited-code lines, selected once in `apply` for every edit (`_audited_lines`)."""
    mue = ctx.rd.mue.filter(
        (pl.col("mue_service") == str(ctx.policy.get("mue_service", "Practitioner")))
        & pl.col("hcpcs_code").is_in(ctx.audited)
    )
    a = (
        A.join(mue, left_on="procedure_code", right_on="hcpcs_code")
        .filter(_in_window())
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
    return _finish(
        hits,
        "MUE_EXCEEDED",
        message=pl.format(
            "{} units of {} are billed for this member on {} ({} line(s)); the MUE allows {} {}. Bill at "
            "most {} unit(s): a bilateral procedure is one line with modifier 50 and 1 unit; remove or "
            "correct the extra units{}.",
            _s("total"), pl.col("procedure_code"), _d("service_date"), _s("n_lines"), _s("mue_units"), scope,
            _s("mue_units"),
            pl.when(is_first).then(pl.lit("")).otherwise(
                pl.format(" (the first line of that date is {})", _where("first_claim", "first_line"))
            ),
        ),
        evidence=pl.format(
            "units on this line {}; units counted up to and including this line {}; same member, date {}",
            _s("units"), _s("counted"), _d("service_date"),
        ),
        related_claim_id=pl.when(is_first).then(None).otherwise(pl.col("first_claim")),
        related_line_number=pl.when(is_first).then(None).otherwise(pl.col("first_line")),
        reference=pl.format(
            "NCCI MUE {} ({}): {} unit(s), MAI {} ({}), effective {}",
            pl.col("procedure_code"), pl.col("mue_service"), _s("mue_units"), _s("mue_mai"),
            _s("mue_rationale"), _d("version_effective"),
        ),
    )


# --- BILATERAL_FORMAT --------------------------------------------------------------------------------


def _bilateral(A: pl.DataFrame, ctx: _Ctx) -> pl.DataFrame:
    """`A`: the audited-code lines, selected once in `apply` for every edit (`_audited_lines`)."""
    pfs = ctx.pfs.filter((pl.col("bilat_surg") == "1") & pl.col("hcpcs").is_in(ctx.audited))
    m50, rt, lt = (_side_mods(ctx, s) for s in ("bilateral", "right", "left"))
    b = (
        A.join(pfs, left_on="procedure_code", right_on="hcpcs")
        .filter(_in_window())
        .with_columns(
            _has_mod(m50).alias("has50"),
            (_has_mod(rt) & _has_mod(lt)).alias("both_sides"),
            _mod_side(ctx).alias("side"),
            _mods_text().alias("mods"),
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
            "1 unit; change the units to 1.", code, _s("units"), code))
        .when(two_units).then(pl.format(
            "{} is billed with {} units on one line. If both sides were treated, bill one line with "
            "modifier 50 and 1 unit; if one side, bill 1 unit with RT or LT.", code, _s("units")))
        .otherwise(pl.format(
            "{} is billed as separate {} and {} lines ({} is the other side). A bilateral {} is billed as "
            "one line with modifier 50 and 1 unit: replace the two lines by one.",
            code, pl.when(pl.col("side") == "left").then(pl.lit("RT")).otherwise(pl.lit("LT")),
            pl.when(pl.col("side") == "left").then(pl.lit("LT")).otherwise(pl.lit("RT")),
            _where("opp_claim", "opp_line"), code))
    )
    related = separate & ~both & ~fifty_units & ~two_units
    return _finish(
        hits,
        "BILATERAL_FORMAT",
        message=message,
        evidence=pl.format("units {}, modifiers {}, date {}", _s("units"), pl.col("mods"), _d("service_date")),
        related_claim_id=pl.when(related).then(pl.col("opp_claim")).otherwise(None),
        related_line_number=pl.when(related).then(pl.col("opp_line")).otherwise(None),
        reference=pl.format(
            "PFS {} bilateral surgery indicator {}, {}, effective {}",
            code, pl.col("bilat_surg"), pl.col("version"), _d("version_effective"),
        ),
    )


# --- LATERALITY_CONFLICT -----------------------------------------------------------------------------


def _dx_side_expr(col: str, ctx: _Ctx) -> pl.Expr:
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


def _laterality(A: pl.DataFrame, ctx: _Ctx) -> pl.DataFrame:
    """`A`: the audited-code lines with their documented side (see `_audited_lines`)."""
    if A.is_empty():
        return empty_output()
    side_cols = [f"_side_{i}" for i in range(1, 13)]
    a = A.with_columns([_dx_side_expr(dx, ctx).alias(s) for dx, s in zip(DX, side_cols)])
    sides = [pl.col(s) for s in side_cols]
    a = a.with_columns(
        pl.any_horizontal([s.is_in(["right", "bilateral"]) for s in sides]).fill_null(False).alias("dx_r"),
        pl.any_horizontal([s.is_in(["left", "bilateral"]) for s in sides]).fill_null(False).alias("dx_l"),
        pl.any_horizontal([s == "unspecified" for s in sides]).fill_null(False).alias("dx_u"),
        pl.concat_str(
            [pl.when(pl.col(s).is_not_null()).then(pl.format("{} ({})", pl.col(dx), pl.col(s)))
             for dx, s in zip(DX, side_cols)],
            separator=", ", ignore_nulls=True,
        ).alias("dx_text"),
        _mod_side(ctx).alias("mod_side"),
        _mods_text().alias("mods"),
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
    a = a.with_columns(conflict.alias("conflict"), query.alias("query"))
    hits = a.filter(pl.col("conflict") | pl.col("query"))
    if hits.is_empty():
        return empty_output()
    said = pl.format(
        "modifiers say {}, diagnoses say {}, documentation says {}",
        _s("mod_side", "no side"), _s("dx_side", "no side"), _s("doc_side", "no side"),
    )
    documented = pl.coalesce(pl.col("doc_side"), pl.col("mod_side"))
    message = pl.when(pl.col("conflict")).then(pl.format(
        "The sides disagree ({}). Make the modifier (RT right, LT left, 50 both sides), the final "
        "character of the diagnosis code (1 right, 2 left, 3 bilateral) and the operated side in the note "
        "agree: correct whichever is wrong.", said)
    ).otherwise(pl.format(
        "The diagnosis gives no side ({}) but the {} says {}. Query for the side-specific diagnosis "
        "code (final character 1 right, 2 left, 3 bilateral) so the claim is coded to the documented side.",
        pl.col("dx_text"),
        pl.when(pl.col("doc_side").is_not_null()).then(pl.lit("documentation")).otherwise(pl.lit("modifier")),
        documented,
    ))
    return _finish(
        hits,
        "LATERALITY_CONFLICT",
        severity=pl.when(pl.col("conflict")).then(pl.lit(default_severity("LATERALITY_CONFLICT")))
        .otherwise(pl.lit("review")),
        message=message,
        evidence=pl.format(
            "modifiers {}; side-bearing diagnoses {}; documented side {}",
            pl.col("mods"), _s(pl.col("dx_text").replace("", None), "none"), _s("doc_side", "none"),
        ),
        reference=pl.lit(
            "ICD-10-CM laterality convention (final character 1 right, 2 left, 3 bilateral, 9/0 unspecified); "
            "CMS anatomic modifiers RT/LT/50"
        ),
    )


# --- diagnoses ---------------------------------------------------------------------------------------


ICD_DIR = Path(__file__).resolve().parent.parent / "data" / "icd10cm"


@functools.cache
def _icd_meta() -> dict[str, Any]:
    return yaml.safe_load((ICD_DIR / "icd10cm_codes.meta.yaml").read_text(encoding="utf-8"))


def _icd_reference() -> str:
    meta = _icd_meta()
    return f"{meta['version']} ({meta['source']})"


@functools.cache
def _icd_table() -> pl.DataFrame:
    """The official code set (data/icd10cm, built from simple-icd-10-cm by scripts/build_icd10cm.py)."""
    return pl.read_csv(ICD_DIR / "icd10cm_codes.csv", schema={"code": pl.String, "billable": pl.Int8}).with_columns(
        pl.col("billable").cast(pl.Boolean))


def _icd_info(codes: list[str]) -> pl.DataFrame:
    """code, exists, billable, display (dotted), hint (billable codes under a heading) per distinct code."""
    table = _icd_table()
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


def _policy_items(ctx: _Ctx) -> tuple:
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


def _dx_long(A: pl.DataFrame, ctx: _Ctx) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`A` (the audited-code lines) and their diagnoses one per row, with code-set and policy facts."""
    long = (
        A.select("line_key", *DX)
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
    info = _icd_info(uniq).join(kinds, on="code", how="left")
    return A, long.join(info, on="code", how="left").sort("line_key", "pos")


def _diagnoses(A: pl.DataFrame, ctx: _Ctx) -> tuple[pl.DataFrame, pl.DataFrame]:
    a, long = _dx_long(A, ctx)
    if a.is_empty():
        return empty_output(), empty_output()
    ref_icd = _icd_reference()
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
            pl.format("{} = {}", pl.col("dx_col"), pl.col("code")).alias("ev"),
        )
        per = bad.group_by("line_key", maintain_order=True).agg(
            pl.col("why").str.join("; ").alias("why"), pl.col("ev").str.join(", ").alias("ev")
        )
        invalid = _finish(
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
    all_codes = long.group_by("line_key").agg(pl.col("code").str.join(", ").alias("codes"))
    lines = (
        a.select("line_key", "procedure_code")
        .join(agg, on="line_key", how="left")
        .join(all_codes, on="line_key", how="left")
        .with_columns(pl.col("support", "preg", "i82", "weak").fill_null(False))
    )
    supported = pl.col("support") | (pl.col("preg") & pl.col("i82"))
    hits = lines.filter(~supported)
    if hits.is_empty():
        return invalid, empty_output()
    code = pl.col("procedure_code")
    message = (
        pl.when(pl.col("codes").is_null()).then(pl.format(
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
    severity = pl.when(pl.col("weak")).then(pl.lit("review")).otherwise(
        pl.lit(default_severity("DIAGNOSIS_NOT_SUPPORTING"))
    )
    not_supporting = _finish(
        hits,
        "DIAGNOSIS_NOT_SUPPORTING",
        severity=severity,
        message=message,
        suggested_code=pl.when(pl.col("weak")).then(None).otherwise(pl.col("else_suggested")),
        evidence=pl.format("diagnoses: {}", _s("codes", "none")),
        reference=pl.format(
            "claims-audit diagnosis list for {} (claim_edit_policy.yaml, from ICD-10-CM FY2026 tabular)", code
        ),
    )
    return invalid, not_supporting


# --- GLOBAL_PERIOD_EM --------------------------------------------------------------------------------


def _global(L: pl.DataFrame, ctx: _Ctx, A: pl.DataFrame) -> pl.DataFrame:
    gp = ctx.policy["global_periods"]
    glob_map = pl.DataFrame(
        {"glob_days": [str(k) for k in gp], "post_days": [int(v["post_days"]) for v in gp.values()],
         "pre_days": [1 if v.get("day_before") else 0 for v in gp.values()]},
    )
    pfs = ctx.pfs.filter(pl.col("hcpcs").is_in(ctx.audited)).join(glob_map, on="glob_days")
    anchors = (
        A.with_columns(_npi_key())
        .join(pfs, left_on="procedure_code", right_on="hcpcs")
        .filter(_in_window())
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
    is_em = _code_range_expr("procedure_code", ctx.em_ranges)
    is_proc = _code_range_expr("procedure_code", ctx.proc_ranges) & ~is_em
    cols = ["line_key", "claim_id", "line_number", "procedure_code", *MODS, "member_id", "service_date",
            "rendering_npi", "dx_1"]
    cand = (
        _of_members(L, cols, who.get_column("member_id").unique(), _codes_where(L, is_em | is_proc))
        .with_columns(_npi_key())
        .join(who, on=keys, how="semi")
    )
    pairs = (
        cand.join(anchors, on=keys)
        .filter(pl.col("line_key") != pl.col("a_key"))
        .with_columns((pl.col("service_date") - pl.col("a_date")).dt.total_days().alias("delta"))
        .filter((pl.col("delta") >= -pl.col("pre_days")) & (pl.col("delta") <= pl.col("post_days")))
        .with_columns(  # per pair inside the window only
            is_em.alias("is_em"),
            _has_mod(ctx.mod_set("decision_for_surgery")).alias("m57"),
            _has_mod(ctx.mod_set("separate_em_same_day")).alias("m25"),
            _has_mod(ctx.mod_set("unrelated_em_postop")).alias("m24"),
            _has_mod(ctx.mod_set("return_to_or")).alias("m_or"),
            _mods_text().alias("mods"),
        )
    )
    allow25 = ctx.cfg["allow_25_for_em_day_of_surgery"]
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
    surgery = pl.format("the {} on {} ({})", pl.col("a_code"), _d("a_date"), _where("a_claim", "a_line"))
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
            pl.col("procedure_code"), _d("service_date"), day_word, surgery, pl.col("glob_days"), pl.lit(pre_fix)))
        .when(pl.col("same24")).then(pl.format(
            "Visit {} on {} is {} day(s) after {} by the same provider and has modifier 24, but its diagnosis "
            "{} is the surgery's diagnosis. Modifier 24 is only for a problem unrelated to the surgery: "
            "remove the visit (post-operative care is in the {}-day global package) or code the unrelated "
            "diagnosis first.",
            pl.col("procedure_code"), _d("service_date"), _s("delta"), surgery, _s("dx_1", "(none)"),
            pl.col("glob_days")))
        .when(em).then(pl.format(
            "Visit {} on {} is {} day(s) after {} by the same provider, inside its {}-day global period; "
            "post-operative visits are included in the surgery. Bill it only if it was for an unrelated "
            "problem, with modifier 24 and the unrelated diagnosis; otherwise remove it.",
            pl.col("procedure_code"), _d("service_date"), _s("delta"), surgery, pl.col("glob_days")))
        .otherwise(pl.format(
            "Procedure {} on {} is {} day(s) after {} by the same provider, inside its {}-day global period. "
            "Add 78 (unplanned return to the operating room for a related problem), 79 (unrelated "
            "procedure) or 58 (staged or planned) as the note supports; without one it is not payable "
            "separately.",
            pl.col("procedure_code"), _d("service_date"), _s("delta"), surgery, pl.col("glob_days")))
    )
    return _finish(
        hits,
        "GLOBAL_PERIOD_EM",
        message=message,
        evidence=pl.format(
            "{} on {} with modifiers {} and first diagnosis {}; surgery {} on {} with diagnoses {}; rendering NPI {}",
            pl.col("procedure_code"), _d("service_date"), pl.col("mods"), _s("dx_1", "none"), pl.col("a_code"),
            _d("a_date"), pl.concat_str([f"a_{c}" for c in DX], separator=", ", ignore_nulls=True),
            pl.col("npi_key"),
        ),
        related_claim_id=pl.col("a_claim"),
        related_line_number=pl.col("a_line"),
        reference=pl.format(
            "PFS {} global days {}, {}, effective {}",
            pl.col("a_code"), pl.col("glob_days"), pl.col("pfs_version"), _d("pfs_effective"),
        ),
    )


# --- MODIFIER_NOT_PAYABLE ----------------------------------------------------------------------------


def _modifier_payable(L: pl.DataFrame, ctx: _Ctx) -> pl.DataFrame:
    kinds = ctx.policy["pfs_indicators"]
    all_mods = sorted({str(m) for k in kinds for m in ctx.mod_set(k)})
    base = (L.select("line_key", "procedure_code", *MODS, "service_date")
            .filter(pl.col("procedure_code").is_in(ctx.family)).filter(_has_mod(all_mods)))
    if base.is_empty():
        return empty_output()
    base = base.join(ctx.pfs, left_on="procedure_code", right_on="hcpcs").filter(_in_window())
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
            [pl.when(pl.col(m).is_in(mods)).then(pl.col(m)) for m in MODS], separator="-", ignore_nulls=True
        )
        part = (
            base.filter(_has_mod(mods))
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
    return _finish(
        hits,
        "MODIFIER_NOT_PAYABLE",
        severity=pl.col("sev"),
        message=pl.format(
            "Modifier {} ({}) on {}: the fee schedule {} indicator is {} - {}. {}",
            pl.col("present"), pl.col("label"), pl.col("procedure_code"), pl.col("label"), pl.col("ind"),
            pl.col("meaning"), fix,
        ),
        evidence=pl.format("{} with modifier {} on {}", pl.col("procedure_code"), pl.col("present"),
                           _d("service_date")),
        reference=pl.format(
            "PFS {} {} indicator ({}) {}, {}, effective {}",
            pl.col("procedure_code"), pl.col("label"), pl.col("ind_col"), pl.col("ind"), pl.col("version"),
            _d("version_effective"),
        ),
    )


# --- DUPLICATE_LINE ----------------------------------------------------------------------------------


def _duplicates(L: pl.DataFrame, ctx: _Ctx) -> pl.DataFrame:
    # only lines sharing member, date, code and provider with another line can be duplicates: find them
    # on the key columns of the family lines, then take the other columns of those few lines only
    pos = L.select(pl.arg_where(pl.col("procedure_code").is_in(ctx.family))).to_series()
    grp = ["member_id", "service_date", "procedure_code", "rendering_npi"]
    shared = L.select(pl.col(grp).gather(pos)).select(pl.len().over(grp) > 1).to_series()
    d = L.select(pl.col("line_key", "claim_id", "line_number", "source_file", "source_row", *grp, *MODS)
                 .gather(pos.filter(shared)))
    if d.is_empty():
        return empty_output()
    d = d.with_columns(
        pl.concat_list(MODS).list.drop_nulls().list.unique().list.sort().list.join("-").alias("modset"),
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
    return _finish(
        hits,
        "DUPLICATE_LINE",
        message=pl.format(
            "The same service is billed twice: {} for this member on {} by the same provider with the same "
            "modifiers ({}) is already on {} ({} row {}). Remove this line, or if it was a separate service "
            "add the modifier that shows why (e.g. 76/77 repeat procedure, RT/LT, 59).",
            pl.col("procedure_code"), _d("service_date"), pl.col("modset").replace("", "none"),
            _where("first_claim", "first_line"), pl.col("first_file"), _s("first_row"),
        ),
        evidence=pl.format(
            "same member, date {}, code {}, modifiers {}, rendering NPI {}; this line {} row {}",
            _d("service_date"), pl.col("procedure_code"), pl.col("modset").replace("", "none"),
            _s("rendering_npi", "none"), pl.col("source_file"), _s("source_row"),
        ),
        related_claim_id=pl.col("first_claim"),
        related_line_number=pl.col("first_line"),
        reference=pl.lit(
            "claims-audit duplicate rule: same member, date of service, code, modifiers and rendering NPI"
        ),
    )


# --- entry point -------------------------------------------------------------------------------------


def apply(
    lines: pl.DataFrame,
    config: Mapping[str, Any] | None = None,
    data_dir: ruledata_cms.DataDir = None,
    doc: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Run the claim-level edits over the whole run's ``lines`` frame; return the rule output frame.

    ``config``: see the module docstring (validated; ConfigError on a defect). ``data_dir``: a rule-data
    folder or list of folders (default: the packaged CMS tables), see :mod:`claims_audit.ruledata_cms`.
    ``doc``: line_key + doc_side of the audited lines, used when ``lines`` has no ``doc_side`` column.

    ``lines`` may be the whole run: it is never copied. Each edit first selects the few columns and rows
    it reads (the audited lines, the family lines, the lines of members with an audited line).
    """
    cfg = validate_config(config)
    ctx = _Ctx(ruledata_cms.load(data_dir), cfg)
    L = _prepare(lines)
    A = _audited_lines(L, ctx, doc)

    def enabled(rid: str) -> bool:
        return cfg["rules"].get(rid, {}).get("enabled", True)

    edits: dict[str, Callable[[], pl.DataFrame]] = {  # the slowest first: the workers end together
        "GLOBAL_PERIOD_EM": lambda: _global(L, ctx, A),
        "PTP_CONFLICT": lambda: _ptp(L, ctx, A),
        "DUPLICATE_LINE": lambda: _duplicates(L, ctx),
        "DIAGNOSIS_INVALID": lambda: _diagnoses(A, ctx)[0],
        "DIAGNOSIS_NOT_SUPPORTING": lambda: _diagnoses(A, ctx)[1],
        "LATERALITY_CONFLICT": lambda: _laterality(A, ctx),
        "MUE_EXCEEDED": lambda: _mue(A, ctx),
        "MODIFIER_NOT_PAYABLE": lambda: _modifier_payable(L, ctx),
        "BILATERAL_FORMAT": lambda: _bilateral(A, ctx),
    }
    if enabled("DIAGNOSIS_INVALID") and enabled("DIAGNOSIS_NOT_SUPPORTING"):  # one pass gives both
        del edits["DIAGNOSIS_INVALID"]
        edits["DIAGNOSIS_NOT_SUPPORTING"] = lambda: pl.concat(_diagnoses(A, ctx), how="vertical")
    run = [fn for rid, fn in edits.items() if enabled(rid)]
    # the edits are independent chains of polars operations (which release the GIL): one per core
    with ThreadPoolExecutor(pl.thread_pool_size()) as pool:
        parts = list(pool.map(lambda fn: fn(), run))
    out = pl.concat([empty_output(), *parts], how="vertical")
    overrides = {rid: s["severity"] for rid, s in cfg["rules"].items() if "severity" in s and rid in RULE_IDS}
    if overrides:
        out = out.with_columns(
            pl.col("rule_id").replace_strict(overrides, default=pl.col("severity"), return_dtype=pl.String)
            .alias("severity")
        )
    return out.sort("line_key", "rule_id", "related_line_number", nulls_last=True, maintain_order=True)


def rules_sheet(data_dir: ruledata_cms.DataDir = None) -> list[dict[str, Any]]:
    """Catalogue entries plus the data versions they rely on, for the report's Rules sheet."""
    versions = ruledata_cms.table_versions(data_dir)
    dv = ruledata_cms.data_version(data_dir)
    data = "; ".join(f"{v.table} {v.version} (effective {v.effective_date.isoformat()})" for v in versions)
    return [{**e, "data_versions": data, "data_version": dv} for e in catalogue()]
