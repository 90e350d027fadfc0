"""Cell-level validation: every bad cell reported with row, column, value and reason."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from claims_audit.readers import InputFile, read
from claims_audit.schema import load_layout
from claims_audit.validation import validate
from conftest import line, write_csv


def _validate(tmp_path: Path, rows):
    p = write_csv(tmp_path / "x.csv", rows)
    layout = load_layout()
    return validate(read(InputFile(p, str(p)), layout), layout)


def test_valid_rows_are_cast_to_their_types(tmp_path):
    v = _validate(tmp_path, [line(service_date="11/03/2026", procedure_code=" g0439 ", dx_1="i82.412",
                                  modifier_1="lt", charge_amount="12.5")])
    assert v.rows_rejected == 0
    row = v.lines.row(0, named=True)
    assert row["service_date"].isoformat() == "2026-11-03"
    assert row["procedure_code"] == "G0439"
    assert row["dx_1"] == "I82412"
    assert row["modifier_1"] == "LT"
    assert row["units"] == 1 and row["line_number"] == 1 and row["charge_amount"] == 12.5
    assert row["member_id"] == "000123"
    assert v.lines.schema["service_date"] == pl.Date


def test_every_bad_cell_of_a_row_is_reported(tmp_path):
    v = _validate(tmp_path, [line(), line(service_date="2026-02-30", units="0", rendering_npi="1234567890",
                                      procedure_code="", modifier_1="LTX", dx_1="12345")])
    assert v.rows_rejected == 1
    assert v.lines.height == 1
    bad = {r["column"]: r for r in v.rejected.iter_rows(named=True)}
    assert set(bad) == {"service_date", "units", "rendering_npi", "procedure_code", "modifier_1", "dx_1"}
    assert all(r["source_row"] == 3 for r in bad.values())
    assert bad["service_date"]["value"] == "2026-02-30"
    assert "real calendar date" in bad["service_date"]["problem"]
    assert bad["procedure_code"]["problem"] == "procedure_code is required but empty"


def test_units_must_be_whole_positive_numbers(tmp_path):
    v = _validate(tmp_path, [line(units=u) for u in ["1", "2", "-1", "x", "1.5", "0", "+3"]])
    assert v.lines.get_column("units").to_list() == [1, 2, 3]
    assert v.rows_rejected == 4
