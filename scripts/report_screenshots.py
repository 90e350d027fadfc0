"""Make the README's screenshots of the report: the sample audited two nights (as `make audit` does),
rendered by LibreOffice Calc -> PDF (one page per sheet) -> pdftoppm, the same pipeline as
tests/test_report_render.py, cropped to what a reader sees first.

    .venv/bin/python scripts/report_screenshots.py      # writes docs/report-summary.png, docs/report-findings.png

Needs LibreOffice (soffice) and poppler-utils (pdftoppm, pdfinfo).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from render import page_png, png_size, to_pdf, tools  # noqa: E402
from test_report_render import sample_report  # noqa: E402

SHOTS = {  # sheet page -> (file, dpi, crop width x height in pixels)
    1: ("report-summary.png", 72, (1110, 520)),  # totals, chart, findings per rule
    2: ("report-findings.png", 60, (1960, 400)),  # rule .. evidence: what a reviewer reads first
}


def main() -> int:
    soffice, pdftoppm = tools()
    with tempfile.TemporaryDirectory() as tmp:
        report = sample_report(Path(tmp) / "reports")
        pdf = to_pdf(report, Path(tmp) / "render", soffice)
        for page, (name, dpi, crop) in SHOTS.items():
            target = REPO / "docs" / name
            page_png(pdf, page, target, pdftoppm, dpi=dpi, crop=crop)
            print(f"{target.relative_to(REPO)}: {png_size(target)[0]} x {png_size(target)[1]}, "
                  f"{target.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
