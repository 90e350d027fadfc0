"""Delimited text in record-aligned pieces, so that a file of any size is read in bounded memory.

A piece ends at a record boundary: for RFC-4180 quoting, a line feed preceded by an even number of quote
characters counted from the start of the file (an odd number means the line feed is inside a quoted
field). Every piece therefore starts outside quotes, and parsing the pieces one after another finds the
very records a parse of the whole file finds. A line feed never occurs inside a UTF-8 or single-byte
character, so a piece never splits a character either. A CR alone (not before a LF) outside quotes also
ends a record, as in a spreadsheet or a text editor: pieces are still cut at line feeds only, and a
piece's lone CRs become line feeds before it is parsed (:func:`lone_cr_as_lf`). Irregular quoting (a
stray quote inside an unquoted field) can make the parity lie; the reader notices it (the piece does
not parse cleanly, or no boundary turns up) and reads that file as one piece instead.

Files that are not UTF-8 (or single-byte text) on disk are first written as UTF-8 into the run's scratch
folder by an incremental decoder (UTF-16, UTF-32, classic Mac CR line ends), then cut like any other.
"""

from __future__ import annotations

import codecs
import io
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import FileRejected

# a piece may grow to this many times the chunk size while looking for a record boundary (a long quoted
# field); past that, the quoting is taken as irregular and the file is read whole
MAX_GROWTH = 8
COPY_BYTES = 1 << 24


class NoBoundary(Exception):
    """No record boundary within MAX_GROWTH chunk sizes: quoting the parity cannot follow."""


def last_boundary(data: bytes, opened: bool = False) -> int | None:
    """The end (exclusive) of the last complete record in `data`, which starts outside quotes (inside
    a quoted field when `opened`); None when `data` holds no record boundary."""
    quotes = data.count(b'"') + opened
    end = len(data)
    pos = data.rfind(b"\n")
    while pos >= 0:
        quotes -= data.count(b'"', pos + 1, end)  # quotes before this line feed
        if quotes % 2 == 0:
            return pos + 1
        end = pos + 1
        pos = data.rfind(b"\n", 0, pos)
    return None


def first_boundary(data: bytes) -> int | None:
    """The end (exclusive) of the first record of `data` (the header of a file): a line feed, or a CR
    alone, outside quotes."""
    quotes, start = 0, 0
    for match in RECORD_END.finditer(data):
        quotes += data.count(b'"', start, match.start())
        start = match.start()
        if quotes % 2 == 0:
            return match.end()
    return None


# a line end: LF, CRLF, or a CR alone (classic Mac, or a stray CR inside an unquoted cell)
RECORD_END = re.compile(rb"\r\n|\n|\r")
LONE_CR = re.compile(rb"\r(?!\n)")


def may_hold_lone_cr(data: bytes) -> bool:
    """Whether `data` may hold a CR not followed by a LF (cheap: a search for any CR first)."""
    return b"\r" in data and LONE_CR.search(data) is not None


def lone_cr_as_lf(data: bytes) -> bytes | None:
    """`data` (which starts outside quotes) with every CR alone outside quotes as a LF, or None when it
    holds none. A spreadsheet, a text editor and Python's csv module all end a row at such a CR; polars
    and the line pass split on LF only, so the CR becomes the LF they split on (same length: every
    offset stays). A CR inside a quoted field is text and stays."""
    if b"\r" not in data:
        return None
    out: bytearray | None = None
    quotes, start = 0, 0
    for match in LONE_CR.finditer(data):
        quotes += data.count(b'"', start, match.start())
        start = match.start()
        if quotes % 2 == 0:
            if out is None:
                out = bytearray(data)
            out[match.start()] = 0x0A
    return bytes(out) if out is not None else None


def header_record(piece: bytes) -> bytes:
    """The first record of a file's first piece (its header), ending in a LF even where a CR alone
    ends it (so that the record after it in a later piece is never taken for the LF of a CRLF)."""
    cut = first_boundary(piece)
    head = piece[:cut] if cut is not None else piece
    return head[:-1] + b"\n" if head.endswith(b"\r") else head


def record_pieces(fh: BinaryIO, chunk_bytes: int | None, repeat_header: bool = False) -> Iterator[bytes]:
    """The rest of `fh` in pieces of about `chunk_bytes`, each ending at a record boundary (the last at
    the end of the file). ``chunk_bytes=None``: the whole rest as one piece. With `repeat_header`, every
    piece after the first starts with the first one's :func:`header_record`, joined in the one copy
    that makes the piece (a piece is copied once from what was read). Raises NoBoundary."""
    for piece, _ in pieces_with_end(fh, chunk_bytes, repeat_header):
        yield piece


def pieces_with_end(fh: BinaryIO, chunk_bytes: int | None, repeat_header: bool = False
                    ) -> Iterator[tuple[bytes, bool]]:
    """:func:`record_pieces` as (piece, whether it looks like the last one: see :func:`_at_end`). The
    reader needs to know a piece is the last before it hands the piece on (its checksum is complete
    then); known from where the file stands, rather than by cutting the next piece first, the first
    piece is parsed one cut sooner. A piece not flagged may still be the last (nothing follows)."""
    if chunk_bytes is None:
        yield fh.read(), True
        return
    carry, head, first = b"", b"", True
    while True:
        block = fh.read(chunk_bytes)
        if not block:
            if carry:
                yield head + carry, True
            return
        cut = last_boundary(block, opened=carry.count(b'"') % 2 == 1)  # the carry holds no boundary
        if cut is None:
            carry += block
            if len(carry) > MAX_GROWTH * chunk_bytes:
                raise NoBoundary()
            continue
        view = memoryview(block)
        piece = block if not (head or carry) and cut == len(block) else b"".join((head, carry, view[:cut]))
        carry = bytes(view[cut:])
        del view, block  # not held while the piece is parsed: the piece is a copy
        if first and repeat_header:
            head = header_record(piece)
        first = False
        yield piece, not carry and _at_end(fh)


def _at_end(fh: BinaryIO) -> bool:
    """Nothing is left to read in `fh`, as far as can be told without reading: a regular file's size, a
    buffer's length; False for anything else (the caller reads on to find the end). Only a hint: the
    reader confirms it by reading once more (a file still growing, a size the file system reports late)."""
    if isinstance(fh, io.BytesIO):
        return fh.tell() >= len(fh.getbuffer())
    try:
        status = os.fstat(fh.fileno())
        return stat.S_ISREG(status.st_mode) and fh.tell() >= status.st_size
    except (OSError, AttributeError, io.UnsupportedOperation):
        return False


# --- a UTF-8 view of a file --------------------------------------------------------------------------


def transcode(path: Path, encoding: str, target: Path) -> None:
    """Write `path` (text in `encoding`) to `target` as UTF-8, in bounded memory. A file cut inside its
    last character keeps what precedes it; any other undecodable byte rejects the file."""
    decoder = codecs.getincrementaldecoder(encoding)()
    with path.open("rb") as src, target.open("wb") as out:
        try:
            while block := src.read(COPY_BYTES):
                out.write(decoder.decode(block).encode("utf-8"))
        except UnicodeDecodeError:
            raise FileRejected(f"file looks like {encoding} text but cannot be decoded as such") from None
        pending, _ = decoder.getstate()
        if len(pending) > 3:  # more than a cut character left undecoded
            raise FileRejected(f"file looks like {encoding} text but cannot be decoded as such")


def lf_line_ends(path: Path, start: int, target: Path) -> None:
    """Write `path` from byte `start` to `target` with every CR and CRLF line end as LF (classic Mac
    files end lines with CR alone; the parser splits on LF only)."""
    with path.open("rb") as src, target.open("wb") as out:
        src.seek(start)
        held = b""
        while block := src.read(COPY_BYTES):
            data = held + block
            held = b"\r" if data.endswith(b"\r") else b""  # its LF may start the next block
            if held:
                data = data[:-1]
            out.write(data.replace(b"\r\n", b"\n").replace(b"\r", b"\n"))
        out.write(held.replace(b"\r", b"\n"))


# a valid UTF-8 multi-byte sequence: its presence in a file that is not valid UTF-8 means mixed encodings
UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
CP1252_UNDEFINED = bytes([0x81, 0x8D, 0x8F, 0x90, 0x9D])
MIXED, CP1252, LATIN1 = "utf-8+windows-1252", "windows-1252", "latin-1"


def legacy_encoding(path: Path, start: int) -> str:
    """How a file that is not valid UTF-8 is decoded, decided over the whole file (as one decode of all
    its bytes would): UTF-8 with single Windows-1252 bytes when it holds any valid UTF-8 multi-byte
    sequence, else Windows-1252, else (a byte Windows-1252 leaves undefined) Latin-1."""
    undefined = False
    tail = b""
    with path.open("rb") as fh:
        fh.seek(start)
        while block := fh.read(COPY_BYTES):
            data = tail + block
            if UTF8_MULTIBYTE.search(data):
                return MIXED
            undefined = undefined or len(block.translate(None, CP1252_UNDEFINED)) != len(block)
            tail = data[-3:]
    return LATIN1 if undefined else CP1252


def legacy_to_utf8(data: bytes, encoding: str) -> bytes:
    """A piece of a legacy-encoded file as UTF-8 (pieces end after a line feed: decoding them one by one
    gives the text of the whole file)."""
    if encoding == MIXED:
        return data.decode("utf-8", errors="claims_audit_cp1252").encode("utf-8")
    return data.decode("cp1252" if encoding == CP1252 else "latin-1").encode("utf-8")

