"""Reading an untrusted .xlsx workbook (a reviewed report) with hard limits on time and memory.

A workbook is a zip of XML parts, and every size in it can lie: the declared sheet dimension, the
compressed size of a part, the number of rows. openpyxl trusts them (a 41 KB file declaring
``A1:XFD1048576`` makes read-only mode pad 1,048,576 rows of 16,384 cells; an 800 MB shared-strings part
is loaded whole), so review import reads workbooks here instead:

- before anything is parsed, every part it will read is checked from the zip directory: at most
  :data:`MAX_PART_BYTES` uncompressed each, and a part over :data:`RATIO_CHECKED_FROM` bytes may expand at
  most :data:`MAX_RATIO` times its compressed size (a zip bomb expands hundreds of times; the reports
  claims-audit writes, and Excel's re-saves of them, about 5 to 20 times). The zip reader never returns
  more bytes than a part declares;
- sheets are parsed as a stream (one row in memory at a time); the declared dimension is never used;
  a sheet may have at most :data:`MAX_ROWS` rows and :data:`MAX_COLUMNS` columns (Excel's own limits),
  and row numbers and cell references beyond them are refused;
- shared strings are streamed too, and only the strings the caller asks for are kept.

Nothing here echoes cell contents in an error: a :class:`WorkbookRefused` reason names parts, sheets,
rows and limits only.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from xml.etree import ElementTree as ET

MAX_PART_BYTES = 1 << 30  # 1 GiB of XML for one sheet or the shared strings
MAX_META_BYTES = 16 << 20  # workbook.xml, relationships, styles, document properties (parsed whole)
MAX_CELLS = 40_000_000  # cells parsed in one workbook (a full report sheet has about 31 million)
MAX_RATIO = 100
RATIO_CHECKED_FROM = 16 << 20
MAX_ENTRIES = 10_000
MAX_ROWS = 1_048_576
MAX_COLUMNS = 16_384
MAX_SHEETS = 1_000

_REF = re.compile(r"([A-Z]{1,3})?([0-9]{1,7})?$")
_BUILTIN_DATE_FORMATS = {14, 15, 16, 17, 18, 19, 20, 21, 22, 45, 46, 47}
_EPOCH = dt.datetime(1899, 12, 30)
REL_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


class WorkbookRefused(Exception):
    """The file is not a workbook that can be read safely; `reason` says why (no cell contents)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Cell:
    """One cell as stored: its text (shared strings resolved by :meth:`Workbook.resolve`), or a marker.

    `kind`: ``text`` (value in `text`), ``shared`` (index in `text`, not resolved yet), ``error`` (an
    error value such as ``#N/A``), ``formula_without_value`` (a formula whose result was never computed
    and saved). `formula` is True when the value is a formula's saved (cached) result.
    """

    kind: str
    text: str | None
    formula: bool = False


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _column(ref: str | None, previous: int) -> int | None:
    """1-based column of a cell reference ("AC12"); the next column when the reference is absent."""
    if not ref:
        return previous + 1
    m = _REF.match(ref)
    if not m or not m.group(1):
        return None
    n = 0
    for ch in m.group(1):
        n = n * 26 + ord(ch) - 64
    return n


class Workbook:
    """An open untrusted workbook. Use as a context manager."""

    def __init__(self, path: str):
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
            raise WorkbookRefused("it cannot be opened as an Excel workbook (.xlsx): not a zip file") from None
        self._cells_read = 0
        self._found: dict[tuple, dict[int, str]] = {}
        try:
            infos = self._zip.infolist()
            if len(infos) > MAX_ENTRIES:
                raise WorkbookRefused(f"it holds {len(infos)} parts (at most {MAX_ENTRIES})")
            self._infos = {i.filename: i for i in infos}
            self._sheets = self._sheet_parts()
            self._date_styles = self._styles()
            self._shared = "xl/sharedStrings.xml" if "xl/sharedStrings.xml" in self._infos else None
        except BaseException:
            self._zip.close()
            raise

    def __enter__(self) -> Workbook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    # -- structure ----------------------------------------------------------------------------------

    def _check(self, part: str, limit: int | None = None) -> zipfile.ZipInfo:
        limit = MAX_PART_BYTES if limit is None else limit
        info = self._infos.get(part)
        if info is None:
            raise WorkbookRefused(f"it cannot be opened as an Excel workbook (.xlsx): part {part} is missing")
        if info.file_size > limit:
            raise WorkbookRefused(f"part {part} expands to {info.file_size:,} bytes (at most {limit:,})")
        if info.file_size > RATIO_CHECKED_FROM and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise WorkbookRefused(f"part {part} expands {info.file_size // max(info.compress_size, 1)} times "
                                  f"its compressed size ({info.file_size:,} bytes from "
                                  f"{info.compress_size:,}; at most {MAX_RATIO} times): a zip bomb, not a "
                                  "report")
        return info

    def _events(self, part: str, limit: int | None = None) -> Iterator[tuple[str, ET.Element]]:
        self._check(part, limit)
        try:
            with self._zip.open(part) as stream:
                yield from ET.iterparse(stream, events=("start", "end"))
        except ET.ParseError:
            raise WorkbookRefused(f"part {part} is not well-formed XML") from None
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
            raise WorkbookRefused(f"part {part} cannot be decompressed ({type(exc).__name__})") from None

    def _root(self, part: str) -> ET.Element:
        root = None
        for event, elem in self._events(part, MAX_META_BYTES):
            if event == "end":
                root = elem
        if root is None:
            raise WorkbookRefused(f"part {part} is empty")
        return root

    def _sheet_parts(self) -> dict[str, str]:
        """Sheet name -> worksheet part, in workbook order (chart sheets and others left out)."""
        book = self._root("xl/workbook.xml")
        rels = self._root("xl/_rels/workbook.xml.rels")
        targets = {}
        for r in rels:
            target = r.get("Target") or ""
            part = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
            targets[r.get("Id")] = (part, (r.get("Type") or "").rsplit("/", 1)[-1])
        sheets: dict[str, str] = {}
        for s in book.iter():
            if _local(s.tag) != "sheet":
                continue
            part, kind = targets.get(s.get(REL_ID), ("", ""))
            if kind == "worksheet":
                if part not in self._infos:
                    raise WorkbookRefused(f"it cannot be opened as an Excel workbook (.xlsx): part {part} "
                                          "is missing")
                sheets[s.get("name") or ""] = part
            if len(sheets) > MAX_SHEETS:
                raise WorkbookRefused(f"it has more than {MAX_SHEETS} sheets")
        return sheets

    def _styles(self) -> set[int]:
        """Cell style indices whose number format is a date (serial numbers there are dates)."""
        if "xl/styles.xml" not in self._infos:
            return set()
        from openpyxl.styles.numbers import is_date_format

        root = self._root("xl/styles.xml")
        custom = {}
        for e in root.iter():
            if _local(e.tag) == "numFmt":
                custom[int(e.get("numFmtId", "0"))] = e.get("formatCode", "")
        dates: set[int] = set()
        for e in root.iter():
            if _local(e.tag) == "cellXfs":
                for i, xf in enumerate(x for x in e if _local(x.tag) == "xf"):
                    fmt = int(xf.get("numFmtId", "0"))
                    if fmt in _BUILTIN_DATE_FORMATS or (fmt in custom and is_date_format(custom[fmt])):
                        dates.add(i)
        return dates

    @property
    def sheetnames(self) -> list[str]:
        return list(self._sheets)

    @property
    def modified_by(self) -> str | None:
        if "docProps/core.xml" not in self._infos:
            return None
        for e in self._root("docProps/core.xml").iter():  # who saved it last (recorded with the import)
            if _local(e.tag) == "lastModifiedBy":
                return e.text
        return None

    # -- cells ----------------------------------------------------------------------------------------

    def rows(self, sheet: str) -> Iterator[tuple[int, dict[int, Cell]]]:
        """(row number, {column: Cell}) for every row the sheet stores, in order, one at a time."""
        part = self._sheets[sheet]
        rows_seen, row_number = 0, 0
        cells: dict[int, Cell] = {}
        column = 0
        sheet_data = None
        for event, elem in self._events(part):
            tag = _local(elem.tag)
            if event == "start":
                if tag == "sheetData":
                    sheet_data = elem
                continue
            if tag == "c":
                self._cells_read += 1
                if self._cells_read > MAX_CELLS:
                    raise WorkbookRefused(f"it holds more than {MAX_CELLS:,} cells")
                column = _column(elem.get("r"), column) or 0
                if not 1 <= column <= MAX_COLUMNS or len(cells) >= MAX_COLUMNS:
                    raise WorkbookRefused(f"sheet '{sheet}' row {row_number} has a cell beyond column "
                                          f"{MAX_COLUMNS} (Excel's last column)")
                cell = self._cell(elem)
                if cell is not None:
                    cells[column] = cell
                elem.clear()
            elif tag == "row":
                rows_seen += 1
                given = elem.get("r")
                row_number = int(given) if given and given.isdigit() else row_number + 1
                if rows_seen > MAX_ROWS or row_number > MAX_ROWS:
                    raise WorkbookRefused(f"sheet '{sheet}' has more than {MAX_ROWS:,} rows (Excel's limit)")
                yield row_number, cells
                cells, column = {}, 0
                if sheet_data is not None:
                    sheet_data.clear()  # parsed rows are not kept

    def _cell(self, elem: ET.Element) -> Cell | None:
        kind = elem.get("t") or "n"
        value, formula, inline = None, False, None
        for child in elem:
            name = _local(child.tag)
            if name == "v":
                value = child.text
            elif name == "f":
                formula = True
            elif name == "is":
                inline = "".join(t.text or "" for t in child.iter() if _local(t.tag) == "t"
                                 and not _in_phonetic(child, t))
        if kind == "inlineStr":
            return Cell("text", inline, formula) if inline is not None else None
        if value is None:
            return Cell("formula_without_value", None, True) if formula else None
        if kind == "s":
            if not value.strip().isdigit():
                raise WorkbookRefused("a shared-string cell holds no string number")
            return Cell("shared", value.strip(), formula)
        if kind == "e":
            return Cell("error", value, formula)
        if kind == "b":
            return Cell("text", "True" if value.strip() in ("1", "true") else "False", formula)
        if kind in ("str", "d"):
            return Cell("text", value, formula)
        return Cell("text", self._number(value, elem.get("s")), formula)

    def _number(self, value: str, style: str | None) -> str:
        try:
            number = float(value)
        except ValueError:
            return value
        if style and style.isdigit() and int(style) in self._date_styles and 0 <= number < 2958466:
            moment = _EPOCH + dt.timedelta(days=number)
            return moment.date().isoformat() if moment.time() == dt.time() else moment.isoformat(" ")
        if number.is_integer() and abs(number) < 1e15:
            return str(int(number))
        return value

    def _shared_strings(self) -> Iterator[tuple[int, str]]:
        index, root = -1, None
        for event, elem in self._events(self._shared or ""):
            if event == "start":
                root = elem if root is None else root
                continue
            if _local(elem.tag) != "si":
                continue
            index += 1
            yield index, "".join(t.text or "" for t in elem.iter() if _local(t.tag) == "t"
                                 and not _in_phonetic(elem, t))
            if root is not None:
                root.clear()  # parsed strings are not kept

    def find_strings(self, names: frozenset[str], normalise: Callable[[str], str]) -> dict[int, str]:
        """Shared-string index -> name, for the strings that normalise to one of `names` (one pass)."""
        if not self._shared:
            return {}
        key = (names, normalise)
        if key not in self._found:
            self._found[key] = {i: n for i, text in self._shared_strings() if (n := normalise(text)) in names}
        return self._found[key]

    def resolve(self, cells: Iterable[Cell]) -> dict[int, str]:
        """The shared strings these cells refer to (index -> text); only those are kept in memory."""
        wanted = {int(c.text) for c in cells if c.kind == "shared" and c.text is not None}
        if not wanted or not self._shared:
            return {}
        found: dict[int, str] = {}
        for index, text in self._shared_strings():
            if index in wanted:
                found[index] = text
                if len(found) == len(wanted):
                    break
        return found


def _in_phonetic(root: ET.Element, target: ET.Element) -> bool:
    """Whether `target` sits in a phonetic run (rPh: reading aids that are not part of the text)."""
    for rph in root:
        if _local(rph.tag) == "rPh" and any(t is target for t in rph.iter()):
            return True
    return False


def first_worksheet(path: str) -> str | None:
    """The name of the first worksheet (chart sheets and dialog sheets are not tables), or None."""
    with Workbook(path) as book:
        return book.sheetnames[0] if book.sheetnames else None
