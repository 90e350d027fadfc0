"""The declared layout: loading, header matching, mappings, cell rules."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from claims_audit.errors import ConfigError
from claims_audit.schema import header_key, load_layout, load_mapping, npi_valid, schemas_dir, validate_mapping


def test_shipped_layout_has_every_contract_column():
    layout = load_layout()
    expected = ["claim_id", "line_number", "member_id", "service_date", "procedure_code", "units",
                *[f"modifier_{i}" for i in range(1, 5)], "rendering_npi", "place_of_service", "charge_amount",
                *[f"dx_{i}" for i in range(1, 13)], "documented_approach", "documented_site", "op_note",
                *[f"icd9_dx_{i}" for i in range(1, 13)], "claim_frequency", "original_claim_id", "revenue_code",
                "bill_type"]
    assert layout.names == expected
    assert layout.required == ["claim_id", "line_number", "member_id", "service_date", "procedure_code", "units"]
    assert (schemas_dir() / "claims-extract-v1.yaml").is_file()


@pytest.mark.parametrize("header", ["Claim_ID", " claim id ", "CLAIM-ID", "claimid"])
def test_header_matching_ignores_case_space_and_separators(header):
    assert load_layout().canonical(header) == "claim_id"
    assert header_key(header) == "claimid"


@pytest.mark.parametrize("npi,ok", [("1234567893", True), ("1234567890", False), ("1245319599", True),
                                    ("1003811290", True), ("1003811291", False)])
def test_npi_check_digit(npi, ok):
    assert pl.select(npi_valid(pl.lit(npi))).item() is ok


@pytest.mark.parametrize("name", ["mapping-example.yaml", "mapping-example.toml"])
def test_mapping_examples_load(name):
    mapping = load_mapping(schemas_dir() / name)
    validate_mapping(mapping, load_layout())
    assert mapping[header_key("HCPCS_CD")] == "procedure_code"


def test_mapping_to_unknown_column_is_a_config_error(tmp_path: Path):
    p = tmp_path / "m.yaml"
    p.write_text("columns:\n  FOO: not_a_column\n")
    with pytest.raises(ConfigError, match="not_a_column"):
        validate_mapping(load_mapping(p), load_layout())


@pytest.mark.parametrize("text", ["columns: [1, 2]", "::: not yaml", "rows:\n  a: b\n"])
def test_bad_mapping_files_are_config_errors(tmp_path: Path, text: str):
    p = tmp_path / "m.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError):
        load_mapping(p)


def test_bad_schema_file_is_a_config_error(tmp_path: Path):
    p = tmp_path / "s.yaml"
    p.write_text("columns:\n  - name: a\n    type: banana\n")
    with pytest.raises(ConfigError, match="unknown type"):
        load_layout(p)
    with pytest.raises(ConfigError, match="not found"):
        load_layout(tmp_path / "missing.yaml")


def _layout_with(tmp_path: Path, extra: str) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text("columns:\n  - name: a\n    type: decimal\n" + extra)
    return p


@pytest.mark.parametrize("extra,message", [
    ("    accept: [roman_numerals]\n", "unknown form 'roman_numerals'"),
    ("    accept: currency_sign\n", "'accept' must be a list"),
    ("    accept: [zero_time]\n", "of type decimal cannot accept 'zero_time'"),
    ("    spreadsheet_damage: {lost_leading_zeros: 1}\n", "lost_leading_zeros the number of digits"),
    ("    spreadsheet_damage: {scientific_notation: 'yes'}\n", "scientific_notation is true or false"),
    ("    spreadsheet_damage: [scientific_notation]\n", "'spreadsheet_damage' takes"),
])
def test_bad_accept_and_damage_declarations_are_config_errors(tmp_path, extra, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_layout(_layout_with(tmp_path, extra))


def test_shipped_layout_declares_what_each_column_accepts():
    layout = load_layout()
    assert layout.spec("charge_amount").accept == (
        "currency_sign", "thousands_separator", "accounting_negative")
    assert layout.spec("service_date").accept == ("zero_time",)
    assert "%Y%m%d" in layout.spec("service_date").formats
    assert layout.spec("procedure_code").lost_leading_zeros == 5
    assert [s.name for s in layout.columns if s.scientific_notation] == [
        "claim_id", "member_id", "procedure_code", "rendering_npi"]
    assert "accepts a leading $" in layout.spec("charge_amount").rules_text


@pytest.mark.parametrize("fmt,good,bad", [
    ("%Y-%m-%d", ["2026-11-02", "2026-1-2"], ["02026-11-02", "26-11-02"]),
    ("%m/%d/%Y", ["11/2/2026", "11/02/2026"], ["11/02/26", "11/02/02026"]),
    ("%Y%m%d", ["20261102"], ["2026112", "202611020"]),
    ("%d-%b-%Y", ["02-Nov-2026"], ["02-November-2026"]),
])
def test_date_formats_read_only_their_own_shape(fmt, good, bad):
    from claims_audit.schema import ColumnSpec, parse_date
    spec = ColumnSpec(name="d", type="date", formats=(fmt,))
    got = pl.select(parse_date(spec, pl.lit(pl.Series(good + bad)))).to_series()
    assert got.is_not_null().to_list() == [True] * len(good) + [False] * len(bad)


@pytest.mark.parametrize("text,normal", [
    ("$1,234.50", "1234.50"), ("1,234.5", "1234.5"), ("(12.00)", "-12.00"), ("($1,234.50)", "-1234.50"),
    ("$(12)", "-12"), ("-$12", "-12"), ("$ 12", "12"), ("1,5", "1,5"), ("1,2345", "1,2345"), ("12", "12"),
])
def test_accepted_money_forms(text, normal):
    from claims_audit.schema import accepted_forms
    e = accepted_forms(pl.lit(text), ("currency_sign", "thousands_separator", "accounting_negative"))
    assert pl.select(e).item() == normal


@pytest.mark.parametrize("text,normal", [
    ("2026-11-02 00:00:00", "2026-11-02"), ("2026-11-02T00:00:00", "2026-11-02"),
    ("11/2/2026 0:00", "11/2/2026"),
    ("11/2/2026 12:00:00 AM", "11/2/2026"), ("2026-11-02 00:00:00.000", "2026-11-02"),
    ("2026-11-02 14:30", "2026-11-02 14:30"), ("2026-11-02 12:00:00 PM", "2026-11-02 12:00:00 PM"),
])
def test_accepted_zero_time(text, normal):
    from claims_audit.schema import accepted_forms
    assert pl.select(accepted_forms(pl.lit(text), ("zero_time",))).item() == normal
