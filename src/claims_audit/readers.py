"""Finding input files and reading them as text tables with spreadsheet row numbers.

Every reader returns every column as text (never inferred types: codes like ``0001F`` and member ids like
``000123`` must survive), under canonical column names, with ``source_row`` set to the row a person sees
when opening the file in a spreadsheet (header = 1). Rows whose structure is broken (too many or too few
fields, an unterminated quote) are returned separately as structural rejects; a file that cannot be read at
all raises :class:`FileRejected` so the run can go on with the other files.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from .errors import FileRejected, NoInputError
from .schema import Layout, header_key

DELIMITED = {".csv", ".tsv", ".txt", ".psv"}
SUPPORTED = DELIMITED | {".parquet", ".xlsx"}
HEAD_BYTES = 1 << 16
ROW = "source_row"


@dataclass(frozen=True)
class InputFile:
    """One input to audit: a file found on the command line or inside a given folder."""

    path: Path
    display: str  # what the report calls it: the path as the user gave it (or folder/name)
    problem: str | None = None  # set when the input cannot even be opened (missing, unsupported...)


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


def discover(paths: list[str | Path]) -> list[InputFile]:
    """Expand files and folders (sorted by name) into inputs; raise NoInputError when none exists."""
    found: list[InputFile] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files = sorted((f for f in p.iterdir() if f.is_file() and f.suffix.lower() in SUPPORTED),
                           key=lambda f: f.name)
            found.extend(InputFile(f, str(p / f.name)) for f in files)
            if not files:
                found.append(InputFile(p, str(raw), problem="folder contains no supported files "
                                       "(.csv, .tsv, .txt, .psv, .parquet, .xlsx)"))
        elif p.exists():
            problem = None if p.suffix.lower() in SUPPORTED else (
                f"unsupported file type '{p.suffix or '(none)'}' (supported: .csv, .tsv, .txt, .psv, "
                ".parquet, .xlsx)")
            found.append(InputFile(p, str(raw), problem=problem))
        else:
            found.append(InputFile(p, str(raw), problem="path does not exist"))
    if not any(f.problem is None for f in found):
        reasons = "; ".join(f"{f.display}: {f.problem}" for f in found) or "no paths given"
        raise NoInputError(f"no input could be found ({reasons})")
    return found


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 24):
            h.update(chunk)
    return h.hexdigest()


def read(inp: InputFile, layout: Layout, mapping: dict[str, str] | None = None) -> RawTable:
    """Read one input as a text table. Raises FileRejected when the file as a whole is unusable."""
    suffix = inp.path.suffix.lower()
    try:
        if suffix in DELIMITED:
            table = _read_delimited(inp.path, suffix)
        elif suffix == ".xlsx":
            table = _read_xlsx(inp.path)
        else:
            table = _read_parquet(inp.path)
    except PermissionError:
        raise FileRejected("file cannot be read: permission denied") from None
    except IsADirectoryError:
        raise FileRejected("path is a folder, not a file") from None
    except OSError as exc:
        raise FileRejected(f"file cannot be read: {exc.strerror or type(exc).__name__}") from None
    return _to_canonical(table, layout, mapping or {})


# --- delimited text ----------------------------------------------------------------------------------


@dataclass
class _Parsed:
    header: list[str]
    body: pl.DataFrame  # positional columns __c0.. (String) + source_row
    structural: list[tuple[int, str]]
    encoding: str
    delimiter: str | None
    blank_lines: int


def _detect_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head:
        raise FileRejected("file is not text (binary content): not a delimited extract")
    return "utf-8"


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


def _read_delimited(path: Path, suffix: str) -> _Parsed:
    size = path.stat().st_size
    if size == 0:
        raise FileRejected("file is empty (0 bytes)")
    with path.open("rb") as fh:
        head = fh.read(HEAD_BYTES)
    encoding = _detect_encoding(head)
    source: Path | bytes = path
    if encoding == "utf-16":
        source = _transcode(path.read_bytes(), "utf-16")
    elif encoding == "utf-8-sig":
        source = path.read_bytes()[len(codecs.BOM_UTF8):]
    if isinstance(source, bytes) and b"\x00" in source[:HEAD_BYTES]:
        raise FileRejected("file is not text (binary content): not a delimited extract")
    head_text = _head_text(source if isinstance(source, bytes) else head)
    if not head_text.strip():
        raise FileRejected("file has no header row (only blank content)")
    first_line = head_text.splitlines()[0] if head_text else ""
    delimiter = _detect_delimiter(first_line, suffix)
    try:
        header = next(csv.reader(io.StringIO(head_text), delimiter=delimiter))
    except (csv.Error, StopIteration):
        raise FileRejected("header row cannot be parsed") from None
    try:
        return _parse_body(source, header, delimiter, encoding)
    except _NotUtf8:
        data = path.read_bytes() if isinstance(source, Path) else source
        text, enc = _decode_legacy(data)
        return _parse_body(text.encode("utf-8"), header, delimiter, enc)


class _NotUtf8(Exception):
    pass


def _transcode(data: bytes, encoding: str) -> bytes:
    try:
        return data.decode(encoding).encode("utf-8")
    except UnicodeDecodeError:
        raise FileRejected(f"file declares {encoding} (byte-order mark) but cannot be decoded") from None


def _decode_legacy(data: bytes) -> tuple[str, str]:
    """Windows-1252 is what spreadsheets on Windows write; Latin-1 decodes any byte sequence."""
    if b"\x00" in data:
        raise FileRejected("file is not text (binary content): not a delimited extract")
    try:
        return data.decode("cp1252"), "windows-1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _head_text(head: bytes) -> str:
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start > len(head) - 4:  # a multi-byte character cut by the 64 KiB head
            return head[: exc.start].decode("utf-8")
        text, _ = _decode_legacy(head)
        return text


def _parse_body(source: Path | bytes, header: list[str], delimiter: str, encoding: str) -> _Parsed:
    """Parse with polars; check every record's field count with a vectorised pass over raw lines."""
    width = len(header) + 1  # one spare column catches rows with too many fields
    names = [f"__c{i}" for i in range(width)]
    src = source if isinstance(source, Path) else io.BytesIO(source)
    try:
        body = pl.read_csv(src, has_header=False, separator=delimiter, quote_char='"',
                           schema={n: pl.String for n in names}, missing_columns="insert",
                           truncate_ragged_lines=True, infer_schema=False, raise_if_empty=False)
    except pl.exceptions.ComputeError as exc:
        if "utf-8" in str(exc).lower() or "utf8" in str(exc).lower():
            raise _NotUtf8() from None
        raise FileRejected("file cannot be parsed as delimited text") from None
    counts = _field_counts(source, delimiter)
    if counts is None or counts.height != body.height:
        return _parse_with_csv_module(source, header, delimiter, encoding)
    return _assemble(body, counts, header, delimiter, encoding)


def _field_counts(source: Path | bytes, delimiter: str) -> pl.DataFrame | None:
    """Per record: number of fields, whether it is blank, whether its quotes are unterminated.

    Physical lines are read as one text column; a running count of quote characters tells which lines
    continue a quoted field of the line before. Separators inside quoted segments are not counted.
    Returns None when the file's quoting is too irregular for this pass (the caller falls back).
    """
    src = source if isinstance(source, Path) else io.BytesIO(source)
    try:
        lines = pl.read_csv(src, has_header=False, separator="\x1f", quote_char=None,
                            schema={"l": pl.String}, truncate_ragged_lines=True, infer_schema=False,
                            raise_if_empty=False, empty_string_is_null=False)
    except pl.exceptions.ComputeError:
        return None
    if lines.height == 0:
        return lines.select(pl.lit(0).alias("fields"))
    q = pl.col("l").str.count_matches('"', literal=True)
    lines = lines.with_columns(q.alias("q")).with_columns(
        (pl.col("q").cum_sum() - pl.col("q")).mod(2).alias("open_before"))
    lines = lines.with_columns((pl.col("open_before") == 0).cum_sum().alias("rec"))
    simple = lines.group_by("rec", maintain_order=True).agg(
        pl.col("l").str.join("\n").alias("text"), pl.len().alias("n_lines"), pl.col("q").sum().alias("q"))
    sep = delimiter
    text = pl.col("text")
    stripped = pl.when(pl.col("q") > 0).then(
        text.str.replace_all(r'"(?:[^"]|"")*"', "")).otherwise(text)
    out = simple.select(
        (stripped.str.count_matches(sep, literal=True) + 1).alias("fields"),
        (text.str.strip_chars("\r") == "").alias("blank"),
        (pl.col("q") % 2 == 1).alias("unterminated"),
    )
    # "\x1f" inside the data would have cut a line short: let the careful parser handle that file
    if lines.select(pl.col("l").str.contains("\x1f", literal=True).any()).item():
        return None
    return out


def _parse_with_csv_module(source: Path | bytes, header: list[str], delimiter: str,
                           encoding: str) -> _Parsed:
    """Exact record splitting with Python's csv module, for files the fast pass cannot map."""
    data = source.read_bytes() if isinstance(source, Path) else source
    text = data.decode("utf-8", errors="replace")
    rows: list[list[str]] = []
    counts: list[int] = []
    blank: list[bool] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    try:
        for rec in reader:
            blank.append(len(rec) == 0)
            counts.append(len(rec) if rec else 1)
            rows.append(rec)
    except csv.Error:
        raise FileRejected("file cannot be parsed as delimited text") from None
    width = len(header) + 1
    cols = {f"__c{i}": [r[i] if i < len(r) and r[i] != "" else None for r in rows] for i in range(width)}
    body = pl.DataFrame(cols, schema={f"__c{i}": pl.String for i in range(width)})
    info = pl.DataFrame({"fields": counts, "blank": blank, "unterminated": [False] * len(rows)},
                        schema={"fields": pl.Int64, "blank": pl.Boolean, "unterminated": pl.Boolean})
    return _assemble(body, info, header, delimiter, encoding)


def _assemble(body: pl.DataFrame, info: pl.DataFrame, header: list[str], delimiter: str,
              encoding: str) -> _Parsed:
    n = len(header)
    body = pl.concat([body, info], how="horizontal").with_row_index(ROW, offset=1)
    body = body.with_columns(pl.col(ROW).cast(pl.Int64)).slice(1)  # drop the header record
    blank_lines = body.select(pl.col("blank").sum()).item() or 0
    body = body.filter(~pl.col("blank"))
    bad = body.filter(pl.col("unterminated") | (pl.col("fields") != n))
    structural = [
        (row, "quoted field is not terminated (file may be cut off)" if unterminated else
         f"row has {fields} fields, the header has {n}")
        for row, fields, unterminated in bad.select(ROW, "fields", "unterminated").iter_rows()
    ]
    body = body.filter(~(pl.col("unterminated") | (pl.col("fields") != n)))
    body = body.select(ROW, *[f"__c{i}" for i in range(n)])
    return _Parsed(header, body, structural, encoding, delimiter, int(blank_lines))


# --- xlsx and parquet --------------------------------------------------------------------------------


def _read_xlsx(path: Path) -> _Parsed:
    import fastexcel
    import openpyxl

    try:
        reader = fastexcel.read_excel(str(path))
        sheet = reader.load_sheet(0, header_row=None, dtypes="string")
        frame = sheet.to_polars()
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            first_row = next((cells[0].row for cells in wb.worksheets[0].iter_rows()
                              if any(c.value not in (None, "") for c in cells)), 1)
        finally:
            wb.close()
    except FileRejected:
        raise
    except Exception:  # fastexcel/openpyxl raise many types on corrupt workbooks
        raise FileRejected("not a readable .xlsx workbook (corrupt or another format)") from None
    if frame.height == 0:
        raise FileRejected("workbook's first sheet is empty: no header row")
    header = ["" if v is None else str(v) for v in frame.row(0)]
    frame = frame.rename({c: f"__c{i}" for i, c in enumerate(frame.columns)})
    midnight = r"^(\d{4}-\d{2}-\d{2}) 00:00:00$"
    frame = frame.with_columns(pl.all().str.replace(midnight, "${1}"))
    frame = frame.with_row_index(ROW, offset=first_row).with_columns(pl.col(ROW).cast(pl.Int64)).slice(1)
    blank = pl.all_horizontal(pl.exclude(ROW).is_null())
    blank_lines = frame.select(blank.sum()).item()
    frame = frame.filter(~blank)
    return _Parsed(header, frame, [], "xlsx", None, int(blank_lines))


def _read_parquet(path: Path) -> _Parsed:
    try:
        frame = pl.read_parquet(path)
    except Exception:
        raise FileRejected("not a readable .parquet file") from None
    try:
        frame = frame.select(pl.all().cast(pl.String))
    except Exception:
        raise FileRejected("parquet file has columns that cannot be read as text (nested types)") from None
    header = list(frame.columns)
    frame = frame.rename({c: f"__c{i}" for i, c in enumerate(header)})
    frame = frame.with_row_index(ROW, offset=2).with_columns(pl.col(ROW).cast(pl.Int64))
    return _Parsed(header, frame, [], "parquet", None, 0)


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
    return RawTable(frame, rows_read, structural, p.encoding, p.delimiter, unknown, p.blank_lines)
