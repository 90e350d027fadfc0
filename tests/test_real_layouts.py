"""Real claim extracts in other projects' layouts (../shared/corpus/claims), read through --mapping.

They contain no 34421 lines; they prove that real layouts are read through a mapping, that real gaps in
the data (institutional lines without HCPCS, lines without a line date, zero units) are rejected with the
right reason, and that nothing is lost: rows read = rows audited + rows rejected.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from pathlib import Path

import pytest

from claims_audit import pipeline
from conftest import SHARED

CLAIMS = SHARED / "corpus" / "claims"
LAYOUTS = Path(__file__).parent / "fixtures" / "layouts"
RUN = dt.date(2026, 11, 20)

pytestmark = pytest.mark.skipif(not CLAIMS.is_dir() and os.environ.get("CI") != "true",
                                reason="../shared/corpus not present beside the checkout")


def _problems(result):
    return Counter((r["column"], r["problem"]) for r in result.rejected.iter_rows(named=True))


def test_tuva_medical_claim_through_mapping():
    r = pipeline.run([CLAIMS / "tuva__medical_claim_seed.csv"], RUN,
                     mapping_path=LAYOUTS / "tuva_medical_claim.yaml")
    i = r.inputs[0]
    assert (i.rows_read, i.rows_audited, i.rows_rejected) == (2075, 1462, 613)
    assert "person_id" in i.unknown_columns
    assert _problems(r) == {
        ("service_date", "service_date is required but empty"): 500,
        ("procedure_code", "procedure_code is required but empty"): 149,
        ("units", "units is required but empty"): 135,
        ("units", "units must be a whole number of at least 1"): 79,
    }


def test_ccw_carrier_pipe_delimited_with_a_custom_layout():
    r = pipeline.run([CLAIMS / "bfd_rif_synthea__carrier.psv"], RUN, mapping_path=LAYOUTS / "bfd_carrier.toml",
                     schema_path=LAYOUTS / "ccw-dates.yaml")
    i = r.inputs[0]
    assert i.delimiter == "|"
    assert (i.rows_read, i.rows_audited, i.rows_rejected) == (221, 12, 209)
    assert _problems(r)[("procedure_code", "procedure_code is required but empty")] == 209
    assert r.layout == "claims-extract-ccw-dates v1"


def test_ccw_dates_are_rejected_by_the_default_layout():
    r = pipeline.run([CLAIMS / "bfd_rif_synthea__carrier.psv"], RUN, mapping_path=LAYOUTS / "bfd_carrier.toml")
    assert _problems(r)[("service_date", "service_date must be a real calendar date as YYYY-MM-DD, "
                                         "MM/DD/YYYY or YYYYMMDD (a time part only if it is 00:00)")] == 221


def test_layout_without_mapping_rejects_file_naming_missing_columns():
    r = pipeline.run([CLAIMS / "ohdsi_etl_cms__DE1_0_2008_to_2010_Carrier_Claims_Sample_0A.csv"], RUN)
    i = r.inputs[0]
    assert i.status == "rejected"
    assert "missing required columns" in i.error and "'line_number'" in i.error
    assert i.rows_read == i.rows_rejected > 0
