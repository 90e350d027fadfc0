"""Checking every cell of a text table against the layout, and casting the rows that pass.

A row with any bad cell is rejected as a whole, and every bad cell of it is reported (file, row, column,
value, reason). Nothing is dropped silently: rows_read == rows_valid + rows_rejected, always.

The pandera schema built from the layout is the judge of every cell. To keep large clean extracts fast,
the same cell rules are first evaluated column by column (over the distinct values of repetitive columns
such as codes and dates, mapped back to the rows); only the rows that this pass flags are handed to pandera
for the detailed failure report (on a clean file, pandera has nothing to do). Both use the very same
expressions (:func:`claims_audit.schema.value_ok`), so they cannot disagree; should they ever, pandera's
verdict is the one that counts.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

from .readers import ROW, RawTable
from .schema import ColumnSpec, Layout, cast, normalize, value_ok

REJECTED_COLUMNS = {ROW: pl.Int64, "column": pl.String, "value": pl.String, "problem": pl.String}


@dataclass
class Validated:
    lines: pl.DataFrame  # typed rows that passed every check (+ source_row)
    rejected: pl.DataFrame  # one row per bad cell or broken row: source_row, column, value, problem
    rows_rejected: int  # distinct rejected rows (structural + cell-level)


def validate(raw: RawTable, layout: Layout) -> Validated:
    frame = raw.frame
    typed: dict[str, pl.Series] = {}
    suspects: list[pl.Series] = []
    for spec in layout.columns:
        values, bad = _check_column(frame.get_column(spec.name), spec)
        typed[spec.name] = values
        if bad is not None:
            suspects.append(bad)
    suspect = functools.reduce(operator.or_, suspects) if suspects else None
    if suspect is not None and suspect.any():
        original = frame.filter(suspect)
        normalized = original.with_columns([normalize(s) for s in layout.columns])
        cells = _failures(normalized, original, layout)
    else:
        cells = pl.DataFrame(schema=REJECTED_COLUMNS)
    bad_rows = cells.get_column(ROW).unique()
    lines = pl.DataFrame([frame.get_column(ROW), *typed.values()])
    if bad_rows.len():
        lines = lines.filter(~pl.col(ROW).is_in(bad_rows.implode()))
    lines = _without_empty_chunks(lines)
    rejected = pl.concat([raw.structural.select(REJECTED_COLUMNS.keys()).cast(REJECTED_COLUMNS), cells])
    rejected = rejected.sort(ROW, "column", nulls_last=False, maintain_order=True)
    rows_rejected = raw.structural.height + bad_rows.len()
    return Validated(lines, rejected, rows_rejected)


def _without_empty_chunks(frame: pl.DataFrame) -> pl.DataFrame:
    """Row filters (here and in the reader) can leave empty chunks inside a column, and some polars 2.1
    kernels panic on them (`pl.format("x{}", col)` does: "assertion failed: i < self.len()"). Only the
    columns concerned are rechunked; an ordinary file has none, so it costs nothing there."""
    cols = frame.get_columns()
    fixed = [c.rechunk() if c.n_chunks() > 1 and any(k.len() == 0 for k in c.get_chunks()) else c for c in cols]
    if all(a is b for a, b in zip(fixed, cols)):
        return frame
    return pl.DataFrame(fixed)


def _ok(spec: ColumnSpec) -> pl.Expr:
    """A normalized cell passes its column's rules (a required column also needs a value)."""
    ok = value_ok(spec)
    return ok & pl.col(spec.name).is_not_null() if spec.required else ok


def _check_column(col: pl.Series, spec: ColumnSpec) -> tuple[pl.Series, pl.Series | None]:
    """(typed values, mask of rows whose cell fails or None when none can) for one text column.

    Codes, dates, counts and NPIs repeat a great deal: their distinct values are normalized, checked and
    cast once and mapped back (a column already in normal form is reused as it is, without a copy).
    Free text, ids and amounts are handled over the whole column.
    """
    name = spec.name
    if spec.type == "text" and not spec.check or spec.type == "decimal":
        out = pl.DataFrame({name: col}).select(normalize(spec)).select(
            cast(spec).alias("__typed"), (~_ok(spec)).alias("__bad"))
        bad = out.get_column("__bad")
        return out.get_column("__typed").alias(name), (bad if bad.any() else None)
    lookup = pl.DataFrame({"__raw": col.unique()}).with_columns(pl.col("__raw").alias(name)).with_columns(
        normalize(spec)).with_columns(_ok(spec).alias("__ok"), cast(spec).alias("__typed"))
    failing = lookup.filter(~pl.col("__ok")).get_column("__raw")
    bad = None
    if failing.len():
        bad = col.is_in(failing.drop_nulls().implode())
        if failing.null_count():
            bad = bad | col.is_null()
        bad = bad.fill_null(False)
    raw_v, typed_v = lookup.get_column("__raw"), lookup.get_column("__typed")
    if typed_v.dtype == pl.String and raw_v.equals(typed_v, check_names=False, null_equal=True):
        return col, bad
    keys = lookup.filter(pl.col("__raw").is_not_null())
    values = col.replace_strict(keys.get_column("__raw"), keys.get_column("__typed"), default=None,
                                return_dtype=typed_v.dtype)
    return values.alias(name), bad


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
