"""The report reads without a glossary (issue 19, points 4 to 7), checked on the shipped sample.

Summary speaks words (labels, not snake_case) and shows the rules as configured; the manifest keeps the
machine names and adds the rule configuration's hash; dates are real Excel dates; long texts wrap in
their columns with rows tall enough; Findings puts the columns a reviewer filters on first and freezes
them; `review import` reads reports of the new and of the old column order and Summary layout.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils import get_column_letter
from typer.testing import CliRunner

from claims_audit.cli import app
from claims_audit.report import excel, labels
from claims_audit.review import SUMMARY_ITEMS, _norm
from conftest import REPO
from report_reading import summary_items, summary_rows, summary_table

NIGHT1, NIGHT2 = "2026-11-22", "2026-11-23"
SNAKE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")
CONFIG = "rules:\n  PTP_CONFLICT:\n    enabled: false\n  APPROACH_MISMATCH:\n    severity: review\n"


def _run(*args: object) -> None:
    r = CliRunner().invoke(app, [str(a) for a in args])
    assert r.exit_code in (0, 1), r.output  # 1: the sample holds deliberately bad rows


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    """The shipped sample audited two nights in a row with the review ledger (what `make audit` does)."""
    out = tmp_path_factory.mktemp("sample") / "reports"
    for night in (NIGHT1, NIGHT2):
        _run("run", REPO / "sample_claims", "--out", out, "--run-date", night, "--quiet")
    return out / f"claims-audit-{NIGHT2}.xlsx"


@pytest.fixture(scope="module")
def configured(tmp_path_factory) -> tuple[Path, Path]:
    """The sample with PTP_CONFLICT switched off and APPROACH_MISMATCH set to review."""
    base = tmp_path_factory.mktemp("configured")
    config = base / "rules.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    _run("run", REPO / "sample_claims", "--out", base / "out", "--run-date", NIGHT1, "--no-ledger",
         "--rule-config", config, "--quiet")
    return base / "out" / f"claims-audit-{NIGHT1}.xlsx", config


def _manifest(xlsx: Path) -> dict:
    return json.loads(xlsx.with_suffix(".json").read_text(encoding="utf-8"))


def _header(ws) -> dict[str, int]:
    return {c.value: c.column for c in ws[1]}


# --- point 4: words, not code --------------------------------------------------------------------------


def test_summary_labels_are_words_and_the_manifest_keeps_the_names(sample):
    items, m = summary_items(sample), _manifest(sample)
    rows = summary_rows(sample)
    shown = {r[0]: r[1] for r in rows if len(r) > 1 and isinstance(r[0], str)}
    assert shown["34421 lines audited"] == m["totals"]["lines_34421"] == items["lines_34421"]
    assert shown["Exit code"] == m["exit_code"] == 1 and shown["Findings open"] == m["ledger"]["open"]
    assert shown["Rows read"] == m["totals"]["rows_read"] and shown["Input files"] == len(m["inputs"])
    snake = [v for r in rows for v in r if isinstance(v, str) and SNAKE.match(v)]
    assert snake == [], f"Summary shows code, not words: {snake}"
    for key in ("lines_34421", "exit_code", "findings_open", "records_files_read", "ignored", "rule_config_sha256"):
        assert not SNAKE.match(labels.label(key)), key
    # the manifest keeps its machine names (additions only)
    assert {"run_date", "tool_version", "rules_version", "schema", "rule_config", "inputs", "ignored", "totals",
            "findings_by_rule", "exit_code", "outputs", "run_id", "ledger", "member_ids_masked"} <= set(m)
    assert set(m["totals"]) == {"rows_read", "rows_audited", "rows_rejected", "lines_34421", "findings"}
    assert set(m["ledger"]) >= {"previous_run_date", "open", "closed", "new", "recurring", "decided", "resolved"}


def test_review_import_finds_the_run_facts_by_their_labels():
    """review.py normalises a Summary label to words joined by underscores: the labels of the five items
    it reads must come back as their names."""
    for key in SUMMARY_ITEMS:
        assert _norm(labels.label(key)) == key, key


def test_findings_show_documentation_concepts_by_their_labels(sample):
    wb = openpyxl.load_workbook(sample, read_only=True)
    rows = list(wb["Findings"].iter_rows(values_only=True))
    wb.close()
    head = rows[0]
    values = {c: {r[head.index(c)] for r in rows[1:]} - {None} for c in excel.DOC_LABEL_COLUMNS}
    assert {"Abdominal and leg incisions", "Percutaneous mechanical thrombectomy"} <= values["doc_approach"]
    assert {"Inferior vena cava", "Iliac vein"} <= values["doc_vessel"]
    assert values["doc_side"] <= {"Left", "Right", "Bilateral"} and values["doc_side"]
    tokens = {"abdominal_and_leg", "catheter_lysis", "ivc", "iliac_vein", "leg_incision", "unknown", "left"}
    assert not tokens & set().union(*values.values())
    assert set().union(*values.values()) <= set(excel.doc_labels().values())


# --- point 5: the rules as configured ------------------------------------------------------------------


def test_summary_shows_disabled_rules_as_not_run_and_configured_severities(configured):
    xlsx, config = configured
    rules = {r["rule_id"]: r for r in summary_table(xlsx, "rule_id", "severity")}
    assert rules["PTP_CONFLICT"]["severity"] == excel.NOT_RUN and rules["PTP_CONFLICT"]["findings"] is None
    assert rules["APPROACH_MISMATCH"]["severity"] == "review" and rules["APPROACH_MISMATCH"]["findings"] > 0
    assert list(rules)[-1] == "PTP_CONFLICT", "rules that did not run come after those that did"
    # the chart draws the rules that ran, not the disabled one
    with zipfile.ZipFile(xlsx) as z:
        chart = next(z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/chart"))
    header_row = next(i for i, r in enumerate(summary_rows(xlsx), 1) if r[:2] == ("Rule", "Severity"))
    last_enabled = header_row + len(rules) - 1
    assert f"$C${header_row + 1}:$C${last_enabled}" in chart
    m = _manifest(xlsx)
    digest = hashlib.sha256(config.read_bytes()).hexdigest()
    assert m["rule_config_sha256"] == digest and m["rule_config"] == str(config)
    assert m["rules_disabled"] == ["PTP_CONFLICT"] and m["rule_severities"] == {"APPROACH_MISMATCH": "review"}
    assert summary_items(xlsx)["rule_config_sha256"] == digest


def test_defaults_record_no_configuration_hash(sample):
    m = _manifest(sample)
    assert m["rule_config"] is None and m["rule_config_sha256"] is None and m["rules_disabled"] == []
    assert summary_items(sample)["rule_config"] == "(defaults)"


# --- point 6: dates, wrapping, widths, filter, drop-down -----------------------------------------------


def test_summary_dates_are_real_dates_and_summary_has_no_filter(sample):
    wb = openpyxl.load_workbook(sample)
    ws = wb["Summary"]
    assert not ws.auto_filter.ref and ws.freeze_panes is None
    by_label = {r[0].value: r[1] for r in ws.iter_rows(max_col=2) if isinstance(r[0].value, str)}
    for name, day in (("Run date", NIGHT2), ("Previous run", NIGHT1)):
        cell = by_label[name]
        assert cell.is_date and cell.value.date() == dt.date.fromisoformat(day), name
        assert cell.number_format == "yyyy-mm-dd"
    nights = [c for c in ws["A"] if c.is_date and c.row > by_label["Previous run"].row]
    assert [c.value.date().isoformat() for c in nights] == [NIGHT1, NIGHT2]
    assert all(c.number_format == "yyyy-mm-dd" for c in nights)


def test_long_texts_wrap_in_their_columns_and_rows_are_tall_enough(sample):
    wb = openpyxl.load_workbook(sample)
    for sheet, wrapped in (("Findings", ("message", "evidence", "reference")),
                           ("Rules", ("checks", "why", "title")), ("Rejected", ("problem",))):
        ws = wb[sheet]
        col = _header(ws)
        for name in wrapped:
            letter = get_column_letter(col[name])
            cells = [c for c in ws[letter][1:] if c.value]
            assert cells and all(c.alignment.wrap_text for c in cells), (sheet, name)
            assert ws.column_dimensions[letter].width <= excel.WIDTHS[name], (sheet, name)
        # a row whose text runs over several lines is taller than one line
        longest = max(range(2, ws.max_row + 1), key=lambda r: len(str(ws.cell(r, col[wrapped[0]]).value or "")))
        text = str(ws.cell(longest, col[wrapped[0]]).value)
        width = ws.column_dimensions[get_column_letter(col[wrapped[0]])].width
        if len(text) > width * 1.5:
            assert ws.row_dimensions[longest].height >= 30, (sheet, longest)
        assert all(c.alignment.vertical == "top" for c in ws[longest] if c.value is not None), sheet


def test_columns_fit_their_content(sample):
    wb = openpyxl.load_workbook(sample)
    ws = wb["Findings"]
    col = _header(ws)
    rows = list(ws.iter_rows(min_row=2, values_only=True))

    def widest(name: str) -> int:
        return max(len(str(r[col[name] - 1])) for r in rows if r[col[name] - 1] is not None)

    def width(name: str) -> float:
        return ws.column_dimensions[get_column_letter(col[name])].width

    for name in ("rule_id", "claim_id", "member_id", "modifiers", "dx_codes", "doc_approach", "source_file"):
        assert width(name) == excel.column_width(name, widest(name)), name
        assert width(name) <= max(widest(name) * 1.1 + 2, len(name) * 1.1 + excel.FILTER_BUTTON + 1), name
    assert widest("rule_id") < width("rule_id") and widest("doc_approach") < width("doc_approach")
    assert width("units") <= 10 and width("severity") <= 12  # short values: narrow columns
    assert width("message") == excel.WIDTHS["message"]  # long texts: the column's wrap width


def test_disposition_drop_down_covers_rows_a_reviewer_adds(sample):
    wb = openpyxl.load_workbook(sample)
    for sheet in ("Findings", "Closed"):
        ws = wb[sheet]
        letter = get_column_letter(_header(ws)["disposition"])
        [dv] = ws.data_validations.dataValidation
        assert str(dv.sqref) == f"{letter}2:{letter}1048576", sheet


def test_sample_evidence_writes_diagnoses_with_the_dot(sample):
    wb = openpyxl.load_workbook(sample, read_only=True)
    rows = list(wb["Findings"].iter_rows(values_only=True))
    wb.close()
    head = rows[0]
    evidence = [r[head.index("evidence")] or "" for r in rows[1:]]
    diag = [e for e in evidence if e.startswith("diagnoses: ")]
    code = r"[A-Z][0-9][0-9A-Z](\.[0-9A-Z]+)?"  # a short code has no dot (I74), a longer one has it
    assert diag and all(re.fullmatch(f"diagnoses: {code}(, {code})*", e) for e in diag), diag[:3]
    messages = [r[head.index("message")] or "" for r in rows[1:] if r[head.index("rule_id")] == "PTP_CONFLICT"]
    assert messages and all("NCCI rationale: " in m and "NCCI: " not in m for m in messages)


# --- point 7: what a reviewer reaches first -------------------------------------------------------------


def test_findings_put_the_filter_columns_first_and_freeze_them(sample):
    wb = openpyxl.load_workbook(sample)
    for sheet in ("Findings", "Closed"):
        ws = wb[sheet]
        head = [c.value for c in ws[1]]
        assert head == excel.FINDINGS_SHEET_COLUMNS
        assert head[:7] == ["rule_id", "severity", "status", "claim_id", "line_number", "member_id", "service_date"]
        assert ws.freeze_panes == "E2"  # header row and rule, severity, status, claim stay in view
        # the review columns sit beside the message and evidence, not thirty columns to the right
        assert head.index("disposition") - head.index("message") <= 3


def test_summary_totals_and_chart_come_first_within_one_screen(sample):
    """One screen (1920 x 1080 at 100 %, about 40 rows and 250 characters of column width): the totals and
    the findings-per-rule chart beside them, then the findings per rule."""
    wb = openpyxl.load_workbook(sample)
    ws = wb["Summary"]
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    assert rows[1][0] == "Totals" and rows[2][0] == "Run date"
    rule_header = next(i for i, r in enumerate(rows, 1) if r[:2] == ["Rule", "Severity"])
    last_rule = rule_header + sum(1 for r in rows[rule_header:] if r and r[0] and str(r[0]).isupper())
    assert last_rule <= 40, "totals, chart and the rule table fit one screen"
    chart = ws._charts[0]
    anchor = chart.anchor._from
    assert (anchor.col, anchor.row) == (4, 1)  # E2, beside the totals
    left = sum(ws.column_dimensions[get_column_letter(i)].width for i in range(1, anchor.col + 1))
    assert left * 7 + chart.width / 2.54 * 96 <= 1900, "the chart is on screen beside the totals"
    run_id_row = next(i for i, r in enumerate(rows, 1) if r[0] == "Run ID")
    assert run_id_row < 100  # review import looks for the run facts in the first 200 rows


# --- review import of reports of the old layout --------------------------------------------------------

OLD_FINDINGS_COLUMNS = [
    "finding_id", "status", "source_file", "source_row", "claim_id", "line_number", "member_id",
    "rendering_npi", "service_date", "procedure_code", "modifiers", "units", "dx_codes", "rule_id",
    "severity", "message", "suggested_code", "evidence", "doc_approach", "doc_vessel", "doc_side",
    "documented_approach", "documented_site", "related_claim_id", "related_line_number", "reference",
    "previous_disposition", "previous_note", "disposition", "reviewer_note",
]


def _as_old_layout(report: Path, target: Path, decisions: dict[str, str]) -> Path:
    """The report as claims-audit wrote it before issue 19: Summary rows `item | value` under machine
    names, Findings in the old column order; with the reviewer's dispositions by claim id."""
    items = summary_items(report)
    wb = openpyxl.load_workbook(report)
    ws = wb["Findings"]
    head = [c.value for c in ws[1]]
    rows = [list(r) for r in ws.iter_rows(min_row=2, values_only=True)]
    old = openpyxl.Workbook()
    summary = old.active
    summary.title = "Summary"
    summary.append(["item", "value"])
    for key in ("run_date", "tool_version", "rules_version", "schema", "rule_config", "inputs", "rows_read",
                "run_id", "report_seal", "ledger"):
        value = items.get(key)
        summary.append([key, value.date() if isinstance(value, dt.datetime) else value])
    findings = old.create_sheet("Findings")
    findings.append(OLD_FINDINGS_COLUMNS)
    for r in rows:
        by_name = dict(zip(head, r))
        by_name["disposition"] = decisions.get(by_name["claim_id"])
        findings.append([by_name[c] for c in OLD_FINDINGS_COLUMNS])
    old.save(target)
    return target


def test_review_import_reads_reports_of_the_old_and_the_new_layout(cli, tmp_path):
    from test_review import review, run_night

    report = run_night(cli, tmp_path)
    ledger = tmp_path / "reports" / "claims-audit-ledger.sqlite"
    old = _as_old_layout(report, tmp_path / "old-layout.xlsx", {"CLM-SITE": "Not an error"})
    r = cli("review", "import", old, "--ledger", ledger)
    assert r.exit_code == 0, r.output
    assert "1 decision" in r.output or "recorded 1" in r.output or "1 recorded" in r.output, r.output
    new = review(report, {"CLM-APPROACH": ("Confirmed", "coder to fix")}, out=tmp_path / "new-layout.xlsx")
    r = cli("review", "import", new, "--ledger", ledger)
    assert r.exit_code == 0, r.output
    status = cli("review", "status", "--ledger", ledger)
    assert status.exit_code == 0 and "Confirmed" in status.output and "Not an error" in status.output
