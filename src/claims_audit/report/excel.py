"""The Excel exception report (contract: sheets Summary, Findings, Rejected, Rules in that order).

Written with openpyxl in write-only mode (constant memory). Every data sheet has a frozen header, an
auto-filter and sized columns; dates are real Excel dates; text from claims is always written as text,
never as a formula; tables longer than a sheet continue on numbered overflow sheets ("Findings 2", ...).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from ..ruleconfig import RuleConfig
from ..rules import catalogue
from .safety import (CONTROL_CHARS, EXCEL_CELL_MAX, EXCEL_ROWS_MAX, NON_CHARACTERS, clean_text_columns,
                     formula_like, safe_sheet_title)
from .sheetxml import PendingRows, splice

DEFAULT_DISPOSITIONS = ("Confirmed", "Corrected", "Not an error", "Provider education", "Deferred")
FINDINGS_SHEET_COLUMNS = [
    "finding_id", "status", "source_file", "source_row", "claim_id", "line_number", "member_id",
    "rendering_npi", "service_date", "procedure_code", "modifiers", "units", "dx_codes", "rule_id",
    "severity", "message", "suggested_code", "evidence", "doc_approach", "doc_vessel", "doc_side",
    "documented_approach", "documented_site", "related_claim_id", "related_line_number", "related_source",
    "reference", "previous_disposition", "previous_note", "disposition", "reviewer_note",
]
# outcome: row rejected | row audited without this value | file rejected
REJECTED_SHEET_COLUMNS = ["source_file", "source_row", "column", "value", "problem", "outcome"]
REVIEW_COLUMNS = ("disposition", "reviewer_note")  # text-formatted (number format '@') on Findings/Closed
WIDTHS = {"finding_id": 18, "message": 60, "evidence": 50, "documented_approach": 30,
          "documented_site": 30, "problem": 60, "value": 30, "source_file": 32, "reference": 40,
          "why": 70, "checks": 60, "data": 50, "title": 40, "source": 50, "path": 40, "sha256": 66, "error": 50,
          "reviewer_note": 40, "disposition": 18, "previous_note": 30, "outcome": 32}
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
DATA_ROWS_PER_SHEET = EXCEL_ROWS_MAX - 1  # one row per sheet is the header


@dataclass
class SheetTable:
    """A table to write: the first sheet gets `title`, overflow sheets `title 2`, `title 3`..."""

    title: str
    frame: pl.DataFrame
    dropdown: dict[str, Sequence[str]] | None = None  # column -> allowed values


def _header(ws, names: Sequence[str]) -> list[WriteOnlyCell]:
    cells = []
    for n in names:
        c = WriteOnlyCell(ws, value=n)
        c.font, c.fill = HEADER_FONT, HEADER_FILL
        cells.append(c)
    return cells


def _as_text(ws, value: str) -> WriteOnlyCell:
    c = WriteOnlyCell(ws, value=value)
    c.data_type = "s"  # stored as a string: never a formula, whatever it starts with
    return c


def _rows(ws, frame: pl.DataFrame) -> Iterable[list]:
    text_cols = [i for i, t in enumerate(frame.dtypes) if t == pl.String]
    for row in frame.iter_rows():
        if any(formula_like(row[i]) for i in text_cols):
            row = [_as_text(ws, v) if formula_like(v) else v for v in row]
        yield row


def _size_columns(ws, frame: pl.DataFrame) -> None:
    for i, name in enumerate(frame.columns, start=1):
        if name in WIDTHS:
            width = WIDTHS[name]
        elif frame.schema[name] == pl.Date:
            width = 12
        else:
            width = max(len(name) + 4, 10)
        ws.column_dimensions[get_column_letter(i)].width = width


def _clean(frame: pl.DataFrame) -> pl.DataFrame:
    """`clean_text_columns`, applied only to the text columns holding something it changes (a control
    character or non-character, or text that may pass the cell limit): the others are left as they are,
    which is what it would return for them, without rewriting every string."""
    text = [c for c, t in frame.schema.items() if t == pl.String]
    if not text or frame.height == 0:
        return frame
    # UTF-8 bytes >= characters + astral characters (4 bytes each, counted 2), so within the limit
    # in bytes means within it for truncate()
    flags = frame.select([(pl.col(c).str.contains_any(CONTROL_CHARS + NON_CHARACTERS).any()
                           | (pl.col(c).str.len_bytes().max() > EXCEL_CELL_MAX)).fill_null(False).alias(c)
                          for c in text]).row(0)
    dirty = [c for c, f in zip(text, flags) if f]
    if not dirty:
        return frame
    return frame.with_columns(clean_text_columns(frame.select(dirty)).get_columns())


def write_table(wb: Workbook, table: SheetTable) -> list[str]:
    """Write a table over as many sheets as it needs; returns the sheet titles used."""
    frame = _clean(table.frame)
    titles = []
    chunks = max(1, -(-frame.height // DATA_ROWS_PER_SHEET))
    for k in range(chunks):
        part = frame.slice(k * DATA_ROWS_PER_SHEET, DATA_ROWS_PER_SHEET)
        title = safe_sheet_title(table.title if k == 0 else f"{table.title} {k + 1}")
        ws = wb.create_sheet(title)
        titles.append(title)
        ws.freeze_panes = "A2"
        _size_columns(ws, part)
        last_col = get_column_letter(max(1, len(part.columns)))
        ws.auto_filter.ref = f"A1:{last_col}{part.height + 1}"
        for col, allowed in (table.dropdown or {}).items():
            if col in part.columns:
                letter = get_column_letter(part.columns.index(col) + 1)
                dv = DataValidation(type="list", formula1='"' + ",".join(allowed) + '"', allow_blank=True,
                                    showErrorMessage=True, errorTitle="Not a review outcome",
                                    error="Pick one of the listed review outcomes.")
                dv.add(f"{letter}2:{letter}{max(part.height + 1, 2)}")
                ws.data_validations.append(dv)
        for col in REVIEW_COLUMNS:  # what a reviewer types there stays text ("-see chart" is no formula)
            if col in part.columns:
                ws.column_dimensions[get_column_letter(part.columns.index(col) + 1)].number_format = "@"
        ws.append(_header(ws, part.columns))
        _pending(wb).append(PendingRows(len(wb.worksheets) - 1, part))  # rows spliced in by save()
    return titles


def _pending(wb: Workbook) -> list[PendingRows]:
    return wb.__dict__.setdefault("_claims_audit_pending_rows", [])


def findings_frame(findings: pl.DataFrame) -> pl.DataFrame:
    """The Findings sheet's columns, in order (absent optional ones blank)."""
    cols = []
    for c in FINDINGS_SHEET_COLUMNS:
        if c in findings.columns:
            cols.append(pl.col(c))
        else:
            cols.append(pl.lit(None, pl.String).alias(c))
    return findings.select(cols)


def rules_frame(rules_version: str, config: RuleConfig) -> pl.DataFrame:
    """The rule catalogue as configured, with the versions of the data tables each rule relies on."""
    from ..ruledata import table_text

    rows = []
    for r in catalogue():
        rows.append({"rule_id": r.id, "severity": config.severity(r.id) or r.severity,
                     "enabled": "yes" if config.enabled(r.id) else "no", "title": r.title,
                     "checks": r.checks, "why": r.why, "source": r.source,
                     "data": "; ".join(table_text(t) for t in r.tables), "rules_version": rules_version})
    return pl.DataFrame(rows, schema={k: pl.String for k in
                                      ("rule_id", "severity", "enabled", "title", "checks", "why", "source",
                                       "data", "rules_version")})


def write_summary(wb: Workbook, info: list[tuple[str, object]], inputs: pl.DataFrame,
                  by_rule: pl.DataFrame, notes: list[str], history: pl.DataFrame | None = None,
                  ignored: pl.DataFrame | None = None) -> None:
    """Summary: run facts, each input's reconciliation, findings per rule with a bar chart.

    With the review ledger `by_rule` also carries the comparison with the previous run (new, recurring,
    decided, closed, resolved per rule) and `history` holds one row per recent run (run_date, findings,
    new, recurring, decided, ...), drawn as a stacked column chart of findings per night.
    """
    ws = wb.create_sheet("Summary")
    ws.freeze_panes = "A2"
    for letter, width in zip("ABCDEFGHI", (28, 60, 14, 14, 14, 12, 50, 14, 14)):
        ws.column_dimensions[letter].width = width
    ws.auto_filter.ref = f"A1:B{len(info) + 1}"
    ws.append(_header(ws, ["item", "value"]))
    for k, v in info:
        ws.append([k, _as_text(ws, v) if formula_like(v) else v])
    row = len(info) + 1
    ws.append([])
    ws.append(_header(ws, list(inputs.columns)))
    for r in _rows(ws, clean_text_columns(inputs)):
        ws.append(r)
    row += 2 + inputs.height
    ws.append([])
    ws.append(_header(ws, list(by_rule.columns)))
    rule_header_row = row + 2
    for r in by_rule.iter_rows():
        ws.append(list(r))
    row = rule_header_row + by_rule.height
    if by_rule.height:
        chart = BarChart()
        chart.type = "bar"
        chart.title = "Findings per rule"
        chart.y_axis.title = "findings"
        count_col = by_rule.columns.index("findings") + 1
        data = Reference(ws, min_col=count_col, min_row=rule_header_row, max_row=row)
        cats = Reference(ws, min_col=1, min_row=rule_header_row + 1, max_row=row)
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(cats)
        chart.height, chart.width = 9, 18
        ws.add_chart(chart, "J2")
    if history is not None and history.height:
        history = history.with_columns(pl.col(history.columns[0]).cast(pl.String))  # dates as labels
        ws.append([])
        ws.append(_header(ws, list(history.columns)))
        hist_header = row + 2
        for r in history.iter_rows():
            ws.append(list(r))
        end = hist_header + history.height
        stacked = [c for c in ("new", "recurring", "decided") if c in history.columns]
        trend = BarChart()
        trend.type = "col"
        trend.title = f"Findings per night (last {history.height} runs)"
        trend.y_axis.title = "findings"
        if stacked:  # new + recurring + decided = every finding of the night
            trend.grouping, trend.overlap = "stacked", 100
            for c in stacked:
                col = history.columns.index(c) + 1
                trend.add_data(Reference(ws, min_col=col, min_row=hist_header, max_row=end),
                               titles_from_data=True)
        else:
            trend.add_data(Reference(ws, min_col=2, min_row=hist_header, max_row=end), titles_from_data=True)
        trend.set_categories(Reference(ws, min_col=1, min_row=hist_header + 1, max_row=end))
        trend.height, trend.width = 9, 18
        ws.add_chart(trend, "J22")
        row = end
    if ignored is not None and ignored.height:  # folder entries deliberately not audited, and why
        ws.append([])
        ws.append(_header(ws, list(ignored.columns)))
        for r in _rows(ws, clean_text_columns(ignored)):
            ws.append(r)
    if notes:
        ws.append([])
        for n in notes:
            ws.append(["note", _as_text(ws, n) if formula_like(n) else n])


def save(wb: Workbook, path: Path) -> None:
    """Save with openpyxl, then splice in the data rows of every table (see sheetxml)."""
    wb.save(str(path))
    splice(Path(path), _pending(wb))


def new_workbook() -> Workbook:
    return Workbook(write_only=True)

