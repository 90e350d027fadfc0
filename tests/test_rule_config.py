"""--rule-config: organisations switch rules off or change severities; the report records it."""

from __future__ import annotations

from claims_audit.ruleconfig import load_rule_config
from claims_audit.rules import DATA
from conftest import line, manifest, read_sheet, write_csv


def _rows():
    return [line(claim_id="C1", documented_approach="percutaneous"),
            line(claim_id="C2", line_number="1", procedure_code="37187", documented_approach="",
                 documented_site="")]


def test_shipped_example_is_valid():
    doc = load_rule_config(DATA / "rule_config.example.yaml")
    assert "rules" in doc


def test_config_switches_off_and_changes_severity(cli, tmp_path):
    src = write_csv(tmp_path / "in.csv", _rows())
    res = cli("run", src, "--out", tmp_path / "a", "--run-date", "2026-11-20")
    assert res.exit_code == 0, res.output
    base = {r["rule_id"]: r for r in read_sheet(tmp_path / "a" / "claims-audit-2026-11-20.xlsx", "Findings")}
    assert {"APPROACH_MISMATCH", "PTP_CONFLICT"} <= set(base)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("rules:\n  PTP_CONFLICT:\n    enabled: false\n  APPROACH_MISMATCH:\n    severity: review\n")
    res = cli("run", src, "--out", tmp_path / "b", "--run-date", "2026-11-20", "--rule-config", cfg)
    assert res.exit_code == 0, res.output
    xlsx = tmp_path / "b" / "claims-audit-2026-11-20.xlsx"
    found = {r["rule_id"]: r for r in read_sheet(xlsx, "Findings")}
    assert "PTP_CONFLICT" not in found
    assert found["APPROACH_MISMATCH"]["severity"] == "review"
    rules = {r["rule_id"]: r for r in read_sheet(xlsx, "Rules")}
    assert rules["PTP_CONFLICT"]["enabled"] == "no"
    assert rules["APPROACH_MISMATCH"]["severity"] == "review"
    assert "NCCI PTP" in rules["PTP_CONFLICT"]["data"]
    assert manifest(tmp_path / "b")["rule_config"] == str(cfg)


def test_bad_config_is_exit_2(cli, tmp_path):
    src = write_csv(tmp_path / "in.csv", _rows())
    for text in ("rules:\n  NOT_A_RULE:\n    enabled: false\n", "rules:\n  PTP_CONFLICT:\n    severity: fatal\n",
                 "rules: [1, 2]\n", ": : :\n"):
        cfg = tmp_path / "cfg.yaml"
        cfg.write_text(text)
        res = cli("run", src, "--out", tmp_path / "o", "--rule-config", cfg)
        assert res.exit_code == 2, (text, res.output)
    assert not (tmp_path / "o").exists()
