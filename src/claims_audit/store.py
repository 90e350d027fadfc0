"""Where the review ledger lives, and the one storage interface its two back ends implement.

``--ledger`` takes a file (the embedded SQLite ledger, the default) or a PostgreSQL connection URL
(``postgresql://user@host/db``) for a review team on several machines. :func:`locate` turns the option
into a :class:`Location`; :meth:`Location.backend` opens a :class:`Backend`: :class:`SQLiteBackend` here,
:class:`claims_audit.postgres.PostgresBackend` (psycopg 3, an optional dependency: ``claims-audit[postgres]``).

The ledger (:mod:`claims_audit.ledger`) and the claims history's catalog (:mod:`claims_audit.history`)
write one SQL dialect through a backend: ``?`` placeholders with the values passed apart (never SQL
built from claim values), explicit ``BEGIN``/``COMMIT`` and the few statements that differ (schema marker,
write lock, temporary tables) behind methods. A URL carrying a password is refused: the password comes
from ``PGPASSWORD`` or a ``.pgpass`` file (libpq reads both), so it is never on a command line, in a
manifest, a journal, an error message or a log.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from .errors import ExitCode, LedgerError

SCHEMES = ("postgresql://", "postgres://")
APPLICATION_ID = 0x43414C44  # "CALD": marks an SQLite file as a claims-audit ledger


@dataclass(frozen=True)
class Location:
    """A ledger: an SQLite file (`path`) or a PostgreSQL database (`url`, never with a password)."""

    path: Path | None = None
    url: str | None = None

    @property
    def is_server(self) -> bool:
        return self.url is not None

    def __str__(self) -> str:
        return self.url if self.url is not None else str(self.path)

    def exists(self) -> bool:
        """Whether a run finds a ledger here (a server's database always exists; its schema is created
        by the first run)."""
        return True if self.is_server else Path(self.path).exists()  # type: ignore[arg-type]

    def journal_name(self) -> str:
        """How a run's journal names this ledger (absolute, so recovery finds it from anywhere)."""
        return self.url if self.url is not None else str(Path(self.path).resolve())  # type: ignore[arg-type]

    def backend(self, *, create: bool, timeout: float) -> Backend:
        if self.url is not None:
            from .postgres import PostgresBackend

            return PostgresBackend.connect(self.url, timeout=timeout)
        return SQLiteBackend.connect(Path(self.path), create=create, timeout=timeout)  # type: ignore[arg-type]


def is_url(value: str | os.PathLike[str]) -> bool:
    return isinstance(value, str) and value.startswith(SCHEMES)


def locate(value: str | os.PathLike[str] | Location) -> Location:
    """The ledger `value` names. A URL with a password in it is refused (exit 2)."""
    if isinstance(value, Location):
        return value
    if not is_url(value):
        return Location(path=Path(value))
    text = str(value)
    try:
        parts = urlsplit(text)
        has_password = parts.password is not None
    except ValueError:
        raise LedgerError("--ledger is not a valid PostgreSQL connection URL", ExitCode.USAGE) from None
    if has_password or "password=" in parts.query.lower():
        raise LedgerError("--ledger URL contains a password: give the URL without it and put the password "
                          "in PGPASSWORD or a .pgpass file (never on the command line)", ExitCode.USAGE)
    return Location(url=text)


class Cursor(Protocol):
    description: Any

    def fetchone(self) -> tuple | None: ...

    def fetchall(self) -> list[tuple]: ...

    def __iter__(self) -> Iterator[tuple]: ...


class Backend(Protocol):
    """What the ledger needs from a database. Statements use ``?`` placeholders."""

    kind: str  # "sqlite" or "postgresql"
    migrations: tuple[tuple[str, ...], ...]  # step i takes the schema from version i to i + 1

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    # many rows into one of our tables (a night's findings): the backend's fastest bulk load
    def insert_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None: ...

    def begin_write(self) -> None: ...  # take the ledger's one write lock (waits up to the timeout)

    def begin_read(self) -> None: ...  # one consistent snapshot, never blocked by a writer

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def schema_state(self) -> tuple[bool, int, int]: ...  # (marked as ours, version, tables present)

    def mark(self, version: int) -> None: ...  # inside the migration's transaction

    def temp_table(self, name: str, columns: str) -> str: ...  # create if missing, empty; its name

    def integrity_ok(self) -> bool: ...

    def translate(self, exc: BaseException, where: str, doing: str) -> LedgerError | None: ...

    def close(self) -> None: ...


# ---------------------------------------------------------------------------------------------------


def _busy(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(exc) or "busy" in str(exc)


class SQLiteBackend:
    """The embedded ledger: one file, WAL journal, BEGIN IMMEDIATE as the write lock."""

    kind = "sqlite"

    def __init__(self, path: Path, con: sqlite3.Connection):
        self.path = path
        self._con = con

    @classmethod
    def connect(cls, path: Path, *, create: bool, timeout: float) -> SQLiteBackend:
        if path.is_dir():
            raise LedgerError(f"--ledger {path} is a folder; give a file name", ExitCode.USAGE)
        if not path.exists():
            if not create:
                raise LedgerError(f"no ledger at {path}: run 'claims-audit run' first (it creates the "
                                  "ledger next to the reports) or pass --ledger FILE", ExitCode.USAGE)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with contextlib.suppress(FileExistsError):  # another process may create it at once
                    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            except OSError as exc:
                raise LedgerError(f"ledger {path} cannot be created: {exc.strerror or type(exc).__name__}"
                                  ) from None
        try:
            con = sqlite3.connect(str(path), timeout=timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise LedgerError(f"ledger {path} cannot be opened: {exc}") from None
        return cls(path, con)

    @property
    def migrations(self) -> tuple[tuple[str, ...], ...]:
        from . import ledger

        return ledger.MIGRATIONS

    @property
    def connection(self) -> sqlite3.Connection:
        return self._con

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._con.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._con.executemany(sql, rows)

    def insert_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """One prepared INSERT run over `rows` as they come (a generator is never held as a list)."""
        self._con.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                              f"({', '.join('?' * len(columns))})", rows)

    def prepare(self) -> None:
        """Per connection: foreign keys on, WAL journal (readers never wait for the writer)."""
        self._con.execute("PRAGMA foreign_keys = ON")
        mode = self._con.execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() != "wal":
            self._con.execute("PRAGMA journal_mode = WAL")

    def begin_write(self) -> None:
        self._con.execute("BEGIN IMMEDIATE")

    def begin_read(self) -> None:
        self._con.execute("BEGIN")

    def commit(self) -> None:
        self._con.execute("COMMIT")

    def rollback(self) -> None:
        """SQLite may already have rolled back itself (e.g. after SQLITE_FULL)."""
        if self._con.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._con.execute("ROLLBACK")

    def schema_state(self) -> tuple[bool, int, int]:
        app_id = self._con.execute("PRAGMA application_id").fetchone()[0]
        version = self._con.execute("PRAGMA user_version").fetchone()[0]
        tables = self._con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        return app_id == APPLICATION_ID, int(version), int(tables)

    def mark(self, version: int) -> None:
        self._con.execute(f"PRAGMA application_id = {APPLICATION_ID}")  # integers of ours, not data
        self._con.execute(f"PRAGMA user_version = {int(version)}")

    def temp_table(self, name: str, columns: str) -> str:
        self._con.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({columns})")
        self._con.execute(f"DELETE FROM temp.{name}")
        return f"temp.{name}"

    def integrity_ok(self) -> bool:
        return self._con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    def translate(self, exc: BaseException, where: str, doing: str) -> LedgerError | None:
        if not isinstance(exc, sqlite3.Error):
            return None
        if getattr(exc, "sqlite_errorname", "") == "SQLITE_NOTADB":
            return LedgerError(f"{where} is not a claims-audit ledger (not an SQLite database)", ExitCode.USAGE)
        if _busy(exc):
            return busy_error(where)
        hint = " (is its disk full?)" if "I/O error" in str(exc) else ""
        after = "; nothing was changed in it" if doing == "written" else ""
        return LedgerError(f"ledger {where} cannot be {doing}: {exc}{hint}{after}")

    def close(self) -> None:
        self._con.close()


def busy_error(where: str) -> LedgerError:
    from .ledger import TIMEOUT_ENV

    return LedgerError(
        f"ledger {where} is busy: another claims-audit run or import has held it for more than the busy "
        f"timeout ({TIMEOUT_ENV}); nothing was changed, try again", busy=True)


def retry_busy(action, timeout: float) -> None:
    """Run `action` again while it fails with a busy LedgerError, until `timeout` seconds have passed
    (SQLite answers BUSY at once, without waiting, when processes race to create the schema)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            action()
            return
        except LedgerError as exc:
            if exc.busy and time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            raise
