"""Checking every cell of a text table against the layout, and casting the rows that pass.

A row with any bad cell is rejected as a whole, and every bad cell of it is reported (file, row, column,
value, reason). Nothing is dropped silently: rows_read == rows_valid + rows_rejected, always.

The pandera schema built from the layout is the judge of every cell. To keep large clean extracts fast,
the same cell rules are first evaluated as one vectorised pass over the whole table; only the rows that
pass fails are handed to pandera for the detailed failure report (on a clean file, pandera has nothing
to do). Both use the very same expressions (:func:`claims_audit.schema.value_ok`), so they cannot
disagree; should they ever, pandera's verdict is the one that counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

from .readers import ROW, RawTable
from .schema import Layout, cast, normalize, value_ok

REJECTED_COLUMNS = {ROW: pl.Int64, "column": pl.String, "value": pl.String, "problem": pl.String}


@dataclass
class Validated:
    lines: pl.DataFrame  # typed rows that passed every check (+ source_row)
    rejected: pl.DataFrame  # one row per bad cell or broken row: source_row, column, value, problem
    rows_rejected: int  # distinct rejected rows (structural + cell-level)


def validate(raw: RawTable, layout: Layout) -> Validated:
    frame = raw.frame.lazy().with_columns([normalize(s) for s in layout.columns]).collect()
    passes = [value_ok(s) & (pl.col(s.name).is_not_null() if s.required else pl.lit(True))
              for s in layout.columns]
    suspect = frame.lazy().select(~pl.all_horizontal(passes)).collect().to_series()
    if suspect.any():
        cells = _failures(frame.filter(suspect), raw.frame.filter(suspect), layout)
    else:
        cells = pl.DataFrame(schema=REJECTED_COLUMNS)
    bad_rows = cells.get_column(ROW).unique()
    valid = frame.filter(~pl.col(ROW).is_in(bad_rows.implode())) if bad_rows.len() else frame
    typed = valid.lazy().with_columns([cast(s) for s in layout.columns]).collect()
    rejected = pl.concat([raw.structural.select(REJECTED_COLUMNS.keys()).cast(REJECTED_COLUMNS), cells])
    rejected = rejected.sort(ROW, "column", nulls_last=False, maintain_order=True)
    rows_rejected = raw.structural.height + bad_rows.len()
    return Validated(typed, rejected, rows_rejected)


def _failures(frame: pl.DataFrame, original: pl.DataFrame, layout: Layout) -> pl.DataFrame:
    """Every failed cell from the pandera schema, with the value as it stood in the file."""
    try:
        layout.pandera_schema.validate(frame, lazy=True)
        return pl.DataFrame(schema=REJECTED_COLUMNS)
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
    fc = fc.filter(pl.col("index").is_not_null() & pl.col("column").is_not_null())
    problems = {s.name: s.problem for s in layout.columns}
    out = []
    for column, part in fc.group_by("column", maintain_order=True):
        col = column[0]
        idx = part.get_column("index").cast(pl.Int64)
        rows = frame.get_column(ROW).gather(idx)
        values = original.get_column(col).gather(idx)
        required = part.get_column("check") == "not_nullable"
        problem = pl.select(pl.when(required).then(pl.lit(f"{col} is required but empty"))
                            .otherwise(pl.lit(problems.get(col, f"{col} is not valid")))).to_series()
        out.append(pl.DataFrame({ROW: rows, "column": [col] * part.height, "value": values,
                                 "problem": problem}, schema=REJECTED_COLUMNS))
    if not out:
        return pl.DataFrame(schema=REJECTED_COLUMNS)
    return pl.concat(out).unique(maintain_order=True)
