"""`claims-audit ledger migrate`: move an SQLite ledger and its claims history to a PostgreSQL ledger.

The source is opened as any command opens it (an older ledger is first brought to the current schema);
the target database must exist and be empty (its tables are created here), or already hold this very
ledger (same ledger key and the same counts: a migration run twice changes nothing). Everything is
copied in one PostgreSQL transaction under the ledger's write lock, ids kept (decisions, imports and
history batches keep their numbers, so "latest decision" means the same on both), with the ledger's and
the history's secret keys (report seals and member keys stay valid). Before COMMIT every table's row
count and the history's line count are compared with the source; any difference rolls everything back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from .errors import ExitCode, LedgerError
from .history_store import DATABASE_LABEL, TABLE_FILE

# copied in this order (foreign keys); the identity column, when the table has one
TABLES: tuple[tuple[str, str | None], ...] = (
    ("runs", None), ("run_findings", None), ("imports", "import_id"), ("decisions", "decision_id"),
    ("reports", None), ("history_batches", "batch_id"), ("history_sources", None),
    ("history_superseded", None),
)
KEYS = ("ledger_key", "history_key")


class TransferMismatch(LedgerError):
    """The copy does not match its source; nothing was committed."""

    exit_code = ExitCode.INTERNAL


@dataclass
class Transfer:
    source: str
    target: str
    counts: dict[str, int] = field(default_factory=dict)  # rows per table (and history lines)
    already_there: bool = False
    other_folders: int = 0  # history batches of other folders than the one migrated (not copied)


def migrate_ledger(source: Path, target: str, history: Path | None = None) -> Transfer:
    """Copy the SQLite ledger `source` (and its history folder, default beside it) into `target`."""
    from .history import default_folder
    from .ledger import Ledger
    from .store import locate

    if locate(source).is_server or not locate(target).is_server:
        raise LedgerError("ledger migrate copies an SQLite file (--from FILE) into a PostgreSQL database "
                          "(--to postgresql://...)", ExitCode.USAGE)
    folder = Path(history or default_folder(source)).resolve()
    with Ledger.open(source, create=False) as src, Ledger.open(target, create=True) as dst:
        tables = {name: _rows(src, name, str(folder)) for name, _ in TABLES}
        other = src.query("SELECT count(*) FROM history_batches WHERE folder <> ?", [str(folder)])[0][0]
        files = dict(src.query("SELECT batch_id, file FROM history_batches WHERE folder = ?", [str(folder)]))
        lines = _history_lines(folder, files, tables["history_batches"])
        expected = {name: len(rows[1]) for name, rows in tables.items()}
        expected["history_lines"] = sum(frame.height for _, frame in lines)
        result = Transfer(str(src.path), str(dst.path), expected, other_folders=int(other))
        with dst.transaction() as db:
            keys = {k: src.query(f"SELECT key FROM {k} WHERE id = 1")[0][0] for k in KEYS}
            if _holds_data(dst):
                if _same_ledger(dst, keys, expected):
                    result.already_there = True
                    return result
                raise LedgerError(f"ledger {dst.path} already holds another ledger's runs, decisions or "
                                  "history; migrate into an empty database", ExitCode.USAGE)
            for name, value in keys.items():
                db.execute(f"UPDATE {name} SET key = ? WHERE id = 1", (value,))
            for name, identity in TABLES:
                columns, rows = tables[name]
                db.copy_records(name, columns, rows)
                if identity and rows:
                    db.execute(f"SELECT setval(pg_get_serial_sequence(?, ?), (SELECT max({identity}) FROM {name}))",
                               (name, identity))
            from .history import STORED

            for batch_id, frame in lines:
                db.copy_rows("history_lines", ["batch_id", *STORED], frame.select(
                    pl.lit(batch_id, pl.Int64).alias("batch_id"), *STORED).write_csv().encode("utf-8"))
            _verify(dst, expected)
    return result


def _rows(src: Any, table: str, folder: str) -> tuple[list[str], list[tuple]]:
    """A table's columns and rows; history tables only for the batches of `folder`, relabelled as held
    in the database."""
    columns = [r[1] for r in src.query(f"PRAGMA table_info({table})")]
    where = ""
    params: list[Any] = []
    if table == "history_batches":
        where, params = " WHERE folder = ?", [folder]
    elif table in ("history_sources", "history_superseded"):
        where = " WHERE batch_id IN (SELECT batch_id FROM history_batches WHERE folder = ?)"
        params = [folder]
    rows = src.query(f"SELECT {', '.join(columns)} FROM {table}{where}", params)
    if table == "history_batches":
        at_folder, at_file = columns.index("folder"), columns.index("file")
        rows = [tuple(DATABASE_LABEL if i == at_folder else TABLE_FILE if i == at_file else v
                      for i, v in enumerate(r)) for r in rows]
    return columns, rows


def _history_lines(folder: Path, files: dict[int, str], batches: tuple[list[str], list[tuple]]
                   ) -> list[tuple[int, pl.DataFrame]]:
    """Each batch's lines, read from its Parquet file (`files`: batch_id -> file name)."""
    from .history import STORED

    columns, rows = batches
    at_id, at_lines = columns.index("batch_id"), columns.index("lines")
    out = []
    for row in rows:
        name = files.get(row[at_id])
        path = folder / name if name else None
        if path is None or not path.exists():
            raise LedgerError(f"claims history {folder} lacks the file of batch {row[at_id]}, which the ledger "
                              "lists; restore the folder (or give --history) before migrating", ExitCode.USAGE)
        frame = pl.read_parquet(path).select([pl.col(c).cast(t) for c, t in STORED.items()])
        if frame.height != row[at_lines]:
            raise TransferMismatch(f"claims history file {path.name} holds {frame.height} lines, the catalog "
                                   f"says {row[at_lines]}; nothing was migrated")
        out.append((int(row[at_id]), frame))
    return out


def _holds_data(dst: Any) -> bool:
    return any(dst.query(f"SELECT count(*) FROM {t}")[0][0] for t in ("runs", "imports", "history_batches"))


def _same_ledger(dst: Any, keys: dict[str, str], expected: dict[str, int]) -> bool:
    same_keys = all(dst.query(f"SELECT key FROM {k} WHERE id = 1")[0][0] == v for k, v in keys.items())
    return same_keys and _counts(dst) == expected


def _counts(dst: Any) -> dict[str, int]:
    counts = {name: int(dst.query(f"SELECT count(*) FROM {name}")[0][0]) for name, _ in TABLES}
    counts["history_lines"] = int(dst.query("SELECT count(*) FROM history_lines")[0][0])
    return counts


def _verify(dst: Any, expected: dict[str, int]) -> None:
    found = _counts(dst)
    wrong = [f"{t}: {found[t]} copied of {n}" for t, n in expected.items() if found.get(t) != n]
    if wrong:
        raise TransferMismatch(f"ledger migrate: the copy in {dst.path} does not match its source ("
                               + "; ".join(wrong) + "); nothing was committed")
