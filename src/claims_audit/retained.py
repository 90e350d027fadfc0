"""The lines of a run the rules need, kept across pieces and files in bounded memory.

Every rule reads either the lines of the audited code or lines a claim edit may read
(:func:`claims_audit.rules.claim_edits.context.read_by_edits`, the one definition of them); the other
validated lines are counted and dropped piece by piece. Of the lines kept:

* lines of the audited code and its code family are kept whatever their member (the duplicate and
  modifier edits read family lines on their own);
* the other lines (E/M visits, procedures, PTP partners) matter only when their member has an audited
  line somewhere in the run (every edit that reads them pairs them with an audited line of the same
  member), which is known only once every input is read: they are kept until then, in memory up to a
  budget and past it in Parquet files in the run's scratch folder, and read back for those members only.

Every line gets its ``line_key`` (its position among the run's audited lines, in file order) when it is
added, so keys, finding order and finding ids are those of a run that held every line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from . import ruledata
from .buckets import member_bucket
from .ruleconfig import DEFAULT, RuleConfig
from .rules.claim_edits.context import EditContext, codes_where, read_by_edits

DEFAULT_BUDGET_BYTES = 640 << 20  # kept lines held in memory before they go to Parquet files
ALWAYS_KEPT = frozenset({"line_key", "source_row", "source_file", "member_id", "procedure_code"})


@dataclass(frozen=True)
class Mark:
    """The state of the store before an input, to forget that input's lines if it must be read again."""

    members: int
    claim_lines: int
    line_keys: int


def held_bytes(frame: pl.DataFrame) -> int:
    """What a frame of kept lines costs in memory. polars' estimate leaves out the 16-byte view every
    text cell has, null or not, which is most of it here (about 25 text columns a line)."""
    views = sum(frame.height * 16 for dtype in frame.dtypes if dtype == pl.String)
    return frame.estimated_size() + views


class RetainedLines:
    """Collects the kept lines of every validated piece; :meth:`buckets` hands them to the rules.

    ``buckets``: how many groups of members the rules see one after another (1: the whole run at once).
    Every claim edit pairs lines of one member, so the rules over each group give, together, what they
    give over the whole run (:func:`claims_audit.buckets.member_bucket`); a large run is split so that no more than about a
    group's lines are ever in memory at once."""

    def __init__(self, folder: Path, config: RuleConfig = DEFAULT, *, budget_bytes: int = DEFAULT_BUDGET_BYTES,
                 record_claims: set[str] | None = None, every_member: bool = False,
                 more_members: Callable[[pl.Series], pl.Series] | None = None, buckets: int = 1):
        ctx = EditContext(ruledata.load(), config)
        self._folder = folder
        self._budget = budget_bytes
        self._keep = read_by_edits(ctx)
        # audited and family codes (every kept line for a back-fill, which applies no rule)
        self._whole = pl.lit(True) if every_member else pl.col("procedure_code").is_in(ctx.family)
        # with the claims history: of the members of the other kept lines, those whose lines matter beyond
        # tonight's audited members (an audited line in an earlier night: a visit tonight may fall in the
        # global period of that surgery)
        self._more_members = more_members
        self._audited = pl.col("procedure_code").is_in(ctx.audited)
        self._record_claims = sorted(record_claims) if record_claims else None
        self.bucket_count = max(1, buckets)
        self._parts: list[list[pl.DataFrame | Path]] = [[] for _ in range(self.bucket_count)]
        self._members: list[pl.Series] = []
        self._claim_lines: list[pl.DataFrame] = []
        self._audited_lines: list[pl.DataFrame] = []  # line_key, claim_id, line_number
        self._schema: pl.Schema | None = None  # of a piece of lines (parts drop their empty columns)
        self._held = 0
        self._last_key: dict[Path, int] = {}  # the last line_key each spilled file holds
        self.line_keys = 0  # audited lines added so far (the next line_key)
        self.spilled = 0  # parts written to Parquet

    def mark(self) -> Mark:
        return Mark(len(self._members), len(self._claim_lines), self.line_keys)  # _audited_lines: with _members

    def rollback(self, mark: Mark) -> None:
        """Forget every line added since `mark` (an input read again from its start, or rejected): the
        lines whose line_key is past the mark's, wherever they are. A spill may have written them into
        one file with earlier inputs' lines: such a file is rewritten without them (rare: only an input
        read again or rejected after a spill)."""
        for parts in self._parts:
            for index, part in enumerate(parts):
                if isinstance(part, Path):
                    if self._last_key[part] < mark.line_keys:
                        continue
                    earlier = pl.read_parquet(part).filter(pl.col("line_key") < mark.line_keys)
                    if earlier.height:
                        earlier.write_parquet(part, compression="lz4", statistics=False)
                        self._last_key[part] = mark.line_keys - 1
                        continue
                    part.unlink(missing_ok=True)
                    parts[index] = None
                else:
                    parts[index] = part.filter(pl.col("line_key") < mark.line_keys)
            parts[:] = [p for p in parts if p is not None and (isinstance(p, Path) or p.height)]
        del self._members[mark.members:], self._audited_lines[mark.members:], self._claim_lines[mark.claim_lines:]
        self.line_keys = mark.line_keys
        self._held = sum(held_bytes(p) for parts in self._parts for p in parts if isinstance(p, pl.DataFrame))

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
        if self.bucket_count == 1:
            self._parts[0].append(kept)
        else:
            bucketed = kept.with_columns(member_bucket(self.bucket_count))
            for (number,), part in bucketed.partition_by("member_bucket", as_dict=True, include_key=False).items():
                self._parts[number].append(part)
        self._held += held_bytes(kept)
        if self._held > self._budget:
            self._spill()

    def _spill(self) -> None:
        """Every bucket's lines held in memory into one Parquet file per bucket (in line order)."""
        for number, parts in enumerate(self._parts):
            held = [p for p in parts if isinstance(p, pl.DataFrame)]
            if not held:
                continue
            path = self._folder / f"lines-{number:03d}-{self.spilled:06d}.parquet"
            spilled = pl.concat(held, how="diagonal_relaxed")
            spilled.write_parquet(path, compression="lz4", statistics=False)
            self._last_key[path] = spilled.get_column("line_key").max()
            parts[len(parts) - len(held):] = [path]
            self.spilled += 1
        self._held = 0

    def buckets(self, empty: pl.DataFrame) -> Iterator[pl.DataFrame]:
        """The retained lines of the run, one bucket of members after another, each in file order: every
        audited and family line, and the other kept lines of members with an audited line. `empty`: the
        frame of a bucket with no line (its schema is that of a piece). Each bucket is read once."""
        members = self._wanted_members()
        if self.bucket_count > 1:  # each group's filter holds its own members only (a 1/n-size set)
            groups = pl.DataFrame(members).with_columns(member_bucket(self.bucket_count)).partition_by(
                "member_bucket", as_dict=True, include_key=False)
        for number in range(self.bucket_count):
            if self.bucket_count > 1:
                mine = groups.get((number,))
                members = mine.get_column("member_id") if mine is not None else members.clear()
            wanted = self._whole | pl.col("member_id").is_in(members.implode())
            parts, self._parts[number] = self._parts[number], []
            frames = []
            for part in parts:
                if isinstance(part, Path):
                    frames.append(pl.scan_parquet(part).filter(wanted).collect())
                    part.unlink(missing_ok=True)
                else:
                    frames.append(part.filter(wanted))
            frames = [f for f in frames if f.height]
            yield restore(frames, self._schema) if frames and self._schema is not None else empty
        self._held = 0

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
        parts = [(pl.scan_parquet(p) if isinstance(p, Path) else p.lazy()).filter(~self._whole).select("member_id")
                 for bucket in self._parts for p in bucket]
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
