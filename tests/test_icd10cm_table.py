"""The shipped ICD-10-CM table equals the official code set bundled in simple-icd-10-cm."""

from __future__ import annotations

import polars as pl
import pytest

from claims_audit.rules.claim_edits.diagnoses import icd_facts
from claims_audit.shipped import ICD10CM_DATA as ICD_DIR

icd = pytest.importorskip("simple_icd_10_cm", reason="simple-icd-10-cm is a test dependency")


def test_shipped_table_matches_the_package():
    shipped = pl.read_csv(ICD_DIR / "icd10cm_codes.csv", schema={"code": pl.String, "billable": pl.Int8})
    expected = sorted((c, int(bool(icd.is_leaf(c)))) for c in icd.get_all_codes(with_dots=False)
                      if not icd.is_chapter_or_block(c))
    assert list(shipped.iter_rows()) == expected, "rebuild with scripts/build_icd10cm.py"


def test_lookup_of_codes():
    info = {r["code"]: r for r in icd_facts(["I82412", "I824", "I8241", "XYZ12", "E119"]).iter_rows(named=True)}
    assert info["I82412"]["exists"] and info["I82412"]["billable"] and info["I82412"]["display"] == "I82.412"
    assert info["I824"]["exists"] and not info["I824"]["billable"]
    assert "I82.401" in info["I824"]["hint"] and info["I824"]["hint"].endswith("...")
    assert not info["XYZ12"]["exists"]
    assert info["E119"]["billable"]
