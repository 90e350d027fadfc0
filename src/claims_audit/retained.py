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

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from . import ruledata
from .ruleconfig import DEFAULT, RuleConfig
from .rules.claim_edits.context import EditContext, read_by_edits

DEFAULT_BUDGET_BYTES = 256 << 20  # kept lines held in memory before they go to Parquet files


@dataclass(frozen=True)
class Mark:
    """The state of the store before an input, to forget that input's lines if it must be read again."""

    parts: int
    members: int
    claim_lines: int
    line_keys: int
    held_bytes: int


def held_bytes(frame: pl.DataFrame) -> int:
    """What a frame of kept lines costs in memory. polars' estimate leaves out the 16-byte view every
    text cell has, null or not, which is most of it here (about 25 text columns a line)."""
    views = sum(frame.height * 16 for dtype in frame.dtypes if dtype == pl.String)
    return frame.estimated_size() + views


class RetainedLines:
    """Collects the kept lines of every validated piece; :meth:`lines` hands them to the rules."""

    def __init__(self, folder: Path, config: RuleConfig = DEFAULT, *, budget_bytes: int = DEFAULT_BUDGET_BYTES,
                 record_claims: set[str] | None = None, every_member: bool = False,
                 more_members: Callable[[pl.Series], pl.Series] | None = None):
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
        self._parts: list[pl.DataFrame | Path] = []
        self._members: list[pl.Series] = []
        self._claim_lines: list[pl.DataFrame] = []
        self._held = 0
        self.line_keys = 0  # audited lines added so far (the next line_key)
        self.spilled = 0  # parts written to Parquet

    def mark(self) -> Mark:
        return Mark(len(self._parts), len(self._members), len(self._claim_lines), self.line_keys, self._held)

    def rollback(self, mark: Mark) -> None:
        """Forget every line added since `mark` (an input read again from its start, or rejected)."""
        for part in self._parts[mark.parts:]:
            if isinstance(part, Path):
                part.unlink(missing_ok=True)
        del self._parts[mark.parts:], self._members[mark.members:], self._claim_lines[mark.claim_lines:]
        self.line_keys, self._held = mark.line_keys, mark.held_bytes

    def add(self, lines: pl.DataFrame) -> None:
        """One validated piece of audited lines (with source_file), in file order."""
        keyed = lines.with_row_index("line_key", offset=self.line_keys).with_columns(
            pl.col("line_key").cast(pl.Int64))
        self.line_keys += lines.height
        if self._record_claims is not None:
            self._claim_lines.append(keyed.filter(pl.col("claim_id").is_in(self._record_claims))
                                     .select("claim_id", "line_number"))
        kept = keyed.filter(self._keep)
        if not kept.height:
            return
        self._members.append(kept.filter(self._audited).get_column("member_id").unique())
        size = held_bytes(kept)
        if self._held + size <= self._budget:
            self._parts.append(kept)
            self._held += size
            return
        path = self._folder / f"lines-{len(self._parts):06d}.parquet"
        kept.write_parquet(path, compression="lz4", statistics=False)
        self._parts.append(path)
        self.spilled += 1

    def lines(self, empty: pl.DataFrame) -> pl.DataFrame:
        """The retained lines of the run, in file order: every audited and family line, and the other kept
        lines of members with an audited line. `empty`: the frame to return when there is none (its
        schema is that of a piece)."""
        members = (pl.concat(self._members).unique() if self._members else pl.Series("member_id", [], pl.String))
        if self._more_members is not None:
            members = pl.concat([members, self._more_members(self._candidate_members())]).unique()
        wanted = self._whole | pl.col("member_id").is_in(members.implode())
        frames = []
        for part in self._parts:
            if isinstance(part, Path):
                frames.append(pl.scan_parquet(part).filter(wanted).collect())
                part.unlink(missing_ok=True)
            else:
                frames.append(part.filter(wanted))
        self._parts, self._held = [], 0
        frames = [f for f in frames if f.height]
        if not frames:
            return empty
        return pl.concat(frames, how="vertical_relaxed")

    def _candidate_members(self) -> pl.Series:
        """The distinct members of the kept lines that are neither audited nor family lines."""
        parts = [(pl.scan_parquet(p) if isinstance(p, Path) else p.lazy()).filter(~self._whole).select("member_id")
                 for p in self._parts]
        if not parts:
            return pl.Series("member_id", [], pl.String)
        return pl.concat(parts).unique().collect().get_column("member_id")

    def claim_lines(self) -> pl.DataFrame:
        """claim_id and line_number of the audited lines whose claim a medical-record file names."""
        if not self._claim_lines:
            return pl.DataFrame(schema={"claim_id": pl.String, "line_number": pl.Int64})
        return pl.concat(self._claim_lines, how="vertical_relaxed")
