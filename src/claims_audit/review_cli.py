"""`claims-audit review …`: bring reviewers' decisions back into the ledger and show what is open.

Every error a user can cause is one ``Error:`` line and its exit code (2: the workbook or the command line
is wrong, nothing imported; 3: the ledger could not be written, e.g. busy for too long), mapped in one
place for every command (``cli._guarded``, ``errors.outcome_of``). Nothing printed here contains claim
values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .cli_options import QuietOption

# = ledger.default_path(Path("reports")), spelt out so that `--help` does not import polars
DEFAULT_LEDGER = Path("reports") / "claims-audit-ledger.sqlite"
LEDGER_HELP = (f"Review ledger: an SQLite file or a PostgreSQL URL postgresql://user@host/db (password from "
               f"PGPASSWORD or ~/.pgpass, never in the URL). Default: {DEFAULT_LEDGER}, the ledger "
               "'claims-audit run' keeps next to its reports with the default --out.")

review_app = typer.Typer(
    name="review",
    help="The review loop: import reviewed reports into the ledger and show open findings. Tomorrow's "
         "'claims-audit run' marks each finding new, recurring or decided and moves closed ones to the "
         "Closed sheet.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@review_app.command("import")
def import_cmd(
    workbook: Annotated[Path, typer.Argument(help="A claims-audit report (.xlsx) with dispositions and "
                                                  "reviewer notes filled in on its Findings sheet.")],
    ledger: Annotated[Optional[str], typer.Option("--ledger", help=LEDGER_HELP)] = None,
    reviewer: Annotated[Optional[str], typer.Option("--reviewer", help="Who made these decisions, as the "
                        "ledger records them (default: the operating-system user).")] = None,
    quiet: QuietOption = False,
) -> None:
    """Record the decisions of a reviewed report in the ledger (all or nothing)."""
    from .review import import_workbook

    res = import_workbook(workbook, ledger or DEFAULT_LEDGER, reviewer=reviewer)
    if res.notes_without_disposition:
        typer.echo(f"  {res.notes_without_disposition} row(s) have a reviewer note but no disposition; "
                   "those notes were not recorded (choose a disposition to record them)", err=True)
    if quiet:
        return
    what = ", ".join(f"{k} {v}" for k, v in sorted(res.by_disposition.items())) or "none"
    typer.echo(f"Imported {res.recorded} decision(s) from the report of run {res.report_run_date} "
               f"({what}); {res.unchanged} unchanged; {res.closing} close their finding.")
    typer.echo(f"Ledger: {res.ledger} (import {res.import_id}, by {res.reviewer or '(unknown)'})")


@review_app.command("status")
def status_cmd(
    ledger: Annotated[Optional[str], typer.Option("--ledger", help=LEDGER_HELP)] = None,
) -> None:
    """Open findings of the last run per rule, per reviewer decision and per reviewer.

    Decisions imported since that run are included; closed findings are counted separately.
    """
    from .ledger import Ledger

    with Ledger.open(ledger or DEFAULT_LEDGER, create=False) as store:
        st = store.status()
    typer.echo(f"Ledger: {st.path} (schema {st.schema_version}, {st.runs} run(s))")
    if st.last_import:
        at, wb, run_date, n = st.last_import
        typer.echo(f"Last import: {at}, {n} decision(s) on the report of run {run_date}")
    if st.last_run is None:
        typer.echo("No run recorded yet.")
        return
    typer.echo(f"Last run: {st.last_run}" + (f" (compared with {st.previous_run})" if st.previous_run else ""))
    per_rule = st.per_rule()
    total_open = int(per_rule.get_column("open").sum()) if per_rule.height else 0
    typer.echo(f"\nOpen findings: {total_open}\n")
    header = ("rule_id", "open", "undecided", "decided_open", "closed")
    rows = [header] + [tuple(str(v) for v in r) for r in per_rule.select(header).iter_rows()]
    rows.append(("total", *(str(int(per_rule.get_column(c).sum())) if per_rule.height else "0"
                            for c in header[1:])))
    _table(rows)
    per_dec = st.per_decision()
    typer.echo("\nBy reviewer decision:\n")
    dec_rows = [("disposition", "findings", "")] + [
        (d, str(n), "closed" if closed else "open") for d, closed, n in per_dec.iter_rows()]
    _table(dec_rows)
    per_reviewer = st.per_reviewer()
    if per_reviewer.height:
        typer.echo("\nBy reviewer (the decision in force on each finding):\n")
        _table([("reviewer", "decided", "closed", "open", "last decision")] + [
            (r["reviewer"], str(r["decided"]), str(r["closed"]), str(r["open"]), r["last_decided_at"] or "")
            for r in per_reviewer.iter_rows(named=True)])


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        cells = [r[0].ljust(widths[0])] + [v.rjust(w) if v.isdigit() else v.ljust(w)
                                          for v, w in zip(r[1:], widths[1:])]
        typer.echo("  ".join(cells).rstrip())


__all__ = ["review_app", "DEFAULT_LEDGER"]
