"""MUE_EXCEEDED: units per member and date of service."""

from __future__ import annotations

import shutil

from claims_audit import ruledata
from claim_edit_lines import D, BOTH, line, run, keys


def test_mue_two_units_on_one_line():
    [f] = run(line(units=2), rule="MUE_EXCEEDED").to_dicts()
    assert f["line_key"] == 0 and f["related_claim_id"] is None
    assert f["reference"] == "NCCI MUE 34421 (Practitioner): 1 unit(s), MAI 3 (CMS Policy), effective 2024-07-01"


def test_mue_one_unit_and_bilateral_50_are_within_limit():
    assert run(line(), rule="MUE_EXCEEDED").is_empty()
    assert run(line(mods=("50",), dx=("I82413",)), rule="MUE_EXCEEDED").is_empty()


def test_mue_summed_across_claims_and_files_per_member_and_date():
    out = run(
        line(claim_id="A", source_file="a.csv"),
        line(claim_id="B", source_file="b.csv", line_number=3),
        line(claim_id="C", member_id="M2"),  # other member
        line(claim_id="D", service_date=D(2024, 8, 2)),  # other date
        rule="MUE_EXCEEDED",
    )
    [f] = out.to_dicts()
    assert (f["line_key"], f["related_claim_id"], f["related_line_number"]) == (1, "A", 1)
    assert "2 units" in f["message"]


def test_mue_effective_date_edge_and_second_version():
    assert run(line(units=2, service_date=D(2024, 6, 30)), rule="MUE_EXCEEDED").is_empty()  # before table
    assert keys(run(line(units=2, service_date=D(2024, 7, 1)), rule="MUE_EXCEEDED")) == [0]
    # the alt version raises the MUE of 34421 to 2 from 2024-10-01
    assert keys(run(line(units=2, service_date=D(2024, 9, 30)), data_dir=BOTH, rule="MUE_EXCEEDED")) == [0]
    assert run(line(units=2, service_date=D(2024, 10, 1)), data_dir=BOTH, rule="MUE_EXCEEDED").is_empty()
    [f] = run(line(units=3, service_date=D(2024, 10, 1)), data_dir=BOTH, rule="MUE_EXCEEDED").to_dicts()
    assert "2 unit(s), MAI 3" in f["reference"] and f["reference"].endswith("effective 2024-10-01")


def test_mue_value_comes_from_the_data_not_the_code(tmp_path):
    copy = tmp_path / "cms"
    shutil.copytree(ruledata.packaged_data_dir(), copy)
    mue = copy / "ncci_mue_2024-07-01.csv"
    mue.write_text(mue.read_text().replace("34421,1,3,CMS Policy,Practitioner", "34421,3,3,CMS Policy,Practitioner"))
    assert run(line(units=3), data_dir=copy, rule="MUE_EXCEEDED").is_empty()
    assert keys(run(line(units=4), data_dir=copy, rule="MUE_EXCEEDED")) == [0]
