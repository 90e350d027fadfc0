"""`claims-audit history …`: back-fill the claims history from past extracts, show what it holds, prune
it. Errors are one ``Error:`` line and their exit code (``cli._guarded``); nothing printed here contains
claim values (counts, dates and file names only)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .cli_options import LayoutOption, MappingOption, QuietOption, SchemaOption, echo_rejections, layout_file
from .review_cli import DEFAULT_LEDGER, LEDGER_HELP

HISTORY_HELP = ("Claims-history folder (default: claims-audit-history beside the ledger, the one "
                "'claims-audit run' keeps). With a PostgreSQL --ledger the history is in that database.")

history_app = typer.Typer(
    name="history",
    help="The claims history each run consults and extends: back-fill it from past extracts, show what it "
         "holds, prune old lines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _folder(history: Optional[str], ledger: str | Path):
    """The history of `ledger`: a folder beside an SQLite file, or the ledger's PostgreSQL database."""
    from .history import place
    return place(history, ledger)


@history_app.command("import")
def import_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Past extracts (files or folders), read and validated as "
                                                     "'claims-audit run' reads them.", show_default=False)],
    history: Annotated[Optional[str], typer.Option("--history", help=HISTORY_HELP)] = None,
    ledger: Annotated[Optional[str], typer.Option("--ledger", help=LEDGER_HELP)] = None,
    mapping: MappingOption = None,
    schema: SchemaOption = None,
    layout: LayoutOption = None,
    quiet: QuietOption = False,
) -> None:
    """Load past extracts into the claims history (no findings, no report), so that the first nightly run
    already sees the last months. Exit 1 when rows or files were rejected."""
    from .errors import ExitCode
    from .history import backfill

    store = ledger or DEFAULT_LEDGER
    done = backfill(paths, ledger_path=store, folder=history, schema=layout_file(schema, layout),
                    mapping=mapping)
    clean = all(i.status == "ok" for i in done.inputs)
    if not quiet:
        read = sum(i.rows_read for i in done.inputs)
        audited = sum(i.rows_audited for i in done.inputs)
        rejected = sum(i.rows_rejected for i in done.inputs)
        typer.echo(f"{read} rows read, {audited} valid, {rejected} rejected; {done.recorded} lines added to "
                   f"the claims history {done.folder}.")
        echo_rejections(done.inputs)
        for name in done.already_recorded:
            typer.echo(f"  {name}: already in history (same content), not added again", err=True)
    raise typer.Exit(int(ExitCode.OK if clean else ExitCode.REJECTED))


@history_app.command("status")
def status_cmd(
    history: Annotated[Optional[str], typer.Option("--history", help=HISTORY_HELP)] = None,
    ledger: Annotated[Optional[str], typer.Option("--ledger", help=LEDGER_HELP)] = None,
) -> None:
    """What the claims history holds: lines, members, dates of service, per source file."""
    from .history import History
    from .ledger import Ledger

    path = ledger or DEFAULT_LEDGER
    with Ledger.open(path, create=False) as store:
        held = History(_folder(history, path), store)
        sources = held.status()
        members = held.members()
    typer.echo(f"Claims history: {held} (catalog in {store.path})")
    if sources.is_empty():
        typer.echo("No lines recorded yet.")
        return
    first, last = sources.get_column("first_date").drop_nulls().min(), sources.get_column("last_date").max()
    typer.echo(f"{int(sources.get_column('lines').sum())} lines of {members} members, dates of service "
               f"{first} to {last}, from {sources.height} source file(s):")
    for row in sources.iter_rows(named=True):
        how = "back-fill" if row["kind"] == "import" else f"run {row['run_date']}"
        typer.echo(f"  {row['source_file']}: {row['lines']} lines ({how})")


@history_app.command("prune")
def prune_cmd(
    before: Annotated[str, typer.Option("--before", help="Remove every line with a date of service before "
                                                         "this date (YYYY-MM-DD).", show_default=False)],
    history: Annotated[Optional[str], typer.Option("--history", help=HISTORY_HELP)] = None,
    ledger: Annotated[Optional[str], typer.Option("--ledger", help=LEDGER_HELP)] = None,
) -> None:
    """Remove old lines from the claims history by hand (runs prune by the retention period themselves)."""
    import datetime as dt

    from .errors import UsageError
    from .history import History
    from .ledger import Ledger

    try:
        cutoff = dt.date.fromisoformat(before)
    except ValueError:
        raise UsageError(f"--before must be a date as YYYY-MM-DD, got '{before}'") from None
    path = ledger or DEFAULT_LEDGER
    with Ledger.open(path, create=False) as store:
        held = History(_folder(history, path), store)
        with store.transaction():
            held.prune_unlisted()
            removed = held.prune(cutoff)
    typer.echo(f"Removed {removed} line(s) with a date of service before {cutoff} from {held}.")
