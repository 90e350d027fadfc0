"""The declared layout: loading, header matching, mappings, cell rules."""

from __future__ import annotations

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
