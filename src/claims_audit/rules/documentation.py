"""APPROACH_MISMATCH, SITE_MISMATCH, DOCUMENTATION_INCOMPLETE, DOCUMENTATION_CONFLICT for 34421 lines.

Input: 34421 lines already classified by :func:`claims_audit.documentation.classify`. The code that would
fit comes from the crosswalk data file (approach x vessel).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import polars as pl

from ..documentation import DATA, Vocabulary, load_vocabulary
from . import conform, empty_output

OPEN_LEG = "leg_incision"
SITES_34421 = ("ivc", "iliac_vein", "femoral_vein", "popliteal_vein")
WRONG_APPROACHES = ("abdominal", "abdominal_and_leg", "neck", "arm", "percutaneous", "catheter_lysis")
WRONG_VESSELS = ("calf_vein", "saphenous_vein", "subclavian_vein", "axillary_vein", "upper_body_vein",
                 "visceral_vein", "artery", "dialysis_access")


@lru_cache(maxsize=2)
def crosswalk(path: Path = DATA / "crosswalk.csv") -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False).select("approach", "vessel", pl.col("code").alias("_xw"))


def _label(col: str, vocab: Vocabulary) -> pl.Expr:
    return pl.col(col).replace_strict(vocab.labels, default=pl.col(col))


def apply(lines: pl.DataFrame, vocab: Vocabulary | None = None) -> pl.DataFrame:
    """Findings for classified 34421 lines (columns doc_* present)."""
    if lines.height == 0:
        return empty_output()
    vocab = vocab or load_vocabulary()
    df = lines.join(crosswalk(), left_on=["doc_approach", "doc_vessel"], right_on=["approach", "vessel"],
                    how="left", maintain_order="left")
    clean_code = pl.col("_xw").replace("34421", None)
    a_label, v_label = _label("doc_approach", vocab), _label("doc_vessel", vocab)
    fit = pl.when(clean_code.is_not_null()).then(pl.format(" The documentation fits {}.", clean_code)
                                                  ).otherwise(pl.lit(""))
    parts = []
    approach_bad = df.filter(pl.col("doc_approach").is_in(WRONG_APPROACHES))
    parts.append(approach_bad.select(
        "line_key", pl.lit("APPROACH_MISMATCH").alias("rule_id"), pl.lit("error").alias("severity"),
        pl.format("Documented approach is {}, not a leg incision; 34421 is not supported.{}",
                  a_label, fit).alias("message"),
        clean_code.alias("suggested_code"), pl.col("doc_approach_evidence").alias("evidence")))
    site_bad = df.filter(pl.col("doc_vessel").is_in(WRONG_VESSELS))
    parts.append(site_bad.select(
        "line_key", pl.lit("SITE_MISMATCH").alias("rule_id"), pl.lit("error").alias("severity"),
        pl.format("Documented vessel is {}, not the vena cava, an iliac, femoral or popliteal vein; "
                  "34421 is not supported.{}", v_label, fit).alias("message"),
        clean_code.alias("suggested_code"), pl.col("doc_site_evidence").alias("evidence")))
    no_procedure = pl.col("doc_procedure").fill_null(True).not_()
    incomplete = df.filter((pl.col("doc_approach") == "unknown") | (pl.col("doc_vessel") == "unknown")
                           | no_procedure)
    what = pl.concat_str([
        pl.when(pl.col("doc_approach") == "unknown").then(pl.lit("the approach is not documented")),
        pl.when(pl.col("doc_vessel") == "unknown").then(pl.lit("the vessel is not documented")),
        pl.when(no_procedure).then(pl.lit("the operative note does not describe removal of thrombus")),
    ], separator="; ", ignore_nulls=True)
    parts.append(incomplete.select(
        "line_key", pl.lit("DOCUMENTATION_INCOMPLETE").alias("rule_id"), pl.lit("warning").alias("severity"),
        pl.format("Documentation does not support 34421: {}.", what).alias("message"),
        pl.lit(None, pl.String).alias("suggested_code"),
        pl.concat_str([pl.col("doc_approach_evidence"), pl.col("doc_site_evidence")], separator="; ",
                      ignore_nulls=True).replace("", None).alias("evidence")))
    conflict = df.filter(pl.col("doc_conflict").is_not_null())
    parts.append(conflict.select(
        "line_key", pl.lit("DOCUMENTATION_CONFLICT").alias("rule_id"), pl.lit("review").alias("severity"),
        pl.lit("The abstracted approach or vessel disagrees with the operative note; confirm which record "
               "the line was coded from.").alias("message"),
        pl.lit(None, pl.String).alias("suggested_code"), pl.col("doc_conflict").alias("evidence")))
    return pl.concat([conform(p) for p in parts])
