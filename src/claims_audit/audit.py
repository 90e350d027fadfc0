"""The whole nightly job as one library call: run the audit, consult and update the review ledger, then
write the report and manifest.

With the ledger (the default; ``no_ledger=True`` for one-off audits) each finding gets a status (new,
recurring, decided), findings closed by a decision move to the Closed sheet, and the Summary compares the
run with the previous one. The run's ledger record and its report are one output transaction
(:mod:`claims_audit.commit`): the report files are renamed into place inside the ledger's write
transaction and the ledger's COMMIT is the commit point, so a failure anywhere leaves the previous report
and the ledger as they were, and a killed run is rolled back (or finished) by the next run into the same
folder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import importlib
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import pipeline
from .commit import LazyScratch, new_run_id, recover
from .errors import LedgerError, UsageError
from .ruleconfig import DEFAULT, RuleConfig

if TYPE_CHECKING:
    from .report import ReportPaths


@dataclass(frozen=True)
class AuditRun:
    """A finished run: its result, the report files written, and what the ledger made of it. The result's
    rejected cells are closed once the report holds them (their files removed): `result.rejected` raises
    then; the counts and findings stay."""

    result: pipeline.AuditResult
    paths: ReportPaths
    ledger: Any = None  # ledger.RunView when the ledger was used


def audit(paths: list[Path], *, out: Path, run_date: dt.date, mapping: Path | None = None,
          schema: Path | None = None, rule_config: RuleConfig = DEFAULT, mask: bool = False,
          progress: pipeline.Progress | None = None, ledger: str | Path | None = None,
          no_ledger: bool = False, records: Path | None = None, history: str | Path | None = None,
          no_history: bool = False, memory_limit: int | None = None, engine: str = "local",
          master: str | None = None) -> AuditRun:
    """Run the audit and write its report.

    `ledger`: the review ledger file (default: claims-audit-ledger.sqlite in `out`); `no_ledger`: audit
    without one (no statuses, no Closed sheet, nothing recorded; implies `no_history`). `history`: the
    claims-history folder (default: claims-audit-history beside the ledger); `no_history`: audit tonight's
    lines on their own and record nothing in history. `engine`: "local" (this machine) or "spark" (on
    the Spark `master`, :mod:`claims_audit.spark_engine`; no claims history, no records).
    """
    from .history import History, place
    from .ledger import Ledger, default_path
    from .store import locate

    _import_in_background("openpyxl")
    _check_out(out)
    run_engine = _engine(engine, master, history=history, records=records)
    no_history = no_history or engine == "spark"
    if ledger is not None and no_ledger:
        raise UsageError("--ledger and --no-ledger cannot be used together")
    if history is not None and (no_history or no_ledger):
        raise UsageError("--history cannot be used with --no-history or --no-ledger")
    outcomes = rule_config.review_outcomes
    if mask:  # fail on a missing key before hours of work, not after
        from .report import mask_key
        mask_key()
    ledger_path = None if no_ledger else locate(ledger if ledger is not None else default_path(out))
    # an existing ledger is checked now (not a ledger, too new, ...); a new file is created only when the
    # run has something to record (a PostgreSQL ledger's database exists: its tables are created now)
    store = (Ledger.open(ledger_path, create=ledger_path.is_server)
             if ledger_path is not None and ledger_path.exists() else None)
    history_folder = None if no_ledger or no_history else place(history, ledger_path)
    # the lines each group of members leaves to record wait there, not in memory, for the ledger's
    # transaction (claims_audit.history_pending); a killed run's folder goes with the next recover
    scratch = LazyScratch(out)
    result: pipeline.AuditResult | None = None
    try:
        recover(out, _committed)  # leftovers of a killed run into this folder
        # a first run (no ledger yet) reads an empty history and records tonight once the ledger exists
        reader = History(history_folder, store, scratch=scratch) if history_folder is not None else None
        result = run_engine(paths, run_date, schema_path=schema, mapping_path=mapping,
                            rule_config=rule_config, progress=progress, records=records, history=reader,
                            work_dir=out, **_memory(memory_limit))
        from .report import report_paths, write_reports  # once read: openpyxl was imported meanwhile
        stage = functools.partial(_stage, progress, result)
        if ledger_path is None:
            stage("report")
            report = write_reports(result, out, mask=mask, dispositions=outcomes.names)
            return AuditRun(result, report)
        store = store or Ledger.open(ledger_path, create=True)
        run_id = new_run_id()
        written: list[Path] = []
        try:
            stage("ledger and history")
            with store.transaction():
                view = store.record_run(result.findings, run_date=result.run_date,
                                        tool_version=result.tool_version, rules_version=result.rules_version,
                                        outcomes=outcomes, run_id=run_id,
                                        report_path=str(report_paths(out, result.run_date).xlsx))
                if history_folder is not None:
                    written = _record_history(History(history_folder, store), result, run_id)
                stage("report")
                report = write_reports(result, out, view, mask=mask, commit=store.commit)
        except BaseException:
            for path in written:  # never listed: not history (the next writer would remove it too)
                with contextlib.suppress(OSError):
                    path.unlink()
            raise
        return AuditRun(result, report, view)
    finally:  # each closed even if one before it fails (last pushed, first closed)
        with contextlib.ExitStack() as closing:
            closing.callback(scratch.close)
            if result is not None:  # the rejected cells' files, once the report holds them
                closing.callback(result.close)
            if store is not None:
                closing.callback(store.close)


def _stage(progress: pipeline.Progress | None, result: pipeline.AuditResult, name: str) -> None:
    """A stage after the rules, shown with the rows the run read (the bar stays where the reading left it)."""
    if progress is not None:
        progress(pipeline.ProgressEvent(name, rows=result.totals["rows_read"]))


def _record_history(history: Any, result: pipeline.AuditResult, run_id: str) -> list[Path]:
    """Tonight's lines into history and the automatic prune (inside the ledger's transaction)."""
    night = result.history
    cutoff = result.run_date - dt.timedelta(days=night.windows.retention_days)
    night.consulted.recorded, dropped, path = history.record(  # tonight's lines past retention: never written
        night.to_record, kind="run", run_id=run_id, run_date=result.run_date, sources=night.sources,
        superseded=night.superseded, keep_from=cutoff)
    night.consulted.pruned = dropped + history.prune(cutoff)
    return [path] if path is not None else []


def _import_in_background(module: str) -> None:
    """Import `module` in a thread while the inputs are read. openpyxl (the workbook writer) takes about a
    tenth of a second to import, all of it Python holding the GIL, which the reading releases inside
    polars most of the time: imported now, it costs the run almost nothing. A missing module fails now,
    as an import at the top would. openpyxl imports none of our modules, so the report's import (which
    waits for it) and this one never wait on each other; a failure inside it is left for that import,
    which reports it as any other error."""
    if importlib.util.find_spec(module) is None:
        importlib.import_module(module)  # ModuleNotFoundError, before hours of work

    def load() -> None:
        with contextlib.suppress(BaseException):
            importlib.import_module(module)
    threading.Thread(target=load, name=f"import {module}", daemon=True).start()


def _engine(engine: str, master: str | None, *, history: Path | None, records: Path | None) -> Any:
    """The run function of `engine` (pipeline.run's signature); UsageError for what it cannot do."""
    if engine == "local":
        if master is not None:
            raise UsageError("--master needs --engine spark")
        return pipeline.run
    if engine == "spark":
        from . import spark_engine
        spark_engine.check_options(history=history, records=records)
        return functools.partial(spark_engine.run, master=master)
    raise UsageError(f"--engine must be local or spark, got '{engine}'")


def _memory(memory_limit: int | None) -> dict[str, int | None]:
    chunk, budget, cells = pipeline.memory_settings(memory_limit)
    return {"chunk_bytes": chunk, "retain_bytes": budget, "rejected_bytes": cells}


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give the folder the report should be written to")


def _committed(journal: dict) -> bool | None:
    """Whether the ledger named in a dead transaction's journal committed its run id (None: the ledger
    cannot be asked now; the transaction is left for a later run)."""
    from .ledger import Ledger
    from .store import locate

    path = journal.get("ledger")
    if not path:
        return False  # --no-ledger: the journal's removal was the commit point, and it is still there
    try:
        location = locate(path)
        if not location.exists():
            return False
        with Ledger.open(location, create=False) as store:
            return store.report(str(journal.get("run_id"))) is not None
    except LedgerError:
        return None
