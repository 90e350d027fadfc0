"""DIAGNOSIS_NOT_SUPPORTING and DIAGNOSIS_INVALID."""

from __future__ import annotations

import pytest

from claim_edit_lines import line, run, keys


@pytest.mark.parametrize(
    "dx",
    [("I82411",), ("I82220",), ("I82221",), ("I82421",), ("I82431",), ("I824Y1",), ("I82511",), ("I8011",),
     ("I80211",), ("I80221",), ("O2233", "I82401"), ("O871", "I82409"), ("I743", "I82412")],
)
def test_supporting_diagnoses(dx):
    assert run(line(dx=dx, mods=()), rule="DIAGNOSIS_NOT_SUPPORTING").is_empty()


def test_supporting_diagnosis_in_a_later_position_counts():
    dx = ("Z86718", "I2699", "E119", "I10", "I82412")
    assert run(line(dx=dx), rule="DIAGNOSIS_NOT_SUPPORTING").is_empty()


@pytest.mark.parametrize(
    "dx,words",
    [
        (("I743",), ["arterial", "34201"]),
        (("I82B11",), ["subclavian", "34471"]),
        (("I82A12",), ["axillary", "34490"]),
        (("I82451",), ["calf", "37187"]),
        (("I82811",), ["superficial"]),
        (("I2699",), ["pulmonary"]),
        (("Z86718",), ["history"]),
    ],
)
def test_diagnosis_pointing_to_another_family(dx, words):
    [f] = run(line(dx=dx), rule="DIAGNOSIS_NOT_SUPPORTING").to_dicts()
    assert f["severity"] == "error"
    for w in words:
        assert w in f["message"], f["message"]


def test_unnamed_deep_vein_is_a_review_query():
    [f] = run(line(dx=("I82401",)), rule="DIAGNOSIS_NOT_SUPPORTING").to_dicts()
    assert f["severity"] == "review"


def test_pregnancy_dvt_without_i82_and_no_dx_at_all():
    [f] = run(line(dx=("O2233",)), rule="DIAGNOSIS_NOT_SUPPORTING").to_dicts()
    assert "I82" in f["message"]
    [f] = run(line(dx=()), rule="DIAGNOSIS_NOT_SUPPORTING").to_dicts()
    assert "no diagnosis" in f["message"]


def test_diagnosis_rules_only_look_at_34421_lines():
    assert run(line(code="37187", dx=("I743", "XYZ12")), rule="DIAGNOSIS_NOT_SUPPORTING").is_empty()
    assert run(line(code="37187", dx=("XYZ12",)), rule="DIAGNOSIS_INVALID").is_empty()


# --- DIAGNOSIS_INVALID -------------------------------------------------------------------------------


def test_invalid_and_non_billable_codes():
    [f] = run(line(dx=("I82411", "I8241", "I8212")), rule="DIAGNOSIS_INVALID").to_dicts()
    assert "I82.41 is a heading" in f["message"] and "I82.411" in f["message"]
    assert "I8212 is not an ICD-10-CM code" in f["message"]
    assert f["evidence"] == "dx_2 = I82.41, dx_3 = I82.12"  # as dx_codes writes them (issue 19)
    assert "simple-icd-10-cm" in f["reference"]


def test_valid_codes_without_dots_are_accepted():
    assert run(line(dx=("I82411", "O2233", "Z86718", "I2699")), rule="DIAGNOSIS_INVALID").is_empty()


def test_category_and_chapter_are_not_billable():
    assert keys(run(line(dx=("I82",)), rule="DIAGNOSIS_INVALID")) == [0]
    assert keys(run(line(dx=("9",)), rule="DIAGNOSIS_INVALID")) == [0]
