"""GLOBAL_PERIOD_EM: visits and procedures in the global period."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from claim_edit_lines import D, SURGERY, NPI2, line, run, keys, em


def test_em_day_before_without_57():
    [f] = run(line(), em(-1), rule="GLOBAL_PERIOD_EM").to_dicts()
    assert (f["line_key"], f["related_claim_id"], f["related_line_number"]) == (1, "C1", 1)
    assert "57" in f["message"]
    assert f["reference"] == "PFS 34421 global days 090, CMS PFS CY2024 (RVU24AR), effective 2024-01-01"


def test_em_day_before_and_day_of_with_57_is_clean():
    assert run(line(), em(-1, mods=("57",)), em(0, mods=("57",)), rule="GLOBAL_PERIOD_EM").is_empty()


def test_em_two_days_before_is_outside():
    assert run(line(), em(-2), rule="GLOBAL_PERIOD_EM").is_empty()


def test_em_day_of_with_25_depends_on_configuration():
    assert keys(run(line(), em(0, mods=("25",)), rule="GLOBAL_PERIOD_EM")) == [1]
    cfg = {"allow_25_for_em_day_of_surgery": True}
    assert run(line(), em(0, mods=("25",)), config=cfg, rule="GLOBAL_PERIOD_EM").is_empty()
    # 25 the day before is never enough
    assert keys(run(line(), em(-1, mods=("25",)), config=cfg, rule="GLOBAL_PERIOD_EM")) == [1]


def test_postop_em_edges_90_and_91_days():
    assert keys(run(line(), em(90), rule="GLOBAL_PERIOD_EM")) == [1]
    assert run(line(), em(91), rule="GLOBAL_PERIOD_EM").is_empty()


def test_postop_em_with_24_and_unrelated_diagnosis_is_clean():
    assert run(line(), em(30, mods=("24",), dx=("J189",)), rule="GLOBAL_PERIOD_EM").is_empty()


def test_postop_em_with_24_but_the_surgery_diagnosis():
    [f] = run(line(), em(30, mods=("24",), dx=("I82411",)), rule="GLOBAL_PERIOD_EM").to_dicts()
    assert "modifier 24" in f["message"] and "I82.411" in f["message"]


def test_global_period_needs_same_provider_and_member():
    assert run(line(), em(10, rendering_npi=NPI2), rule="GLOBAL_PERIOD_EM").is_empty()
    assert run(line(), em(10, member_id="M2"), rule="GLOBAL_PERIOD_EM").is_empty()


def test_global_period_cross_file():
    out = run(line(source_file="a.csv", claim_id="S1"), em(20, source_file="b.csv", claim_id="V9"),
              rule="GLOBAL_PERIOD_EM")
    assert out.select("line_key", "related_claim_id").rows() == [(1, "S1")]


def test_return_to_or_in_global_period():
    redo = line(service_date=SURGERY + dt.timedelta(days=10), claim_id="R1", mods=("RT",))
    [f] = run(line(mods=("RT",)), redo, rule="GLOBAL_PERIOD_EM").to_dicts()
    assert f["line_key"] == 1 and "78" in f["message"]
    for mod in ("58", "78", "79"):
        ok = line(service_date=SURGERY + dt.timedelta(days=10), claim_id="R1", mods=(mod,))
        assert run(line(), ok, rule="GLOBAL_PERIOD_EM").is_empty(), mod
    # non-procedure codes (e.g. duplex imaging) are not a return to the OR
    assert run(line(), line(code="93970", service_date=SURGERY + dt.timedelta(days=5)),
               rule="GLOBAL_PERIOD_EM").is_empty()


def test_global_period_uses_fee_schedule_dates():
    before = D(2023, 12, 31)  # before the packaged PFS version
    assert run(line(service_date=before), line(code="99213", service_date=before + dt.timedelta(days=3)),
               rule="GLOBAL_PERIOD_EM").is_empty()


@pytest.mark.parametrize("mods,allow25,expected", [
    ((), False, ["GLOBAL_PERIOD_EM"]),  # one finding (was also a PTP_CONFLICT asking for 25 or 57)
    (("25",), False, ["GLOBAL_PERIOD_EM"]),  # following the old PTP advice still needs 57
    (("25",), True, []),
    (("57",), False, []),
])
def test_a_visit_on_the_day_of_surgery_gets_one_finding_with_one_fix(mods, allow25, expected):
    """Issue 19, point 1: GLOBAL_PERIOD_EM alone judges a visit around the surgery."""
    visit = line(code="99223", mods=mods, claim_id="V1")
    out = run(line(), visit, config={"allow_25_for_em_day_of_surgery": allow25})
    on_visit = out.filter(pl.col("line_key") == 1)
    assert on_visit["rule_id"].to_list() == expected
    if expected:
        message = on_visit["message"].item()
        assert "modifier 57" in message and ("25" in message) == allow25


def test_non_visit_codes_paired_with_the_surgery_stay_ptp_conflicts():
    sedation = line(code="99156", claim_id="V1")  # an indicator-0 pair, not an E/M visit
    out = run(line(), sedation)
    assert out.filter(pl.col("line_key") == 1)["rule_id"].to_list() == ["PTP_CONFLICT"]
