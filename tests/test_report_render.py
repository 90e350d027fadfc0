"""Look at it (issue 19, point 7): every sheet of the sample report rendered to PNG by a real spreadsheet
application, LibreOffice Calc -> PDF (one page per sheet) -> pdftoppm, as CI can.

The PNGs are a test artefact: they go to the folder named by ``CLAIMS_AUDIT_ARTEFACTS`` when it is set
(CI can keep it), else to the test's temporary folder. ``scripts/report_screenshots.py`` crops the same
renders into the README's screenshots. Locally the test is skipped, with its reason, when LibreOffice or
poppler-utils is absent; with CI=true it fails instead (.ci/run installs both).
"""

from __future__ import annotations

import os
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from claims_audit.cli import app
from conftest import REPO
from render import RenderToolMissing, page_png, png_size, render, tools

NIGHTS = ("2026-11-22", "2026-11-23")


def _tools() -> tuple[str, str]:
    try:
        return tools()
    except RenderToolMissing as exc:
        message = f"{exc}: the report was not rendered. Install libreoffice-calc-nogui and poppler-utils."
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " CI=true: this check is mandatory in CI.")
        pytest.skip(message)


def sample_report(out: Path) -> Path:
    """The shipped sample audited two nights with the review ledger, as `make audit` does night after night."""
    for night in NIGHTS:
        r = CliRunner().invoke(app, ["run", str(REPO / "sample_claims"), "--out", str(out), "--run-date", night,
                                     "--quiet"])
        assert r.exit_code in (0, 1), r.output
    return out / f"claims-audit-{NIGHTS[-1]}.xlsx"


def test_every_sheet_of_the_sample_report_renders(tmp_path):
    soffice, pdftoppm = _tools()
    report = sample_report(tmp_path / "reports")
    names = openpyxl.load_workbook(report, read_only=True).sheetnames
    assert names == ["Summary", "Findings", "Rejected", "Rules", "Closed"]
    artefacts = Path(os.environ.get("CLAIMS_AUDIT_ARTEFACTS") or tmp_path / "render") / "report-render"
    pngs = render(report, artefacts, names)
    for name, png in pngs.items():
        width, height = png_size(png)
        assert png.stat().st_size > 1000 and width > 100 and height > 10, name
    # the Summary's first screen (totals, chart, findings per rule) is the top left corner of its page
    summary_w, summary_h = png_size(pngs["Summary"])
    assert summary_w < 1600, "Summary is no wider than a screen at 60 dpi (about 1.6 screens at 100 %)"
    corner = page_png(artefacts / f"{report.stem}.pdf", 1, artefacts / "Summary-first-screen.png", pdftoppm,
                      dpi=72, crop=(1100, 520))
    assert png_size(corner) == (1100, 520)
    findings_w, findings_h = png_size(pngs["Findings"])
    assert findings_h > 300, "wrapped findings make tall rows"
