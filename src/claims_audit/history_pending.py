"""Tonight's lines on their way into the claims history: held group by group until the run records them.

A large run audits its members group by group (:meth:`claims_audit.retained.RetainedLines.buckets`), and
each group leaves lines to record (:attr:`claims_audit.history.Night.to_record`). Held in memory until the
ledger's transaction they would add up to the whole night's history lines beside the findings (3.4M lines
at 50M input lines); so each group's lines go, as the groups go, to a Parquet part in the run's scratch
folder (owner-only, removed with it, and by the next run into the output folder when this one is killed),
and :meth:`claims_audit.history.History.record` writes the batch from the parts one at a time.

The groups hold disjoint sets of members, and each group's lines are in file order: sorting each part on
its own by (member_key, service_date), keeping file order among equal keys, then merging the parts on
member_key gives the lines in the order one sort of the whole night gives them.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

SORT_KEYS = ("member_key", "service_date")


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

    def sorted_piece(self, frame: pl.DataFrame) -> pl.DataFrame | Path:
        """One piece in STORED order (sorted by :data:`SORT_KEYS`, file order among equal keys), as a part
        again when there is a scratch folder."""
        ordered = frame.sort(*SORT_KEYS, maintain_order=True)
        if self.folder is None:
            return ordered
        path = self.folder / f"history-sorted-{secrets.token_hex(8)}.parquet"
        ordered.write_parquet(path, compression="lz4", statistics=False)
        return path


def merged(pieces: list[pl.DataFrame | pl.LazyFrame | Path]) -> pl.LazyFrame:
    """Sorted pieces of disjoint members as one lazy frame in sort order (streamed by a sink)."""
    frames = [pl.scan_parquet(p) if isinstance(p, Path) else p.lazy() for p in pieces]
    while len(frames) > 1:  # a balanced tree of two-way merges
        frames = [frames[i].merge_sorted(frames[i + 1], key="member_key") if i + 1 < len(frames) else frames[i]
                  for i in range(0, len(frames), 2)]
    return frames[0]


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
