"""Hand-built `lines` frames for the claim-edit tests (one test module per edit family)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from claims_audit import ruledata
from claims_audit.ruleconfig import parse
from claims_audit.rules.claim_edits import apply

D = dt.date
SURGERY = D(2024, 8, 1)
NPI = "1234567893"
NPI2 = "1245319599"
ALT = Path(__file__).parent / "data" / "cms_alt"
BOTH = [ruledata.packaged_data_dir(), ALT]

LINES_SCHEMA = {
    "line_key": pl.Int64, "source_file": pl.String, "source_row": pl.Int64, "claim_id": pl.String,
    "member_id": pl.String, "line_number": pl.Int64, "units": pl.Int64, "service_date": pl.Date,
    "procedure_code": pl.String, **{f"modifier_{i}": pl.String for i in range(1, 5)},
    "rendering_npi": pl.String, "place_of_service": pl.String, "charge_amount": pl.Float64,
    **{f"dx_{i}": pl.String for i in range(1, 13)},
    "documented_approach": pl.String, "documented_site": pl.String, "op_note": pl.String, "doc_side": pl.String,
}


def line(code: str = "34421", mods: tuple[str, ...] = (), dx: tuple[str, ...] = ("I82411",), **kw) -> dict:
    """One claim line; unspecified fields get valid defaults (a clean right-femoral 34421)."""
    row = {
        "source_file": "extract_a.csv", "claim_id": "C1", "member_id": "M1", "units": 1,
        "service_date": SURGERY, "procedure_code": code, "rendering_npi": NPI, "place_of_service": "21",
        "charge_amount": 1500.0, "documented_approach": None, "documented_site": None, "op_note": None,
        "doc_side": None,
    }
    for i in range(4):
        row[f"modifier_{i + 1}"] = mods[i] if i < len(mods) else None
    for i in range(12):
        row[f"dx_{i + 1}"] = dx[i] if i < len(dx) else None
    row.update(kw)
    return row


def make_lines(*rows: dict, doc_side: bool = True) -> pl.DataFrame:
    """A valid `lines` frame (design.md contract); line_key = position, line_number/source_row default."""
    out = []
    per_claim: dict[str, int] = {}
    for i, r in enumerate(rows):
        r = dict(r)
        per_claim[r["claim_id"]] = per_claim.get(r["claim_id"], 0) + 1
        r.setdefault("line_number", per_claim[r["claim_id"]])
        r.setdefault("source_row", i + 2)
        r["line_key"] = i
        out.append(r)
    df = pl.DataFrame(out, schema=LINES_SCHEMA)
    return df if doc_side else df.drop("doc_side")


def run(*rows: dict, config=None, data_dir=None, rule: str | None = None) -> pl.DataFrame:
    """The claim edits over `rows`; `config` a configuration mapping as a rule-configuration file holds."""
    out = apply(make_lines(*rows), config=parse(config), data_dir=data_dir)
    return out.filter(pl.col("rule_id") == rule) if rule else out


def keys(df: pl.DataFrame) -> list[int]:
    return sorted(df["line_key"].to_list())


def em(days: int, mods=(), dx=("I82411",), **kw) -> dict:
    kw.setdefault("claim_id", "E1")
    return line(code="99213", mods=mods, dx=dx, service_date=SURGERY + dt.timedelta(days=days), **kw)
