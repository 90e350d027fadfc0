"""What every claim edit shares: the columns it reads, the context (rule data, policy, configuration) and
the small expressions that build messages and select lines.

The edits read the whole run's ``lines`` frame without copying it: :func:`prepare` is a zero-copy column
selection, and each edit then takes the few rows it needs (:func:`audited_lines`,
:func:`lines_of_members`, :func:`codes_where`).
"""

from __future__ import annotations

import polars as pl

from ... import ruledata
from ...ruleconfig import RuleConfig
from .. import OUTPUT_SCHEMA, registry

FAMILY = "claim edits"
MODIFIERS = [f"modifier_{i}" for i in range(1, 5)]
DX = [f"dx_{i}" for i in range(1, 13)]
ICD9_DX = [f"icd9_dx_{i}" for i in range(1, 13)]  # ICD-9-CM diagnoses (older claims): kept, not judged
REQUIRED = [
    "line_key", "source_file", "source_row", "claim_id", "member_id", "line_number", "units", "service_date",
    "procedure_code", *MODIFIERS, "rendering_npi", *DX,
]


def has_modifier(codes: list[str] | set[str]) -> pl.Expr:
    """Any of the four modifiers is one of `codes`."""
    codes = sorted(codes)
    return pl.any_horizontal([pl.col(m).is_in(codes) for m in MODIFIERS]).fill_null(False)


def modifiers_text() -> pl.Expr:
    """The modifiers as people write them (RT-59), "none" when there are none."""
    return pl.concat_str([pl.col(m) for m in MODIFIERS], separator="-", ignore_nulls=True).replace("", "none")


def date_text(col: str) -> pl.Expr:
    """A date column as YYYY-MM-DD text for messages."""
    return pl.col(col).dt.to_string("%Y-%m-%d")


def as_text(col: str | pl.Expr, default: str = "") -> pl.Expr:
    """Any column as text for messages, `default` where it is null."""
    e = pl.col(col) if isinstance(col, str) else col
    return e.cast(pl.String).fill_null(default)


def line_ref(claim: str, line: str) -> pl.Expr:
    """"claim X line N": how a message names another line (never by its member)."""
    return pl.format("claim {} line {}", as_text(claim), as_text(line))


def in_window(date_col: str = "service_date") -> pl.Expr:
    """The rule-data row is in force on the line's date of service (see :mod:`claims_audit.ruledata`)."""
    return pl.col(date_col).is_between(pl.col("effective_from"), pl.col("effective_to"), closed="both")


def code_in_ranges(col: str, ranges: list[list[str]]) -> pl.Expr:
    """A five-digit code inside one of the policy's inclusive code ranges (E/M visits, surgery)."""
    c = pl.col(col)
    inside = [(c >= str(lo)) & (c <= str(hi)) for lo, hi in ranges]
    return c.str.contains(r"^\d{5}$").fill_null(False) & pl.any_horizontal(inside).fill_null(False)


def codes_where(lines: pl.DataFrame, predicate: pl.Expr) -> pl.Expr:
    """`procedure_code` is one of the run's codes satisfying `predicate` (evaluated once per distinct code)."""
    codes = lines.select(pl.col("procedure_code").unique()).filter(predicate).get_column("procedure_code")
    return pl.col("procedure_code").is_in(codes.implode())


def finish(df: pl.DataFrame, rule_id: str, **exprs: pl.Expr) -> pl.DataFrame:
    """Select the rule-output columns from a frame of flagged rows."""
    defaults: dict[str, pl.Expr] = {
        "line_key": pl.col("line_key"),
        "rule_id": pl.lit(rule_id),
        "severity": pl.lit(registry.default_severity(rule_id)),
        "message": pl.lit(None),
        "suggested_code": pl.lit(None),
        "evidence": pl.lit(None),
        "related_claim_id": pl.lit(None),
        "related_line_number": pl.lit(None),
        "reference": pl.lit(None),
        "related_line_key": pl.lit(None),
    }
    defaults.update(exprs)
    return df.select([defaults[c].cast(t).alias(c) for c, t in OUTPUT_SCHEMA.items()])


class EditContext:
    """The rule data and configuration every edit reads, with the policy's code lists at hand."""

    def __init__(self, rd: ruledata.RuleData, config: RuleConfig):
        self.rd = rd
        self.config = config
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


def prepare(lines: pl.DataFrame) -> pl.DataFrame:
    """The columns the edits read (a zero-copy selection: `lines` may be the whole run's frame)."""
    missing = [c for c in REQUIRED if c not in lines.columns]
    if missing:
        raise ValueError("lines frame lacks required column(s): " + ", ".join(missing))
    optional = [c for c in ("doc_side", *ICD9_DX) if c in lines.columns]
    return lines.select(list(dict.fromkeys(REQUIRED + optional)))


def icd9_dotted(col: str) -> pl.Expr:
    """An ICD-9-CM code as people read it: 366.16, V73.89, E888.9 (E codes have four characters before
    the dot)."""
    c = pl.col(col)
    head = pl.when(c.str.starts_with("E")).then(4).otherwise(3)
    return pl.when(c.str.len_chars() > head).then(
        pl.format("{}.{}", c.str.slice(0, head), c.str.slice(head))).otherwise(c)


def icd9_text(frame: pl.DataFrame) -> pl.Expr:
    """The line's ICD-9-CM diagnoses as text ("366.16, 401.1"), null when it has none (or the frame has no
    ICD-9-CM columns): the claim edits show them and say they could not judge them."""
    cols = [c for c in ICD9_DX if c in frame.columns]
    if not cols:
        return pl.lit(None, dtype=pl.String)
    joined = pl.concat_str([icd9_dotted(c) for c in cols], separator=", ", ignore_nulls=True)
    return pl.when(joined.str.len_bytes() > 0).then(joined)


def npi_key() -> pl.Expr:
    """Rendering NPI, or the claim for a line without one (it then pairs only within its claim)."""
    return pl.coalesce(pl.col("rendering_npi"), pl.format("claim:{}", pl.col("claim_id"))).alias("npi_key")


def audited_lines(lines: pl.DataFrame, ctx: EditContext, doc: pl.DataFrame | None) -> pl.DataFrame:
    """The lines of the audited codes, with their normalised documented side (`doc_side` of `lines`, else of
    `doc`: line_key + doc_side, else null)."""
    a = lines.filter(pl.col("procedure_code").is_in(ctx.audited))
    if "doc_side" not in a.columns:
        if doc is not None and "doc_side" in doc.columns:
            a = a.join(doc.select("line_key", "doc_side"), on="line_key", how="left", maintain_order="left")
        else:
            a = a.with_columns(pl.lit(None, dtype=pl.String).alias("doc_side"))
    return a.with_columns(pl.col("doc_side").cast(pl.String).str.to_lowercase().str.strip_chars().alias("doc_side"))


def lines_of_members(lines: pl.DataFrame, cols: list[str], members: pl.Series, codes: pl.Expr) -> pl.DataFrame:
    """`cols` of the lines of `members` whose code satisfies `codes`, in line order (never copies `lines`)."""
    return lines.select(cols).filter(codes & pl.col("member_id").is_in(members.implode()))


def side_modifiers(ctx: EditContext, side: str) -> list[str]:
    """The modifiers the policy gives `side` (right / left / bilateral), e.g. RT, LT, 50."""
    return [str(k) for k, v in ctx.mods["side"].items() if v == side]


def modifier_side(ctx: EditContext) -> pl.Expr:
    r, lft, b = (has_modifier(side_modifiers(ctx, s)) for s in ("right", "left", "bilateral"))
    return (
        pl.when(b | (r & lft)).then(pl.lit("bilateral"))
        .when(r).then(pl.lit("right"))
        .when(lft).then(pl.lit("left"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )


def codes_edits_read(ctx: EditContext) -> tuple[list[str], list[list[str]]]:
    """The procedure codes any claim edit can read, from the rule data alone: the audited and family codes
    and every NCCI PTP partner of an audited code (as a list), and the E/M and procedure code ranges of the
    global-surgery edit (as inclusive ranges)."""
    ptp = ctx.rd.ptp.filter(pl.col("col1").is_in(ctx.audited) | pl.col("col2").is_in(ctx.audited))
    partners = set(ptp.get_column("col1").to_list()) | set(ptp.get_column("col2").to_list())
    codes = sorted(set(ctx.family) | set(ctx.audited) | partners)
    return codes, [*ctx.em_ranges, *ctx.proc_ranges]


def recorded_for_later_nights(ctx: EditContext) -> pl.Expr:
    """The lines a later night's edits can pair with a finding on that later line: the audited and family
    codes and the NCCI column-1 partners of an audited code. (A visit or procedure of an earlier night is
    only ever the line a finding would sit on, and history lines get no findings.)"""
    ptp = ctx.rd.ptp.filter(pl.col("col2").is_in(ctx.audited))
    codes = sorted(set(ctx.family) | set(ctx.audited) | set(ptp.get_column("col1").to_list()))
    return pl.col("procedure_code").is_in(codes)


def read_by_edits(ctx: EditContext) -> pl.Expr:
    """True for the lines a claim edit may read (the rest can be dropped once validated): the lines a
    streaming run keeps and a claims history stores. Every edit starts from one of these codes; a line of
    any other code is never selected by any edit."""
    codes, ranges = codes_edits_read(ctx)
    return pl.col("procedure_code").is_in(codes) | code_in_ranges("procedure_code", ranges)
