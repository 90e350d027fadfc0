"""MODIFIER_NOT_PAYABLE: assistant, co-surgeon and team modifiers."""

from __future__ import annotations

import shutil

import pytest

from claims_audit import ruledata
from claim_edit_lines import line, run


@pytest.mark.parametrize(
    "code,mod,severity",
    [
        ("34471", "80", "error"),  # assistant indicator 1: never
        ("34490", "AS", "error"),
        ("34421", "62", "review"),  # co-surgeon indicator 1: with documentation
        ("34490", "62", "error"),  # co-surgeon indicator 0
        ("34421", "66", "error"),  # team indicator 0
    ],
)
def test_modifier_not_payable(code, mod, severity):
    [f] = run(line(code=code, mods=(mod,)), rule="MODIFIER_NOT_PAYABLE").to_dicts()
    assert f["severity"] == severity
    assert f["reference"].startswith(f"PFS {code} ")


@pytest.mark.parametrize("code,mod", [("34421", "80"), ("34421", "81"), ("34421", "82"), ("34421", "AS"),
                                      ("37187", "62"), ("99213", "80")])
def test_modifier_payable(code, mod):
    assert run(line(code=code, mods=(mod,)), rule="MODIFIER_NOT_PAYABLE").is_empty()


@pytest.mark.parametrize("asst,severity", [("1", "error"), ("0", "review"), ("9", "warning"), ("2", None)])
def test_modifier_indicator_follows_the_data(tmp_path, asst, severity):
    copy = tmp_path / "cms"
    shutil.copytree(ruledata.packaged_data_dir(), copy)
    pfs = copy / "pfs_indicators_2024-01-01.csv"
    pfs.write_text(pfs.read_text().replace("34421,,A,090,2,1,2,1,0", f"34421,,A,090,2,1,{asst},1,0"))
    out = run(line(mods=("80",)), data_dir=copy, rule="MODIFIER_NOT_PAYABLE")
    assert out["severity"].to_list() == ([severity] if severity else [])
