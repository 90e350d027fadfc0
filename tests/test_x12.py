"""X12 837 files (5010 837P / 837I) through the CLI: one audited row per service line, source_row = the LX
segment's position, claim-level parser rejections, envelope errors and unsupported versions, the corpus
files that declare ':' but write '>', ICD-9-CM diagnoses, and a 34421 line injected into a real file."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from claims_audit import x12
from claims_audit.readers import InputFile, read
from claims_audit.schema import load_layout
from conftest import SHARED, manifest, read_sheet

X12_DIR = SHARED / "corpus" / "x12"
RUN = "2026-11-20"

pytestmark = pytest.mark.skipif(not X12_DIR.is_dir() and os.environ.get("CI") != "true",
                                reason="../shared/corpus not present beside the checkout")

P_EXAMPLE1 = "lfh__837_005010X222A2_demo.example1.837"
P_EXAMPLE9 = "lfh__837_005010X222A2_demo.example9.837"  # declares ':' but writes '>'
I_TWO_CLAIMS = "lfh__837_005010X223A3_two-claims-single-provider.837i"
VERSION_4010 = "is not supported: claims-audit reads 5010 837 files (837P 005010X222A2, 837I 005010X223A3); " \
               "convert 4010 files to 5010 first"

# every 837 in the corpus: rows read, audited, rejected, status. The implementation guides' example NPIs
# fail the NPI check digit: an optional value, so those lines are audited without their rendering_npi
# (the Rejected sheet lists each such cell as "row audited without this value").
CORPUS = {
    "lfh__837_004010X098A1_dependent-commercial-insurance-02.837": (4, 0, 4, "rejected"),
    "lfh__837_005010X222A2_demo.autoaccident.837": (2, 2, 0, "ok"),
    "lfh__837_005010X222A2_demo.cob.example3.A.837": (3, 3, 0, "ok"),
    P_EXAMPLE1: (4, 4, 0, "ok"),
    P_EXAMPLE9: (1, 1, 0, "ok"),
    "lfh__837_005010X223A3_institutional-claim.837i": (2, 2, 0, "ok"),
    "lfh__837_005010X223A3_out-of-network-repriced-claim.837i": (1, 1, 0, "ok"),
    I_TWO_CLAIMS: (3, 3, 0, "ok"),
    "pyx12__simple_837i_4010.txt": (6, 0, 6, "rejected"),
    "pyx12__simple_837p_4010.txt": (5, 0, 5, "rejected"),
}


def _run(cli, out: Path, *paths: Path, extra: tuple[str, ...] = ()):
    return cli("run", *map(str, paths), "--out", str(out), "--run-date", RUN, "--no-ledger", *extra)


def _inputs(out: Path) -> dict[str, dict]:
    return {Path(i["path"]).name: i for i in manifest(out, RUN)["inputs"]}


def _rows(path: Path):
    return read(InputFile(path, str(path)), load_layout())


def test_every_837_in_the_corpus_reconciles_with_exact_counts(cli, tmp_path):
    res = _run(cli, tmp_path / "out", X12_DIR)  # a folder: .837, .837i and the .txt 837s are all found
    assert res.exit_code == 1, res.output
    inputs = _inputs(tmp_path / "out")
    assert {n: (i["rows_read"], i["rows_audited"], i["rows_rejected"], i["status"]) for n, i in inputs.items()} \
        == CORPUS
    for name in ("pyx12__simple_837i_4010.txt", "pyx12__simple_837p_4010.txt",
                 "lfh__837_004010X098A1_dependent-commercial-insurance-02.837"):
        assert VERSION_4010 in inputs[name]["error"] and "X12 version 004010X09" in inputs[name]["error"]
    rejected = read_sheet(tmp_path / "out" / f"claims-audit-{RUN}.xlsx", "Rejected", drop_blank=True)
    npi = [r for r in rejected if r["column"] == "rendering_npi"]
    assert len(npi) == 11 and all("valid NPI check digit" in r["problem"] for r in npi)
    t = manifest(tmp_path / "out", RUN)["totals"]
    assert (t["rows_read"], t["rows_audited"], t["rows_rejected"]) == (31, 16, 15)


def test_one_row_per_service_line_with_the_lx_position_as_source_row():
    raw = _rows(X12_DIR / P_EXAMPLE1)
    segments = x12.split_segments((X12_DIR / P_EXAMPLE1).read_text())[1]
    lx = [s.position for s in segments if s.name == "LX"]
    f = raw.frame
    assert f.get_column("source_row").to_list() == lx == [30, 33, 36, 39]
    assert f.get_column("procedure_code").to_list() == ["99213", "87070", "99214", "86663"]
    assert f.get_column("line_number").to_list() == ["1", "2", "3", "4"]
    assert f.get_column("units").to_list() == ["1"] * 4  # SV104 1.00: a whole number
    assert f.get_column("service_date").to_list() == ["2006-10-03", "2006-10-03", "2006-10-10", "2006-10-10"]
    assert f.get_column("place_of_service").to_list() == ["11"] * 4  # CLM05-1 (SV105 is blank)
    assert f.get_column("claim_frequency").to_list() == ["1"] * 4
    # ICD-9-CM (BK/BF): kept in icd9_dx_n, principal first; no ICD-10-CM columns filled
    assert f.get_column("icd9_dx_1").to_list() == ["0340"] * 4 and f.get_column("icd9_dx_2").to_list() == ["V7389"] * 4
    assert f.get_column("dx_1").null_count() == 4
    # a dependent patient (loop 2000C): subscriber id + a hash of name and birth date, the name not shown
    member = f.get_column("member_id").unique().to_list()
    assert len(member) == 1 and member[0].startswith("JS00111223333~") and len(member[0]) == 14 + 12
    assert "SMITH" not in member[0] and "TED" not in member[0]


def test_a_file_declaring_colon_but_writing_greater_than_is_read_with_the_separator_it_uses():
    f = _rows(X12_DIR / P_EXAMPLE9).frame
    row = f.row(0, named=True)
    assert (row["procedure_code"], row["modifier_1"], row["modifier_2"], row["modifier_3"]) == \
        ("00142", "QK", "QS", "P1")
    assert row["icd9_dx_1"] == "36616" and row["place_of_service"] == "22"
    i = _rows(X12_DIR / "lfh__837_005010X223A3_out-of-network-repriced-claim.837i").frame.row(0, named=True)
    assert (i["procedure_code"], i["revenue_code"], i["bill_type"], i["icd9_dx_1"]) == ("82270", "0301", "131", "53081")


def _patched(src: Path, dst: Path, *replacements: tuple[str, str]) -> Path:
    text = src.read_text()
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(text)
    return dst


def test_a_claim_the_parser_rejects_loses_only_its_own_lines(cli, tmp_path):
    # wrong totals on the second claim (CLM02 50.00 != its line total): that claim's line is rejected with
    # the parser's reason and the CLM position; the first claim's two lines are read
    bad = _patched(X12_DIR / I_TWO_CLAIMS, tmp_path / "in" / "totals.837i", ("CLM*756049Q*50.00", "CLM*756049Q*51.00"),
                   ("1234567890", "1234567893"))  # a valid NPI check digit, so the good lines are audited
    segments = x12.split_segments(bad.read_text())[1]
    clm = [s.position for s in segments if s.name == "CLM"][1]
    res = _run(cli, tmp_path / "out", bad)
    assert res.exit_code == 1, res.output
    i = _inputs(tmp_path / "out")["totals.837i"]
    assert (i["rows_read"], i["rows_audited"], i["rows_rejected"], i["status"]) == (3, 2, 1, "partial")
    rejected = read_sheet(tmp_path / "out" / f"claims-audit-{RUN}.xlsx", "Rejected", drop_blank=True)
    assert len(rejected) == 1
    assert rejected[0]["source_row"] == 47  # the LX of the rejected claim's line
    assert f"claim rejected by the X12 837 parser (CLM at segment {clm})" in rejected[0]["problem"]
    assert "Claim Amount" in rejected[0]["problem"]


def test_envelope_errors_reject_the_file_and_the_other_files_are_audited(cli, tmp_path):
    good = shutil.copy(X12_DIR / P_EXAMPLE1, tmp_path / "good.837")
    se_count = _patched(X12_DIR / P_EXAMPLE1, tmp_path / "se.837", ("SE*40*0021", "SE*39*0021"))
    iea = _patched(X12_DIR / P_EXAMPLE1, tmp_path / "iea.837", ("IEA*1*000000907", "IEA*1*000000908"))
    cut = tmp_path / "cut.837"
    cut.write_text((X12_DIR / P_EXAMPLE1).read_text()[:900])
    not_isa = tmp_path / "no-isa.837"
    not_isa.write_text("GS*HC*1~ST*837*1~")
    res = _run(cli, tmp_path / "out", good, se_count, iea, cut, not_isa)
    assert res.exit_code == 1, res.output
    inputs = _inputs(tmp_path / "out")
    assert inputs["good.837"]["status"] == "ok" and inputs["good.837"]["rows_audited"] == 4
    assert "SE01 at segment 42 counts 39 segments, the transaction holds 40" in inputs["se.837"]["error"]
    assert "IEA02 does not repeat the ISA13" in inputs["iea.837"]["error"]
    assert "no IEA trailer" in inputs["cut.837"]["error"]
    assert "does not start with a complete ISA segment" in inputs["no-isa.837"]["error"]
    for name in ("se.837", "iea.837"):
        assert (inputs[name]["rows_read"], inputs[name]["rows_rejected"]) == (4, 4)  # its 4 service lines
    assert "Traceback" not in res.output


def test_an_837_is_detected_by_content_whatever_its_extension(cli, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(X12_DIR / P_EXAMPLE1, folder / "batch.dat")  # an extension nobody registered
    shutil.copy(X12_DIR / I_TWO_CLAIMS, folder / "batch.edi")  # (the same file twice is audited once)
    res = _run(cli, tmp_path / "out", folder)
    assert res.exit_code == 0, res.output
    assert {n: i["rows_audited"] for n, i in _inputs(tmp_path / "out").items()} == {"batch.dat": 4, "batch.edi": 3}


def test_a_34421_line_injected_into_an_837_is_found_and_audited(cli, tmp_path):
    # line 1 becomes a 34421 on the left with an ICD-10-CM femoral DVT of the right leg (ABK): the claim
    # edits judge it; the claim's ICD-9 codes are kept and shown as ICD-9-CM
    src = _patched(X12_DIR / P_EXAMPLE1, tmp_path / "in" / "34421.837", ("HC:99213*40.00", "HC:34421:LT*40.00"),
                   ("HI*BK:0340*BF:V7389", "HI*ABK:I82411*BF:V7389"))
    res = _run(cli, tmp_path / "out", src)
    assert res.exit_code == 0, res.output
    m = manifest(tmp_path / "out", RUN)
    assert m["totals"]["lines_34421"] == 1
    findings = read_sheet(tmp_path / "out" / f"claims-audit-{RUN}.xlsx", "Findings", drop_blank=True)
    mine = [f for f in findings if f["procedure_code"] == "34421"]
    assert {f["source_row"] for f in mine} == {30}
    rules = {f["rule_id"] for f in mine}
    assert "LATERALITY_CONFLICT" in rules  # LT modifier against a right-leg diagnosis
    assert all(f["dx_codes"] == "I82.411,ICD-9-CM V73.89" for f in mine)


def test_icd9_only_34421_line_says_the_diagnosis_edits_could_not_judge_it(cli, tmp_path):
    src = _patched(X12_DIR / P_EXAMPLE1, tmp_path / "in" / "icd9.837", ("HC:99213*40.00", "HC:34421:RT*40.00"))
    res = _run(cli, tmp_path / "out", src)
    assert res.exit_code == 0, res.output
    findings = read_sheet(tmp_path / "out" / f"claims-audit-{RUN}.xlsx", "Findings", drop_blank=True)
    by_rule = {f["rule_id"]: f for f in findings if f["procedure_code"] == "34421"}
    dx = by_rule["DIAGNOSIS_NOT_SUPPORTING"]
    assert dx["severity"] == "review"
    assert dx["message"].startswith("Could not judge the diagnoses: they are ICD-9-CM (034.0, V73.89)")
    side = by_rule["LATERALITY_CONFLICT"]
    assert side["severity"] == "review" and "Could not judge the side of the diagnoses: they are ICD-9-CM" \
        in side["message"]
    assert "DIAGNOSIS_INVALID" not in by_rule  # ICD-9 codes are never judged as bad ICD-10 codes


@pytest.mark.slow
def test_the_installed_command_reads_the_837_corpus(tmp_path):
    from conftest import run_subprocess

    res = run_subprocess("run", str(X12_DIR), "--out", str(tmp_path / "out"), "--run-date", RUN, "--no-ledger")
    assert res.returncode == 1, res.stderr
    assert res.stdout.startswith("31 rows read, 16 audited, 15 rejected;")
    assert "Traceback" not in res.stderr and "JS00111223333" not in res.stdout + res.stderr
