"""Claim-edit output contract: columns, types, clean claims, missing columns."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from claims_audit.rules import claim_edits as ce
from claims_audit.ruleconfig import SEVERITIES
from claim_edit_lines import SURGERY, line, make_lines, run


def test_output_has_exactly_the_design_columns_and_types():
    expected = {
        "line_key": pl.Int64, "rule_id": pl.String, "severity": pl.String, "message": pl.String,
        "suggested_code": pl.String, "evidence": pl.String, "related_claim_id": pl.String,
        "related_line_number": pl.Int64, "reference": pl.String, "related_line_key": pl.Int64,
    }
    clean = ce.apply(make_lines(line()))
    assert clean.is_empty()
    assert dict(clean.schema) == expected
    noisy = run(line(units=3, mods=("80", "66"), dx=("I8241", "I743")), line(code="37187"))
    assert not noisy.is_empty()
    assert dict(noisy.schema) == expected
    assert noisy["message"].null_count() == 0 and noisy["reference"].null_count() == 0
    assert set(noisy["severity"]) <= set(SEVERITIES)


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
