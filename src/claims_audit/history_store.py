"""Where the claims history keeps its lines: Parquet files beside an SQLite ledger, or the ``history_lines``
table of a PostgreSQL ledger. Both sit under the same catalog (ledger tables ``history_batches``,
``history_sources``, ``history_superseded``) and are written inside the ledger's transaction, so a batch of
lines is history exactly when the transaction that listed it committed.

- :class:`ParquetLines`: one zstd Parquet file per batch (chosen for scan speed at payer volume); the file
  is written before its catalog row, and a file no committed row lists (a killed run's) is removed by
  the next writer.
- :class:`TableLines`: one row per line keyed like the files (member_key, service_date, batch_id), loaded
  with COPY after the catalog row; the run's one COMMIT publishes catalog and lines together, and a
  rolled-back run leaves nothing behind to clean up.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import secrets
from pathlib import Path
from typing import Any

import polars as pl

from .errors import ExitCode, LedgerError
from .history_pending import SortedPiece

FILE_PATTERN = re.compile(r"^history-(?P<id>[0-9a-f]{32})\.parquet$")
DATABASE_LABEL = "(database)"  # the catalog's `folder` of history kept in a PostgreSQL ledger
TABLE_FILE = "(history_lines)"  # the catalog's `file` of such a batch
COPY_ROWS = 100_000  # lines per COPY into history_lines (a slice's CSV text is all that is held)


class ParquetLines:
    """History lines in Parquet files in `folder`."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.label = str(folder)

    def __str__(self) -> str:
        return str(self.folder)

    def write(self, lines: pl.LazyFrame) -> tuple[str, Path]:
        """The batch's file, written in full before its catalog row (mode 0600 from its creation), as
        `lines` stream to disk (:func:`claims_audit.history_pending.in_order`: a range of members at a
        time)."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.folder / f"history-{secrets.token_hex(16)}.parquet"
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            lines.sink_parquet(path, compression="zstd", statistics=True)
        except (OSError, pl.exceptions.PolarsError) as exc:
            with contextlib.suppress(OSError):
                path.unlink()
            reason = (exc.strerror if isinstance(exc, OSError) else None) or type(exc).__name__
            raise LedgerError(f"claims history {self.folder} cannot be written: {reason}") from None
        return path.name, path

    def attach(self, db: Any, batch_id: int, pieces: list[SortedPiece]) -> None:
        """Nothing: the file named in the catalog row holds the lines."""

    def _files(self, batches: pl.DataFrame) -> list[Path]:
        """The files of these catalog rows; a listed file that is missing stops the run (exit 2)."""
        files = [self.folder / f for f in batches.get_column("file").to_list()]
        missing = [f for f in files if not f.exists()]
        if missing:
            raise LedgerError(f"claims history {self.folder} lacks {missing[0].name}, which the ledger lists: "
                              "the folder was changed by hand; restore it or use --no-history",
                              ExitCode.USAGE)
        return files

    def _damaged(self, exc: Exception) -> LedgerError:
        return LedgerError(f"claims history {self.folder} cannot be read ({type(exc).__name__}): a file is "
                           "damaged; restore the folder or use --no-history", ExitCode.USAGE)

    def scan(self, batches: pl.DataFrame, members: pl.Series, lo: dt.date, hi: dt.date,
             exclude_shas: set[str]) -> pl.DataFrame | None:
        files = self._files(batches)
        if not files:
            return None
        ids = dict(zip(batches.get_column("file").to_list(), batches.get_column("batch_id").to_list()))
        try:
            frames = [pl.scan_parquet(f).with_columns(pl.lit(ids[f.name], pl.Int64).alias("batch_id"))
                      for f in files]
            # the member filter first, on the one integer column (the others are decoded for the few
            # matching rows only): this scan is the whole cost of a lookup
            found = (pl.concat(frames, how="vertical")
                     .filter(pl.col("member_key").is_in(members.implode()))
                     .collect())
            return found.filter(pl.col("service_date").is_between(lo, hi)
                                & ~pl.col("source_sha256").is_in(sorted(exclude_shas)))
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise self._damaged(exc) from None

    def claims(self, batches: pl.DataFrame, claims: list[str]) -> set[str]:
        files = [self.folder / f for f in batches.get_column("file").to_list()]
        if not files or not claims:
            return set()
        found = (pl.scan_parquet(files).select("claim_id").filter(pl.col("claim_id").is_in(claims))
                 .unique().collect())
        return set(found.get_column("claim_id").to_list())

    def members_with(self, batches: pl.DataFrame, codes: list[str]) -> pl.Series:
        files = self._files(batches)
        if not files:
            return pl.Series("member_key", [], pl.Int64)
        try:
            return (pl.scan_parquet(files).filter(pl.col("procedure_code").is_in(codes))
                    .select("member_key").unique().collect().get_column("member_key"))
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise self._damaged(exc) from None

    def member_count(self, batches: pl.DataFrame) -> int:
        files = [self.folder / f for f in batches.get_column("file").to_list()]
        if not files:
            return 0
        return pl.scan_parquet(files).select(pl.col("member_key").n_unique()).collect().item()

    def trim(self, db: Any, batch_id: int, file: str, before: dt.date) -> int:
        """Keep the batch's lines from `before` on in a new file (streamed: a batch may hold a large
        night); returns the lines kept."""
        kept = pl.scan_parquet(self.folder / file).filter(pl.col("service_date") >= before)
        name, path = self.write(kept)
        lines, first = pl.scan_parquet(path).select(pl.len(), pl.col("service_date").min()).collect().row(0)
        db.execute("UPDATE history_batches SET file = ?, lines = ?, min_date = ? WHERE batch_id = ?",
                   (name, lines, first.isoformat() if first is not None else None, batch_id))
        return lines

    def remove_unlisted(self, listed: set[str]) -> None:
        """Files of runs that never committed (killed, failed) or batches dropped since: not history."""
        if not self.folder.is_dir():
            return
        for entry in self.folder.iterdir():
            if FILE_PATTERN.match(entry.name) and entry.name not in listed:
                with contextlib.suppress(OSError):
                    entry.unlink()


class TableLines:
    """History lines in the ``history_lines`` table of a PostgreSQL ledger (`ledger`)."""

    label = DATABASE_LABEL

    def __init__(self, ledger: Any, columns: dict[str, Any]):
        self.ledger = ledger
        self.columns = columns  # history.STORED: the table's columns but batch_id, in order

    def __str__(self) -> str:
        return f"{self.ledger.path} (table history_lines)"

    @property
    def _db(self) -> Any:
        return self.ledger.connection

    def write(self, lines: pl.LazyFrame) -> tuple[str, None]:
        return TABLE_FILE, None

    def attach(self, db: Any, batch_id: int, pieces: list[SortedPiece]) -> None:
        """The lines by COPY after their catalog row (same transaction), a slice of a piece at a time
        (rows in a table have no order: each piece goes as it is)."""
        for piece in pieces:
            frame = piece.frame()
            for start in range(0, frame.height, COPY_ROWS):
                data = frame.slice(start, COPY_ROWS).select(
                    pl.lit(batch_id, pl.Int64).alias("batch_id"), *self.columns).write_csv()
                db.copy_rows("history_lines", ["batch_id", *self.columns], data.encode("utf-8"))

    def _select(self, where: str, params: list[Any], columns: list[str]) -> list[tuple]:
        return self.ledger.query(f"SELECT {', '.join(columns)} FROM history_lines WHERE {where}", params)

    def scan(self, batches: pl.DataFrame, members: pl.Series, lo: dt.date, hi: dt.date,
             exclude_shas: set[str]) -> pl.DataFrame | None:
        columns = [*self.columns, "batch_id"]
        rows = self._select(
            "batch_id = ANY(CAST(? AS BIGINT[])) AND member_key = ANY(CAST(? AS BIGINT[])) "
            "AND service_date BETWEEN ? AND ? AND NOT (source_sha256 = ANY(CAST(? AS TEXT[])))",
            [batches.get_column("batch_id").to_list(), members.drop_nulls().to_list(), lo, hi,
             sorted(exclude_shas)], columns)
        return pl.DataFrame(rows, schema={**self.columns, "batch_id": pl.Int64}, orient="row")

    def claims(self, batches: pl.DataFrame, claims: list[str]) -> set[str]:
        if batches.is_empty() or not claims:
            return set()
        rows = self._select("batch_id = ANY(CAST(? AS BIGINT[])) AND claim_id = ANY(CAST(? AS TEXT[]))",
                            [batches.get_column("batch_id").to_list(), claims], ["DISTINCT claim_id"])
        return {r[0] for r in rows}

    def members_with(self, batches: pl.DataFrame, codes: list[str]) -> pl.Series:
        rows = self._select("batch_id = ANY(CAST(? AS BIGINT[])) AND procedure_code = ANY(CAST(? AS TEXT[]))",
                            [batches.get_column("batch_id").to_list(), codes], ["DISTINCT member_key"])
        return pl.Series("member_key", [r[0] for r in rows], pl.Int64)

    def member_count(self, batches: pl.DataFrame) -> int:
        rows = self._select("batch_id = ANY(CAST(? AS BIGINT[]))", [batches.get_column("batch_id").to_list()],
                            ["count(DISTINCT member_key)"])
        return int(rows[0][0])

    def trim(self, db: Any, batch_id: int, file: str, before: dt.date) -> int:
        db.execute("DELETE FROM history_lines WHERE batch_id = ? AND service_date < ?", (batch_id, before))
        kept, first = db.execute("SELECT count(*), min(service_date) FROM history_lines WHERE batch_id = ?",
                                 (batch_id,)).fetchone()
        db.execute("UPDATE history_batches SET lines = ?, min_date = ? WHERE batch_id = ?",
                   (int(kept), first.isoformat() if first else None, batch_id))
        return int(kept)

    def remove_unlisted(self, listed: set[str]) -> None:
        """Nothing: lines of a rolled-back transaction were never there."""
