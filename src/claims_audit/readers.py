"""Finding input files and reading them as text tables with spreadsheet row numbers.

Every reader returns every column as text (never inferred types: codes like ``0001F`` and member ids like
``000123`` must survive), under canonical column names, with ``source_row`` set to the row a person sees
when opening the file in a spreadsheet (header = 1). Rows whose structure is broken (too many or too few
fields, an unterminated quote) are returned separately as structural rejects; a file that cannot be read at
all raises :class:`FileRejected` so the run can go on with the other files.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import hashlib
import io
import re
from collections.abc import Iterator
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl

from . import x12
from . import textchunks
from .errors import FileRejected, NoInputError
from .schema import Layout, header_key

DELIMITED = {".csv", ".tsv", ".txt", ".psv"}
SUPPORTED = DELIMITED | {".parquet", ".xlsx"} | x12.EXTENSIONS
SUPPORTED_TEXT = ".csv, .tsv, .txt, .psv, .parquet, .xlsx, X12 837 (.837, .837p, .837i, .x12, .edi)"
HEAD_BYTES = 1 << 16
ROW = "source_row"


@dataclass(frozen=True)
class InputFile:
    """One input to audit: a file found on the command line or inside a given folder."""

    path: Path
    display: str  # what the report calls it: the path as the user gave it (or folder/name)
    problem: str | None = None  # set when the input cannot even be opened (missing, unsupported...)
    ignored: str | None = None  # set when it is deliberately not audited (hidden, our output, duplicate)


@dataclass
class RawTable:
    """A file read as text under canonical column names, plus what reading it found out."""

    frame: pl.DataFrame  # canonical columns (String) + source_row (Int64)
    rows_read: int  # data rows (records after the header, blank lines excluded)
    structural: pl.DataFrame  # source_row, column, value, problem for rows that could not be split
    encoding: str = "utf-8"
    delimiter: str | None = None
    unknown_columns: list[str] = field(default_factory=list)
    blank_lines: int = 0
    sha256: str | None = None  # of the file's bytes, when reading it computed that on the way
    slots: pl.Series | None = None  # wide layouts: the line's position in its file row (rows share source_row)
    read_fraction: float = 1.0  # how much of the file has been read once this table is (progress)


# what claims-audit itself writes into a folder (a report folder given as input is not audited)
OWN_OUTPUT = re.compile(r"^claims-audit-(\d{4}-\d{2}-\d{2}\.(xlsx|json)|ledger\.sqlite(-wal|-shm|-journal)?|history)$")


def discover(paths: list[str | Path]) -> list[InputFile]:
    """Every path given, and every entry of every folder given (sorted by name), as an input: to audit,
    rejected (`problem`) or deliberately ignored (`ignored`: hidden files, Office lock files, our own
    outputs, subfolders, and a file already given once, by resolved path or SHA-256). Raises NoInputError
    when nothing can be audited."""
    found: list[InputFile] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found.extend(_walk(p, str(raw)))
        else:
            found.append(_classify(p, str(raw), in_folder=False))
    found = _without_duplicates(found)
    if not any(f.problem is None and f.ignored is None for f in found):
        reasons = "; ".join(f"{f.display}: {f.problem or f.ignored}" for f in found) or "no paths given"
        raise NoInputError(f"no input could be found ({reasons})")
    return found


def _walk(folder: Path, given: str) -> list[InputFile]:
    try:
        entries = sorted(folder.iterdir(), key=lambda f: f.name)
    except OSError as exc:
        return [InputFile(folder, given, problem=f"folder cannot be listed: {exc.strerror or type(exc).__name__}")]
    found = [_classify(e, str(Path(given) / e.name), in_folder=True) for e in entries]
    if all(f.ignored is not None for f in found):  # empty, or nothing but ignored entries
        found.append(InputFile(folder, given, problem=f"folder contains no supported files ({SUPPORTED_TEXT})"))
    return found


def _classify(p: Path, display: str, in_folder: bool) -> InputFile:
    """What to do with one path. Inside a folder, hidden and lock files, our own outputs and subfolders are
    ignored by rule; given by name, every path is audited or rejected."""
    name = p.name
    if in_folder and name.startswith("."):
        return InputFile(p, display, ignored="hidden file")
    if in_folder and name.startswith("~$"):
        return InputFile(p, display, ignored="Office lock file (the workbook is open in Excel)")
    if in_folder and OWN_OUTPUT.match(name):
        return InputFile(p, display, ignored="claims-audit's own output")
    if in_folder and p.suffix.lower() == ".md":  # a README beside the extracts
        return InputFile(p, display, ignored="documentation (.md), not an extract")
    if p.is_symlink() and not p.exists():
        return InputFile(p, display, problem="broken symbolic link: its target does not exist")
    if not p.exists():
        return InputFile(p, display, problem="path does not exist")
    if p.is_dir():
        return InputFile(p, display, ignored="subfolder (folders are not searched recursively; give it as "
                                             "its own PATH to audit it)")
    if not p.is_file():
        return InputFile(p, display, problem="not a regular file (a device, pipe or socket)")
    suffix = "".join(p.suffixes[-2:]).lower() if p.suffix.lower() in COMPRESSED else p.suffix.lower()
    if p.suffix.lower() in COMPRESSED:
        return InputFile(p, display, problem=f"compressed file ('{suffix}'): decompress it first "
                                             f"(supported: {SUPPORTED_TEXT})")
    if suffix not in SUPPORTED and not _x12_content(p):  # an 837 is recognised by its ISA envelope
        return InputFile(p, display, problem=f"unsupported file type '{p.suffix or '(none)'}' "
                                             f"(supported: {SUPPORTED_TEXT})")
    return InputFile(p, display)


def _x12_content(f: Path) -> bool:
    """The file starts with an X12 ISA envelope (an 837 whatever its extension); False when unreadable."""
    try:
        with f.open("rb") as fh:
            return x12.looks_like_x12(fh.read(64))
    except OSError:
        return False


COMPRESSED = {".gz", ".zip", ".bz2", ".xz", ".zst", ".7z"}


def _without_duplicates(found: list[InputFile]) -> list[InputFile]:
    """The same file given twice (a folder and a file in it, a link to it, a copy of it) is audited once:
    later occurrences are ignored, naming the first. Content is compared only between files of one size."""
    first_by_path: dict[str, str] = {}
    out: list[InputFile] = []
    for f in found:
        if f.problem is None and f.ignored is None:
            key = str(f.path.resolve())
            if key in first_by_path:
                f = InputFile(f.path, f.display, ignored=f"duplicate: the same file as {first_by_path[key]}")
            else:
                first_by_path[key] = f.display
        out.append(f)
    by_size: dict[int, list[int]] = {}
    for i, f in enumerate(out):
        if f.problem is None and f.ignored is None:
            with contextlib.suppress(OSError):
                size = f.path.stat().st_size
                if size:  # empty files are each rejected as empty, not hidden as duplicates
                    by_size.setdefault(size, []).append(i)
    for same_size in (v for v in by_size.values() if len(v) > 1):
        first_by_hash: dict[str, str] = {}
        for i in same_size:
            try:
                digest = sha256(out[i].path)
            except OSError:
                continue  # read (and rejected) on its own
            if digest in first_by_hash:
                out[i] = InputFile(out[i].path, out[i].display,
                                   ignored=f"duplicate: same content (SHA-256) as {first_by_hash[digest]}")
            else:
                first_by_hash[digest] = out[i].display
    return out


def _chunks(source: Path | bytes) -> Iterator[bytes]:
    """The bytes of a file in 16 MiB pieces (memory stays bounded on large extracts), or ``source``
    itself when it is already in memory."""
    if isinstance(source, bytes):
        yield source
        return
    with source.open("rb") as fh:
        while chunk := fh.read(1 << 24):
            yield chunk


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    for chunk in _chunks(path):
        h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class _Scan:
    """One pass over a delimited file's bytes, made in a thread while polars parses the file (hashlib and
    polars both release the GIL): its checksum, its delimiter count and whether it holds a quote."""

    sha256: str | None  # None for text already in memory (transcoded: not the file's bytes)
    separators: int
    quoted: bool
    lone_cr: bool = False  # may hold a CR alone (see textchunks.lone_cr_as_lf)
    open_quote: bool = False  # an odd number of quote characters: the text ends inside a quoted field
    in_quotes: int | None = None  # separators inside quoted fields (see _separators_in_quotes)


def _scan(source: Path | bytes, delimiter: str) -> _Scan:
    h = hashlib.sha256() if isinstance(source, Path) else None
    sep = delimiter.encode()
    separators, quotes, lone_cr = 0, 0, False
    for chunk in _chunks(source):  # the delimiter is one byte: it cannot straddle two chunks
        if h is not None:
            h.update(chunk)
        separators += chunk.count(sep)
        if b'"' in chunk:
            quotes += chunk.count(b'"')
        lone_cr = lone_cr or textchunks.may_hold_lone_cr(chunk)  # a CRLF cut by two chunks: "may"
    in_quotes = None
    if isinstance(source, bytes) and 0 < quotes <= len(source) // QUOTES_COUNTED_PER_BYTE:
        in_quotes = _separators_in_quotes(source, sep)
    return _Scan(h.hexdigest() if h is not None else None, separators, quotes > 0, lone_cr, quotes % 2 == 1,
                 in_quotes)


# a text with at most one quote character in this many bytes has its separators inside quotes counted on
# its bytes (one step per quoted field); more quotes (every field quoted): on the parsed cells instead
QUOTES_COUNTED_PER_BYTE = 1024
_LF, _CR, _QUOTE = 0x0A, 0x0D, 0x22


def _separators_in_quotes(data: bytes, sep: bytes) -> int | None:
    """How many separators stand inside quoted fields of `data` (which starts outside quotes), counted
    on the bytes, between each opening quote and the next quote; None when a quote stands where RFC 4180
    puts none (an opening quote not at the start of a field, a closing one not at its end: a stray
    quote). Where every quote is regular, these are the separators polars keeps inside cell values, and
    this costs one step per quoted field instead of a pass over every cell of every column."""
    delimiter, size = sep[0], len(data)
    count, previous_end = 0, -2
    pos = data.find(b'"')
    while pos >= 0:
        end = data.find(b'"', pos + 1)
        if end < 0:
            return None  # ends inside a quoted field
        before = data[pos - 1] if pos else _LF
        if before != delimiter and before != _LF and pos != previous_end + 1:  # "" inside a field: escaped
            return None
        if end + 1 < size and data[end + 1] not in (delimiter, _LF, _CR, _QUOTE):
            return None
        count += data.count(sep, pos, end)
        previous_end = end
        pos = data.find(b'"', end + 1)
    return count


DEFAULT_CHUNK_BYTES = 64 << 20  # a piece of a delimited file (see claims_audit.textchunks)


@dataclass(frozen=True)
class ReadOptions:
    """How one input is read: in pieces of about `chunk_bytes` (None: as one piece, the whole file), with
    the legacy decoding found for the whole file (None until a piece turns out not to be UTF-8), and where
    a UTF-8 copy of a file in another encoding may be written (None: a temporary folder)."""

    chunk_bytes: int | None = DEFAULT_CHUNK_BYTES
    legacy: str | None = None
    scratch: Path | None = None


class ReadAgain(Exception):
    """The pieces read so far are void: the file must be read again from the start with `options` (its
    encoding is not UTF-8 after all, or its quoting is irregular and it must be read whole)."""

    def __init__(self, options: ReadOptions):
        super().__init__("read again")
        self.options = options


def read(inp: InputFile, layout: Layout, mapping: dict[str, str] | None = None) -> RawTable:
    """Read one input whole, as one text table (the one-piece case of :func:`read_chunks`). Raises
    FileRejected when the file as a whole is unusable."""
    (table,) = read_chunks(inp, layout, mapping, ReadOptions(chunk_bytes=None))
    return table


def read_chunks(inp: InputFile, layout: Layout, mapping: dict[str, str] | None = None,
                options: ReadOptions = ReadOptions()) -> Iterator[RawTable]:
    """Read one input as consecutive text tables of whole records, in file order, each with the
    spreadsheet row numbers of the whole file. The last one carries the file's SHA-256 when reading
    computed it. Raises FileRejected when the file as a whole is unusable (possibly after some tables:
    they are void then), and ReadAgain when tables were yielded and the file must be read again."""
    yielded = False
    while True:
        try:
            for table in _tables(inp, layout, mapping or {}, options):
                yielded = True
                yield table
            return
        except ReadAgain as again:
            if yielded:
                raise
            options = again.options


def read_ahead(tables: Iterator[RawTable]) -> Iterator[RawTable]:
    """`tables` (:func:`read_chunks`) with the next one read (cut, parsed, its structure proven) in a
    worker thread while the caller validates and keeps this one. Both run mostly inside polars, which
    releases the GIL, so the two cores are busier: 3-5% less time at 2M and 10M lines for one more
    parsed piece in memory (about 170 MiB with 64 MiB pieces). The tables come in the same order, and
    what reading raises (FileRejected, ReadAgain) is raised where the caller asks for that table;
    stopping early closes `tables` once the worker is done with it."""
    done = object()
    with ThreadPoolExecutor(1, thread_name_prefix="claims-audit-read") as pool:
        following: Future = pool.submit(next, tables, done)
        try:
            while (table := following.result()) is not done:
                following = pool.submit(next, tables, done)
                yield table
                del table
        finally:
            following.cancel()
            with contextlib.suppress(BaseException):  # already raised, or of no interest now
                following.result()
            if hasattr(tables, "close"):
                tables.close()


def _tables(inp: InputFile, layout: Layout, mapping: dict[str, str], options: ReadOptions
            ) -> Iterator[RawTable]:
    with contextlib.ExitStack() as stack:
        if options.scratch is None:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="claims-audit-read-"))
            options = replace(options, scratch=Path(folder))
        try:
            if inp.path.suffix.lower() in x12.EXTENSIONS or (
                    inp.path.suffix.lower() not in (".xlsx", ".parquet") and _x12_content(inp.path)):
                yield _to_canonical(_read_x12(inp.path), layout, {})  # an 837 is parsed whole
            elif layout.preset is not None:  # a preset reshapes the whole file (wide rows, defaults)
                (whole,) = _pieces(inp.path, replace(options, chunk_bytes=None))
                yield _to_canonical(_reshape(whole, layout, mapping), layout, {})
            elif options.chunk_bytes is None:
                yield from _canonical(_pieces(inp.path, options), layout, mapping)
            else:
                try:
                    yield from _canonical(_pieces(inp.path, options), layout, mapping)
                except FileRejected:  # a file rejected as a whole is judged whole: the same reason and
                    raise ReadAgain(replace(options, chunk_bytes=None)) from None  # row count as unchunked
        except PermissionError:
            raise FileRejected("file cannot be read: permission denied") from None
        except IsADirectoryError:
            raise FileRejected("path is a folder, not a file") from None
        except OSError as exc:
            raise FileRejected(f"file cannot be read: {exc.strerror or type(exc).__name__}") from None
        except (FileRejected, ReadAgain):
            raise
        except Exception as exc:  # a reader bug must not stop the night's run: this file alone is rejected
            raise FileRejected(f"file could not be parsed (unexpected {type(exc).__name__}; please report "
                               "this with the file's structure, not its content)") from None


def _pieces(path: Path, options: ReadOptions) -> Iterator[_Parsed]:
    suffix = path.suffix.lower()
    if suffix in DELIMITED:
        yield from _delimited_pieces(path, suffix, options)
    elif suffix == ".xlsx":  # at most 1,048,576 rows by Excel's own limit: read whole
        yield _read_xlsx(path)
    else:
        yield from _parquet_pieces(path, options.chunk_bytes)


def _canonical(pieces: Iterator[_Parsed], layout: Layout, mapping: dict[str, str]) -> Iterator[RawTable]:
    """Each piece under canonical column names. A header that cannot be mapped rejects the file with
    the number of its rows, so the remaining pieces are still counted."""
    refused: FileRejected | None = None
    for parsed in pieces:
        if refused is not None:
            refused.rows += parsed.body.height + len(parsed.structural)
            continue
        try:
            table = _to_canonical(parsed, layout, mapping)
        except FileRejected as exc:
            refused = exc
            continue
        yield table
    if refused is not None:
        raise refused


def _read_x12(path: Path) -> _Parsed:
    """An X12 837 file: one row per service line (see :mod:`claims_audit.x12`)."""
    table = x12.read_837(path)
    body = pl.DataFrame({ROW: pl.Series(ROW, table.source_rows, dtype=pl.Int64),
                         **{f"__c{i}": pl.Series(table.rows[c], dtype=pl.String)
                            for i, c in enumerate(x12.COLUMNS)}})
    return _Parsed(list(x12.COLUMNS), body, table.rejected, "x12", None, 0, table.sha256)


def _reshape(table: _Parsed, layout: Layout, mapping: dict[str, str]) -> _Parsed:
    """A file in a layout preset's shape, as canonical columns (see :mod:`claims_audit.presets`)."""
    from .presets import check_required

    header, body, structural, slots, unused = layout.preset.reshape(table.header, table.body, mapping)
    check_required(layout.preset, header, layout.required)
    out = _Parsed(header, body, table.structural + structural, table.encoding, table.delimiter,
                  table.blank_lines, table.sha256, slots)
    out.unused = unused
    return out


# --- delimited text ----------------------------------------------------------------------------------
#
# Ordinary files take the fast path: one polars parse of the whole file plus one vectorised pass over its
# physical lines that counts every record's fields (polars pads short rows and drops extra fields, so the
# count is what tells a broken row from a row with empty trailing cells). Files polars refuses (stray or
# unterminated quotes) or whose records the two passes do not map one to one are split exactly by
# Python's csv module instead: slower, but never wrong and never fatal to the run.


@dataclass
class _Parsed:
    header: list[str]
    body: pl.DataFrame  # positional columns __c0.. (String) + source_row
    structural: list[tuple[int, str]]
    encoding: str
    delimiter: str | None
    blank_lines: int
    sha256: str | None = None
    slots: pl.Series | None = None  # wide layouts (presets): the line slot of each body row
    unused: list[str] | None = None  # presets: the file's headers the preset does not read
    records: int = 0  # records after the header, blank and broken ones included (row numbers they take)
    read_fraction: float = 1.0  # of the file, once this piece is read
    exact: bool = False  # split by the csv module (irregular quoting)


BINARY_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"%PDF-", b"\x89PNG", b"GIF87a", b"GIF89a", b"\xff\xd8\xff",
                b"\x1f\x8b", b"PAR1", b"\xd0\xcf\x11\xe0", b"7z\xbc\xaf", b"BZh91AY&SY", b"\x7fELF",
                b"SQLite format 3\x00", b"\xfd7zXZ\x00")
# C0 control bytes other than tab, LF, VT, FF, CR: a few may sit in a text cell, many mean binary content
_CONTROL_BYTES = bytes(b for b in range(0x20) if b not in (0x09, 0x0A, 0x0B, 0x0C, 0x0D))
_HIGH_BYTES = bytes(range(0x80, 0x100))
_NOT_TEXT = "file is not text (binary content): not a delimited extract"


def _reject_binary(head: bytes) -> None:
    """Binary files (a workbook saved as .csv, an archive, an image...) are rejected, not parsed."""
    if head.startswith(BINARY_MAGIC):
        raise FileRejected(_NOT_TEXT)
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    if controls > max(32, len(head) // 20):  # more than 5% control bytes: a few in cells are fine
        raise FileRejected(_NOT_TEXT)
    high = len(head) - len(head.translate(None, _HIGH_BYTES))
    if high > len(head) * 3 // 10 and not _valid_utf8(head):  # no legacy text is 30% accented letters
        raise FileRejected(_NOT_TEXT)


def _valid_utf8(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start > len(head) - 4 and _valid_utf8(head[: exc.start])
    return True


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 text without a byte-order mark: every other byte is zero (for the ASCII part)."""
    sample = head[: 4096 - 4096 % 2]
    if len(sample) < 8:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


def _utf8_view(path: Path, head: bytes, scratch: Path) -> tuple[str, Path, int]:
    """(encoding found, a file holding the text as UTF-8 or single-byte text, where the text starts in
    it). The file itself, past a UTF-8 byte-order mark, when it can be read as it is; otherwise a copy
    written to `scratch` in bounded memory (UTF-16/32, classic Mac CR line ends).

    "utf-8" here is provisional: invalid UTF-8 found later switches to a legacy decoding.
    """
    view, start = path, 0
    if head.startswith(codecs.BOM_UTF8):
        encoding, start = "utf-8-sig", len(codecs.BOM_UTF8)
    elif head.startswith(codecs.BOM_UTF32_LE) or head.startswith(codecs.BOM_UTF32_BE):
        encoding = "utf-32"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif enc := _utf16_without_bom(head):
        encoding = enc
    else:
        _reject_binary(head)
        encoding = "utf-8"
    if encoding not in ("utf-8", "utf-8-sig"):
        view = scratch / f"{path.name}.utf8"
        textchunks.transcode(path, encoding, view)
    if view is not path or start:
        head = _head_of(view, start)
        _reject_binary(head)
    if b"\r" in head and b"\n" not in head:  # classic Mac files end lines with CR alone
        lf = scratch / f"{path.name}.lf"
        textchunks.lf_line_ends(view, start, lf)
        if view is not path:
            view.unlink()
        view, start = lf, 0
    return encoding, view, start


def _head_of(path: Path, start: int) -> bytes:
    with path.open("rb") as fh:
        fh.seek(start)
        return fh.read(HEAD_BYTES)


def _delimited_pieces(path: Path, suffix: str, options: ReadOptions) -> Iterator[_Parsed]:
    """The file's records in pieces of about `options.chunk_bytes`, parsed one by one with the same
    machinery as a whole file (each piece after the first is parsed behind a copy of the header), with
    the row numbers of the whole file."""
    if path.stat().st_size == 0:
        raise FileRejected("file is empty (0 bytes)")
    assert options.scratch is not None
    encoding, view, start = _utf8_view(path, _head_of(path, 0), options.scratch)
    head = _head_of(view, start)
    head_text = _head_text(head)
    if not head_text.strip():
        raise FileRejected("file has no header row (only blank content)")
    first_line = next((ln for ln in head_text.splitlines() if ln.strip()), "")
    delimiter = _detect_delimiter(first_line, suffix)
    header = next(csv.reader(io.StringIO(head_text, newline=""), delimiter=delimiter, strict=False), [])
    if not any(h.strip() for h in header):
        raise FileRejected("first line is blank: the header row must be the first line")
    hasher = hashlib.sha256() if view == path else None  # a copy's bytes are not the file's
    if options.chunk_bytes is not None and options.chunk_bytes >= view.stat().st_size:
        options = replace(options, chunk_bytes=None)  # one piece: the whole file
    again = ReadOptions(None, options.legacy, options.scratch)  # irregular quoting: read it whole
    with view.open("rb") as fh, ThreadPoolExecutor(1) as pool:
        if hasher is not None and start:
            hasher.update(fh.read(start))
        fh.seek(start)
        pieces = textchunks.pieces_with_end(fh, options.chunk_bytes, repeat_header=True)
        header_length, offset, first = 0, 0, True
        size, consumed = max(view.stat().st_size - start, 1), 0
        while True:
            try:
                piece, last = next(pieces, (None, True))
            except textchunks.NoBoundary:
                raise ReadAgain(again) from None
            if piece is None:  # the file ended after a piece not flagged as its last
                if first or hasher is None:
                    return
                raise ReadAgain(again)  # that piece went without the file's checksum: read it whole
            if first:  # every later piece starts with a copy of the header record
                header_length = len(textchunks.header_record(piece))
            own = memoryview(piece)[0 if first else header_length:]  # the file's bytes in this piece
            if hasher is not None:
                pool.submit(hasher.update, own)  # one worker: the pieces are hashed in order
            source = piece
            if options.legacy:
                source = textchunks.legacy_to_utf8(source, options.legacy)
            try:
                parsed = _parse_piece(source, header, delimiter, options.legacy or encoding, pool)
            except _NotUtf8:
                raise ReadAgain(replace(options, legacy=textchunks.legacy_encoding(view, start))) from None
            if parsed.exact and not (first and last):
                raise ReadAgain(again)
            parsed = _shifted(parsed, offset)
            offset += parsed.records
            consumed += len(own)
            parsed.read_fraction = min(consumed / size, 1.0)
            del source
            if last and hasher is not None:
                parsed.sha256 = pool.submit(hasher.hexdigest).result()
            yield parsed
            del piece, own
            if last:  # confirmed by reading once more: a file that grew since is read again, whole
                try:
                    if next(pieces, None) is not None:
                        raise ReadAgain(again)
                except textchunks.NoBoundary:
                    raise ReadAgain(again) from None
                return
            first = False


def _read_delimited(path: Path, suffix: str) -> _Parsed:
    """A delimited file parsed whole, as one piece (the yardstick of the pieces in the tests)."""
    with tempfile.TemporaryDirectory(prefix="claims-audit-read-") as folder:
        options = ReadOptions(None, scratch=Path(folder))
        while True:
            try:
                (parsed,) = _delimited_pieces(path, suffix, options)
                return parsed
            except ReadAgain as again:
                options = again.options


def _parse_piece(source: bytes, header: list[str], delimiter: str, encoding: str,
                 pool: ThreadPoolExecutor) -> _Parsed:
    """One piece (the header record, then whole records) parsed; raises _NotUtf8."""
    scan = pool.submit(_scan, source, delimiter)  # while polars parses (both release the GIL)
    try:
        parsed = _parse_body(source, header, delimiter, encoding, scan)
        if not parsed.exact and scan.result().lone_cr:  # the csv module ends a row at a lone CR itself
            ended = textchunks.lone_cr_as_lf(source)
            if ended is not None:  # a CR alone outside quotes ends a row, as a spreadsheet shows it
                parsed = _parse_body(ended, header, delimiter, encoding)
        return parsed
    except _NotUtf8:
        if encoding in (textchunks.MIXED, textchunks.CP1252, textchunks.LATIN1):
            # cannot happen (the text is UTF-8 now); never let it escape
            return _parse_with_csv_module(source, header, delimiter, encoding)
        raise


def _shifted(parsed: _Parsed, offset: int) -> _Parsed:
    """A piece's rows numbered as in the whole file: `offset` records (blank ones included) precede it."""
    if not offset:
        return parsed
    parsed.body = parsed.body.with_columns(pl.col(ROW) + offset)
    parsed.structural = [(row + offset, problem) for row, problem in parsed.structural]
    return parsed


class _NotUtf8(Exception):
    pass


_UTF8_MULTIBYTE = textchunks.UTF8_MULTIBYTE


def _cp1252_bytes(exc: UnicodeError) -> tuple[str, int]:
    """Decoding error handler: bytes that are not UTF-8 are read as Windows-1252 (Latin-1 if undefined)."""
    assert isinstance(exc, UnicodeDecodeError)
    bad = exc.object[exc.start:exc.end]
    return "".join(bytes([b]).decode("cp1252", errors="strict") if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)
                   else chr(b) for b in bad), exc.end


codecs.register_error("claims_audit_cp1252", _cp1252_bytes)
csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))  # operative notes may be long


def _decode_legacy(data: bytes) -> tuple[str, str]:
    """Text that is not valid UTF-8: Windows-1252 (what spreadsheets on Windows write), else Latin-1
    (decodes any byte); a file mixing UTF-8 with single Windows-1252 bytes keeps both readable."""
    if _UTF8_MULTIBYTE.search(data):
        return data.decode("utf-8", errors="claims_audit_cp1252"), textchunks.MIXED
    try:
        return data.decode("cp1252"), textchunks.CP1252
    except UnicodeDecodeError:
        return data.decode("latin-1"), textchunks.LATIN1


def _head_text(head: bytes) -> str:
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start > len(head) - 4:  # a multi-byte character cut by the 64 KiB head
            try:
                return head[: exc.start].decode("utf-8")
            except UnicodeDecodeError:
                pass
        text, _ = _decode_legacy(head)
        return text


def _detect_delimiter(first_line: str, suffix: str) -> str:
    if suffix == ".csv":
        return ","
    if suffix == ".tsv":
        return "\t"
    counts = {d: first_line.count(d) for d in ("\t", "|", ",")}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        return "\t" if suffix != ".psv" else "|"
    return best


def _polars_read(source: Path | bytes, width: int, delimiter: str, ragged: bool) -> pl.DataFrame:
    src = source if isinstance(source, Path) else io.BytesIO(source)
    return pl.read_csv(src, has_header=False, separator=delimiter, quote_char='"',
                       schema={f"__c{i}": pl.String for i in range(width)}, missing_columns="insert",
                       truncate_ragged_lines=ragged, infer_schema=False, raise_if_empty=False)


def _utf8_error(exc: Exception, source: Path | bytes) -> bool:
    """Polars failed because the text is not UTF-8. Its message is only a hint (it quotes the data, which
    may itself say "utf8"): the bytes are checked."""
    text = str(exc).lower()
    if "utf-8" not in text and "utf8" not in text:
        return False
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for chunk in _chunks(source):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return True
    return False


def _parse_body(source: Path | bytes, header: list[str], delimiter: str, encoding: str,
                scan: Future[_Scan] | None = None) -> _Parsed:
    """Parse with polars; prove every record has the header's number of fields, or count each record's
    fields with a vectorised pass over the raw lines; irregular files go to the exact parser."""
    n = len(header)
    strict = True
    try:  # strict: polars refuses a record with more than n fields, even when the extra ones are empty
        body = _polars_read(source, n, delimiter, ragged=False)
    except pl.exceptions.PolarsError as exc:
        if _utf8_error(exc, source):
            raise _NotUtf8() from None
        if "more fields" not in str(exc):
            return _parse_with_csv_module(source, header, delimiter, encoding)  # irregular quoting
        strict = False
        try:  # some records are too long: a spare column keeps them apart, the line pass counts them
            body = _polars_read(source, n + 1, delimiter, ragged=True)
        except pl.exceptions.PolarsError as exc2:
            if _utf8_error(exc2, source):
                raise _NotUtf8() from None
            return _parse_with_csv_module(source, header, delimiter, encoding)
    if strict and _well_formed(scan.result() if scan else _scan(source, delimiter), body, n, delimiter):
        header = ["" if v is None else v for v in body.row(0)[:n]]
        return _assemble(body, None, header, delimiter, encoding)  # proven: no blank or broken record
    counts = _field_counts(source, delimiter)
    if (counts is None or counts.height != body.height or counts.height == 0
            or counts.item(0, "fields") != len(header) or not _aligned(body, counts, delimiter)):
        return _parse_with_csv_module(source, header, delimiter, encoding)
    # the header as this parse sees it (a lone CR inside it is text here, as in every other record)
    header = ["" if v is None else v for v in body.row(0)[: len(header)]]
    return _assemble(body, counts.drop("first"), header, delimiter, encoding)


def _well_formed(scan: _Scan, body: pl.DataFrame, n: int, delimiter: str) -> bool:
    """Cheap proof that every record has exactly the header's n fields, so the line pass can be skipped.

    The strict parse proved that no record has more than n fields; if the separators in the file number
    exactly (n - 1) per record plus those inside quoted cell values, no record can have fewer either
    (a short record or a blank line would leave the count short, and nothing can make up for it). A
    text ending inside a quoted field is not proven: polars takes `"cut ""off""` at the end for a closed
    cell, the line pass sees the open quote and reports the record.
    """
    if body.height == 0 or scan.open_quote:  # polars may close a quote cut off after a doubled ""
        return False
    in_cells = 0
    if scan.quoted:
        in_cells = scan.in_quotes if scan.in_quotes is not None else _separators_in_cells(body, n, delimiter)
    return scan.separators == body.height * (n - 1) + in_cells


def _separators_in_cells(body: pl.DataFrame, n: int, delimiter: str) -> int:
    """How many delimiters the parsed cell values hold (quoted in the file, they split nothing). Mostly
    empty columns are counted over their filled cells only: a string kernel costs as much on a null as on
    a value."""
    def count(name: str) -> pl.Expr:
        c = pl.col(name)
        sparse = body.get_column(name).null_count() * 2 > body.height
        return (c.drop_nulls() if sparse else c).str.count_matches(delimiter, literal=True).sum()

    sums = body.select(count(f"__c{i}") for i in range(n))
    return int(sum(v or 0 for v in sums.row(0)))


_LINE_SEPARATORS = ("\x1f", "\x1e", "\x1d", "\x1c", "\x01", "\x02", "\x03")


def _unused_byte(source: Path | bytes) -> str | None:
    """A control byte that occurs nowhere in the file (to read whole lines as one column)."""
    candidates = [c.encode() for c in _LINE_SEPARATORS]
    for chunk in _chunks(source):
        candidates = [c for c in candidates if c not in chunk]
        if not candidates:
            break
    return candidates[0].decode() if candidates else None


def _physical_lines(source: Path | bytes) -> pl.DataFrame | None:
    """The file's physical lines as one text column, split on LF only (CR stays at the line end)."""
    sep = _unused_byte(source)
    if sep is None:
        return None
    src = source if isinstance(source, Path) else io.BytesIO(source)
    try:
        lines = pl.read_csv(src, has_header=False, separator=sep, quote_char=None,
                            schema={"l": pl.String}, truncate_ragged_lines=True, infer_schema=False,
                            raise_if_empty=False, empty_string_is_null=False)
    except pl.exceptions.PolarsError:
        return None
    return lines.select(pl.col("l").fill_null(""))


def _field_counts(source: Path | bytes, delimiter: str) -> pl.DataFrame | None:
    """Per record: number of fields, whether it is blank, whether its quotes are unterminated, and the
    raw text of its first field when that is unquoted (to check the record mapping).

    Physical lines are read as one text column; a running count of quote characters tells which lines
    continue a quoted field of the line before. Separators inside quoted segments are not counted.
    Returns None when the file's lines cannot be read this way (the caller falls back).
    """
    lines = _physical_lines(source)
    if lines is None:
        return None
    if lines.height == 0:
        return pl.DataFrame(schema={"fields": pl.Int64, "blank": pl.Boolean, "unterminated": pl.Boolean,
                                    "first": pl.String})
    q = pl.col("l").str.count_matches('"', literal=True)
    lines = lines.with_columns(q.cast(pl.Int64).alias("q"))
    if lines.select((pl.col("q") % 2 == 1).any()).item():
        # some quoted fields span lines: group physical lines into records (only the lines concerned)
        lines = lines.with_columns((pl.col("q").cum_sum() - pl.col("q")).mod(2).alias("open_before"))
        lines = lines.with_columns((pl.col("open_before") == 0).cum_sum().alias("rec"))
        multi = lines.filter(pl.col("open_before") == 1).get_column("rec").unique()
        in_multi = pl.col("rec").is_in(multi.implode())
        joined = lines.filter(in_multi).group_by("rec", maintain_order=True).agg(
            pl.col("l").str.join("\n"), pl.col("q").sum())
        records = pl.concat([lines.filter(~in_multi).select("rec", "l", "q"), joined]).sort("rec")
    else:
        records = lines
    text = pl.col("l")
    out = records.select(
        (text.str.count_matches(delimiter, literal=True) + 1).cast(pl.Int64).alias("fields"),
        (text.str.strip_chars("\r") == "").alias("blank"),
        (pl.col("q") % 2 == 1).alias("unterminated"),
        # the first field as the line pass sees it, where it is unquoted and followed by a separator
        pl.when(text.str.starts_with('"')).then(None)
        .otherwise(text.str.split_exact(delimiter, 1).struct.field("field_0")).alias("first"),
    )
    out = out.with_columns(pl.when((pl.col("fields") < 2) | pl.col("unterminated")).then(None)
                           .otherwise(pl.col("first")).alias("first"))
    quoted = records.select((pl.col("q") > 0).arg_true()).to_series()
    if quoted.len():  # separators inside quoted segments do not split fields
        inner = records[quoted].select(
            text.str.replace_all(r'"(?:[^"]|"")*"', "").str.count_matches(delimiter, literal=True) + 1)
        out = out.with_columns(out.get_column("fields").scatter(quoted, inner.to_series().cast(pl.Int64)))
    return out


def _aligned(body: pl.DataFrame, counts: pl.DataFrame, delimiter: str) -> bool:
    """Polars' records and the line pass's records are the same ones: every unquoted first field that
    the line pass sees is the first field polars parsed (a cheap guard against stray-quote surprises)."""
    c0 = body.get_column("__c0").fill_null("")
    first = counts.get_column("first")
    blank = counts.get_column("blank")
    check = pl.DataFrame({"a": c0, "b": first, "blank": blank})
    bad = check.filter(pl.col("b").is_not_null() & ~pl.col("blank") & (pl.col("a") != pl.col("b"))).height
    return bad == 0


def _parse_with_csv_module(source: Path | bytes, header: list[str], delimiter: str,
                           encoding: str) -> _Parsed:
    """Exact record splitting with Python's csv module, for files the fast pass cannot map.

    Builds the table in chunks so that memory stays bounded on large files.
    """
    data = source.read_bytes() if isinstance(source, Path) else source
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text, encoding = _decode_legacy(data)
    del data
    width = len(header) + 1
    names = [f"__c{i}" for i in range(width)]
    current: list[list[str]] = [[]]  # physical lines of the record being read

    def physical_lines():
        for ln in io.StringIO(text, newline=""):
            current[0].append(ln)
            yield ln

    reader = csv.reader(physical_lines(), delimiter=delimiter, strict=False)
    chunks: list[pl.DataFrame] = []
    rows: list[list[str]] = []
    fields: list[int] = []
    last: list[str] = []

    def flush() -> None:
        padded = [r[:width] if len(r) >= width else r + [""] * (width - len(r)) for r in rows]
        cols = list(zip(*padded)) if padded else [() for _ in range(width)]
        chunk = pl.DataFrame({n: pl.Series(n, cols[i], dtype=pl.String) for i, n in enumerate(names)})
        chunks.append(chunk.with_columns(pl.Series("fields", fields, dtype=pl.Int64)))
        rows.clear()
        fields.clear()

    try:
        for rec in reader:
            if not chunks and not rows and rec:  # the header as this parse sees it
                header = rec
                width = len(header) + 1
                names = [f"__c{i}" for i in range(width)]
            rows.append(rec)
            fields.append(len(rec))
            last, current[0] = current[0], []
            if len(rows) >= 100_000:
                flush()
    except csv.Error:
        raise FileRejected("file cannot be parsed as delimited text") from None
    flush()
    table = pl.concat(chunks)
    unterminated = pl.Series("unterminated", [False] * table.height, dtype=pl.Boolean)
    if table.height and _ends_in_open_quote("".join(last), delimiter):
        unterminated[table.height - 1] = True
    body = table.select(pl.when(pl.col(n).str.len_bytes() > 0).then(pl.col(n)).alias(n) for n in names)
    info = pl.DataFrame([table.get_column("fields"), (table.get_column("fields") == 0).alias("blank"),
                         unterminated])
    parsed = _assemble(body, info, header, delimiter, encoding)
    parsed.exact = True
    return parsed


def _ends_in_open_quote(record: str, delimiter: str) -> bool:
    """Whether the last record of a file stops inside a quoted field (the file was cut off)."""
    try:
        for _ in csv.reader(io.StringIO(record, newline=""), delimiter=delimiter, strict=True):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def _assemble(body: pl.DataFrame, info: pl.DataFrame | None, header: list[str], delimiter: str,
              encoding: str) -> _Parsed:
    """The records after the header, numbered as the spreadsheet rows they are, without the blank and
    the broken ones (`info`: each record's fields, blank, unterminated; None: every record is whole)."""
    n = len(header)
    records = max(body.height - 1, 0)
    if info is None:
        body = body.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64)).slice(1)
        return _Parsed(header, body.select(ROW, *[f"__c{i}" for i in range(n)]), [], encoding, delimiter, 0,
                       records=records)
    body = pl.concat([body, info], how="horizontal").with_row_index(ROW, offset=1)
    body = body.with_columns(pl.col(ROW).cast(pl.Int64)).slice(1)  # drop the header record
    blank_lines = body.select(pl.col("blank").sum()).item() or 0
    if blank_lines:  # filters copy every column's cell views: only when there is something to drop
        body = body.filter(~pl.col("blank"))
    broken = pl.col("unterminated") | (pl.col("fields") != n)
    bad = body.filter(broken)
    structural = [
        (row, "quoted field is not terminated (file may be cut off)" if unterminated else
         f"row has {fields} fields, the header has {n}")
        for row, fields, unterminated in bad.select(ROW, "fields", "unterminated").iter_rows()
    ]
    if bad.height:
        body = body.filter(~broken)
    body = body.select(ROW, *[f"__c{i}" for i in range(n)])
    return _Parsed(header, body, structural, encoding, delimiter, int(blank_lines), records=records)


# --- xlsx and parquet --------------------------------------------------------------------------------


def _read_xlsx(path: Path) -> _Parsed:
    import fastexcel
    import openpyxl

    from .safexlsx import WorkbookRefused, first_worksheet

    try:  # the first worksheet: chart sheets before it hold no rows (and fastexcel complains on stdout)
        name = first_worksheet(str(path))
    except WorkbookRefused:
        raise FileRejected("not a readable .xlsx workbook (corrupt or another format)") from None
    if name is None:
        raise FileRejected("workbook has no worksheet (only chart sheets): no rows to read")
    try:
        reader = fastexcel.read_excel(str(path))
        sheet = reader.load_sheet(name, header_row=None, dtypes="string")
        frame = sheet.to_polars()
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            first_row, first_col, shown = _as_displayed(wb, name)
        finally:
            wb.close()
    except FileRejected:
        raise
    except Exception:  # fastexcel/openpyxl raise many types on corrupt workbooks
        raise FileRejected("not a readable .xlsx workbook (corrupt or another format)") from None
    if frame.height == 0:
        raise FileRejected("workbook's first sheet is empty: no header row")
    frame = _with_displayed(frame, shown, first_row, first_col)
    header = ["" if v is None else str(v) for v in frame.row(0)]
    frame = frame.rename({c: f"__c{i}" for i, c in enumerate(frame.columns)})
    midnight = r"^(\d{4}-\d{2}-\d{2}) 00:00:00$"
    frame = frame.with_columns(pl.all().str.replace(midnight, "${1}"))
    frame = frame.with_row_index(ROW, offset=first_row).with_columns(pl.col(ROW).cast(pl.Int64)).slice(1)
    blank = pl.all_horizontal(pl.exclude(ROW).is_null())
    blank_lines = frame.select(blank.sum()).item()
    frame = frame.filter(~blank)
    return _Parsed(header, frame, [], "xlsx", None, int(blank_lines))


# a number format that pads whole numbers with zeros, e.g. 000000 or "M"00000 (what Excel shows as
# 000123 for the number 123): optional literal text around zeros (#s before them change nothing)
_PADDING_FORMAT = re.compile(r'^(?P<pre>(?:"[^"]*"|\\.)*)#*(?P<zeros>0{2,})(?P<post>(?:"[^"]*"|\\.)*)$')


def _padding(fmt: str) -> tuple[str, int, str] | None:
    """(text before, digits, text after) of a zero-padding number format; None for any other format."""
    m = _PADDING_FORMAT.match(fmt.split(";", 1)[0]) if isinstance(fmt, str) else None
    if not m:
        return None

    def literal(part: str) -> str:
        return re.sub(r'"([^"]*)"|\\(.)', lambda g: g.group(1) if g.group(1) is not None else g.group(2),
                      part)

    return literal(m["pre"]), len(m["zeros"]), literal(m["post"])


def _as_displayed(wb, sheet_name: str) -> tuple[int, int, dict[tuple[int, int], str]]:
    """The first row and column holding a value in the first sheet (where fastexcel's table starts), and
    the text Excel shows for every whole number formatted with zero padding: a member id typed as 000123
    is stored as 123 with the format 000000, and must be read as 000123, what the user sees.

    Cells are visited one by one (openpyxl, about 5 µs a cell: 1.6 s for 20,000 rows of 16 columns) only
    when the workbook defines such a format at all; otherwise only up to the first row with a value."""
    ws = wb[sheet_name]
    custom = getattr(wb, "_number_formats", None)
    padded_formats = custom is None or any(_padding(f) for f in custom)
    first_row = first_col = None
    shown: dict[tuple[int, int], str] = {}
    for cells in ws.iter_rows():
        filled = [c for c in cells if c.value not in (None, "")]
        if not filled:
            continue
        if first_row is None:
            first_row = filled[0].row
            if not padded_formats:
                break
        first_col = min(first_col or filled[0].column, filled[0].column)
        for c in filled:
            value = c.value
            if type(value) in (int, float) and value >= 0 and float(value).is_integer():
                pad = _padding(c.number_format)
                if pad:
                    shown[(c.row, c.column)] = f"{pad[0]}{int(value):0{pad[1]}d}{pad[2]}"
    return first_row or 1, first_col or 1, shown


def _with_displayed(frame: pl.DataFrame, shown: dict[tuple[int, int], str], first_row: int,
                    first_col: int) -> pl.DataFrame:
    """fastexcel's text of each zero-padded number replaced by what Excel shows (see `_as_displayed`);
    fastexcel's table starts at the first row and column holding a value."""
    if not shown:
        return frame
    cells = pl.DataFrame([(r - first_row, c - first_col, text) for (r, c), text in shown.items()],
                         schema={"row": pl.Int64, "col": pl.Int64, "text": pl.String}, orient="row")
    cells = cells.filter(pl.col("row").is_between(0, frame.height - 1) & pl.col("col").is_between(
        0, frame.width - 1))
    columns = frame.get_columns()
    for (col,), part in cells.group_by("col"):
        columns[col] = columns[col].scatter(part.get_column("row"), part.get_column("text"))
    return pl.DataFrame(columns)


def _parquet_pieces(path: Path, chunk_bytes: int | None) -> Iterator[_Parsed]:
    """A Parquet file in slices of rows (whole when `chunk_bytes` is None): polars reads only the row
    groups a slice needs."""
    try:
        scan = pl.scan_parquet(path)
        header = list(scan.collect_schema().names())
        total = scan.select(pl.len()).collect().item()
    except Exception:
        raise FileRejected("not a readable .parquet file") from None
    step = total if chunk_bytes is None else max(1, chunk_bytes // 200)  # about 200 bytes a row in memory
    for start in range(0, max(total, 1), max(step, 1)):
        try:
            frame = scan.slice(start, step).collect() if chunk_bytes is not None else pl.read_parquet(path)
        except Exception:
            raise FileRejected("not a readable .parquet file") from None
        try:
            frame = frame.select(pl.all().cast(pl.String))
        except Exception:
            raise FileRejected("parquet file has columns that cannot be read as text (nested types)") from None
        frame = frame.rename({c: f"__c{i}" for i, c in enumerate(header)})
        frame = frame.with_row_index(ROW, offset=2 + start).with_columns(pl.col(ROW).cast(pl.Int64))
        yield _Parsed(header, frame, [], "parquet", None, 0, records=frame.height,
                      read_fraction=min((start + frame.height) / max(total, 1), 1.0))


# --- header mapping ----------------------------------------------------------------------------------


def _to_canonical(p: _Parsed, layout: Layout, mapping: dict[str, str]) -> RawTable:
    targets: dict[str, int] = {}
    unknown: list[str] = []
    for i, h in enumerate(p.header):
        canon = mapping.get(header_key(h)) or layout.canonical(h)
        if canon is None:
            unknown.append(h)
            continue
        if canon in targets:
            j = targets[canon]
            raise FileRejected(f"header columns {j + 1} ('{p.header[j]}') and {i + 1} ('{h}') both "
                               f"stand for '{canon}': remove one or fix the mapping", column=canon,
                               rows=p.body.height + len(p.structural))
        targets[canon] = i
    missing = [c for c in layout.required if c not in targets]
    if missing:
        raise FileRejected("missing required column" + ("s " if len(missing) > 1 else " ")
                           + ", ".join(f"'{c}'" for c in missing), column=missing[0],
                           rows=p.body.height + len(p.structural))
    cols = [pl.col(f"__c{targets[c]}").alias(c) if c in targets else pl.lit(None, pl.String).alias(c)
            for c in layout.names]
    frame = p.body.select(pl.col(ROW), *cols)
    structural = pl.DataFrame(
        {ROW: [r for r, _ in p.structural], "column": [None] * len(p.structural),
         "value": [None] * len(p.structural), "problem": [m for _, m in p.structural]},
        schema={ROW: pl.Int64, "column": pl.String, "value": pl.String, "problem": pl.String})
    rows_read = frame.height + structural.height
    if p.unused is not None:
        unknown = p.unused
    return RawTable(frame, rows_read, structural, p.encoding, p.delimiter, unknown, p.blank_lines, p.sha256,
                    p.slots, p.read_fraction)
