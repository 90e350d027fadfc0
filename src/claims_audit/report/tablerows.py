"""A table's rows as the workbook writer reads them: in order, a batch at a time.

Most tables are one frame in memory. The Rejected cells of a damaged night may be as many as its rows and
live in files (:mod:`claims_audit.rejected`): the writer never joins them. It reads them once for the
cleaning flags and, sheet by sheet, once to size the columns and once to write the rows; a sheet reads
only its own rows (the source skips what precedes them without reading it). The report's changes
(masking, the sheet's columns, spreadsheet-safe text) are applied to each batch as it comes
(:meth:`TableRows.map`), after the slicing. A frame is one batch, so both kinds go through the very same
code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

# the rows `start` to `stop` of a source, in batches
Source = Callable[[int, int], Iterator[pl.DataFrame]]
Change = Callable[[pl.DataFrame], pl.DataFrame]


@dataclass(frozen=True)
class TableRows:
    """`height` rows of `schema`: rows `offset` to `offset + height` of `source`, each batch changed by
    `changes` in turn; read again from the source by every call of :meth:`batches`."""

    schema: pl.Schema
    height: int
    source: Source
    changes: tuple[Change, ...] = ()
    offset: int = 0

    @classmethod
    def of(cls, table: pl.DataFrame | TableRows | Any) -> TableRows:
        """A frame, or anything with `schema`, `height` and `batches(start, stop)` (the rejected cells)."""
        if isinstance(table, TableRows):
            return table
        if isinstance(table, pl.DataFrame):
            return cls(table.schema, table.height, lambda start, stop: iter((table.slice(start, stop - start),)))
        return cls(pl.Schema(table.schema), table.height, table.batches)

    @property
    def columns(self) -> list[str]:
        return list(self.schema)

    @property
    def dtypes(self) -> list[pl.DataType]:
        return list(self.schema.values())

    def batches(self) -> Iterator[pl.DataFrame]:
        for batch in self.source(self.offset, self.offset + self.height):
            for change in self.changes:
                batch = change(batch)
            yield batch

    def map(self, change: Change) -> TableRows:
        """`change` (row for row: it keeps every row, in order) applied to each batch as it is read."""
        schema = change(pl.DataFrame(schema=self.schema)).schema
        return TableRows(schema, self.height, self.source, (*self.changes, change), self.offset)

    def slice(self, offset: int, length: int) -> TableRows:
        """Rows `offset` to `offset + length` (as DataFrame.slice); the source reads only those."""
        start = min(offset, self.height)
        return TableRows(self.schema, max(0, min(self.height, offset + length) - start), self.source,
                         self.changes, self.offset + start)

    def pieces(self, rows: int) -> Iterator[pl.DataFrame]:
        """The rows in frames of `rows` rows each (the last may be shorter), in order."""
        held: list[pl.DataFrame] = []
        count = 0
        for batch in self.batches():
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

    def aggregate(self, exprs: Sequence[pl.Expr], combine: Callable[[list[Any]], Any] | Sequence[Callable]
                  ) -> tuple:
        """`exprs` (each one value over a frame) over every batch in one pass, each combined over the
        batches by `combine` (one function for all, or one per expression: max, any, sum, whatever gives
        the value over the whole table); None where no batch had a value."""
        combines = list(combine) if isinstance(combine, Sequence) else [combine] * len(exprs)
        per_batch = [batch.select(exprs).row(0) for batch in self.batches() if batch.height]
        values = ([row[i] for row in per_batch if row[i] is not None] for i in range(len(exprs)))
        return tuple(how(v) if v else None for how, v in zip(combines, values))

    def frame(self) -> pl.DataFrame:
        """Every row in one frame (a small table)."""
        batches = list(self.batches())
        return pl.concat(batches) if batches else pl.DataFrame(schema=self.schema)
