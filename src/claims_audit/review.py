"""Bringing reviewers' decisions back: reading a reviewed report workbook into the ledger.

The reviewer works in the report's Findings sheet (and may reopen a finding on the Closed sheet): sets
`disposition` (one of the configured review outcomes) and `reviewer_note`. They may sort, filter, hide or
delete rows and add columns: the header row is found by its names (`finding_id`, `disposition`,
`reviewer_note`), every other non-empty row is a finding, hidden rows included.

An import is all or nothing: the workbook is checked completely (a claims-audit report whose run is in
the ledger, every finding id of that run, every disposition allowed, no finding decided twice in
different ways) before one transaction records the decisions. Errors name sheets, rows and finding ids,
never claim values or the reviewer's text.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ReviewImportError, UsageError
from .ledger import Ledger, NewDecision
from .ruleconfig import ReviewOutcomes
from .safexlsx import Cell, Workbook, WorkbookRefused

_ID_SHAPE = re.compile(r"[0-9a-f]{16}(-[0-9]+)?")
RUN_ID = re.compile(r"[0-9a-f]{32}")

SHEET = re.compile(r"^(Findings|Closed)( \d+)?$")
ID, DISPOSITION, NOTE = "finding_id", "disposition", "reviewer_note"
SHOWN = 5  # examples named per problem in an error message


@dataclass(frozen=True)
class ReviewedRow:
    sheet: str
    row: int  # the row number a person sees in the sheet
    finding_id: str
    disposition: str | None
    note: str | None


@dataclass
class ReviewedWorkbook:
    path: Path
    sha256: str
    run_date: str
    modified_by: str | None
    sheets: list[str]
    rows: list[ReviewedRow]
    run_id: str | None = None  # Summary's run_id and report_seal: which run of which ledger wrote it
    seal: str | None = None


@dataclass
class ImportResult:
    path: Path
    ledger: Path | str  # the SQLite file or the PostgreSQL URL
    report_run_date: str
    import_id: int
    rows_read: int
    recorded: int
    unchanged: int
    notes_without_disposition: int
    by_disposition: dict[str, int] = field(default_factory=dict)
    closing: int = 0
    reviewer: str | None = None  # who the decisions are recorded as made by


def _norm(header: Any) -> str:
    return "_".join(str(header).strip().lower().replace("-", " ").split()) if header is not None else ""


def _text(value: str | None) -> str | None:
    text = value.strip() if value is not None else None
    return text or None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


SUMMARY_ITEMS = ("run_date", "tool_version", "rules_version", "run_id", "report_seal")
SUMMARY_ROWS = 200  # the run facts are the first rows of Summary
KNOWN_NAMES = frozenset((ID, DISPOSITION, NOTE) + SUMMARY_ITEMS)


def read_workbook(path: str | Path) -> ReviewedWorkbook:
    """Read the decision rows of a reviewed report, within hard limits (see :mod:`claims_audit.safexlsx`).
    Raises ReviewImportError for anything that is not a claims-audit report with a readable Findings
    sheet."""
    path = Path(path)
    if not path.is_file():
        raise ReviewImportError(f"reviewed workbook not found: {path}")
    path = path.resolve()
    try:
        digest = _sha256(path)
        with Workbook(str(path)) as book:
            return _read(path, digest, book)
    except OSError as exc:
        raise ReviewImportError(f"{path} cannot be read: {exc.strerror or type(exc).__name__}") from None
    except WorkbookRefused as exc:
        raise ReviewImportError(f"{path} is not a claims-audit report: {exc.reason}; nothing imported"
                                ) from None


def _read(path: Path, digest: str, book: Workbook) -> ReviewedWorkbook:
    if "Summary" not in book.sheetnames:
        raise ReviewImportError(f"{path} is not a claims-audit report: it has no Summary sheet")
    items = _summary(book)
    if "tool_version" not in items or "rules_version" not in items or not items.get("run_date"):
        raise ReviewImportError(f"{path} is not a claims-audit report: its Summary sheet has no run_date, "
                                "tool_version and rules_version")
    try:
        run_date = dt.date.fromisoformat((items["run_date"] or "")[:10]).isoformat()
    except ValueError:
        raise ReviewImportError(f"{path} is not a claims-audit report: the Summary's run_date is not "
                                "a date") from None
    sheets = [n for n in book.sheetnames if SHEET.match(n)]
    if not any(n.startswith("Findings") for n in sheets):
        raise ReviewImportError(f"{path} has no Findings sheet (was it renamed or deleted?); nothing "
                                "imported")
    raw: list[tuple[str, int, dict[str, Cell]]] = []
    for name in sheets:
        raw.extend(_sheet_rows(path, name, book))
    strings = book.resolve(c for _, _, cells in raw for c in cells.values())
    rows = [_reviewed(path, name, row, cells, strings) for name, row, cells in raw]
    return ReviewedWorkbook(path, digest, run_date, book.modified_by, sheets,
                            [r for r in rows if r is not None], items.get("run_id"), items.get("report_seal"))


def _summary(book: Workbook) -> dict[str, str | None]:
    """The Summary's run facts (item -> value), from its first rows."""
    found: dict[str, Cell | None] = {}
    names = _names(book, "Summary")
    for number, cells in book.rows("Summary"):
        if number > SUMMARY_ROWS:
            break
        key = names(cells.get(1))
        if key in SUMMARY_ITEMS and key not in found:
            found[key] = cells.get(2)
    strings = book.resolve(c for c in found.values() if c is not None)
    return {k: _text(_value(c, strings)) if c is not None and c.kind in ("text", "shared") else None
            for k, c in found.items()}


def _names(book: Workbook, sheet: str) -> Any:
    """A function giving the normalised text of a cell, when it is one of the names review import looks
    for (header and Summary item names); "" otherwise. Shared strings are searched once for those names."""
    shared = book.find_strings(KNOWN_NAMES, _norm)

    def name(cell: Cell | None) -> str:
        if cell is None:
            return ""
        if cell.kind == "text":
            return _norm(cell.text)
        if cell.kind == "shared":
            return shared.get(int(cell.text or 0), "")
        return ""

    return name


def _value(cell: Cell, strings: dict[int, str]) -> str | None:
    return strings.get(int(cell.text or 0)) if cell.kind == "shared" else cell.text


def _sheet_rows(path: Path, name: str, book: Workbook) -> list[tuple[str, int, dict[str, Cell]]]:
    """The rows other than the header (found by its names in a first pass: it may have been sorted or
    moved), each with its finding_id, disposition and reviewer_note cells. Nothing but those three cells
    of each row is kept."""
    names = _names(book, name)
    header_at, cols = None, {}
    for number, cells in book.rows(name):
        by_name = {names(c): k for k, c in sorted(cells.items(), reverse=True)}  # leftmost wins
        if ID in by_name and DISPOSITION in by_name:
            header_at, cols = number, {n: by_name[n] for n in (ID, DISPOSITION, NOTE) if n in by_name}
            break
    if header_at is None:
        raise ReviewImportError(f"{path} is not a claims-audit report: sheet '{name}' has no header row with "
                                f"'{ID}' and '{DISPOSITION}'")
    out: list[tuple[str, int, dict[str, Cell]]] = []
    for number, cells in book.rows(name):
        picked = {n: cells[k] for n, k in cols.items() if k in cells}
        if picked and number != header_at:
            out.append((name, number, picked))
    return out


def _reviewed(path: Path, sheet: str, row: int, cells: dict[str, Cell], strings: dict[int, str]
              ) -> ReviewedRow | None:
    values: dict[str, str | None] = {}
    for col, cell in cells.items():
        if cell.kind == "formula_without_value" and col != ID:
            raise ReviewImportError(
                f"{path} rejected, nothing imported: {sheet} row {row}: the {col} cell is a formula whose "
                "result was never computed; type the text itself (or open and save the workbook in Excel)")
        if cell.kind == "error" and col != ID:
            raise ReviewImportError(
                f"{path} rejected, nothing imported: {sheet} row {row}: the {col} cell holds an error value "
                "instead of text")
        values[col] = _text(_value(cell, strings)) if cell.kind in ("text", "shared") else None
    fid, disp, note = values.get(ID), values.get(DISPOSITION), values.get(NOTE)
    if fid is None and disp is None and note is None:
        return None  # blank or deleted row, or a row the reviewer added for themselves
    return ReviewedRow(sheet, row, fid or "", disp, note)


def _where(rows: list[ReviewedRow]) -> str:
    shown = ", ".join(f"{r.sheet} row {r.row}" for r in rows[:SHOWN])
    return shown + (f" and {len(rows) - SHOWN} more" if len(rows) > SHOWN else "")


def import_workbook(path: str | Path, ledger_path: str | Path, *, timeout: float | None = None,
                    reviewer: str | None = None) -> ImportResult:
    """Validate a reviewed workbook against the ledger and record its decisions (all or nothing), made
    by `reviewer` (default: the operating-system user)."""
    reviewer = _reviewer(reviewer)
    wb = read_workbook(path)
    with Ledger.open(ledger_path, create=False, timeout=timeout) as ledger:
        # everything below is checked under the write lock, so nothing changes between check and write
        with ledger.transaction():
            _check_origin(wb, ledger)
            run = ledger.run_record(wb.run_date)
            if run is None:
                raise ReviewImportError(
                    f"{wb.path} is the report of run {wb.run_date}, which is not in the ledger {ledger.path} "
                    "(run with --no-ledger, or with another --ledger?); nothing imported")
            outcomes = ReviewOutcomes.from_json(run["outcomes"])
            known = ledger.run_findings(wb.run_date)
            decisions, unchanged, notes_only = _decisions(wb, outcomes, known, ledger)
            import_id = ledger.record_import(
                workbook_path=str(wb.path), workbook_sha256=wb.sha256, modified_by=wb.modified_by,
                report_run_date=wb.run_date, rows_read=len(wb.rows), decisions=decisions,
                unchanged=unchanged, imported_by=reviewer, report_run_id=wb.run_id)
    by_disp: dict[str, int] = {}
    for d in decisions:
        by_disp[d.disposition] = by_disp.get(d.disposition, 0) + 1
    return ImportResult(wb.path, ledger.path, wb.run_date, import_id, len(wb.rows), len(decisions),
                        unchanged, notes_only, by_disp, sum(d.closes for d in decisions), reviewer)


def _check_origin(wb: ReviewedWorkbook, ledger: Ledger) -> None:
    """The workbook must be a report this ledger wrote: its Summary's run_id is in the ledger's `reports`
    and its report_seal (an HMAC under the ledger's own key) matches, for the same run date."""
    where = f"{wb.path} is not a report of a run recorded in the ledger {ledger.path}"
    if not wb.run_id or not wb.seal:
        raise ReviewImportError(
            f"{where}: its Summary has no run_id and report_seal (written with --no-ledger, by an older "
            "claims-audit, or not by claims-audit at all); nothing imported")
    if not RUN_ID.fullmatch(wb.run_id):
        raise ReviewImportError(f"{where}: its Summary's run_id is not a claims-audit run id; nothing imported")
    record = ledger.report(wb.run_id)
    if record is None:
        raise ReviewImportError(
            f"{where}: run id {wb.run_id} is unknown there (written with another --ledger, or "
            "--no-ledger?); nothing imported")
    if not ledger.report_seal_matches(wb.run_id, wb.seal):
        raise ReviewImportError(f"{where}: its report_seal does not match run {wb.run_id} (the Summary was "
                                "edited, or copied from another report); nothing imported")
    if record["run_date"] != wb.run_date:
        raise ReviewImportError(f"{where}: its Summary's run_date {wb.run_date} is not the date of run "
                                f"{wb.run_id} ({record['run_date']}); nothing imported")


def _decisions(wb: ReviewedWorkbook, outcomes: ReviewOutcomes, known: dict[str, tuple[str, str]],
               ledger: Ledger) -> tuple[list[NewDecision], int, int]:
    missing_id = [r for r in wb.rows if not r.finding_id and (r.disposition or r.note)]
    deciding = [r for r in wb.rows if r.finding_id and r.disposition]
    notes_only = sum(1 for r in wb.rows if r.finding_id and r.note and not r.disposition)
    unknown = [r for r in wb.rows if r.finding_id and (r.disposition or r.note) and r.finding_id not in known]
    invalid = [r for r in deciding if outcomes.canonical(r.disposition or "") is None]
    bad = {id(r) for r in invalid}
    chosen: dict[str, ReviewedRow] = {}
    conflicts: list[ReviewedRow] = []
    for r in deciding:
        if id(r) in bad or r.finding_id not in known:
            continue
        first = chosen.setdefault(r.finding_id, r)
        if first is not r and (outcomes.canonical(first.disposition or ""), first.note) != (
                outcomes.canonical(r.disposition or ""), r.note):
            conflicts.append(r)
    problems = []
    if unknown:
        # echo a cell only when it has the shape of a finding id (a hash): a hand-edited cell could hold
        # anything, and claim values never go into messages
        ids = ", ".join(dict.fromkeys(r.finding_id if _ID_SHAPE.fullmatch(r.finding_id) else "(not a finding id)"
                                      for r in unknown[:SHOWN]))
        problems.append(f"{len(unknown)} row(s) with a finding id that is not in run {wb.run_date} of the "
                        f"ledger ({_where(unknown)}: {ids}; edited by hand, or was the run re-run since "
                        "this workbook was written?)")
    if invalid:
        problems.append(f"{len(invalid)} row(s) with a disposition that is not one of "
                        f"{', '.join(outcomes.names)} ({_where(invalid)})")
    if missing_id:
        problems.append(f"{len(missing_id)} row(s) with a disposition or note but no finding id "
                        f"({_where(missing_id)})")
    if conflicts:
        ids = ", ".join(dict.fromkeys(r.finding_id for r in conflicts[:SHOWN]))
        problems.append(f"{len(conflicts)} finding(s) listed more than once with different decisions "
                        f"({_where(conflicts)}: {ids})")
    if problems:
        raise ReviewImportError(f"{wb.path} rejected, nothing imported: " + "; ".join(problems))
    keys = [(fid, known[fid][1]) for fid in chosen]
    latest = ledger.latest_decisions(keys)
    decisions, unchanged = [], 0
    for fid, r in chosen.items():
        rule_id, fingerprint = known[fid]
        disposition = outcomes.canonical(r.disposition or "") or ""
        if latest.get((fid, fingerprint)) == (disposition, r.note):
            unchanged += 1
            continue
        decisions.append(NewDecision(fid, rule_id, fingerprint, disposition, outcomes.closes(disposition),
                                     r.note))
    return decisions, unchanged, notes_only


def _reviewer(name: str | None) -> str | None:
    """--reviewer NAME (one line of printable text, at most 100 characters) or the OS user."""
    if name is None:
        return _user()
    name = name.strip()
    if not name or len(name) > 100 or not name.isprintable():
        raise UsageError("--reviewer must be a name of 1 to 100 printable characters")
    return name


def _user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers / services
        return None

