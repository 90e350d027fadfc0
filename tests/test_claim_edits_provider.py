"""RENDERING_NPI_MISSING (the rule added by following docs/design.md, "Adding a rule")."""

from __future__ import annotations

from claim_edit_lines import keys, line, run
from conftest import line as extract_line, read_sheet, write_csv


def test_an_audited_line_without_npi_is_flagged_and_one_with_npi_is_not():
    out = run(line(rendering_npi=None), line(claim_id="C2", member_id="M2"), rule="RENDERING_NPI_MISSING")
    assert keys(out) == [0]
    [f] = out.to_dicts()
    assert f["severity"] == "warning" and "only looked within its own claim" in f["message"]


def test_other_codes_without_npi_are_not_this_rules_business():
    assert run(line(code="99213", rendering_npi=None), rule="RENDERING_NPI_MISSING").is_empty()


def test_an_invalid_npi_ignored_in_the_file_says_it_could_have_changed_the_finding(cli, tmp_path):
    src = write_csv(tmp_path / "x.csv", [extract_line(rendering_npi="1234567890")])  # bad check digit
    res = cli("run", src, "--out", tmp_path / "out", "--run-date", "2026-11-20", "--no-ledger", "-q")
    assert res.exit_code == 0, res.output
    [f] = [f for f in read_sheet(tmp_path / "out" / "claims-audit-2026-11-20.xlsx", "Findings", drop_blank=True)
           if f["rule_id"] == "RENDERING_NPI_MISSING"]
    assert "the ignored value could have changed this finding" in f["message"]
