"""LATERALITY_CONFLICT: sides of modifiers, diagnoses and documentation."""

from __future__ import annotations

import pytest

from claim_edit_lines import line, run


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
