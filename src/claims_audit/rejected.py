"""The rejected cells of a run, kept for the report in bounded memory.

A damaged night can reject a cell in most of its rows (a date column re-saved by a spreadsheet in its own
format: every row audited without that value, every cell listed), so the Rejected sheet may be as long as
the input. The cells are held in memory up to a budget and past it written to Arrow IPC files in a scratch
folder of the output folder (owner-only, made only when first needed, removed with :meth:`close` or by the
next run's recovery when a run is killed). The report reads them back in order, a batch at a time
(:meth:`RejectedCells.batches`), so neither the run nor the workbook holds the whole table.

Every cell keeps the order it was added in: inputs one after another, each in the validator's order.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from .commit import LazyScratch
from .retained import PART_SUFFIX, Part, held_bytes, read_part, spill_held
from .validation import REJECTED_CELL_SCHEMA

# the validator's rejected cells, with the file they came from
REJECTED_SCHEMA = pl.Schema({"source_file": pl.String, **REJECTED_CELL_SCHEMA})
DEFAULT_HELD_BYTES = 64 << 20  # rejected cells held in memory before they go to files (~400,000 cells)


class RejectedCells:
    """The run's rejected cells, in order: added piece by piece, read back batch by batch.

    `work_dir`: the folder whose scratch folder takes the files once more than `held_bytes` are held (the
    output folder; None: a private folder in the system's temporary folder). The cells own that scratch
    folder: it outlives the run's own (the report is written after the run) and goes with :meth:`close`,
    after which the cells are gone (reading or adding raises). `keep=False`: the cells are only counted
    (a history back-fill lists none, so none is ever written anywhere)."""

    def __init__(self, work_dir: Path | None = None, *, held_bytes: int | None = None, keep: bool = True):
        self._scratch = LazyScratch(work_dir)  # type: ignore[arg-type]  # None: the system's folder
        self._budget = DEFAULT_HELD_BYTES if held_bytes is None else held_bytes
        self._keep = keep
        self._parts: list[Part] = []  # in order: files first, then the frames held
        self._rows: list[int] = []  # each part's cells
        self._held = 0
        self._written = 0
        self._closed = False
        self.peak_held = 0  # the most bytes of cells held in memory at once
        self.height = 0
        self.schema = REJECTED_SCHEMA

    @classmethod
    def of(cls, frame: pl.DataFrame) -> RejectedCells:
        """The cells of one frame, held in memory (tests, a caller's own cells)."""
        cells = cls(held_bytes=1 << 62)
        cells.add(frame)
        return cells

    def add(self, frame: pl.DataFrame) -> None:
        """Cells after those already added (REJECTED_SCHEMA's columns)."""
        self._check_open()
        if not frame.height:
            return
        self.height += frame.height
        self._rows.append(frame.height)
        if not self._keep:  # counted only: an empty frame stands for them
            self._parts.append(pl.DataFrame(schema=REJECTED_SCHEMA))
            return
        frame = frame.select(list(REJECTED_SCHEMA)).cast(dict(REJECTED_SCHEMA))
        self._parts.append(frame)
        self._held += held_bytes(frame)
        self.peak_held = max(self.peak_held, self._held)
        if self._held > self._budget:
            self._spill()

    def mark(self) -> int:
        """Where the cells stand now, to forget what is added after it (an input read again)."""
        self._check_open()
        return self.height

    def rollback(self, mark: int) -> None:
        """Forget every cell added since `mark` (an input read again from its start, or rejected)."""
        self._check_open()
        parts: list[Part] = []
        counts: list[int] = []
        start = 0
        for part, rows in zip(self._parts, self._rows):
            if start + rows <= mark:
                parts.append(part)
                counts.append(rows)
            else:
                if start < mark:  # the part spans the mark: what precedes it stays, in memory
                    parts.append(read_part(part).head(mark - start))
                    counts.append(mark - start)
                if isinstance(part, Path):
                    part.unlink(missing_ok=True)
            start += rows
        self._parts, self._rows = parts, counts
        self.height = min(self.height, mark)
        self._held = sum(held_bytes(p) for p in parts if isinstance(p, pl.DataFrame))

    def batches(self, start: int = 0, stop: int | None = None) -> Iterator[pl.DataFrame]:
        """The cells `start` to `stop` (default: all) in order, one part at a time: a file is read only
        when its turn comes, and a part wholly outside the range not at all."""
        self._check_open()
        if not self._keep:
            raise RuntimeError("these rejected cells were only counted")
        stop = self.height if stop is None else min(stop, self.height)
        first = 0
        for part, rows in list(zip(self._parts, self._rows)):
            self._check_open()  # closed while being read: its files are gone
            low, high = max(start - first, 0), min(stop - first, rows)
            if high > low:
                frame = read_part(part)
                yield frame if (low, high) == (0, rows) else frame.slice(low, high - low)
            first += rows
            if first >= stop:
                return

    def frame(self) -> pl.DataFrame:
        """Every cell in one frame, in memory (a library caller, the tests; the report reads batches)."""
        frames = list(self.batches())
        return pl.concat(frames) if frames else pl.DataFrame(schema=REJECTED_SCHEMA)

    @property
    def files(self) -> int:
        """How many files the cells went to (0: all held in memory)."""
        return self._written

    def close(self) -> None:
        """Remove the files and forget the cells (reading them after raises: never a part of them)."""
        self._closed = True
        self._parts, self._rows, self._held, self.height = [], [], 0, 0
        self._scratch.close()

    @contextlib.contextmanager
    def closed_on_error(self) -> Iterator[None]:
        """Close the cells if the block fails: a run that fails before its result owns them leaves no file."""
        try:
            yield
        except BaseException:
            self.close()
            raise

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the rejected cells were closed (their files removed) once the report was written")

    def _spill(self) -> None:
        """The cells held in memory into one file, in order."""
        spilled = spill_held(self._parts, self._scratch() / f"rejected-{self._written:06d}{PART_SUFFIX}")
        assert spilled is not None  # called past the budget: something is held
        del self._rows[len(self._parts) - 1:]
        self._rows.append(spilled.height)
        self._written += 1
        self._held = 0
