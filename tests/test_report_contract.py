"""The report contract: sheets, columns, formats, manifest keys (downstream users rely on them)."""

from __future__ import annotations

import datetime as dt
import stat

import openpyxl

from conftest import line, manifest, read_sheet, write_csv

FINDINGS_REQUIRED = ["finding_id", "source_file", "source_row", "claim_id", "line_number", "member_id",
                     "rendering_npi", "service_date", "procedure_code", "modifiers", "units", "dx_codes",
                     "rule_id", "severity", "message", "suggested_code", "evidence", "documented_approach",
                     "documented_site", "disposition", "reviewer_note"]


def _run(cli, tmp_path, rows):
    src = write_csv(tmp_path / "in.csv", rows)
    out = tmp_path / "out"
    res = cli("run", src, "--out", out, "--run-date", "2026-11-20", "--no-ledger")
    if res.exit_code not in (0, 1):  # --no-ledger may not exist yet in older builds of the CLI
        res = cli("run", src, "--out", out, "--run-date", "2026-11-20")
    return res, out


def test_workbook_contract(cli, tmp_path):
    res, out = _run(cli, tmp_path, [line(), line(claim_id="C2", member_id="M2", documented_approach="percutaneous",
                                             modifier_1="RT", modifier_2="59", dx_2="E11.9"),
                                    line(claim_id="C3", member_id="M3", units="zero")])
    assert res.exit_code == 1, res.output
    path = out / "claims-audit-2026-11-20.xlsx"
    assert sorted(p.name for p in out.iterdir() if not p.name.endswith(".sqlite")) == [
        "claims-audit-2026-11-20.json", "claims-audit-2026-11-20.xlsx"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[:4] == ["Summary", "Findings", "Rejected", "Rules"]
    for ws in wb.worksheets:  # data sheets: frozen header (and rule..claim on Findings), auto-filter
        if ws.title == "Summary":
            assert not ws.auto_filter.ref and ws.freeze_panes is None, "Summary is no filtered table"
            continue
        assert ws.freeze_panes == {"Findings": "E2", "Rules": "B2"}.get(ws.title, "A2"), ws.title
        assert ws.auto_filter.ref, ws.title
    f = wb["Findings"]
    header = [c.value for c in f[1]]
    for col in FINDINGS_REQUIRED:
        assert col in header, col
    row = {h: c for h, c in zip(header, f[2])}
    assert isinstance(row["service_date"].value, dt.datetime) and row["service_date"].is_date
    assert row["modifiers"].value == "RT,59"
    assert row["dx_codes"].value == "I82.412,E11.9"
    assert row["rule_id"].value == "APPROACH_MISMATCH" and row["suggested_code"].value == "37187"
    dv = f.data_validations.dataValidation
    assert any("Confirmed" in (d.formula1 or "") for d in dv)
    col_letter = openpyxl.utils.get_column_letter(header.index("disposition") + 1)
    assert any(col_letter in str(d.sqref) for d in dv)
    rejected = read_sheet(path, "Rejected")
    assert rejected == [{"source_file": str(tmp_path / "in.csv"), "source_row": 4, "column": "units",
                         "value": "zero", "problem": "units must be a whole number of at least 1",
                         "outcome": "row rejected"}]
    rules = read_sheet(path, "Rules")
    assert {"APPROACH_MISMATCH", "SITE_MISMATCH", "DOCUMENTATION_INCOMPLETE"} <= {r["rule_id"] for r in rules}
    assert all(r["rules_version"] for r in rules)
    summary = wb["Summary"]
    assert summary._charts, "Summary has a bar chart of findings per rule"


def test_manifest_contract(cli, tmp_path):
    _, out = _run(cli, tmp_path, [line(), line(claim_id="C3", member_id="M3", service_date="2026-02-30")])
    m = manifest(out)
    for key in ("run_date", "tool_version", "rules_version", "inputs", "totals", "findings_by_rule", "exit_code"):
        assert key in m
    i = m["inputs"][0]
    for key in ("path", "sha256", "rows_read", "rows_audited", "rows_rejected", "status", "error"):
        assert key in i
    assert len(i["sha256"]) == 64
    assert i["rows_read"] == i["rows_audited"] + i["rows_rejected"] == 2
    assert set(m["totals"]) >= {"rows_read", "rows_audited", "rows_rejected", "lines_34421", "findings"}
    assert m["exit_code"] == 1


def test_rerun_replaces_outputs_with_identical_findings(cli, tmp_path):
    rows = [line(claim_id=f"C{i}", member_id=f"M{i}", documented_site="SFA") for i in range(4)]
    _, out = _run(cli, tmp_path, rows)
    first = read_sheet(out / "claims-audit-2026-11-20.xlsx", "Findings")
    _, out = _run(cli, tmp_path, rows)
    second = read_sheet(out / "claims-audit-2026-11-20.xlsx", "Findings")
    assert first == second and len(first) == 4
    assert len(list(out.glob("*.xlsx"))) == 1
