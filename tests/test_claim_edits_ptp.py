"""PTP_CONFLICT: NCCI procedure-to-procedure pairs and their bypasses."""

from __future__ import annotations

import pytest

from claim_edit_lines import D, NPI2, BOTH, line, run, keys


def test_ptp_finding_sits_on_column2_line_and_names_column1():
    out = run(line(claim_id="C1"), line(code="37187", claim_id="C1"), rule="PTP_CONFLICT")
    [f] = out.to_dicts()
    assert f["line_key"] == 1
    assert (f["related_claim_id"], f["related_line_number"]) == ("C1", 1)
    assert f["reference"] == "NCCI PTP 34421/37187, modifier indicator 1, effective 2024-07-01"
    assert f["severity"] == "error"
    assert "59" in f["message"] and "XS" in f["message"]


def test_ptp_34421_as_column2_of_34451():
    out = run(line(code="34451"), line(), rule="PTP_CONFLICT")
    [f] = out.to_dicts()
    assert f["line_key"] == 1 and f["related_line_number"] == 1
    assert f["reference"].startswith("NCCI PTP 34451/34421, modifier indicator 1")


@pytest.mark.parametrize("code", ["37188", "75822", "75825", "36010", "35226", "36904"])
def test_ptp_positive_family_pairs(code):
    assert keys(run(line(), line(code=code), rule="PTP_CONFLICT")) == [1]


@pytest.mark.parametrize("code", ["34401", "36005", "75820", "93970", "37248", "76937"])
def test_ptp_no_edit_pairs_are_not_flagged(code):
    assert run(line(), line(code=code), rule="PTP_CONFLICT").is_empty()


def test_ptp_needs_same_member_date_and_provider():
    assert run(line(), line(code="37187", member_id="M2"), rule="PTP_CONFLICT").is_empty()
    assert run(line(), line(code="37187", service_date=D(2024, 8, 2)), rule="PTP_CONFLICT").is_empty()
    assert run(line(), line(code="37187", rendering_npi=NPI2), rule="PTP_CONFLICT").is_empty()


def test_ptp_line_without_npi_pairs_only_within_its_claim():
    same_claim = run(line(rendering_npi=None), line(code="37187", rendering_npi=None), rule="PTP_CONFLICT")
    assert keys(same_claim) == [1]
    other_claim = run(line(rendering_npi=None), line(code="37187", rendering_npi=None, claim_id="C9"),
                      rule="PTP_CONFLICT")
    assert other_claim.is_empty()


@pytest.mark.parametrize("mod", ["59", "XE", "XS", "XP", "XU"])
def test_ptp_indicator1_bypassed_by_distinct_service_modifier(mod):
    assert run(line(), line(code="37187", mods=(mod,)), rule="PTP_CONFLICT").is_empty()


def test_ptp_bypass_modifier_on_column1_line_also_counts():
    assert run(line(mods=("XS",)), line(code="37187"), rule="PTP_CONFLICT").is_empty()


def test_ptp_indicator1_bypassed_by_different_sides_not_same_side():
    assert run(line(mods=("RT",)), line(code="37187", mods=("LT",)), rule="PTP_CONFLICT").is_empty()
    assert keys(run(line(mods=("RT",)), line(code="37187", mods=("RT",)), rule="PTP_CONFLICT")) == [1]
    # an unrelated modifier does not bypass
    assert keys(run(line(), line(code="37187", mods=("76",)), rule="PTP_CONFLICT")) == [1]


def test_ptp_indicator0_is_never_bypassed():
    out = run(line(), line(code="64450", mods=("59", "LT"), dx=("I82411",)), rule="PTP_CONFLICT")
    [f] = out.to_dicts()
    assert f["reference"] == "NCCI PTP 34421/64450, modifier indicator 0, effective 2024-07-01"
    assert "cannot be bypassed" in f["message"]


def test_ptp_leaves_visits_around_the_surgery_to_the_global_period_edit():
    """NCCI pairs 34421 with E/M visits (indicator 1); GLOBAL_PERIOD_EM judges those visits instead."""
    for mods in ((), ("25",), ("57",)):
        assert run(line(), line(code="99243", mods=mods), rule="PTP_CONFLICT").is_empty()
    assert run(line(), line(code="99243"), rule="GLOBAL_PERIOD_EM")["line_key"].to_list() == [1]


def test_ptp_cross_file_and_cross_claim():
    out = run(
        line(source_file="extract_a.csv", claim_id="A-1"),
        line(code="75822", source_file="extract_b.csv", claim_id="B-7", line_number=4),
        rule="PTP_CONFLICT",
    )
    [f] = out.to_dicts()
    assert (f["line_key"], f["related_claim_id"], f["related_line_number"]) == (1, "A-1", 1)


def test_ptp_effective_date_edge_packaged_version():
    before = D(2024, 6, 30)  # the day before the only packaged NCCI version takes effect
    assert run(line(service_date=before), line(code="37187", service_date=before), rule="PTP_CONFLICT").is_empty()
    on = D(2024, 7, 1)
    assert keys(run(line(service_date=on), line(code="37187", service_date=on), rule="PTP_CONFLICT")) == [1]


def test_ptp_second_table_version_chosen_by_date_of_service():
    def flagged(code, date, mods=()):
        out = run(line(service_date=date), line(code=code, service_date=date, mods=mods), data_dir=BOTH,
                  rule="PTP_CONFLICT")
        return out["reference"].to_list()

    # 34421/37187: indicator 1 until 09-30 (59 bypasses), indicator 0 from 10-01 (59 does not)
    assert flagged("37187", D(2024, 9, 30), ("59",)) == []
    assert flagged("37187", D(2024, 10, 1), ("59",)) == [
        "NCCI PTP 34421/37187, modifier indicator 0, effective 2024-10-01"
    ]
    # 34421/75822 dropped by the new version
    assert flagged("75822", D(2024, 9, 30)) == ["NCCI PTP 34421/75822, modifier indicator 1, effective 2024-07-01"]
    assert flagged("75822", D(2024, 10, 1)) == []
    # 34421/37188 deleted after 2024-11-30: day of deletion flagged, day after not
    assert flagged("37188", D(2024, 11, 29)) and flagged("37188", D(2024, 11, 30))
    assert flagged("37188", D(2024, 11, 30))[0].endswith("deleted after 2024-11-30")
    assert flagged("37188", D(2024, 12, 1)) == []
