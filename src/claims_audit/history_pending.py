"""Tonight's lines on their way into the claims history: held group by group until the run records them.

A large run audits its members group by group (:meth:`claims_audit.retained.RetainedLines.buckets`), and
each group leaves lines to record (:attr:`claims_audit.history.Night.to_record`). Held in memory until the
ledger's transaction they would add up to the whole night's history lines beside the findings (3.4M lines
at 50M input lines); so each group's lines go, as the groups go, to a Parquet part in the run's scratch
folder (owner-only, removed with it, and by the next run into the output folder when this one is killed),
and :meth:`claims_audit.history.History.record` writes the batch from the parts, a few at a time.

A batch file is sorted by (member_key, service_date). The groups hold disjoint sets of members, and each
group's lines are in file order, so the night's order is built piece by piece: each part is sorted on
its own (file order among equal keys), and the file is written one member_key range after another, each
range the slices of every part that fall in it, sorted together (:func:`in_order`). That is the order
one stable sort of the whole night in file order gives."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from polars.io.plugins import register_io_source

SORT_KEYS = ("member_key", "service_date")
RANGE_LINES = 100_000  # lines of a member_key range (see in_order)
PART_ROW_GROUP = 16_384  # rows per row group of a sorted part (a range's slice reads few rows beyond it)


@dataclass
class PendingLines:
    """Lines to record, one piece per group of members: frames in memory, or Parquet parts in `folder`
    (the run's scratch folder) when there is one."""

    folder: Path | None = None
    pieces: list[pl.DataFrame | Path] = field(default_factory=list)
    height: int = 0

    @classmethod
    def of(cls, frame: pl.DataFrame) -> PendingLines:
        """One frame of lines held in memory (a back-fill, a caller's own frame)."""
        return cls(None, [frame], frame.height)

    def add(self, frame: pl.DataFrame) -> None:
        """One group's lines (in file order): written to a part when there is a scratch folder."""
        self.height += frame.height
        if self.folder is None:
            self.pieces.append(frame)
            return
        path = self.folder / f"history-pending-{secrets.token_hex(8)}.parquet"
        frame.write_parquet(path, compression="lz4", statistics=False)
        self.pieces.append(path)

    def extend(self, other: PendingLines) -> None:
        """Another group's pieces after these (merging the nights of a run's groups)."""
        self.pieces.extend(other.pieces)
        self.height += other.height
        self.folder = self.folder or other.folder

    def frames(self) -> Iterator[pl.DataFrame]:
        """Each piece in turn, read when it is a part (and removed once read: a piece is read once)."""
        for piece in self.pieces:
            if isinstance(piece, Path):
                frame = pl.read_parquet(piece)
                piece.unlink(missing_ok=True)
                yield frame
            else:
                yield piece
        self.pieces = []


@dataclass(frozen=True)
class SortedPiece:
    """One group's lines in STORED order (sorted by :data:`SORT_KEYS`, file order among equal keys), in
    memory or as a part, and where each member_key range (:func:`range_edges`) starts in them."""

    data: pl.DataFrame | Path
    cuts: list[int]  # ranges + 1 offsets: range r is rows cuts[r] to cuts[r + 1]

    def frame(self) -> pl.DataFrame:
        return pl.read_parquet(self.data) if isinstance(self.data, Path) else self.data

    def slice(self, number: int) -> pl.LazyFrame:
        """The lines of range `number` (small row groups: reading a slice decodes little beyond it)."""
        offset, length = self.cuts[number], self.cuts[number + 1] - self.cuts[number]
        lines = pl.scan_parquet(self.data) if isinstance(self.data, Path) else self.data.lazy()
        return lines.slice(offset, length)


def range_count(lines: int) -> int:
    """How many member_key ranges a batch of `lines` is written in (one range's lines are in memory at
    once while the batch file is written)."""
    return max(1, -(-lines // RANGE_LINES))


def range_edges(ranges: int) -> pl.Series:
    """The first member_key of every range but the first: the 64-bit keys (uniform hashes) cut evenly."""
    return pl.Series([-(1 << 63) + ((1 << 64) * i) // ranges for i in range(1, ranges)], dtype=pl.Int64)


def sort_piece(frame: pl.DataFrame, folder: Path | None, ranges: int) -> SortedPiece:
    """`frame` sorted, with its range offsets, written to a part in `folder` when there is one."""
    ordered = frame.sort(*SORT_KEYS, maintain_order=True)
    keys = ordered.get_column("member_key")
    nulls = keys.null_count()  # sorted first: they go with the first range
    known = keys.slice(nulls)
    cuts = [0, *(nulls + known.search_sorted(range_edges(ranges), side="left")).to_list(), ordered.height]
    if folder is None:
        return SortedPiece(ordered, cuts)
    path = folder / f"history-sorted-{secrets.token_hex(8)}.parquet"
    ordered.write_parquet(path, compression="lz4", statistics=False, row_group_size=PART_ROW_GROUP)
    return SortedPiece(path, cuts)


def in_order(pieces: list[SortedPiece], schema: dict[str, pl.DataType]) -> pl.LazyFrame:
    """The sorted pieces of disjoint members as one lazy frame in sort order, produced range by range (the
    range's slices of every piece, sorted together): a sink writes it holding one range at a time."""
    ranges = len(pieces[0].cuts) - 1 if pieces else 0

    def produce(columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None,
                _batch_size: int | None) -> Iterator[pl.DataFrame]:
        left = n_rows
        for number in range(ranges):
            frame = (pl.concat([piece.slice(number) for piece in pieces])
                     .sort(*SORT_KEYS, maintain_order=True).collect())
            if predicate is not None:
                frame = frame.filter(predicate)
            if columns is not None:
                frame = frame.select(columns)
            if left is not None:
                frame, left = frame.head(left), left - min(left, frame.height)
            yield frame
            if left == 0:
                return

    return register_io_source(produce, schema=schema)


@dataclass
class Tally:
    """What the catalog row of a batch says of its lines, added up piece by piece."""

    lines: int = 0
    first: dt.date | None = None
    last: dt.date | None = None
    per_source: dict[str, int] = field(default_factory=dict)  # source_sha256 -> lines

    def add(self, frame: pl.DataFrame) -> None:
        if not frame.height:
            return
        self.lines += frame.height
        dates = frame.get_column("service_date")
        low, high = dates.min(), dates.max()
        self.first = low if self.first is None or (low is not None and low < self.first) else self.first
        self.last = high if self.last is None or (high is not None and high > self.last) else self.last
        for sha, count in frame.group_by("source_sha256").len().iter_rows():
            self.per_source[sha] = self.per_source.get(sha, 0) + int(count)
