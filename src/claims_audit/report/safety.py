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
# C0 controls except tab, LF, CR, made visible as Unicode control pictures (U+2400 block)
CONTROL_CHARS = [chr(c) for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)] + ["\x7f"]
CONTROL_PICTURES = [chr(0x2400 + ord(c)) if c != "\x7f" else "\u2421" for c in CONTROL_CHARS]
TRUNCATED = " … [truncated: {} characters in the source]"


def visible_controls(e: pl.Expr) -> pl.Expr:
    """Replace control characters with visible symbols (␀, ␇, ...) instead of losing them silently."""
    return e.str.replace_many(CONTROL_CHARS, CONTROL_PICTURES)


def truncate(e: pl.Expr, limit: int = EXCEL_CELL_MAX) -> pl.Expr:
    """Cut text longer than the cell limit, with a visible marker saying how long it was."""
    n = e.str.len_chars()
    marker = pl.format(TRUNCATED, n)
    keep = limit - marker.str.len_chars()
    return pl.when(n > limit).then(pl.concat_str([e.str.slice(0, keep), marker])).otherwise(e)


def clean_text_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text column: controls made visible, over-long text truncated."""
    cols = [c for c, t in frame.schema.items() if t == pl.String]
    return frame.with_columns([truncate(visible_controls(pl.col(c))).alias(c) for c in cols])


def formula_like(value: object) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_PREFIXES)


def neutralize(value: str) -> str:
    """OWASP CSV-injection guidance for text outputs other than xlsx: prefix a single quote."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def safe_sheet_title(name: str) -> str:
    bad = '[]:*?/\\'
    cleaned = "".join("_" if ch in bad else ch for ch in name).strip("'") or "Sheet"
    return cleaned[:SHEET_NAME_MAX]
