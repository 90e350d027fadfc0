"""The Excel exception report (contract: sheets Summary, Findings, Rejected, Rules in that order).

Written with openpyxl in write-only mode (constant memory). Every data sheet has a frozen header, an
auto-filter and columns sized to their content; long texts wrap (rows get the height they need, see
sheetxml); dates are real Excel dates; text from claims is always written as text, never as a formula;
tables longer than a sheet continue on numbered overflow sheets ("Findings 2", ...). Summary is read by
people: labels in words (:mod:`labels`), totals and the chart first, no auto-filter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, Reference
from openpyxl.chart.text import RichText
from openpyxl.drawing.text import CharacterProperties, Paragraph, ParagraphProperties
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from ..ruleconfig import RuleConfig
from ..rules import catalogue
from .labels import EXIT_MEANINGS, label
from .safety import (CONTROL_CHARS, EXCEL_CELL_MAX, EXCEL_ROWS_MAX, NON_CHARACTERS, clean_text_columns,
                     formula_like, safe_sheet_title)
from .sheetxml import PendingRows, size_bound, splice
from .tablerows import TableRows

DEFAULT_DISPOSITIONS = ("Confirmed", "Corrected", "Not an error", "Provider education", "Deferred")
# The column names are the contract (review import and downstream users find columns by name); the order
# puts first what a reviewer filters and reads on: rule, severity, status, claim, member, date, the
# message with its evidence and the review columns beside it; provenance (file, row, finding id) last.
FINDINGS_SHEET_COLUMNS = [
    "rule_id", "severity", "status", "claim_id", "line_number", "member_id", "service_date",
    "rendering_npi", "procedure_code", "modifiers", "units", "dx_codes", "message", "suggested_code",
    "evidence", "disposition", "reviewer_note", "previous_disposition", "previous_note", "doc_approach",
    "doc_vessel", "doc_side", "documented_approach", "documented_site", "related_claim_id",
    "related_line_number", "related_source", "reference", "source_file", "source_row", "finding_id",
]
# outcome: row rejected | row audited without this value | file rejected
REJECTED_SHEET_COLUMNS = ["source_file", "source_row", "column", "value", "problem", "outcome"]
REVIEW_COLUMNS = ("disposition", "reviewer_note")  # text-formatted (number format '@') on Findings/Closed
DOC_LABEL_COLUMNS = ("doc_approach", "doc_vessel", "doc_side")  # concepts shown by their vocabulary label
# frozen panes: the header row, and on Findings / Closed the columns rule, severity, status and claim
FREEZE = {"Findings": "E2", "Closed": "E2", "Rules": "B2"}
# text columns that wrap within their width (the widest a column gets, below); the others are sized
# to their content, up to MAX_WIDTH
WRAP_COLUMNS = frozenset({"message", "evidence", "reference", "documented_approach", "documented_site",
                          "reviewer_note", "previous_note", "problem", "title", "checks", "why", "source",
                          "data"})
WIDTHS = {"message": 60, "evidence": 50, "reference": 40, "documented_approach": 30, "documented_site": 30,
          "reviewer_note": 40, "previous_note": 30, "problem": 60, "title": 36, "checks": 60, "why": 60,
          "source": 40, "data": 50, "value": 30, "source_file": 40, "disposition": 18, "related_source": 40}
MAX_WIDTH = 40
MIN_WIDTH = 6
FILTER_BUTTON = 3  # characters the auto-filter arrow takes beside a header
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
RIGHT = Alignment(horizontal="right")
CENTRE = Alignment(horizontal="center")
INDENT = Alignment(horizontal="left", indent=1)
TITLE_FONT = Font(bold=True, size=14, color="1F4E78")
SECTION_FONT = Font(bold=True, size=12, color="1F4E78")
HINT_FONT = Font(italic=True, color="595959")
DATE_FORMAT = "yyyy-mm-dd"
DATA_ROWS_PER_SHEET = EXCEL_ROWS_MAX - 1  # one row per sheet is the header


@dataclass
class SheetTable:
    """A table to write: the first sheet gets `title`, overflow sheets `title 2`, `title 3`..."""

    title: str
    frame: pl.DataFrame | TableRows  # TableRows: read a batch at a time (the rejected cells)
    dropdown: dict[str, Sequence[str]] | None = None  # column -> allowed values


def _header(ws, names: Sequence[str], numeric: Sequence[bool] = (), align: Alignment | None = None
            ) -> list[WriteOnlyCell]:
    """Header cells; those over numbers aligned like the numbers below them (`align`, default right)."""
    cells = []
    for i, n in enumerate(names):
        c = WriteOnlyCell(ws, value=n)
        c.font, c.fill = HEADER_FONT, HEADER_FILL
        if i < len(numeric) and numeric[i]:
            c.alignment = align or RIGHT
        cells.append(c)
    return cells


def _numeric(frame: pl.DataFrame) -> list[bool]:
    return [t.is_numeric() or t == pl.Date for t in frame.dtypes]


def _as_text(ws, value: str) -> WriteOnlyCell:
    c = WriteOnlyCell(ws, value=value)
    c.data_type = "s"  # stored as a string: never a formula, whatever it starts with
    return c


def _value_cell(ws, value: object) -> object:
    """A Summary value: text that looks like a formula stays text, a date is a real Excel date."""
    if formula_like(value):
        return _as_text(ws, value)  # type: ignore[arg-type]
    if isinstance(value, dt.date):
        c = WriteOnlyCell(ws, value=value)
        c.number_format = DATE_FORMAT
        return c
    return value


def _rows(ws, frame: pl.DataFrame) -> Iterable[list]:
    text_cols = [i for i, t in enumerate(frame.dtypes) if t == pl.String]
    date_cols = [i for i, t in enumerate(frame.dtypes) if t == pl.Date]
    for row in frame.iter_rows():
        if date_cols or any(formula_like(row[i]) for i in text_cols):
            yield [_value_cell(ws, v) for v in row]
        else:
            yield list(row)


def _measures(frame: TableRows) -> tuple[dict[str, int], int]:
    """(characters the widest value of each column takes, the UTF-8 bytes of all its text), vectorised, in
    one pass over the rows: a sheet's columns are sized and its zip entry bounded (sheetxml.size_bound)
    with its rows read once."""
    if frame.height == 0:
        return {c: 0 for c in frame.columns}, 0
    exprs = []
    for name, dtype in frame.schema.items():
        c = pl.col(name)
        if dtype == pl.String:
            e = c.str.len_chars().max()
        elif dtype == pl.Date:
            e = pl.lit(10)
        elif dtype.is_numeric():
            e = pl.max_horizontal(c.max().cast(pl.String).str.len_chars(),
                                  c.min().cast(pl.String).str.len_chars())
        else:
            e = c.cast(pl.String).str.len_chars().max()
        exprs.append(e.fill_null(0).cast(pl.Int64).alias(name))
    text = [pl.col(c).str.len_bytes().sum().alias(f"__bytes_{c}") for c, t in frame.schema.items() if t == pl.String]
    values = frame.aggregate([*exprs, *text], [max] * len(exprs) + [sum] * len(text))
    widths = dict(zip(frame.columns, (v or 0 for v in values[:len(exprs)])))
    return widths, int(sum(v or 0 for v in values[len(exprs):]))


def column_width(name: str, content: int) -> int:
    """Wide enough for the header (and its filter arrow) and the widest value, up to the column's limit
    (a wrap column wraps beyond it). The width unit is a digit; capitals and bold headers are wider, hence
    the tenth added."""
    limit = WIDTHS.get(name, MAX_WIDTH)
    return max(MIN_WIDTH, -(-len(name) * 11 // 10) + FILTER_BUTTON, min(-(-content * 11 // 10) + 1, limit))


def _size_columns(ws, content: dict[str, int]) -> dict[str, int]:
    """Size every column to its content (the widths of :func:`_measures`); returns the widths."""
    widths = {name: column_width(name, chars) for name, chars in content.items()}
    for i, width in enumerate(widths.values(), start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    return widths


def _clean(frame: TableRows) -> TableRows:
    """`clean_text_columns`, applied only to the text columns holding something it changes (a control
    character or non-character, or text that may pass the cell limit): the others are left as they are,
    which is what it would return for them, without rewriting every string. The rows are cleaned batch
    by batch as the sheet is written."""
    text = [c for c, t in frame.schema.items() if t == pl.String]
    if not text or frame.height == 0:
        return frame
    # UTF-8 bytes >= characters + astral characters (4 bytes each, counted 2), so within the limit
    # in bytes means within it for truncate()
    flags = frame.aggregate([(pl.col(c).str.contains_any(CONTROL_CHARS + NON_CHARACTERS).any()
                              | (pl.col(c).str.len_bytes().max() > EXCEL_CELL_MAX)).fill_null(False).alias(c)
                             for c in text], any)
    dirty = [c for c, f in zip(text, flags) if f]
    if not dirty:
        return frame
    return frame.map(lambda batch: batch.with_columns(clean_text_columns(batch.select(dirty)).get_columns()))


def _dropdown(ws, part: TableRows, col: str, allowed: Sequence[str]) -> None:
    """A list drop-down on the whole column below the header: rows a reviewer adds get it too."""
    letter = get_column_letter(part.columns.index(col) + 1)
    dv = DataValidation(type="list", formula1='"' + ",".join(allowed) + '"', allow_blank=True,
                        showErrorMessage=True, errorTitle="Not a review outcome",
                        error="Pick one of the listed review outcomes.")
    dv.add(f"{letter}2:{letter}{EXCEL_ROWS_MAX}")
    ws.data_validations.append(dv)


def write_table(wb: Workbook, table: SheetTable) -> list[str]:
    """Write a table over as many sheets as it needs; returns the sheet titles used."""
    frame = _clean(TableRows.of(table.frame))
    titles = []
    chunks = max(1, -(-frame.height // DATA_ROWS_PER_SHEET))
    for k in range(chunks):
        part = frame.slice(k * DATA_ROWS_PER_SHEET, DATA_ROWS_PER_SHEET)
        title = safe_sheet_title(table.title if k == 0 else f"{table.title} {k + 1}")
        ws = wb.create_sheet(title)
        titles.append(title)
        ws.freeze_panes = FREEZE.get(table.title, "A2")
        content, text_bytes = _measures(part)
        widths = _size_columns(ws, content)
        last_col = get_column_letter(max(1, len(part.columns)))
        ws.auto_filter.ref = f"A1:{last_col}{part.height + 1}"
        for col, allowed in (table.dropdown or {}).items():
            if col in part.columns:
                _dropdown(ws, part, col, allowed)
        for col in REVIEW_COLUMNS:  # what a reviewer types there stays text ("-see chart" is no formula)
            if col in part.columns:
                ws.column_dimensions[get_column_letter(part.columns.index(col) + 1)].number_format = "@"
        ws.append(_header(ws, part.columns, _numeric(part), CENTRE))  # data rows centre numbers and dates
        wrap = {c: widths[c] for c in part.columns if c in WRAP_COLUMNS}
        _pending(wb).append(PendingRows(  # rows spliced in by save()
            len(wb.worksheets) - 1, part, size_bound(text_bytes, part.height, len(part.columns)), wrap))
    return titles


def _pending(wb: Workbook) -> list[PendingRows]:
    return wb.__dict__.setdefault("_claims_audit_pending_rows", [])


def doc_labels() -> dict[str, str]:
    """How the Findings sheet names the concluded approach, vessel and side: the documentation
    vocabulary's labels (data/documentation/vocabulary.yaml), first letter capitalised."""
    from ..documentation import load_vocabulary

    return {k: v[:1].upper() + v[1:] for k, v in load_vocabulary().labels.items()}


def findings_frame(findings: pl.DataFrame) -> pl.DataFrame:
    """The Findings sheet's columns, in order (absent optional ones blank); doc_approach / doc_vessel /
    doc_side by their labels ("Abdominal and leg incisions", not ``abdominal_and_leg``)."""
    labels = doc_labels()
    cols = []
    for c in FINDINGS_SHEET_COLUMNS:
        if c not in findings.columns:
            cols.append(pl.lit(None, pl.String).alias(c))
        elif c in DOC_LABEL_COLUMNS:
            cols.append(pl.col(c).cast(pl.String).replace(labels))
        else:
            cols.append(pl.col(c))
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


# --- Summary -------------------------------------------------------------------------------------------

NOT_RUN = "not run (disabled)"  # the severity shown for a rule the rule configuration switched off
CHART_ANCHOR = "E2"  # the findings-per-rule chart, beside the totals
CHART_ROWS = 17  # rows (of the default height) the charts take
SUMMARY_WIDTHS = {"B": 22, "C": 13, "D": 13, "E": 13, "F": 14, "G": 13, "H": 15, "I": 66, "J": 50}
# the error last: it runs on to the right over the empty cells beside it
INPUT_COLUMNS = ("path", "status", "encoding", "rows_read", "rows_audited", "rows_rejected", "blank_lines",
                 "values_ignored", "sha256", "error")


@dataclass
class Summary:
    """What the Summary sheet shows. Items are (machine name, value): the sheet shows each by its label
    (:mod:`claims_audit.report.labels`), the manifest keeps the names.

    `by_rule`: rule_id, severity, enabled, findings (and with the ledger new, recurring, decided, closed,
    resolved); `history`: one row per recent night (run_date, findings, new, ...)."""

    totals: list[tuple[str, object]]
    details: list[tuple[str, object]]
    by_rule: pl.DataFrame
    inputs: pl.DataFrame
    notes: list[str]
    history: pl.DataFrame | None = None
    ignored: pl.DataFrame | None = None


class _SummaryWriter:
    """Appends the Summary's blocks to a write-only sheet, counting rows (charts and spacing need them)."""

    def __init__(self, ws):
        self.ws = ws
        self.row = 0

    def append(self, cells: list) -> int:
        self.ws.append(cells)
        self.row += 1
        return self.row

    def blank_until(self, row: int) -> None:
        while self.row < row - 1:
            self.append([])

    def styled(self, value: str, font: Font) -> WriteOnlyCell:
        c = WriteOnlyCell(self.ws, value=value)
        c.font = font
        return c

    def section(self, title: str) -> None:
        self.append([])
        self.append([self.styled(title, SECTION_FONT)])

    def items(self, items: list[tuple[str, object]], totals: bool = False) -> None:
        for key, value in items:
            row = [label(key, totals), _value_cell(self.ws, value)]
            if key == "exit_code" and value in EXIT_MEANINGS:
                row.append(self.styled(EXIT_MEANINGS[value], HINT_FONT))  # type: ignore[index]
            self.append(row)

    def table(self, frame: pl.DataFrame) -> tuple[int, int]:
        """Header and rows; returns (header row, last row). Text right after a column of (right-aligned)
        numbers is indented, so "3" and "utf-8" do not read as one value."""
        numeric = _numeric(frame)
        cells = _header(self.ws, [label(c) for c in frame.columns], numeric)
        after_number = [i for i in range(1, len(numeric)) if numeric[i - 1] and not numeric[i]]
        for i in after_number:
            cells[i].alignment = INDENT
        header = self.append(cells)
        for r in _rows(self.ws, clean_text_columns(frame)):
            for i in after_number:
                if isinstance(r[i], str):
                    r[i] = self.styled_cell(r[i], INDENT)
            self.append(r)
        return header, self.row

    def styled_cell(self, value: str, alignment: Alignment) -> WriteOnlyCell:
        c = WriteOnlyCell(self.ws, value=value)
        c.data_type = "s"
        c.alignment = alignment
        return c


def _small_text(size: int = 800) -> RichText:
    """Axis labels in a small font (size in hundredths of a point)."""
    props = CharacterProperties(sz=size)
    return RichText(p=[Paragraph(pPr=ParagraphProperties(defRPr=props), endParaRPr=props)])


def _rule_chart(ws, header: int, enabled: int) -> BarChart:
    """Horizontal bars of findings per enabled rule, listed top-down in the table's order."""
    chart = BarChart()
    chart.type = "bar"
    chart.title = "Findings per rule"
    chart.legend = None
    chart.x_axis.scaling.orientation = "maxMin"  # the first rule on top, as in the table
    chart.y_axis.title = "findings"
    chart.y_axis.majorGridlines = None
    chart.x_axis.txPr = _small_text()  # every rule id readable, none skipped
    chart.add_data(Reference(ws, min_col=3, min_row=header, max_row=header + enabled), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=header + 1, max_row=header + enabled))
    chart.height, chart.width = 8.5, 16
    return chart


def _night_chart(ws, history: pl.DataFrame, header: int, end: int) -> BarChart:
    trend = BarChart()
    trend.type = "col"
    trend.title = f"Findings per night (last {history.height} runs)"
    trend.y_axis.title = "findings"
    stacked = [c for c in ("new", "recurring", "decided") if c in history.columns]
    if stacked:  # new + recurring + decided = every finding of the night
        trend.grouping, trend.overlap = "stacked", 100
        for c in stacked:
            col = history.columns.index(c) + 1
            trend.add_data(Reference(ws, min_col=col, min_row=header, max_row=end), titles_from_data=True)
    else:
        trend.add_data(Reference(ws, min_col=2, min_row=header, max_row=end), titles_from_data=True)
    trend.set_categories(Reference(ws, min_col=1, min_row=header + 1, max_row=end))
    trend.x_axis.number_format = DATE_FORMAT
    trend.height, trend.width = 8.5, 16
    return trend


def by_rule_rows(by_rule: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """The per-rule table as shown: enabled rules first (in catalogue order), then the disabled ones with
    severity "not run (disabled)" and no count; returns it and the number of enabled rules."""
    enabled = by_rule.get_column("enabled").fill_null(True)
    shown = by_rule.with_columns(
        pl.when(enabled).then(pl.col("severity")).otherwise(pl.lit(NOT_RUN)).alias("severity"),
        pl.when(enabled).then(pl.col("findings")).otherwise(None).alias("findings"),
    ).with_columns(enabled.alias("enabled"))
    shown = pl.concat([shown.filter(pl.col("enabled")), shown.filter(~pl.col("enabled"))])
    return shown.drop("enabled"), int(enabled.sum())


def _summary_widths(ws, summary: Summary) -> None:
    """Column A fits the longest label, rule id, file name or note label (up to 60 characters)."""
    names = [label(k, True) for k, _ in summary.totals] + [label(k) for k, _ in summary.details]
    names += summary.by_rule.get_column("rule_id").to_list() + summary.inputs.get_column("path").to_list()
    if summary.ignored is not None:
        names += summary.ignored.get_column(summary.ignored.columns[0]).to_list()
    ws.column_dimensions["A"].width = min(60, max([24] + [len(str(n)) + 2 for n in names if n]))
    for letter, width in SUMMARY_WIDTHS.items():
        ws.column_dimensions[letter].width = width


def write_summary(wb: Workbook, summary: Summary) -> None:
    """Summary, made to be read on one screen first: the totals with the findings-per-rule chart beside
    them, the findings per rule, then what identifies the run (run ID, report seal, versions, rule
    configuration), each input's reconciliation, the nights before (with the ledger), folder entries not
    audited and the notes. Labels are words (:mod:`labels`); no auto-filter, nothing frozen."""
    ws = wb.create_sheet("Summary")
    _summary_widths(ws, summary)
    out = _SummaryWriter(ws)
    out.append([out.styled("Claims audit report", TITLE_FONT)])
    out.append(_header(ws, ["Totals", None, None]))
    out.items(summary.totals, totals=True)
    shown, enabled = by_rule_rows(summary.by_rule)
    out.blank_until(CHART_ROWS + 2)
    out.append([out.styled("Findings per rule", SECTION_FONT)])
    header, _ = out.table(shown)
    if enabled:
        ws.add_chart(_rule_chart(ws, header, enabled), CHART_ANCHOR)
    out.section("About this run")
    out.items(summary.details)
    out.section("Input files")
    out.table(summary.inputs.select([c for c in INPUT_COLUMNS if c in summary.inputs.columns]))
    if summary.history is not None and summary.history.height:
        history = summary.history.rename({summary.history.columns[0]: "night"})
        out.section("Findings per night")
        header, end = out.table(history)
        ws.add_chart(_night_chart(ws, history, header, end), f"A{end + 2}")
        out.blank_until(end + CHART_ROWS + 1)
    if summary.ignored is not None and summary.ignored.height:  # folder entries deliberately not audited
        out.section("Folder entries not audited")
        out.table(summary.ignored)
    if summary.notes:
        out.section("Notes")
        for n in summary.notes:
            out.append([label("note"), _value_cell(ws, n)])


def save(wb: Workbook, path: Path) -> None:
    """Save with openpyxl, then splice in the data rows of every table (see sheetxml)."""
    wb.save(str(path))
    splice(Path(path), _pending(wb))


def new_workbook() -> Workbook:
    return Workbook(write_only=True)
