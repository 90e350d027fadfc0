"""Shipped layout presets through the CLI: every corpus claims file with its preset (exact counts), the
wide SynPUF rows unpivoted, `layouts` and `schema --layout`, --layout with --mapping, and a 34421 line
injected into a copy of each layout found and audited."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from claims_audit.presets import available
from claims_audit.readers import InputFile, read
from claims_audit.schema import load_layout
from conftest import SHARED, manifest, read_sheet

CLAIMS = SHARED / "corpus" / "claims"
RUN = "2026-11-20"
SYNPUF_CARRIER_B = "ohdsi_etl_cms__DE1_0_2008_to_2010_Carrier_Claims_Sample_0B.csv"

pytestmark = pytest.mark.skipif(not CLAIMS.is_dir() and os.environ.get("CI") != "true",
                                reason="../shared/corpus not present beside the checkout")

# preset -> {file: (rows read, audited, rejected)}. Rows are audited lines: the SynPUF files hold 1, 1 and
# 2 wide rows. What is rejected is real gaps of the data (no HCPCS on institutional/carrier lines, zero or
# missing units); synthetic NPIs with a bad check digit are optional values: those lines are audited
# without them.
CORPUS = {
    "tuva-medical-claim": {"tuva__medical_claim_seed.csv": (2075, 1813, 262)},
    "ccw-carrier": {"bfd_rif_synthea__carrier.psv": (221, 12, 209)},
    "ccw-outpatient": {"bfd_rif_synthea__outpatient.psv": (19, 19, 0)},
    "synpuf-carrier": {"ohdsi_etl_cms__DE1_0_2008_to_2010_Carrier_Claims_Sample_0A.csv": (1, 1, 0),
                       SYNPUF_CARRIER_B: (3, 3, 0)},
    "synpuf-outpatient": {"ohdsi_etl_cms__DE1_0_2008_to_2010_Outpatient_Claims_Sample_0.csv": (4, 4, 0)},
}


def _run(cli, out: Path, layout: str, *paths: Path, extra: tuple[str, ...] = ()):
    return cli("run", *map(str, paths), "--out", str(out), "--run-date", RUN, "--no-ledger", "--layout", layout,
               *extra)


def _inputs(out: Path) -> dict[str, dict]:
    return {Path(i["path"]).name: i for i in manifest(out, RUN)["inputs"]}


@pytest.mark.parametrize("preset", sorted(CORPUS))
def test_every_corpus_file_through_its_preset_reconciles(cli, tmp_path, preset):
    files = [CLAIMS / name for name in CORPUS[preset]]
    res = _run(cli, tmp_path / "out", preset, *files)
    assert res.exit_code in (0, 1), res.output
    got = {n: (i["rows_read"], i["rows_audited"], i["rows_rejected"]) for n, i in _inputs(tmp_path / "out").items()}
    assert got == CORPUS[preset]
    assert manifest(tmp_path / "out", RUN)["schema"].startswith(preset)


def test_the_tuva_rejections_are_the_data_gaps():
    raw = read(InputFile(CLAIMS / "tuva__medical_claim_seed.csv", "tuva"), load_layout(available()["tuva-medical-claim"]))
    # the line date, else the claim's: no line lacks a service date any more
    assert raw.frame.get_column("service_date").null_count() == 0
    assert "person_id" in raw.unknown_columns and "claim_line_start_date" not in raw.unknown_columns


def test_wide_synpuf_rows_become_one_audited_row_per_present_line():
    raw = read(InputFile(CLAIMS / SYNPUF_CARRIER_B, "b"), load_layout(available()["synpuf-carrier"]))
    f = raw.frame
    assert raw.rows_read == 3
    assert f.get_column("source_row").to_list() == [2, 2, 2]  # the file's row, for every line of it
    assert f.get_column("line_number").to_list() == ["1", "2", "3"]  # the line's place in the row
    assert f.get_column("procedure_code").to_list() == ["99337", "90775", "17003"]
    assert f.get_column("icd9_dx_1").to_list() == ["V0751"] * 3 and f.get_column("dx_1").null_count() == 3
    assert f.get_column("units").to_list() == ["1"] * 3  # SynPUF has no unit count: the preset's default


def test_a_wide_row_without_any_line_is_rejected_not_lost(cli, tmp_path):
    rows = list(csv.reader((CLAIMS / SYNPUF_CARRIER_B).open(newline="")))
    header, row = rows[0], rows[1]
    empty = [("" if h.startswith("HCPCS_CD_") else v) for h, v in zip(header, row)]
    path = tmp_path / "in" / "synpuf.csv"
    path.parent.mkdir()
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([header, row, empty])
    res = _run(cli, tmp_path / "out", "synpuf-carrier", path)
    i = _inputs(tmp_path / "out")["synpuf.csv"]
    assert (i["rows_read"], i["rows_audited"], i["rows_rejected"]) == (4, 3, 1), res.output
    rejected = read_sheet(tmp_path / "out" / f"claims-audit-{RUN}.xlsx", "Rejected", drop_blank=True)
    assert [(r["source_row"], r["problem"]) for r in rejected] == [
        (3, "row holds no service line (HCPCS_CD_1 .. HCPCS_CD_13 are all blank)")]


def test_layouts_lists_every_preset_and_schema_prints_one(cli):
    res = cli("layouts")
    assert res.exit_code == 0
    names = [line.split()[0] for line in res.output.splitlines()]
    assert names == ["ccw-carrier", "ccw-outpatient", "synpuf-carrier", "synpuf-outpatient", "tuva-medical-claim"]
    res = cli("schema", "--layout", "synpuf-carrier")
    assert res.exit_code == 0
    assert "Wide rows: up to 13 lines per row" in res.output and "HCPCS_CD_{n}" in res.output
    assert "code system: ICD-9-CM" in res.output and "formats %Y%m%d" in res.output
    res = cli("schema", "--layout", "ccw-carrier")
    assert "formats %d-%b-%Y" in res.output and "LINE_1ST_EXPNS_DT or CLM_FROM_DT" in res.output


def test_unknown_layout_and_layout_with_schema_are_usage_errors(cli, tmp_path):
    res = _run(cli, tmp_path / "out", "no-such-layout", CLAIMS / SYNPUF_CARRIER_B)
    assert res.exit_code == 2 and "unknown --layout 'no-such-layout'" in res.output
    res = _run(cli, tmp_path / "out", "ccw-carrier", CLAIMS / SYNPUF_CARRIER_B,
               extra=("--schema", str(available()["ccw-carrier"])))
    assert res.exit_code == 2 and "--layout and --schema cannot be used together" in res.output


def test_mapping_renames_on_top_of_the_preset(cli, tmp_path):
    mapping = tmp_path / "m.yaml"
    mapping.write_text("columns:\n  person_id: member_id\n  claim_end_date: service_date\n")
    res = _run(cli, tmp_path / "out", "tuva-medical-claim", CLAIMS / "tuva__medical_claim_seed.csv",
               extra=("--mapping", str(mapping)))
    assert res.exit_code == 1, res.output
    layout = load_layout(available()["tuva-medical-claim"])
    from claims_audit.schema import load_mapping
    raw = read(InputFile(CLAIMS / "tuva__medical_claim_seed.csv", "t"), layout, load_mapping(mapping))
    source = list(csv.DictReader((CLAIMS / "tuva__medical_claim_seed.csv").open(newline="")))
    assert raw.frame.get_column("member_id").to_list() == [r["person_id"] for r in source]
    assert raw.frame.get_column("service_date").to_list() == [r["claim_end_date"] or None for r in source]


# --- a 34421 line injected into a copy of each layout ---------------------------------------------------

VALID_NPI = "1234567893"


def _inject(src: Path, dst: Path, changes: dict[str, str], row: int = 0) -> Path:
    delimiter = "|" if src.suffix == ".psv" else ","
    with src.open(newline="") as fh:
        rows = list(csv.reader(fh, delimiter=delimiter))
    header = rows[0]
    for column, value in changes.items():
        rows[row + 1][header.index(column)] = value
    dst.parent.mkdir(parents=True, exist_ok=True)
    with dst.open("w", newline="") as fh:
        csv.writer(fh, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return dst


INJECT = {
    "tuva-medical-claim": ("tuva__medical_claim_seed.csv", {"hcpcs_code": "34421", "hcpcs_modifier_1": "RT",
                           "service_unit_quantity": "1", "rendering_npi": VALID_NPI, "diagnosis_code_1": "I82411",
                           "bill_type_code": "131"}, "ICD-10-CM"),
    "ccw-carrier": ("bfd_rif_synthea__carrier.psv", {"HCPCS_CD": "34421", "HCPCS_1ST_MDFR_CD": "RT",
                    "LINE_SRVC_CNT": "1", "PRF_PHYSN_NPI": VALID_NPI, "ICD_DGNS_CD1": "I82411"}, "ICD-10-CM"),
    "ccw-outpatient": ("bfd_rif_synthea__outpatient.psv", {"HCPCS_CD": "34421", "HCPCS_1ST_MDFR_CD": "RT",
                       "RNDRNG_PHYSN_NPI": VALID_NPI, "ICD_DGNS_CD1": "I82411"}, "ICD-10-CM"),
    "synpuf-carrier": (SYNPUF_CARRIER_B, {"HCPCS_CD_2": "34421", "PRF_PHYSN_NPI_2": VALID_NPI}, "ICD-9-CM"),
    "synpuf-outpatient": ("ohdsi_etl_cms__DE1_0_2008_to_2010_Outpatient_Claims_Sample_0.csv",
                          {"HCPCS_CD_1": "34421", "OP_PHYSN_NPI": VALID_NPI}, "ICD-9-CM"),
}


@pytest.mark.parametrize("preset", sorted(INJECT))
def test_a_34421_line_injected_into_each_layout_is_found_and_audited(cli, tmp_path, preset):
    name, changes, system = INJECT[preset]
    path = _inject(CLAIMS / name, tmp_path / "in" / name, changes)
    res = _run(cli, tmp_path / "out", preset, path)
    assert res.exit_code in (0, 1), res.output
    m = manifest(tmp_path / "out", RUN)
    assert m["totals"]["lines_34421"] == 1
    findings = read_sheet(tmp_path / "out" / f"claims-audit-{RUN}.xlsx", "Findings", drop_blank=True)
    mine = [f for f in findings if f["procedure_code"] == "34421"]
    assert mine and {f["source_row"] for f in mine} == {2}  # the injected file row
    rules = {f["rule_id"] for f in mine}
    assert rules & {"DOC_MISSING", "DOC_APPROACH_MISSING", "DOC_NOTE_MISSING"} or any(
        f["rule_id"].startswith("DOC") for f in mine)  # no documentation: the line cannot pass clean
    if system == "ICD-9-CM":
        dx = [f for f in mine if f["rule_id"] == "DIAGNOSIS_NOT_SUPPORTING"]
        assert dx and dx[0]["message"].startswith("Could not judge the diagnoses: they are ICD-9-CM")
        assert dx[0]["dx_codes"].startswith("ICD-9-CM ")
    else:
        assert "DIAGNOSIS_NOT_SUPPORTING" not in rules  # I82.411 (femoral DVT) supports 34421
    if preset.startswith("synpuf-carrier"):
        assert {f["line_number"] for f in mine} == {2}  # the second line of the wide row


def test_an_837_audited_in_a_preset_run_keeps_its_own_mapping(cli, tmp_path):
    x12_file = SHARED / "corpus" / "x12" / "lfh__837_005010X222A2_demo.example1.837"
    res = _run(cli, tmp_path / "out", "synpuf-carrier", CLAIMS / SYNPUF_CARRIER_B, x12_file)
    assert res.exit_code == 0, res.output
    got = {n: (i["rows_read"], i["rows_audited"]) for n, i in _inputs(tmp_path / "out").items()}
    assert got == {SYNPUF_CARRIER_B: (3, 3), x12_file.name: (4, 4)}
