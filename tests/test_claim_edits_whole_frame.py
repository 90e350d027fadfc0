"""Whole-frame behaviour of the claim edits."""

from __future__ import annotations

from claims_audit.rules import claim_edits as ce
from claim_edit_lines import line, make_lines, em


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
