"""--rule-config: organisations switch rules off or change severities; the report records it."""

from __future__ import annotations

import pytest

from claims_audit.errors import ConfigError
from claims_audit.ruleconfig import DEFAULT_OUTCOMES, ReviewOutcomes, load, parse
from claims_audit.rules import DATA
from conftest import line, manifest, read_sheet, write_csv


def _rows():
    return [line(claim_id="C1", documented_approach="percutaneous"),
            line(claim_id="C2", line_number="1", procedure_code="37187", documented_approach="",
                 documented_site="")]


def test_shipped_example_is_valid():
    config = load(DATA / "rule_config.example.yaml")
    assert config.rules and config.source.endswith("rule_config.example.yaml") and len(config.sha256) == 64


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


def test_review_outcomes_configuration():
    assert parse(None).review_outcomes is DEFAULT_OUTCOMES
    assert DEFAULT_OUTCOMES.names == ("Confirmed", "Corrected", "Not an error", "Provider education", "Deferred")
    assert DEFAULT_OUTCOMES.closing == ("Corrected", "Not an error")
    from claims_audit.report.excel import DEFAULT_DISPOSITIONS
    assert DEFAULT_DISPOSITIONS == DEFAULT_OUTCOMES.names  # the drop-down without a ledger is the same list
    assert DEFAULT_OUTCOMES.canonical("  not AN   error ") == "Not an error"
    assert DEFAULT_OUTCOMES.canonical("Maybe") is None
    custom = parse({"review_outcomes": ["Open", {"name": "Fixed", "closes": True,
                                                 "meaning": "fixed in the source"}]}, source="x.yaml").review_outcomes
    assert custom.names == ("Open", "Fixed") and custom.closing == ("Fixed",)
    assert ReviewOutcomes.from_json(custom.to_json()) == custom
    for bad in ([], "Confirmed", [{"name": "A,B"}], ["A", "a"], [{"name": "A", "closes": "yes"}],
                [{"title": "A"}], ["x" * 41], [f"{i:02d}" + "y" * 38 for i in range(7)]):
        with pytest.raises(ConfigError):
            parse({"review_outcomes": bad}, source="x.yaml")
