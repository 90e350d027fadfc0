"""The review ledger: a database that remembers runs, findings and reviewers' decisions: an embedded
SQLite file (the default) or, for a review team on several machines, a PostgreSQL database
(``--ledger postgresql://...``; :mod:`claims_audit.store`, :mod:`claims_audit.postgres`).

Default location: ``claims-audit-ledger.sqlite`` in the report folder (``reports/`` unless ``run --out``);
every command takes ``--ledger FILE`` to point elsewhere. The file is created on first use by ``run``
(mode 0600: reviewer notes may mention patients) and never by the ``review`` commands.

Tables (schema version in ``PRAGMA user_version``; ``schema_migrations`` lists when each step ran):

- ``runs``: one row per run date (re-running a date replaces it): versions, the review outcomes in force,
  counts (findings, new, recurring, decided, closed, resolved) and the previous run it was compared with.
- ``run_findings``: each run's findings: finding_id, rule_id, severity, line_fingerprint, the status the
  run gave it (new / recurring / decided), the disposition it carried and whether that closed it.
- ``imports``: one row per accepted ``review import``: workbook path and sha256, who and when, counts.
- ``decisions``: one row per recorded decision: finding_id, the line_fingerprint the reviewer saw,
  disposition, reviewer note, the report (run date) it was made on, the import it came with, time.

No claim values are stored: findings are known by their hashed id and fingerprint only (reviewer notes
are free text and stay in this file and the reports).

Each decision records who made it (``decided_by``: the OS user or ``review import --reviewer``) and
when (``decided_at``); schema 4 added ``decided_by`` (earlier decisions take their import's user).

Concurrency (SQLite; PostgreSQL takes an advisory lock instead of BEGIN IMMEDIATE, same guarantees): WAL journal, a busy timeout (default 60 s, ``CLAIMS_AUDIT_LEDGER_TIMEOUT``), and every run
and every import is one ``BEGIN IMMEDIATE`` transaction: a second process waits for the first, or fails
with a clear :class:`LedgerError` when it waited too long; it never sees half of a run or an import.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from . import __version__
from .errors import ConfigError, ExitCode, LedgerError
from .ruleconfig import ReviewOutcomes
from .store import APPLICATION_ID, Backend, Location, locate, retry_busy  # noqa: F401 (APPLICATION_ID: re-exported)

DEFAULT_NAME = "claims-audit-ledger.sqlite"
DEFAULT_TIMEOUT = 60.0
TIMEOUT_ENV = "CLAIMS_AUDIT_LEDGER_TIMEOUT"
HISTORY_RUNS = 30  # nights shown in the Summary's findings-per-night chart



def default_path(out_dir: Path) -> Path:
    """The ledger that `run --out OUT_DIR` uses when no --ledger is given."""
    return Path(out_dir) / DEFAULT_NAME


# ---------------------------------------------------------------------------------------------------
# schema and migrations: MIGRATIONS[i] takes a ledger from version i to i + 1. Never edit a released
# step; append a new one.

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE schema_migrations (
               version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL, tool_version TEXT NOT NULL)""",
        """CREATE TABLE runs (
               run_date TEXT PRIMARY KEY, recorded_at TEXT NOT NULL, tool_version TEXT NOT NULL,
               rules_version TEXT NOT NULL, outcomes TEXT NOT NULL, previous_run_date TEXT,
               findings INTEGER NOT NULL, new INTEGER NOT NULL, recurring INTEGER NOT NULL,
               decided INTEGER NOT NULL, closed INTEGER NOT NULL, resolved INTEGER NOT NULL,
               report_path TEXT)""",
        """CREATE TABLE run_findings (
               run_date TEXT NOT NULL REFERENCES runs(run_date) ON DELETE CASCADE,
               finding_id TEXT NOT NULL, rule_id TEXT NOT NULL, severity TEXT,
               line_fingerprint TEXT NOT NULL,
               status TEXT NOT NULL CHECK (status IN ('new', 'recurring', 'decided')),
               disposition TEXT, closed INTEGER NOT NULL DEFAULT 0,
               PRIMARY KEY (run_date, finding_id))""",
        "CREATE INDEX run_findings_seen ON run_findings (finding_id, line_fingerprint, run_date)",
        """CREATE TABLE imports (
               import_id INTEGER PRIMARY KEY AUTOINCREMENT, imported_at TEXT NOT NULL, imported_by TEXT,
               workbook_path TEXT NOT NULL, workbook_sha256 TEXT NOT NULL, workbook_modified_by TEXT,
               report_run_date TEXT NOT NULL, rows_read INTEGER NOT NULL, decisions INTEGER NOT NULL,
               unchanged INTEGER NOT NULL)""",
        """CREATE TABLE decisions (
               decision_id INTEGER PRIMARY KEY AUTOINCREMENT,
               import_id INTEGER NOT NULL REFERENCES imports(import_id),
               finding_id TEXT NOT NULL, rule_id TEXT NOT NULL, line_fingerprint TEXT NOT NULL,
               disposition TEXT NOT NULL, closes INTEGER NOT NULL, reviewer_note TEXT,
               report_run_date TEXT NOT NULL, decided_at TEXT NOT NULL)""",
        "CREATE INDEX decisions_finding ON decisions (finding_id, line_fingerprint, decision_id)",
    ),
    (  # 2: every report carries its run id and seal; review import accepts only reports listed here
        """CREATE TABLE ledger_key (
               id INTEGER PRIMARY KEY CHECK (id = 1), key TEXT NOT NULL)""",
        "INSERT INTO ledger_key VALUES (1, lower(hex(randomblob(32))))",
        """CREATE TABLE reports (
               run_id TEXT PRIMARY KEY, run_date TEXT NOT NULL, seal TEXT NOT NULL,
               findings_digest TEXT NOT NULL, recorded_at TEXT NOT NULL, report_path TEXT)""",
        "ALTER TABLE runs ADD COLUMN run_id TEXT",
        "ALTER TABLE imports ADD COLUMN report_run_id TEXT",
    ),
    (  # 3: the catalog of the claims history (claims_audit.history): its files change with the ledger
        """CREATE TABLE history_key (
               id INTEGER PRIMARY KEY CHECK (id = 1), key TEXT NOT NULL)""",
        "INSERT INTO history_key VALUES (1, lower(hex(randomblob(32))))",
        """CREATE TABLE history_batches (
               batch_id INTEGER PRIMARY KEY AUTOINCREMENT, folder TEXT NOT NULL, file TEXT NOT NULL,
               kind TEXT NOT NULL CHECK (kind IN ('run', 'import')), run_id TEXT, run_date TEXT NOT NULL,
               recorded_at TEXT NOT NULL, lines INTEGER NOT NULL, min_date TEXT, max_date TEXT)""",
        "CREATE INDEX history_batches_folder ON history_batches (folder, run_date)",
        """CREATE TABLE history_sources (
               batch_id INTEGER NOT NULL REFERENCES history_batches(batch_id) ON DELETE CASCADE,
               source_file TEXT NOT NULL, source_sha256 TEXT NOT NULL, lines INTEGER NOT NULL)""",
        "CREATE INDEX history_sources_sha ON history_sources (source_sha256)",
        """CREATE TABLE history_superseded (
               batch_id INTEGER NOT NULL REFERENCES history_batches(batch_id) ON DELETE CASCADE,
               claim_id TEXT NOT NULL, frequency TEXT NOT NULL)""",
        "CREATE INDEX history_superseded_claim ON history_superseded (claim_id)",
    ),
    (  # 4: who made each decision (OS user or --reviewer); earlier ones inherit their import's user
        "ALTER TABLE decisions ADD COLUMN decided_by TEXT",
        "UPDATE decisions SET decided_by = (SELECT imported_by FROM imports i WHERE i.import_id = decisions.import_id)",
        "CREATE INDEX decisions_by ON decisions (decided_by)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _timeout() -> float:
    raw = os.environ.get(TIMEOUT_ENV)
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{TIMEOUT_ENV} must be a number of seconds, got '{raw}'") from None
    if value < 0:
        raise ConfigError(f"{TIMEOUT_ENV} must not be negative")
    return value


# ---------------------------------------------------------------------------------------------------
# results handed to the report


@dataclass
class RunView:
    """What a run learnt from the ledger: its findings with status, the closed ones, the comparison."""

    path: Path | str  # the SQLite file, or the PostgreSQL URL (never with a password)
    run_date: dt.date
    previous_run_date: str | None
    findings: pl.DataFrame  # all findings + status, previous_disposition, previous_note
    closed_ids: list[str]
    by_rule: pl.DataFrame  # rule_id, new, recurring, decided, closed, resolved
    history: pl.DataFrame  # run_date, findings, new, recurring, decided, closed, resolved
    counts: dict[str, int] = field(default_factory=dict)
    run_id: str = ""  # the run's id, written into its report (Summary) and kept in `reports`
    seal: str = ""  # HMAC of run id, run date and findings under the ledger's key (Summary)
    outcomes: ReviewOutcomes | None = None  # the review outcomes in force (the Findings drop-down)

    @property
    def closed(self) -> pl.DataFrame:
        return self.findings.filter(pl.col("finding_id").is_in(self.closed_ids))

    def manifest(self) -> dict[str, Any]:
        return {"path": str(self.path), "schema_version": SCHEMA_VERSION, "run_id": self.run_id,
                "previous_run_date": self.previous_run_date, **self.counts,
                "by_rule": {r["rule_id"]: {k: r[k] for k in ("new", "recurring", "decided", "closed",
                                                               "resolved")}
                            for r in self.by_rule.iter_rows(named=True)}}


COMPARISON_SCHEMA = {"rule_id": pl.String, "new": pl.Int64, "recurring": pl.Int64, "decided": pl.Int64,
                     "closed": pl.Int64, "resolved": pl.Int64}
HISTORY_SCHEMA = {"run_date": pl.String, "findings": pl.Int64, "new": pl.Int64, "recurring": pl.Int64,
                  "decided": pl.Int64, "closed": pl.Int64, "resolved": pl.Int64}


@dataclass(frozen=True)
class NewDecision:
    finding_id: str
    rule_id: str
    line_fingerprint: str
    disposition: str
    closes: bool
    reviewer_note: str | None


# ---------------------------------------------------------------------------------------------------


class Ledger:
    """An open ledger (an SQLite file or a PostgreSQL database, :mod:`claims_audit.store`). Use as a
    context manager; write through :meth:`transaction`."""

    def __init__(self, location: Location, db: Backend):
        self.location = location
        self.path: Path | str = location.path if location.path is not None else str(location)
        self._db = db
        self._in_tx = False

    # -- opening ------------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path | Location, *, create: bool = False, timeout: float | None = None
             ) -> Ledger:
        """Open (and with `create`, create and migrate) the ledger at `path`: a file or a
        ``postgresql://`` URL (whose database must exist; its schema is created like a file's)."""
        location = locate(path)
        timeout = _timeout() if timeout is None else timeout
        ledger = cls(location, location.backend(create=create, timeout=timeout))
        try:
            retry_busy(lambda: ledger._setup(create), timeout)
            return ledger
        except BaseException:
            ledger.close()
            raise

    @property
    def is_server(self) -> bool:
        return self.location.is_server

    def _setup(self, create: bool) -> None:
        with self._errors("opened"):
            self._db.prepare()
            self._db.begin_read()  # one snapshot: another process may be creating the schema now
            try:
                ours, version, tables = self._db.schema_state()
            finally:
                self._db.rollback()
            if not ours and (version or tables):
                raise LedgerError(f"{self.path} is not a claims-audit ledger", ExitCode.USAGE)
            if version > SCHEMA_VERSION:
                raise LedgerError(f"ledger {self.path} has schema version {version}, newer than this "
                                  f"claims-audit ({__version__}, schema {SCHEMA_VERSION}) understands; "
                                  "upgrade claims-audit", ExitCode.USAGE)
            if not ours and not create:
                if self.is_server:
                    raise LedgerError(f"no ledger in {self.path}: run 'claims-audit run --ledger URL' first "
                                      "(it creates the ledger's tables)", ExitCode.USAGE)
                raise LedgerError(f"{self.path} is not a claims-audit ledger", ExitCode.USAGE)
            if version < SCHEMA_VERSION:
                self.migrate()

    def migrate(self) -> None:
        """Bring the schema to :data:`SCHEMA_VERSION`, one recorded step at a time, in one transaction."""
        with self.transaction() as db:
            ours, version, tables = db.schema_state()  # re-read under the write lock
            if not ours and tables and self.is_server:
                raise LedgerError(f"{self.path} is not a claims-audit ledger (its schema holds other "
                                  "tables; give the ledger a database or schema of its own)", ExitCode.USAGE)
            if version > SCHEMA_VERSION:
                raise LedgerError(f"ledger {self.path} has schema version {version}; upgrade claims-audit",
                                  ExitCode.USAGE)
            steps = self._db.migrations
            for step in range(version, SCHEMA_VERSION):
                for statement in steps[step]:
                    db.execute(statement)
                db.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", (step + 1, _now(), __version__))
            db.mark(SCHEMA_VERSION)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        with self._errors("read"):
            return self._db.schema_state()[1]

    # -- transactions -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except LedgerError:
            raise
        except Exception as exc:
            mapped = self._db.translate(exc, str(self.path), doing)
            if mapped is None:
                raise
            raise mapped from None

    @property
    def connection(self) -> Backend:
        """The backend, for writes by a store that shares this ledger's transaction (the claims
        history); use it inside :meth:`transaction` only."""
        return self._db

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Backend]:
        """One write transaction holding the ledger's write lock (SQLite: BEGIN IMMEDIATE; PostgreSQL:
        an advisory lock), waiting up to the busy timeout. Commits at the end unless :meth:`commit` was
        called inside; rolls back on any exception, the caller's included."""
        if self._in_tx:
            yield self._db
            return
        try:
            with self._errors("written"):
                self._db.begin_write()
        except BaseException:
            self._db.rollback()
            raise
        self._in_tx = True
        try:
            with self._errors("written"):
                yield self._db
        except BaseException:
            if self._in_tx:
                self._db.rollback()
            raise
        else:
            if self._in_tx:
                self.commit()
        finally:
            self._in_tx = False

    def commit(self) -> None:
        """Commit the open transaction now: the commit point of a run's write protocol. On failure (disk
        full, I/O error, the server gone) the transaction is rolled back and LedgerError names the
        ledger."""
        try:
            with self._errors("written"):
                self._db.commit()
        except BaseException:
            self._db.rollback()
            raise
        finally:
            self._in_tx = False

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Backend]:
        """A consistent read (SQLite WAL readers and PostgreSQL snapshots never wait for a writer)."""
        with self._errors("read"):
            self._db.begin_read()
            try:
                yield self._db
            finally:
                self._db.rollback()

    # -- runs -----------------------------------------------------------------------------------------

    def record_run(self, findings: pl.DataFrame, *, run_date: dt.date, tool_version: str,
                   rules_version: str, outcomes: ReviewOutcomes, report_path: str | None = None,
                   run_id: str | None = None) -> RunView:
        """Give each finding its status from earlier runs and decisions, and record this run (replacing an
        earlier record of the same run date) with its report's id and seal. Call inside
        :meth:`transaction` to tie it to the report (see :mod:`claims_audit.commit`).

        Built for a night of a million findings: tonight's findings go into ``run_findings`` once, as
        new; the ledger itself finds those it has seen or decided (only those rows come back, in
        batches) and they are updated; the view's findings are `findings` with the status columns beside
        them (no second copy of the findings frame)."""
        d = run_date.isoformat()
        run_id = run_id or secrets.token_hex(16)
        with self.transaction() as con, self._errors("written"):
            con.execute("DELETE FROM run_findings WHERE run_date = ?", (d,))
            con.execute("DELETE FROM runs WHERE run_date = ?", (d,))
            prev = con.execute("SELECT max(run_date) FROM runs WHERE run_date < ?", (d,)).fetchone()[0]
            con.execute(  # its counts once known (run_findings rows need their run first)
                """INSERT INTO runs (run_date, recorded_at, tool_version, rules_version, outcomes,
                   previous_run_date, findings, new, recurring, decided, closed, resolved, report_path,
                   run_id) VALUES (?, ?, ?, ?, ?, ?, 0, 0, 0, 0, 0, 0, ?, ?)""",
                (d, _now(), tool_version, rules_version, outcomes.to_json(), prev, report_path, run_id))
            # in finding_id order: the indexes grow in order (three times faster than in report order)
            con.insert_rows("run_findings", RUN_FINDINGS_COLUMNS, (
                (d, f, r, s, fp, "new", None, 0) for f, r, s, fp in findings.select(
                    "finding_id", "rule_id", "severity", "line_fingerprint").sort("finding_id").iter_rows()))
            statuses = _statuses(findings, _known(con, d, first=prev is None), outcomes)
            _update_known(con, d, findings.select("finding_id").hstack(statuses))
            resolved_rows = con.execute(
                """SELECT rule_id, count(*) FROM run_findings p WHERE run_date = ? AND NOT EXISTS (
                   SELECT 1 FROM run_findings c WHERE c.run_date = ? AND c.finding_id = p.finding_id)
                   GROUP BY rule_id""", (prev, d)).fetchall() if prev else []
            by_rule = _comparison(findings.select("rule_id").hstack(statuses), resolved_rows)
            counts = {k: int(by_rule.get_column(k).sum()) for k in ("new", "recurring", "decided", "closed",
                                                                     "resolved")}
            counts = {"findings": findings.height, "open": findings.height - counts["closed"], **counts}
            con.execute("UPDATE runs SET findings = ?, new = ?, recurring = ?, decided = ?, closed = ?, "
                        "resolved = ? WHERE run_date = ?",
                        (*(counts[k] for k in ("findings", "new", "recurring", "decided", "closed", "resolved")),
                         d))
            digest = _findings_digest(findings)
            seal = _seal(self._key(), run_id, d, digest)
            con.execute("INSERT INTO reports VALUES (?, ?, ?, ?, ?, ?)",
                        (run_id, d, seal, digest, _now(), report_path))
            history = pl.DataFrame(con.execute(
                """SELECT run_date, findings, new, recurring, decided, closed, resolved FROM runs
                   WHERE run_date <= ? ORDER BY run_date DESC LIMIT ?""", (d, HISTORY_RUNS)).fetchall(),
                schema=HISTORY_SCHEMA, orient="row").reverse()
        closed_ids = findings.filter(statuses.get_column("_closed")).get_column("finding_id").to_list()
        extra = [c for c in ("status", "previous_disposition", "previous_note") if c in findings.columns]
        view = findings.drop(extra).hstack(statuses.drop("_closed"))
        return RunView(path=self.path, run_date=run_date, previous_run_date=prev, findings=view,
                       closed_ids=closed_ids, by_rule=by_rule, history=history, counts=counts,
                       run_id=run_id, seal=seal, outcomes=outcomes)

    def _key(self) -> bytes:
        return bytes.fromhex(self._db.execute("SELECT key FROM ledger_key").fetchone()[0])

    def report(self, run_id: str) -> dict[str, Any] | None:
        """The record of a report this ledger wrote (run_id, run_date, seal, ...), or None."""
        with self._errors("read"):
            cur = self._db.execute("SELECT * FROM reports WHERE run_id = ?", (run_id,))
            row = cur.fetchone()
            return dict(zip([c[0] for c in cur.description], row)) if row else None

    def report_seal_matches(self, run_id: str, seal: str) -> bool:
        record = self.report(run_id)
        return record is not None and hmac.compare_digest(record["seal"], seal)

    # -- reading --------------------------------------------------------------------------------------

    def run_record(self, run_date: str) -> dict[str, Any] | None:
        with self._errors("read"):
            cur = self._db.execute("SELECT * FROM runs WHERE run_date = ?", (run_date,))
            row = cur.fetchone()
            return dict(zip([c[0] for c in cur.description], row)) if row else None

    def run_findings(self, run_date: str) -> dict[str, tuple[str, str]]:
        """finding_id -> (rule_id, line_fingerprint) of one run."""
        with self._errors("read"):
            return {f: (r, fp) for f, r, fp in self._db.execute(
                "SELECT finding_id, rule_id, line_fingerprint FROM run_findings WHERE run_date = ?",
                (run_date,))}

    def latest_decisions(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, str | None]]:
        """(finding_id, fingerprint) -> (disposition, note) of the latest decision on that version."""
        if not keys:
            return {}
        with self._errors("read"):  # one query for the whole workbook (a round trip each is slow on a server)
            wanted = self._db.temp_table("wanted", "finding_id TEXT, line_fingerprint TEXT")
            self._db.executemany(f"INSERT INTO {wanted} VALUES (?, ?)", list(keys))
            rows = self._db.execute(
                f"""SELECT w.finding_id, w.line_fingerprint, d.disposition, d.reviewer_note FROM {wanted} w
                    JOIN decisions d ON d.decision_id = (
                        SELECT max(x.decision_id) FROM decisions x
                        WHERE x.finding_id = w.finding_id AND x.line_fingerprint = w.line_fingerprint)"""
            ).fetchall()
            self._db.execute(f"DELETE FROM {wanted}")
        return {(f, fp): (disp, note) for f, fp, disp, note in rows}

    def record_import(self, *, workbook_path: str, workbook_sha256: str, modified_by: str | None,
                      report_run_date: str, rows_read: int, decisions: Sequence[NewDecision],
                      unchanged: int, imported_by: str | None, report_run_id: str | None = None) -> int:
        """Record one accepted import and its decisions, each with who made it (`imported_by`: the OS
        user or ``--reviewer``) and when; call inside :meth:`transaction`."""
        now = _now()
        with self.transaction() as con, self._errors("written"):
            import_id = int(con.execute(
                """INSERT INTO imports (imported_at, imported_by, workbook_path, workbook_sha256,
                   workbook_modified_by, report_run_date, rows_read, decisions, unchanged, report_run_id)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING import_id""",
                (now, imported_by, workbook_path, workbook_sha256, modified_by, report_run_date, rows_read,
                 len(decisions), unchanged, report_run_id)).fetchone()[0])
            con.executemany(
                """INSERT INTO decisions (import_id, finding_id, rule_id, line_fingerprint, disposition,
                   closes, reviewer_note, report_run_date, decided_at, decided_by)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [(import_id, x.finding_id, x.rule_id, x.line_fingerprint, x.disposition, int(x.closes),
                  x.reviewer_note, report_run_date, now, imported_by) for x in decisions])
        return import_id

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[tuple]:
        """Read-only helper for status reports and tests."""
        with self._errors("read"):
            return self._db.execute(sql, params).fetchall()

    def integrity_ok(self) -> bool:
        with self._errors("read"):
            return self._db.integrity_ok()

    # -- status ---------------------------------------------------------------------------------------

    def status(self) -> Status:
        """Open findings of the latest run, with every decision imported since applied."""
        with self.snapshot() as con:
            last = con.execute("SELECT run_date, outcomes, previous_run_date FROM runs "
                               "ORDER BY run_date DESC LIMIT 1").fetchone()
            runs = con.execute("SELECT count(*) FROM runs").fetchone()[0]
            imp = con.execute("SELECT imported_at, workbook_path, report_run_date, decisions FROM imports "
                              "ORDER BY import_id DESC LIMIT 1").fetchone()
            if not last:
                return Status(self.path, self.schema_version, None, None, 0, imp, pl.DataFrame(
                    schema=STATUS_SCHEMA))
            rows = con.execute(
                """SELECT f.rule_id, f.status, d.disposition, d.decided_by, d.decided_at FROM run_findings f
                   LEFT JOIN decisions d ON d.decision_id = (
                       SELECT max(x.decision_id) FROM decisions x
                       WHERE x.finding_id = f.finding_id AND x.line_fingerprint = f.line_fingerprint)
                   WHERE f.run_date = ?""", (last[0],)).fetchall()
        outcomes = ReviewOutcomes.from_json(last[1])
        frame = pl.DataFrame(rows, schema={k: v for k, v in STATUS_SCHEMA.items() if k != "closed"},
                             orient="row")
        frame = frame.with_columns(_closing(frame.get_column("disposition"), outcomes).alias("closed"))
        return Status(self.path, self.schema_version, last[0], last[2], runs, imp, frame)


STATUS_SCHEMA = {"rule_id": pl.String, "run_status": pl.String, "disposition": pl.String,
                 "decided_by": pl.String, "decided_at": pl.String, "closed": pl.Boolean}
UNKNOWN_REVIEWER = "(unknown)"


@dataclass
class Status:
    path: Path | str
    schema_version: int
    last_run: str | None
    previous_run: str | None
    runs: int
    last_import: tuple | None
    findings: pl.DataFrame  # one row per finding of the last run: rule_id, run_status, disposition, closed

    def per_rule(self) -> pl.DataFrame:
        f = self.findings
        return (f.group_by("rule_id")
                .agg(open=(~pl.col("closed")).sum(),
                     undecided=(pl.col("disposition").is_null()).sum(),
                     decided_open=(pl.col("disposition").is_not_null() & ~pl.col("closed")).sum(),
                     closed=pl.col("closed").sum())
                .with_columns(pl.exclude("rule_id").cast(pl.Int64))
                .sort("rule_id"))

    def per_reviewer(self) -> pl.DataFrame:
        """Per reviewer, the last run's findings whose decision in force is theirs: decided, closed,
        still open, and when they last decided one."""
        f = self.findings.filter(pl.col("disposition").is_not_null())
        return (f.with_columns(pl.col("decided_by").fill_null(UNKNOWN_REVIEWER))
                .group_by("decided_by")
                .agg(decided=pl.len(), closed=pl.col("closed").sum(), open=(~pl.col("closed")).sum(),
                     last_decided_at=pl.col("decided_at").max())
                .with_columns(pl.col("decided", "closed", "open").cast(pl.Int64))
                .rename({"decided_by": "reviewer"})
                .sort("reviewer"))

    def per_decision(self) -> pl.DataFrame:
        f = self.findings.with_columns(pl.col("disposition").fill_null("(no decision yet)"))
        return (f.group_by("disposition", "closed").len("findings").sort(["closed", "disposition"])
                .with_columns(pl.col("findings").cast(pl.Int64)))


RUN_FINDINGS_COLUMNS = ("run_date", "finding_id", "rule_id", "severity", "line_fingerprint", "status",
                        "disposition", "closed")
KNOWN_SCHEMA = {"finding_id": pl.String, "_seen": pl.Int64, "previous_disposition": pl.String,
                "previous_note": pl.String}
FETCH_ROWS = 100_000  # rows of a query's result turned into a frame at a time


def _known(con: Backend, run_date: str, first: bool) -> pl.DataFrame:
    """Tonight's findings (already in run_findings) that an earlier run had or a decision names: whether
    an earlier run had the same version, and the latest decision on it made on a report up to tonight's.
    `first`: no earlier run; then, with no decision either, nothing can come back (not asked)."""
    frames = [pl.DataFrame(schema=KNOWN_SCHEMA)]
    if first and not con.execute("SELECT EXISTS (SELECT 1 FROM decisions WHERE report_run_date <= ?)",
                                 (run_date,)).fetchone()[0]:
        return frames[0]
    cursor = con.execute(
        """SELECT k.finding_id, k.seen, d.disposition, d.reviewer_note FROM (
               SELECT c.finding_id,
                      CAST(EXISTS (SELECT 1 FROM run_findings p WHERE p.finding_id = c.finding_id
                               AND p.line_fingerprint = c.line_fingerprint AND p.run_date < ?) AS INTEGER) AS seen,
                      (SELECT max(x.decision_id) FROM decisions x
                       WHERE x.finding_id = c.finding_id AND x.line_fingerprint = c.line_fingerprint
                         AND x.report_run_date <= ?) AS decision
               FROM run_findings c WHERE c.run_date = ?) k
           LEFT JOIN decisions d ON d.decision_id = k.decision
           WHERE k.seen = 1 OR k.decision IS NOT NULL""", (run_date, run_date, run_date))
    while rows := cursor.fetchmany(FETCH_ROWS):
        frames.append(pl.DataFrame(rows, schema=KNOWN_SCHEMA, orient="row"))
    return pl.concat(frames)


def _statuses(findings: pl.DataFrame, known: pl.DataFrame, outcomes: ReviewOutcomes) -> pl.DataFrame:
    """previous_disposition, previous_note, status and _closed of each finding, in the findings' order
    (to go beside them)."""
    status = (pl.when(pl.col("previous_disposition").is_not_null()).then(pl.lit("decided"))
              .when(pl.col("_seen") == 1).then(pl.lit("recurring")).otherwise(pl.lit("new")))
    frame = (findings.select("finding_id").join(known, on="finding_id", how="left", maintain_order="left")
             .with_columns(status.alias("status")))
    return frame.select("previous_disposition", "previous_note", "status",  # the view's order
                        _closing(frame.get_column("previous_disposition"), outcomes).alias("_closed"))


def _update_known(con: Backend, run_date: str, statuses: pl.DataFrame) -> None:
    """Tonight's run_findings rows that are not new (`statuses` with finding_id): status, disposition,
    closed."""
    con.executemany(
        "UPDATE run_findings SET status = ?, disposition = ?, closed = ? WHERE run_date = ? AND finding_id = ?",
        ((st, disp, int(closed), run_date, f) for f, st, disp, closed in statuses.filter(pl.col("status") != "new")
         .select("finding_id", "status", "previous_disposition", "_closed").sort("finding_id").iter_rows()))


def _findings_digest(findings: pl.DataFrame) -> str:
    """SHA-256 of the run's (finding_id, line_fingerprint) pairs in sorted order, one per line (hashed a
    slice at a time)."""
    pairs = findings.select(pl.concat_str("finding_id", pl.lit("\t"), "line_fingerprint").sort()).to_series()
    digest = hashlib.sha256()
    for start in range(0, pairs.len(), FETCH_ROWS):
        text = "\n".join(pairs.slice(start, FETCH_ROWS).to_list())
        digest.update((b"\n" if start else b"") + text.encode("utf-8"))
    return digest.hexdigest()


def _seal(key: bytes, run_id: str, run_date: str, digest: str) -> str:
    return hmac.new(key, f"{run_id}|{run_date}|{digest}".encode("ascii"), hashlib.sha256).hexdigest()


def _closing(dispositions: pl.Series, outcomes: ReviewOutcomes) -> pl.Series:
    """True where the disposition closes the finding under `outcomes`; False for none."""
    closing = [v for v in dispositions.drop_nulls().unique().to_list() if outcomes.closes(v)]
    return dispositions.is_in(closing).fill_null(False)


def _comparison(out: pl.DataFrame, resolved_rows: list[tuple]) -> pl.DataFrame:
    counts = out.group_by("rule_id").agg(
        new=(pl.col("status") == "new").sum(), recurring=(pl.col("status") == "recurring").sum(),
        decided=(pl.col("status") == "decided").sum(), closed=pl.col("_closed").sum())
    resolved = pl.DataFrame(resolved_rows, schema={"rule_id": pl.String, "resolved": pl.Int64}, orient="row")
    frame = counts.join(resolved, on="rule_id", how="full", coalesce=True)
    return (frame.with_columns(pl.exclude("rule_id").cast(pl.Int64).fill_null(0))
            .select(list(COMPARISON_SCHEMA)).sort("rule_id"))
