"""Hostile extracts through the whole CLI (issue 4): the run finishes, audits everything it can, says
exactly what it could not read, and every input reconciles (rows read = audited + rejected).

Each damaged file is audited next to a clean companion file, which must be audited in full whatever
happens to the damaged one.
"""

from __future__ import annotations

import codecs
import datetime as dt
import os
from pathlib import Path

import openpyxl
import pytest

from claims_audit.readers import SUPPORTED_TEXT
from claims_audit import pipeline
from conftest import HEADER, line, write_xlsx
from hostile import (RUN_DATE, assert_reconciled, damaged_night, csv_text, formula_elements, good, header_text, manifest,
                     row_text, run, sheet_rows, write_bytes, xlsx)

COMPANION_ROWS = 3


def _audit(cli, tmp_path: Path, name: str, data: bytes | str | None, *, expect_exit: int):
    """Audit `name` (written from `data` unless None) with a clean companion; returns
    (manifest entry of `name`, Findings rows of `name`, Rejected rows of `name`, manifest)."""
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    if data is not None:
        write_bytes(folder / name, data)
    write_bytes(folder / "zz-companion.csv", csv_text([good(900 + i) for i in range(COMPANION_ROWS)]))
    out = tmp_path / "out"
    res = run(cli, folder, out=out)
    assert res.exit_code == expect_exit, res.output
    assert "Traceback" not in res.output
    m = manifest(out)
    rejected = sheet_rows(xlsx(out), "Rejected")
    assert_reconciled(m, rejected)
    by_path = {i["path"]: i for i in m["inputs"]}
    companion = by_path[str(folder / "zz-companion.csv")]
    assert (companion["status"], companion["rows_audited"]) == ("ok", COMPANION_ROWS)
    target = str(folder / name)
    findings = [r for r in sheet_rows(xlsx(out), "Findings") if r["source_file"] == target]
    return by_path[target], findings, [r for r in rejected if r["source_file"] == target], m


def _summary(entry):
    return entry["status"], entry["rows_read"], entry["rows_audited"], entry["rows_rejected"]


# --- encodings -------------------------------------------------------------------------------------


def test_utf8_bom(cli, tmp_path):
    entry, findings, _, _ = _audit(cli, tmp_path, "bom.csv", codecs.BOM_UTF8 + csv_text(
        [good(1, documented_approach="percutaneous")]).encode(), expect_exit=0)
    assert _summary(entry) == ("ok", 1, 1, 0) and entry["encoding"] == "utf-8-sig"
    assert entry["unknown_columns"] == []  # the BOM did not end up in the first header
    assert [f["claim_id"] for f in findings] == ["C1"]


def test_windows_1252_femoral_is_decoded_and_named_in_the_manifest(cli, tmp_path):
    text = csv_text([good(1, documented_approach="percutaneous", documented_site="left common Fémoral vein")])
    entry, findings, _, _ = _audit(cli, tmp_path, "cp1252.csv", text.encode("cp1252"), expect_exit=0)
    assert entry["encoding"] == "windows-1252" and _summary(entry) == ("ok", 1, 1, 0)
    assert findings[0]["documented_site"] == "left common Fémoral vein"


def test_crlf_and_quoted_operative_notes(cli, tmp_path):
    approach = 'Percutaneous, via "right IJ"\r\nthen "catheter" ""lysis""'
    rows = [good(1, documented_approach=approach, op_note='Note line 1,\r\n"quoted", line 2'), good(2)]
    entry, findings, _, _ = _audit(cli, tmp_path, "crlf.csv", csv_text(rows, lineterminator="\r\n"),
                                   expect_exit=0)
    assert _summary(entry) == ("ok", 2, 2, 0)
    assert [(f["claim_id"], f["source_row"]) for f in findings][:1] == [("C1", 2)]
    # the cell keeps its text exactly, CRLF included (a CR is written as &#13; in the sheet XML)
    assert findings[0]["documented_approach"] == approach


# --- structure --------------------------------------------------------------------------------------


def test_too_many_and_too_few_fields(cli, tmp_path):
    text = "\n".join([header_text(), row_text(good(1)), row_text(good(2)) + ",surplus",
                      ",".join(row_text(good(3)).split(",")[:4]), row_text(good(4))]) + "\n"
    entry, _, rejected, _ = _audit(cli, tmp_path, "ragged.csv", text, expect_exit=1)
    assert _summary(entry) == ("partial", 4, 2, 2)
    assert [(r["source_row"], r["problem"]) for r in rejected] == [
        (3, "row has 17 fields, the header has 16"), (4, "row has 4 fields, the header has 16")]


def test_empty_file(cli, tmp_path):
    entry, _, rejected, _ = _audit(cli, tmp_path, "empty.csv", b"", expect_exit=1)
    assert _summary(entry) == ("rejected", 0, 0, 0)
    assert entry["error"] == "file is empty (0 bytes)"
    assert rejected[0]["problem"] == "file rejected: file is empty (0 bytes)"


def test_header_only(cli, tmp_path):
    entry, _, rejected, _ = _audit(cli, tmp_path, "header.csv", header_text() + "\r\n", expect_exit=0)
    assert _summary(entry) == ("ok", 0, 0, 0) and rejected == []


def test_duplicate_header_names(cli, tmp_path):
    text = "\n".join([header_text() + ",UNITS", row_text(good(1)) + ",2", row_text(good(2)) + ",3"]) + "\n"
    entry, _, rejected, _ = _audit(cli, tmp_path, "dup.csv", text, expect_exit=1)
    assert _summary(entry) == ("rejected", 2, 0, 2)
    assert "header columns 6 ('units') and 17 ('UNITS') both stand for 'units'" in entry["error"]
    assert rejected[0]["column"] == "units"


def test_blank_lines_do_not_count_and_row_numbers_stay_true(cli, tmp_path):
    text = "\n".join([header_text(), "", row_text(good(1)), "", "", row_text(good(2, units="lots")),
                      "   ", row_text(good(3))]) + "\n\n"
    entry, _, rejected, _ = _audit(cli, tmp_path, "blank.csv", text, expect_exit=1)
    # rows 3, 6, 8 hold claims; row 7 holds only spaces: a row with 1 field, rejected as such
    assert _summary(entry) == ("partial", 4, 2, 2) and entry["blank_lines"] == 4
    assert [(r["source_row"], r["column"]) for r in rejected] == [(6, "units"), (7, None)]


@pytest.mark.parametrize("tail", ["C9,1,M9,2026-11", 'C9,1,M9,2026-11-02,34421,1,LT,,"cut off in a no'],
                         ids=["partial-line", "unterminated-quote"])
def test_trailing_partial_line(cli, tmp_path, tail):
    text = csv_text([good(1), good(2, op_note="two\nlines")]) + tail
    entry, _, rejected, _ = _audit(cli, tmp_path, "cut.csv", text, expect_exit=1)
    assert _summary(entry) == ("partial", 3, 2, 1)
    assert [r["source_row"] for r in rejected] == [4]


def test_missing_required_column_rejects_that_file_only(cli, tmp_path):
    header = [h for h in HEADER if h != "procedure_code"]
    entry, _, rejected, m = _audit(cli, tmp_path, "nocode.csv", csv_text([good(1), good(2)], header=header),
                                   expect_exit=1)
    assert _summary(entry) == ("rejected", 2, 0, 2)
    assert entry["error"] == "missing required column 'procedure_code'"
    assert m["totals"]["rows_audited"] == COMPANION_ROWS


def test_unknown_extra_columns_are_listed(cli, tmp_path):
    text = csv_text([good(1) | {"Payer Notes": "x", "=cmd": "y"}], header=HEADER + ["Payer Notes", "=cmd"])
    entry, _, _, _ = _audit(cli, tmp_path, "extra.csv", text, expect_exit=0)
    assert entry["unknown_columns"] == ["Payer Notes", "'=cmd"]  # neutralised in the JSON (OWASP)


# --- values ------------------------------------------------------------------------------------------


def test_bad_values_are_rejected_cell_by_cell(cli, tmp_path):
    rows = [good(1, service_date="2026-02-30"), good(2, units="two"), good(3, units="-1"),
            good(4, procedure_code=""), good(5, procedure_code="   "), good(6)]
    entry, _, rejected, _ = _audit(cli, tmp_path, "values.csv", csv_text(rows), expect_exit=1)
    assert _summary(entry) == ("partial", 6, 1, 5)
    got = [(r["source_row"], r["column"], r["value"]) for r in rejected]
    assert got == [(2, "service_date", "2026-02-30"), (3, "units", "two"), (4, "units", "-1"),
                   (5, "procedure_code", None), (6, "procedure_code", "   ")]


def test_codes_and_ids_keep_leading_zeros_letters_and_are_normalised(cli, tmp_path):
    rows = [good(1, member_id="000123", procedure_code=" 34421 ", modifier_1=" lt", dx_1=" i82.412 ",
                 documented_approach="percutaneous"),
            good(2, member_id="0001F", procedure_code="0001F"), good(3, procedure_code="g0439")]
    entry, findings, _, _ = _audit(cli, tmp_path, "codes.csv", csv_text(rows), expect_exit=0)
    assert _summary(entry) == ("ok", 3, 3, 0)
    f = findings[0]
    assert (f["member_id"], f["procedure_code"], f["modifiers"], f["dx_codes"]) == (
        "000123", "34421", "LT", "I82.412")


def test_long_cells_are_truncated_with_a_marker(cli, tmp_path):
    long_text = "percutaneous " + "x" * 40_000
    rows = [good(1, documented_approach=long_text), good(2, units="9" * 40_000)]
    entry, findings, rejected, _ = _audit(cli, tmp_path, "long.csv", csv_text(rows), expect_exit=1)
    assert _summary(entry) == ("partial", 2, 1, 1)
    cell = findings[0]["documented_approach"]
    assert len(cell) == 32_767 and cell.startswith("percutaneous xxx")
    assert cell.endswith(f"[truncated: {len(long_text)} characters in the source]")
    assert len(rejected[0]["value"]) == 32_767 and "[truncated: 40000 characters" in rejected[0]["value"]


def test_control_characters_are_made_visible(cli, tmp_path):
    rows = [good(1, documented_approach="percutaneous\x00\x07\x1b approach", documented_site="fem\x0bvein"),
            good(2, units="1\x00")]
    entry, findings, rejected, _ = _audit(cli, tmp_path, "ctl.csv", csv_text(rows), expect_exit=1)
    assert _summary(entry) == ("partial", 2, 1, 1)
    assert findings[0]["documented_approach"] == "percutaneous\u2400\u2407\u241b approach"
    assert findings[0]["documented_site"] == "fem\u240bvein"
    assert rejected[0]["value"] == "1\u2400"


def test_extract_saved_again_by_a_spreadsheet(cli, tmp_path):
    """Excel on Windows: cp1252, CRLF, money and dates as displayed, long ids in scientific notation,
    codes without their leading zeros, and formula-looking text in optional cells (issue 16)."""
    rows = [good(1, charge_amount="$2,400.00", service_date="11/2/2026 0:00",
                 documented_site="Fémoral vein"),
            good(2, charge_amount="(1,200.00)", rendering_npi="1.23457E+09", place_of_service="2",
                 documented_approach="percutaneous"),
            good(3, claim_id="2.61121E+11"), good(4, procedure_code="100"),
            good(5, charge_amount="=1+1", modifier_1="@SUM(A1)", dx_2="-2+3",
                 documented_approach="percutaneous")]
    text = csv_text(rows, lineterminator="\r\n")
    entry, findings, rejected, _ = _audit(cli, tmp_path, "excel.csv", text.encode("cp1252"), expect_exit=1)
    assert _summary(entry) == ("partial", 5, 3, 2) and entry["encoding"] == "windows-1252"
    assert entry["values_ignored"] == {"modifier_1": 1, "rendering_npi": 1, "place_of_service": 1,
                                       "charge_amount": 2, "dx_2": 1}
    assert {f["claim_id"] for f in findings} >= {"C1", "C2", "C5"}
    got = {(r["source_row"], r["column"]): (r["value"], r["outcome"]) for r in rejected}
    assert got[(6, "charge_amount")] == ("=1+1", "row audited without this value")  # text, never a formula
    assert got[(3, "rendering_npi")] == ("1.23457E+09", "row audited without this value")
    assert got[(4, "claim_id")] == ("2.61121E+11", "row rejected")
    assert got[(5, "procedure_code")] == ("100", "row rejected")
    assert all("spreadsheet probably" in r["problem"] for r in rejected
               if r["value"] in ("1.23457E+09", "2.61121E+11", "100", "2"))
    c5 = [f for f in findings if f["claim_id"] == "C5"]
    assert c5 and all('modifier_1 "@SUM(A1)"' in f["message"] for f in c5)
    assert formula_elements(xlsx(tmp_path / "out")) == {}


# --- files -------------------------------------------------------------------------------------------


def test_xlsx_numeric_then_text_codes(cli, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    for i in range(150):
        ws.append([f"C{i}", 1, 100000 + i, dt.datetime(2026, 11, 2), 99213, 1] + [None] * 10)
    ws.append(["CG", 1, "000123", "2026-11-02", "G0439", 1] + [None] * 10)
    ws.append(["CF", 1, "000124", "2026-11-02", "0001F", 1] + [None] * 10)
    ws.append(["CX", 1, "000125", "2026-11-02", "34421", 1] + [None] * 7 + ["percutaneous", "femoral vein",
                                                                          None])
    p = tmp_path / "in" / "mixed.xlsx"
    p.parent.mkdir()
    wb.save(p)
    entry, findings, rejected, _ = _audit(cli, tmp_path, "mixed.xlsx", None, expect_exit=0)
    assert _summary(entry) == ("ok", 153, 153, 0) and entry["encoding"] == "xlsx"
    assert [(f["claim_id"], f["member_id"], f["source_row"]) for f in findings][:1] == [("CX", "000125", 154)]


@pytest.mark.parametrize("name,data,reason", [
    ("corrupt.xlsx", b"PK\x03\x04" + b"\x00" * 64, "not a readable .xlsx workbook"),
    ("words.xlsx", b"claim_id\nC1\n", "not a readable .xlsx workbook"),
    ("binary.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "file is not text"),
    ("random.csv", bytes((i * 7919 + 13) % 256 for i in range(5000)), "file is not text"),
])
def test_corrupt_and_binary_files(cli, tmp_path, name, data, reason):
    entry, _, rejected, _ = _audit(cli, tmp_path, name, data, expect_exit=1)
    assert entry["status"] == "rejected" and reason in entry["error"]
    assert len(rejected) == 1 and rejected[0]["source_row"] is None


def test_workbook_saved_as_csv(cli, tmp_path):
    real = write_xlsx(tmp_path / "real.xlsx", [line()])
    entry, _, _, _ = _audit(cli, tmp_path, "export.csv", real.read_bytes(), expect_exit=1)
    assert entry["status"] == "rejected" and "not text" in entry["error"]


@pytest.mark.skipif(os.geteuid() == 0, reason="running as root: root can read a chmod 000 file, so "
                    "unreadability is simulated in test_unreadable_file_simulated instead")
def test_unreadable_file_chmod_000(cli, tmp_path):
    p = write_bytes(tmp_path / "in" / "locked.csv", csv_text([good(1)]))
    p.chmod(0)
    try:
        entry, _, _, _ = _audit(cli, tmp_path, "locked.csv", None, expect_exit=1)
    finally:
        p.chmod(0o600)
    assert entry["status"] == "rejected" and "Permission denied" in entry["error"]


def test_unreadable_file_simulated(cli, tmp_path, monkeypatch):
    p = write_bytes(tmp_path / "in" / "locked.csv", csv_text([good(1)]))
    real_open = Path.open

    def guarded(self, *a, **k):
        if self.name == p.name:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *a, **k)

    monkeypatch.setattr(Path, "open", guarded)
    entry, _, _, _ = _audit(cli, tmp_path, "locked.csv", None, expect_exit=1)
    assert _summary(entry) == ("rejected", 0, 0, 0)
    assert entry["error"] == "file cannot be read: Permission denied"


def test_missing_paths_broken_links_and_empty_folders_next_to_a_good_file(cli, tmp_path):
    good_file = write_bytes(tmp_path / "good.csv", csv_text([good(1), good(2)]))
    (tmp_path / "empty").mkdir()
    (tmp_path / "link.csv").symlink_to(tmp_path / "nowhere.csv")
    out = tmp_path / "out"
    res = run(cli, good_file, tmp_path / "missing.csv", tmp_path / "empty", tmp_path / "link.csv", out=out)
    assert res.exit_code == 1, res.output
    m = manifest(out)
    assert_reconciled(m, sheet_rows(xlsx(out), "Rejected"))
    assert [(i["status"], i["error"]) for i in m["inputs"]] == [
        ("ok", None), ("rejected", "path does not exist"),
        ("rejected", f"folder contains no supported files ({SUPPORTED_TEXT})"),
        ("rejected", "broken symbolic link: its target does not exist")]
    assert m["totals"]["rows_audited"] == 2


@pytest.mark.parametrize("what", ["missing", "empty-folder", "folder-of-other-files"])
def test_nothing_to_audit_is_a_usage_error(cli, tmp_path, what):
    target = tmp_path / "x"
    if what != "missing":
        target.mkdir()
    if what == "folder-of-other-files":
        (target / "notes.docx").write_text("x")
    out = tmp_path / "out"
    res = run(cli, target, out=out)
    assert res.exit_code == 2 and "Error: no input could be found" in res.output
    assert not out.exists() or not any(out.glob("claims-audit-*"))


def test_file_name_with_spaces_and_non_ascii(cli, tmp_path):
    entry, findings, _, m = _audit(cli, tmp_path, "Extrait fémoral (nuit 1).csv",
                                   csv_text([good(1, documented_approach="percutaneous")]), expect_exit=0)
    assert entry["path"].endswith("Extrait fémoral (nuit 1).csv") and _summary(entry) == ("ok", 1, 1, 0)
    assert findings and findings[0]["source_file"] == entry["path"]


# --- reconciliation ----------------------------------------------------------------------------------


def test_forced_reconciliation_mismatch_exits_4_and_writes_no_report(cli, tmp_path, monkeypatch):
    src = write_bytes(tmp_path / "a.csv", csv_text([good(1), good(2, units="x")]))
    real = pipeline._audit_input

    def broken(*a, **k):
        summary = real(*a, **k)
        summary.rows_rejected -= 1  # a row lost somewhere
        return summary

    monkeypatch.setattr(pipeline, "_audit_input", broken)
    out = tmp_path / "out"
    res = run(cli, src, out=out)
    assert res.exit_code == 4, res.output
    assert "internal error" in res.output and "M0002" not in res.output
    assert "rows but audited" in res.output  # the reconciliation check, not some other failure
    assert not out.exists() or not list(out.glob("claims-audit-*"))


def test_everything_at_once_reconciles(cli, tmp_path):
    """A folder of every kind of damage at once: one run, every input accounted for."""
    folder = damaged_night(tmp_path / "night")
    out = tmp_path / "out"
    res = run(cli, folder, out=out)
    assert res.exit_code == 1, res.output
    m = manifest(out)
    assert_reconciled(m, sheet_rows(xlsx(out), "Rejected"))
    status = {Path(i["path"]).name: _summary(i) for i in m["inputs"]}
    assert status == {
        "01 bom.csv": ("ok", 1, 1, 0), "02 cp1252.csv": ("ok", 1, 1, 0), "03 empty.csv": ("rejected", 0, 0, 0),
        "04 header.csv": ("ok", 0, 0, 0), "05 ragged.csv": ("partial", 2, 1, 1),
        "06 cut.csv": ("partial", 2, 1, 1), "07 binary.csv": ("rejected", 0, 0, 0),
        "08 corrupt.xlsx": ("rejected", 0, 0, 0), "09 values.csv": ("partial", 3, 0, 3),
        "10 blank.tsv": ("ok", 1, 1, 0), "11 excel.csv": ("partial", 3, 2, 1)}
    assert m["exit_code"] == 1 and m["totals"]["rows_audited"] == 7
    assert RUN_DATE in str(xlsx(out))


# --- every entry of a folder is accounted for (issue 18) ------------------------------------------


def _summary_tables(path: Path) -> list[tuple]:
    wb = openpyxl.load_workbook(path, read_only=True)
    rows = list(wb["Summary"].iter_rows(values_only=True))
    wb.close()
    return rows


def test_every_folder_entry_is_audited_rejected_or_ignored_by_rule(cli, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    write_bytes(folder / "a.csv", csv_text([good(1)]))
    os.symlink(folder / "gone.csv", folder / "broken.csv")
    write_bytes(folder / "old.xls", b"\xd0\xcf\x11\xe0 legacy")
    write_bytes(folder / "night.csv.gz", b"\x1f\x8b compressed")
    (folder / "archive").mkdir()
    write_bytes(folder / "archive" / "x.csv", csv_text([good(2)]))
    write_bytes(folder / ".DS_Store", b"finder")
    write_bytes(folder / "~$book.xlsx", b"lock")
    write_bytes(folder / "claims-audit-2026-11-19.json", "{}")  # a report folder given as input
    out = tmp_path / "out"
    res = run(cli, folder, out=out)
    assert res.exit_code == 1, res.output
    m = manifest(out)
    status = {Path(i["path"]).name: (i["status"], i["error"]) for i in m["inputs"]}
    assert status["a.csv"] == ("ok", None)
    assert status["broken.csv"] == ("rejected", "broken symbolic link: its target does not exist")
    assert status["old.xls"][0] == "rejected" and "unsupported file type '.xls'" in status["old.xls"][1]
    assert status["night.csv.gz"][0] == "rejected" and "decompress it first" in status["night.csv.gz"][1]
    ignored = {Path(i["path"]).name: i["reason"] for i in m["ignored"]}
    assert set(ignored) == {"archive", ".DS_Store", "~$book.xlsx", "claims-audit-2026-11-19.json"}
    assert "not searched recursively" in ignored["archive"]
    assert ignored[".DS_Store"] == "hidden file"
    assert set(status) | set(ignored) == {p.name for p in folder.iterdir()}, "nothing left out"
    summary = _summary_tables(xlsx(out))
    shown = {Path(str(r[0])).name for r in summary if r and r[0]}
    assert {"broken.csv", "old.xls", "night.csv.gz", "archive", ".DS_Store"} <= shown
    assert ("Not audited", "Reason") in [tuple(r[:2]) for r in summary if r]
    rejected = sheet_rows(xlsx(out), "Rejected")
    assert {Path(r["source_file"]).name for r in rejected} >= {"broken.csv", "old.xls", "night.csv.gz"}


def test_the_same_file_given_twice_is_audited_once(cli, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    rows = [good(1, documented_approach="percutaneous"), good(2, units="2"), good(3)]
    write_bytes(folder / "a.csv", csv_text(rows))
    write_bytes(tmp_path / "copy-of-a.csv", csv_text(rows))
    os.symlink(folder / "a.csv", tmp_path / "link.csv")
    out = tmp_path / "out"
    once = run(cli, folder / "a.csv", out=tmp_path / "once")
    twice = run(cli, folder, folder / "a.csv", tmp_path / "link.csv", tmp_path / "copy-of-a.csv", out=out)
    assert twice.exit_code == once.exit_code == 0, twice.output
    m, m_once = manifest(out), manifest(tmp_path / "once")
    assert [i["path"] for i in m["inputs"]] == [str(folder / "a.csv")]
    assert m["totals"] == m_once["totals"] and m["findings_by_rule"] == m_once["findings_by_rule"]
    reasons = {Path(i["path"]).name: i["reason"] for i in m["ignored"]}
    assert reasons["a.csv"] == f"duplicate: the same file as {folder / 'a.csv'}"
    assert reasons["link.csv"] == f"duplicate: the same file as {folder / 'a.csv'}"
    assert reasons["copy-of-a.csv"] == f"duplicate: same content (SHA-256) as {folder / 'a.csv'}"


def test_manifest_metadata_stays_literal(cli, tmp_path):
    """A TSV's delimiter is a tab, and a path is the path: only claim-derived text gets the quote."""
    tsv = write_bytes(tmp_path / "=night.tsv", csv_text([good(1)], header=HEADER + ["=odd"], delimiter="\t"))
    res = run(cli, tsv, out=tmp_path / "out")
    assert res.exit_code == 0, res.output
    entry = manifest(tmp_path / "out")["inputs"][0]
    assert entry["delimiter"] == "\t" and entry["path"] == str(tsv)
    assert entry["unknown_columns"] == ["'=odd"]
