"""`claims-audit explain`: what an analyst sees when asking why a line was (or was not) flagged."""

from __future__ import annotations

from claims_audit.explain import explain, render
from claims_audit.rules import rules_version

NOTE = ("Procedure: attempted percutaneous mechanical thrombectomy, converted to open thrombectomy of the right "
        "common femoral vein.\nA right groin incision was then made and the CFV exposed. Thrombus removed with a "
        "Fogarty catheter.\nNo abdominal incision was required.")


def test_explain_a_mismatch(cli):
    r = cli("explain", "--approach", "PERCUTANEOUS", "--site", "L CFV")
    assert r.exit_code == 0, r.output
    out = r.output
    assert f"rule set {rules_version()}" in out
    for section in ("Input", "Negations and exclusions applied", "Concepts found", "Decision",
                    "Findings that would be raised", "Suggested code"):
        assert section in out
    assert "approach field: percutaneous wording" in out
    assert "site field: femoral_vein" in out
    assert "approach: percutaneous  (from the abstract)" in out
    assert 'evidence: approach "PERCUTANEOUS"' in out
    assert "side:     left" in out
    assert "APPROACH_MISMATCH (error)" in out and "fits 37187" in out
    assert out.rstrip().endswith("Suggested code: 37187")


def test_explain_a_note_shows_the_negations_and_a_clean_result(cli):
    r = cli("explain", "--approach", "see op note", "--site", "", "--note", NOTE)
    assert r.exit_code == 0, r.output
    out = r.output
    assert "a non-answer: ignored" in out
    assert 'removed "attempted percutaneous mechanical thrombectomy"' in out
    assert 'removed "No abdominal incision was required"' in out
    assert "converted to open" in out
    assert "approach: leg_incision  (from the op note)" in out
    assert "vessel:   femoral_vein  (from the op note)" in out
    assert "thrombus removal described in the op note: yes" in out
    assert "(none: the documentation supports 34421)" in out
    assert "Suggested code: (none)" in out


def test_explain_a_conflict_and_a_note_that_is_no_operative_note(cli):
    r = cli("explain", "--approach", "GROIN INCISION", "--site", "R CFV", "--note",
            "Right groin incision. Common femoral artery arteriotomy and embolectomy; embolus retrieved.")
    assert "DOCUMENTATION_CONFLICT (review)" in r.output
    assert 'abstract "R CFV" (femoral_vein)' in r.output and "(artery)" in r.output
    r = cli("explain", "--approach", "LEG INCISION", "--site", "L CFV", "--note",
            "Venous duplex, left leg: non-compressible left common femoral vein. No procedure performed.")
    assert "no - the note describes a duplex ultrasound report" in r.output
    assert "DOCUMENTATION_INCOMPLETE (warning)" in r.output


def test_explain_requires_approach_and_site(cli):
    r = cli("explain", "--approach", "LEG INCISION")
    assert r.exit_code == 2


def test_explain_api_matches_the_audit():
    e = explain("Laparotomy", "L common iliac vein")
    assert e.decision["doc_approach"] == "abdominal" and e.decision["doc_vessel"] == "iliac_vein"
    assert [f["rule_id"] for f in e.findings] == ["APPROACH_MISMATCH"]
    assert e.suggested_code == "34401"
    text = render(e)
    assert "reference: documentation crosswalk" in text


def test_explain_shows_why_access_wording_and_a_bare_site_stem_count(cli):
    """Issue 19 point 3: popliteal access in prone position is percutaneous, "R subclavian" the vein; explain
    quotes the words that made each concept count and names the vocabulary list behind a bare stem."""
    r = cli("explain", "--approach", "Popliteal access in prone position", "--site", "R subclavian")
    out = r.output
    assert 'approach field: percutaneous wording ("popliteal access")' in out
    assert 'site field: subclavian_vein ("subclavian") - a stem alone in the site field names the vein' in out
    assert "site_field_vein_stems" in out
    assert "APPROACH_MISMATCH (error)" in out and "SITE_MISMATCH (error)" in out
    assert out.rstrip().endswith("Suggested code: 37187")
    same = cli("explain", "--approach", "Jugular access", "--site", "Right subclavian vein").output
    assert 'percutaneous wording ("Jugular access")' in same and "SITE_MISMATCH (error)" in same


def test_explain_shows_misspellings_and_the_note_deciding(cli):
    r = cli("explain", "--approach", "Percutanous", "--site", "L illiac vein", "--note",
            "Left groin incision; the common femoral vein was opened and thrombus extracted.")
    out = r.output
    assert 'approach field: read "Percutanous"  [misspelling read as "percutaneous" (spellings.csv)]' in out
    assert 'site field: read "illiac"' in out
    assert "approach: leg_incision  (from the op note)" in out
    assert "decided the approach and vessel over the abstract" in out
    assert "DOCUMENTATION_CONFLICT (review)" in out and "APPROACH_MISMATCH" not in out
