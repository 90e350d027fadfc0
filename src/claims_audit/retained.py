"""The lines of a run the rules need, kept across pieces and files in bounded memory.

Every rule reads either the lines of the audited code or lines a claim edit may read
(:func:`claims_audit.rules.claim_edits.context.read_by_edits`, the one definition of them); the other
validated lines are counted and dropped piece by piece. Of the lines kept:

* lines of the audited code and its code family are kept whatever their member (the duplicate and
  modifier edits read family lines on their own);
* the other lines (E/M visits, procedures, PTP partners) matter only when their member has an audited
  line somewhere in the run (every edit that reads them pairs them with an audited line of the same
  member), which is known only once every input is read: they are kept until then, in memory up to a
  budget and past it in files in the run's scratch folder, and read back for those members only.

On a typical extract about half the lines are kept while reading, and a fifth of those turn out to be
wanted. So the kept lines are written as they come (no sorting, no split), and the run is cut into groups
of members only after the filter, by the size of what is wanted (:func:`group_count`): a night whose
wanted lines fit one group is never split, and a larger one splits only its wanted lines.

Every line gets its ``line_key`` (its position among the run's audited lines, in file order) when it is
added, so keys, finding order and finding ids are those of a run that held every line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from . import ruledata
from .buckets import member_bucket
from .ruleconfig import DEFAULT, RuleConfig
from .rules.claim_edits.context import EditContext, codes_where, read_by_edits

DEFAULT_BUDGET_BYTES = 640 << 20  # kept lines held in memory before they go to files
ALWAYS_KEPT = frozenset({"line_key", "source_row", "source_file", "member_id", "procedure_code"})
MAX_GROUPS = 256
MIN_GROUP_BYTES = 16 << 20
# Arrow IPC with LZ4: written in half Parquet's time, and written then read back through the wanted
# filter in about 0.35 s a million kept lines against Parquet's 0.40 (its filtered read is faster); small
# on disk (a tenth of the lines' size in memory: mostly null cells)
PART_SUFFIX = ".arrow"

Part = pl.DataFrame | Path


@dataclass(frozen=True)
class Mark:
    """The state of the store before an input, to forget that input's lines if it must be read again."""

    members: int
    claim_lines: int
    line_keys: int
    kept: tuple[int, int]  # lines kept and what they cost as the rules see them


def held_bytes(frame: pl.DataFrame) -> int:
    """What a frame of kept lines costs in memory. polars' estimate leaves out the 16-byte view every
    text cell has, null or not, which is most of it here (about 25 text columns a line)."""
    views = sum(frame.height * 16 for dtype in frame.dtypes if dtype == pl.String)
    return frame.estimated_size() + views


def restored_line_bytes(schema: pl.Schema, kept: list[str]) -> int:
    """What :func:`restore` adds to each line of a compacted part: the columns it dropped, null again
    (a text cell's 16-byte view, a number's 8 bytes, null or not)."""
    return sum(16 if dtype == pl.String else 8 for name, dtype in schema.items() if name not in kept)


def group_count(wanted_bytes: int, group_bytes: int) -> int:
    """How many groups of members the rules see one after another: a group's lines (every column, as
    held in memory) should take at most `group_bytes`. More groups cost only a little time (the rules'
    fixed cost per group), and a run that fits is never split."""
    return max(1, min(MAX_GROUPS, math.ceil(wanted_bytes / max(group_bytes, MIN_GROUP_BYTES))))


def write_part(frame: pl.DataFrame, path: Path) -> None:
    """A part of a run's spilled rows (kept lines, rejected cells) written in the format above."""
    frame.write_ipc(path, compression="lz4")


def read_part(part: Part) -> pl.DataFrame:
    """A part's rows: the frame held, or its file read back."""
    return pl.read_ipc(part) if isinstance(part, Path) else part


def spill_held(parts: list[Part], path: Path) -> pl.DataFrame | None:
    """The frames held at the end of `parts` (files come first: every spill turns the frames held into
    one) written to `path` as one file, which takes their place in `parts`; returns the rows written, or
    None when nothing was held (no file then)."""
    held = [p for p in parts if isinstance(p, pl.DataFrame)]
    if not held:
        return None
    spilled = pl.concat(held, how="diagonal_relaxed")
    write_part(spilled, path)
    parts[len(parts) - len(held):] = [path]
    return spilled


def _scan(part: Part) -> pl.LazyFrame:
    return pl.scan_ipc(part) if isinstance(part, Path) else part.lazy()


class RetainedLines:
    """Collects the kept lines of every validated piece; :meth:`buckets` hands them to the rules.

    ``buckets``: how many groups of members the rules see one after another (None: as many as the wanted
    lines need, :func:`group_count` of `group_bytes`, default half the budget; 1: the whole run at once).
    Every claim edit pairs lines of one member, so the rules over each group give, together, what they
    give over the whole run (:func:`claims_audit.buckets.member_bucket`)."""

    def __init__(self, folder: Path, config: RuleConfig = DEFAULT, *, budget_bytes: int = DEFAULT_BUDGET_BYTES,
                 group_bytes: int | None = None, record_claims: set[str] | None = None,
                 every_member: bool = False, more_members: Callable[[pl.Series], pl.Series] | None = None,
                 buckets: int | None = None):
        ctx = EditContext(ruledata.load(), config)
        self._folder = folder
        self._budget = budget_bytes
        # a group's lines take at most half the budget: the rules' working frames take about as much again
        self._group_bytes = budget_bytes // 2 if group_bytes is None else group_bytes
        self._keep = read_by_edits(ctx)
        # audited and family codes (every kept line for a back-fill, which applies no rule)
        self._whole = pl.lit(True) if every_member else pl.col("procedure_code").is_in(ctx.family)
        # with the claims history: of the members of the other kept lines, those whose lines matter beyond
        # tonight's audited members (an audited line in an earlier night: a visit tonight may fall in the
        # global period of that surgery)
        self._more_members = more_members
        self._audited = pl.col("procedure_code").is_in(ctx.audited)
        self._record_claims = sorted(record_claims) if record_claims else None
        self.bucket_count = buckets or None  # the groups of the run: known once :meth:`buckets` has chosen them
        self._parts: list[Part] = []  # in line order: files first, then the frames held in memory
        self._members: list[pl.Series] = []
        self._claim_lines: list[pl.DataFrame] = []
        self._audited_lines: list[pl.DataFrame] = []  # line_key, claim_id, line_number
        self._schema: pl.Schema | None = None  # of a piece of lines (parts drop their empty columns)
        self._held = 0
        # lines kept, and what they cost once restored with every column as the rules see them (what a
        # wanted line costs, on average: the groups are sized with it)
        self._kept = [0, 0]
        self._last_key: dict[Path, int] = {}  # the last line_key each file holds
        self.line_keys = 0  # audited lines added so far (the next line_key)
        self.spilled = 0  # files written

    @property
    def folder(self) -> Path:
        """The run's scratch folder, where the kept lines go past the budget (and a large run's findings
        wait, group by group)."""
        return self._folder

    def mark(self) -> Mark:
        return Mark(len(self._members), len(self._claim_lines), self.line_keys,  # _audited_lines: with _members
                    (self._kept[0], self._kept[1]))

    def rollback(self, mark: Mark) -> None:
        """Forget every line added since `mark` (an input read again from its start, or rejected): the
        lines whose line_key is past the mark's, wherever they are. A spill may have written them into
        one file with earlier inputs' lines: such a file is rewritten without them (rare: only an input
        read again or rejected after a spill)."""
        kept: list[Part] = []
        for part in self._parts:
            if isinstance(part, Path) and self._last_key[part] >= mark.line_keys:
                earlier = pl.read_ipc(part).filter(pl.col("line_key") < mark.line_keys)
                part.unlink(missing_ok=True)
                if earlier.height:
                    write_part(earlier, part)
                    self._last_key[part] = mark.line_keys - 1
                    kept.append(part)
            elif isinstance(part, pl.DataFrame):
                part = part.filter(pl.col("line_key") < mark.line_keys)
                if part.height:
                    kept.append(part)
            else:
                kept.append(part)
        self._parts = kept
        del self._members[mark.members:], self._audited_lines[mark.members:], self._claim_lines[mark.claim_lines:]
        self.line_keys = mark.line_keys
        self._kept = list(mark.kept)
        self._held = sum(held_bytes(p) for p in self._parts if isinstance(p, pl.DataFrame))

    def add(self, lines: pl.DataFrame) -> None:
        """One validated piece of audited lines (with source_file), in file order."""
        keyed = lines.with_row_index("line_key", offset=self.line_keys).with_columns(
            pl.col("line_key").cast(pl.Int64))
        self.line_keys += lines.height
        self._schema = self._schema or keyed.schema
        if self._record_claims is not None:
            self._claim_lines.append(keyed.filter(pl.col("claim_id").is_in(self._record_claims))
                                     .select("claim_id", "line_number"))
        kept = compact(keyed).filter(codes_where(keyed, self._keep))  # once per distinct code
        if not kept.height:
            return
        audited = kept.filter(self._audited)
        self._members.append(audited.get_column("member_id").unique())
        self._audited_lines.append(audited.select("line_key", "claim_id", "line_number"))
        self._parts.append(kept)
        size = held_bytes(kept)
        self._held += size
        self._kept[0] += kept.height
        self._kept[1] += size + kept.height * restored_line_bytes(self._schema, kept.columns)
        if self._held > self._budget:
            self._spill()

    def _spill(self) -> None:
        """The lines held in memory into one file, in line order."""
        path = self._folder / f"lines-{self.spilled:06d}{PART_SUFFIX}"
        spilled = spill_held(self._parts, path)
        assert spilled is not None  # called past the budget: something is held
        self._last_key[path] = spilled.get_column("line_key").max()
        self.spilled += 1
        self._held = 0

    def buckets(self, empty: pl.DataFrame) -> Iterator[pl.DataFrame]:
        """The retained lines of the run, one group of members after another, each in file order: every
        audited and family line, and the other kept lines of members with an audited line. `empty`: the
        frame of a group with no line (its schema is that of a piece). Each kept line is read once."""
        wanted = self._whole | pl.col("member_id").is_in(self._wanted_members().implode())
        if self.bucket_count is None:
            rows = sum(_scan(p).select("member_id", "procedure_code").filter(wanted).select(pl.len()).collect().item()
                       for p in self._parts)
            self.bucket_count = group_count(rows * self._kept[1] // max(self._kept[0], 1), self._group_bytes)
        parts, self._parts, self._held = self._parts, [], 0
        if self.bucket_count == 1:
            frames = []
            while parts:  # each part let go once filtered: only the wanted lines stay
                frames.append(_take(parts.pop(0), wanted))
            group = self._restored(frames, empty)
            del frames
            yield group
            return
        groups = _Groups(self._folder, self.bucket_count, self._budget // 2)
        while parts:
            groups.add(_take(parts.pop(0), wanted))
        for number in range(self.bucket_count):
            yield self._restored(groups.take(number), empty)  # held by the caller only

    def _restored(self, frames: list[pl.DataFrame], empty: pl.DataFrame) -> pl.DataFrame:
        frames = [f for f in frames if f.height]
        return restore(frames, self._schema) if frames and self._schema is not None else empty

    def lines(self, empty: pl.DataFrame) -> pl.DataFrame:
        """Every retained line of the run at once, in file order (the claims-history back-fill)."""
        frames = [f for f in self.buckets(empty) if f.height]
        if len(frames) <= 1:
            return frames[0] if frames else empty
        return pl.concat(frames).sort("line_key")

    def _wanted_members(self) -> pl.Series:
        members = (pl.concat(self._members).unique() if self._members else pl.Series("member_id", [], pl.String))
        if self._more_members is not None:
            members = pl.concat([members, self._more_members(self._candidate_members())]).unique()
        return members

    def _candidate_members(self) -> pl.Series:
        """The distinct members of the kept lines that are neither audited nor family lines."""
        parts = [_scan(p).filter(~self._whole).select("member_id") for p in self._parts]
        if not parts:
            return pl.Series("member_id", [], pl.String)
        return pl.concat(parts).unique().collect().get_column("member_id")

    def audited_lines(self) -> pl.DataFrame:
        """line_key, claim_id and line_number of every line of an audited code (the lines records are
        read for), in file order."""
        if not self._audited_lines:
            return pl.DataFrame(schema={"line_key": pl.Int64, "claim_id": pl.String, "line_number": pl.Int64})
        return pl.concat(self._audited_lines, how="vertical_relaxed")

    def claim_lines(self) -> pl.DataFrame:
        """claim_id and line_number of the audited lines whose claim a medical-record file names."""
        if not self._claim_lines:
            return pl.DataFrame(schema={"claim_id": pl.String, "line_number": pl.Int64})
        return pl.concat(self._claim_lines, how="vertical_relaxed")


def _take(part: Part, wanted: pl.Expr) -> pl.DataFrame:
    """The wanted lines of a part; its file (read once) is removed."""
    if isinstance(part, pl.DataFrame):
        return part.filter(wanted)
    lines = pl.scan_ipc(part).filter(wanted).collect()
    part.unlink(missing_ok=True)
    return lines


class _Groups:
    """The wanted lines of a run cut into groups of members, held in memory up to `budget` bytes and past
    it written to one file per group, each group in line order."""

    def __init__(self, folder: Path, count: int, budget: int):
        self._folder = folder
        self._count = count
        self._budget = budget
        self._parts: list[list[Part]] = [[] for _ in range(count)]
        self._held = 0
        self._spills = 0

    def add(self, lines: pl.DataFrame) -> None:
        if not lines.height:
            return
        grouped = lines.with_columns(member_bucket(self._count))
        for (number,), part in grouped.partition_by("member_bucket", as_dict=True, include_key=False).items():
            self._parts[number].append(part)
        self._held += held_bytes(lines)
        if self._held > self._budget:
            self._spill()

    def _spill(self) -> None:
        for number, parts in enumerate(self._parts):
            spill_held(parts, self._folder / f"group-{number:03d}-{self._spills:06d}{PART_SUFFIX}")
        self._spills += 1
        self._held = 0

    def take(self, number: int) -> list[pl.DataFrame]:
        """Group `number`'s lines (its files read once and removed; :meth:`RetainedLines._restored` drops the
        empty ones)."""
        parts, self._parts[number] = self._parts[number], []
        return [_take(p, pl.lit(True)) for p in parts]


def compact(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` without its columns that are empty on every line (most optional columns of most pieces):
    a kept line costs memory, filtering and spill time for the values it has only; :func:`restore` brings
    them back. (A column empty on every line of a piece is empty on its kept lines too.)"""
    counts = frame.null_count().row(0)
    return frame.select([name for name, nulls in zip(frame.columns, counts)
                         if nulls < frame.height or name in ALWAYS_KEPT])


def restore(frames: list[pl.DataFrame], schema: pl.Schema) -> pl.DataFrame:
    """Compacted parts as one frame with a piece's columns, types and order (empty columns null again)."""
    joined = pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0]
    missing = [pl.lit(None, dtype).alias(name) for name, dtype in schema.items() if name not in joined.columns]
    return joined.with_columns(missing).select([pl.col(name).cast(dtype) for name, dtype in schema.items()])
