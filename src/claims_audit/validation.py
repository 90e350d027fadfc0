"""Checking every cell of a text table against the layout, and casting the rows that pass.

A row with a bad cell in a required column (claim, line, member, date, code, units) is rejected as a
whole. A bad cell in an optional column (modifiers, NPI, place of service, charge, diagnoses) does not
cost the row: the row is audited without that value (the cell is emptied), so a formatting slip in a
charge never hides a 34421 line from the audit. Every bad cell is reported either way (file, row, column,
value as in the file, reason, and the outcome: `row rejected` or `row audited without this value`), and
the audited lines carry a note of what was ignored for the findings. Nothing is dropped silently:
rows_read == rows_valid + rows_rejected, always.

The pandera schema built from the layout is the judge of every cell. To keep large clean extracts fast,
the same cell rules (:func:`claims_audit.schema.value_ok`) are first evaluated column by column, as
cheaply as each column allows:

* a mostly empty column is checked over its filled cells only;
* a repetitive column (codes, dates, counts, NPIs) over its distinct values, mapped back to the rows;
* any other column row by row, on the text as it stands.

A cell that is already in normal form (normalizing, the `accept` forms included, would not change it) and
passes its rules is accepted as it is, and its typed value is cast straight from it. Every other cell, a
handful in a real extract, takes the full path: normalized, checked, and cast one by one. Only rows that
fail there are handed to pandera for the detailed failure report, and only in the columns where a cell
failed, so on a clean file pandera (and its import) has nothing to do, and a file with one damaged
column is judged on that column.
Both use the very same expressions, so they cannot disagree; should they ever, pandera's verdict counts.
`tests/test_validation.py` checks the shortcuts against the plain path on generated and hostile frames.
"""

from __future__ import annotations

import functools
import operator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import polars as pl

from .readers import ROW, RawTable
from .schema import ColumnSpec, Layout, cast, damage_problem, normalize, value_ok

REJECTED_CELL_SCHEMA = {ROW: pl.Int64, "column": pl.String, "value": pl.String, "problem": pl.String,
                    "outcome": pl.String}
# the `outcome` of a Rejected row
ROW_REJECTED = "row rejected"
VALUE_IGNORED = "row audited without this value"
FILE_REJECTED = "file rejected"
# columns every audited line carries: the optional columns whose value was ignored ("modifier_1,dx_2") and
# a note naming them with the value as it was in the file; null on a line without ignored values
IGNORED_COLUMNS, IGNORED_NOTE = "ignored_columns", "ignored_note"
NOTE_VALUE_MAX = 40  # characters of an ignored value quoted in the note
# column types whose values repeat a great deal: checked over their distinct values
REPETITIVE = {"code", "date", "integer"}


@dataclass
class Validated:
    lines: pl.DataFrame  # typed rows audited (+ source_row, ignored_columns, ignored_note)
    rejected: pl.DataFrame  # one row per bad cell or broken row: source_row, column, value, problem, outcome
    rows_rejected: int  # distinct rejected rows (structural + a bad required cell)
    values_ignored: dict[str, int]  # per column, the bad optional cells of audited rows


def validate(raw: RawTable, layout: Layout) -> Validated:
    if raw.slots is not None:
        return _validate_by_slot(raw, layout)
    frame = raw.frame
    # columns are checked in parallel, one per core (polars releases the GIL inside each operation)
    with ThreadPoolExecutor(pl.thread_pool_size()) as pool:
        checked = list(pool.map(lambda s: check_column(frame.get_column(s.name), s), layout.columns))
    typed = [values for values, _ in checked]
    suspects = {s.name: bad for s, (_, bad) in zip(layout.columns, checked) if bad is not None}
    suspect = functools.reduce(operator.or_, suspects.values()) if suspects else None
    if suspect is not None and suspect.any():
        # only the columns with a failing cell go to pandera: the others passed the very same checks on
        # every row (a file with one damaged column is judged on that column, not on all of them)
        original = frame.filter(suspect).select(ROW, *suspects)
        normalized = original.with_columns([normalize(s) for s in layout.columns if s.name in suspects])
        cells = _failures(normalized, original, layout)
    else:
        cells = pl.DataFrame(schema=REJECTED_CELL_SCHEMA)
    required = [s.name for s in layout.columns if s.required]
    bad_rows = cells.filter(pl.col("column").is_in(required)).get_column(ROW).unique()
    cells = cells.with_columns(pl.when(pl.col(ROW).is_in(bad_rows.implode())).then(pl.lit(ROW_REJECTED))
                               .otherwise(pl.lit(VALUE_IGNORED)).alias("outcome"))
    lines = pl.DataFrame([frame.get_column(ROW), *typed])
    if bad_rows.len():
        lines = lines.filter(~pl.col(ROW).is_in(bad_rows.implode()))
    ignored = cells.filter(pl.col("outcome") == VALUE_IGNORED)
    lines = _without_empty_chunks(_without_ignored(_without_empty_chunks(lines), ignored, layout))
    structural = raw.structural.with_columns(pl.lit(ROW_REJECTED).alias("outcome"))
    rejected = pl.concat([structural.select(REJECTED_CELL_SCHEMA.keys()).cast(REJECTED_CELL_SCHEMA), cells])
    rejected = rejected.sort(ROW, "column", nulls_last=False, maintain_order=True)
    rows_rejected = raw.structural.height + bad_rows.len()
    counts = dict(ignored.group_by("column").len().iter_rows())
    values_ignored = {c: int(counts[c]) for c in layout.names if c in counts}
    return Validated(lines, rejected, rows_rejected, values_ignored)


def _without_ignored(lines: pl.DataFrame, ignored: pl.DataFrame, layout: Layout) -> pl.DataFrame:
    """Empty the ignored cells of the audited lines (their typed value may be a number the rules would
    trust, -12 for `(12.00)`) and add the note of what was ignored on each line."""
    if not ignored.height:
        return lines.with_columns(pl.lit(None, pl.String).alias(IGNORED_COLUMNS),
                                  pl.lit(None, pl.String).alias(IGNORED_NOTE))
    emptied = []
    for (column,), part in ignored.group_by("column", maintain_order=True):
        rows = part.get_column(ROW).implode()
        emptied.append(pl.when(pl.col(ROW).is_in(rows)).then(None).otherwise(pl.col(column)).alias(column))
    order = {c: i for i, c in enumerate(layout.names)}
    value = pl.col("value").fill_null("")
    quoted = pl.when(value.str.len_chars() > NOTE_VALUE_MAX).then(
        value.str.slice(0, NOTE_VALUE_MAX) + "…").otherwise(value)
    # a member id (optional in some layout) is never quoted: --mask-member-ids masks the Rejected sheet's
    # value, not the text of a finding's message
    named = pl.when(pl.col("column") == "member_id").then(pl.col("column")).otherwise(
        pl.format('{} "{}"', pl.col("column"), quoted))
    if ignored.get_column(ROW).is_unique().all():  # one ignored value a line (a damaged column): no grouping
        notes = ignored.select(ROW, pl.col("column").alias(IGNORED_COLUMNS), named.alias(IGNORED_NOTE))
    else:
        notes = (ignored.sort(pl.col(ROW), pl.col("column").replace_strict(order, default=len(order)))
                 .group_by(ROW, maintain_order=True)
                 .agg(pl.col("column").str.join(",").alias(IGNORED_COLUMNS),
                      named.str.join(", ").alias(IGNORED_NOTE)))
    return lines.with_columns(emptied).join(notes, on=ROW, how="left", maintain_order="left")


def _validate_by_slot(raw: RawTable, layout: Layout) -> Validated:
    """A wide layout's rows (several lines of one file row share its source_row): each line position is
    validated on its own, where source_row is unique again, so a bad line rejects only itself. The lines
    come back in file order (row, then position in the row)."""
    parts = []
    for n, slot in enumerate(raw.slots.unique().sort().to_list()):
        mask = raw.slots == slot
        structural = raw.structural if n == 0 else raw.structural.clear()
        parts.append(validate(RawTable(raw.frame.filter(mask), int(mask.sum()) + structural.height, structural),
                              layout))
    if not parts:
        return validate(RawTable(raw.frame, raw.rows_read, raw.structural), layout)
    lines = pl.concat([v.lines for v in parts], how="vertical_relaxed").sort(ROW, maintain_order=True)
    rejected = pl.concat([v.rejected for v in parts]).sort(ROW, "column", nulls_last=False, maintain_order=True)
    ignored: dict[str, int] = {}
    for v in parts:
        for column, count in v.values_ignored.items():
            ignored[column] = ignored.get(column, 0) + count
    return Validated(_without_empty_chunks(lines), rejected, sum(v.rows_rejected for v in parts), ignored)


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


# --- one column --------------------------------------------------------------------------------------


def check_column(col: pl.Series, spec: ColumnSpec) -> tuple[pl.Series, pl.Series | None]:
    """(typed values, mask of rows whose cell fails, or None when none does) for one text column."""
    if _free_text(spec):
        return plain_check(col, spec)[0], None  # no rule to fail: only empty text becomes null
    if not spec.required and col.null_count() * 2 > col.len():
        return _check_sparse(col, spec)
    if spec.type in REPETITIVE or spec.check:
        return _check_distinct(col, spec)
    return _check_rows(col, spec)


def plain_check(col: pl.Series, spec: ColumnSpec) -> tuple[pl.Series, pl.Series]:
    """The reference path: normalize, check and cast every cell. Used for the cells the shortcuts do not
    accept, and by the tests as the yardstick of the shortcuts."""
    out = _collect(pl.LazyFrame({spec.name: col}).select(normalize(spec)).select(
        cast(spec).alias("__typed"), (~_ok(spec)).alias("__bad")))
    return out.get_column("__typed").alias(spec.name), out.get_column("__bad")


def _collect(lf: pl.LazyFrame) -> pl.DataFrame:
    """Lazy, so that polars computes a sub-expression used twice (a cast checked and kept) only once."""
    return lf.collect()


def _free_text(spec: ColumnSpec) -> bool:
    return spec.type == "text" and not (spec.required or spec.normalize or spec.pattern or spec.check)


def _check_sparse(col: pl.Series, spec: ColumnSpec) -> tuple[pl.Series, pl.Series | None]:
    """A mostly empty optional column: only its filled cells are checked (an empty cell always passes)."""
    where = col.is_not_null().arg_true()
    values = col.gather(where)
    typed_v, bad_v = check_column(values, spec)
    bad = None
    if bad_v is not None:
        bad = pl.repeat(False, col.len(), eager=True).scatter(where.filter(bad_v), True)
    if typed_v is values:
        return col, bad
    typed = pl.repeat(None, col.len(), dtype=typed_v.dtype, eager=True).scatter(where, typed_v)
    return typed.alias(spec.name), bad


def _check_distinct(col: pl.Series, spec: ColumnSpec) -> tuple[pl.Series, pl.Series | None]:
    """Codes, dates, counts and NPIs repeat a great deal: each distinct value is normalized, checked and
    cast once and mapped back to the rows. When every distinct value is already in normal form, the column
    is used as it is (text) or cast straight (numbers): no mapping at all."""
    name = spec.name
    lookup = _collect(pl.LazyFrame({"__raw": col.unique()}).with_columns(pl.col("__raw").alias(name))
                      .with_columns(normalize(spec)).with_columns(
                          _ok(spec).alias("__ok"), cast(spec).alias("__typed"),
                          pl.col(name).eq_missing(pl.col("__raw")).alias("__same")))
    failing = lookup.filter(~pl.col("__ok")).get_column("__raw")
    bad = None
    if failing.len():
        bad = col.is_in(failing.drop_nulls().implode())
        if failing.null_count():
            bad = bad | col.is_null()
        bad = bad.fill_null(False)
    if lookup.get_column("__same").all():
        if spec.type in ("text", "code"):
            return col, bad
        if spec.type != "date":
            return _collect(pl.LazyFrame({name: col}).select(cast(spec))).to_series(), bad
    keys = lookup.filter(pl.col("__raw").is_not_null())
    values = col.replace_strict(keys.get_column("__raw"), keys.get_column("__typed"), default=None,
                                return_dtype=keys.get_column("__typed").dtype)
    return values.alias(name), bad


def _check_rows(col: pl.Series, spec: ColumnSpec) -> tuple[pl.Series, pl.Series | None]:
    """Ids and amounts, row by row: a cell already in normal form that passes is cast as it stands; the
    others (and only they) take the full path (e.g. ' 12.50' is fine once trimmed)."""
    c = pl.col(spec.name)
    if set(spec.normalize) - {"strip"}:
        steady = c.is_not_null() & c.eq_missing(normalize(spec))
    else:  # trimming at most: comparing lengths is much cheaper than comparing trimmed text
        steady = c.is_not_null() & (c.str.len_bytes() > 0)
        if "strip" in spec.normalize:
            steady = steady & (c.str.strip_chars().str.len_bytes() == c.str.len_bytes())
        if spec.accept:  # an `accept` form changes only a cell holding its mark ($ , ( :)
            steady = steady & ~c.str.contains_any(spec.accept_marks)
    accepted = (steady & value_ok(spec)).fill_null(False)
    if not spec.required:
        accepted = accepted | c.is_null()  # an empty optional cell passes and stays empty
    out = _collect(pl.LazyFrame({spec.name: col}).select(cast(spec).alias("__typed"),
                                                         accepted.alias("__accepted")))
    typed, ok = out.get_column("__typed").alias(spec.name), out.get_column("__accepted")
    if spec.type == "text":
        typed = col
    if ok.all():
        return typed, None
    where = (~ok).arg_true()
    typed_o, bad_o = plain_check(col.gather(where), spec)
    typed = (col.clone() if typed is col else typed).scatter(where, typed_o)
    bad = pl.repeat(False, col.len(), eager=True).scatter(where.filter(bad_o), True) if bad_o.any() else None
    return typed, bad


# --- the detailed report of the rows that fail -------------------------------------------------------


def _failures(frame: pl.DataFrame, original: pl.DataFrame, layout: Layout) -> pl.DataFrame:
    """Every failed cell from the pandera schema, with the value as it stood in the file."""
    import pandera.polars as pa  # only when some row fails: a clean extract never pays for the import

    try:
        layout.pandera_schema.validate(frame, lazy=True)
        return pl.DataFrame(schema=REJECTED_CELL_SCHEMA)
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
    fc = fc.filter(pl.col("index").is_not_null() & pl.col("column").is_not_null())
    specs = {s.name: s for s in layout.columns}
    out = []
    for column, part in fc.group_by("column", maintain_order=True):
        col = column[0]
        spec = specs[col]
        idx = part.get_column("index").cast(pl.Int64)
        rows = frame.get_column(ROW).gather(idx)
        values = original.get_column(col).gather(idx)
        required = part.get_column("check") == "not_nullable"
        # a value a spreadsheet probably changed is named as such, not as a generic shape problem
        problem = pl.DataFrame({col: frame.get_column(col).gather(idx), "__required": required}).select(
            pl.when(pl.col("__required")).then(pl.lit(f"{col} is required but empty"))
            .otherwise(pl.coalesce(damage_problem(spec), pl.lit(spec.problem)))).to_series()
        out.append(pl.DataFrame({ROW: rows, "column": [col] * part.height, "value": values,
                                 "problem": problem, "outcome": [None] * part.height},
                                schema=REJECTED_CELL_SCHEMA))
    if not out:
        return pl.DataFrame(schema=REJECTED_CELL_SCHEMA)
    return pl.concat(out).unique(maintain_order=True)
