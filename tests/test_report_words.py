"""Findings speak as a coder reads them (issue 19, point 6): diagnoses with the dot in the evidence, as in
`dx_codes`; PTP rationales as the NCCI table writes them, not lower-cased table text."""

from __future__ import annotations

import re

from claim_edit_lines import em, line, run

UNDOTTED_DX = re.compile(r"\b[A-TV-Z][0-9][0-9A-Z][0-9A-Z]{1,4}\b")  # an ICD-10-CM code without its dot


def _undotted(text: str) -> list[str]:
    return [m for m in UNDOTTED_DX.findall(text) if not m.isdigit() and not m[1:].isdigit()]


def test_diagnosis_evidence_writes_codes_with_the_dot():
    [f] = run(line(code="34421", dx=("I82B11", "E119")), rule="DIAGNOSIS_NOT_SUPPORTING").to_dicts()
    assert f["evidence"] == "diagnoses: I82.B11, E11.9"
    [invalid] = run(line(dx=("I82411", "I8241")), rule="DIAGNOSIS_INVALID").to_dicts()
    assert invalid["evidence"] == "dx_2 = I82.41"


def test_laterality_evidence_and_message_write_codes_with_the_dot():
    [f] = run(line(mods=("LT",), dx=("I82411",)), rule="LATERALITY_CONFLICT").to_dicts()
    assert "I82.411 (right)" in f["evidence"] and not _undotted(f["evidence"])
    [q] = run(line(mods=("RT",), dx=("I82439",)), rule="LATERALITY_CONFLICT").to_dicts()
    assert "I82.439 (unspecified)" in q["message"] and "I82.439" in q["evidence"]


def test_global_period_evidence_writes_codes_with_the_dot():
    [f] = run(line(dx=("I82411", "E119")), em(30, mods=("24",), dx=("I82411",)), rule="GLOBAL_PERIOD_EM").to_dicts()
    assert "first diagnosis I82.411" in f["evidence"] and "diagnoses I82.411, E11.9" in f["evidence"]
    assert not _undotted(f["evidence"]) and not _undotted(f["message"])


def test_ptp_message_names_the_ncci_rationale_as_the_table_writes_it():
    [f] = run(line(claim_id="C1"), line(code="37187", claim_id="C1"), rule="PTP_CONFLICT").to_dicts()
    assert "(NCCI rationale: Mutually exclusive procedures)" in f["message"]  # as the table row says it
    assert "mutually exclusive" not in f["message"] and "NCCI: " not in f["message"]
    [zero] = run(line(), line(code="64450"), rule="PTP_CONFLICT").to_dicts()
    assert "(NCCI rationale: " in zero["message"] and "cannot be bypassed" in zero["message"]
    rationale = zero["message"].split("(NCCI rationale: ")[1].split(")")[0]
    assert rationale[:1].isupper(), rationale


def test_ptp_rationale_keeps_the_capitals_of_the_table():
    [f] = run(line(), line(code="36591"), rule="PTP_CONFLICT").to_dicts()
    assert "(NCCI rationale: CPT Manual or CMS manual coding instruction)" in f["message"]
