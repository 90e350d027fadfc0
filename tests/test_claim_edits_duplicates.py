"""DUPLICATE_LINE."""

from __future__ import annotations

from claim_edit_lines import D, NPI2, line, run, keys


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
