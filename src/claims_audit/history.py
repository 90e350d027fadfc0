"""The claims history: each night is audited against the member's earlier claims.

Every run records, with its report, the audited lines that a claim edit can read (the audited code, its
family, the NCCI partners of the audited code, E/M visits and procedures: :func:`read_by_edits`, derived
from the rule data) with only the columns the edits read (never documentation text). The next nights'
history-aware edits (PTP, MUE, bilateral, duplicates, global period) see tonight's lines together with the
history lines inside their windows (rule data: ``claim_edit_policy.yaml`` ``history``); a finding caused
by a history line sits on tonight's line and names the earlier one.

Storage (chosen for speed at payer volume): one Parquet file per run or back-fill in a folder
(``claims-audit-history/`` beside the ledger by default), and a catalog of those files in the review
ledger's SQLite file. The catalog rows are written in the same transaction as the run's ledger record, so
a file is part of history exactly when the run that wrote it committed: a killed or failed run leaves an
unlisted file behind, which the next writer removes. Member ids are stored only as a keyed hash (BLAKE2b
under a secret kept in the ledger), so history holds no member id in the clear.

Replacements and voids (``claim_frequency`` 7 / 8 naming ``original_claim_id``): a void removes the
original claim's lines from history and raises no finding itself; a replacement supersedes every line of
the original. Lines are identified by their source file's SHA-256 and row: a file already recorded is the
same lines whatever the run date, so running a night again never double-counts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from .errors import ConfigError, ExitCode, LedgerError
from .history_pending import PendingLines, SortedPiece, Tally, in_order, range_count, sort_piece
from .history_store import FILE_PATTERN, ParquetLines, TableLines
from .rules.claim_edits.context import DX, MODIFIERS
from .store import Location, is_url, locate

DEFAULT_NAME = "claims-audit-history"
VOID, REPLACEMENT = "8", "7"
__all__ = ["FILE_PATTERN", "History", "Night", "Windows", "backfill", "default_folder", "place"]
STORED = {
    "member_key": pl.Int64, "service_date": pl.Date, "procedure_code": pl.String,
    **{m: pl.String for m in MODIFIERS}, "units": pl.Int64, "rendering_npi": pl.String,
    "claim_id": pl.String, "line_number": pl.Int64, **{d: pl.String for d in DX},
    "claim_frequency": pl.String, "source_file": pl.String, "source_sha256": pl.String,
    "source_row": pl.Int64, "run_date": pl.Date,
}


# a catalog row (ledger table history_batches) as the readers use it
BATCH_SCHEMA = {"batch_id": pl.Int64, "file": pl.String, "kind": pl.String, "run_date": pl.String,
                "lines": pl.Int64, "min_date": pl.String, "max_date": pl.String}


def default_folder(ledger_path: Path) -> Path:
    """The history folder beside a ledger (the default of `run --history`)."""
    return Path(ledger_path).parent / DEFAULT_NAME


def place(history: str | Path | None, ledger: str | Path | Location) -> Path | Location:
    """Where the claims history of `ledger` lives: a folder beside an SQLite ledger (default, or
    `history`), or the ledger's own PostgreSQL database, so that one COMMIT holds a run's record and its
    history lines. A history on another server or beside a server ledger is refused (exit 2)."""
    location = locate(ledger)
    if location.is_server:
        if history is not None and str(history) != str(location):
            raise LedgerError("with a PostgreSQL ledger the claims history lives in the ledger's database: "
                              "leave --history out (or give it the same URL as --ledger)", ExitCode.USAGE)
        return location
    if history is not None and is_url(history):
        raise LedgerError("--history is a PostgreSQL URL but --ledger is an SQLite file: the history lives "
                          "with its ledger; give --ledger the URL too", ExitCode.USAGE)
    return Path(history) if history is not None else default_folder(location.path)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Windows:
    """From the rule data: days before/after a date of service the edits compare, and retention."""

    before: int
    after: int
    retention_days: int

    @classmethod
    def from_policy(cls, policy: dict[str, Any]) -> Windows:
        spec = policy.get("history") or {}
        windows = spec.get("windows") or {}
        try:
            before = max(int(w["before"]) for w in windows.values())
            after = max(int(w["after"]) for w in windows.values())
            retention = int(spec["retention_days"])
        except (KeyError, TypeError, ValueError):
            raise ConfigError("rule data claim_edit_policy.yaml: 'history' needs retention_days and "
                              "windows with before/after days") from None
        if retention < max(before, after):
            raise ConfigError("rule data claim_edit_policy.yaml: history retention_days must cover the "
                              "largest window")
        return cls(before, after, retention)


@dataclass
class Consulted:
    """What a run took from history (for the Summary sheet and the manifest)."""

    folder: str
    batches: int = 0
    lines: int = 0  # history lines the edits saw
    first_date: dt.date | None = None
    last_date: dt.date | None = None
    recorded: int = 0  # tonight's lines added to history
    pruned: int = 0
    already_recorded: list[str] = field(default_factory=list)  # inputs whose content history held
    unmatched_adjustments: int = 0  # replacements/voids naming a claim history does not hold
    batch_ids: frozenset[int] = frozenset()  # of the lines consulted (to add up the groups of a run)

    def manifest(self) -> dict[str, Any]:
        return {"folder": self.folder, "batches_consulted": self.batches, "lines_consulted": self.lines,
                "first_date": self.first_date.isoformat() if self.first_date else None,
                "last_date": self.last_date.isoformat() if self.last_date else None,
                "lines_recorded": self.recorded, "lines_pruned": self.pruned,
                "inputs_already_recorded": self.already_recorded,
                "adjustments_without_original": self.unmatched_adjustments}

    def summary_rows(self) -> list[tuple[str, object]]:
        dates = (f"{self.first_date.isoformat()} to {self.last_date.isoformat()}" if self.first_date
                 else "(none)")
        return [("history_lines_consulted", self.lines), ("history_dates_consulted", dates),
                ("history_lines_recorded", self.recorded)]


class History:
    """The claims history of an open ledger (:class:`claims_audit.ledger.Ledger`): its catalog in the
    ledger and its lines in a folder of Parquet files (`where` a folder) or in the ledger's PostgreSQL
    database (`where` the ledger's :class:`~claims_audit.store.Location`). With no ledger yet (a first
    run) an empty history. `scratch`: gives the run's scratch folder (made on first use), where the lines
    each group of members leaves to record wait for the ledger's transaction
    (:mod:`claims_audit.history_pending`; None: they wait in memory)."""

    def __init__(self, where: Path | Location, ledger: Any, scratch: Callable[[], Path] | None = None):
        self.ledger = ledger
        self.scratch = scratch
        self._run_key = secrets.token_bytes(32)  # keys tonight's members while there is no ledger
        if isinstance(where, Location):
            self.folder: Path | None = None
            self.lines: ParquetLines | TableLines = TableLines(ledger, STORED)
        else:
            self.folder = Path(where).resolve()
            if self.folder.exists() and not self.folder.is_dir():
                raise LedgerError(f"--history {where} is a file; give a folder", ExitCode.USAGE)
            self.lines = ParquetLines(self.folder)
        self.label = self.lines.label  # the catalog's `folder` of these batches

    def __str__(self) -> str:
        return str(self.lines)

    # -- member keys --------------------------------------------------------------------------------

    def _key(self) -> bytes:
        if self.ledger is None:
            return self._run_key
        rows = self.ledger.query("SELECT key FROM history_key WHERE id = 1")
        if not rows:
            raise LedgerError(f"ledger {self.ledger.path} has no history key (damaged?)", ExitCode.USAGE)
        return bytes.fromhex(rows[0][0])

    def member_keys(self, members: pl.Series) -> pl.Series:
        """Keyed BLAKE2b (64 bits, big-endian signed) of each member id: equal ids give equal keys, and
        the id itself is not in history. One hash per distinct member (a night's half a million and
        more: each from a copy of one keyed state, the digests turned into integers as one column)."""
        copy = hashlib.blake2b(digest_size=8, key=self._key()).copy
        distinct = members.drop_nulls().unique()
        digests = pl.Series([_digest(copy, m) for m in distinct.cast(pl.Binary).to_list()], dtype=pl.Binary)
        keys = digests.bin.reinterpret(dtype=pl.Int64, endianness="big")
        return members.replace_strict(distinct, keys, default=None, return_dtype=pl.Int64).alias("member_key")

    # -- the catalog ----------------------------------------------------------------------------------

    def _batches(self, before: dt.date | None) -> pl.DataFrame:
        """Catalog rows of this folder visible to a run of `before` (earlier nights and back-fills)."""
        if self.ledger is None:
            return pl.DataFrame(schema=BATCH_SCHEMA)
        sql = ("SELECT batch_id, file, kind, run_date, lines, min_date, max_date FROM history_batches "
               "WHERE folder = ?")
        params: list[Any] = [self.label]
        if before is not None:
            sql += " AND (kind = 'import' OR run_date < ?)"
            params.append(before.isoformat())
        rows = self.ledger.query(sql + " ORDER BY batch_id", params)
        return pl.DataFrame(rows, schema=BATCH_SCHEMA, orient="row")

    def recorded_shas(self, shas: list[str], replacing: dt.date | None = None) -> set[str]:
        """Which of these source checksums history already holds (in this folder), apart from what a
        run of `replacing` recorded (running a night again replaces it)."""
        if not shas or self.ledger is None:
            return set()
        marks = ",".join("?" * len(shas))
        rows = self.ledger.query(
            f"SELECT DISTINCT s.source_sha256 FROM history_sources s JOIN history_batches b USING (batch_id) "
            f"WHERE b.folder = ? AND s.source_sha256 IN ({marks}) AND NOT (b.kind = 'run' AND b.run_date = ?)",
            [self.label, *shas, replacing.isoformat() if replacing else ""])
        return {r[0] for r in rows}

    def _superseded(self) -> pl.DataFrame:
        rows = self.ledger.query(
            "SELECT x.claim_id, max(x.batch_id) FROM history_superseded x JOIN history_batches b "
            "USING (batch_id) WHERE b.folder = ? GROUP BY x.claim_id", [self.label])
        return pl.DataFrame(rows, schema={"claim_id": pl.String, "superseded_in": pl.Int64}, orient="row")

    # -- reading --------------------------------------------------------------------------------------

    def lookup(self, tonight: pl.DataFrame, *, run_date: dt.date, audited: list[str], family: list[str],
               windows: Windows, exclude_shas: set[str], adjusted_claims: list[str],
               claim_lines: pl.DataFrame) -> tuple[pl.DataFrame, Consulted]:
        """The history lines the history-aware edits need beside `tonight` (lines with member_key,
        service_date, procedure_code): lines of members with an audited line tonight, audited lines of
        tonight's members, and same-date lines of tonight's family codes, inside the windows. Only the
        members and dates tonight touches are read. A claim line tonight carries again (`claim_lines`:
        claim_id, line_number) is tonight's version: its earlier copy is not history beside it."""
        consulted = Consulted(str(self))
        batches = self._batches(run_date)
        if batches.is_empty() or tonight.is_empty():
            return _empty_history(), consulted
        lo = tonight.get_column("service_date").min() - dt.timedelta(days=windows.before)
        hi = tonight.get_column("service_date").max() + dt.timedelta(days=windows.after)
        in_window = batches.filter((pl.col("max_date") >= lo.isoformat()) & (pl.col("min_date") <= hi.isoformat()))
        members = tonight.get_column("member_key").unique()
        found = self.lines.scan(in_window, members, lo, hi, exclude_shas)
        if found is None:
            return _empty_history(), consulted
        found = _in_members_windows(found, tonight, windows)
        found = self._relevant(found, tonight, audited, family, adjusted_claims)
        found = found.join(claim_lines, on=["claim_id", "line_number"], how="anti", maintain_order="left")
        consulted.batch_ids = frozenset(found.get_column("batch_id").unique().to_list())
        consulted.batches = len(consulted.batch_ids)
        consulted.lines = found.height
        if found.height:
            consulted.first_date = found.get_column("service_date").min()
            consulted.last_date = found.get_column("service_date").max()
        return found, consulted

    def holds_claims(self, claims: list[str], run_date: dt.date) -> set[str]:
        """Which of `claims` have lines in the history a run of `run_date` sees (read only when a night
        carries replacements or voids)."""
        if not claims:
            return set()
        return self.lines.claims(self._batches(run_date), claims)

    def members_with_audited_lines(self, member_ids: pl.Series, run_date: dt.date, audited: tuple[str, ...]
                                   ) -> pl.Series:
        """Which of `member_ids` have a line of an audited code in the history a run of `run_date` sees:
        their visits and procedures tonight may fall in the global period of that surgery."""
        batches = self._batches(run_date)
        if batches.is_empty() or member_ids.is_empty():
            return member_ids.clear()
        held = self.lines.members_with(batches, list(audited))
        if held.is_empty():
            return member_ids.clear()
        keys = self.member_keys(member_ids)
        return member_ids.filter(keys.is_in(held.implode()))

    def _relevant(self, found: pl.DataFrame, tonight: pl.DataFrame, audited: list[str], family: list[str],
                  adjusted_claims: list[str]) -> pl.DataFrame:
        if found.is_empty():
            return found
        superseded = self._superseded()
        found = found.join(superseded, on="claim_id", how="left").filter(
            pl.col("superseded_in").is_null() | (pl.col("superseded_in") <= pl.col("batch_id"))
        ).drop("superseded_in")
        found = found.filter(~pl.col("claim_id").is_in(adjusted_claims))
        with_audited = tonight.filter(pl.col("procedure_code").is_in(audited)).get_column("member_key").unique()
        same_day = tonight.filter(pl.col("procedure_code").is_in(family)).select(
            "member_key", "service_date", "procedure_code").unique().with_columns(pl.lit(True).alias("_same"))
        found = found.join(same_day, on=["member_key", "service_date", "procedure_code"], how="left")
        keep = (pl.col("member_key").is_in(with_audited.implode()) | pl.col("procedure_code").is_in(audited)
                | pl.col("_same").fill_null(False))
        return found.filter(keep).drop("_same").sort("batch_id", "source_file", "source_row")

    # -- writing (inside the ledger's write transaction) ----------------------------------------------

    def record(self, lines: pl.DataFrame | PendingLines, *, kind: str, run_id: str | None, run_date: dt.date,
               sources: list[tuple[str, str]], superseded: list[tuple[str, str]],
               keep_from: dt.date | None = None) -> tuple[int, int, Path | None]:
        """Add `lines` (STORED columns but run_date, member_id instead of member_key on a first run; a
        frame, or the pieces of a run's groups of members) as one batch, with the files they came from
        ((source_file, sha256)) and the claims they supersede ((claim_id, frequency)). Call inside the
        ledger's transaction: the file is written now and becomes history when the ledger commits.
        `keep_from`: the cut-off of the prune that follows (:meth:`prune`): lines older are counted as
        recorded and pruned but never written, and the batch's catalog row is the one that prune would
        leave. Returns (lines recorded, lines of them pruned, the file written: for removal if the
        transaction fails)."""
        con = self.ledger.connection
        self._remove_unlisted()  # before this transaction unlists anything: those files stay until it commits
        if kind == "run":  # running a night again replaces what that night recorded
            con.execute("DELETE FROM history_batches WHERE folder = ? AND kind = 'run' AND run_date = ?",
                        (self.label, run_date.isoformat()))
        pending = lines if isinstance(lines, PendingLines) else PendingLines.of(lines)
        if not pending.height and not superseded:
            return 0, 0, None
        pieces, tally, kept = self._stored_pieces(pending, run_date, keep_from)
        try:
            name, path = self.lines.write(in_order(pieces, STORED))
            first = kept.first if kept.lines else tally.first  # nothing kept: the prune drops the batch
            batch = int(con.execute(
                "INSERT INTO history_batches (folder, file, kind, run_id, run_date, recorded_at, lines, "
                "min_date, max_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING batch_id",
                (self.label, name, kind, run_id, run_date.isoformat(),
                 dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), kept.lines,
                 first.isoformat() if first else None, tally.last.isoformat() if tally.last else None)
            ).fetchone()[0])
            self.lines.attach(con, batch, pieces)
        finally:
            for piece in pieces:
                if isinstance(piece.data, Path):
                    piece.data.unlink(missing_ok=True)
        con.executemany("INSERT INTO history_sources VALUES (?, ?, ?, ?)",
                        [(batch, name, sha, int(tally.per_source.get(sha, 0))) for name, sha in sources])
        con.executemany("INSERT INTO history_superseded VALUES (?, ?, ?)",
                        [(batch, claim, freq) for claim, freq in superseded])
        return tally.lines, tally.lines - kept.lines, path

    def _stored_pieces(self, pending: PendingLines, run_date: dt.date, keep_from: dt.date | None
                       ) -> tuple[list[SortedPiece], Tally, Tally]:
        """Each piece keyed (a first run's lines carry member ids until the ledger's key exists), in the
        STORED columns and sorted, one piece in memory at a time; what the catalog row counts of every
        line, and of the lines kept (from `keep_from` on)."""
        pieces: list[SortedPiece] = []
        tally, kept = Tally(), Tally()
        ranges = range_count(pending.height)
        for lines in pending.frames():
            if "member_key" not in lines.columns:
                lines = lines.with_columns(self.member_keys(lines.get_column("member_id")))
            frame = lines.with_columns(pl.lit(run_date).alias("run_date")).select(
                [pl.col(c).cast(t) for c, t in STORED.items()])
            tally.add(frame)
            if keep_from is not None:
                frame = frame.filter(pl.col("service_date") >= keep_from)
            kept.add(frame)
            pieces.append(sort_piece(frame, pending.folder, ranges))
            del lines, frame
        return pieces, tally, kept

    def prune(self, before: dt.date) -> int:
        """Drop every line with a date of service before `before` (inside the ledger's transaction):
        files wholly older are unlisted (removed by the next writer), partly older ones rewritten."""
        con = self.ledger.connection
        old = self.ledger.query(
            "SELECT batch_id, file, max_date, lines FROM history_batches WHERE folder = ? AND min_date < ?",
            [self.label, before.isoformat()])
        dropped = 0
        for batch, name, max_date, count in old:
            if max_date < before.isoformat():
                con.execute("DELETE FROM history_batches WHERE batch_id = ?", (batch,))
                dropped += count
                continue
            dropped += count - self.lines.trim(con, batch, name, before)
        return dropped

    def prune_unlisted(self) -> None:
        """Remove leftovers (see :meth:`_remove_unlisted`); call at the start of a write transaction."""
        self._remove_unlisted()

    def _remove_unlisted(self) -> None:
        """Files of runs that never committed (killed, failed) or batches dropped since: not history.
        Called at the start of a write transaction (which holds the ledger's write lock), before it
        unlists anything itself: a file this transaction unlists is removed by the next writer, after
        this one committed, so a failed commit never loses a file the ledger still lists."""
        if self.folder is None:
            return  # lines in the ledger's database: a rolled-back run left none
        listed = {r[0] for r in self.ledger.query("SELECT file FROM history_batches WHERE folder = ?",
                                                  [self.label])}
        self.lines.remove_unlisted(listed)

    # -- status ---------------------------------------------------------------------------------------

    def status(self) -> pl.DataFrame:
        """One row per source file history holds: lines, first and last date of service, batches."""
        rows = self.ledger.query(
            "SELECT s.source_file, s.source_sha256, b.kind, b.run_date, s.lines, b.min_date, b.max_date "
            "FROM history_sources s JOIN history_batches b USING (batch_id) WHERE b.folder = ? "
            "ORDER BY b.batch_id, s.source_file", [self.label])
        return pl.DataFrame(rows, schema={"source_file": pl.String, "sha256": pl.String, "kind": pl.String,
                                          "run_date": pl.String, "lines": pl.Int64, "first_date": pl.String,
                                          "last_date": pl.String}, orient="row")

    def members(self) -> int:
        return self.lines.member_count(self._batches(None))


def _digest(copy: Any, member: bytes) -> bytes:
    state = copy()  # the keyed state: keying costs a block of hashing, a copy does not
    state.update(member)
    return state.digest()


def _in_members_windows(found: pl.DataFrame, tonight: pl.DataFrame, windows: Windows) -> pl.DataFrame:
    """The history lines inside the windows of their own member's lines tonight (every history-aware edit
    pairs a member's lines): what a run sees of history does not depend on which other members share it."""
    if found.is_empty():
        return found
    spans = tonight.group_by("member_key").agg(
        (pl.col("service_date").min() - dt.timedelta(days=windows.before)).alias("_from"),
        (pl.col("service_date").max() + dt.timedelta(days=windows.after)).alias("_to"))
    return (found.join(spans, on="member_key", how="inner", maintain_order="left")
            .filter(pl.col("service_date").is_between(pl.col("_from"), pl.col("_to"))).drop("_from", "_to"))


def merge_nights(nights: list[Night]) -> Night:
    """The nights of a run's groups of members (:meth:`claims_audit.retained.RetainedLines.buckets`) as
    the one night of the run: what it consulted, and what it records (the groups' pieces, in group order)."""
    if len(nights) == 1:
        return nights[0]
    first = nights[0]
    batch_ids = frozenset().union(*(n.consulted.batch_ids for n in nights))
    dates = [d for n in nights for d in (n.consulted.first_date, n.consulted.last_date) if d is not None]
    consulted = Consulted(
        first.consulted.folder, batches=len(batch_ids), lines=sum(n.consulted.lines for n in nights),
        first_date=min(dates, default=None), last_date=max(dates, default=None),
        already_recorded=first.consulted.already_recorded,
        unmatched_adjustments=sum(n.consulted.unmatched_adjustments for n in nights), batch_ids=batch_ids)
    to_record = PendingLines(first.to_record.folder)
    for n in nights:  # groups of disjoint members, each in file order (see claims_audit.history_pending)
        to_record.extend(n.to_record)
    # the history lines were for naming related lines in each group's findings: done with
    return Night(first.edit_lines.clear(), first.history_lines.clear(),
                 [key for n in nights for key in n.silent], to_record, first.sources,
                 sorted({s for n in nights for s in n.superseded}), consulted, first.windows)


def _empty_history() -> pl.DataFrame:
    return pl.DataFrame(schema={**STORED, "batch_id": pl.Int64})


# --- one night against history ---------------------------------------------------------------------


@dataclass
class Night:
    """Tonight's lines as the history-aware edits see them, and what the run will add to history."""

    edit_lines: pl.DataFrame  # tonight's lines the edits read + history lines (negative line_key)
    history_lines: pl.DataFrame  # line_key, history_source of the history lines (to name a related line)
    silent: list[int]  # line_keys of tonight's lines that raise no finding: voids, superseded originals
    to_record: PendingLines  # STORED columns but run_date (member_id instead of member_key on a first run)
    sources: list[tuple[str, str]]  # (source file, sha256) of the lines to record
    superseded: list[tuple[str, str]]  # (claim id, frequency) tonight's replacements and voids name
    consulted: Consulted
    windows: Windows  # of the rule data the night was prepared with (retention for the prune)


def frequency() -> pl.Expr:
    return pl.col("claim_frequency").fill_null("1")


def original_claim() -> pl.Expr:
    return pl.coalesce(pl.col("original_claim_id"), pl.col("claim_id"))


def prepare(history: History, lines: pl.DataFrame, *, run_date: dt.date, shas: dict[str, str],
            keep: pl.Expr, audited: list[str], family: list[str], windows: Windows,
            record: pl.Expr | None = None) -> Night:
    """Tonight's `lines` (the whole run; `shas`: source file -> SHA-256) against `history`. `keep`: the
    lines any claim edit reads (:func:`claims_audit.rules.claim_edits.context.read_by_edits`); `record`:
    those a later night needs (:func:`...context.recorded_for_later_nights`; default: `keep`)."""
    for c in ("claim_frequency", "original_claim_id"):
        if c not in lines.columns:
            lines = lines.with_columns(pl.lit(None, pl.String).alias(c))
    adjustments = lines.filter(frequency().is_in([VOID, REPLACEMENT]))
    adjusted = adjustments.select(original_claim().alias("claim_id"), frequency().alias("frequency")).unique()
    adjusted_claims = adjusted.get_column("claim_id").to_list()
    silent_expr = (frequency() == VOID) | (pl.col("claim_id").is_in(adjusted_claims)
                                          & ~frequency().is_in([VOID, REPLACEMENT]))
    silent = lines.filter(silent_expr).get_column("line_key").to_list()
    tonight = lines.filter(keep & ~silent_expr)
    # keyed now when this history has its ledger (the same key records them); a first run has no history
    # to match and no key yet: its lines are keyed once, with the new ledger's key, when it records
    keyed = history.ledger is not None
    if keyed:
        tonight = tonight.with_columns(history.member_keys(tonight.get_column("member_id")))
        found, consulted = history.lookup(
            tonight, run_date=run_date, audited=audited, family=family, windows=windows,
            exclude_shas=set(shas.values()), adjusted_claims=adjusted_claims,
            claim_lines=lines.select("claim_id", "line_number").unique())
    else:
        found, consulted = _empty_history(), Consulted(str(history))
    consulted.unmatched_adjustments = _unmatched(adjusted_claims, lines, history, run_date)
    n = found.height
    earlier = found.with_columns(
        (pl.int_range(n, dtype=pl.Int64) - n).alias("line_key"),
        pl.col("member_key").cast(pl.String).alias("member_id"),
        pl.format("{} row {}, run {}", "source_file", "source_row", pl.col("run_date").dt.to_string("%Y-%m-%d"))
        .alias("history_source"))
    edit_cols = [c for c in tonight.columns if c in earlier.columns and c != "member_key"]
    edit_lines = pl.concat([
        earlier.select(edit_cols),
        (tonight.with_columns(pl.col("member_key").cast(pl.String).alias("member_id")) if keyed else tonight)
        .select(edit_cols),
    ], how="vertical_relaxed")
    recorded = history.recorded_shas(sorted(set(shas.values())), replacing=run_date)
    consulted.already_recorded = sorted(f for f, sha in shas.items() if sha in recorded)
    new_sources = [(f, sha) for f, sha in shas.items() if sha not in recorded]
    to_record = (tonight.filter(record if record is not None else pl.lit(True))  # voids are silent: not here
                 .filter(pl.col("source_file").is_in([f for f, _ in new_sources]))
                 .with_columns(pl.col("source_file").replace_strict(dict(new_sources), default=None)
                               .alias("source_sha256")))
    stored = [c if keyed or c != "member_key" else "member_id" for c in STORED if c != "run_date"]
    pending = PendingLines(history.scratch() if history.scratch is not None else None)
    pending.add(to_record.select(stored))
    return Night(edit_lines, earlier.select("line_key", "history_source"), silent, pending, new_sources,
                 [tuple(r) for r in adjusted.iter_rows()], consulted, windows)


def _unmatched(adjusted_claims: list[str], lines: pl.DataFrame, history: History, run_date: dt.date) -> int:
    """Replacements and voids naming a claim that neither tonight's other lines nor history hold."""
    if not adjusted_claims:
        return 0
    originals = set(lines.filter(~frequency().is_in([VOID, REPLACEMENT])).get_column("claim_id").to_list())
    wanted = [c for c in adjusted_claims if c not in originals]
    held = history.holds_claims(wanted, run_date) if wanted else set()
    return sum(1 for c in wanted if c not in held)


# --- back-fill --------------------------------------------------------------------------------------


@dataclass
class Backfill:
    """What `history import` did: per input its reconciliation, and the lines history gained."""

    inputs: list[Any]  # pipeline.InputSummary
    recorded: int
    already_recorded: list[str]
    folder: str  # the history folder, or the ledger's database


def backfill(paths: list[Path], *, ledger_path: str | Path, folder: str | Path | None = None,
             schema: Path | None = None,
             mapping: Path | None = None, run_date: dt.date | None = None) -> Backfill:
    """Load past extracts into history: read and validated as a run reads them (rejected rows counted),
    no findings, no report. One transaction: all the files' lines, or none."""
    from .ledger import Ledger
    from .pipeline import against_history, read_inputs

    summaries, lines = read_inputs(paths, schema_path=schema, mapping_path=mapping)
    with Ledger.open(ledger_path, create=True) as store:
        history = History(place(folder, ledger_path), store)
        night = against_history(history, lines, summaries, run_date or dt.date.today())
        path: Path | None = None
        try:
            with store.transaction():
                recorded, _, path = history.record(night.to_record, kind="import", run_id=None,
                                                run_date=run_date or dt.date.today(), sources=night.sources,
                                                superseded=night.superseded)
        except BaseException:
            if path is not None:
                with contextlib.suppress(OSError):
                    path.unlink()
            raise
    return Backfill(summaries, recorded, night.consulted.already_recorded, str(history))
