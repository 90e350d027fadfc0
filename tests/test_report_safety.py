"""Safe spreadsheets and manifests (issue 4): nothing from the data becomes a formula, control
characters and long cells cannot break the workbook, overflow continues on numbered sheets, the JSON
follows OWASP's CSV-injection guidance."""

from __future__ import annotations

import json
import re

import openpyxl
import polars as pl
import pytest

from claims_audit.report import excel, safety
from conftest import HEADER
from hostile import (INJECTIONS, all_cell_text, assert_reconciled, csv_text, formula_elements, good, manifest,
                     run, sheet_names, sheet_rows, write_bytes, xlsx)


def _injected_extract(folder):
    """Every injection string in columns that reach Findings (34421 lines with a finding) and in
    columns that get rejected (so the raw value reaches the Rejected sheet)."""
    rows = []
    for i, s in enumerate(INJECTIONS):
        rows.append(good(i, documented_approach=s, documented_site=s, claim_id=f"{s}", member_id=f"{s}"))
        rows.append(good(100 + i, units=s))  # rejected: the raw value goes to the Rejected sheet
    header = HEADER + ["=EXTRA()"]
    return write_bytes(folder / "=1+1 @evil.csv", csv_text(rows, header=header))


def test_no_formula_element_comes_from_data(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative paths: the file name itself starts with '='
    (tmp_path / "in").mkdir()
    _injected_extract(tmp_path / "in")
    res = run(cli, "in/=1+1 @evil.csv", out=tmp_path / "out")
    assert res.exit_code == 1, res.output
    path = xlsx(tmp_path / "out")
    assert formula_elements(path) == {}, "a cell was stored as a formula"
    cells = all_cell_text(path)
    for s in INJECTIONS:
        assert any(c == s for c in cells), f"{s!r} not stored literally"  # a CR survives (&#13;)
    assert "in/=1+1 @evil.csv" in cells
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", (ws.title, c.coordinate, c.value)
                if c.value == "#N/A":
                    assert c.data_type == "s"  # text, not an error cell
    m = manifest(tmp_path / "out")
    assert_reconciled(m, sheet_rows(path, "Rejected"))
    findings = sheet_rows(path, "Findings")
    assert {f["claim_id"] for f in findings} >= {"=1+1", "@SUM(A1)", "-1", "+1"}


def _strings(doc):
    if isinstance(doc, str):
        yield doc
    elif isinstance(doc, dict):
        for k, v in doc.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from _strings(v)


def test_json_manifest_is_neutralised(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in").mkdir()
    _injected_extract(tmp_path / "in")
    write_bytes(tmp_path / "-minus.csv", b"")  # a rejected file whose name starts with '-'
    text = csv_text([good(1)], header=HEADER + ["+plus", "@at", "\ttab", "\rcr"])
    write_bytes(tmp_path / "@extra.csv", text)
    res = run(cli, "in", "-minus.csv", "@extra.csv", out=tmp_path / "out")
    assert res.exit_code == 1, res.output
    raw = (tmp_path / "out" / "claims-audit-2026-11-20.json").read_text(encoding="utf-8")
    doc = json.loads(raw)
    # only text from the claims files is neutralised; paths, delimiters and the like stay literal
    paths = [i["path"] for i in doc["inputs"]]
    assert "-minus.csv" in paths and "@extra.csv" in paths
    extra = next(i for i in doc["inputs"] if i["path"] == "@extra.csv")
    assert extra["unknown_columns"] == ["'+plus", "'@at", "'\ttab", "'\rcr"]
    claim_text = [s for i in doc["inputs"] for s in [*i["unknown_columns"], i["error"] or ""]]
    assert not [s for s in claim_text if s.startswith(safety.FORMULA_PREFIXES)]
    assert "\\t" in raw and "\t" not in raw.replace("\\t", "")  # control characters are escaped in JSON


def test_overflow_continues_on_numbered_sheets_with_a_note(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(excel, "DATA_ROWS_PER_SHEET", 3)
    rows = [good(i, documented_approach="percutaneous") for i in range(8)]
    rows += [good(50 + i, units="bad") for i in range(7)]
    src = write_bytes(tmp_path / "many.csv", csv_text(rows))
    out = tmp_path / "out"
    res = run(cli, src, out=out)
    assert res.exit_code == 1, res.output
    path = xlsx(out)
    names = sheet_names(path)
    assert names[:4] == ["Summary", "Findings", "Findings 2", "Findings 3"]
    assert {"Rejected", "Rejected 2", "Rejected 3", "Rules"} <= set(names)
    findings = [r for t in ("Findings", "Findings 2", "Findings 3") for r in sheet_rows(path, t)]
    assert [f["claim_id"] for f in findings] == [f"C{i}" for i in range(8)]
    assert [len(sheet_rows(path, t)) for t in ("Findings", "Findings 2", "Findings 3")] == [3, 3, 2]
    rejected = [r for t in ("Rejected", "Rejected 2", "Rejected 3") for r in sheet_rows(path, t)]
    assert [r["source_row"] for r in rejected] == list(range(10, 17))
    summary = [v for r in openpyxl.load_workbook(path, read_only=True)["Summary"].iter_rows(values_only=True)
               for v in r if isinstance(v, str)]
    assert any("Findings has more rows than one sheet holds" in v and "'Findings 2'" in v for v in summary)
    assert any("Rejected has more rows than one sheet holds" in v for v in summary)
    assert_reconciled(manifest(out))
    _assert_valid_sheet_names(names)


def _assert_valid_sheet_names(names):
    assert len({n.lower() for n in names}) == len(names)
    for n in names:
        assert 1 <= len(n) <= 31 and not re.search(r"[\[\]:*?/\\]", n) and not n.startswith("'")
        assert not n.endswith("'") and n.lower() != "history"


def test_writer_stores_hostile_text_as_text(tmp_path):
    values = INJECTIONS + ["a\x00b\x1fc\x7f", "x" * 40_000, "\ufffe\uffff", "", None, "ok"]
    frame = pl.DataFrame({"value": values, "n": list(range(len(values)))})
    wb = excel.new_workbook()
    excel.write_table(wb, excel.SheetTable("Data: [x]/y?*", frame))
    path = tmp_path / "t.xlsx"
    excel.save(wb, path)
    assert formula_elements(path) == {}
    (name,) = sheet_names(path)
    _assert_valid_sheet_names([name])
    got = [r["value"] for r in sheet_rows(path, name)]
    assert got[: len(INJECTIONS)] == INJECTIONS  # exactly, a CR included
    assert got[len(INJECTIONS)] == "a\u2400b\u241fc\u2421"
    assert len(got[len(INJECTIONS) + 1]) == 32_767
    assert got[len(INJECTIONS) + 2] == "\ufffd\ufffd"


# --- the helpers themselves -------------------------------------------------------------------------


@pytest.mark.parametrize("value,expected", [("=1", True), ("+1", True), ("-1", True), ("@A", True),
                                            ("\t=", True), ("\r=", True), ("#N/A", True), ("a=1", False),
                                            (" =1", False), ("", False), (None, False), (5, False)])
def test_formula_like(value, expected):
    assert safety.formula_like(value) is expected


def test_neutralize_follows_owasp():
    assert [safety.neutralize(s) for s in ["=1", "+1", "-1", "@x", "\tx", "\rx", "x=1", ""]] == [
        "'=1", "'+1", "'-1", "'@x", "'\tx", "'\rx", "x=1", ""]


def test_truncate_and_visible_controls():
    frame = pl.DataFrame({"s": ["a" * 32_767, "a" * 32_768, "é" * 32_767, "😀" * 20_000, "\x01\t\n\r", None]})
    out = safety.clean_text_columns(frame).get_column("s").to_list()
    assert out[0] == "a" * 32_767  # exactly at the limit: untouched
    assert len(out[1]) == 32_767 and out[1].endswith("[truncated: 32768 characters in the source]")
    assert out[2] == "é" * 32_767  # the limit counts characters, not bytes
    assert len(out[3].encode("utf-16-le")) // 2 <= 32_767 and "[truncated: 20000" in out[3]
    assert out[4] == "\u2401\t\n\r" and out[5] is None


@pytest.mark.parametrize("name,expected", [("Findings", "Findings"), ("a/b:c*d?e[f]g\\h", "a_b_c_d_e_f_g_h"),
                                           ("'quoted'", "quoted"), ("x" * 40, "x" * 31), ("", "Sheet"),
                                           ("History", "History_"), ("tab\there", "tab_here")])
def test_safe_sheet_title(name, expected):
    assert safety.safe_sheet_title(name) == expected
