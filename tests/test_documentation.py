"""Unit tests of the documentation reading: negation and history, abbreviations and lists, coded values and
non-answers, conversion to open, Fogarty, devices, side, the procedure itself, conflicts, evidence, and the
data files (an analyst's change takes effect and changes the rule-set version).

All cases are classified in one batch (one vectorised call) to keep the suite fast.
"""

from __future__ import annotations

import shutil

import polars as pl
import pytest

from claims_audit import documentation as doc
from claims_audit import rules as rules_pkg
from claims_audit.rules import documentation as doc_rules

# id -> (documented_approach, documented_site, op_note)
CASES: dict[str, tuple[str | None, str | None, str | None]] = {
    # --- negation and history ---------------------------------------------------------------------------
    "neg_abdominal": (None, None, "Left groin incision. CFV exposed, venotomy, thrombus removed.\n"
                                  "No abdominal incision was required."),
    "neg_perc_post": (None, None, "Percutaneous access was not used. Right thigh incision over the femoral vein; "
                                  "venotomy and thrombectomy."),
    "neg_incision": (None, None, "No incision was made. Ultrasound-guided access of the left popliteal vein; "
                                 "ClotTriever thrombectomy of the left femoral vein."),
    "prior_laparotomy": (None, None, "Prior laparotomy for bowel obstruction. Right inguinal incision, exposure of "
                                     "the right common femoral vein, venotomy and thrombectomy."),
    "history_only": ("LEG INCISION", "R CFV", "Clinic note. Right leg swelling, status post thrombectomy in 2019."),
    "plan_only": ("GROIN INCISION", "R FV", "Vascular surgery consult. Acute DVT of the right femoral vein.\n"
                                            "Plan: open thrombectomy tomorrow."),
    "without_artery": (None, None, "RIGHT LEG. Longitudinal incision over the femoral vessels; the common femoral "
                                   "vein was dissected free without injuring the adjacent artery. Venotomy, clot "
                                   "extracted."),
    "device_not_used": (None, None, "Left groin incision, CFV venotomy, Fogarty thrombectomy. AngioJet was not "
                                    "used."),
    "considered_not_attempted": (None, None, "A percutaneous approach was considered but not attempted. Left "
                                             "groin incision; CFV venotomy; thrombus removed."),
    # --- abbreviations, side letters, lists, coded values -------------------------------------------------
    "abbr_l_cfv": ("LEG INCISION", "L CFV", None),
    "abbr_r_fv": ("GROIN INCISION", "R FV", None),
    "abbr_cfv_fv": ("femoral cutdown", "L  CFV/FV", None),
    "abbr_lt_eiv": ("groin incision, vertical", "LT EIV", None),
    "abbr_rt_sfv": ("THIGH INCISION", "RT SFV", None),
    "abbr_sfa": ("LEG INCISION", "L SFA", None),
    "abbr_gsv": ("groin incision", "GSV", None),
    "abbr_ivc": ("open - groin incision", "IVC", None),
    "abbr_svc": ("LEG INCISION", "SVC", None),
    "superior_vena_cava": ("LEG INCISION", "superior vena cava", None),
    "femoral_v_dot": ("Groin venotomy", "R. femoral v.", None),
    "list_two_sites": ("LEG INCISION", "left common femoral and external iliac veins", None),
    "list_segments": (None, None, "Left groin incision; thrombus was extracted from the femoral and iliac "
                                  "segments through a venotomy."),
    "femoral_alone": ("GROIN INCISION", "L femoral", None),
    "fem_alone": ("LEG INCISION", "RT FEM", None),
    "femoral_artery": ("Groin incision", "R common femoral artery", None),
    "coded_abd_leg": ("ABDOMINAL AND LEG", "L iliac and femoral veins", None),
    "coded_open_leg": ("OPEN-LEG INCISION", "R CFV", None),
    "coded_perc": ("PERCUTANEOUS", "L CFV", None),
    "coded_lysis": ("THROMBOLYSIS-CATHETER", "L CFV", None),
    "spaces_case": ("  leg   INCISION ", " l  femoral VEIN ", None),
    # --- non-answers ----------------------------------------------------------------------------------------
    "na_both": ("N/A", "N/A", None),
    "na_unknown": ("UNKNOWN", "L CFV", None),
    "na_see_note_no_note": ("see op note", "see op note", None),
    "na_vein": ("LEG INCISION", "vein", None),
    "na_thrombectomy": ("thrombectomy performed", "", None),
    "na_dash_q": ("-", "?", None),
    "na_open": ("OPEN", "R CFV", None),
    "na_reads_note": ("see op note", "vein", "Right groin incision. Right common femoral vein exposed and opened; "
                                             "thrombus extracted with a balloon catheter."),
    # --- conversion to open, Fogarty, devices ---------------------------------------------------------------
    "conversion": (None, None, "Procedure: attempted percutaneous mechanical thrombectomy, converted to open "
                               "thrombectomy of the right common femoral vein.\nUltrasound-guided access of the "
                               "right popliteal vein was attempted but the wire would not cross, so the "
                               "percutaneous approach was abandoned.\nA right groin incision was then made, the "
                               "CFV exposed and thrombus removed with a Fogarty catheter."),
    "conversion_no_site": (None, None, "Percutaneous access failed. Converted to open: femoral vein exposed, "
                                       "venotomy, thrombus removed."),
    "fogarty_abstract": ("Fogarty via groin venotomy", "L iliac vein", None),
    "fogarty_fluoro": (None, None, "Left groin incision. The common femoral vein was exposed. A 10 Fr balloon "
                                   "catheter was passed through the femoral venotomy into the inferior vena cava "
                                   "under fluoroscopic guidance and thrombus was withdrawn."),
    "angiojet": ("AngioJet", "R CFV", None),
    "clottriever_note": (None, None, "US-guided access R popliteal vein, 16 Fr sheath. ClotTriever thrombectomy of "
                                     "the R femoral and iliac veins. Manual compression."),
    "ekos_no_device": (None, None, "Ultrasound-guided access of the left popliteal vein. EKOS catheter across the "
                                   "left femoral vein, tPA infused overnight. No mechanical device was used."),
    "penumbra": (None, None, "Internal jugular access, 16 Fr sheath. Penumbra Indigo aspiration thrombectomy of "
                             "the infrarenal IVC."),
    # --- side -----------------------------------------------------------------------------------------------
    "side_bilateral_note": (None, None, "Bilateral groin incisions. The common femoral veins were opened and "
                                        "thrombus extracted on each side."),
    "side_both_legs": ("leg incision", "femoropopliteal vein, both legs", None),
    "side_on_the_right": (None, None, "Femoral cutdown performed on the right. The common femoral vein was opened "
                                      "and the thrombus removed."),
    "side_letters_note": (None, None, "L groin incision, CFV venotomy, Fogarty thrombectomy of CFV/EIV."),
    "side_none": ("LEG INCISION", "IVC", None),
    "side_dominant": (None, None, "LEFT LOWER EXTREMITY. Left groin incision, left common femoral vein opened and "
                                  "thrombus removed. Right arm IV."),
    # --- the procedure itself -------------------------------------------------------------------------------
    "stripping": (None, None, "PROCEDURE: Right great saphenous vein high ligation and stripping. An incision "
                              "was made in the right groin crease."),
    "duplex": (None, None, "LOWER EXTREMITY VENOUS DUPLEX, LEFT\nFindings: occlusive thrombus in the left common "
                           "femoral vein.\nImpression: acute left femoral DVT."),
    "bypass": ("LEG INCISION", "L CFV", "OPERATION: Left femoral to popliteal artery bypass with reversed vein graft."
                                        "\nLeft groin incision exposed the common femoral artery."),
    "op_note_crlf": (None, None, "Right groin incision.\r\nCommon femoral vein opened.\r\nThrombus removed.\r\n"),
    # --- conflicts --------------------------------------------------------------------------------------------
    "conflict_approach": ("PERCUTANEOUS", "L CFV", "Left groin incision. CFV exposed, venotomy, Fogarty "
                                                   "thrombectomy with removal of acute clot."),
    "subset_no_conflict": ("GROIN INCISION", "L CFV", "Left groin incision. Thrombus removed from the left common "
                                                      "femoral and external iliac veins through a venotomy."),
}


@pytest.fixture(scope="module")
def read() -> dict[str, dict]:
    ids = list(CASES)
    lines = pl.DataFrame({"case": ids,
                          "documented_approach": [CASES[i][0] for i in ids],
                          "documented_site": [CASES[i][1] for i in ids],
                          "op_note": [CASES[i][2] for i in ids]},
                         schema={"case": pl.String, "documented_approach": pl.String,
                                 "documented_site": pl.String, "op_note": pl.String}
                         ).with_row_index("line_key").with_columns(pl.col("line_key").cast(pl.Int64))
    classified = doc.classify(lines)
    findings = doc_rules.apply(classified)
    out = {}
    for row in classified.iter_rows(named=True):
        f = findings.filter(pl.col("line_key") == row["line_key"]).sort("rule_id")
        row["rules"] = f.get_column("rule_id").to_list()
        row["codes"] = sorted(set(f.get_column("suggested_code").drop_nulls().to_list()))
        row["findings"] = f.to_dicts()
        out[row["case"]] = row
    return out


def concepts(row: dict) -> tuple:
    return row["doc_approach"], row["doc_vessel"], row["doc_side"]


# --- negation and history --------------------------------------------------------------------------------

@pytest.mark.parametrize("case,expected", [
    ("neg_abdominal", ("leg_incision", "femoral_vein", "left")),
    ("neg_perc_post", ("leg_incision", "femoral_vein", "right")),
    ("neg_incision", ("percutaneous", "femoral_vein", "left")),
    ("prior_laparotomy", ("leg_incision", "femoral_vein", "right")),
    ("without_artery", ("leg_incision", "femoral_vein", "right")),
    ("device_not_used", ("leg_incision", "femoral_vein", "left")),
    ("considered_not_attempted", ("leg_incision", "femoral_vein", "left")),
])
def test_negated_and_historical_wording_does_not_count(read, case, expected):
    assert concepts(read[case]) == expected
    assert read[case]["rules"] == ([] if expected[0] == "leg_incision" else ["APPROACH_MISMATCH"])


def test_history_and_plans_are_not_this_procedure(read):
    hist, plan = read["history_only"], read["plan_only"]
    assert hist["doc_procedure"] is False and plan["doc_procedure"] is False
    assert hist["rules"] == ["DOCUMENTATION_INCOMPLETE"] and plan["rules"] == ["DOCUMENTATION_INCOMPLETE"]
    assert "a clinic or follow-up visit" in hist["findings"][0]["message"]
    assert "a consultation" in plan["findings"][0]["message"]


# --- abbreviations, lists, coded values ------------------------------------------------------------------

@pytest.mark.parametrize("case,expected", [
    ("abbr_l_cfv", ("leg_incision", "femoral_vein", "left")),
    ("abbr_r_fv", ("leg_incision", "femoral_vein", "right")),
    ("abbr_cfv_fv", ("leg_incision", "femoral_vein", "left")),
    ("abbr_lt_eiv", ("leg_incision", "iliac_vein", "left")),
    ("abbr_rt_sfv", ("leg_incision", "femoral_vein", "right")),      # SFV is a deep vein
    ("abbr_sfa", ("leg_incision", "artery", "left")),
    ("abbr_gsv", ("leg_incision", "saphenous_vein", None)),
    ("abbr_ivc", ("leg_incision", "ivc", None)),
    ("abbr_svc", ("leg_incision", "upper_body_vein", None)),
    ("superior_vena_cava", ("leg_incision", "upper_body_vein", None)),
    ("femoral_v_dot", ("leg_incision", "femoral_vein", "right")),
    ("list_two_sites", ("leg_incision", "iliac_vein", "left")),      # most central of the listed sites
    ("list_segments", ("leg_incision", "iliac_vein", "left")),
    ("femoral_alone", ("leg_incision", "unknown", "left")),          # "femoral" says neither vein nor artery
    ("fem_alone", ("leg_incision", "unknown", "right")),
    ("femoral_artery", ("leg_incision", "artery", "right")),
    ("coded_abd_leg", ("abdominal_and_leg", "iliac_vein", "left")),
    ("coded_open_leg", ("leg_incision", "femoral_vein", "right")),
    ("coded_perc", ("percutaneous", "femoral_vein", "left")),
    ("coded_lysis", ("catheter_lysis", "femoral_vein", "left")),
    ("spaces_case", ("leg_incision", "femoral_vein", "left")),
])
def test_abbreviations_lists_and_coded_values(read, case, expected):
    assert concepts(read[case]) == expected


def test_suggested_codes_from_the_crosswalk(read):
    assert read["abbr_sfa"]["codes"] == ["34201"]
    assert read["coded_abd_leg"]["codes"] == ["34451"]
    assert read["coded_perc"]["codes"] == ["37187"]
    assert read["coded_lysis"]["codes"] == ["37212"]
    assert read["abbr_gsv"]["codes"] == []                             # no single-code cell
    assert read["abbr_l_cfv"]["rules"] == [] and read["abbr_l_cfv"]["codes"] == []


# --- non-answers ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case,approach,vessel", [
    ("na_both", "unknown", "unknown"), ("na_unknown", "unknown", "femoral_vein"),
    ("na_see_note_no_note", "unknown", "unknown"), ("na_vein", "leg_incision", "unknown"),
    ("na_thrombectomy", "unknown", "unknown"), ("na_dash_q", "unknown", "unknown"),
    ("na_open", "unknown", "femoral_vein"),
])
def test_non_answers_are_incomplete_not_a_match(read, case, approach, vessel):
    row = read[case]
    assert (row["doc_approach"], row["doc_vessel"]) == (approach, vessel)
    assert row["rules"] == ["DOCUMENTATION_INCOMPLETE"]
    assert row["doc_source"] in ("abstract", "none")


def test_non_answer_fields_are_read_from_the_note(read):
    row = read["na_reads_note"]
    assert concepts(row) == ("leg_incision", "femoral_vein", "right")
    assert row["doc_source"] == "note" and row["rules"] == []
    evidence = row["doc_approach_evidence"]
    assert evidence.startswith('op note "…') and "Right groin incision" in evidence


# --- conversion to open, Fogarty, devices -------------------------------------------------------------------

def test_percutaneous_attempt_converted_to_open_is_the_open_approach(read):
    assert concepts(read["conversion"]) == ("leg_incision", "femoral_vein", "right")
    assert read["conversion"]["rules"] == []
    # with no incision site at all, the conversion and the venotomy still say open leg (domain notes)
    assert read["conversion_no_site"]["doc_approach"] == "leg_incision"


def test_fogarty_through_an_incision_is_open(read):
    assert concepts(read["fogarty_abstract"]) == ("leg_incision", "iliac_vein", "left")
    # a French size and fluoroscopy in an open case do not make it percutaneous
    assert concepts(read["fogarty_fluoro"]) == ("leg_incision", "ivc", "left")
    assert read["fogarty_fluoro"]["rules"] == []


@pytest.mark.parametrize("case,expected", [
    ("angiojet", ("percutaneous", "femoral_vein", "right")),
    ("clottriever_note", ("percutaneous", "iliac_vein", "right")),   # the popliteal vein is only the access
    ("ekos_no_device", ("catheter_lysis", "femoral_vein", "left")),
    ("penumbra", ("percutaneous", "ivc", None)),                      # the jugular vein is only the access
])
def test_devices(read, case, expected):
    assert concepts(read[case]) == expected
    assert read[case]["rules"] == ["APPROACH_MISMATCH"]


# --- side ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case,side", [
    ("side_bilateral_note", "bilateral"), ("side_both_legs", "bilateral"), ("side_on_the_right", "right"),
    ("side_letters_note", "left"), ("side_none", None), ("side_dominant", "left"),
])
def test_side(read, case, side):
    assert read[case]["doc_side"] == side


# --- the procedure itself -----------------------------------------------------------------------------------

@pytest.mark.parametrize("case,describes,rules", [
    ("stripping", "a vein stripping or ablation", ["DOCUMENTATION_INCOMPLETE", "SITE_MISMATCH"]),
    ("duplex", "a duplex ultrasound report", ["DOCUMENTATION_INCOMPLETE"]),
    ("bypass", "a bypass", ["DOCUMENTATION_CONFLICT", "DOCUMENTATION_INCOMPLETE"]),
])
def test_a_note_without_thrombus_removal_says_what_it_describes(read, case, describes, rules):
    row = read[case]
    assert row["doc_procedure"] is False and row["doc_note_kind"] == describes
    assert row["rules"] == rules
    incomplete = next(f for f in row["findings"] if f["rule_id"] == "DOCUMENTATION_INCOMPLETE")
    assert f"the operative note describes {describes}" in incomplete["message"]
    assert row["doc_note_evidence"] and row["doc_note_evidence"] in incomplete["evidence"]


def test_notes_with_windows_line_breaks(read):
    row = read["op_note_crlf"]
    assert concepts(row) == ("leg_incision", "femoral_vein", "right") and row["rules"] == []


# --- conflicts and evidence ---------------------------------------------------------------------------------

def test_conflict_quotes_both_records(read):
    """The note describes the thrombus removal through a groin incision: its account decides the approach
    (no APPROACH_MISMATCH from the abstract's "PERCUTANEOUS"), and the disagreement stays for review."""
    row = read["conflict_approach"]
    assert row["rules"] == ["DOCUMENTATION_CONFLICT"]
    assert row["doc_approach"] == "leg_incision" and row["doc_approach_evidence"].startswith("op note")
    conflict = next(f for f in row["findings"] if f["rule_id"] == "DOCUMENTATION_CONFLICT")
    assert conflict["severity"] == "review" and conflict["suggested_code"] is None
    assert 'abstract "PERCUTANEOUS"' in conflict["evidence"] and "Left groin incision" in conflict["evidence"]
    assert "operative note's account was used" in conflict["message"]


def test_abstract_vessel_named_in_the_note_is_no_conflict(read):
    row = read["subset_no_conflict"]
    assert row["doc_conflict"] is None and row["rules"] == []


def test_evidence_quotes_the_exact_words(read):
    assert read["abbr_cfv_fv"]["doc_site_evidence"] == 'site "L CFV/FV"'
    ev = read["neg_abdominal"]["doc_site_evidence"]
    assert ev.startswith('op note "…') and "CFV exposed" in ev
    note = CASES["neg_abdominal"][2]
    quoted = read["neg_abdominal"]["doc_approach_evidence"][len('op note "…'):-len('…"')]
    assert " ".join(quoted.split()) in " ".join(note.split())      # verbatim, up to line breaks


def test_classify_keeps_lines_and_order():
    lines = pl.DataFrame({"line_key": [3, 1, 2], "documented_approach": ["PERC", "PERC", None],
                          "documented_site": ["IVC", "IVC", None], "op_note": [None, None, None]},
                         schema={"line_key": pl.Int64, "documented_approach": pl.String,
                                 "documented_site": pl.String, "op_note": pl.String})
    out = doc.classify(lines)
    assert out.get_column("line_key").to_list() == [3, 1, 2]
    assert out.get_column("doc_approach").to_list() == ["percutaneous", "percutaneous", "unknown"]
    assert set(doc.DOC_COLUMNS) <= set(out.columns)
    empty = doc.classify(lines.head(0))
    assert empty.height == 0 and set(doc.DOC_COLUMNS) <= set(empty.columns)


# --- the data files -----------------------------------------------------------------------------------------

def test_data_files_carry_version_source_and_effective_date():
    files = doc.describe_files()
    names = {f["file"] for f in files}
    assert {"vocabulary.yaml", "negation.yaml", "abbreviations.csv", "devices.csv", "procedure_kinds.csv",
            "crosswalk.csv"} <= names
    for f in files:
        assert f["version"] and f["effective"] and f["source"], f


def test_an_analysts_vocabulary_change_takes_effect(tmp_path):
    folder = tmp_path / "documentation"
    shutil.copytree(doc.DATA, folder)
    with (folder / "devices.csv").open("a", encoding="utf-8") as fh:
        fh.write("Zelante,zelante,percutaneous,yes,added by an analyst\n")
    custom = doc.load_vocabulary(folder)
    lines = pl.DataFrame({"documented_approach": ["Zelante thrombectomy"], "documented_site": ["L CFV"],
                          "op_note": [None]}, schema={c: pl.String for c in doc.FIELDS})
    assert doc.classify(lines).get_column("doc_approach").item() == "unknown"
    assert doc.classify(lines, custom).get_column("doc_approach").item() == "percutaneous"
    assert custom.digest != doc.load_vocabulary().digest


def test_rules_version_changes_when_a_documentation_file_changes(tmp_path, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(rules_pkg.DATA, data)
    monkeypatch.setattr(rules_pkg, "DATA", data)
    rules_pkg.rules_version.cache_clear()
    try:
        before = rules_pkg.rules_version()
        vocab = data / "documentation" / "vocabulary.yaml"
        vocab.write_text(vocab.read_text(encoding="utf-8") + "\n# an analyst's comment\n", encoding="utf-8")
        rules_pkg.rules_version.cache_clear()
        assert rules_pkg.rules_version() != before
    finally:
        rules_pkg.rules_version.cache_clear()


def test_every_rule_of_this_module_is_in_the_catalogue():
    ids = {r.id for r in rules_pkg.catalogue()}
    assert {"APPROACH_MISMATCH", "SITE_MISMATCH", "DOCUMENTATION_INCOMPLETE", "DOCUMENTATION_CONFLICT"} <= ids


@pytest.mark.parametrize("limit", [64 << 20, 0])
def test_texts_classified_once_per_run_give_the_classification_of_each_group(limit):
    """A run seen group by group reuses the classification of texts an earlier group had (bounded by
    limit_bytes; with no room it classifies every group afresh): the same doc_* columns either way."""
    from claims_audit import sample

    lines = sample.generate(6_000, seed=3).filter(pl.col("procedure_code") == "34421").with_row_index("line_key")
    first, second = lines.head(lines.height // 2), lines.tail(lines.height - lines.height // 2)
    known = doc.ClassifiedTexts(limit_bytes=limit)
    grouped = pl.concat([doc.classify(first, known=known), doc.classify(second, known=known)])
    assert grouped.equals(doc.classify(lines))
    assert (known.frame is None) == (limit == 0)
    if known.frame is not None:  # the second group's repeated texts came from the first
        assert known.frame.height < first.height + second.height
