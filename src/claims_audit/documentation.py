"""Reading approach, vessel and side out of documentation text, vectorised over whole columns.

The vocabulary is data (``data/documentation/vocabulary.yaml``); this module turns each concept's terms
into one case-insensitive regular expression and evaluates them as polars string expressions, so a batch of
34421 lines is classified without a Python loop per line.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import polars as pl
import yaml

DATA = Path(__file__).parent / "data" / "documentation"
APPROACH_FIELD = "documented_approach"
SITE_FIELD = "documented_site"
NOTE_FIELD = "op_note"
WINDOW = 40  # characters of context quoted around a match in a note


@dataclass(frozen=True)
class Vocabulary:
    approach: dict[str, list[str]]
    vessel: dict[str, list[str]]
    non_answers: list[str]
    side: dict[str, list[str]]
    procedure: list[str]
    labels: dict[str, str]
    version: str


@lru_cache(maxsize=4)
def load_vocabulary(path: Path = DATA / "vocabulary.yaml") -> Vocabulary:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Vocabulary(doc["approach"], doc["vessel"], doc["non_answers"], doc["side"], doc["procedure"],
                      doc.get("labels", {}), str(doc.get("version", "")))


def _alt(terms: list[str]) -> str:
    return "(?:" + "|".join(terms) + ")"


def rx(terms: list[str]) -> str:
    """One case-insensitive pattern matching any of the terms as whole words."""
    return r"(?i)\b" + _alt(terms) + r"\b"


def rx_capture(terms: list[str]) -> str:
    return r"(?i)\b(" + _alt(terms) + r")\b"


def rx_window(terms: list[str]) -> str:
    return r"(?is)(.{0,%d}\b%s\b.{0,%d})" % (WINDOW, _alt(terms), WINDOW)


def answered(e: pl.Expr, vocab: Vocabulary) -> pl.Expr:
    """The text, or null when it is blank or a non-answer ("N/A", "see op note", "vein")."""
    non = r"(?i)^\s*" + _alt(vocab.non_answers) + r"\s*[.]?\s*$"
    return pl.when(e.is_null() | e.str.strip_chars().eq("") | e.str.contains(non)).then(None).otherwise(e)


def first_concept(text: pl.Expr, concepts: dict[str, list[str]]) -> pl.Expr:
    """The first concept (in the vocabulary's order) whose terms occur in the text, else null."""
    expr = pl.lit(None, pl.String)
    for name, terms in reversed(list(concepts.items())):
        expr = pl.when(text.str.contains(rx(terms))).then(pl.lit(name)).otherwise(expr)
    return expr


def concept_evidence(text: pl.Expr, concepts: dict[str, list[str]], concept: pl.Expr,
                     window: bool) -> pl.Expr:
    """The words that matched the chosen concept (with context when quoting a note)."""
    expr = pl.lit(None, pl.String)
    for name, terms in concepts.items():
        pattern = rx_window(terms) if window else rx_capture(terms)
        found = text.str.extract(pattern, 1)
        if window:
            found = found.str.replace_all(r"\s+", " ").str.strip_chars()
        expr = pl.when(concept == name).then(found).otherwise(expr)
    return expr


def approach_of(text: pl.Expr, vocab: Vocabulary) -> pl.Expr:
    """Approach concept of one text; abdominal and leg words together mean abdominal_and_leg."""
    both = text.str.contains(rx(vocab.approach["abdominal"])) & text.str.contains(
        rx(vocab.approach["leg_incision"]))
    return pl.when(both).then(pl.lit("abdominal_and_leg")).otherwise(first_concept(text, vocab.approach))


def side_of(text: pl.Expr, vocab: Vocabulary) -> pl.Expr:
    expr = pl.lit(None, pl.String)
    for name in ("right", "left", "bilateral"):  # reversed priority: bilateral, then left, then right
        expr = pl.when(text.str.contains(rx(vocab.side[name]))).then(pl.lit(name)).otherwise(expr)
    return expr


def classify(lines: pl.DataFrame, vocab: Vocabulary | None = None) -> pl.DataFrame:
    """Add doc_* columns (see docs/design.md) to lines that carry the documentation columns."""
    vocab = vocab or load_vocabulary()
    a_txt = answered(pl.col(APPROACH_FIELD), vocab)
    s_txt = answered(pl.col(SITE_FIELD), vocab)
    note = answered(pl.col(NOTE_FIELD), vocab)
    approaches = {**vocab.approach}
    df = lines.with_columns(
        approach_of(a_txt, vocab).alias("_a_abs"),
        first_concept(s_txt, vocab.vessel).alias("_v_abs"),
        approach_of(note, vocab).alias("_a_note"),
        first_concept(note, vocab.vessel).alias("_v_note"),
        side_of(pl.concat_str([s_txt, a_txt], separator=" ", ignore_nulls=True), vocab).alias("_side_abs"),
        side_of(note, vocab).alias("_side_note"),
        note.str.contains(rx(vocab.procedure)).alias("doc_procedure"),
    )
    a_src = pl.when(pl.col("_a_abs").is_not_null()).then(pl.lit("abstract")).when(
        pl.col("_a_note").is_not_null()).then(pl.lit("note"))
    v_src = pl.when(pl.col("_v_abs").is_not_null()).then(pl.lit("abstract")).when(
        pl.col("_v_note").is_not_null()).then(pl.lit("note"))
    df = df.with_columns(
        pl.coalesce("_a_abs", "_a_note", pl.lit("unknown")).alias("doc_approach"),
        pl.coalesce("_v_abs", "_v_note", pl.lit("unknown")).alias("doc_vessel"),
        pl.coalesce("_side_abs", "_side_note").alias("doc_side"),
        a_src.alias("_a_src"),
        v_src.alias("_v_src"),
    )
    both_ab = {**approaches, "abdominal_and_leg": approaches["abdominal"] + approaches["leg_incision"]}
    abs_a_ev = concept_evidence(a_txt, both_ab, pl.col("_a_abs"), window=False)
    note_a_ev = concept_evidence(note, both_ab, pl.col("_a_note"), window=True)
    abs_v_ev = concept_evidence(s_txt, vocab.vessel, pl.col("_v_abs"), window=False)
    note_v_ev = concept_evidence(note, vocab.vessel, pl.col("_v_note"), window=True)
    df = df.with_columns(
        pl.when(pl.col("_a_src") == "abstract").then(pl.format('approach "{}"', abs_a_ev))
        .when(pl.col("_a_src") == "note").then(pl.format('op note "…{}…"', note_a_ev))
        .alias("doc_approach_evidence"),
        pl.when(pl.col("_v_src") == "abstract").then(pl.format('site "{}"', abs_v_ev))
        .when(pl.col("_v_src") == "note").then(pl.format('op note "…{}…"', note_v_ev))
        .alias("doc_site_evidence"),
        pl.when(pl.col("_a_abs").is_not_null() & pl.col("_a_note").is_not_null()
                & (pl.col("_a_abs") != pl.col("_a_note")))
        .then(pl.format('approach "{}" vs op note "…{}…"', abs_a_ev, note_a_ev)).alias("_a_conflict"),
        pl.when(pl.col("_v_abs").is_not_null() & pl.col("_v_note").is_not_null()
                & (pl.col("_v_abs") != pl.col("_v_note")))
        .then(pl.format('site "{}" vs op note "…{}…"', abs_v_ev, note_v_ev)).alias("_v_conflict"),
        pl.coalesce(pl.when(pl.col("_a_src") == "note").then(pl.lit("note")),
                    pl.when(pl.col("_v_src") == "note").then(pl.lit("note")),
                    pl.when(pl.col("_a_src").is_not_null() | pl.col("_v_src").is_not_null())
                    .then(pl.lit("abstract")), pl.lit("none")).alias("doc_source"),
    )
    return df.with_columns(
        pl.concat_str([pl.col("_a_conflict"), pl.col("_v_conflict")], separator="; ", ignore_nulls=True)
        .replace("", None).alias("doc_conflict"),
    ).drop("_a_abs", "_v_abs", "_a_note", "_v_note", "_side_abs", "_side_note", "_a_src", "_v_src",
           "_a_conflict", "_v_conflict")
