"""Rendering a report the way a reader sees it: LibreOffice Calc -> PDF (one page per sheet) -> PNG.

``soffice --convert-to pdf`` with the Calc PDF filter's ``SinglePageSheets`` option puts each sheet on one
page as large as the sheet's used area (LibreOffice >= 6.4), so page N of the PDF is sheet N of the
workbook; ``pdftoppm`` (poppler-utils) turns each page into a PNG, and can crop a region of it (the top
left corner of a sheet is what a reader sees first). Used by test_report_render.py and by
``scripts/report_screenshots.py``, which makes the README's screenshots.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

PDF_FILTER = 'pdf:calc_pdf_Export:{"SinglePageSheets":{"type":"boolean","value":"true"}}'


class RenderToolMissing(Exception):
    """LibreOffice or pdftoppm is not installed."""


def tools() -> tuple[str, str]:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    pdftoppm = shutil.which("pdftoppm")
    if soffice is None or pdftoppm is None:
        missing = [n for n, exe in (("LibreOffice (soffice)", soffice), ("pdftoppm (poppler-utils)", pdftoppm))
                   if exe is None]
        raise RenderToolMissing(" and ".join(missing) + " not installed")
    return soffice, pdftoppm


def to_pdf(workbook: Path, outdir: Path, soffice: str) -> Path:
    """The workbook as a PDF with one page per sheet."""
    profile = outdir / "lo-profile"  # a private profile: no clash with another running LibreOffice
    outdir.mkdir(parents=True, exist_ok=True)
    cmd = [soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
           "--convert-to", PDF_FILTER, "--outdir", str(outdir), str(workbook)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240,
                          env={**os.environ, "HOME": str(outdir / "lo-profile")})
    pdf = outdir / f"{workbook.stem}.pdf"
    if proc.returncode != 0 or not pdf.exists():
        raise AssertionError(f"LibreOffice could not convert the workbook: {proc.stdout} {proc.stderr}")
    return pdf


def pdf_pages(pdf: Path) -> int:
    pdfinfo = shutil.which("pdfinfo")
    if pdfinfo is None:
        raise RenderToolMissing("pdfinfo (poppler-utils) not installed")
    out = subprocess.run([pdfinfo, str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[-1] for line in out.splitlines() if line.startswith("Pages:")))


def page_png(pdf: Path, page: int, target: Path, pdftoppm: str, dpi: int = 60,
             crop: tuple[int, int] | None = None) -> Path:
    """Page `page` (1-based) as `target` (.png); `crop` = (width, height) in pixels from the top left."""
    cmd = [pdftoppm, "-f", str(page), "-l", str(page), "-r", str(dpi), "-png", "-singlefile"]
    if crop is not None:
        cmd += ["-x", "0", "-y", "0", "-W", str(crop[0]), "-H", str(crop[1])]
    subprocess.run([*cmd, str(pdf), str(target.with_suffix(""))], check=True, capture_output=True, timeout=120)
    return target


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the PNG header."""
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def render(workbook: Path, outdir: Path, names: list[str], dpi: int = 60) -> dict[str, Path]:
    """Every sheet of the workbook as a PNG named after it, in `outdir`."""
    soffice, pdftoppm = tools()
    pdf = to_pdf(workbook, outdir, soffice)
    pages = pdf_pages(pdf)
    if pages != len(names):
        raise AssertionError(f"the PDF has {pages} pages for {len(names)} sheets")
    return {name: page_png(pdf, i, outdir / f"{name}.png", pdftoppm, dpi) for i, name in enumerate(names, 1)}
