"""Reading the YAML/TOML files people supply: every way they can be wrong is one ConfigError naming the
file and what it was meant to be."""

from __future__ import annotations

import pytest

from claims_audit import configfile
from claims_audit.errors import ConfigError, ExitCode


def test_documents_are_parsed_as_yaml_or_by_suffix_as_toml(tmp_path):
    (tmp_path / "a.yaml").write_text("columns:\n  Member: member_id\n", encoding="utf-8")
    (tmp_path / "a.toml").write_text('[columns]\nMember = "member_id"\n', encoding="utf-8")
    assert configfile.load(tmp_path / "a.yaml", "mapping file") == {"columns": {"Member": "member_id"}}
    assert configfile.load(tmp_path / "a.toml", "mapping file", toml=True) == {"columns": {"Member": "member_id"}}
    with pytest.raises(ConfigError, match="cannot be parsed"):  # TOML only where the caller accepts it
        configfile.load(tmp_path / "a.toml", "schema file")


@pytest.mark.parametrize("make, expected", [
    (lambda p: None, "schema file not found: "),
    (lambda p: p.mkdir(), "cannot be read: IsADirectoryError"),
    (lambda p: p.write_bytes(b"name: \xff\xfe\n"), "cannot be read: UnicodeDecodeError"),
    (lambda p: p.write_text("columns: [unclosed\n", encoding="utf-8"), "cannot be parsed: "),
])
def test_each_problem_is_one_config_error_naming_the_file(tmp_path, make, expected):
    p = tmp_path / "layout.yaml"
    make(p)
    with pytest.raises(ConfigError) as exc:
        configfile.load(p, "schema file")
    assert expected in str(exc.value) and str(p) in str(exc.value)
    assert exc.value.exit_code == ExitCode.USAGE
