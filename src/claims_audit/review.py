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

from .errors import ReviewImportError
from .ledger import Ledger, NewDecision
from .ruleconfig import ReviewOutcomes

_ID_SHAPE = re.compile(r"[0-9a-f]{16}(-[0-9]+)?")

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


@dataclass
class ImportResult:
    path: Path
    ledger: Path
    report_run_date: str
    import_id: int
    rows_read: int
    recorded: int
    unchanged: int
    notes_without_disposition: int
    by_disposition: dict[str, int] = field(default_factory=dict)
    closing: int = 0


def _norm(header: Any) -> str:
    return "_".join(str(header).strip().lower().replace("-", " ").split()) if header is not None else ""


def _text(value: Any) -> str | None:
    """A cell as text (None when blank): numbers the reviewer typed, dates, booleans all become text."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime):
        value = value.date() if value.time() == dt.time() else value
    if isinstance(value, dt.date):
        value = value.isoformat()
    text = str(value).strip()
    return text or None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _summary_run_date(ws: Any) -> str | None:
    items: dict[str, Any] = {}
    for r in ws.iter_rows(min_row=1, max_row=200, max_col=2, values_only=True):
        if r and r[0] is not None:
            items.setdefault(_norm(r[0]), r[1] if len(r) > 1 else None)
    if "tool_version" not in items or "rules_version" not in items:
        return None
    return _text(items.get("run_date"))


def read_workbook(path: str | Path) -> ReviewedWorkbook:
    """Read the decision rows of a reviewed report. Raises ReviewImportError for anything that is not a
    claims-audit report with a readable Findings sheet."""
    import openpyxl

    path = Path(path)
    if not path.is_file():
        raise ReviewImportError(f"reviewed workbook not found: {path}")
    path = path.resolve()
    try:
        digest = _sha256(path)
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except OSError as exc:
        raise ReviewImportError(f"{path} cannot be read: {exc.strerror or type(exc).__name__}") from None
    except Exception as exc:  # zip / XML / format errors of every kind: not an xlsx workbook
        raise ReviewImportError(f"{path} is not a claims-audit report: it cannot be opened as an Excel "
                                f"workbook (.xlsx) ({type(exc).__name__})") from None
    try:
        if "Summary" not in wb.sheetnames:
            raise ReviewImportError(f"{path} is not a claims-audit report: it has no Summary sheet")
        run_date = _summary_run_date(wb["Summary"])
        if run_date is None:
            raise ReviewImportError(f"{path} is not a claims-audit report: its Summary sheet has no run_date, "
                                    "tool_version and rules_version")
        try:
            run_date = dt.date.fromisoformat(run_date[:10]).isoformat()
        except ValueError:
            raise ReviewImportError(f"{path} is not a claims-audit report: the Summary's run_date is not "
                                    "a date") from None
        sheets = [n for n in wb.sheetnames if SHEET.match(n)]
        if not any(n.startswith("Findings") for n in sheets):
            raise ReviewImportError(f"{path} has no Findings sheet (was it renamed or deleted?); nothing "
                                    "imported")
        rows: list[ReviewedRow] = []
        for name in sheets:
            rows.extend(_sheet_rows(path, name, wb[name]))
        modified_by = getattr(wb.properties, "lastModifiedBy", None)
    finally:
        wb.close()
    return ReviewedWorkbook(path, digest, run_date, modified_by, sheets, rows)


def _sheet_rows(path: Path, name: str, ws: Any) -> list[ReviewedRow]:
    values = list(ws.iter_rows(values_only=True))
    header_at, cols = None, {}
    for i, r in enumerate(values):  # the header can have been sorted or moved: find it by its names
        names = [_norm(v) for v in r]
        if ID in names and DISPOSITION in names:
            header_at = i
            cols = {n: names.index(n) for n in (ID, DISPOSITION, NOTE) if n in names}
            break
    if header_at is None:
        raise ReviewImportError(f"{path} is not a claims-audit report: sheet '{name}' has no header row with "
                                f"'{ID}' and '{DISPOSITION}'")
    out = []
    for i, r in enumerate(values):
        if i == header_at:
            continue

        def cell(col: str, r: tuple = r) -> str | None:
            k = cols.get(col)
            return _text(r[k]) if k is not None and k < len(r) else None

        fid, disp, note = cell(ID), cell(DISPOSITION), cell(NOTE)
        if fid is None and disp is None and note is None:
            continue  # blank or deleted row, or a row the reviewer added for themselves
        out.append(ReviewedRow(name, i + 1, fid or "", disp, note))
    return out


def _where(rows: list[ReviewedRow]) -> str:
    shown = ", ".join(f"{r.sheet} row {r.row}" for r in rows[:SHOWN])
    return shown + (f" and {len(rows) - SHOWN} more" if len(rows) > SHOWN else "")


def import_workbook(path: str | Path, ledger_path: str | Path, *, timeout: float | None = None
                    ) -> ImportResult:
    """Validate a reviewed workbook against the ledger and record its decisions (all or nothing)."""
    wb = read_workbook(path)
    with Ledger.open(ledger_path, create=False, timeout=timeout) as ledger:
        # everything below is checked under the write lock, so nothing changes between check and write
        with ledger.transaction():
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
                unchanged=unchanged, imported_by=_user())
    by_disp: dict[str, int] = {}
    for d in decisions:
        by_disp[d.disposition] = by_disp.get(d.disposition, 0) + 1
    return ImportResult(wb.path, Path(ledger_path), wb.run_date, import_id, len(wb.rows), len(decisions),
                        unchanged, notes_only, by_disp, sum(d.closes for d in decisions))


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


def _user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers / services
        return None

