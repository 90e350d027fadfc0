"""APPROACH_MISMATCH, SITE_MISMATCH, DOCUMENTATION_INCOMPLETE, DOCUMENTATION_CONFLICT for 34421 lines.

Input: 34421 lines already classified by :func:`claims_audit.documentation.classify` (doc_* columns). The
code that would fit comes from the crosswalk data file (documentation/crosswalk.csv: approach x vessel),
suggested only when the cell names exactly one code and never on a clean line.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from .. import ruledata
from ..errors import ConfigError
from ..documentation import DATA, NOTE_HISTORY_ONLY, NOTE_NO_REMOVAL, Vocabulary, load_vocabulary
from . import conform, empty_output
from .registry import AUDITED_LINES, declare, default_severity, register

if TYPE_CHECKING:
    from .inputs import RuleInputs

FAMILY = "documentation"
TABLES = ("documentation/vocabulary", "documentation/crosswalk")

WRONG_APPROACHES = ("abdominal", "abdominal_and_leg", "neck", "arm", "percutaneous", "catheter_lysis")
WRONG_VESSELS = ("calf_vein", "saphenous_vein", "subclavian_vein", "axillary_vein", "upper_body_vein",
                 "visceral_vein", "tibioperoneal_artery", "artery", "dialysis_access")
RECORD_PROBLEM = "doc_record_problem"  # set by claims_audit.records: every record of the line was unreadable
CROSSWALK_REF = "documentation crosswalk (data/documentation/crosswalk.csv): {} x {} -> {}"


@lru_cache(maxsize=4)
def crosswalk(path: Path = DATA / "crosswalk.csv") -> pl.DataFrame:
    """The approach x vessel -> code table (documentation rule data)."""
    try:
        table = pl.read_csv(path, infer_schema=False)
        return table.select("approach", "vessel", pl.col("code").alias("_xw"))
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise ConfigError(f"documentation rule data {path} cannot be read ({type(exc).__name__}): it needs "
                          "the columns approach, vessel and code") from None


def _label(col: str, vocab: Vocabulary) -> pl.Expr:
    return pl.col(col).replace_strict(vocab.labels, default=pl.col(col))


def _source(col: str) -> pl.Expr:
    """ "the abstract" / "the operative note" for the doc_*_evidence column (which says where it came from)."""
    abstract = pl.col(col).str.starts_with('approach "') | pl.col(col).str.starts_with('site "')
    return pl.when(abstract).then(pl.lit("the abstract")).otherwise(pl.lit("the operative note"))


def apply(lines: pl.DataFrame, vocab: Vocabulary | None = None) -> pl.DataFrame:
    """Findings for classified 34421 lines (columns doc_* present)."""
    if lines.height == 0:
        return empty_output()
    vocab = vocab or load_vocabulary()
    for c in ("doc_note_kind", "doc_note_evidence", "doc_conflict", RECORD_PROBLEM):
        if c not in lines.columns:
            lines = lines.with_columns(pl.lit(None, pl.String).alias(c))
    df = lines.join(crosswalk(vocab.folder / "crosswalk.csv"), left_on=["doc_approach", "doc_vessel"],
                    right_on=["approach", "vessel"], how="left", maintain_order="left")
    code = pl.col("_xw").replace(list(ruledata.audited_codes()), None)  # the billed code fits: no suggestion
    a_label, v_label = _label("doc_approach", vocab), _label("doc_vessel", vocab)
    fit = pl.when(code.is_not_null()).then(pl.format(" The documentation fits {}.", code)).otherwise(pl.lit(""))
    reference = pl.when(code.is_not_null()).then(
        pl.format(CROSSWALK_REF, pl.col("doc_approach"), pl.col("doc_vessel"), code))
    parts = []

    approach_bad = df.filter(pl.col("doc_approach").is_in(WRONG_APPROACHES))
    parts.append(approach_bad.select(
        "line_key", pl.lit("APPROACH_MISMATCH").alias("rule_id"),
        pl.lit(default_severity("APPROACH_MISMATCH")).alias("severity"),
        pl.format("The approach documented in {} is {}, not a leg incision; 34421 is not supported.{}",
                  _source("doc_approach_evidence"), a_label, fit).alias("message"),
        code.alias("suggested_code"), pl.col("doc_approach_evidence").alias("evidence"),
        reference.alias("reference")))

    site_bad = df.filter(pl.col("doc_vessel").is_in(WRONG_VESSELS))
    parts.append(site_bad.select(
        "line_key", pl.lit("SITE_MISMATCH").alias("rule_id"),
        pl.lit(default_severity("SITE_MISMATCH")).alias("severity"),
        pl.format("The vessel documented in {} is {}, not the vena cava, an iliac, femoral or popliteal vein; "
                  "34421 is not supported.{}", _source("doc_site_evidence"), v_label, fit).alias("message"),
        code.alias("suggested_code"), pl.col("doc_site_evidence").alias("evidence"),
        reference.alias("reference")))

    no_procedure = pl.col("doc_procedure").fill_null(True).not_()
    unreadable = pl.col(RECORD_PROBLEM).is_not_null()
    incomplete = df.filter((pl.col("doc_approach") == "unknown") | (pl.col("doc_vessel") == "unknown")
                           | no_procedure | unreadable)
    what = pl.concat_str([
        pl.when(unreadable).then(pl.format("the medical record supplied for this line could not be read ({})",
                                           pl.col(RECORD_PROBLEM))),
        pl.when(pl.col("doc_approach") == "unknown").then(pl.lit("the approach (incision) is not documented")),
        pl.when(pl.col("doc_vessel") == "unknown").then(pl.lit("the vessel is not documented")),
        pl.when(no_procedure & (pl.col("doc_note_kind") == NOTE_NO_REMOVAL))
        .then(pl.lit("the operative note does not describe removal of thrombus"))
        .when(no_procedure & (pl.col("doc_note_kind") == NOTE_HISTORY_ONLY))
        .then(pl.lit("the operative note mentions thrombus removal only as history, a plan or a negation"))
        .when(no_procedure).then(pl.format("the operative note describes {}, not removal of thrombus in "
                                           "this procedure", pl.col("doc_note_kind"))),
    ], separator="; ", ignore_nulls=True)
    parts.append(incomplete.select(
        "line_key", pl.lit("DOCUMENTATION_INCOMPLETE").alias("rule_id"),
        pl.lit(default_severity("DOCUMENTATION_INCOMPLETE")).alias("severity"),
        pl.format("Documentation does not support 34421: {}. An operative note naming the leg incision, the "
                  "vein and the thrombus removal would.", what).alias("message"),
        pl.lit(None, pl.String).alias("suggested_code"),
        pl.concat_str([pl.when(pl.col("doc_approach") != "unknown").then(pl.col("doc_approach_evidence")),
                       pl.when(pl.col("doc_vessel") != "unknown").then(pl.col("doc_site_evidence")),
                       pl.when(no_procedure).then(pl.col("doc_note_evidence")),
                       pl.when(unreadable).then(pl.format("unreadable record {}", pl.col(RECORD_PROBLEM)))],
                      separator="; ", ignore_nulls=True).replace("", None).alias("evidence")))

    conflict = df.filter(pl.col("doc_conflict").is_not_null())
    parts.append(conflict.select(
        "line_key", pl.lit("DOCUMENTATION_CONFLICT").alias("rule_id"),
        pl.lit(default_severity("DOCUMENTATION_CONFLICT")).alias("severity"),
        pl.format("The abstracted {} disagrees with the operative note; confirm which record the line was "
                  "coded from ({}).",
                  pl.when(pl.col("doc_conflict").str.contains("; site:")).then(pl.lit("approach and vessel"))
                  .when(pl.col("doc_conflict").str.starts_with("site:")).then(pl.lit("vessel"))
                  .otherwise(pl.lit("approach")),
                  # the note decides where it describes the thrombus removal (documentation.classify_texts)
                  pl.when(pl.col("doc_procedure").fill_null(False))
                  .then(pl.lit("the operative note's account was used for the other findings: coders code from "
                               "the body of the operative report"))
                  .otherwise(pl.lit("the abstract was used for the other findings: the note describes no "
                                    "thrombus removal"))).alias("message"),
        pl.lit(None, pl.String).alias("suggested_code"), pl.col("doc_conflict").alias("evidence")))
    return pl.concat([conform(p) for p in parts])


@register(
    declare("APPROACH_MISMATCH", severity="error", tables=TABLES, scope=AUDITED_LINES),
    declare("SITE_MISMATCH", severity="error", tables=TABLES, scope=AUDITED_LINES),
    declare("DOCUMENTATION_INCOMPLETE", severity="warning", tables=TABLES, scope=AUDITED_LINES),
    declare("DOCUMENTATION_CONFLICT", severity="review", tables=TABLES, scope=AUDITED_LINES),
    family=FAMILY, cost=2)
def check(inputs: RuleInputs) -> pl.DataFrame:
    """The four documentation rules over the classified audited lines."""
    return apply(inputs.classified)
