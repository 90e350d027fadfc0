"""Fuzzing the readers, validation and report writer with random damaged extracts (issue 4).

Hypothesis builds extracts from random cells (unicode, control characters, quotes, separators, line
breaks, formula-looking text) and damages them (rows with fields dropped or added, a cut-off tail,
random bytes, another encoding or line ending). Whatever comes in:
- the run never raises (a bad file is rejected, never fatal) and its exit code is 0 or 1;
- every input reconciles: rows read = rows audited + rows rejected, and every rejected row of a partly
  rejected file is listed on its own row number;
- the report and manifest are written, and no cell of the workbook is a formula;
- when the damage is only at the level of fields (no cut, no random bytes), each audited line is the
  record the csv module finds at that spreadsheet row (nothing shifted, nothing lost).
Bounded (a few dozen examples each, no deadline) so the suite stays fast.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import tempfile
from pathlib import Path

import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claims_audit import pipeline
from claims_audit.readers import InputFile, _read_xlsx, read
from claims_audit.report import write_reports
from claims_audit.schema import load_layout
from conftest import HEADER, line
from hostile import INJECTIONS, formula_elements

RUN_DATE = dt.date(2026, 11, 20)
# CLAIMS_AUDIT_FUZZ_EXAMPLES=2000 for a deeper search (e.g. nightly); the default keeps the suite fast
EXAMPLES = int(os.environ.get("CLAIMS_AUDIT_FUZZ_EXAMPLES", "60"))
# CI runs a fixed set of examples (a red CI is then a real, repeatable regression, never the luck of a
# new draw); local runs, and deep runs with CLAIMS_AUDIT_FUZZ_EXAMPLES, explore new ones
DERANDOMIZE = bool(os.environ.get("CI"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, print_blob=True, derandomize=DERANDOMIZE,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

VALID = line()
SPECIAL = ["", " ", '"', '""', ",", ";", "|", "\t", "\n", "\r\n", "\x00", "\x1f", "\x1e", "\ufeff", "\u2028",
           "000123", "0001F", "G0439", " g0439 ", "34421", "2026-02-30", "11/02/2026", "-1", "0", "x",
           "Fémoral", "😀", "percutaneous", "left groin incision", "left common femoral vein", "I82.412",
           # what a spreadsheet writes when it saves an extract again (issue 16)
           "$1,234.50", "(12.00)", "($1,234.50)", "1,5", "2026-11-02 00:00:00", "2026-11-02T00:00:00",
           "11/2/2026 0:00", "20261102", "2026112", "2.61121E+11", "1.23457E+09", "100", "2",
           *INJECTIONS]
NASTY_CHARS = st.sampled_from(list('",;|\t\n\r\x00\x01\x07\x0b\x1b\x1f\x7f\x85 é€😀\ufeff\ufffe\u2028=+-@#'))
CELL = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(alphabet=st.one_of(NASTY_CHARS, st.characters(exclude_categories=("Cs",))), max_size=24),
)


@st.composite
def extracts(draw):
    """(file name, bytes, records as written when only fields were damaged else None, header)."""
    delimiter, suffix = draw(st.sampled_from([(",", ".csv"), ("\t", ".tsv"), ("|", ".txt")]))
    extra = ["notes", "=x", "Extra Col", "", "@y", "Notes", "misc", "payer", "claim id"]  # last: a duplicate
    header = list(HEADER) + draw(st.lists(st.sampled_from(extra), max_size=2))
    n = len(header)
    records = []
    for _ in range(draw(st.integers(0, 10))):
        # mostly a plausible line with a few random cells, sometimes all random
        if draw(st.booleans()):
            row = [VALID.get(h, "") for h in header]
            for _ in range(draw(st.integers(0, 4))):
                row[draw(st.integers(0, n - 1))] = draw(CELL)
        else:
            row = [draw(CELL) for _ in range(n)]
        change = draw(st.sampled_from([0, 0, 0, 0, 0, -1, -5, 1, 2, -n]))  # fields dropped / added
        row = row[: n + change] if change < 0 else row + [draw(CELL) for _ in range(change)]
        records.append(row)
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator=eol)
    w.writerow(header)
    w.writerows(records)
    text = buf.getvalue()
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "cp1252", "utf-16"]))
    data = text.encode(encoding, errors="replace")
    damage = draw(st.sampled_from(["none", "none", "cut", "bytes", "cut+bytes"]))
    if "cut" in damage and data:
        data = data[: draw(st.integers(0, len(data)))]
    if "bytes" in damage:
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(data)))
            data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    # the oracle: what Python's csv module reads, when only fields were damaged (no lone CR in cells)
    clean = (damage == "none" and encoding in ("utf-8", "utf-8-sig")
             and not any("\r" in c.replace("\r\n", "") for r in records for c in r))
    oracle = records if clean else None
    return f"extract{suffix}", data, oracle, header


def _check_run(paths: list[Path], out: Path) -> pipeline.AuditResult:
    result = pipeline.run(paths, RUN_DATE)  # must not raise, whatever the content
    assert int(result.exit_code) in (0, 1)
    for i in result.inputs:
        assert i.rows_read == i.rows_audited + i.rows_rejected, i
        mine = result.rejected.filter(result.rejected["source_file"] == i.path)
        if i.status == "rejected":
            assert mine.height >= 1 and mine["source_row"].null_count() == mine.height
            assert "unexpected" not in (i.error or ""), i.error  # a reader bug, not a bad file
        else:  # every rejected row listed; a row audited without a bad optional value is not rejected
            lost = mine.filter(mine["outcome"] == "row rejected")
            assert lost["source_row"].n_unique() == i.rows_rejected
            kept = mine.filter(mine["outcome"] == "row audited without this value")
            assert kept.height == sum(i.values_ignored.values())
            assert not set(kept["source_row"]) & set(lost["source_row"])
            assert mine.height == lost.height + kept.height
    paths_written = write_reports(result, out)
    assert formula_elements(paths_written.xlsx) == {}
    assert paths_written.json.exists()
    return result


@FUZZ
@given(extracts())
def test_random_damaged_extracts_never_crash_and_reconcile(extract):
    name, data, oracle, header = extract
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / name
        src.write_bytes(data)
        result = _check_run([src], Path(tmp) / "out")
        (summary,) = result.inputs
        if oracle is not None and summary.status != "rejected":
            _compare_with_csv_module(src, oracle, header, summary)


def _compare_with_csv_module(src: Path, records: list[list[str]], header: list[str],
                             summary: pipeline.InputSummary) -> None:
    """The record the csv module wrote at spreadsheet row r is the one read at row r: audited or
    cell-rejected when its width is right, structurally rejected otherwise; blank lines are no rows."""
    raw = read(InputFile(src, str(src)), load_layout())
    expected = {k + 2: rec for k, rec in enumerate(records) if rec}
    assert raw.rows_read == summary.rows_read == len(expected)
    got = dict(raw.frame.select("source_row", "claim_id").iter_rows())
    broken = set(raw.structural.get_column("source_row").to_list())
    assert set(got) | broken == set(expected) and not set(got) & broken
    first = header.index("claim_id")
    for row, rec in expected.items():
        if len(rec) != len(header):
            assert row in broken, (row, rec)
        else:
            assert row in got, (row, rec)
            assert got[row] == (rec[first] or None), (row, got[row], rec[first])


@settings(max_examples=max(15, EXAMPLES // 4), deadline=None, derandomize=DERANDOMIZE,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(
    st.one_of(st.none(), st.integers(-10**12, 10**12), st.floats(allow_nan=False, allow_infinity=False),
              st.booleans(), st.dates(), st.datetimes(),
              st.text(alphabet=st.characters(exclude_categories=("Cs", "Cc")), max_size=20),
              st.sampled_from(SPECIAL[:1] + INJECTIONS[:4])),
    min_size=0, max_size=len(HEADER) + 1), max_size=8))
def test_random_workbooks_never_crash_and_reconcile(rows):
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "book.xlsx"
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.append(HEADER)
        for r in rows:
            ws.append([v if not (isinstance(v, str) and v.startswith("=")) else "'" + v for v in r])
        wb.save(src)
        result = _check_run([src], Path(tmp) / "out")
        assert result.inputs[0].rows_read == sum(1 for r in rows if any(
            v is not None and v != "" for v in r))


@settings(max_examples=max(15, EXAMPLES // 4), deadline=None, derandomize=DERANDOMIZE,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 10**12), st.sampled_from(
    ["General", "0", "000000", '"M"00000', "00", "0.000", "#,##0", "000;[Red]-000", "@"])),
    min_size=1, max_size=8))
def test_random_number_formats_read_as_excel_shows_them(cells):
    """A member id stored as a number is read as Excel shows it: zero-padded where its format pads (the
    duplicate of 000123 in a CSV must be found), as the plain number under any other format."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "book.xlsx"
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.append(["claim_id", "member_id"])
        for k, (value, fmt) in enumerate(cells):
            ws.append([f"C{k}", value])
            ws.cell(row=k + 2, column=2).number_format = fmt
        wb.save(src)
        parsed = _read_xlsx(src)
        shown = {"000000": "{:06d}", '"M"00000': "M{:05d}", "00": "{:02d}", "000;[Red]-000": "{:03d}"}
        expected = [shown.get(fmt, "{}").format(value) for value, fmt in cells]
        assert parsed.body.get_column("__c1").to_list() == expected


# --- PHI: random member ids never reach a masked report (issue 17) -------------------------------------

# ids with a letter past F, so that no hex colour or number in the workbook's own XML can match one
MEMBER_IDS = st.from_regex(r"[0-9A-Z]{0,5}[G-Z][0-9A-Z]{4,6}", fullmatch=True)
# lines around one member's 34421 that the claim edits pair up (PTP, MUE, duplicate, global period)
EDIT_LINES = [dict(), dict(procedure_code="37187"), dict(units="2"), dict(claim_id="C-dup"),
              dict(procedure_code="99213", service_date="2026-11-12", modifier_1=""),
              dict(procedure_code="75822"), dict(modifier_1="RT"), dict(dx_1="I82.A12")]


@settings(max_examples=max(10, EXAMPLES // 4), deadline=None, derandomize=DERANDOMIZE,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(MEMBER_IDS, st.lists(st.sampled_from(range(len(EDIT_LINES))), min_size=1,
                                               max_size=5), st.booleans()),
                min_size=1, max_size=6, unique_by=lambda t: t[0]))
def test_random_member_ids_never_reach_a_masked_report(members):
    from claims_audit.audit import audit
    from claims_audit.report import MASK_KEY_ENV
    from conftest import write_csv
    from phi_scan import hits_anywhere

    rows = []
    for m, (member, picks, rejected) in enumerate(members):
        for n, pick in enumerate(picks):
            row = line(**{"claim_id": f"C{m}", "line_number": str(n + 1), "member_id": member,
                          **EDIT_LINES[pick]})
            if rejected and n == 0:  # a member_id cell rejected for a line break: its value is masked
                row["member_id"] = member + "\nx"
            rows.append(row)
    old = os.environ.get(MASK_KEY_ENV)
    os.environ[MASK_KEY_ENV] = "fuzz-key-of-at-least-16-chars"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            src = write_csv(Path(tmp) / "in" / "night.csv", rows)
            out = Path(tmp) / "out"
            outcome = audit([src], out=out, run_date=RUN_DATE, mask=True)
            assert outcome.result.totals["rows_read"] == len(rows)
            assert hits_anywhere(out, {member for member, _, _ in members}) == []
    finally:
        if old is None:
            os.environ.pop(MASK_KEY_ENV, None)
        else:
            os.environ[MASK_KEY_ENV] = old
