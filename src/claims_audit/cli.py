"""The `claims-audit` command line: parses arguments, calls the library, renders the outcome.

Every error a user can cause becomes one ``Error:`` line on stderr and a documented exit code; no
traceback and no claim value is ever printed (pretty exceptions show no locals).
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from . import __version__
from .cli_options import LayoutOption, MappingOption, QuietOption, SchemaOption, echo_rejections, layout_file
from .errors import ClaimsAuditError, UsageError, outcome_of
from .history_cli import history_app
from .process import apply_runtime_settings
from .review_cli import review_app

if TYPE_CHECKING:
    from .ruleconfig import RuleConfig

EXIT_CODES_HELP = (
    "Exit codes: 0 every row of every input was audited; 1 the run completed but some rows or whole "
    "files were rejected (see the Rejected sheet); 2 invalid command line or configuration file, or no "
    "input found; 3 the report could not be written; 4 internal error (a reconciliation check failed). "
    "Findings never change the exit code."
)

app = typer.Typer(
    name="claims-audit",
    help="Audit claim extracts for CPT 34421 lines that the documentation does not support, and write an "
         "Excel exception report.\n\n" + EXIT_CODES_HELP,
    pretty_exceptions_show_locals=False,
    pretty_exceptions_enable=False,
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: flags show as flags (typer's rich help gives them a <bool> type)
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"claims-audit {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_options(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True,
                                                    help="Print the version and exit.")] = None,
) -> None:
    """claims-audit: nightly batch auditor for CPT 34421 claim lines."""


def _run_date(value: Optional[str]) -> dt.date:
    if value is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--run-date must be a date as YYYY-MM-DD, got '{value}'") from None


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$", re.I)


def _memory_limit(value: Optional[str]) -> Optional[int]:
    """--memory-limit as bytes: a number with an optional K/M/G/T suffix (powers of 1024)."""
    if value is None:
        return None
    m = _SIZE.match(value)
    if not m:
        raise UsageError(f"--memory-limit must be a size such as 1500M or 4G, got '{value}'")
    size = int(float(m.group(1)) * 1024 ** " KMGT".index((m.group(2) or " ").upper()))
    if size < 64 << 20:
        raise UsageError("--memory-limit must be at least 64M")
    return size


def _load_rule_config(path: Optional[Path]) -> RuleConfig:
    from .ruleconfig import DEFAULT, load
    return DEFAULT if path is None else load(path)


class _Progress:
    """Live progress on an interactive terminal (stderr), nothing at all otherwise or with --quiet: the
    stage, then while reading the current file's bytes and the whole run's, with rows read, throughput
    and the time left. No claim value and no record text is ever shown; only file names."""

    def __init__(self, quiet: bool = False) -> None:
        self.bar = None
        if not quiet and sys.stderr.isatty() and not os.environ.get("CI"):
            from rich.console import Console
            from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                                       TransferSpeedColumn)
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                TransferSpeedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[rows]}"),
                                console=Console(stderr=True), transient=True)
            self.run_task = self.bar.add_task("whole run", total=None, rows="")
            self.file_task = self.bar.add_task("reading", total=None, rows="")

    def __enter__(self) -> "_Progress":
        if self.bar:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar:
            self.bar.stop()

    def __call__(self, event) -> None:
        if not self.bar:
            return
        rows = f"{event.rows:,} rows"
        if event.stage == "reading":
            self.bar.update(self.file_task, description=f"reading {Path(event.file or '').name}",
                            completed=event.file_done, total=event.file_total or None, rows="")
            self.bar.update(self.run_task, description="whole run: reading", completed=event.run_done,
                            total=event.run_total or None, rows=rows)
        else:
            stage = event.stage if not event.groups else f"{event.stage}, group {event.group} of {event.groups}"
            self.bar.update(self.file_task, visible=False)
            done = {"completed": event.run_done, "total": event.run_total} if event.run_total else {}
            self.bar.update(self.run_task, description=f"whole run: {stage}", rows=rows, **done)


@app.command(epilog=EXIT_CODES_HELP)
def run(
    paths: Annotated[list[Path], typer.Argument(metavar="PATH", help="Extract files or folders (a "
                                                "folder means every supported file in it, sorted by "
                                                "name; see the README for what is ignored).",
                                                show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Output folder for the report and manifest.")] = Path(
        "reports"),
    run_date: Annotated[Optional[str], typer.Option("--run-date", help="Run date YYYY-MM-DD (default: "
                                                                        "today); names the outputs.")] = None,
    mapping: MappingOption = None,
    schema: SchemaOption = None,
    layout: LayoutOption = None,
    rule_config: Annotated[Optional[Path], typer.Option("--rule-config", help="YAML file switching rules "
                                                        "off or changing severities.")] = None,
    mask_member_ids: Annotated[bool, typer.Option("--mask-member-ids", help="Replace member IDs in all "
                               "outputs with a keyed hash (key in CLAIMS_AUDIT_MASK_KEY).")] = False,
    quiet: QuietOption = False,
    ledger: Annotated[Optional[str], typer.Option("--ledger", help="Review ledger to consult and update: an "
                      "SQLite file (default: claims-audit-ledger.sqlite in --out) or a PostgreSQL URL "
                      "postgresql://user@host/db (password from PGPASSWORD or ~/.pgpass).")] = None,
    no_ledger: Annotated[bool, typer.Option("--no-ledger", help="One-off audit: no statuses, no Closed "
                         "sheet, nothing recorded in a ledger.")] = False,
    memory_limit: Annotated[Optional[str], typer.Option("--memory-limit", help="About how much memory the "
                            "run may use, e.g. 1500M or 4G (default: under 3G for 50M lines); sets the size "
                            "of the pieces inputs are read in and how many kept lines and rejected cells "
                            "are held in memory before they go to files in --out.")] = None,
    records: Annotated[Optional[Path], typer.Option("--records", help="Folder of medical records (.txt, "
                       ".pdf, .docx; searched recursively) named <claim_id>.<ext> or <claim_id>_<line>.<ext>, "
                       "read as the operative notes of those lines.")] = None,
    history: Annotated[Optional[str], typer.Option("--history", help="Claims-history folder to consult and "
                       "extend (default: claims-audit-history beside the ledger; with a PostgreSQL ledger, "
                       "its database).")] = None,
    no_history: Annotated[bool, typer.Option("--no-history", help="Audit tonight's lines on their own: no "
                          "claims history consulted or recorded (--no-ledger implies it).")] = False,
    engine: Annotated[str, typer.Option("--engine", help="Where the audit runs: local (this machine) or spark "
                      "(Apache Spark through PySpark, pip install '.[spark]'; no claims history, no --records).")
                      ] = "local",
    master: Annotated[Optional[str], typer.Option("--master", help="With --engine spark: the Spark master URL "
                      "(default local[*]; spark://HOST:7077, k8s://https://HOST:443, yarn).")] = None,
) -> None:
    """Audit extracts and write claims-audit-<run-date>.xlsx and .json to --out."""
    from .audit import audit

    with _Progress(quiet) as progress:
        outcome = audit(paths, out=out, run_date=_run_date(run_date), mapping=mapping,
                        schema=layout_file(schema, layout),
                        rule_config=_load_rule_config(rule_config),
                        mask=mask_member_ids, progress=progress, ledger=ledger, no_ledger=no_ledger,
                        records=records, history=history, no_history=no_history,
                        memory_limit=_memory_limit(memory_limit), engine=engine, master=master)
    result = outcome.result
    if not quiet:
        t = result.totals
        typer.echo(f"{t['rows_read']} rows read, {t['rows_audited']} audited, {t['rows_rejected']} rejected; "
                   f"{t['lines_34421']} lines with 34421, {t['findings']} findings.")
        echo_rejections(result.inputs, " (see the Rejected sheet)")
        if result.records is not None:
            typer.echo(result.records.console_line())
        typer.echo(f"Report: {outcome.paths.xlsx}\nManifest: {outcome.paths.json}")
    raise typer.Exit(int(result.exit_code))


@app.command()
def layouts() -> None:
    """List the shipped layout presets (for --layout), one line each."""
    from .presets import available
    from .schema import load_layout

    names = available()
    width = max(len(n) for n in names)
    for name, path in names.items():
        typer.echo(f"{name:<{width}}  {load_layout(path).preset.description}")


@app.command("schema")
def schema_cmd(
    schema: Annotated[Optional[Path], typer.Option("--schema", help="Layout file to print "
                                                                    "(default: the shipped one).")] = None,
    layout_name: Annotated[Optional[str], typer.Option("--layout", help="Print a shipped layout preset "
                                                       "(see `claims-audit layouts`).")] = None,
) -> None:
    """Print the expected columns with their types and rules."""
    from .schema import load_layout

    layout = load_layout(layout_file(schema, layout_name))
    typer.echo(f"{layout.name} v{layout.version}  ({layout.source})")
    if layout.preset is not None:
        from .presets import describe
        for line in describe(layout.preset):
            typer.echo(line)
        typer.echo("")
    typer.echo("Headers match ignoring case, surrounding spaces and -/_/space. Unknown columns are ignored.\n")
    width = max(len(c.name) for c in layout.columns)
    for c in layout.columns:
        req = "required" if c.required else "optional"
        phi = "  [PHI]" if c.phi else ""
        typer.echo(f"{c.name:<{width}}  {c.type:<8} {req:<9} {c.rules_text}{phi}")
        if c.description:
            typer.echo(f"{'':<{width}}  {c.description}")


@app.command()
def sample(
    lines: Annotated[int, typer.Option("--lines", min=1, help="Number of claim lines to write.")],
    out: Annotated[Path, typer.Option("--out", help="File to write (.csv, .tsv, .txt, .parquet, .xlsx).")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same file).")] = 0,
    bad_fraction: Annotated[float, typer.Option("--bad-fraction", min=0.0, max=1.0,
                                                help="Fraction of lines given one invalid cell.")] = 0.0,
) -> None:
    """Write a realistic synthetic claim extract (for trying the tool, tests and benchmarks)."""
    from . import sample as sample_mod

    if out.suffix.lower() not in {".csv", ".tsv", ".txt", ".parquet", ".xlsx"}:
        raise UsageError(f"--out must end in .csv, .tsv, .txt, .parquet or .xlsx, got '{out.name}'")
    frame = sample_mod.generate(lines, seed=seed, bad_fraction=bad_fraction)
    try:
        sample_mod.write(frame, out)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    typer.echo(f"Wrote {frame.height} lines to {out}")


@app.command()
def explain(
    approach: Annotated[Optional[str], typer.Option("--approach", help="documented_approach text ('' for "
                                                    "blank; optional with a record).")] = None,
    site: Annotated[Optional[str], typer.Option("--site", help="documented_site text ('' for blank; "
                                                "optional with a record).")] = None,
    note: Annotated[Optional[str], typer.Option("--note", help="op_note text (optional).")] = None,
    record: Annotated[Optional[list[Path]], typer.Option("--record", help="A medical record file (.txt, "
                      ".pdf, .docx) read as the line's operative note; repeat for several.")] = None,
    records: Annotated[Optional[Path], typer.Option("--records", help="Records folder: explain the files "
                       "`run --records` would read for --claim-id (and --line).")] = None,
    claim_id: Annotated[Optional[str], typer.Option("--claim-id", help="With --records: the claim.")] = None,
    line: Annotated[Optional[int], typer.Option("--line", min=1, help="With --records: the line number "
                    "(its own files win over the claim's).")] = None,
) -> None:
    """Show how a 34421 line's documentation is read: concepts, evidence, negations, findings, code."""
    from .explain import explain as explain_doc, render

    files = None
    if records is not None or claim_id is not None or line is not None:
        if records is None or claim_id is None:
            raise UsageError("--records needs --claim-id (and optionally --line) to pick the line's records")
        from .records import files_for_line
        files = files_for_line(records, claim_id, line)
        if not files:
            raise UsageError("no record in the --records folder matches that claim line "
                             "(names: <claim_id>.<ext> or <claim_id>_<line>.<ext>)")
    if record:
        from .records import files_given
        files = (files or []) + files_given(record)
    if files is None and (approach is None or site is None):
        raise UsageError("explain needs --approach and --site (or a medical record: --record FILE, or "
                         "--records DIR --claim-id ID)")
    typer.echo(render(explain_doc(approach, site, note, record_files=files)))


app.add_typer(review_app, name="review")
app.add_typer(history_app, name="history")

ledger_app = typer.Typer(name="ledger", help="The review ledger itself: move it to a team ledger on PostgreSQL.",
                         no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                         rich_markup_mode=None)
app.add_typer(ledger_app, name="ledger")


@ledger_app.command("migrate")
def ledger_migrate(
    source: Annotated[Path, typer.Option("--from", help="The SQLite ledger to copy (it is not changed "
                                                        "beyond a schema upgrade).", show_default=False)],
    target: Annotated[str, typer.Option("--to", help="The PostgreSQL ledger: postgresql://user@host/db of an "
                      "existing, empty database (password from PGPASSWORD or ~/.pgpass).", show_default=False)],
    history: Annotated[Optional[Path], typer.Option("--history", help="The claims-history folder of the "
                       "SQLite ledger (default: claims-audit-history beside it).")] = None,
) -> None:
    """Copy an SQLite ledger and its claims history into PostgreSQL in one transaction, verified by counts.

    Exit 0 when copied (or when the target already holds this ledger), 2 when the target holds another
    ledger's data, 4 when the copy's counts do not match (nothing committed)."""
    from .ledger_transfer import migrate_ledger

    done = migrate_ledger(source, target, history)
    if done.already_there:
        typer.echo(f"{done.target} already holds this ledger (same keys and counts); nothing copied.")
        return
    counts = ", ".join(f"{n} {t}" for t, n in done.counts.items())
    typer.echo(f"Copied {done.source} to {done.target}, counts verified: {counts}.")
    if done.other_folders:
        typer.echo(f"  {done.other_folders} history batch(es) of other history folders were not copied "
                   "(give --history to copy another folder's)", err=True)

def _guarded(fn):  # type: ignore[no-untyped-def]
    """Every command ends an error the same way: one `Error:` line and the exit code of
    :func:`errors.outcome_of` (also when the app runs in-process, e.g. under typer's CliRunner).
    CLAIMS_AUDIT_DEBUG=1 lets a bug's traceback through."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except (Exception, KeyboardInterrupt) as exc:
            if os.environ.get("CLAIMS_AUDIT_DEBUG") and not isinstance(exc, ClaimsAuditError):
                raise
            _error_exit(exc)

    return wrapper


def _error_exit(exc: BaseException) -> None:
    code, message = outcome_of(exc)
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code) from None


def _guard_commands(typer_app: typer.Typer) -> None:
    for info in typer_app.registered_commands:
        if info.callback is not None and not getattr(info.callback, "__wrapped__", None):
            info.callback = _guarded(info.callback)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _guard_commands(group.typer_instance)


_guard_commands(app)


def main() -> None:
    """Console entry point: domain errors become one line and an exit code, never a traceback.

    The process then ends at once: every file is written and closed by then, and a nightly run holds a
    few GB of frames that the interpreter would otherwise free one by one (a fifth of a second on a
    2,000,000-line extract) before the operating system reclaims them anyway. Before anything is
    imported, the process's allocator settings are made (:mod:`claims_audit.process`).
    """
    apply_runtime_settings()
    try:
        _main()
    except SystemExit as exc:
        if isinstance(exc.code, str):  # sys.exit("message") prints the message and exits 1
            print(exc.code, file=sys.stderr)
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    else:
        code = 0
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (e.g. `| head`) has nothing left to receive
            pass
    os._exit(code)


def _main() -> None:
    """What happens outside a command (argument parsing, --version) ends the same way as in one."""
    try:
        app()  # standalone mode: bad options/arguments print usage and exit 2 (ExitCode.USAGE)
    except SystemExit:
        raise
    except (Exception, KeyboardInterrupt) as exc:
        if os.environ.get("CLAIMS_AUDIT_DEBUG") and not isinstance(exc, ClaimsAuditError):
            raise
        code, message = outcome_of(exc)
        typer.echo(f"Error: {message}", err=True)
        sys.exit(code)
