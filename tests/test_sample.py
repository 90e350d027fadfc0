"""Tests for the synthetic claim generator (claims_audit.sample) and the curated sample extracts."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from claims_audit import sample

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_claims"

EXPECTED_COLUMNS = (
    ["claim_id", "line_number", "member_id", "service_date", "procedure_code", "units"]
    + [f"modifier_{n}" for n in range(1, 5)]
    + ["rendering_npi", "place_of_service", "charge_amount"]
    + [f"dx_{n}" for n in range(1, 13)]
    + ["documented_approach", "documented_site", "op_note"]
)


# ---- an independent checker of the extract layout (schemas/claims-extract-v1.yaml, restated) ----------


def luhn_npi_ok(npi: str) -> bool:
    """NPI check: Luhn over the prefix 80840 followed by all 10 digits must be 0 mod 10."""
    if not re.fullmatch(r"\d{10}", npi):
        return False
    digits = [int(ch) for ch in "80840" + npi]
    total = 0
    for pos, d in enumerate(reversed(digits)):
        if pos % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def real_date(text: str) -> bool:
    for fmt in ("%Y-%m-%d", "%m/%d/%Y"):
        try:
            dt.datetime.strptime(text, fmt)
            return True
        except ValueError:
            pass
    return False


def bad_cells(df: pl.DataFrame) -> pl.DataFrame:
    """One boolean column per checked column: True where the cell breaks the layout."""
    npis = {v: luhn_npi_ok(v) for v in df["rendering_npi"].drop_nulls().unique().to_list()}
    dates = {v: real_date(v) for v in df["service_date"].drop_nulls().unique().to_list()}
    whole = r"^\+?\d{1,9}$"

    def missing_or(col: str, pattern: str) -> pl.Expr:
        v = pl.col(col).str.strip_chars()
        return (v.is_null() | (v == "") | ~v.str.contains(pattern)).fill_null(True)

    def optional_not(col: str, pattern: str) -> pl.Expr:
        v = pl.col(col).str.strip_chars()
        return (v.is_not_null() & (v != "") & ~v.str.contains(pattern)).fill_null(False)

    def below_one(col: str) -> pl.Expr:
        v = pl.col(col).str.strip_chars().str.replace(r"^\+", "").cast(pl.Int64, strict=False)
        return (v < 1).fill_null(False)

    exprs = {
        "claim_id": missing_or("claim_id", r"^\S"),
        "member_id": missing_or("member_id", r"^\S"),
        "line_number": missing_or("line_number", whole) | below_one("line_number"),
        "units": missing_or("units", whole) | below_one("units"),
        "procedure_code": missing_or("procedure_code", r"^[0-9A-Za-z]{5}$"),
        "service_date": pl.col("service_date").replace_strict(dates, default=False, return_dtype=pl.Boolean).not_(),
        "rendering_npi": pl.col("rendering_npi").is_not_null()
        & pl.col("rendering_npi").replace_strict(npis, default=True, return_dtype=pl.Boolean).not_(),
        "place_of_service": optional_not("place_of_service", r"^\d{2}$"),
        "charge_amount": optional_not("charge_amount", r"^\+?(\d+(\.\d*)?|\.\d+)$"),
    }
    for n in range(1, 5):
        exprs[f"modifier_{n}"] = optional_not(f"modifier_{n}", r"^[0-9A-Za-z]{2}$")
    for n in range(1, 13):
        c = f"dx_{n}"
        v = pl.col(c).str.strip_chars().str.to_uppercase().str.replace_all(".", "", literal=True)
        exprs[c] = (v.is_not_null() & ~v.str.contains(r"^[A-Z][0-9][0-9A-Z][0-9A-Z]{0,4}$")).fill_null(False)
    return df.select(**exprs)


# ---- generate ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big() -> pl.DataFrame:
    return sample.generate(60_000, seed=11)


def test_columns_and_dtypes(big: pl.DataFrame) -> None:
    assert sample.COLUMNS == EXPECTED_COLUMNS
    assert big.columns == EXPECTED_COLUMNS
    assert all(dtype == pl.String for dtype in big.dtypes)
    assert big.height == 60_000
    # empty cells are null, never ""
    assert big.select(pl.any_horizontal(pl.all() == "").any()).item() is False


@pytest.mark.parametrize("n", [0, 1, 7, 1234])
def test_exact_line_count(n: int) -> None:
    df = sample.generate(n, seed=3)
    assert df.height == n
    assert df.columns == EXPECTED_COLUMNS
    assert all(dtype == pl.String for dtype in df.dtypes)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        sample.generate(-1)
    with pytest.raises(ValueError):
        sample.generate(10, bad_fraction=1.5)


def test_deterministic_for_a_seed() -> None:
    a = sample.generate(5_000, seed=42)
    b = sample.generate(5_000, seed=42)
    c = sample.generate(5_000, seed=43)
    assert a.equals(b)
    assert not a.equals(c)


def _digest(df: pl.DataFrame) -> str:
    buf = io.BytesIO()
    df.write_csv(buf)
    return hashlib.sha256(buf.getvalue()).hexdigest()


def test_deterministic_across_thread_counts() -> None:
    here = _digest(sample.generate(300_000, seed=5, bad_fraction=0.01))
    code = (
        "import hashlib, io; from claims_audit import sample; "
        "df = sample.generate(300_000, seed=5, bad_fraction=0.01); b = io.BytesIO(); df.write_csv(b); "
        "print(hashlib.sha256(b.getvalue()).hexdigest())"
    )
    env = {**os.environ, "POLARS_MAX_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == here


def test_all_cells_valid_without_bad_fraction(big: pl.DataFrame) -> None:
    flags = bad_cells(big)
    per_column = flags.sum().row(0, named=True)
    assert sum(per_column.values()) == 0, {k: v for k, v in per_column.items() if v}


def test_claim_structure(big: pl.DataFrame) -> None:
    per_claim = big.group_by("claim_id", maintain_order=True).agg(
        n=pl.len(),
        lines=pl.col("line_number").cast(pl.Int64),
        **{c: pl.col(c).n_unique() for c in ("member_id", "service_date", "rendering_npi", "place_of_service")},
    )
    assert per_claim["n"].max() <= 6 and per_claim["n"].min() >= 1
    assert set(per_claim["n"].unique().to_list()) == {1, 2, 3, 4, 5, 6}
    for c in ("member_id", "service_date", "rendering_npi", "place_of_service"):
        assert per_claim[c].max() == 1, c
    assert all(lines == list(range(1, len(lines) + 1)) for lines in per_claim["lines"].to_list())
    # claims are contiguous
    assert big["claim_id"].rle_id().max() + 1 == per_claim.height


def test_34421_share_and_documentation() -> None:
    lines = sample.generate(300_000, seed=2)
    share = (lines["procedure_code"] == "34421").mean()
    assert 0.01 <= share <= 0.02
    l34421 = lines.filter(pl.col("procedure_code") == "34421")
    others = lines.filter(pl.col("procedure_code") != "34421")
    # 34421 lines mostly carry documentation; other lines mostly not
    documented = l34421.select(
        pl.any_horizontal(pl.col("documented_approach", "documented_site", "op_note").is_not_null()).mean()
    ).item()
    assert documented > 0.9
    assert others["documented_approach"].is_not_null().mean() < 0.01
    assert others["op_note"].null_count() == others.height
    # clean leg-incision abstracts are the majority; every kind shows up
    approach = l34421["documented_approach"].fill_null("").str.to_lowercase()
    for word in ("groin", "laparotomy", "retroperitoneal", "percutaneous", "thrombolysis", "supraclavicular",
                 "upper arm", "n/a", "see op note"):
        assert approach.str.contains(word, literal=True).any(), word
    site = l34421["documented_site"].fill_null("").str.to_lowercase()
    for word in ("sfa", "tibial", "saphenous", "subclavian", "popliteal vein", "ivc"):
        assert site.str.contains(word, literal=True).any(), word
    leg = approach.str.contains("groin|thigh|popliteal fossa|leg incision|femoral cutdown|open, leg")
    vein = site.str.contains(r"common femoral vein|cfv|popliteal vein|\bfv\b|sfv|ivc|iliac vein|iliac veins")
    clean = (leg & vein & ~site.str.contains("artery|saphenous|subclavian|tibial")).mean()
    assert 0.5 <= clean <= 0.7
    notes = l34421["op_note"].drop_nulls()
    assert notes.len() > 0
    assert notes.str.contains("\n").all() and notes.str.contains('"').any() and notes.str.contains(",").all()


def test_npis_valid_and_realistic_values(big: pl.DataFrame) -> None:
    npis = big["rendering_npi"].drop_nulls().unique().to_list()
    assert len(npis) > 50
    assert all(luhn_npi_ok(n) for n in npis)
    assert not luhn_npi_ok(npis[0][:9] + str((int(npis[0][9]) + 1) % 10))
    assert set(big["place_of_service"].unique().to_list()) == {"11", "21", "22", "24"}
    assert big["charge_amount"].str.contains(r"^\d+\.\d{2}$").all()
    members = big["member_id"]
    assert members.str.contains(r"^\d{9}$").all() and members.str.starts_with("0").any()
    dates = big["service_date"]
    assert dates.str.contains(r"^\d{4}-\d{2}-\d{2}$").any() and dates.str.contains(r"^\d{2}/\d{2}/\d{4}$").any()
    parsed = dates.to_frame().select(
        pl.coalesce(pl.col("service_date").str.strptime(pl.Date, f, strict=False) for f in ("%Y-%m-%d", "%m/%d/%Y"))
    )["service_date"]
    assert parsed.null_count() == 0
    assert parsed.min() >= dt.date(2024, 1, 1) and parsed.max() <= dt.date(2026, 12, 31)
    assert {d.year for d in parsed.unique().to_list()} == {2024, 2025, 2026}
    dx = big["dx_1"]
    assert dx.str.contains(".", literal=True).any() and (~dx.str.contains(".", literal=True)).any()
    codes = set(big["procedure_code"].unique().to_list())
    assert {"99213", "99214", "99223", "99232", "93970", "93971", "75820", "75822", "34401", "34451", "37187",
            "37212", "36010", "35226", "G0439", "0001F", "34421"} <= codes
    assert big["dx_1"].is_null().sum() == 0


@pytest.mark.parametrize("fraction", [0.01, 0.037])
def test_bad_fraction_makes_exactly_one_bad_cell_per_bad_line(fraction: float) -> None:
    n = 20_000
    df = sample.generate(n, seed=9, bad_fraction=fraction)
    flags = bad_cells(df)
    per_row = flags.select(pl.sum_horizontal(pl.all().cast(pl.Int32))).to_series()
    assert per_row.sum() == round(n * fraction)
    assert per_row.max() == 1
    hit = {k for k, v in flags.sum().row(0, named=True).items() if v}
    assert hit == set(sample.BAD_KINDS.values())
    # the good lines are untouched: same as without bad_fraction
    clean = sample.generate(n, seed=9)
    keep = per_row == 0
    assert df.filter(keep).equals(clean.filter(keep))


# ---- write ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small() -> pl.DataFrame:
    df = sample.generate(400, seed=21)
    special = {c: None for c in EXPECTED_COLUMNS} | {
        "claim_id": "C00000000001", "line_number": "1", "member_id": "000123", "service_date": "01/02/2026",
        "procedure_code": "0001F", "units": "1", "rendering_npi": "1234567893", "place_of_service": "11",
        "charge_amount": "0.00", "dx_1": "E11.9", "dx_2": "I82411", "op_note": '=SUM(A1)\nsaid "yes", twice',
    }  # fmt: skip
    return pl.concat([df, pl.DataFrame([special], schema={c: pl.String for c in EXPECTED_COLUMNS})])


def _check_round_trip(original: pl.DataFrame, back: pl.DataFrame) -> None:
    assert back.columns == EXPECTED_COLUMNS
    assert all(dtype == pl.String for dtype in back.dtypes)
    assert back.equals(original)
    row = back.filter(pl.col("member_id") == "000123").row(0, named=True)
    assert row["procedure_code"] == "0001F" and row["dx_2"] == "I82411"


@pytest.mark.parametrize("suffix,sep", [(".csv", ","), (".tsv", "\t"), (".txt", "\t")])
def test_round_trip_delimited(tmp_path: Path, small: pl.DataFrame, suffix: str, sep: str) -> None:
    path = tmp_path / "nested" / "dir" / f"claims{suffix}"
    sample.write(small, path)
    back = pl.read_csv(path, separator=sep, infer_schema=False)
    _check_round_trip(small, back)
    assert path.read_bytes().startswith(sep.join(EXPECTED_COLUMNS).encode() + b"\n")


def test_round_trip_parquet(tmp_path: Path, small: pl.DataFrame) -> None:
    path = tmp_path / "out" / "claims.parquet"
    sample.write(small, path)
    _check_round_trip(small, pl.read_parquet(path))


def test_round_trip_xlsx(tmp_path: Path, small: pl.DataFrame) -> None:
    from openpyxl import load_workbook

    path = tmp_path / "out" / "claims.xlsx"
    sample.write(small, path)
    back = pl.read_excel(path, engine="calamine", infer_schema_length=0)
    _check_round_trip(small, back)
    ws = load_workbook(path, read_only=True).active
    types = {cell.data_type for row in ws.iter_rows() for cell in row if cell.value is not None}
    assert types == {"s"}  # every cell is a text cell, including the '=' one


def test_write_rejects_too_many_xlsx_rows_and_unknown_suffix(tmp_path: Path) -> None:
    many = pl.DataFrame({"a": pl.repeat("x", sample.XLSX_MAX_ROWS + 1, eager=True)})
    with pytest.raises(ValueError, match="1,048,575"):
        sample.write(many, tmp_path / "too_big.xlsx")
    assert not (tmp_path / "too_big.xlsx").exists()
    with pytest.raises(ValueError):
        sample.write(many.head(3), tmp_path / "claims.json")


def test_npi_check_digit() -> None:
    assert sample.npi_check_digit("123456789") == "3"  # the CMS example NPI 1234567893
    assert luhn_npi_ok("1234567893")


# ---- curated sample extracts ------------------------------------------------------------------------------


def test_sample_files_regenerate_identically(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    subprocess.run(
        [sys.executable, "-m", "claims_audit.sample_cases", "--out", str(tmp_path),
         "--cases", str(tmp_path / "cases.yaml")],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    csv = "claims_2026-11-20.csv"
    assert (tmp_path / csv).read_bytes() == (SAMPLES / csv).read_bytes()
    xlsx = "claims_2026-11-21.xlsx"
    fresh = pl.read_excel(tmp_path / xlsx, engine="calamine", infer_schema_length=0)
    kept = pl.read_excel(SAMPLES / xlsx, engine="calamine", infer_schema_length=0)
    assert fresh.equals(kept)
    readme = "README.md"
    assert (tmp_path / readme).read_text(encoding="utf-8") == (SAMPLES / readme).read_text(encoding="utf-8")
    # the case list the README is rendered from, and nothing but the extracts and the README in the folder
    cases = ROOT / "tests" / "data" / "sample_claims_cases.yaml"
    assert (tmp_path / "cases.yaml").read_text(encoding="utf-8") == cases.read_text(encoding="utf-8")
    assert sorted(p.name for p in SAMPLES.iterdir()) == sorted([csv, xlsx, readme])


def _readme_rows() -> dict[str, dict[str, list[int]]]:
    """{file name: {case tag: rows}} from the README tables."""
    out: dict[str, dict[str, list[int]]] = {}
    current = None
    for line in (SAMPLES / "README.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"## `(.+)`", line)
        if m:
            current = out.setdefault(m.group(1), {})
        m = re.match(r"\| `([A-Z0-9-]+)` \| ([\d, ]+) \|", line)
        if m and current is not None:
            current[m.group(1)] = [int(x) for x in m.group(2).split(",")]
    return out


def _load(name: str) -> pl.DataFrame:
    path = SAMPLES / name
    if path.suffix == ".csv":
        return pl.read_csv(path, infer_schema=False)
    return pl.read_excel(path, engine="calamine", infer_schema_length=0)


@pytest.mark.parametrize("name", ["claims_2026-11-20.csv", "claims_2026-11-21.xlsx"])
def test_sample_file_contents_match_readme(name: str) -> None:
    df = _load(name)
    assert df.columns == EXPECTED_COLUMNS
    assert 250 <= df.height <= 400
    rows = _readme_rows()[name]

    def at(tag: str) -> pl.DataFrame:
        return df[[r - 2 for r in rows[tag]]]  # spreadsheet row -> frame index (header = row 1)

    if name.endswith(".xlsx"):  # every cell is a text cell
        from openpyxl import load_workbook

        ws = load_workbook(SAMPLES / name, read_only=True).active
        assert {c.data_type for row in ws.iter_rows() for c in row if c.value is not None} == {"s"}

    # every 34421 line is a listed case
    listed = {r for rs in rows.values() for r in rs}
    rows34421 = set((df.with_row_index("r", offset=2).filter(pl.col("procedure_code") == "34421")["r"]).to_list())
    assert rows34421 <= listed
    kinds = [
        "DOC-CLEAN", "DOC-APPROACH-ABDOMINAL", "DOC-APPROACH-ABDOMINAL-AND-LEG", "DOC-APPROACH-PERCUTANEOUS",
        "DOC-APPROACH-LYSIS", "DOC-APPROACH-NECK", "DOC-APPROACH-ARM", "DOC-SITE-ARTERY", "DOC-SITE-CALF",
        "DOC-SITE-SAPHENOUS", "DOC-SITE-SUBCLAVIAN", "DOC-INCOMPLETE", "DOC-NOTE-ONLY", "DOC-CONFLICT",
    ]  # fmt: skip
    for kind in kinds:
        tags = [t for t in rows if t == kind or re.fullmatch(re.escape(kind) + r"(-[A-Z0-9-]+)?", t)]
        tags = [t for t in tags if not (kind == "DOC-APPROACH-ABDOMINAL" and "AND-LEG" in t)]
        assert sum(at(t).filter(pl.col("procedure_code") == "34421").height for t in tags) >= 2, kind

    # deliberately bad rows: exactly one bad cell each, and no other bad cell in the file
    flags = bad_cells(df).select(pl.sum_horizontal(pl.all().cast(pl.Int32))).to_series()
    bad_rows = sorted(r for t, rs in rows.items() if t.startswith("BAD-") for r in rs)
    assert 5 <= len(bad_rows) <= 10
    assert sorted((df.with_row_index("r", offset=2).filter(flags > 0)["r"]).to_list()) == bad_rows
    assert flags.max() == 1

    # claim-level situations
    def same_context(tag: str) -> None:
        sub = at(tag)
        assert sub["member_id"].n_unique() == 1 and sub["rendering_npi"].n_unique() == 1, tag

    for tag in ("CLM-PTP-37187", "CLM-PTP-37187-59", "CLM-PTP-75822", "CLM-PTP-34451", "CLM-MUE-RT-LT",
                "CLM-GLOBAL-57", "CLM-GLOBAL-24", "CLM-DUPLICATE", "OK-NO-EDIT-PAIRS", "OK-EM-57", "OK-EM-24"):
        same_context(tag)  # fmt: skip
    assert set(at("CLM-PTP-37187")["procedure_code"]) == {"34421", "37187"}
    assert at("CLM-PTP-37187-59").filter(pl.col("procedure_code") == "37187")["modifier_1"].item() == "59"
    assert at("CLM-PTP-37187").filter(pl.col("procedure_code") == "37187")["modifier_1"].item() is None
    assert set(at("CLM-PTP-75822")["procedure_code"]) == {"34421", "75822", "85025"}  # and a lab line
    assert set(at("CLM-PTP-34451")["procedure_code"]) == {"34421", "34451"}
    assert at("CLM-MUE-UNITS")["units"].item() == "2"
    assert sorted(at("CLM-MUE-RT-LT")["modifier_1"].to_list()) == ["LT", "RT"]
    side = at("CLM-DX-SIDE").row(0, named=True)
    assert side["modifier_1"] == "RT" and side["dx_1"].replace(".", "") == "I82412"
    unsupportive = at("CLM-DX-UNSUPPORTIVE").row(0, named=True)
    assert unsupportive["dx_1"].replace(".", "") == "E119" and unsupportive["dx_2"] is None
    assert at("CLM-DX-INVALID")["dx_1"].item().replace(".", "") == "I824"
    em = at("CLM-GLOBAL-57").filter(pl.col("procedure_code") == "99213")
    assert em["modifier_1"].item() is None
    dates = at("CLM-GLOBAL-24").select(
        pl.coalesce(pl.col("service_date").str.strptime(pl.Date, f, strict=False) for f in ("%Y-%m-%d", "%m/%d/%Y"))
    ).to_series()
    assert (dates.max() - dates.min()).days == 30
    assert at("CLM-GLOBAL-24").filter(pl.col("procedure_code") == "99213")["modifier_1"].item() is None
    assert "62" in at("CLM-MOD-62").row(0)[6:10] and "66" in at("CLM-MOD-66").row(0)[6:10]
    dup = at("CLM-DUPLICATE")
    assert dup.height == 2 and dup["claim_id"].n_unique() == 2
    assert dup.drop("claim_id").n_unique() == 1
