"""Medical records as files: operative reports matched to claim lines and read as their operative note.

Claim extracts carry no operative notes; reviewers get the record separately. ``--records DIR`` points at a
folder (searched recursively) of ``.txt``, ``.pdf`` and ``.docx`` files named for the line they document:

* ``<claim_id>.<ext>`` documents every line of the claim;
* ``<claim_id>_<line_number>.<ext>`` documents one line, and wins over the claim's files for that line.
  A stem that is itself a claim id is read as that claim (``A_1.pdf`` is claim ``A_1`` when the run has
  one, else line 1 of claim ``A``).

Several files for one line are read together in name order. The text becomes that line's operative note
(after the line's own ``op_note``), so the findings are those an ``op_note`` column would give; the
evidence names the file and page (``A123.pdf p.2: "…"``).

Reading: ``.txt`` with the decoding of the extract readers (BOMs, UTF-16, Windows-1252 / Latin-1; a form
feed starts a new page); ``.pdf`` with pypdf (pure Python, maintained by the py-pdf project: text layer,
encryption, and the page images a scanner or fax embeds); ``.docx`` with python-docx (paragraphs and
tables). A PDF page without a text layer is OCRed with Tesseract through pytesseract when the
``tesseract`` program is installed; without it the page is reported unreadable, never read as empty.

Nothing is silent: every file ends up read, unreadable (with the reason), not needed (it matches only
lines that are not 34421 lines) or unmatched, and the manifest / Summary sheet list them. Files are read
once, in parallel processes when there are several (pypdf and the OCR are CPU-bound). Record text is
never logged or printed: only counts, file names and reasons leave this module, and the evidence windows
that go into the report.
"""

from __future__ import annotations

import codecs
import os
import re
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import polars as pl

from .errors import UsageError

SUFFIXES = (".txt", ".pdf", ".docx")
OCR_LANGUAGE = "eng"
OCR_TIMEOUT_SECONDS = 120           # one page; a stuck tesseract process must not stall the night
MIN_PARALLEL_FILES = 4              # below this, starting worker processes costs more than it saves
PROBLEM_COLUMN = "doc_record_problem"
NO_OCR = "scanned page without a text layer; OCR is not available (tesseract is not installed)"


@dataclass
class Page:
    number: int
    text: str
    ocr: bool = False


@dataclass
class RecordFile:
    """One file of the records folder and what became of it."""

    path: Path
    name: str                                   # relative to the records folder (what reports show)
    kind: str = ""                              # txt | pdf | docx
    claim_id: str | None = None
    line_number: int | None = None              # None: the file documents every line of the claim
    status: str = "unmatched"                   # read | unreadable | not_needed | unmatched
    reason: str | None = None                   # why unreadable / not needed / unmatched
    pages: list[Page] = field(default_factory=list)
    page_count: int = 0
    ocr_pages: int = 0
    unreadable_pages: list[dict[str, Any]] = field(default_factory=list)
    encoding: str | None = None

    def label(self, page: Page) -> str:
        """How evidence names a page: "A123.pdf p.2" (a one-page text or Word file: just the name)."""
        return self.name if self.page_count <= 1 and self.kind != "pdf" else f"{self.name} p.{page.number}"

    def entry(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file": self.name, "claim_id": self.claim_id, "line_number": self.line_number,
                               "status": self.status, "pages": self.page_count, "ocr_pages": self.ocr_pages}
        if self.reason:
            out["reason"] = self.reason
        if self.unreadable_pages:
            out["unreadable_pages"] = self.unreadable_pages
        if self.encoding:
            out["encoding"] = self.encoding
        return out


@dataclass
class Records:
    """The records folder of one run: every file with its outcome, and what each 34421 line was given."""

    folder: Path
    files: list[RecordFile]
    seconds: float = 0.0
    ocr_available: bool = False
    assigned: dict[int, list[RecordFile]] = field(default_factory=dict)   # line_key -> files (name order)

    def by_status(self, status: str) -> list[RecordFile]:
        return [f for f in self.files if f.status == status]

    @property
    def pages(self) -> int:
        return sum(f.page_count for f in self.by_status("read"))

    @property
    def ocr_pages(self) -> int:
        return sum(f.ocr_pages for f in self.files)

    def manifest(self) -> dict[str, Any]:
        """The manifest's ``records`` section."""
        read = self.by_status("read")
        return {
            "folder": str(self.folder), "files_found": len(self.files), "files_read": len(read),
            "pages": self.pages, "ocr_pages": self.ocr_pages, "ocr_available": self.ocr_available,
            "lines_with_records": len(self.assigned), "seconds": round(self.seconds, 3),
            "unreadable": [{"file": f.name, "reason": f.reason} for f in self.by_status("unreadable")],
            "unreadable_pages": [{"file": f.name, **p} for f in read for p in f.unreadable_pages],
            "unmatched": [{"file": f.name, "reason": f.reason} for f in self.by_status("unmatched")],
            "not_needed": [{"file": f.name, "reason": f.reason} for f in self.by_status("not_needed")],
            "files": [f.entry() for f in self.files],
        }

    def summary_rows(self) -> list[tuple[str, object]]:
        return [("records_folder", str(self.folder)), ("records_files_read", len(self.by_status("read"))),
                ("records_pages", self.pages), ("records_ocr_pages", self.ocr_pages),
                ("records_unreadable", len(self.by_status("unreadable"))),
                ("records_unmatched", len(self.by_status("unmatched"))),
                ("records_not_needed", len(self.by_status("not_needed")))]

    def notes(self) -> list[str]:
        """One Summary note per file a reviewer must look at (unreadable, partly unreadable, unmatched)."""
        out = [f"Record {f.name} could not be read: {f.reason}" for f in self.by_status("unreadable")]
        out += [f"Record {f.name} page {p['page']} could not be read: {p['reason']}"
                for f in self.by_status("read") for p in f.unreadable_pages]
        out += [f"Record {f.name} matches no claim line: {f.reason}" for f in self.by_status("unmatched")]
        out += [f"Record {f.name} was not read: {f.reason}" for f in self.by_status("not_needed")]
        return out

    def console_line(self) -> str:
        """Counts only: file names carry claim ids, which never go to the console."""
        return (f"records: {len(self.by_status('read'))} files read ({self.pages} pages, {self.ocr_pages} OCR), "
                f"{len(self.by_status('unreadable'))} unreadable, {len(self.by_status('unmatched'))} unmatched "
                f"(see the Summary sheet)")


# --------------------------------------------------------------------------------------------------------
# finding and matching the files
# --------------------------------------------------------------------------------------------------------

def find_files(folder: Path) -> list[RecordFile]:
    """Every file under ``folder`` (recursive, hidden files and folders skipped), in name order."""
    if not folder.is_dir():
        raise UsageError(f"--records must be a folder of medical records, got '{folder}'")
    found = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        found.append(RecordFile(path=path, name=rel.as_posix(), kind=path.suffix.lower().lstrip(".")))
    return sorted(found, key=lambda f: (f.path.name, f.name))


def match(files: list[RecordFile], lines: pl.DataFrame) -> None:
    """Set claim_id / line_number / status of every file against the audited lines (claim_id, line_number)."""
    claims = set(lines.get_column("claim_id").drop_nulls().to_list())
    pairs = set(lines.select("claim_id", "line_number").drop_nulls().iter_rows())
    for f in files:
        stem = f.path.name[: -len(f.path.suffix)] if f.path.suffix else f.path.name
        if f.path.suffix.lower() not in SUFFIXES:
            f.status, f.reason = "unreadable", (f"unsupported file type '{f.path.suffix or '(none)'}' "
                                                f"(records are read from {', '.join(SUFFIXES)})")
            continue
        head, _, tail = stem.rpartition("_")
        if stem in claims:
            f.claim_id, f.status = stem, "matched"
        elif head and tail.isdigit() and (head, int(tail)) in pairs:
            f.claim_id, f.line_number, f.status = head, int(tail), "matched"
        elif head and tail.isdigit() and head in claims:
            f.reason = f"claim {head} has no audited line {int(tail)}"
        else:
            f.reason = "no audited claim line has this claim id (file names: <claim_id>.<ext> or " \
                       "<claim_id>_<line_number>.<ext>)"


def assign(files: list[RecordFile], target: pl.DataFrame) -> dict[int, list[RecordFile]]:
    """line_key -> the files documenting that 34421 line: its own files if any, else its claim's.
    Matched files that no 34421 line uses are marked not needed (and are not read)."""
    per_line: dict[tuple[str, int], list[RecordFile]] = {}
    per_claim: dict[str, list[RecordFile]] = {}
    for f in files:
        if f.status == "matched":
            if f.line_number is None:
                per_claim.setdefault(f.claim_id or "", []).append(f)
            else:
                per_line.setdefault((f.claim_id or "", f.line_number), []).append(f)
    assigned: dict[int, list[RecordFile]] = {}
    for key, claim_id, line_number in target.select("line_key", "claim_id", "line_number").iter_rows():
        chosen = per_line.get((claim_id, line_number)) or per_claim.get(claim_id)
        if chosen:
            assigned[key] = sorted(chosen, key=lambda f: (f.path.name, f.name))
    used = {id(f) for fs in assigned.values() for f in fs}
    for f in files:
        if f.status == "matched" and id(f) not in used:
            f.status = "not_needed"
            f.reason = ("the claim line it names is not a 34421 line" if f.line_number is not None else
                        "no 34421 line of the claim uses it (none, or each has its own record)")
    return assigned


# --------------------------------------------------------------------------------------------------------
# reading one file (runs in worker processes: plain data in, plain data out)
# --------------------------------------------------------------------------------------------------------

def tesseract_available() -> bool:
    """Whether OCR can run: the pytesseract wrapper and the tesseract program are both installed."""
    try:
        import pytesseract  # noqa: F401
    except ImportError:
        return False
    return shutil.which("tesseract") is not None


def decode_text(data: bytes) -> tuple[str, str]:
    """Bytes of a text record as the extract readers decode them: BOMs, UTF-16 without BOM, UTF-8, else
    Windows-1252 / Latin-1 (readers._decode_legacy). Binary content is refused like an extract's."""
    from .readers import _decode_legacy, _reject_binary, _utf16_without_bom

    for bom, enc in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"),
                     (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
                     (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(enc, errors="replace"), enc
    if enc16 := _utf16_without_bom(data[:4096]):
        return data.decode(enc16, errors="replace"), enc16
    _reject_binary(data[:65536])
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return _decode_legacy(data)


def _read_txt(path: Path) -> tuple[list[Page], dict[str, Any]]:
    text, encoding = decode_text(path.read_bytes())
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return [Page(n, t) for n, t in enumerate(text.split("\f"), start=1)], {"encoding": encoding}


def _read_docx(path: Path) -> tuple[list[Page], dict[str, Any]]:
    import docx  # python-docx

    document = docx.Document(str(path))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.append(" | ".join(cell.text for cell in row.cells))
    return [Page(1, "\n".join(parts))], {}


def _ocr(images: list[Any]) -> str:
    import pytesseract

    texts = []
    for image in images:
        picture = image.image.convert("L") if image.image.mode not in ("L", "1") else image.image
        texts.append(pytesseract.image_to_string(picture, lang=OCR_LANGUAGE, timeout=OCR_TIMEOUT_SECONDS))
    return "\n".join(texts)


def _read_pdf(path: Path, ocr: bool) -> tuple[list[Page], dict[str, Any]]:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")  # owner-password-only PDFs open without a password
        except Exception as exc:  # pypdf raises its own errors and, without cryptography, DependencyError
            raise _Unreadable(f"encrypted PDF that cannot be opened ({type(exc).__name__})") from None
        if not opened:
            raise _Unreadable("encrypted PDF: a password is required")
    pages, bad = [], []
    for number, page in enumerate(reader.pages, start=1):
        text = page.extract_text() or ""
        if text.strip():
            pages.append(Page(number, text))
            continue
        try:
            images = list(page.images)
        except Exception as exc:  # a damaged image stream: the page cannot be OCRed
            bad.append({"page": number, "reason": f"page image cannot be decoded ({type(exc).__name__})"})
            continue
        if not images:
            bad.append({"page": number, "reason": "blank page (no text layer and no image)"})
        elif not ocr:
            bad.append({"page": number, "reason": NO_OCR})
        else:
            text = _ocr(images)
            if text.strip():
                pages.append(Page(number, text, ocr=True))
            else:
                bad.append({"page": number, "reason": "scanned page: OCR found no text"})
    return pages, {"page_count": len(reader.pages), "unreadable_pages": bad}


class _Unreadable(Exception):
    pass


def read_file(path: Path, kind: str, ocr: bool) -> dict[str, Any]:
    """Read one record; never raises. Returns pages [(number, text, ocr)], page_count, unreadable_pages,
    encoding and, for a file that yields no text at all, ``problem``."""
    try:
        if path.stat().st_size == 0:
            return {"problem": "file is empty (0 bytes)"}
        readers = {"txt": _read_txt, "docx": _read_docx}
        pages, info = _read_pdf(path, ocr) if kind == "pdf" else readers[kind](path)
    except _Unreadable as exc:
        return {"problem": str(exc)}
    except OSError as exc:
        return {"problem": f"file cannot be read: {exc.strerror or type(exc).__name__}"}
    except Exception as exc:  # corrupt files make the libraries raise many kinds of errors
        from .errors import FileRejected
        if isinstance(exc, FileRejected):
            return {"problem": exc.reason}
        what = {"pdf": "PDF", "docx": "Word document"}.get(kind, "file")
        return {"problem": f"corrupt or not a {what} ({type(exc).__name__})"}
    pages = [p for p in pages if p.text.strip()]
    result = {"pages": [(p.number, p.text, p.ocr) for p in pages],
              "page_count": info.get("page_count", len(pages) or 1),
              "unreadable_pages": info.get("unreadable_pages", []), "encoding": info.get("encoding")}
    if not pages:
        reasons = sorted({p["reason"] for p in result["unreadable_pages"]})
        result["problem"] = "no text" + (f" ({'; '.join(reasons)})" if reasons else "")
    return result


def _read_one(args: tuple[str, str, bool]) -> dict[str, Any]:
    path, kind, ocr = args
    return read_file(Path(path), kind, ocr)


def read_all(files: list[RecordFile], ocr: bool, workers: int | None = None) -> None:
    """Read every file that is needed, once; in worker processes when there are several."""
    todo = [f for f in files if f.status == "matched"]
    jobs = [(str(f.path), f.kind, ocr) for f in todo]
    # half the cores, at most 4: on a 2-core machine reading in one process was fastest (bench/records_bench.py)
    workers = workers if workers is not None else max(1, min(4, (os.cpu_count() or 1) // 2))
    # One tesseract thread per page being read: its OpenMP threads otherwise fight over the same cores
    # (measured: 6 s instead of 0.7 s a page on a busy 2-core machine, see bench/records_bench.py)
    previous = os.environ.get("OMP_THREAD_LIMIT")
    os.environ["OMP_THREAD_LIMIT"] = "1"
    try:
        if workers > 1 and len(jobs) >= MIN_PARALLEL_FILES:
            # spawn, not fork: the parent runs polars' thread pool, which a forked child must not inherit
            with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
                results = list(pool.map(_read_one, jobs, chunksize=max(1, len(jobs) // (workers * 4))))
        else:
            results = [_read_one(j) for j in jobs]
    finally:
        if previous is None:
            os.environ.pop("OMP_THREAD_LIMIT", None)
        else:
            os.environ["OMP_THREAD_LIMIT"] = previous
    for f, res in zip(todo, results):
        f.pages = [Page(n, t, o) for n, t, o in res.get("pages", [])]
        f.page_count = res.get("page_count", 0)
        f.ocr_pages = sum(1 for p in f.pages if p.ocr)
        f.unreadable_pages = res.get("unreadable_pages", [])
        f.encoding = res.get("encoding")
        f.status, f.reason = ("unreadable", res["problem"]) if res.get("problem") else ("read", None)


def load(folder: Path | str, lines: pl.DataFrame, target: pl.DataFrame, workers: int | None = None) -> Records:
    """Find, match and read the records for a run. ``lines``: every audited line; ``target``: the 34421
    lines (line_key, claim_id, line_number) the records are read for."""
    started = time.perf_counter()
    folder = Path(folder)
    files = find_files(folder)
    match(files, lines)
    assigned = assign(files, target)
    ocr = tesseract_available()
    read_all(files, ocr, workers)
    return Records(folder=folder, files=files, seconds=time.perf_counter() - started, ocr_available=ocr,
                   assigned=assigned)


# --------------------------------------------------------------------------------------------------------
# record text -> the line's operative note, and evidence -> file and page
# --------------------------------------------------------------------------------------------------------

def attach(target: pl.DataFrame, records: Records) -> pl.DataFrame:
    """The 34421 lines with each line's record text appended to its ``op_note`` (pages in order, files in
    name order), and ``doc_record_problem`` for a line whose records were all unreadable."""
    keys, texts, problems = [], [], []
    for key, files in records.assigned.items():
        readable = [f for f in files if f.status == "read"]
        keys.append(key)
        texts.append("\n\n".join(p.text for f in readable for p in f.pages) or None)
        problems.append(None if readable else "; ".join(f"{f.name}: {f.reason}" for f in files))
    extra = pl.DataFrame({"line_key": keys, "_record_text": texts, PROBLEM_COLUMN: problems},
                         schema={"line_key": pl.Int64, "_record_text": pl.String, PROBLEM_COLUMN: pl.String})
    out = target.join(extra, on="line_key", how="left", maintain_order="left")
    return out.with_columns(
        pl.concat_str([pl.col("op_note"), pl.col("_record_text")], separator="\n\n", ignore_nulls=True)
        .replace("", None).alias("op_note")).drop("_record_text")


_QUOTE = re.compile(r'op note "…(.*?)…"')
EVIDENCE_COLUMNS = ("doc_approach_evidence", "doc_site_evidence", "doc_note_evidence", "doc_conflict")


def _norm(text: str) -> str:
    return " ".join(text.split())


def attribute(classified: pl.DataFrame, target: pl.DataFrame, records: Records) -> pl.DataFrame:
    """Rewrite the note quotes of lines with records (``op note "…words…"``) to name where the words are:
    ``A123.pdf p.2: "…words…"``; quotes from the line's own op_note column stay ``op note``. Only the
    lines with records are touched (a few per night); each quote is looked up in that line's pages."""
    if not records.assigned:
        return classified
    own = dict(target.select("line_key", "op_note").iter_rows())
    pages = {key: [("op note", _norm(own.get(key) or ""))]
             + [(f.label(p), _norm(p.text)) for f in files if f.status == "read" for p in f.pages]
             for key, files in records.assigned.items()}
    rows = classified.filter(pl.col("line_key").is_in(list(pages))).select("line_key", *EVIDENCE_COLUMNS)

    def where(key: int, words: str) -> tuple[str, str]:
        """(label, quote): the page holding the middle of the quote (the match itself), and the quote cut
        to what that page holds (a window of words may run over a page break)."""
        if "…" in words:  # removed wording inside: quote as it is, placed by its longest piece
            piece = max((p.strip() for p in words.split("…")), key=len)
            return next((label for label, text in pages[key] if piece and piece in text), _files(key)), words
        quoted = words.split()
        for cut in range(0, (len(quoted) + 1) // 2):
            start, end = cut, len(quoted) - cut
            for label, text in pages[key]:
                if start < end and " ".join(quoted[start:end]) in text:
                    while start > 0 and " ".join(quoted[start - 1:end]) in text:
                        start -= 1
                    while end < len(quoted) and " ".join(quoted[start:end + 1]) in text:
                        end += 1
                    return label, " ".join(quoted[start:end])
        return _files(key), words

    def _files(key: int) -> str:
        return ", ".join(f.name for f in records.assigned[key] if f.status == "read") or "op note"

    def quote(key: int, match: re.Match[str]) -> str:
        label, words = where(key, match.group(1))
        return match.group(0) if label == "op note" else f'{label}: "…{words}…"'

    def rewrite(key: int, value: str | None) -> str | None:
        return _QUOTE.sub(lambda m: quote(key, m), value) if value else value

    fixed = pl.DataFrame([{"line_key": r["line_key"], **{c: rewrite(r["line_key"], r[c]) for c in EVIDENCE_COLUMNS}}
                          for r in rows.iter_rows(named=True)],
                         schema={"line_key": pl.Int64, **{c: pl.String for c in EVIDENCE_COLUMNS}})
    return classified.update(fixed, on="line_key")


def files_for_line(folder: Path | str, claim_id: str, line_number: int | None = None) -> list[RecordFile]:
    """The record files ``run --records`` would read for one line (``explain --records``): the line's own
    files if any, else the claim's; without ``line_number`` the claim's files."""
    files = find_files(Path(folder))
    lines = pl.DataFrame({"claim_id": [claim_id], "line_number": [line_number or 0]},
                         schema={"claim_id": pl.String, "line_number": pl.Int64})
    match(files, lines)
    target = lines.with_columns(pl.lit(0, pl.Int64).alias("line_key"),
                                pl.lit(-1 if line_number is None else line_number, pl.Int64).alias("line_number"))
    return assign(files, target).get(0, [])


def files_given(paths: list[Path]) -> list[RecordFile]:
    """Record files named on the command line (``explain --record FILE``), in the order given."""
    out = []
    for path in paths:
        if not path.is_file():
            raise UsageError(f"--record must be a file, got '{path}'")
        f = RecordFile(path=path, name=path.name, kind=path.suffix.lower().lstrip("."), status="matched")
        if path.suffix.lower() not in SUFFIXES:
            raise UsageError(f"--record '{path.name}': records are read from {', '.join(SUFFIXES)} files")
        out.append(f)
    return out
