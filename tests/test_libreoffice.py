"""A real spreadsheet application opens a report built from hostile input (issue 4).

LibreOffice Calc (``soffice --headless``, Debian's ``libreoffice-calc-nogui``) converts every sheet of
the workbook to CSV. The test checks that the workbook opens, that every injected string comes out
literally (a formula would come out as its result), and that every sheet has the rows openpyxl wrote.

The CSV filter options (LibreOffice >= 7.2) are: separator 44 (,), text delimiter 34 ("), character
set 76 (UTF-8), first line 1, no column formats, language 0, quote all text false, detect special
numbers true, save cell contents as shown false, export formulas false, remove spaces false, sheet -1
(every sheet to its own file, named <name>-<sheet>.csv).

Locally the test is skipped, with its reason, when LibreOffice is absent; with CI=true it fails instead.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest

from claims_audit.report import excel
from conftest import HEADER
from hostile import INJECTIONS, csv_text, good, manifest, run, sheet_names, write_bytes, xlsx

CSV_FILTER = 'csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1'


def _soffice() -> str:
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if exe is None:
        message = ("LibreOffice is not installed (no 'soffice' on PATH): the real-spreadsheet check of the "
                   "report did not run. Install Debian's libreoffice-calc-nogui (.ci/run does).")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " CI=true: this check is mandatory in CI.")
        pytest.skip(message)
    return exe


def _convert(exe: str, workbook: Path, tmp_path: Path) -> Path:
    outdir = tmp_path / "csv"
    profile = tmp_path / "lo-profile"  # a private profile: no clash with another running LibreOffice
    cmd = [exe, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
           "--convert-to", CSV_FILTER, "--outdir", str(outdir), str(workbook)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240,
                          env={**os.environ, "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert outdir.is_dir() and any(outdir.iterdir()), (
        f"LibreOffice could not open the workbook: {proc.stdout} {proc.stderr}")
    return outdir


def _hostile_report(cli, tmp_path: Path) -> Path:
    rows = []
    for i, s in enumerate(INJECTIONS):
        rows.append(good(i, claim_id=s, member_id=s, documented_approach=s, documented_site=s))
        rows.append(good(100 + i, line_number=s))  # rejected: the raw value lands on the Rejected sheet
    rows.append(good(200, documented_approach="percutaneous\x00\x07 " + "x" * 40_000,
                     documented_site="left Fémoral vein, \"proximal\"\nsecond line"))
    src = write_bytes(tmp_path / "in" / "hostile night.csv",
                      csv_text(rows, header=HEADER + ["=EXTRA()"]).encode("cp1252"))
    out = tmp_path / "out"
    res = run(cli, src, out=out)
    assert res.exit_code == 1, res.output
    return out


def test_libreoffice_opens_hostile_report_and_shows_literal_text(cli, tmp_path, monkeypatch):
    exe = _soffice()
    monkeypatch.setattr(excel, "DATA_ROWS_PER_SHEET", 6)  # also exercise an overflow sheet "Findings 2"
    out = _hostile_report(cli, tmp_path)
    workbook = xlsx(out)
    names = sheet_names(workbook)
    assert "Findings 2" in names
    outdir = _convert(exe, workbook, tmp_path)
    wb = openpyxl.load_workbook(workbook)
    exported: dict[str, list[list[str]]] = {}
    for name in names:
        path = outdir / f"{workbook.stem}-{name}.csv"
        assert path.exists(), f"sheet {name!r} was not exported: {sorted(p.name for p in outdir.iterdir())}"
        with path.open(encoding="utf-8", newline="") as fh:
            exported[name] = list(csv.reader(fh))
        written = [list(r) for r in wb[name].iter_rows(values_only=True)]
        if name != "Summary":  # Summary has blank separator rows and a chart: compare cells, not size
            assert len(exported[name]) == len(written), name
        for r, row in enumerate(written):
            for c, value in enumerate(row):
                if isinstance(value, str):
                    got = exported[name][r][c] if r < len(exported[name]) and c < len(exported[name][r]) else None
                    assert got == value, (name, r + 1, c + 1, value[:80], (got or "")[:80])
    # every injected string is there literally, never its result
    data_cells = {v for name in names if name.startswith(("Findings", "Rejected"))
                  for row in exported[name] for v in row}
    for s in INJECTIONS:
        assert s in data_cells, s  # literally, a CR included
    # row counts match the manifest
    m = manifest(out)
    findings = sum(len(exported[n]) - 1 for n in names if n.startswith("Findings"))
    rejected = sum(len(exported[n]) - 1 for n in names if n.startswith("Rejected"))
    assert findings == m["totals"]["findings"]
    assert rejected == m["totals"]["rows_rejected"] == len(INJECTIONS) - 1  # "+1" is a valid line number
    long_cell = next(v for n in names if n.startswith("Findings") for row in exported[n] for v in row
                     if v.startswith("percutaneous\u2400"))
    source_len = len("percutaneous\x00\x07 ") + 40_000
    assert long_cell.startswith("percutaneous\u2400\u2407 xxx")
    assert f"[truncated: {source_len} characters in the source]" in long_cell


@pytest.mark.parametrize("ci,outcome", [("true", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_absent_libreoffice_skips_locally_and_fails_in_ci(monkeypatch, ci, outcome):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="LibreOffice is not installed"):
        _soffice()
