"""The write protocol: a run's report files and its ledger record change together or not at all.

One run is one *output transaction* with a random run id (32 hex digits), in the output folder:

1. **lock**: ``.claims-audit.<run id>.lock`` is created and held with an exclusive ``flock`` for the whole
   transaction, so another run can tell a live transaction from the leftovers of a killed one;
2. **stage**: every file is written in full to ``.<final name>.<run id>.tmp`` (mode 0600) and synced;
3. **journal**: ``.claims-audit.<run id>.journal`` lists the final names and their backups (synced);
4. **publish**: each existing final file is hard-linked to ``.<final name>.<run id>.bak``, then the staged
   file is renamed over the final name;
5. **commit point**: the caller's store commits: the ledger's one ``COMMIT`` (SQLite, or PostgreSQL for a
   team ledger), which also publishes the claims history's catalog and, on PostgreSQL, its lines. The
   journal names the ledger (an absolute file path, or the URL, which never holds a password). Without a
   ledger, the commit point is the journal's removal;
6. **finish**: the journal is removed, then the backups and the lock.

A failure before the commit point (disk full while staging, a failed rename, a failed ``COMMIT``) restores
every published file from its backup (or removes it when there was none) and removes the staged files.
A killed process is recovered by the next run into the same folder (:func:`recover`): for a journal whose
lock is free it asks whether the run id was committed (the ledger's ``reports`` table holds it); if so the
backups are removed, otherwise they are put back. Staged files, backups and locks of dead transactions are
removed; so are the temporary files older versions of claims-audit left (``.claims-audit-*.tmp``,
``*.splice``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .errors import OutputError
from .store import Location, locate

try:  # POSIX; where flock does not exist every transaction counts as live until removed by hand
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

RUN_ID = re.compile(r"[0-9a-f]{32}")
# a file of a transaction: its names carry ".<run id>." and start with a dot
_OURS = re.compile(r"^\..*claims-audit.*\.(?P<id>[0-9a-f]{32})\.(tmp|bak|journal|lock|scratch)\b")
# temporary files of claims-audit versions before this protocol (tempfile names, no run id)
_LEGACY = re.compile(r"^\.+claims-audit-.*\.(tmp|splice)$")

Committed = Callable[[dict], "bool | None"]  # journal -> was its run id committed? (None: unknown)
# fault injection for the tests that kill a real run at a step of the protocol: "staged" (the first file
# written under its temporary name), "published" (renamed, not committed), "committed" (not finished)
FAULT_ENV = "CLAIMS_AUDIT_KILL_AT"


def _fault(step: str) -> None:
    if os.environ.get(FAULT_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def new_run_id() -> str:
    return secrets.token_hex(16)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system can sync a folder
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


@dataclass
class _Staged:
    final: Path
    temp: Path
    backup: Path | None = None  # set when publishing replaced an existing file
    published: bool = False


@dataclass
class OutputTransaction:
    """Files written into `folder` as one unit (see the module docstring). Use as a context manager:
    leaving it with an exception before :meth:`finish` restores the previous files."""

    folder: Path
    run_id: str = field(default_factory=new_run_id)
    ledger: Path | str | Location | None = None  # the store whose commit decides a killed transaction's fate
    _staged: list[_Staged] = field(default_factory=list)
    _lock_fd: int | None = None
    _finished: bool = False

    def _name(self, kind: str) -> Path:
        return self.folder / f".claims-audit.{self.run_id}.{kind}"

    @property
    def journal(self) -> Path:
        return self._name("journal")

    def __enter__(self) -> OutputTransaction:
        if not RUN_ID.fullmatch(self.run_id):
            raise ValueError("run id must be 32 hexadecimal digits")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise OutputError(f"--out {self.folder} is a file, not a folder") from None
        except OSError as exc:
            raise OutputError(f"output folder {self.folder} cannot be created: {_reason(exc)}") from None
        self._lock()
        return self

    def _lock(self) -> None:
        path = self._name("lock")
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except OSError as exc:
            raise OutputError(f"report cannot be written to {self.folder}: {_reason(exc)}") from None
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)  # our own new file: nobody else holds it
        self._lock_fd = fd

    def __exit__(self, exc_type: object, *exc: object) -> None:
        try:
            if not self._finished:
                self.abort()
        finally:
            self._unlock()

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                self._name("lock").unlink()
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- the steps ----------------------------------------------------------------------------------

    def stage(self, final: Path, write: Callable[[Path], None]) -> None:
        """Write one file in full under its temporary name (0600), synced to disk."""
        temp = self.folder / f".{final.name}.{self.run_id}.tmp"
        self._staged.append(_Staged(final, temp))
        try:
            os.close(os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            write(temp)
            os.chmod(temp, 0o600)
            with open(temp, "rb+") as fh:
                os.fsync(fh.fileno())
        except OSError as exc:
            raise OutputError(f"report cannot be written to {self.folder}: {_reason(exc)}") from None
        _fault("staged")

    def publish(self) -> None:
        """Journal, backups, renames: after this the new files are in place, the old ones kept aside."""
        try:
            self._write_journal()
            for s in self._staged:
                if s.final.exists():
                    s.backup = self.folder / f".{s.final.name}.{self.run_id}.bak"
                    os.link(s.final, s.backup)
                os.replace(s.temp, s.final)
                s.published = True
            _fsync_dir(self.folder)
        except OSError as exc:
            raise OutputError(f"report cannot be written to {self.folder}: {_reason(exc)}") from None
        _fault("published")

    def _write_journal(self) -> None:
        doc = {"run_id": self.run_id, "ledger": locate(self.ledger).journal_name() if self.ledger else None,
               "files": [{"final": s.final.name, "backup": f".{s.final.name}.{self.run_id}.bak"
                          if s.final.exists() else None} for s in self._staged]}
        with open(os.open(self.journal, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600), "w",
                  encoding="utf-8") as fh:
            fh.write(json.dumps(doc))
            fh.flush()
            os.fsync(fh.fileno())
        _fsync_dir(self.folder)

    def finish(self) -> None:
        """After the commit point: drop the journal, then the backups."""
        _fault("committed")
        self._finished = True
        with contextlib.suppress(OSError):
            self.journal.unlink()
        _fsync_dir(self.folder)
        for s in self._staged:
            if s.backup is not None:
                with contextlib.suppress(OSError):
                    s.backup.unlink()

    def abort(self) -> None:
        """Before the commit point: put every previous file back, remove what this run wrote."""
        for s in reversed(self._staged):
            with contextlib.suppress(OSError):
                if s.published and s.backup is not None:
                    os.replace(s.backup, s.final)
                elif s.published:
                    s.final.unlink()
                elif s.backup is not None:
                    s.backup.unlink()
            with contextlib.suppress(OSError):
                s.temp.unlink()
        _remove_files_of(self.folder, self.run_id, keep_lock=True)
        with contextlib.suppress(OSError):
            self.journal.unlink()


# -- recovery ----------------------------------------------------------------------------------------


def _remove_files_of(folder: Path, run_id: str, keep_lock: bool = False) -> None:
    for entry in _entries(folder):
        m = _OURS.match(entry.name)
        if m and m.group("id") == run_id and not (keep_lock and entry.name.endswith(".lock")):
            if entry.is_dir() and not entry.is_symlink():  # a run's scratch folder
                shutil.rmtree(entry, ignore_errors=True)
                continue
            with contextlib.suppress(OSError):
                entry.unlink()


def _entries(folder: Path) -> list[Path]:
    try:
        return [e for e in folder.iterdir() if e.name.startswith(".")]
    except OSError:
        return []


@contextlib.contextmanager
def _claim(folder: Path, run_id: str) -> Iterator[bool]:
    """Hold a dead transaction's lock while cleaning up after it; False when its owner is still alive."""
    path = folder / f".claims-audit.{run_id}.lock"
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        yield True  # no lock at all: its owner finished or died after removing it
        return
    except OSError:
        yield False
        return
    try:
        if fcntl is None:
            yield False
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False  # a live transaction
            return
        yield True
        with contextlib.suppress(OSError):
            path.unlink()
    finally:
        os.close(fd)


def recover(folder: Path, committed: Committed) -> list[str]:
    """Finish or roll back every dead transaction in `folder`; returns their run ids."""
    recovered = []
    ids = {m.group("id") for e in _entries(folder) if (m := _OURS.match(e.name))}
    for run_id in sorted(ids):
        with _claim(folder, run_id) as dead:
            if not dead:
                continue
            if not _settle(folder, run_id, committed):
                continue  # cannot be decided now (the ledger is busy): left for a later run
            _remove_files_of(folder, run_id, keep_lock=True)
            recovered.append(run_id)
    for entry in _entries(folder):
        if _LEGACY.match(entry.name) and not _OURS.match(entry.name):
            with contextlib.suppress(OSError):
                entry.unlink()
    return recovered


def _settle(folder: Path, run_id: str, committed: Committed) -> bool:
    """A journal left behind: the run died between publishing and finishing. Roll it back unless its
    run id was committed; False when that cannot be known now."""
    journal = folder / f".claims-audit.{run_id}.journal"
    try:
        doc = json.loads(journal.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return True  # never published (or already finished): its staged files and backups just go
    except (OSError, ValueError):
        return True  # cut short while being written: nothing was renamed yet
    decision = committed(doc)
    if decision is None:
        return False
    if decision:
        return True
    for item in doc.get("files", []):
        final = folder / Path(str(item.get("final", ""))).name
        if not final.name.startswith("claims-audit-"):
            continue  # a journal names only our own outputs
        backup = item.get("backup")
        with contextlib.suppress(OSError):
            if backup and (folder / Path(backup).name).exists():
                os.replace(folder / Path(backup).name, final)
            elif not backup:
                final.unlink()
    return True


# -- the scratch folder of a run ---------------------------------------------------------------------


@contextlib.contextmanager
def scratch_folder(folder: Path | None) -> Iterator[Path]:
    """A private folder for a run's temporary files (lines kept past the memory budget, UTF-8 copies of
    inputs in other encodings) inside `folder`, the output folder: ``.claims-audit.<id>.scratch`` (0700)
    beside a held lock ``.claims-audit.<id>.lock``, named like a transaction's files so that
    :func:`recover` removes what a killed run left. Removed when the run ends, whatever the outcome.
    ``folder=None``: a folder in the system's temporary folder."""
    if folder is None:
        with tempfile.TemporaryDirectory(prefix="claims-audit-") as tmp:
            yield Path(tmp)
        return
    run_id = new_run_id()
    lock = folder / f".claims-audit.{run_id}.lock"
    path = folder / f".claims-audit.{run_id}.scratch"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        raise OutputError(f"--out {folder} is a file, not a folder") from None
    except OSError as exc:
        raise OutputError(f"temporary files cannot be written to {folder}: {_reason(exc)}") from None
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            path.mkdir(mode=0o700)
        except OSError as exc:
            raise OutputError(f"temporary files cannot be written to {folder}: {_reason(exc)}") from None
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        with contextlib.suppress(OSError):
            lock.unlink()
        os.close(fd)


class LazyScratch:
    """A run's scratch folder (:func:`scratch_folder`) in `folder`, made when first asked for, so that a
    run that stops before it needs one (no input found) creates nothing; removed by :meth:`close`."""

    def __init__(self, folder: Path):
        self._folder = folder
        self._stack = contextlib.ExitStack()
        self._path: Path | None = None

    def __call__(self) -> Path:
        if self._path is None:
            self._path = self._stack.enter_context(scratch_folder(self._folder))
        return self._path

    def close(self) -> None:
        self._stack.close()
        self._path = None
