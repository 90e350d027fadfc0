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


def test_spreadsheet_forms_are_read(tmp_path):
    forms = [("$1,234.50", "2026-11-02 00:00:00"), ("1,234.5", "2026-11-02T00:00:00"),
             (" 12 ", "11/2/2026 0:00"), ("$ 7", "20261102"), ("", "11/2/2026 12:00:00 AM")]
    v = _validate(tmp_path, [line(claim_id=f"C{i}", charge_amount=c, service_date=d)
                             for i, (c, d) in enumerate(forms)])
    assert v.rows_rejected == 0 and v.rejected.height == 0
    assert v.lines.get_column("charge_amount").to_list() == [1234.5, 1234.5, 12.0, 7.0, None]
    assert set(v.lines.get_column("service_date").cast(pl.String)) == {"2026-11-02"}
    assert v.lines.get_column("ignored_note").null_count() == 5


def test_a_bad_optional_cell_costs_the_value_not_the_row(tmp_path):
    v = _validate(tmp_path, [line(charge_amount="(12.00)", modifier_1="L T", dx_1="I82.412", dx_2="12345"),
                             line(claim_id="C2", units="0", charge_amount="x")])
    assert v.rows_rejected == 1 and v.lines.height == 1
    row = v.lines.row(0, named=True)
    # the typed value of an ignored cell is emptied: -12 would otherwise reach the rules
    assert (row["charge_amount"], row["modifier_1"], row["dx_1"], row["dx_2"]) == (None, None, "I82412", None)
    assert row["ignored_columns"] == "modifier_1,charge_amount,dx_2"
    assert row["ignored_note"] == 'modifier_1 "L T", charge_amount "(12.00)", dx_2 "12345"'
    assert v.values_ignored == {"modifier_1": 1, "charge_amount": 1, "dx_2": 1}
    outcome = {(r["source_row"], r["column"]): r["outcome"] for r in v.rejected.iter_rows(named=True)}
    assert outcome == {(2, "charge_amount"): "row audited without this value",
                       (2, "dx_2"): "row audited without this value",
                       (2, "modifier_1"): "row audited without this value",
                       (3, "units"): "row rejected", (3, "charge_amount"): "row rejected"}


def test_a_lines_note_is_the_same_whether_or_not_other_lines_have_several_ignored_values(tmp_path):
    """One ignored value on every line takes a shortcut (no grouping by line): the notes are those of the
    grouped path, which a piece with one line of two ignored values takes."""
    single = [line(claim_id=f"C{i}", charge_amount="N/A") for i in range(4)]
    alone = _validate(tmp_path, single)
    mixed = _validate(tmp_path, [*single, line(claim_id="C9", charge_amount="N/A", modifier_1="L T")])
    assert alone.lines.select("ignored_columns", "ignored_note").equals(
        mixed.lines.head(4).select("ignored_columns", "ignored_note"))
    assert alone.lines.get_column("ignored_note").to_list() == ['charge_amount "N/A"'] * 4
    assert mixed.lines.get_column("ignored_note").item(4) == 'modifier_1 "L T", charge_amount "N/A"'


def test_a_long_ignored_value_is_shortened_in_the_note(tmp_path):
    v = _validate(tmp_path, [line(charge_amount="9" * 30 + "x" * 30)])
    assert v.lines.get_column("ignored_note").item() == 'charge_amount "' + "9" * 30 + "x" * 10 + '…"'
    assert v.rejected.get_column("value").item() == "9" * 30 + "x" * 30  # the report keeps it whole


def test_an_ignored_member_id_is_named_but_never_quoted(tmp_path):
    """In a layout where member_id is optional, its bad value is ignored like any other, but the note on
    the findings (which --mask-member-ids does not rewrite) names the column only."""
    import yaml

    from claims_audit.schema import schemas_dir
    doc = yaml.safe_load((schemas_dir() / "claims-extract-v1.yaml").read_text(encoding="utf-8"))
    for col in doc["columns"]:
        if col["name"] == "member_id":
            col["required"] = False
    custom = tmp_path / "optional-member.yaml"
    custom.write_text(yaml.safe_dump(doc), encoding="utf-8")
    p = write_csv(tmp_path / "x.csv", [line(member_id="4.5E+11", modifier_1="L T")])
    layout = load_layout(custom)
    v = validate(read(InputFile(p, str(p)), layout), layout)
    assert v.rows_rejected == 0 and v.lines.get_column("member_id").item() is None
    assert v.lines.get_column("ignored_note").item() == 'member_id, modifier_1 "L T"'


def test_units_must_be_whole_positive_numbers(tmp_path):
    v = _validate(tmp_path, [line(units=u) for u in ["1", "2", "-1", "x", "1.5", "0", "+3"]])
    assert v.lines.get_column("units").to_list() == [1, 2, 3]
    assert v.rows_rejected == 4


# --- the shortcuts of `check_column` give exactly what the plain path gives --------------------------

# cells of every kind: clean, in need of normalizing, empty, blank, invalid, hostile
ODD_CELLS = [None, "", " ", "  \t", "x", "X1", "=1+2", "\x00", "é", "1,5", '"q"', "a\nb", "-0", "+0", "0",
             "+7", "07", " 7 ", "1e5", "inf", "nan", "-1", "1.5", ".5", "5.", "12.50", " 12.5", "999999999",
             "1234567890", "1234567893", " 1234567893", "2026-02-30", "2026-11-03", "11/03/2026",
             " 11/03/2026", "3/11/2026", "34421", " 34421", "g0439", "G0439 ", "0001F", "lt", "LT", "50",
             "i82.412", "I82412", "I82.412", " i82.412 ", "I8", "123", "C01", "Z99.89", "z9989",
             # forms spreadsheets write, accepted or not, and damage they do (issue 16)
             "$1,234.50", "1,234.5", " 12 ", "(12.00)", "($1,234.50)", "$(12)", "-$12", "$", "()", "1,23",
             "12,345,678.9", "2026-11-02 00:00:00", "2026-11-02T00:00:00", "11/2/2026 0:00",
             "11/2/2026 12:00:00 AM", "2026-11-02 14:30", "20261102", "2026112", "11/02/26", "2.61121E+11",
             "1.23457E+09", "1E5", "100", "1999", "2", "00100", ":", "(1:2)", "$1:00"]


def _odd_column(n: int, seed: int, fill: float) -> pl.Series:
    import random
    rnd = random.Random(seed)
    return pl.Series([rnd.choice(ODD_CELLS) if rnd.random() < fill else None for _ in range(n)],
                     dtype=pl.String)


def _assert_same(col: pl.Series, spec) -> None:
    from polars.testing import assert_series_equal

    from claims_audit.validation import check_column, plain_check
    typed, bad = check_column(col, spec)
    ref_typed, ref_bad = plain_check(col, spec)
    bad = pl.repeat(False, col.len(), eager=True) if bad is None else bad
    assert_series_equal(bad, ref_bad, check_names=False)
    keep = ~ref_bad  # a failing cell's typed value is never used (its row is rejected)
    assert_series_equal(typed.filter(keep), ref_typed.filter(keep), check_names=False)


def test_column_shortcuts_equal_plain_path_on_odd_cells():
    layout = load_layout()
    for spec in layout.columns:
        for seed, fill in ((1, 1.0), (2, 0.9), (3, 0.3), (4, 0.02)):  # dense, sparse and nearly empty
            _assert_same(_odd_column(400, seed, fill), spec)


def test_column_shortcuts_on_columns_in_many_chunks():
    """A large file's columns arrive in many chunks (one per parsing thread and block), some empty."""
    layout = load_layout()
    for spec in layout.columns:
        pieces = [_odd_column(n, seed, fill) for n, seed, fill in
                  ((300, 5, 1.0), (0, 6, 1.0), (200, 7, 0.1), (1, 8, 1.0), (250, 9, 0.6))]
        col = pl.concat(pieces, rechunk=False)
        assert col.n_chunks() > 1
        _assert_same(col, spec)


def test_column_shortcuts_equal_plain_path_on_clean_and_nearly_clean_columns(tmp_path):
    """The realistic case: a clean generated extract (every shortcut taken), then the same columns with
    one cell each needing normalization and one invalid cell (the mixed paths)."""
    from claims_audit import sample
    path = tmp_path / "s.csv"
    sample.write(sample.generate(3_000, seed=5), path)
    layout = load_layout()
    frame = read(InputFile(path, str(path)), layout).frame
    for spec in layout.columns:
        col = frame.get_column(spec.name)
        _assert_same(col, spec)
        for k, cell in ((7, " 7 "), (1500, "i82.412"), (2999, "=bad"), (11, None), (12, ""),
                        (13, "$1,234.50"), (14, "2026-11-02 00:00:00"), (15, "2.61121E+11"), (16, "100")):
            _assert_same(col.clone().scatter(k, cell), spec)


def test_shortcuts_never_modify_the_text_frame(tmp_path):
    """The failure report quotes the cell as it stood in the file: the typed columns must be copies."""
    rows = [line(procedure_code=" g0439 ", claim_id=" C1 ", dx_1="i82.412"), line(units="x")]
    p = write_csv(tmp_path / "x.csv", rows)
    layout = load_layout()
    raw = read(InputFile(p, str(p)), layout)
    before = raw.frame.clone()
    v = validate(raw, layout)
    assert raw.frame.equals(before)
    assert v.lines.get_column("procedure_code").to_list() == ["G0439"]
    assert v.lines.get_column("claim_id").to_list() == ["C1"]


def test_the_failure_report_of_the_suspect_columns_equals_pandera_over_every_column(tmp_path):
    """pandera judges only the columns where a cell failed the shortcut checks: its failure cases are
    those it finds when it is given every column of every row (a damaged generated extract)."""
    from claims_audit import sample
    from claims_audit.schema import normalize
    from claims_audit.validation import REJECTED_CELL_SCHEMA, _failures

    path = tmp_path / "s.csv"
    sample.write(sample.generate(4_000, seed=8, bad_fraction=0.08), path)
    layout = load_layout()
    raw = read(InputFile(path, str(path)), layout)
    found = validate(raw, layout).rejected.filter(pl.col("column").is_not_null())
    everything = _failures(raw.frame.with_columns([normalize(s) for s in layout.columns]), raw.frame, layout)
    assert found.height > 100
    cells = list(REJECTED_CELL_SCHEMA)[:4]  # row, column, value, problem
    assert found.select(cells).sort(cells).equals(everything.select(cells).sort(cells))
