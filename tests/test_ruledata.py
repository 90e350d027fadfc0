"""Versioned CMS rule tables: loading, effective windows, provenance and the data-version hash."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
import pytest

from claims_audit import ruledata as rd
from claims_audit.errors import ConfigError

D = dt.date
ALT = Path(__file__).parent / "data" / "cms_alt"
SHARED = Path("/work/shared/reference-data/cms")


def _row(df: pl.DataFrame, **eq) -> list[dict]:
    f = pl.lit(True)
    for k, v in eq.items():
        f = f & (pl.col(k) == v)
    return df.filter(f).to_dicts()


def applicable(df: pl.DataFrame, date: dt.date, **eq) -> list[dict]:
    """Rows in force for a date of service."""
    return [r for r in _row(df, **eq) if r["effective_from"] <= date <= r["effective_to"]]


def test_packaged_tables_load_with_effective_windows():
    data = rd.load()
    ptp, mue, pfs = data.ptp, data.mue, data.pfs
    for frame in (ptp, mue, pfs):
        assert {"effective_from", "effective_to", "version", "version_effective"} <= set(frame.columns)
        assert frame.schema["effective_from"] == pl.Date and frame.schema["effective_to"] == pl.Date
    # active PTP row: from the file's effective date, open-ended
    [row] = _row(ptp, col1="34421", col2="37187")
    assert row["effective_from"] == D(2024, 7, 1) and row["effective_to"] == D(9999, 12, 31)
    assert row["modifier_indicator"] == 1
    # a row deleted before the file took effect never applies
    rows = _row(ptp, col1="34421", col2="0228T")
    assert rows and all(not applicable(ptp, d, col1="34421", col2="0228T") for d in (D(2020, 6, 1), D(2024, 8, 1)))
    assert [r["deletion_date"] for r in rows] == [D(2020, 12, 31)]
    [m] = _row(mue, hcpcs_code="34421", mue_service="Practitioner")
    assert (m["mue_units"], m["mue_mai"]) == (1, 3)
    [p] = _row(pfs.filter(pl.col("mod").is_null()), hcpcs="34421")
    assert (p["glob_days"], p["bilat_surg"], p["asst_surg"], p["co_surg"], p["team_surg"]) == ("090", "1", "2", "1", "0")
    assert p["effective_from"] == D(2024, 1, 1)


def test_packaged_rows_match_the_shared_reference_tables():
    """The packaged files are copies of the reference cut (no row lost or altered)."""
    if not SHARED.is_dir():
        pytest.skip("shared reference data not available")
    ours = pl.read_csv(rd.packaged_data_dir() / "ncci_ptp_practitioner_2024-07-01.csv", infer_schema=False)
    ref = pl.read_csv(SHARED / "ncci_ptp_practitioner_2024-07-01_family.csv", infer_schema=False)
    assert ours.equals(ref)
    ours = pl.read_csv(rd.packaged_data_dir() / "pfs_indicators_2024-01-01.csv", infer_schema=False)
    ref = pl.read_csv(SHARED / "pfs_rvu_indicators_2024_family.csv", infer_schema=False)
    ref = ref.filter(pl.col("source_file") == "rvu24c_jul").select(ours.columns)
    assert ours.sort(ours.columns).equals(ref.sort(ours.columns))


def test_second_version_from_alt_folder_chooses_by_date_of_service():
    data = rd.load([rd.packaged_data_dir(), ALT])
    ptp, mue = data.ptp, data.mue
    # the packaged 2024-07-01 version now ends the day before the new one takes effect
    [old] = applicable(ptp, D(2024, 9, 30), col1="34421", col2="37187")
    assert (old["version_effective"], old["modifier_indicator"], old["effective_to"]) == (D(2024, 7, 1), 1, D(2024, 9, 30))
    [new] = applicable(ptp, D(2024, 10, 1), col1="34421", col2="37187")
    assert (new["version_effective"], new["modifier_indicator"]) == (D(2024, 10, 1), 0)
    # an edit the new version drops: in force on 09-30, not on 10-01
    assert applicable(ptp, D(2024, 9, 30), col1="34421", col2="75822")
    assert not applicable(ptp, D(2024, 10, 1), col1="34421", col2="75822")
    # deletion date is the last date of service the edit applies to
    assert applicable(ptp, D(2024, 11, 30), col1="34421", col2="37188")
    assert not applicable(ptp, D(2024, 12, 1), col1="34421", col2="37188")
    # MUE: 1 unit until 09-30, 2 units from 10-01
    assert [r["mue_units"] for r in applicable(mue, D(2024, 9, 30), hcpcs_code="34421", mue_service="Practitioner")] == [1]
    assert [r["mue_units"] for r in applicable(mue, D(2024, 10, 1), hcpcs_code="34421", mue_service="Practitioner")] == [2]
    # nothing applies before the earliest version
    assert not applicable(ptp, D(2024, 6, 30), col1="34421", col2="37187")


def test_table_versions_list_table_version_date_and_source():
    versions = rd.table_versions([rd.packaged_data_dir(), ALT])
    by = {(v.table, v.effective_date): v for v in versions}
    assert by[("ncci_ptp_practitioner", D(2024, 7, 1))].version == "NCCI PTP practitioner 2024Q3"
    assert "andrewallenbruce/northstar" in by[("ncci_ptp_practitioner", D(2024, 7, 1))].source
    assert "andrewallenbruce/arkrvu" in by[("pfs_indicators", D(2024, 1, 1))].source
    assert "not CMS data" in by[("ncci_mue", D(2024, 10, 1))].source
    assert ("claim_edit_policy", D(2024, 7, 1)) in by
    table, version, eff, source = versions[0]  # plain tuples for the Rules sheet
    assert isinstance(eff, dt.date) and table and version and source


def test_data_version_is_a_content_hash(tmp_path):
    packaged = rd.data_version()
    assert packaged.startswith("cms-") and len(packaged) == 20
    assert rd.data_version() == packaged
    assert rd.data_version([rd.packaged_data_dir(), ALT]) != packaged
    copy = tmp_path / "cms"
    shutil.copytree(rd.packaged_data_dir(), copy)
    assert rd.data_version(copy) == packaged  # same content, other folder: same version
    mue = copy / "ncci_mue_2024-07-01.csv"
    mue.write_text(mue.read_text().replace("34421,1,3", "34421,3,3"))
    assert rd.data_version(copy) != packaged


def test_new_quarter_file_dropped_in_is_used_without_code_change(tmp_path):
    copy = tmp_path / "cms"
    shutil.copytree(rd.packaged_data_dir(), copy)
    (copy / "ncci_mue_2025-01-01.csv").write_text(
        "hcpcs_code,mue_units,mue_mai,mue_rationale,mue_service\n34421,4,1,Clinical: Data,Practitioner\n"
    )
    mue = rd.mue(copy)
    [r] = applicable(mue, D(2025, 1, 1), hcpcs_code="34421", mue_service="Practitioner")
    assert (r["mue_units"], r["mue_mai"], r["version"]) == (4, 1, "ncci_mue_2025-01-01")
    [r] = applicable(mue, D(2024, 12, 31), hcpcs_code="34421", mue_service="Practitioner")
    assert r["mue_units"] == 1
    assert ("ncci_mue", "ncci_mue_2025-01-01", D(2025, 1, 1), "unknown (no sidecar)") in rd.table_versions(copy)


def test_missing_table_is_a_config_error():
    with pytest.raises(ConfigError, match="pfs_indicators"):
        rd.load(ALT)  # the fixture folder alone has no fee-schedule table


def test_missing_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        rd.load(tmp_path / "nope")


def test_sidecar_date_must_match_file_name(tmp_path):
    copy = tmp_path / "cms"
    shutil.copytree(rd.packaged_data_dir(), copy)
    meta = copy / "ncci_mue_2024-07-01.meta.yaml"
    meta.write_text(meta.read_text().replace("effective_date: 2024-07-01", "effective_date: 2024-04-01"))
    with pytest.raises(ConfigError, match="effective_date"):
        rd.load(copy)


def test_malformed_table_is_a_config_error(tmp_path):
    copy = tmp_path / "cms"
    shutil.copytree(rd.packaged_data_dir(), copy)
    (copy / "ncci_ptp_practitioner_2024-10-01.csv").write_text("col1,col2\n34421,37187\n")
    with pytest.raises(ConfigError, match="missing columns"):
        rd.load(copy)
    (copy / "ncci_ptp_practitioner_2024-10-01.csv").write_text(
        "col1,col2,deletion_date,modifier_indicator,rationale\n34421,37187,31/12/9999,1,x\n"
    )
    with pytest.raises(ConfigError, match="deletion_date"):
        rd.load(copy)


def test_per_row_effective_date_narrows_the_window(tmp_path):
    copy = tmp_path / "cms"
    shutil.copytree(rd.packaged_data_dir(), copy)
    (copy / "ncci_ptp_practitioner_2024-10-01.csv").write_text(
        "col1,col2,effective_date,deletion_date,modifier_indicator,rationale\n"
        "34421,99999,2024-11-15,9999-12-31,1,test\n"
    )
    ptp = rd.ptp(copy)
    assert not applicable(ptp, D(2024, 11, 14), col1="34421", col2="99999")
    assert applicable(ptp, D(2024, 11, 15), col1="34421", col2="99999")
