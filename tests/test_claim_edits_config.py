"""The claim edits under a rule configuration; the catalogue and the Rules sheet."""

from __future__ import annotations

import pytest

from claims_audit.errors import ConfigError
from claims_audit.report.excel import rules_frame
from claims_audit.ruleconfig import DEFAULT, SEVERITIES, RuleSetting, load, parse
from claims_audit.rules import DATA, catalogue, catalogue_entries
from claims_audit.rules.registry import rule_ids
from claim_edit_lines import keys, line, run


def test_rule_can_be_switched_off():
    rows = (line(), line(code="37187"))
    assert keys(run(*rows, rule="PTP_CONFLICT")) == [1]
    assert run(*rows, config={"rules": {"PTP_CONFLICT": {"enabled": False}}}, rule="PTP_CONFLICT").is_empty()


def test_severity_override_applies_to_every_finding_of_the_rule():
    cfg = {"rules": {"LATERALITY_CONFLICT": {"severity": "info"}, "APPROACH_MISMATCH": {"enabled": False}}}
    out = run(line(mods=("RT",), dx=("I82412",)), line(mods=("RT",), dx=("I82419",), member_id="M2"),
              config=cfg, rule="LATERALITY_CONFLICT")
    assert out["severity"].to_list() == ["info", "info"]


@pytest.mark.parametrize(
    "cfg",
    [
        {"rules": {"PTP_CONFLICT": {"severity": "fatal"}}},
        {"rules": {"PTP_CONFLICT": {"enabled": "no"}}},
        {"rules": {"PTP_CONFLICT": {"colour": "red"}}},
        {"rules": ["PTP_CONFLICT"]},
        {"allow_25_for_em_day_of_surgery": "yes"},
        ["not", "a", "mapping"],
    ],
)
def test_invalid_configuration_is_a_config_error(cfg):
    with pytest.raises(ConfigError):
        parse(cfg)


@pytest.mark.parametrize("text,named", [
    ("rulez:\n  PTP_CONFLICT: {enabled: false}\n", "unknown setting 'rulez' (did you mean 'rules'?)"),
    ("allow_25_for_em_day_of_surgry: true\n",
     "unknown setting 'allow_25_for_em_day_of_surgry' (did you mean 'allow_25_for_em_day_of_surgery'?)"),
    ("rules:\n  PTP_CONFLICTS: {enabled: false}\n", "unknown rule id 'PTP_CONFLICTS' (did you mean 'PTP_CONFLICT'?)"),
    ("rules:\n  PTP_CONFLICT: {enable: false}\n", "unknown setting 'enable' (did you mean 'enabled'?)"),
    ("review_outcomes:\n  - {name: Fixed, close: true}\n", "unknown setting 'close' (did you mean 'closes'?)"),
])
def test_a_misspelt_key_at_any_level_is_named_with_its_file_and_the_closest_key(tmp_path, text, named):
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert str(path) in str(caught.value) and named in str(caught.value)


def test_example_configuration_file_is_valid_and_documents_every_rule():
    path = DATA / "rule_config.example.yaml"
    config = load(path)
    assert config.allow_25_for_em_day_of_surgery is False
    text = path.read_text()
    for rid in rule_ids():
        assert rid in text
    assert config.rules["BILATERAL_FORMAT"] == RuleSetting(enabled=True, severity="warning")


def test_load_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [unclosed\n")
    with pytest.raises(ConfigError):
        load(bad)


def test_the_configuration_is_frozen():
    config = parse({"rules": {"PTP_CONFLICT": {"enabled": False}}})
    with pytest.raises(AttributeError):
        config.allow_25_for_em_day_of_surgery = True  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.rules["PTP_CONFLICT"] = RuleSetting()  # type: ignore[index]


# --- catalogue / registry / Rules sheet -------------------------------------------------------------


def test_registry_and_catalogue_name_the_same_rules():
    words = [e["id"] for e in catalogue_entries()]
    assert sorted(words) == sorted(rule_ids()) and len(words) == len(set(words))
    for r in catalogue():
        assert r.severity in SEVERITIES and r.title and r.checks and r.why and r.source and r.tables
        # no AMA CPT descriptor text (descriptors start like "Thrombectomy, direct or with catheter")
        assert "direct or with catheter" not in " ".join((r.title, r.checks, r.why)).lower()


def test_a_catalogue_entry_without_a_check_or_a_check_without_words_is_an_error(monkeypatch):
    import claims_audit.rules as rules_module

    entries = catalogue_entries()
    monkeypatch.setattr(rules_module, "catalogue_entries", lambda: entries[:-1])
    rules_module.catalogue.cache_clear()
    try:
        with pytest.raises(ValueError, match="disagree"):
            rules_module.catalogue()
        monkeypatch.setattr(rules_module, "catalogue_entries", lambda: [*entries, {**entries[0], "id": "NEW_RULE"}])
        rules_module.catalogue.cache_clear()
        with pytest.raises(ValueError, match="NEW_RULE"):
            rules_module.catalogue()
    finally:
        rules_module.catalogue.cache_clear()


def test_rules_sheet_names_the_table_versions_each_rule_reads():
    frame = rules_frame("v", DEFAULT)
    data = dict(zip(frame["rule_id"], frame["data"]))
    assert "ncci_ptp_practitioner NCCI PTP practitioner 2024Q3 (effective 2024-07-01)" in data["PTP_CONFLICT"]
    assert "ncci_mue" in data["MUE_EXCEEDED"] and "ncci_ptp" not in data["MUE_EXCEEDED"]
    assert "icd10cm" in data["DIAGNOSIS_INVALID"]
    assert "documentation/crosswalk" in data["APPROACH_MISMATCH"]


def test_the_readme_rules_table_lists_every_registered_rule():
    from conftest import REPO

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("### Rules"):readme.index("### Rule configuration")]
    assert [rid for rid in rule_ids() if f"| `{rid}` |" not in table] == []
