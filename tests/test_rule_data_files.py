"""Every kind of shipped data file is read one way (issue 11): a missing, unreadable or malformed file is
one clean configuration error naming it (exit code 2), never an internal error (exit 4)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from claims_audit import documentation, ruledata, shipped
from claims_audit.errors import ConfigError
from claims_audit.rules import catalogue_entries
from claims_audit.rules import documentation as doc_rules


def _copy(folder: Path, tmp_path: Path) -> Path:
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy)
    return copy


@pytest.mark.parametrize("name, damage", [
    ("vocabulary.yaml", "approach: [unclosed\n"),
    ("vocabulary.yaml", "- a list, not a mapping\n"),
    ("negation.yaml", "max_scope: 100\n"),  # the required lists are missing
    ("abbreviations.csv", "concept,pattern\nfemoral_vein,cfv\n"),  # the scope column is missing
    ("devices.meta.yaml", ": : :\n"),
])
def test_a_broken_documentation_data_file_is_a_config_error(tmp_path, name, damage):
    folder = _copy(shipped.DOCUMENTATION_DATA, tmp_path)
    (folder / name).write_text(damage, encoding="utf-8")
    with pytest.raises(ConfigError, match="documentation rule data"):
        documentation.load_vocabulary(folder)


def test_a_missing_documentation_data_file_is_named(tmp_path):
    folder = _copy(shipped.DOCUMENTATION_DATA, tmp_path)
    (folder / "devices.csv").unlink()
    with pytest.raises(ConfigError, match="devices.csv"):
        documentation.load_vocabulary(folder)


def test_a_broken_crosswalk_is_a_config_error(tmp_path):
    path = tmp_path / "crosswalk.csv"
    path.write_text("approach,site\nx,y\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="crosswalk"):
        doc_rules.crosswalk(path)


@pytest.mark.parametrize("name, damage", [
    ("claim_edit_policy.yaml", "audited_codes: [unclosed\n"),
    ("ncci_mue_2024-07-01.meta.yaml", ": : :\n"),
])
def test_a_broken_cms_data_file_is_a_config_error(tmp_path, name, damage):
    folder = _copy(shipped.CMS_DATA, tmp_path)
    (folder / name).write_text(damage, encoding="utf-8")
    with pytest.raises(ConfigError):
        ruledata.load(folder)


def test_a_broken_rule_catalogue_is_a_config_error(tmp_path, monkeypatch):
    import claims_audit.rules as rules_module

    (tmp_path / "claim_edits.yaml").write_text("- id: X\n  title: [unclosed\n", encoding="utf-8")
    monkeypatch.setattr(rules_module, "RULE_CATALOGUE", tmp_path)
    with pytest.raises(ConfigError, match="rule catalogue"):
        catalogue_entries()


def test_one_place_locates_the_shipped_data():
    assert shipped.DATA.is_dir() and (shipped.DATA / "ruleset.yaml").is_file()
    assert shipped.schemas_dir().joinpath("claims-extract-v1.yaml").is_file()
    assert documentation.DATA == shipped.DOCUMENTATION_DATA and ruledata.packaged_data_dir() == shipped.CMS_DATA
