"""A table's rows as the workbook writer reads them: in order, a batch at a time.

Most tables are one frame in memory. The Rejected cells of a damaged night may be as many as its rows and
live in files (:mod:`claims_audit.rejected`): the writer never joins them. It reads the batches once to
size the columns and once to write the rows, and applies the report's changes (masking, the sheet's
columns, spreadsheet-safe text) to each batch as it comes (:meth:`TableRows.map`). A frame is one batch,
so both kinds go through the very same code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl


@dataclass(frozen=True)
class TableRows:
    """`height` rows of `schema`, read again from the start by every call of :meth:`batches`."""

    schema: pl.Schema
    height: int
    _batches: Callable[[], Iterator[pl.DataFrame]]

    @classmethod
    def of(cls, source: pl.DataFrame | TableRows | Any) -> TableRows:
        """A frame, or anything with `schema`, `height` and `batches()` (the run's rejected cells)."""
        if isinstance(source, TableRows):
            return source
        if isinstance(source, pl.DataFrame):
            return cls(source.schema, source.height, lambda: iter((source,)))
        return cls(pl.Schema(source.schema), source.height, source.batches)

    @property
    def columns(self) -> list[str]:
        return list(self.schema)

    @property
    def dtypes(self) -> list[pl.DataType]:
        return list(self.schema.values())

    def batches(self) -> Iterator[pl.DataFrame]:
        return self._batches()

    def map(self, change: Callable[[pl.DataFrame], pl.DataFrame]) -> TableRows:
        """`change` (row for row: it keeps every row, in order) applied to each batch as it is read."""
        schema = change(pl.DataFrame(schema=self.schema)).schema
        return TableRows(schema, self.height, lambda: (change(batch) for batch in self._batches()))

    def slice(self, offset: int, length: int) -> TableRows:
        """Rows `offset` to `offset + length` (as DataFrame.slice)."""
        end = min(self.height, offset + length)

        def batches() -> Iterator[pl.DataFrame]:
            start = 0
            for batch in self._batches():
                low, high = max(offset - start, 0), min(end - start, batch.height)
                if high > low:
                    yield batch.slice(low, high - low)
                start += batch.height
                if start >= end:
                    return
        return TableRows(self.schema, max(0, end - offset), batches)

    def pieces(self, rows: int) -> Iterator[pl.DataFrame]:
        """The rows in frames of `rows` rows each (the last may be shorter), in order."""
        held: list[pl.DataFrame] = []
        count = 0
        for batch in self._batches():
            while batch.height:
                taken = batch.slice(0, rows - count)
                held.append(taken)
                count += taken.height
                batch = batch.slice(taken.height)
                if count == rows:
                    yield held[0] if len(held) == 1 else pl.concat(held)
                    held, count = [], 0
        if held:
            yield held[0] if len(held) == 1 else pl.concat(held)

    def aggregate(self, exprs: Sequence[pl.Expr], combine: Callable[[list[Any]], Any]) -> tuple:
        """`exprs` (each one value over a frame) over every batch, each combined over the batches by
        `combine` (max, any, sum: whatever gives the value over the whole table)."""
        per_batch = [batch.select(exprs).row(0) for batch in self._batches() if batch.height]
        values = ([row[i] for row in per_batch if row[i] is not None] for i in range(len(exprs)))
        return tuple(combine(v) if v else None for v in values)

    def frame(self) -> pl.DataFrame:
        """Every row in one frame (a small table)."""
        batches = list(self._batches())
        return pl.concat(batches) if batches else pl.DataFrame(schema=self.schema)
