"""Versioned rule data the claim edits read: the CMS tables (NCCI PTP, NCCI MUE, PFS indicators), the
claim-edit policy, and the ICD-10-CM code set.

Rule data lives in a folder (by default the one shipped in the package, ``claims_audit/data/cms``) as
CSV files whose names carry the table and the date the version takes effect::

    ncci_ptp_practitioner_2024-07-01.csv   (+ ncci_ptp_practitioner_2024-07-01.meta.yaml)
    ncci_mue_2024-07-01.csv                (+ ncci_mue_2024-07-01.meta.yaml)
    pfs_indicators_2024-01-01.csv          (+ pfs_indicators_2024-01-01.meta.yaml)
    claim_edit_policy.yaml                 (code lists and modifier meanings; not versioned by date)

The optional ``.meta.yaml`` sidecar gives ``version`` and ``source`` (and ``effective_date``, which must
agree with the file name). Every version present is loaded; dropping in a new quarter's file is enough
for it to be used from its effective date on - no code change.

Effective windows (all dates inclusive):

* a version of a table is in force from its effective date until the day before the next loaded version
  of the same table takes effect (the newest version stays in force with no end);
* a PTP row is in force within its version's window and not after its ``deletion_date`` (the last date
  of service the edit applies to; 9999-12-31 = active). If a PTP file has a per-row ``effective_date``
  column, a row is also not in force before that date;
* dates of service before the earliest loaded version of a table are not judged by that table.

So ``effective_from`` / ``effective_to`` on every frame row answer "does this row apply to a line with
this date of service": ``effective_from <= service_date <= effective_to``.

``data_dir`` may be one folder or a list of folders (e.g. the packaged folder plus a folder holding a new
quarter); versions from all are loaded; if the same table and date appear twice, the later folder wins.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl

from . import configfile
from .shipped import CMS_DATA, ICD10CM_DATA
from .errors import ConfigError

#: table name -> columns that must be present in every version of it
TABLES: dict[str, tuple[str, ...]] = {
    "ncci_ptp_practitioner": ("col1", "col2", "deletion_date", "modifier_indicator", "rationale"),
    "ncci_mue": ("hcpcs_code", "mue_units", "mue_mai", "mue_rationale", "mue_service"),
    "pfs_indicators": (
        "hcpcs", "mod", "status_code", "glob_days", "mult_proc", "bilat_surg", "asst_surg", "co_surg",
        "team_surg",
    ),
}
POLICY_FILE = "claim_edit_policy.yaml"
OPEN_END = dt.date(9999, 12, 31)

_FILE_RE = re.compile(r"^(?P<table>[a-z_]+?)_(?P<date>\d{4}-\d{2}-\d{2}|\d{4})\.csv$")

DataDir = str | Path | Sequence[str | Path] | None


class TableVersion(NamedTuple):
    """One loaded version of a rule table, for the Rules sheet."""

    table: str
    version: str
    effective_date: dt.date
    source: str


@dataclass(frozen=True)
class _VersionFile:
    table: str
    effective: dt.date
    path: Path
    meta_path: Path | None
    version: str
    source: str


@dataclass
class RuleData:
    """Everything the claim edits read: the three CMS tables, the policy, and their provenance."""

    ptp: pl.DataFrame
    mue: pl.DataFrame
    pfs: pl.DataFrame
    policy: dict[str, Any]
    versions: list[TableVersion]
    data_version: str
    files: list[Path] = field(default_factory=list)


def packaged_data_dir() -> Path:
    """The CMS rule-data folder shipped inside the package."""
    return CMS_DATA


def _dirs(data_dir: DataDir) -> list[Path]:
    if data_dir is None:
        return [packaged_data_dir()]
    if isinstance(data_dir, (str, Path)):
        return [Path(data_dir)]
    dirs = [Path(d) for d in data_dir]
    if not dirs:
        raise ConfigError("no rule-data folder given")
    return dirs


def _parse_date(text: str, where: str) -> dt.date:
    try:
        if len(text) == 4:
            return dt.date(int(text), 1, 1)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"rule data {where}: {text!r} is not a date (YYYY-MM-DD)") from None


def _read_meta(path: Path) -> dict[str, Any]:
    doc = configfile.load(path, "rule data sidecar")
    if not isinstance(doc, dict):
        raise ConfigError(f"rule data sidecar {path} must be a mapping")
    return doc


def _scan(dirs: list[Path]) -> tuple[dict[tuple[str, dt.date], _VersionFile], Path]:
    found: dict[tuple[str, dt.date], _VersionFile] = {}
    policy: Path | None = None
    for d in dirs:
        if not d.is_dir():
            raise ConfigError(f"rule-data folder not found: {d}")
        if (d / POLICY_FILE).is_file():
            policy = d / POLICY_FILE
        for p in sorted(d.glob("*.csv")):
            m = _FILE_RE.match(p.name)
            if not m or m["table"] not in TABLES:
                continue
            eff = _parse_date(m["date"], p.name)
            meta_path = p.with_suffix(".meta.yaml")
            meta = _read_meta(meta_path) if meta_path.is_file() else {}
            if "effective_date" in meta and _parse_date(str(meta["effective_date"]), meta_path.name) != eff:
                raise ConfigError(f"rule data {meta_path.name}: effective_date differs from the file name")
            if meta.get("table", m["table"]) != m["table"]:
                raise ConfigError(f"rule data {meta_path.name}: table differs from the file name")
            found[(m["table"], eff)] = _VersionFile(
                table=m["table"],
                effective=eff,
                path=p,
                meta_path=meta_path if meta_path.is_file() else None,
                version=str(meta.get("version") or p.stem),
                source=" ".join(str(meta.get("source") or "unknown (no sidecar)").split()),
            )
    if policy is None:
        policy = packaged_data_dir() / POLICY_FILE
    for table in TABLES:
        if not any(k[0] == table for k in found):
            raise ConfigError(f"rule data: no version of table {table} in {', '.join(map(str, dirs))}")
    return found, policy


def _read_table(vf: _VersionFile, effective_to: dt.date) -> pl.DataFrame:
    try:
        df = pl.read_csv(vf.path, infer_schema=False)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise ConfigError(f"rule data {vf.path.name} cannot be read: {type(exc).__name__}") from None
    missing = [c for c in TABLES[vf.table] if c not in df.columns]
    if missing:
        raise ConfigError(f"rule data {vf.path.name}: missing columns {', '.join(missing)}")
    df = df.with_columns(pl.col(pl.String).str.strip_chars())
    df = df.with_columns(
        [pl.when(pl.col(c).str.len_bytes() == 0).then(None).otherwise(pl.col(c)).alias(c) for c in df.columns]
    )
    return df.with_columns(
        pl.lit(vf.version).alias("version"),
        pl.lit(vf.effective).alias("version_effective"),
        pl.lit(vf.effective).alias("effective_from"),
        pl.lit(effective_to).alias("effective_to"),
    )


def _typed(table: str, df: pl.DataFrame, where: str) -> pl.DataFrame:
    def ints(*cols: str) -> list[pl.Expr]:
        return [pl.col(c).cast(pl.Int64, strict=False) for c in cols]

    if table == "ncci_ptp_practitioner":
        out = df.with_columns(
            *ints("modifier_indicator"),
            pl.col("deletion_date").str.to_date("%Y-%m-%d", strict=False),
        )
        if out["deletion_date"].null_count() or out["modifier_indicator"].null_count():
            raise ConfigError(f"rule data {where}: a deletion_date or modifier_indicator is not valid")
        if "effective_date" in out.columns:  # a per-row effective date narrows the window
            row_eff = pl.col("effective_date").str.to_date("%Y-%m-%d", strict=False)
            out = out.with_columns(pl.max_horizontal("effective_from", row_eff).alias("effective_from"))
        return out.with_columns(pl.min_horizontal("effective_to", "deletion_date").alias("effective_to"))
    if table == "ncci_mue":
        out = df.with_columns(*ints("mue_units", "mue_mai"))
        if out["mue_units"].null_count() or out["mue_mai"].null_count():
            raise ConfigError(f"rule data {where}: an mue_units or mue_mai value is not a number")
        return out
    return df  # pfs_indicators: indicators stay text ("090", "ZZZ", "0".."9")


def _hash(files: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(files, key=lambda p: p.name):
        h.update(p.name.encode())
        h.update(b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return "cms-" + h.hexdigest()[:16]


def _signature(dirs: list[Path]) -> tuple:
    sig = []
    for d in dirs:
        d = d.resolve()
        entries = sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in d.iterdir()) if d.is_dir() else []
        sig.append((str(d), tuple(entries)))
    return tuple(sig)


_CACHE: dict[tuple, RuleData] = {}


def load(data_dir: DataDir = None) -> RuleData:
    """Load every version of every table in ``data_dir`` (default: the packaged folder).

    Raises :class:`~claims_audit.errors.ConfigError` when a folder or table is missing or a file is
    malformed. Results are cached per folder content.
    """
    dirs = _dirs(data_dir)
    key = _signature(dirs)
    if key in _CACHE:
        return _CACHE[key]
    found, policy_path = _scan(dirs)
    frames: dict[str, pl.DataFrame] = {}
    versions: list[TableVersion] = []
    files: list[Path] = [policy_path]
    for table in TABLES:
        vfs = sorted((v for (t, _), v in found.items() if t == table), key=lambda v: v.effective)
        parts = []
        for i, vf in enumerate(vfs):
            until = vfs[i + 1].effective - dt.timedelta(days=1) if i + 1 < len(vfs) else OPEN_END
            parts.append(_typed(table, _read_table(vf, until), vf.path.name))
            versions.append(TableVersion(table, vf.version, vf.effective, vf.source))
            files.append(vf.path)
            if vf.meta_path:
                files.append(vf.meta_path)
        frames[table] = pl.concat(parts, how="diagonal_relaxed")
    policy = configfile.load(policy_path, "rule data")
    if not isinstance(policy, dict):
        raise ConfigError(f"rule data {policy_path} must be a mapping")
    versions.append(
        TableVersion(
            "claim_edit_policy",
            str(policy.get("version", "unversioned")),
            _parse_date(str(policy.get("effective_date", "1970-01-01")), POLICY_FILE),
            " ".join(str(policy.get("source", "")).split()),
        )
    )
    rd = RuleData(
        ptp=frames["ncci_ptp_practitioner"],
        mue=frames["ncci_mue"],
        pfs=frames["pfs_indicators"],
        policy=policy,
        versions=versions,
        data_version=_hash(files),
        files=files,
    )
    _CACHE[key] = rd
    return rd


def ptp(data_dir: DataDir = None) -> pl.DataFrame:
    """NCCI PTP rows of every loaded version, with ``effective_from`` / ``effective_to``."""
    return load(data_dir).ptp


def mue(data_dir: DataDir = None) -> pl.DataFrame:
    """NCCI MUE rows of every loaded version, with ``effective_from`` / ``effective_to``."""
    return load(data_dir).mue


def pfs(data_dir: DataDir = None) -> pl.DataFrame:
    """PFS indicator rows of every loaded version, with ``effective_from`` / ``effective_to``."""
    return load(data_dir).pfs


def policy(data_dir: DataDir = None) -> dict[str, Any]:
    """The claim-edit policy (code lists, modifier meanings, diagnosis lists)."""
    return load(data_dir).policy


def data_version(data_dir: DataDir = None) -> str:
    """A version string from a hash over the content of every rule-data file used (``cms-`` + 16 hex)."""
    return load(data_dir).data_version


def table_versions(data_dir: DataDir = None) -> list[TableVersion]:
    """(table, version, effective date, source) of every loaded table version, for the Rules sheet."""
    return list(load(data_dir).versions)


def table_text(table: str, data_dir: DataDir = None) -> str:
    """How the Rules sheet names the loaded versions of one table a rule reads."""
    if table == "icd10cm":
        return f"icd10cm {icd10cm_reference()}"
    if table.startswith("documentation/"):  # the vocabulary files carry their versions in their sidecars
        return table
    versions = [v for v in table_versions(data_dir) if v.table == table]
    return "; ".join(f"{v.table} {v.version} (effective {v.effective_date.isoformat()})" for v in versions)


def audited_codes(data_dir: DataDir = None) -> tuple[str, ...]:
    """The procedure code(s) the product audits, declared once in the claim-edit policy."""
    return tuple(str(c) for c in load(data_dir).policy["audited_codes"])


# --- ICD-10-CM -----------------------------------------------------------------------------------------


@functools.cache
def _icd10cm_meta() -> dict[str, Any]:
    meta = configfile.load(ICD10CM_DATA / "icd10cm_codes.meta.yaml", "rule data")
    if not isinstance(meta, dict) or not {"version", "source"} <= set(meta):
        raise ConfigError(f"rule data {ICD10CM_DATA / 'icd10cm_codes.meta.yaml'} must give version and source")
    return meta


def icd10cm_reference() -> str:
    """The code set's version and source, as findings cite it."""
    meta = _icd10cm_meta()
    return f"{meta['version']} ({meta['source']})"


@functools.cache
def icd10cm_codes() -> pl.DataFrame:
    """The official ICD-10-CM code set: code (no dot) and whether it is billable (data/icd10cm, built from
    simple-icd-10-cm by scripts/build_icd10cm.py)."""
    path = ICD10CM_DATA / "icd10cm_codes.csv"
    try:
        table = pl.read_csv(path, schema={"code": pl.String, "billable": pl.Int8})
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise ConfigError(f"rule data {path} cannot be read: {type(exc).__name__}") from None
    return table.with_columns(pl.col("billable").cast(pl.Boolean))
