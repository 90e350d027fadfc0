"""Medical records as files (--records): matching, reading .txt / .pdf / .docx, OCR of scanned pages,
nothing silent, and findings that behave exactly as with an op_note column.

Every fixture is made here: text PDFs written by hand (a minimal PDF with a text layer), a scanned PDF
rendered with Pillow (text drawn on an image, saved as a PDF without text layer), Word files with
python-docx, an encrypted PDF with pypdf.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from claims_audit import pipeline, records
from conftest import line, manifest, read_sheet, run_subprocess, write_csv
from report_reading import summary_rows

RUN = dt.date(2026, 11, 20)
OPEN_NOTE = ("Operative report. A left groin incision was made. The common femoral vein was opened and acute "
             "thrombus was extracted with a Fogarty balloon catheter. Venotomy closed.")
PERC_NOTE = ("Ultrasound-guided left popliteal vein access, 16 Fr sheath. ClotTriever thrombectomy of the left "
             "femoral vein with extraction of acute clot.")
SECRET = "PHI-SENTINEL Jane Roe MRN 8675309"   # record text that must never reach the console


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def text_pdf(path: Path, pages: list[str]) -> Path:
    """A PDF with a text layer, one page per string (lines wrapped at 80 characters)."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", None,
               "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for text in pages:
        words, rows, current = text.split(), [], ""
        for w in words:
            if len(current) + len(w) > 80:
                rows.append(current)
                current = ""
            current += (" " if current else "") + w
        rows.append(current)
        body = "BT /F1 10 Tf 14 TL 40 800 Td " + " ".join(f"({_escape(r)}) '" for r in rows) + " ET"
        stream = body.encode("latin-1")
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{body}\nendstream")
        content = len(objects)
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] /Contents {content} 0 R "
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
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(out))
    return path


def scanned_pdf(path: Path, lines_of_text: list[str]) -> Path:
    """A 'scanned' one-page PDF: the text drawn on an image (no text layer), as a fax or scanner makes."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=34)
    image = Image.new("L", (1700, 120 + 60 * len(lines_of_text)), 255)
    draw = ImageDraw.Draw(image)
    for i, text in enumerate(lines_of_text):
        draw.text((60, 60 + 60 * i), text, fill=0, font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "PDF", resolution=200)
    return path


def docx_file(path: Path, paragraphs: list[str]) -> Path:
    import docx

    document = docx.Document()
    for p in paragraphs:
        document.add_paragraph(p)
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))
    return path


def _extract(tmp_path: Path, rows: list[dict[str, str]]) -> Path:
    return write_csv(tmp_path / "in" / "claims.csv", rows)


def _doc_findings(result: pipeline.AuditResult, claim_id: str) -> list[str]:
    f = result.findings.filter(pl.col("claim_id") == claim_id)
    return sorted(f.get_column("rule_id").to_list())


# --------------------------------------------------------------------------------------------------------
# matching
# --------------------------------------------------------------------------------------------------------

def test_file_names_match_claims_and_lines_and_the_more_specific_wins(tmp_path):
    folder = tmp_path / "rec"
    for name in ("C1.txt", "C1_2.txt", "C1_2.docx", "sub/C2.txt", "C3_9.txt", "NOPE.txt", "C1.rtf", ".hidden"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("x")
    lines = pl.DataFrame({"line_key": [0, 1, 2, 3], "claim_id": ["C1", "C1", "C2", "C3"],
                          "line_number": [1, 2, 1, 1]})
    files = records.find_files(folder)
    assert ".hidden" not in [f.name for f in files]
    records.match(files, lines)
    assigned = records.assign(files, lines)
    names = {k: [f.name for f in v] for k, v in assigned.items()}
    assert names == {0: ["C1.txt"], 1: ["C1_2.docx", "C1_2.txt"], 2: ["sub/C2.txt"]}
    status = {f.name: (f.status, f.reason) for f in files}
    assert status["C3_9.txt"][0] == "unmatched" and "claim C3 has no audited line 9" in status["C3_9.txt"][1]
    assert status["NOPE.txt"][0] == "unmatched"
    assert status["C1.rtf"][0] == "unreadable" and "unsupported file type '.rtf'" in status["C1.rtf"][1]


def test_a_stem_that_is_a_claim_id_is_that_claim(tmp_path):
    folder = tmp_path / "rec"
    folder.mkdir()
    (folder / "A_1.txt").write_text("x")
    lines = pl.DataFrame({"line_key": [0, 1], "claim_id": ["A_1", "A"], "line_number": [1, 1]})
    files = records.find_files(folder)
    records.match(files, lines)
    assert (files[0].claim_id, files[0].line_number) == ("A_1", None)


def test_records_must_be_a_folder(tmp_path, cli):
    p = _extract(tmp_path, [line()])
    r = cli("run", p, "--out", tmp_path / "out", "--no-ledger", "--records", tmp_path / "missing")
    assert r.exit_code == 2 and "Error: --records must be a folder" in r.output


# --------------------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------------------

def test_text_in_the_encodings_the_extract_readers_accept(tmp_path):
    note = "Groin incision; thrombus extracted from the femoral vein — café"
    for enc, name in (("utf-8", "a.txt"), ("utf-8-sig", "b.txt"), ("utf-16", "c.txt"), ("cp1252", "d.txt")):
        (tmp_path / name).write_bytes(note.encode(enc))
        res = records.read_file(tmp_path / name, "txt", ocr=False)
        assert res["pages"][0][1] == note, enc
    (tmp_path / "e.txt").write_bytes(b"page one\fpage two")
    assert [p[0] for p in records.read_file(tmp_path / "e.txt", "txt", ocr=False)["pages"]] == [1, 2]
    (tmp_path / "bin.txt").write_bytes(bytes(range(256)) * 50)
    assert "not text" in records.read_file(tmp_path / "bin.txt", "txt", ocr=False)["problem"]


def test_pdf_docx_and_the_problems_of_files(tmp_path):
    res = records.read_file(text_pdf(tmp_path / "t.pdf", ["first page words", OPEN_NOTE]), "pdf", ocr=False)
    assert res["page_count"] == 2 and "common femoral vein" in res["pages"][1][1] and not res.get("problem")
    res = records.read_file(docx_file(tmp_path / "w.docx", ["Title", OPEN_NOTE]), "docx", ocr=False)
    assert "Fogarty" in res["pages"][0][1]
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    assert "corrupt or not a PDF" in records.read_file(tmp_path / "bad.pdf", "pdf", ocr=False)["problem"]
    (tmp_path / "bad.docx").write_bytes(b"PK\x03\x04 broken zip")
    assert "corrupt or not a Word document" in records.read_file(tmp_path / "bad.docx", "docx", ocr=False)["problem"]
    (tmp_path / "empty.pdf").write_bytes(b"")
    assert records.read_file(tmp_path / "empty.pdf", "pdf", ocr=False)["problem"] == "file is empty (0 bytes)"

    from pypdf import PdfReader, PdfWriter
    writer = PdfWriter(clone_from=PdfReader(str(tmp_path / "t.pdf")))
    writer.encrypt(user_password="secret", owner_password="owner")
    with (tmp_path / "locked.pdf").open("wb") as fh:
        writer.write(fh)
    assert "password is required" in records.read_file(tmp_path / "locked.pdf", "pdf", ocr=False)["problem"]
    owner_only = PdfWriter(clone_from=PdfReader(str(tmp_path / "t.pdf")))
    owner_only.encrypt(user_password="", owner_password="owner")
    with (tmp_path / "owner.pdf").open("wb") as fh:
        owner_only.write(fh)
    assert "Fogarty" in records.read_file(tmp_path / "owner.pdf", "pdf", ocr=False)["pages"][1][1]


def test_scanned_page_without_tesseract_is_unreadable_never_empty(tmp_path):
    pdf = scanned_pdf(tmp_path / "scan.pdf", ["LEFT GROIN INCISION"])
    res = records.read_file(pdf, "pdf", ocr=False)
    assert res["pages"] == [] and res["problem"].startswith("no text")
    assert res["unreadable_pages"] == [{"page": 1, "reason": records.NO_OCR}]


def test_records_give_the_same_findings_when_the_rules_see_members_group_by_group(folder_run, monkeypatch):
    extract, rec = folder_run
    monkeypatch.setattr(records, "tesseract_available", lambda: False)
    one, grouped = (pipeline.run([extract], RUN, records=rec, buckets=n) for n in (1, 4))
    assert one.findings.get_column("evidence").str.contains(r"\.pdf p\.").any()
    assert one.findings.equals(grouped.findings) and one.lines_34421 == grouped.lines_34421
    assert one.records.manifest() | {"seconds": 0} == grouped.records.manifest() | {"seconds": 0}


@pytest.mark.skipif(not records.tesseract_available(), reason="tesseract is not installed (.ci/run installs it)")
def test_scanned_page_is_ocred(tmp_path):
    pdf = scanned_pdf(tmp_path / "scan.pdf", ["Left groin incision was made.",
                                              "Thrombus was removed from the femoral vein."])
    res = records.read_file(pdf, "pdf", ocr=True)
    assert not res.get("problem")
    (number, text, ocr), = res["pages"]
    assert number == 1 and ocr is True
    assert "groin incision" in text.lower() and "femoral vein" in text.lower()


# --------------------------------------------------------------------------------------------------------
# the whole run
# --------------------------------------------------------------------------------------------------------

@pytest.fixture
def folder_run(tmp_path):
    """An extract of five claims and a records folder with a text PDF, a Word file, a plain-text record,
    an encrypted PDF, a scanned PDF, a corrupt file and an unmatched one."""
    rows = [line(claim_id="P1", documented_approach="", documented_site=""),               # perc PDF p.2
            line(claim_id="W1", documented_approach="", documented_site=""),               # open note .docx
            line(claim_id="T1", documented_approach="", documented_site="", op_note="See attached."),
            line(claim_id="T1", line_number="2", procedure_code="76937", modifier_1=""),   # not 34421
            line(claim_id="E1"),                                                           # encrypted only
            line(claim_id="S1", documented_approach="", documented_site="")]               # scanned
    for n, row in enumerate(rows):  # distinct members: no claim-level edit between the claims
        row["member_id"] = f"M{n:05d}" if row["claim_id"] != "T1" else "M-T1"
    extract = _extract(tmp_path, rows)
    rec = tmp_path / "records"
    text_pdf(rec / "P1.pdf", ["Cover sheet. " + SECRET, PERC_NOTE])
    docx_file(rec / "2026" / "W1.docx", ["OPERATIVE REPORT", OPEN_NOTE])
    (rec / "T1_1.txt").write_text(OPEN_NOTE + "\n" + SECRET, encoding="cp1252")
    (rec / "T1_2.txt").write_text("E/M visit note", encoding="utf-8")
    from pypdf import PdfReader, PdfWriter
    writer = PdfWriter(clone_from=PdfReader(str(text_pdf(tmp_path / "plain.pdf", [OPEN_NOTE]))))
    writer.encrypt(user_password="pw", owner_password="pw2")
    with (rec / "E1.pdf").open("wb") as fh:
        writer.write(fh)
    scanned_pdf(rec / "S1.pdf", ["Left groin incision was made.", "Thrombus was removed from the femoral vein."])
    (rec / "ZZ9.txt").write_text("orphan")
    return extract, rec


def test_records_become_the_op_note_with_file_and_page_evidence(folder_run, tmp_path, monkeypatch):
    extract, rec = folder_run
    monkeypatch.setattr(records, "tesseract_available", lambda: False)  # the scanned page: unreadable
    result = pipeline.run([extract], RUN, records=rec)
    f = result.findings
    perc = f.filter((pl.col("claim_id") == "P1") & (pl.col("rule_id") == "APPROACH_MISMATCH")).row(0, named=True)
    assert perc["suggested_code"] == "37187"
    assert perc["evidence"].startswith('P1.pdf p.2: "…Ultrasound-guided left popliteal vein access')
    assert "Cover sheet" not in perc["evidence"]  # the window is cut at the page break
    assert _doc_findings(result, "W1") == [] and _doc_findings(result, "T1") == []
    # the encrypted file was the only record of E1: DOCUMENTATION_INCOMPLETE says so (abstract is clean)
    e1 = f.filter(pl.col("claim_id") == "E1").row(0, named=True)
    assert e1["rule_id"] == "DOCUMENTATION_INCOMPLETE"
    assert "medical record supplied for this line could not be read" in e1["message"]
    assert "E1.pdf: encrypted PDF: a password is required" in e1["message"]
    s1 = f.filter(pl.col("claim_id") == "S1").row(0, named=True)
    assert s1["rule_id"] == "DOCUMENTATION_INCOMPLETE" and "tesseract is not installed" in s1["message"]
    m = result.records.manifest()
    assert m["files_found"] == 7 and m["files_read"] == 3 and m["pages"] == 4 and m["ocr_pages"] == 0
    assert {u["file"] for u in m["unreadable"]} == {"E1.pdf", "S1.pdf"}
    assert [u["file"] for u in m["unmatched"]] == ["ZZ9.txt"]
    assert [u["file"] for u in m["not_needed"]] == ["T1_2.txt"]
    assert m["lines_with_records"] == 5


def test_findings_with_a_record_equal_those_with_an_op_note_column(folder_run, tmp_path):
    """A record read as the note gives the same rule ids, codes, concepts and messages as the same text in
    the op_note column; only the evidence names the file instead of "op note"."""
    extract, rec = folder_run
    with_records = pipeline.run([extract], RUN, records=rec)
    rows = [line(claim_id="P1", documented_approach="", documented_site="",
                 op_note="Cover sheet. " + SECRET + "\n\n" + PERC_NOTE),
            line(claim_id="W1", documented_approach="", documented_site="", op_note="OPERATIVE REPORT\n" + OPEN_NOTE)]
    for n, row in enumerate(rows):
        row["member_id"] = f"M{n:05d}"
    as_column = pipeline.run([write_csv(tmp_path / "col" / "c.csv", rows)], RUN)
    cols = ["claim_id", "rule_id", "severity", "message", "suggested_code", "doc_approach", "doc_vessel", "doc_side"]
    got = with_records.findings.filter(pl.col("claim_id").is_in(["P1", "W1"])).select(cols).sort(cols)
    assert got.equals(as_column.findings.select(cols).sort(cols))
    ev = as_column.findings.get_column("evidence").to_list()
    assert all(e.startswith('op note "') for e in ev if e)


@pytest.mark.skipif(not records.tesseract_available(), reason="tesseract is not installed (.ci/run installs it)")
def test_scanned_record_is_ocred_in_the_run(folder_run):
    extract, rec = folder_run
    result = pipeline.run([extract], RUN, records=rec)
    assert _doc_findings(result, "S1") == []
    m = result.records.manifest()
    assert m["ocr_pages"] == 1 and m["ocr_available"] is True
    assert "S1.pdf" not in {u["file"] for u in m["unreadable"]}


def test_parallel_reading_gives_the_same_result(folder_run, monkeypatch):
    extract, rec = folder_run
    monkeypatch.setattr(records, "tesseract_available", lambda: False)
    lines = pl.DataFrame({"line_key": [0, 1, 2, 3], "claim_id": ["P1", "W1", "T1", "E1"],
                          "line_number": [1, 1, 1, 1]})
    serial = records.load(rec, lines, lines, workers=1)
    parallel = records.load(rec, lines, lines, workers=2)
    assert [f.entry() for f in serial.files] == [f.entry() for f in parallel.files]
    assert [[p.text for p in f.pages] for f in serial.files] == [[p.text for p in f.pages] for f in parallel.files]


def test_cli_run_lists_records_on_summary_and_manifest_and_never_prints_them(folder_run, tmp_path, cli):
    extract, rec = folder_run
    out = tmp_path / "out"
    r = cli("run", extract, "--out", out, "--run-date", "2026-11-20", "--no-ledger", "--records", rec)
    assert r.exit_code == 0, r.output
    assert "records: " in r.output and "files read" in r.output
    for leaked in (SECRET, "ClotTriever", "ZZ9", "E1.pdf"):
        assert leaked not in r.output
    doc = manifest(out)
    assert doc["records"]["files_read"] >= 3 and doc["records"]["unmatched"][0]["file"] == "ZZ9.txt"
    cells = [str(v) for row in summary_rows(out / "claims-audit-2026-11-20.xlsx") for v in row if v is not None]
    assert any("ZZ9.txt matches no claim line" in c for c in cells)
    assert any("E1.pdf could not be read: encrypted PDF" in c for c in cells)
    assert any(c == "Record files read" for c in cells)
    findings = read_sheet(out / "claims-audit-2026-11-20.xlsx", "Findings")
    assert any(str(row["evidence"]).startswith("P1.pdf p.2:") for row in findings)
    assert SECRET not in json.dumps(doc)


@pytest.mark.slow
def test_subprocess_run_with_records_keeps_the_console_free_of_record_text(folder_run, tmp_path):
    extract, rec = folder_run
    p = run_subprocess("run", extract, "--out", tmp_path / "o", "--run-date", "2026-11-20", "--no-ledger",
                       "--records", rec)
    assert p.returncode == 0, p.stderr
    assert SECRET not in p.stdout + p.stderr and "records:" in p.stdout


def test_explain_reads_the_records_of_a_line_or_given_files(folder_run, cli):
    extract, rec = folder_run
    r = cli("explain", "--records", rec, "--claim-id", "P1")
    assert r.exit_code == 0, r.output
    assert "medical record P1.pdf: read (2 pages, 0 OCR)" in r.output
    assert 'P1.pdf p.2: "…' in r.output and "Suggested code: 37187" in r.output
    assert SECRET not in r.output  # the record itself is never printed, only the evidence windows
    r = cli("explain", "--records", rec, "--claim-id", "T1", "--line", "1", "--approach", "", "--site", "")
    assert "medical record T1_1.txt: read" in r.output and "(none: the documentation supports 34421)" in r.output
    r = cli("explain", "--record", rec / "E1.pdf", "--approach", "LEG INCISION", "--site", "L CFV")
    assert "medical record E1.pdf: unreadable (encrypted PDF: a password is required)" in r.output
    assert "DOCUMENTATION_INCOMPLETE (warning)" in r.output
    assert cli("explain", "--records", rec).exit_code == 2
    assert cli("explain", "--records", rec, "--claim-id", "NOPE").exit_code == 2
    assert cli("explain", "--record", rec / "missing.pdf").exit_code == 2
