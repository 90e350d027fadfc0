"""Real notes nobody on this project wrote: ../shared/corpus/real-notes (MTSamples, CC0; see its README).

* None of the 4,999 MTSamples notes documents a CPT 34421, so each one, as the only documentation of a
  34421 line, must raise at least one of APPROACH_MISMATCH / SITE_MISMATCH / DOCUMENTATION_INCOMPLETE.
  All notes go through the audit in one vectorised batch.
* The 22 vascular notes classified in classification.csv must be read as classified: approach, vessel
  and side, as far as our concept ids can express the free text of that file. The mapping from their
  free text to our ids is written out below, value by value; where their text names two things, or
  names nothing our ids distinguish, the mapping says which ids are acceptable and why.

The shared folder is found next to the repository (REPO.parent / "shared"). Without it the tests skip
with a reason, except under CI=true, where they fail.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import polars as pl
import pytest

from claims_audit import documentation
from claims_audit.rules import documentation as doc_rules

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "corpus" / "real-notes"
CORE = ("APPROACH_MISMATCH", "SITE_MISMATCH", "DOCUMENTATION_INCOMPLETE")


@pytest.fixture(scope="module")
def real() -> Path:
    if not (REAL / "mtsamples_full.csv.gz").exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"real-notes corpus missing at {REAL} (required under CI)")
        pytest.skip(f"real-notes corpus not found at {REAL} (../shared is not checked out)")
    return REAL


def _audit(notes: list[str | None]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each note as the only documentation of one 34421 line (abstract fields blank)."""
    lines = pl.DataFrame({"op_note": notes}, schema={"op_note": pl.String}).with_row_index("line_key").with_columns(
        pl.col("line_key").cast(pl.Int64), pl.lit("34421").alias("procedure_code"),
        pl.lit(None, pl.String).alias("documented_approach"), pl.lit(None, pl.String).alias("documented_site"))
    classified = documentation.classify(lines)
    return classified, doc_rules.apply(classified)


def test_every_mtsamples_note_alone_raises_a_core_finding(real):
    notes = pl.read_csv(real / "mtsamples_full.csv.gz", infer_schema=False)
    assert notes.height == 4999
    classified, findings = _audit(notes.get_column("transcription").to_list())
    flagged = findings.filter(pl.col("rule_id").is_in(CORE)).get_column("line_key").unique()
    missed = classified.filter(~pl.col("line_key").is_in(flagged.implode())).get_column("line_key").to_list()
    print(f"\nMTSamples: {flagged.len()}/{notes.height} notes raise a core finding; "
          f"approach read in {classified.filter(pl.col('doc_approach') != 'unknown').height}, "
          f"vessel in {classified.filter(pl.col('doc_vessel') != 'unknown').height}, "
          f"thrombus removal described in {classified.filter(pl.col('doc_procedure')).height}")
    ids = notes.get_column("note_id").to_list()
    assert not missed, f"notes that pass without a core finding: {[ids[k] for k in missed]}"


# --------------------------------------------------------------------------------------------------------
# classification.csv free text -> our concept ids
# --------------------------------------------------------------------------------------------------------
OPEN = {"leg_incision", "abdominal", "abdominal_and_leg", "neck", "arm"}   # "open" with no site named
LEG_VEINS = {"iliac_vein", "femoral_vein", "popliteal_vein", "calf_vein", "saphenous_vein"}

APPROACH = {
    "open (incision)": OPEN,                                   # no site in the text
    "open (antecubital incision, graftotomy)": {"arm"},
    "open (incisions below antecubital crease and upper arm)": {"arm"},
    "percutaneous / endovascular (historical procedure)": {"percutaneous"},  # the approach named (history)
    "n/a (history); plan = catheter tPA": {"unknown"},         # no procedure, only history and a plan
    "n/a (history)": {"unknown"},
    "open (leg incisions)": {"leg_incision"},
    "open (groin + leg incisions)": {"leg_incision"},
    # the carotid (the treated artery) is reached through the neck; the sternotomy serves the coronary
    # bypass and the leg incisions are graft harvest, not an approach to a vessel of this operation
    "open (neck, sternotomy, leg harvest incisions)": {"neck"},
    "open": OPEN,
    # the incision decides (domain notes section 1): a brachial cutdown is an arm incision
    "open arterial exposure (brachial cutdown) + endovascular": {"arm"},
    "percutaneous": {"percutaneous"},
    "percutaneous (ultrasound-guided CFA access)": {"percutaneous"},
    "imaging": {"unknown"},                                    # a report: no procedure approach
}

VESSEL = {
    # the femoral vein held only a temporary dialysis catheter
    "upper extremity: left forearm AV loop graft (dialysis access); note also mentions a temporary dialysis "
    "catheter in the FEMORAL VEIN (not operated on)": {"dialysis_access"},
    "upper extremity: left forearm AV graft / venous anastomosis": {"dialysis_access"},
    # an AV graft and an arm vein named: either id (the graft is dialysis access, the vein an upper-body vein)
    "upper extremity: left forearm AV bridge graft, brachial vein": {"dialysis_access", "upper_body_vein"},
    # several 34421 sites: the most central one (corpus convention, tests/data/README.md)
    "IVC, right iliac vein, right (common) femoral vein - i.e. the SAME anatomic territory as 34421": {"ivc"},
    # the PermCath is a catheter site, not a treated vessel
    "upper extremity: left arm AV fistula; right subclavian PermCath": {"dialysis_access"},
    "femoral ARTERY (history only); nails of both feet": {"artery"},
    # two vessels named (pulmonary arteries; the IVC of the filter): either id
    "pulmonary arteries / IVC filter (history)": {"artery", "ivc"},
    "left (superficial) femoral vein DVT; IVC filter": {"femoral_vein", "ivc"},
    # the saphenofemoral junction is a landmark of the stripping
    "superficial veins: bilateral great saphenous vein, saphenofemoral junction at femoral vein": {"saphenous_vein"},
    "left great saphenous vein / varicosities": {"saphenous_vein"},
    "right common/internal/external carotid artery; coronary arteries": {"artery"},
    "aorta, bilateral common/superficial femoral ARTERIES": {"artery"},
    "aorta, bilateral femoral ARTERIES": {"artery"},
    "right external iliac ARTERY": {"artery"},
    "left superficial femoral and external iliac ARTERIES": {"artery"},
    "left arm AV fistula / cephalic vein": {"dialysis_access", "upper_body_vein"},
    # the run-off names the tibial arteries too: either artery id
    "aorta and lower-extremity ARTERIES": {"artery", "tibioperoneal_artery"},
    # a basilic vein transposition is the second stage of a brachiobasilic AV fistula: either id
    "right upper arm basilic vein": {"upper_body_vein", "dialysis_access"},
    "left CFV, femoral, popliteal, posterior tibial veins": {"femoral_vein"},
    # "deep leg veins" / "leg veins" name no particular vein: any leg-vein id, or unknown
    "bilateral deep leg veins": {"unknown", "iliac_vein", "femoral_vein", "popliteal_vein", "calf_vein"},
    "bilateral CFV / popliteal / GSV": {"femoral_vein"},
    "left leg veins": {"unknown", *LEG_VEINS},
}

SIDE = {
    "left": {"left"},
    "right": {"right"},
    "bilateral": {"bilateral"},
    "left (fistula)": {"left"},
    "left (DVT)": {"left"},
    "right (carotid)": {"right"},
    "bilateral feet (procedure)": {"bilateral"},
    "n/a": {None},
    "right (treated vessel); left arm access": {"right"},
    "bilateral runoff; selective left": {"bilateral", "left"},   # two readings named
}


def _classified_notes(real: Path) -> list[tuple[dict[str, str], str]]:
    texts = {}
    for name in ("opnotes.csv", "related_vascular_notes.csv"):
        with (real / name).open(encoding="utf-8", newline="") as fh:
            for r in csv.DictReader(fh):
                texts[(name, r["source_path"].rsplit("=", 1)[-1])] = r["transcription"]
    with (real / "classification.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [(r, texts[(r["file"], r["mtsamples_note_id"])]) for r in rows]


def test_classification_mapping_covers_the_file(real):
    rows = [r for r, _ in _classified_notes(real)]
    assert len(rows) == 22
    assert {r["approach"] for r in rows} <= set(APPROACH), {r["approach"] for r in rows} - set(APPROACH)
    assert {r["vessel_site"] for r in rows} <= set(VESSEL), {r["vessel_site"] for r in rows} - set(VESSEL)
    assert {r["laterality"] for r in rows} <= set(SIDE), {r["laterality"] for r in rows} - set(SIDE)


def test_22_classified_notes_match_classification(real):
    pairs = _classified_notes(real)
    classified, findings = _audit([t for _, t in pairs])
    got = classified.sort("line_key").select("doc_approach", "doc_vessel", "doc_side").to_dicts()
    flagged = set(findings.filter(pl.col("rule_id").is_in(CORE)).get_column("line_key").to_list())
    wrong = []
    for i, ((row, _), g) in enumerate(zip(pairs, got)):
        expect = (APPROACH[row["approach"]], VESSEL[row["vessel_site"]], SIDE[row["laterality"]])
        actual = (g["doc_approach"], g["doc_vessel"], g["doc_side"])
        if any(a not in e for a, e in zip(actual, expect)) or i not in flagged:
            wrong.append(f"note {row['mtsamples_note_id']} ({row['sample_name']}): got {actual}, "
                         f"expected one of {expect}; core finding raised: {i in flagged}")
    print(f"\nclassified real notes: {len(pairs) - len(wrong)}/{len(pairs)} match classification.csv")
    assert not wrong, "\n".join(wrong)
