"""`read_by_edits`: dropping every line it rejects changes no claim-edit finding (the contract streaming
and the claims history rely on)."""

from __future__ import annotations

import polars as pl

from claims_audit import ruledata, sample
from claims_audit.ruleconfig import DEFAULT
from claims_audit.rules.claim_edits import apply
from claims_audit.rules.claim_edits.context import EditContext, read_by_edits
from claims_audit.schema import load_layout
from claims_audit.validation import validate
from claims_audit.readers import RawTable


def _lines(n: int, seed: int) -> pl.DataFrame:
    layout = load_layout()
    frame = sample.generate(n, seed=seed).with_row_index("source_row", offset=2).with_columns(
        pl.col("source_row").cast(pl.Int64))
    frame = frame.with_columns(pl.lit(None, pl.String).alias(c) for c in layout.names if c not in frame.columns)
    checked = validate(RawTable(frame, frame.height, pl.DataFrame(schema={
        "source_row": pl.Int64, "column": pl.String, "value": pl.String, "problem": pl.String})), layout)
    return checked.lines.with_columns(pl.lit("x.csv").alias("source_file")).with_row_index("line_key").with_columns(
        pl.col("line_key").cast(pl.Int64))


def test_the_lines_edits_do_not_read_change_no_finding():
    lines = _lines(30_000, seed=11)
    keep = read_by_edits(EditContext(ruledata.load(), DEFAULT))
    kept = lines.filter(keep)
    assert 0 < kept.height < lines.height
    everything = apply(lines)
    assert everything.height > 100
    assert apply(kept).equals(everything)
