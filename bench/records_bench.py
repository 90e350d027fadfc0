"""Pages per second for medical records: text-layer PDFs and scanned PDFs (OCR), serial and parallel.

    python bench/records_bench.py [--files 40] [--pages 5] [--scanned 6] [--workers 1 2]

Makes the records in a temporary folder (text PDFs written directly, scanned pages drawn with Pillow and
saved as image-only PDFs, as in tests/test_records.py), reads them with claims_audit.records.read_all the
way a run does, and prints pages per second for each kind and worker count. The OCR part is skipped when
tesseract is not installed.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from claims_audit import records

SENTENCES = ("Operative report. A left groin incision was made and the common femoral vein exposed.",
             "A transverse venotomy was made and acute thrombus extracted with a Fogarty balloon catheter.",
             "Completion venography showed brisk flow through the iliac and femoral veins.",
             "The venotomy was closed with 6-0 Prolene and the wound closed in layers.")


def text_pdf(path: Path, pages: int) -> None:
    """A PDF with a text layer (Helvetica, ~40 lines a page)."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", "", "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for n in range(pages):
        rows = [f"Page {n + 1}. {SENTENCES[i % len(SENTENCES)]}" for i in range(40)]
        body = "BT /F1 9 Tf 12 TL 36 800 Td " + " ".join(f"({r}) '" for r in rows) + " ET"
        objects.append(f"<< /Length {len(body)} >>\nstream\n{body}\nendstream")
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] /Contents {len(objects)} 0 R "
                       "/Resources << /Font << /F1 3 0 R >> >> >>")
        kids.append(len(objects))
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} >>"
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n{obj}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))


def scanned_pdf(path: Path) -> None:
    """One scanned page at 200 dpi (A4-ish), 24 lines of 34 px text."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=34)
    image = Image.new("L", (1654, 2339), 255)
    draw = ImageDraw.Draw(image)
    for i in range(24):
        draw.text((100, 120 + 80 * i), SENTENCES[i % len(SENTENCES)][:70], fill=0, font=font)
    image.save(path, "PDF", resolution=200)


def measure(folder: Path, workers: int, ocr: bool) -> tuple[int, float]:
    files = records.find_files(folder)
    for f in files:
        f.status = "matched"
    started = time.perf_counter()
    records.read_all(files, ocr, workers=workers)
    seconds = time.perf_counter() - started
    bad = [f.name for f in files if f.status != "read"]
    if bad:
        raise SystemExit(f"unreadable in the benchmark: {bad}")
    return sum(len(f.pages) for f in files), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=40, help="text PDFs")
    parser.add_argument("--pages", type=int, default=5, help="pages per text PDF")
    parser.add_argument("--scanned", type=int, default=6, help="scanned one-page PDFs (OCR)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="records-bench-"))
    try:
        (work / "text").mkdir()
        for n in range(args.files):
            text_pdf(work / "text" / f"C{n:05d}.pdf", args.pages)
        for w in args.workers:
            pages, seconds = measure(work / "text", w, ocr=False)
            print(f"text PDFs: {pages} pages in {seconds:.2f} s with {w} worker(s): {pages / seconds:.0f} pages/s")
        if not records.tesseract_available():
            print("OCR: skipped (tesseract is not installed)")
            return
        (work / "scan").mkdir()
        for n in range(args.scanned):
            scanned_pdf(work / "scan" / f"S{n:05d}.pdf")
        for w in args.workers:
            pages, seconds = measure(work / "scan", w, ocr=True)
            print(f"scanned PDFs (OCR): {pages} pages in {seconds:.2f} s with {w} worker(s): "
                  f"{pages / seconds:.2f} pages/s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
