"""The declared extract layout: loading it, matching headers to it, and checking cells against it.

The layout lives in ``schemas/claims-extract-v1.yaml`` (shipped inside the package too). It is turned into
a pandera polars schema at run time. Every column arrives as text; :func:`normalize` trims it, the pandera
schema checks it, and :func:`cast` converts the rows that passed to their real types.
"""

from __future__ import annotations

import functools
import operator
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from . import configfile
from .errors import ConfigError
from .shipped import schemas_dir

if TYPE_CHECKING:
    import pandera.polars as pa

DEFAULT_SCHEMA = "claims-extract-v1.yaml"
TYPES = {"text", "integer", "date", "decimal", "code"}
NORMALIZERS = {"strip", "upper", "remove_dots"}
CHECKS = {"npi_luhn"}
# Forms that spreadsheets and warehouses write, a column may accept (`accept:` in the layout). Each is
# applied after trimming; each changes nothing in a cell without its mark (the character it acts on), which
# lets `validation` skip it for cells in normal form.
ACCEPT: dict[str, dict[str, Any]] = {
    "currency_sign": {"types": {"decimal", "integer"}, "mark": "$",
                      "text": "a leading $ ($1,234.50)"},
    "thousands_separator": {"types": {"decimal", "integer"}, "mark": ",",
                            "text": "thousands separators (1,234.5)"},
    "accounting_negative": {"types": {"decimal", "integer"}, "mark": "(",
                            "text": "accounting negatives, (12.00) read as -12"},
    "zero_time": {"types": {"date"}, "mark": ":",
                  "text": "a zero time part (2026-11-02 00:00:00, 2026-11-02T00:00:00, 11/2/2026 0:00)"},
}
# Damage a spreadsheet does to ids and codes it took for numbers (`spreadsheet_damage:` in the layout).
SCIENTIFIC = r"^[+-]?\d+(\.\d+)?[eE][+-]\d+$"  # how Excel writes a long number it shows in a narrow cell
DAMAGE = {"scientific_notation", "lost_leading_zeros"}


def header_key(name: str) -> str:
    """Header matching ignores case, surrounding spaces and -/_/space differences."""
    return re.sub(r"[\s_\-]+", "", name.strip().lower())


@dataclass(frozen=True)
class ColumnSpec:
    """One canonical column of the layout."""

    name: str
    type: str
    required: bool = False
    normalize: tuple[str, ...] = ()
    pattern: str | None = None
    min: float | None = None
    formats: tuple[str, ...] = ()
    check: str | None = None
    problem: str = ""
    phi: bool = False
    description: str = ""
    accept: tuple[str, ...] = ()
    scientific_notation: bool = False  # reject 2.61121E+11 as damage a spreadsheet did
    lost_leading_zeros: int | None = None  # an all-digit value shorter than this lost its leading zeros

    @property
    def accept_marks(self) -> list[str]:
        """The characters without which the `accept` steps leave a trimmed cell as it is."""
        return [ACCEPT[a]["mark"] for a in self.accept]

    @property
    def rules_text(self) -> str:
        """A short human description of the rules, for ``claims-audit schema``."""
        parts = []
        if self.required:
            parts.append("required, non-empty")
        if self.pattern:
            parts.append(f"matches {self.pattern}")
        if self.min is not None:
            parts.append(f">= {self.min:g}")
        if self.formats:
            parts.append("formats " + " or ".join(self.formats))
        if self.check:
            parts.append(f"check {self.check}")
        if self.accept:
            parts.append("accepts " + ", ".join(ACCEPT[a]["text"] for a in self.accept))
        if self.scientific_notation or self.lost_leading_zeros:
            parts.append("named as spreadsheet damage: " + ", ".join(
                (["scientific notation"] if self.scientific_notation else [])
                + ([f"fewer than {self.lost_leading_zeros} digits"] if self.lost_leading_zeros else [])))
        if self.normalize:
            parts.append("normalized: " + ", ".join(self.normalize))
        return "; ".join(parts) or "free text"


@dataclass
class Layout:
    """A loaded extract layout."""

    name: str
    version: int
    columns: list[ColumnSpec]
    source: str
    _by_key: dict[str, str] = field(default_factory=dict, repr=False)
    preset: Any = None  # presets.Preset when the layout is a shipped or custom layout preset (--layout)

    def __post_init__(self) -> None:
        self._by_key = {header_key(c.name): c.name for c in self.columns}

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def canonical(self, header: str) -> str | None:
        """The canonical column a file header stands for, or None for an unknown column."""
        return self._by_key.get(header_key(header))

    def spec(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)

    @cached_property
    def pandera_schema(self) -> pa.DataFrameSchema:
        return build_pandera_schema(self)


def _expand(entry: dict[str, Any]) -> list[dict[str, Any]]:
    if "repeat" not in entry:
        return [entry]
    first, last = entry["repeat"]
    out = []
    for n in range(int(first), int(last) + 1):
        e = {k: v for k, v in entry.items() if k != "repeat"}
        e["name"] = entry["name"].replace("{n}", str(n))
        e["description"] = str(entry.get("description", "")).replace("{n}", str(n))
        out.append(e)
    return out


def load_layout(path: str | Path | None = None) -> Layout:
    """Load a layout file; with no path, the shipped default. Raises ConfigError on any defect."""
    p = Path(path) if path else schemas_dir() / DEFAULT_SCHEMA
    doc = configfile.load(p, "schema file")
    if isinstance(doc, dict) and "preset" in doc:
        return _load_preset(p, doc)
    if not isinstance(doc, dict) or not isinstance(doc.get("columns"), list):
        raise ConfigError(f"schema file {p} must be a mapping with a 'columns' list")
    specs: list[ColumnSpec] = []
    for raw in doc["columns"]:
        if not isinstance(raw, dict) or "name" not in raw or "type" not in raw:
            raise ConfigError(f"schema file {p}: every column needs a name and a type")
        for e in _expand(raw):
            specs.append(_spec(e, p))
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ConfigError(f"schema file {p}: duplicate column names")
    return Layout(str(doc.get("name", p.stem)), int(doc.get("version", 1)), specs, str(p))


def _load_preset(p: Path, doc: dict[str, Any]) -> Layout:
    """A layout preset: the layout it extends, with its column changes, carrying the preset itself (its
    mapping and reshaping, applied by the readers)."""
    from . import presets

    preset, changes, base_name = presets.load(p, doc)
    base_path = p.parent / base_name if (p.parent / base_name).is_file() else schemas_dir() / base_name
    base = load_layout(base_path)
    if base.preset is not None:
        raise ConfigError(f"layout preset {p}: it must extend a layout, not another preset")
    specs = presets.apply_columns(base.columns, changes, f"layout preset {p}")
    for s in specs:
        if s.type == "date" and not s.formats:
            raise ConfigError(f"layout preset {p}: date column {s.name} needs at least one format")
    return Layout(preset.name, preset.version, specs, str(p), preset=preset)


def _spec(e: dict[str, Any], p: Path) -> ColumnSpec:
    if e["type"] not in TYPES:
        raise ConfigError(f"schema file {p}: column {e['name']} has unknown type {e['type']!r}")
    norm = tuple(e.get("normalize", ()))
    if set(norm) - NORMALIZERS:
        raise ConfigError(f"schema file {p}: column {e['name']} has unknown normalize step")
    if e.get("check") and e["check"] not in CHECKS:
        raise ConfigError(f"schema file {p}: column {e['name']} has unknown check {e['check']!r}")
    if e.get("pattern"):
        try:
            re.compile(e["pattern"])
        except re.error:
            raise ConfigError(f"schema file {p}: column {e['name']} has an invalid pattern") from None
    accept = _accept(e, p)
    scientific, zeros = _damage(e, p)
    return ColumnSpec(
        name=str(e["name"]),
        type=e["type"],
        required=bool(e.get("required", False)),
        normalize=norm,
        pattern=e.get("pattern"),
        min=float(e["min"]) if e.get("min") is not None else None,
        formats=tuple(e.get("formats", ())),
        check=e.get("check"),
        problem=str(e.get("problem") or f"{e['name']} is not valid"),
        phi=bool(e.get("phi", False)),
        description=str(e.get("description", "")),
        accept=accept,
        scientific_notation=scientific,
        lost_leading_zeros=zeros,
    )


def _accept(e: dict[str, Any], p: Path) -> tuple[str, ...]:
    accept = e.get("accept", ())
    if not isinstance(accept, list | tuple) or not all(isinstance(a, str) for a in accept):
        raise ConfigError(f"schema file {p}: column {e['name']}: 'accept' must be a list of names")
    for a in accept:
        if a not in ACCEPT:
            raise ConfigError(f"schema file {p}: column {e['name']} accepts an unknown form {a!r} "
                              f"(known: {', '.join(ACCEPT)})")
        if e["type"] not in ACCEPT[a]["types"]:
            raise ConfigError(f"schema file {p}: column {e['name']} of type {e['type']} cannot accept {a!r}")
    return tuple(accept)


def _damage(e: dict[str, Any], p: Path) -> tuple[bool, int | None]:
    damage = e.get("spreadsheet_damage") or {}
    if not isinstance(damage, dict) or set(damage) - DAMAGE:
        raise ConfigError(f"schema file {p}: column {e['name']}: 'spreadsheet_damage' takes "
                          f"{' and '.join(sorted(DAMAGE))}")
    scientific = damage.get("scientific_notation", False)
    zeros = damage.get("lost_leading_zeros")
    if not isinstance(scientific, bool) or not (zeros is None or (type(zeros) is int and zeros > 1)):
        raise ConfigError(f"schema file {p}: column {e['name']}: scientific_notation is true or false, "
                          "lost_leading_zeros the number of digits a full code has")
    return scientific, zeros


def load_mapping(path: str | Path | None) -> dict[str, str]:
    """Load a --mapping file (YAML or TOML): {warehouse header -> canonical column}."""
    if path is None:
        return {}
    p = Path(path)
    doc = configfile.load(p, "mapping file", toml=True)
    cols = doc.get("columns") if isinstance(doc, dict) else None
    if not isinstance(cols, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in cols.items()):
        raise ConfigError(f"mapping file {p} must have a 'columns' table of header: canonical_name")
    return {header_key(k): v for k, v in cols.items()}


def validate_mapping(mapping: dict[str, str], layout: Layout) -> None:
    unknown = sorted({v for v in mapping.values() if v not in layout.names})
    if unknown:
        raise ConfigError("mapping names columns the schema does not have: " + ", ".join(unknown))


# --- cell-level checking ---------------------------------------------------------------------------


def normalize(spec: ColumnSpec) -> pl.Expr:
    """Text clean-up before checking; an empty result becomes null (a missing value)."""
    e = pl.col(spec.name)
    if "strip" in spec.normalize:
        e = e.str.strip_chars()
    if "upper" in spec.normalize:
        e = e.str.to_uppercase()
    if "remove_dots" in spec.normalize:
        e = e.str.replace_all(".", "", literal=True)
    e = accepted_forms(e, spec.accept)
    return pl.when(e.str.len_bytes() == 0).then(None).otherwise(e).alias(spec.name)


THOUSANDS = r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$"  # 1,234 and 12,345.5 are unambiguous; 1,5 is not
ZERO_TIME = r"(?i)[ T](0?0:00(:00(\.0+)?)?|12:00(:00)? ?AM)$"


def accepted_forms(e: pl.Expr, accept: tuple[str, ...]) -> pl.Expr:
    """The `accept` steps, in a fixed order, over trimmed text: `$(1,234.50)` -> `(1,234.50)` ->
    `-1,234.50` -> `-1234.50`. A cell without a step's mark is left as it is by that step."""
    if "currency_sign" in accept:  # $12, -$12, $-12, ($12), $(12), $ 12
        e = e.str.replace(r"^([+-]?\(?)\s*\$\s*", "${1}")
    if "accounting_negative" in accept:
        e = e.str.replace(r"^\(\s*([^()]*?)\s*\)$", "-${1}")
    if "thousands_separator" in accept:
        e = pl.when(e.str.contains(THOUSANDS)).then(e.str.replace_all(",", "", literal=True)).otherwise(e)
    if "zero_time" in accept:
        e = e.str.replace(ZERO_TIME, "")
    return e


def _format_regex(fmt: str) -> str | None:
    """A regular expression a date must match to be read with `fmt`, so that the lenient parser cannot
    read 2026112 as 2026-11-02 with %Y%m%d or 11/02/26 as the year 26 with %m/%d/%Y. None when `fmt`
    uses a directive not known here (the parser alone decides then)."""
    tokens = re.findall(r"%.|[^%]+", fmt)
    widths = {"%Y": (4, 4), "%m": (1, 2), "%d": (1, 2), "%y": (2, 2), "%H": (1, 2), "%M": (2, 2),
              "%S": (2, 2)}
    out = []
    for i, tok in enumerate(tokens):
        if not tok.startswith("%"):
            out.append(re.escape(tok))
            continue
        if tok in ("%b", "%B"):  # month names: Nov, November
            out.append("[A-Za-z]{3}" if tok == "%b" else "[A-Za-z]{3,9}")
            continue
        if tok not in widths:
            return None
        low, high = widths[tok]
        glued = any(0 <= j < len(tokens) and tokens[j].startswith("%") for j in (i - 1, i + 1))
        out.append(rf"\d{{{high}}}" if glued or low == high else rf"\d{{{low},{high}}}")
    return "^" + "".join(out) + "$"


def parse_date(spec: ColumnSpec, e: pl.Expr | None = None) -> pl.Expr:
    e = pl.col(spec.name) if e is None else e
    parsed = []
    for f in spec.formats:
        shape = _format_regex(f)
        value = e.str.to_date(f, strict=False)
        parsed.append(value if shape is None else pl.when(e.str.contains(shape)).then(value))
    return pl.coalesce(parsed)


def damaged(spec: ColumnSpec) -> pl.Expr | None:
    """True where a (normalized) cell shows damage a spreadsheet does; None when the column names none."""
    c = pl.col(spec.name)
    parts = []
    if spec.scientific_notation:
        parts.append(c.str.contains(SCIENTIFIC))
    if spec.lost_leading_zeros:
        parts.append(c.str.contains(r"^\d+$") & (c.str.len_bytes() < spec.lost_leading_zeros))
    return functools.reduce(operator.or_, parts) if parts else None


def damage_problem(spec: ColumnSpec) -> pl.Expr:
    """The reason for a damaged cell (null for any other): that a spreadsheet probably changed it."""
    c = pl.col(spec.name)
    out = pl.lit(None, pl.String)
    if spec.lost_leading_zeros:
        width = spec.lost_leading_zeros
        short = c.str.contains(r"^\d+$") & (c.str.len_bytes() < width)
        example = "100" if width > 3 else "2"  # 00100 saved as 100, 02 saved as 2
        out = pl.when(short).then(pl.lit(
            f"{spec.name} has fewer than {width} digits: a spreadsheet probably removed its leading zeros "
            f"({example.zfill(width)} saved as {example}); format the column as text and export it again"
        )).otherwise(out)
    if spec.scientific_notation:
        out = pl.when(c.str.contains(SCIENTIFIC)).then(pl.lit(
            f"{spec.name} is in scientific notation: a spreadsheet probably changed it (a long number shown "
            f"as 2.61121E+11 has lost its digits); export the column as text from the source system"
        )).otherwise(out)
    return out


def npi_valid(e: pl.Expr) -> pl.Expr:
    """NPI check digit: Luhn over the prefix 80840 and the first nine digits (CMS NPI standard)."""
    d = [e.str.slice(i, 1).cast(pl.Int32, strict=False) for i in range(10)]
    total = pl.lit(24)  # Luhn contribution of the constant prefix 80840
    for i in range(9):
        if i % 2 == 0:  # positions doubled: the 1st, 3rd, ... of the nine (rightmost-first parity)
            doubled = d[i] * 2
            total = total + pl.when(doubled > 9).then(doubled - 9).otherwise(doubled)
        else:
            total = total + d[i]
    return ((10 - total % 10) % 10) == d[9]


def value_ok(spec: ColumnSpec) -> pl.Expr:
    """True where a present value passes every rule of its column (nulls are judged elsewhere)."""
    c = pl.col(spec.name)
    ok = pl.lit(True)
    if spec.pattern:
        ok = ok & c.str.contains(spec.pattern)
    if spec.type == "date":
        ok = ok & parse_date(spec).is_not_null()
    if spec.type == "integer":
        num = c.str.strip_prefix("+").cast(pl.Int64, strict=False)
        ok = ok & num.is_not_null()
        if spec.min is not None:
            ok = ok & (num >= spec.min)
    if spec.type == "decimal":
        num = c.str.strip_prefix("+").cast(pl.Float64, strict=False)
        ok = ok & num.is_not_null() & num.is_finite()
        if spec.min is not None:
            ok = ok & (num >= spec.min)
    if spec.check == "npi_luhn":
        ok = ok & npi_valid(c)
    damage = damaged(spec)
    if damage is not None:
        ok = ok & ~damage
    return c.is_null() | ok.fill_null(False)


def build_pandera_schema(layout: Layout) -> pa.DataFrameSchema:
    """The pandera polars schema over the normalized text frame (pandera is imported only here: a clean
    extract never needs it, see `validation`)."""
    import pandera.polars as pa

    def make_check(spec: ColumnSpec) -> pa.Check:
        def check(data: Any) -> pl.LazyFrame:
            return data.lazyframe.select(value_ok(spec))

        return pa.Check(check, error=spec.problem, name=spec.name)

    columns = {
        s.name: pa.Column(pl.String, checks=[make_check(s)], nullable=not s.required, required=False)
        for s in layout.columns
    }
    return pa.DataFrameSchema(columns, strict=False, name=layout.name)


def cast(spec: ColumnSpec) -> pl.Expr:
    """The typed value of a column whose cells already passed the checks."""
    c = pl.col(spec.name)
    if spec.type == "integer":
        return c.str.strip_prefix("+").cast(pl.Int64, strict=False).alias(spec.name)
    if spec.type == "decimal":
        return c.str.strip_prefix("+").cast(pl.Float64, strict=False).alias(spec.name)
    if spec.type == "date":
        return parse_date(spec).alias(spec.name)
    return c
