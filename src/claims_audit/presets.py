"""Shipped layout presets: other people's claim layouts (Tuva, CMS CCW RIF, CMS DE-SynPUF) declared as data.

A preset is one YAML file in ``schemas/presets/``: the layout it extends, changes to that layout's columns
(date formats, say), where each canonical column comes from (a source header, or a list of them: the first
that is not blank), defaults for columns the source lacks, the diagnosis code system, and, for wide layouts
holding several lines in one row, how to unpivot them. Nothing here is specific to one preset: adding a
layout means adding a file (see the README, "Where your claims come from").

Reshaping works on the file as read (positional text columns): it builds the canonical text columns with
polars expressions over whole columns and hands the result to the ordinary header mapping, so validation,
reconciliation and rejection are those of any other extract. A wide row becomes one row per present line;
its ``source_row`` stays the row of the file and ``line_number`` is the line's position in the row.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from . import shipped
from .errors import ConfigError, FileRejected

if TYPE_CHECKING:
    pass

ICD10, ICD9 = "ICD-10-CM", "ICD-9-CM"
CODE_SYSTEMS = {ICD10: "dx_{n}", ICD9: "icd9_dx_{n}"}
MAX_DX = 12
OVERRIDABLE = {"formats", "pattern", "problem", "min", "normalize", "description"}
KEYS = {"preset", "version", "description", "source", "layout", "columns", "mapping", "diagnoses",
        "diagnosis_code_system", "defaults", "lines"}
ROW = "source_row"


def presets_dir() -> Path:
    return shipped.schemas_dir() / "presets"


def available() -> dict[str, Path]:
    """Shipped preset name -> file, sorted by name."""
    return {p.stem: p for p in sorted(presets_dir().glob("*.yaml"))}


def preset_path(name: str) -> Path:
    """The file of a shipped preset; a ConfigError naming the known presets otherwise."""
    known = available()
    if name not in known:
        raise ConfigError(f"unknown --layout '{name}' (shipped layouts: {', '.join(known) or 'none'}; "
                          "`claims-audit layouts` lists them)")
    return known[name]


@dataclass(frozen=True)
class CodeSystem:
    """The diagnosis code system of the rows: one for the whole file, or read from a column."""

    constant: str | None = None
    column: str | None = None
    values: dict[str, str] = field(default_factory=dict)  # column value (upper case, trimmed) -> system
    default: str = ICD10


@dataclass(frozen=True)
class WideLines:
    """Several lines in one row: `columns` canonical -> header template with {n}, n = 1..count."""

    count: int
    columns: dict[str, str]
    present_when: str


@dataclass(frozen=True)
class Preset:
    name: str
    version: int
    description: str
    source: str
    path: Path
    mapping: dict[str, list[str]]  # canonical column -> source headers, first non-blank wins
    diagnoses: list[str]  # source headers of the diagnosis codes, in position order
    code_system: CodeSystem
    defaults: dict[str, str]
    lines: WideLines | None

    def reshape(self, header: list[str], body: pl.DataFrame, user: dict[str, str]
                ) -> tuple[list[str], pl.DataFrame, list[tuple[int, str]], pl.Series | None, list[str]]:
        """The file in canonical columns: (header, body, structural rejects, line slot per row, unused
        headers). `user`: the --mapping ({header key -> canonical}), which renames on top of the preset."""
        return _reshape(self, header, body, user)


def _headers(value: Any, where: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(v, str) and v.strip() for v in items):
        raise ConfigError(f"{where}: a source must be a header name or a list of header names")
    return [str(v) for v in items]


def _expand(template: str, count: int) -> list[str]:
    return [template.replace("{n}", str(n)) for n in range(1, count + 1)]


def load(path: Path, doc: dict[str, Any]) -> tuple[Preset, dict[str, dict[str, Any]], str]:
    """(preset, column changes, base layout file name) from a preset document. Raises ConfigError."""
    where = f"layout preset {path}"
    unknown = sorted(set(doc) - KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(KEYS))})")
    mapping = {str(k): _headers(v, f"{where}, mapping {k}") for k, v in (doc.get("mapping") or {}).items()}
    diagnoses: list[str] = []
    for entry in doc.get("diagnoses") or []:
        if isinstance(entry, dict) and "repeat" in entry:
            diagnoses.extend(_expand(str(entry["name"]), int(entry["repeat"])))
        else:
            diagnoses.extend(_headers(entry, f"{where}, diagnoses"))
    if len(diagnoses) > MAX_DX:
        raise ConfigError(f"{where}: at most {MAX_DX} diagnosis columns (the layout has dx_1..dx_{MAX_DX})")
    preset = Preset(
        name=str(doc["preset"]), version=int(doc.get("version", 1)), description=str(doc.get("description", "")),
        source=str(doc.get("source", "")), path=path, mapping=mapping, diagnoses=diagnoses,
        code_system=_code_system(doc.get("diagnosis_code_system", ICD10), where),
        defaults={str(k): str(v) for k, v in (doc.get("defaults") or {}).items()},
        lines=_wide(doc.get("lines"), where))
    columns = doc.get("columns") or {}
    if not isinstance(columns, dict):
        raise ConfigError(f"{where}: 'columns' must map column names to changes")
    for name, change in columns.items():
        if not isinstance(change, dict) or set(change) - OVERRIDABLE:
            raise ConfigError(f"{where}: column {name} may change only {', '.join(sorted(OVERRIDABLE))}")
    return preset, columns, str(doc.get("layout", "claims-extract-v1.yaml"))


def _code_system(value: Any, where: str) -> CodeSystem:
    if isinstance(value, str):
        if value not in CODE_SYSTEMS:
            raise ConfigError(f"{where}: diagnosis_code_system must be {' or '.join(CODE_SYSTEMS)}")
        return CodeSystem(constant=value)
    if not isinstance(value, dict) or "column" not in value:
        raise ConfigError(f"{where}: diagnosis_code_system is a code system or {{column, values, default}}")
    values = {str(k).strip().upper(): str(v) for k, v in (value.get("values") or {}).items()}
    default = str(value.get("default", ICD10))
    if set(values.values()) - set(CODE_SYSTEMS) or default not in CODE_SYSTEMS:
        raise ConfigError(f"{where}: diagnosis_code_system values must be {' or '.join(CODE_SYSTEMS)}")
    return CodeSystem(column=str(value["column"]), values=values, default=default)


def _wide(value: Any, where: str) -> WideLines | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("columns"), dict) or "count" not in value:
        raise ConfigError(f"{where}: 'lines' needs a count and columns (canonical: header template with {{n}})")
    columns = {str(k): str(v) for k, v in value["columns"].items()}
    present = str(value.get("present_when", "procedure_code"))
    if present not in columns or any("{n}" not in v for v in columns.values()):
        raise ConfigError(f"{where}: every 'lines' column needs {{n}}, and present_when must be one of them")
    return WideLines(int(value["count"]), columns, present)


def apply_columns(specs: list[Any], changes: dict[str, dict[str, Any]], where: str) -> list[Any]:
    """The layout's column specs with the preset's changes (date formats, patterns...); a name with {n}
    changes every numbered column of that name."""
    specs = list(specs)
    names = [s.name for s in specs]
    for raw_name, change in changes.items():
        pattern = re.escape(raw_name).replace(re.escape("{n}"), r"\d+")
        targets = [i for i, n in enumerate(names) if re.fullmatch(pattern, n)]
        if not targets:
            raise ConfigError(f"{where}: column {raw_name} is not in the layout")
        fields = {k: (tuple(v) if k in ("formats", "normalize") else v) for k, v in change.items()}
        for i in targets:
            specs[i] = dataclasses.replace(specs[i], **fields)
    return specs


# --- reshaping ----------------------------------------------------------------------------------------


def _present(col: pl.Expr) -> pl.Expr:
    """A cell's text when it holds something other than blanks, else null."""
    return pl.when(col.str.strip_chars().str.len_bytes() > 0).then(col)


def _reshape(p: Preset, header: list[str], body: pl.DataFrame, user: dict[str, str]
             ) -> tuple[list[str], pl.DataFrame, list[tuple[int, str]], pl.Series | None, list[str]]:
    from .schema import header_key

    index = {header_key(h): i for i, h in reversed(list(enumerate(header)))}
    used: set[int] = set()

    def source(name: str) -> pl.Expr | None:
        i = index.get(header_key(name))
        if i is None:
            return None
        used.add(i)
        return _present(pl.col(f"__c{i}"))

    def first_of(names: list[str]) -> pl.Expr | None:
        found = [e for e in (source(n) for n in names) if e is not None]
        return None if not found else found[0] if len(found) == 1 else pl.coalesce(found)

    overridden = {canon: [h for h in header if user.get(header_key(h)) == canon] for canon in set(user.values())}
    claim_level: dict[str, pl.Expr] = {}
    for canon, names in {**p.mapping, **overridden}.items():
        expr = first_of(names)
        if expr is not None:
            claim_level[canon] = expr
    claim_level.update(_diagnosis_columns(p, first_of))
    frames, slots = _lines(p, body, claim_level, source, overridden)
    columns = [c for c in frames[0].columns if c != ROW] if frames else []
    long = pl.concat(frames, how="vertical") if len(frames) > 1 else frames[0]
    structural: list[tuple[int, str]] = []
    slot_series: pl.Series | None = None
    if p.lines is not None:
        long = long.with_columns(slots.alias("__slot")).sort(ROW, "__slot", maintain_order=True)
        slot_series = long.get_column("__slot")
        long = long.drop("__slot")
        empty_rows = body.select(ROW).join(long.select(ROW).unique(), on=ROW, how="anti").get_column(ROW)
        first, last = (p.lines.columns[p.lines.present_when].replace("{n}", str(n)) for n in (1, p.lines.count))
        structural = [(int(r), f"row holds no service line ({first} .. {last} are all blank)")
                      for r in empty_rows.to_list()]
    for canon, value in p.defaults.items():
        long = long.with_columns(pl.coalesce(pl.col(canon), pl.lit(value)).alias(canon) if canon in long.columns
                                 else pl.lit(value, pl.String).alias(canon))
        if canon not in columns:
            columns.append(canon)
    # one chunk per column: the columns built here would otherwise be chunked unlike each other, and some
    # polars kernels panic on such frames once filtered (see validation._without_empty_chunks)
    renamed = long.select(pl.col(ROW), *[pl.col(c).alias(f"__c{i}") for i, c in enumerate(columns)]).rechunk()
    unused = [h for i, h in enumerate(header) if i not in used and h.strip()]
    return columns, renamed, structural, slot_series, unused


def _diagnosis_columns(p: Preset, first_of: Any) -> dict[str, pl.Expr]:
    """dx_n for ICD-10-CM rows, icd9_dx_n for ICD-9-CM rows, from the preset's diagnosis columns."""
    cs = p.code_system
    if cs.constant is not None:
        system: pl.Expr = pl.lit(cs.constant)
    else:
        col = first_of([cs.column])
        system = pl.lit(cs.default) if col is None else (
            col.str.strip_chars().str.to_uppercase().replace_strict(cs.values, default=cs.default,
                                                                    return_dtype=pl.String)
            .fill_null(cs.default))
    out: dict[str, pl.Expr] = {}
    for n, name in enumerate(p.diagnoses, start=1):
        value = first_of([name])
        if value is None:
            continue
        for code_system, template in CODE_SYSTEMS.items():
            out[template.replace("{n}", str(n))] = pl.when(system == code_system).then(value)
    return out


def _lines(p: Preset, body: pl.DataFrame, claim_level: dict[str, pl.Expr], source: Any,
           overridden: dict[str, list[str]]) -> tuple[list[pl.DataFrame], pl.Series | None]:
    """One frame of canonical columns per line slot (a single frame for a layout of one line per row)."""
    if p.lines is None:
        return [body.select(pl.col(ROW), *[e.alias(c) for c, e in claim_level.items()])], None
    frames, slots = [], []
    names = sorted(set(claim_level) | set(p.lines.columns) | {"line_number"})
    for n in range(1, p.lines.count + 1):
        exprs = dict(claim_level)
        for canon, template in p.lines.columns.items():
            if canon in overridden:
                continue
            e = source(template.replace("{n}", str(n)))
            exprs[canon] = e if e is not None else pl.lit(None, pl.String)
        exprs.setdefault("line_number", pl.lit(str(n)))
        frame = body.select(pl.col(ROW), *[exprs.get(c, pl.lit(None, pl.String)).alias(c) for c in names])
        frame = frame.filter(pl.col(p.lines.present_when).is_not_null())
        frames.append(frame)
        slots.append(pl.repeat(n, frame.height, dtype=pl.Int64, eager=True))
    return frames, pl.concat(slots)


def check_required(p: Preset, columns: list[str], required: list[str]) -> None:
    missing = [c for c in required if c not in columns]
    if missing:
        wanted = "; ".join(f"{c} from {' or '.join(p.mapping.get(c, []) or ['(not mapped)'])}" for c in missing)
        raise FileRejected(f"the file lacks the column(s) layout '{p.name}' reads for {wanted}",
                           column=missing[0])


def describe(p: Preset) -> list[str]:
    """The preset's mapping and reshaping as `claims-audit schema --layout` prints them."""
    out = [p.description, f"Source: {p.source}", "Where each column comes from (the first that is not blank):"]
    width = max([len(c) for c in p.mapping] + [len("diagnoses")])
    for canon, headers in p.mapping.items():
        out.append(f"  {canon:<{width}}  {' or '.join(headers)}")
    if p.diagnoses:
        cs = p.code_system
        system = cs.constant or (f"from {cs.column} (" + ", ".join(f"{k} = {v}" for k, v in cs.values.items())
                                 + f"; otherwise {cs.default})")
        out.append(f"  {'diagnoses':<{width}}  {', '.join(p.diagnoses)} -> dx_n when ICD-10-CM, icd9_dx_n when "
                   f"ICD-9-CM; code system: {system}")
    for canon, value in p.defaults.items():
        out.append(f"  {canon:<{width}}  '{value}' where the source has none")
    if p.lines is not None:
        cols = ", ".join(f"{c} from {t}" for c, t in p.lines.columns.items())
        out.append(f"Wide rows: up to {p.lines.count} lines per row (n = 1..{p.lines.count}: {cols}); one audited "
                   f"row per line whose {p.lines.present_when} is present, line_number n, source_row = the "
                   "file's row")
    return out
