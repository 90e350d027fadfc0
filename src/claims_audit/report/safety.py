"""Making untrusted claim text safe to put in a spreadsheet or a JSON file.

Spreadsheets are an attack surface: a cell starting with = + - @ (or tab / CR) may be evaluated as a
formula; control characters make openpyxl raise and would kill a write-only sheet; Excel cells hold at most
32,767 characters. These helpers are vectorised polars expressions applied to whole text columns.
"""

from __future__ import annotations

import polars as pl

EXCEL_CELL_MAX = 32_767
EXCEL_ROWS_MAX = 1_048_576
SHEET_NAME_MAX = 31
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# C0 controls except tab, LF, CR, made visible as Unicode control pictures (U+2400 block); the two
# non-characters XML 1.0 forbids (U+FFFE, U+FFFF: a workbook holding them does not open) become U+FFFD
CONTROL_CHARS = [chr(c) for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)] + ["\x7f"]
CONTROL_PICTURES = [chr(0x2400 + ord(c)) if c != "\x7f" else "\u2421" for c in CONTROL_CHARS]
NON_CHARACTERS = ["\ufffe", "\uffff"]
TRUNCATED = " … [truncated: {} characters in the source]"
# text openpyxl would store as an error cell instead of as the text it is
ERROR_LITERALS = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"})
RESERVED_SHEET_NAMES = {"history"}  # Excel refuses a sheet called History


def visible_controls(e: pl.Expr) -> pl.Expr:
    """Replace control characters with visible symbols (␀, ␇, ...) instead of losing them silently."""
    return e.str.replace_many(CONTROL_CHARS + NON_CHARACTERS,
                              CONTROL_PICTURES + ["\ufffd"] * len(NON_CHARACTERS))


def truncate(e: pl.Expr, limit: int = EXCEL_CELL_MAX) -> pl.Expr:
    """Cut text longer than the cell limit, with a visible marker saying how long it was.

    Excel counts UTF-16 units: a character outside the Basic Multilingual Plane (an emoji) counts twice,
    so text holding such characters is cut at half the limit to stay safe.
    """
    n = e.str.len_chars()
    astral = e.str.count_matches(r"[\x{10000}-\x{10FFFF}]")
    marker = pl.format(TRUNCATED, n)
    room = limit - marker.str.len_chars()
    keep = pl.when(astral > 0).then(room // 2).otherwise(room)
    return pl.when(n + astral > limit).then(pl.concat_str([e.str.slice(0, keep), marker])).otherwise(e)


def clean_text_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text column: controls made visible, over-long text truncated."""
    cols = [c for c, t in frame.schema.items() if t == pl.String]
    return frame.with_columns([truncate(visible_controls(pl.col(c))).alias(c) for c in cols])


def formula_like(value: object) -> bool:
    """Text that must be written with an explicit text type: it starts like a formula (= + - @ tab CR)
    or it spells an error literal (#N/A...) that openpyxl would otherwise store as an error cell."""
    return isinstance(value, str) and (value.startswith(FORMULA_PREFIXES) or value in ERROR_LITERALS)


def neutralize(value: str) -> str:
    """OWASP CSV-injection guidance for text outputs other than xlsx: prefix a single quote."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def safe_sheet_title(name: str) -> str:
    """A valid sheet name: no []:*?/\\ or control characters, no leading/trailing quote, 1-31
    characters, not a name Excel reserves."""
    bad = '[]:*?/\\'
    cleaned = "".join("_" if ch in bad or ord(ch) < 0x20 else ch for ch in name)
    cleaned = cleaned[:SHEET_NAME_MAX].strip("'") or "Sheet"
    if cleaned.lower() in RESERVED_SHEET_NAMES:
        cleaned = cleaned + "_"
    return cleaned
