"""Claim-level edits around 34421 (issue 5), with hand-built `lines` frames."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
import pytest
import yaml

from claims_audit import ruledata_cms
from claims_audit.errors import ConfigError
from claims_audit.rules import claim_edits as ce

D = dt.date
SURGERY = D(2024, 8, 1)
NPI = "1234567893"
NPI2 = "1245319599"
ALT = Path(__file__).parent / "data" / "cms_alt"
BOTH = [ruledata_cms.packaged_data_dir(), ALT]

LINES_SCHEMA = {
    "line_key": pl.Int64, "source_file": pl.String, "source_row": pl.Int64, "claim_id": pl.String,
    "member_id": pl.String, "line_number": pl.Int64, "units": pl.Int64, "service_date": pl.Date,
    "procedure_code": pl.String, **{f"modifier_{i}": pl.String for i in range(1, 5)},
    "rendering_npi": pl.String, "place_of_service": pl.String, "charge_amount": pl.Float64,
    **{f"dx_{i}": pl.String for i in range(1, 13)},
    "documented_approach": pl.String, "documented_site": pl.String, "op_note": pl.String, "doc_side": pl.String,
}


def line(code: str = "34421", mods: tuple[str, ...] = (), dx: tuple[str, ...] = ("I82411",), **kw) -> dict:
    """One claim line; unspecified fields get valid defaults (a clean right-femoral 34421)."""
    row = {
        "source_file": "extract_a.csv", "claim_id": "C1", "member_id": "M1", "units": 1,
        "service_date": SURGERY, "procedure_code": code, "rendering_npi": NPI, "place_of_service": "21",
        "charge_amount": 1500.0, "documented_approach": None, "documented_site": None, "op_note": None,
        "doc_side": None,
    }
    for i in range(4):
        row[f"modifier_{i + 1}"] = mods[i] if i < len(mods) else None
    for i in range(12):
        row[f"dx_{i + 1}"] = dx[i] if i < len(dx) else None
    row.update(kw)
    return row


def make_lines(*rows: dict, doc_side: bool = True) -> pl.DataFrame:
    """A valid `lines` frame (design.md contract); line_key = position, line_number/source_row default."""
    out = []
    per_claim: dict[str, int] = {}
    for i, r in enumerate(rows):
        r = dict(r)
        per_claim[r["claim_id"]] = per_claim.get(r["claim_id"], 0) + 1
        r.setdefault("line_number", per_claim[r["claim_id"]])
        r.setdefault("source_row", i + 2)
        r["line_key"] = i
        out.append(r)
    df = pl.DataFrame(out, schema=LINES_SCHEMA)
    return df if doc_side else df.drop("doc_side")


def run(*rows: dict, config=None, data_dir=None, rule: str | None = None) -> pl.DataFrame:
    out = ce.apply(make_lines(*rows), config=config, data_dir=data_dir)
    return out.filter(pl.col("rule_id") == rule) if rule else out


def keys(df: pl.DataFrame) -> list[int]:
    return sorted(df["line_key"].to_list())


# --- output contract ---------------------------------------------------------------------------------


def test_output_has_exactly_the_design_columns_and_types():
    expected = {
        "line_key": pl.Int64, "rule_id": pl.String, "severity": pl.String, "message": pl.String,
        "suggested_code": pl.String, "evidence": pl.String, "related_claim_id": pl.String,
        "related_line_number": pl.Int64, "reference": pl.String,
    }
    clean = ce.apply(make_lines(line()))
    assert clean.is_empty()
    assert dict(clean.schema) == expected
    noisy = run(line(units=3, mods=("80", "66"), dx=("I8241", "I743")), line(code="37187"))
    assert not noisy.is_empty()
    assert dict(noisy.schema) == expected
    assert noisy["message"].null_count() == 0 and noisy["reference"].null_count() == 0
    assert set(noisy["severity"]) <= set(ce.SEVERITIES)


def test_clean_claim_has_no_findings():
    clean = run(
        line(mods=("RT",), doc_side="right"),
        line(code="34401", line_number=2),  # no NCCI edit with 34421
        line(code="93970", line_number=3),
        line(code="99213", mods=("57",), service_date=SURGERY - dt.timedelta(days=1), claim_id="C0"),
    )
    assert clean.is_empty(), clean.to_dicts()


def test_empty_frame_and_missing_doc_side_column():
    assert ce.apply(make_lines()).is_empty()
    out = ce.apply(make_lines(line(mods=("LT",)), doc_side=False))
    assert out["rule_id"].to_list() == ["LATERALITY_CONFLICT"]  # LT with a right-side dx


def test_missing_required_column_is_reported():
    with pytest.raises(ValueError, match="units"):
        ce.apply(make_lines(line()).drop("units"))


# --- PTP_CONFLICT ------------------------------------------------------------------------------------


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


def test_ptp_em_column2_bypassed_by_57_or_25():
    [f] = run(line(), line(code="99243"), rule="PTP_CONFLICT").to_dicts()
    assert f["line_key"] == 1 and "57" in f["message"] and "59" not in f["message"]
    assert run(line(), line(code="99243", mods=("57",)), rule="PTP_CONFLICT").is_empty()
    assert run(line(), line(code="99213", mods=("25",)), rule="PTP_CONFLICT").is_empty()


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


# --- MUE_EXCEEDED ------------------------------------------------------------------------------------


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
    shutil.copytree(ruledata_cms.packaged_data_dir(), copy)
    mue = copy / "ncci_mue_2024-07-01.csv"
    mue.write_text(mue.read_text().replace("34421,1,3,CMS Policy,Practitioner", "34421,3,3,CMS Policy,Practitioner"))
    assert run(line(units=3), data_dir=copy, rule="MUE_EXCEEDED").is_empty()
    assert keys(run(line(units=4), data_dir=copy, rule="MUE_EXCEEDED")) == [0]


# --- BILATERAL_FORMAT --------------------------------------------------------------------------------


def test_bilateral_two_units_without_50():
    [f] = run(line(units=2, dx=("I82413",)), rule="BILATERAL_FORMAT").to_dicts()
    assert "modifier 50 and 1 unit" in f["message"]
    assert f["reference"].startswith("PFS 34421 bilateral surgery indicator 1")


def test_bilateral_correct_format_is_clean():
    assert run(line(mods=("50",), dx=("I82413",)), rule="BILATERAL_FORMAT").is_empty()
    assert run(line(mods=("RT",)), rule="BILATERAL_FORMAT").is_empty()


def test_bilateral_50_with_two_units_and_rt_lt_on_one_line():
    assert keys(run(line(mods=("50",), units=2, dx=("I82413",)), rule="BILATERAL_FORMAT")) == [0]
    assert keys(run(line(mods=("RT", "LT"), dx=("I82413",)), rule="BILATERAL_FORMAT")) == [0]


def test_bilateral_separate_rt_and_lt_lines_across_files():
    out = run(
        line(mods=("RT",), claim_id="A", source_file="a.csv"),
        line(mods=("LT",), dx=("I82412",), claim_id="B", source_file="b.csv"),
        rule="BILATERAL_FORMAT",
    )
    [f] = out.to_dicts()
    assert (f["line_key"], f["related_claim_id"], f["related_line_number"]) == (1, "A", 1)
    # other dates or members are separate procedures
    assert run(line(mods=("RT",)), line(mods=("LT",), dx=("I82412",), service_date=D(2024, 8, 5)),
               rule="BILATERAL_FORMAT").is_empty()


def test_bilateral_uses_fee_schedule_dates():
    # the only packaged PFS version takes effect 2024-01-01
    assert run(line(units=2, service_date=D(2023, 12, 31)), rule="BILATERAL_FORMAT").is_empty()
    assert keys(run(line(units=2, service_date=D(2024, 1, 1)), rule="BILATERAL_FORMAT")) == [0]


# --- LATERALITY_CONFLICT -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mods,dx,doc,conflict",
    [
        (("RT",), ("I82412",), None, True),  # right modifier, left dx
        (("LT",), ("I82411",), None, True),
        (("RT",), ("I82411",), "right", False),
        (("RT",), ("I82413",), "right", False),  # one side of a bilateral thrombosis
        (("LT",), ("I82412",), "right", True),  # modifier and dx agree, documentation differs
        ((), ("I82412",), "right", True),  # dx vs documentation
        (("50",), ("I82411",), None, True),  # bilateral modifier, one-side dx
        (("50",), ("I82413",), "bilateral", False),
        (("50",), ("I82411", "I82422"), None, False),  # both sides by two codes
        (("RT",), ("I82220",), "right", False),  # IVC codes carry no side
        (("RT",), ("I8011",), None, False),  # femoral phlebitis: 1 = right
        (("RT",), ("I8012",), None, True),
        (("LT",), ("I8241",), None, False),  # a heading code's last digit is not a side
    ],
)
def test_laterality_conflicts(mods, dx, doc, conflict):
    out = run(line(mods=mods, dx=dx, doc_side=doc), rule="LATERALITY_CONFLICT")
    if conflict:
        [f] = out.to_dicts()
        assert f["severity"] == "error"
    else:
        assert out.is_empty(), out.to_dicts()


@pytest.mark.parametrize("dx,doc,mods", [("I82419", "left", ()), ("I8010", "right", ()), ("I82439", None, ("RT",))])
def test_laterality_unspecified_dx_beside_documented_side_is_a_review_query(dx, doc, mods):
    [f] = run(line(mods=mods, dx=(dx,), doc_side=doc), rule="LATERALITY_CONFLICT").to_dicts()
    assert f["severity"] == "review"
    assert "side-specific" in f["message"]


def test_laterality_unspecified_dx_without_any_side_is_silent():
    assert run(line(dx=("I82419",)), rule="LATERALITY_CONFLICT").is_empty()


# --- DIAGNOSIS_NOT_SUPPORTING ------------------------------------------------------------------------


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
    assert f["evidence"] == "dx_2 = I8241, dx_3 = I8212"
    assert "simple-icd-10-cm" in f["reference"]


def test_valid_codes_without_dots_are_accepted():
    assert run(line(dx=("I82411", "O2233", "Z86718", "I2699")), rule="DIAGNOSIS_INVALID").is_empty()


def test_category_and_chapter_are_not_billable():
    assert keys(run(line(dx=("I82",)), rule="DIAGNOSIS_INVALID")) == [0]
    assert keys(run(line(dx=("9",)), rule="DIAGNOSIS_INVALID")) == [0]


# --- GLOBAL_PERIOD_EM --------------------------------------------------------------------------------


def em(days: int, mods=(), dx=("I82411",), **kw) -> dict:
    kw.setdefault("claim_id", "E1")
    return line(code="99213", mods=mods, dx=dx, service_date=SURGERY + dt.timedelta(days=days), **kw)


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
    assert "modifier 24" in f["message"] and "I82411" in f["message"]


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


# --- MODIFIER_NOT_PAYABLE ----------------------------------------------------------------------------


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
    shutil.copytree(ruledata_cms.packaged_data_dir(), copy)
    pfs = copy / "pfs_indicators_2024-01-01.csv"
    pfs.write_text(pfs.read_text().replace("34421,,A,090,2,1,2,1,0", f"34421,,A,090,2,1,{asst},1,0"))
    out = run(line(mods=("80",)), data_dir=copy, rule="MODIFIER_NOT_PAYABLE")
    assert out["severity"].to_list() == ([severity] if severity else [])


# --- DUPLICATE_LINE ----------------------------------------------------------------------------------


def test_duplicate_across_files_later_line_names_first():
    out = run(
        line(mods=("RT", "59"), claim_id="A", source_file="a.csv"),
        line(mods=("59", "RT"), claim_id="B", source_file="b.csv", line_number=2),
        line(mods=("RT", "59"), claim_id="C", source_file="c.csv"),
        rule="DUPLICATE_LINE",
    )
    assert out.select("line_key", "related_claim_id", "related_line_number").rows() == [(1, "A", 1), (2, "A", 1)]
    assert "a.csv" in out["message"][0]


def test_not_duplicates_when_any_key_differs():
    base = {"mods": ("RT",)}
    for other in (
        line(mods=("LT",), dx=("I82412",), claim_id="B"),
        line(mods=("RT", "76"), claim_id="B"),
        line(mods=("RT",), rendering_npi=NPI2, claim_id="B"),
        line(mods=("RT",), member_id="M2", claim_id="B"),
        line(mods=("RT",), service_date=D(2024, 8, 2), claim_id="B"),
        line(code="37187", mods=("RT",), claim_id="B"),
    ):
        assert run(line(**base), other, rule="DUPLICATE_LINE").is_empty(), other


def test_duplicate_same_line_loaded_twice():
    out = run(line(source_file="a.csv"), line(source_file="a_copy.csv", line_number=1), rule="DUPLICATE_LINE")
    assert keys(out) == [1]


# --- configuration -----------------------------------------------------------------------------------


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
        ce.apply(make_lines(line()), config=cfg)


def test_example_configuration_file_is_valid_and_documents_every_rule():
    path = Path(ce.__file__).parents[1] / "data" / "rule_config.example.yaml"
    cfg = ce.load_config(path)
    assert cfg["allow_25_for_em_day_of_surgery"] is False
    text = path.read_text()
    for rid in ce.RULE_IDS:
        assert rid in text
    # the run's configuration loader accepts it too
    from claims_audit.ruleconfig import load_rule_config

    assert load_rule_config(path)["rules"]["BILATERAL_FORMAT"] == {"enabled": True, "severity": "warning"}


def test_load_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        ce.load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [unclosed\n")
    with pytest.raises(ConfigError):
        ce.load_config(bad)


# --- catalogue / Rules sheet -------------------------------------------------------------------------


def test_catalogue_lists_every_rule_in_plain_language():
    path = Path(ce.__file__).parents[1] / "data" / "rules" / "claim_edits.yaml"
    entries = yaml.safe_load(path.read_text())
    assert [e["id"] for e in entries] == list(ce.RULE_IDS)
    assert ce.catalogue() == entries
    for e in entries:
        assert set(e) == {"id", "severity", "title", "checks", "why", "source"}
        assert e["severity"] in ce.SEVERITIES
        # no AMA CPT descriptor text (descriptors start like "Thrombectomy, direct or with catheter")
        assert "direct or with catheter" not in " ".join(map(str, e.values())).lower()


def test_rules_sheet_carries_data_versions():
    sheet = ce.rules_sheet()
    assert [r["id"] for r in sheet] == list(ce.RULE_IDS)
    assert all(r["data_version"] == ruledata_cms.data_version() for r in sheet)
    assert "ncci_ptp_practitioner NCCI PTP practitioner 2024Q3 (effective 2024-07-01)" in sheet[0]["data_versions"]


# --- whole-frame behaviour ---------------------------------------------------------------------------


def test_findings_do_not_depend_on_row_order():
    rows = [
        line(claim_id="A", mods=("RT",)), line(code="37187", claim_id="A"), em(-1), em(20),
        line(claim_id="B", mods=("LT",), dx=("I82412",), source_file="b.csv"),
        line(code="34471", mods=("80",), claim_id="Z", member_id="M9"),
    ]
    forward = ce.apply(make_lines(*rows))
    lines = make_lines(*rows)
    shuffled = lines.reverse()  # same line_keys, other physical order
    backward = ce.apply(shuffled)
    cols = ["line_key", "rule_id", "severity", "related_claim_id", "related_line_number", "reference"]
    assert forward.select(cols).sort(cols).equals(backward.select(cols).sort(cols))
    assert set(forward["rule_id"]) >= {"PTP_CONFLICT", "GLOBAL_PERIOD_EM", "BILATERAL_FORMAT", "MUE_EXCEEDED",
                                       "MODIFIER_NOT_PAYABLE"}
