"""Turning rule output into the Findings table of the report contract.

``finding_id`` is stable across runs for the same claim line and rule (a hash of claim id, line number,
procedure code and rule id), so reviewers' decisions can follow a finding from night to night.
``line_fingerprint`` changes when anything a reviewer judged changes (documentation, codes, units).
"""

from __future__ import annotations

import functools
import hashlib
import operator
from pathlib import Path

import polars as pl

from .retained import write_part

MODIFIERS = [f"modifier_{i}" for i in range(1, 5)]
DX = [f"dx_{i}" for i in range(1, 13)]
ICD9_DX = [f"icd9_dx_{i}" for i in range(1, 13)]

FINDING_COLUMNS = [
    "finding_id", "source_file", "source_row", "claim_id", "line_number", "member_id", "rendering_npi",
    "service_date", "procedure_code", "modifiers", "units", "dx_codes", "rule_id", "severity", "message",
    "suggested_code", "evidence", "doc_approach", "doc_vessel", "doc_side", "documented_approach",
    "documented_site", "related_claim_id", "related_line_number", "related_source", "reference",
    "line_fingerprint",
]

SEVERITY_ORDER = {"error": 0, "warning": 1, "review": 2, "info": 3}

# An optional value that was not valid in the file is ignored and its line audited without it (see
# `validation`). The rules that read such a value (declared with the rule: `reads` in the registry) could
# have concluded otherwise with it. Place of service and charge feed no rule.
OPTIONAL_VALUES_RULES_READ = ("modifier_", "rendering_npi", "dx_")


def _digest_utf8(values: list[bytes | None], size: int) -> list[str]:
    sha256 = hashlib.sha256
    return [sha256(v or b"").hexdigest()[:size] for v in values]


def stable_hash(expr: pl.Expr, size: int = 16) -> pl.Expr:
    """SHA-256 of a string column (stable across polars versions, unlike Expr.hash); null hashes as ""."""
    # the UTF-8 bytes straight from polars (no Python str decoded and encoded again)
    return expr.map_batches(
        lambda s: pl.Series(_digest_utf8(s.cast(pl.String).cast(pl.Binary).to_list(), size), dtype=pl.String),
        return_dtype=pl.String)


def dotted_icd(col: str) -> pl.Expr:
    """ICD-10-CM codes are stored without the dot; people read them with it (I82.412)."""
    c = pl.col(col)
    return pl.when(c.str.len_chars() > 3).then(pl.format("{}.{}", c.str.slice(0, 3), c.str.slice(3))
                                                ).otherwise(c)


def _with_lines(output: pl.DataFrame, lines: pl.DataFrame, keep: list[str]) -> pl.DataFrame:
    """`output` left-joined to the `keep` columns of its lines (on line_key).

    When line_key is the row position in `lines` (as the pipeline builds it), the lines are gathered by
    position: the same rows as the join, without hashing the whole run's frame."""
    keys = output.get_column("line_key")
    n = lines.height
    positional = (
        not set(keep[1:]) & set(output.columns)
        and keys.null_count() == 0
        and (keys.len() == 0 or (keys.min() >= 0 and keys.max() < n))
        and lines.get_column("line_key").null_count() == 0
        and lines.select((pl.col("line_key") == pl.int_range(pl.len(), dtype=pl.Int64)).all()).item()
    )
    if not positional:
        return output.join(lines.select(keep), on="line_key", how="left")
    return output.hstack(lines.select(pl.col(keep[1:]).gather(keys)).get_columns())


def with_ignored_note(df: pl.DataFrame) -> pl.DataFrame:
    """On a line audited without a value (`ignored_columns`, `ignored_note`), the message says which value
    was ignored, and whether it could have changed the finding."""
    if "ignored_note" not in df.columns or df.get_column("ignored_note").null_count() == df.height:
        return df
    names = pl.col("ignored_columns")
    from .rules.registry import rules_reading

    could = functools.reduce(operator.or_, [
        names.str.contains(rf"(^|,){prefix}") & pl.col("rule_id").is_in(list(rules_reading(prefix)))
        for prefix in OPTIONAL_VALUES_RULES_READ]).fill_null(False)
    effect = pl.when(could).then(pl.lit("the ignored value could have changed this finding")).otherwise(
        pl.lit("this finding does not depend on it"))
    note = pl.format(" (Audited without {}: not valid in the file, see the Rejected sheet; {}.)",
                     pl.col("ignored_note"), effect)
    return df.with_columns(pl.when(pl.col("ignored_note").is_not_null())
                           .then(pl.concat_str([pl.col("message").fill_null(""), note]))
                           .otherwise(pl.col("message")).alias("message"))


def related_sources(output: pl.DataFrame, lines: pl.DataFrame, history: pl.DataFrame | None = None
                    ) -> pl.DataFrame:
    """related_line_key -> related_source: where the related line of a claim-level finding came from
    ("file row N" for tonight's lines; "file row N, run YYYY-MM-DD" for a line of the claims history,
    whose line_key is negative; `history` holds line_key and history_source for those)."""
    keys = output.select(pl.col("related_line_key").drop_nulls().unique())
    tonight = keys.filter(pl.col("related_line_key") >= 0).join(
        lines.select(pl.col("line_key").alias("related_line_key"), "source_file", "source_row"),
        on="related_line_key", how="left",
    ).select("related_line_key", pl.format("{} row {}", "source_file", "source_row").alias("related_source"))
    if history is None or history.is_empty():
        return tonight
    earlier = keys.filter(pl.col("related_line_key") < 0).join(
        history.select(pl.col("line_key").alias("related_line_key"),
                       pl.col("history_source").alias("related_source")), on="related_line_key", how="left")
    return pl.concat([tonight, earlier])


def assemble(lines: pl.DataFrame, output: pl.DataFrame, doc: pl.DataFrame | None = None,
             history: pl.DataFrame | None = None) -> pl.DataFrame:
    """Join rule output to its lines (and the documentation classification of 34421 lines, `doc`), and
    order the findings deterministically. `history`: the claims-history lines the rules saw (their
    line_key is negative; no finding sits on one), to name the source of a related history line."""
    return ordered([finding_rows(lines, output, doc, history)])


def finding_rows(lines: pl.DataFrame, output: pl.DataFrame, doc: pl.DataFrame | None = None,
                 history: pl.DataFrame | None = None) -> pl.DataFrame:
    """The findings of one group of members, not yet in report order (:func:`ordered` puts the groups of
    a run together): every column a finding row needs, from the line, the classification and history."""
    if "related_line_key" not in output.columns:
        output = output.with_columns(pl.lit(None, pl.Int64).alias("related_line_key"))
    output = output.join(related_sources(output, lines, history), on="related_line_key", how="left",
                         maintain_order="left")
    doc_cols = [c for c in ("doc_approach", "doc_vessel", "doc_side") if doc is not None and c in doc.columns]
    keep = ["line_key", "source_file", "source_row", "claim_id", "line_number", "member_id", "rendering_npi",
            "service_date", "procedure_code", "units", "documented_approach", "documented_site", "op_note",
            *MODIFIERS, *DX, *[c for c in ("ignored_columns", "ignored_note") if c in lines.columns],
            *[c for c in ICD9_DX if c in lines.columns]]
    df = with_ignored_note(_with_lines(output, lines, keep))
    if doc_cols:
        df = df.join(doc.select("line_key", *doc_cols), on="line_key", how="left")
    for c in ("doc_approach", "doc_vessel", "doc_side"):
        if c not in df.columns:
            df = df.with_columns(pl.lit(None, pl.String).alias(c))
    modifiers = pl.concat_str(MODIFIERS, separator=",", ignore_nulls=True)
    dx = pl.concat_str(DX, separator=",", ignore_nulls=True)
    dotted = pl.concat_str([dotted_icd(c) for c in DX], separator=",", ignore_nulls=True)
    if ICD9_DX[0] in lines.columns:  # ICD-9-CM diagnoses (older claims) are shown too, marked as such
        from .rules.claim_edits.context import icd9_text
        icd9 = icd9_text(lines)
        dotted = pl.concat_str([pl.when(dotted != "").then(dotted), pl.format("ICD-9-CM {}", icd9)], separator=",",
                               ignore_nulls=True)
    fingerprint_src = pl.concat_str(
        [pl.col("procedure_code"), modifiers, pl.col("units").cast(pl.String), dx,
         pl.col("service_date").cast(pl.String), pl.col("rendering_npi").fill_null(""),
         pl.col("documented_approach").fill_null(""), pl.col("documented_site").fill_null(""),
         pl.col("op_note").fill_null("")], separator="\x1f")
    id_src = pl.concat_str([pl.col("claim_id"), pl.col("line_number").cast(pl.String),
                            pl.col("procedure_code"), pl.col("rule_id")], separator="\x1f")
    df = df.with_columns(
        modifiers.alias("modifiers"), dotted.alias("dx_codes"),
        stable_hash(id_src).alias("finding_id"), stable_hash(fingerprint_src).alias("line_fingerprint"),
    )
    return df.with_columns(pl.col("severity").replace_strict(SEVERITY_ORDER, default=9).alias("_sev"))


REPORT_ORDER = ["source_file", "source_row", "_sev", "rule_id", "related_claim_id", "related_line_number"]


def ordered(groups: list[pl.DataFrame | Path]) -> pl.DataFrame:
    """The finding rows of every group in the report's order, with ids unique in the run. The order
    depends only on each finding's line and rule (a line and its findings are all in one group, in the
    order the rules gave them), so it is the same however the run was split.

    `groups` is emptied: the rows are put in order one column at a time, each dropped once gathered, so
    the run holds its findings about once, not twice as a sort of the whole frame would (836,000
    findings of a 50M-line night take about 1.1 GB). A group may be an Arrow IPC file (a large run's
    groups wait there while the next groups are audited, :func:`spilled`): its columns are read one at
    a time, and the file is removed."""
    files = [g for g in groups if isinstance(g, Path)]
    if files:
        df = _gathered_from_parts(list(groups))
    else:
        df = (pl.concat(groups) if len(groups) > 1 else groups[0]).select(*FINDING_COLUMNS, "_sev")
    groups.clear()
    if not files:
        order = df.select(pl.arg_sort_by(REPORT_ORDER, nulls_last=True, maintain_order=True)).to_series()
        df = gathered_by_column(df, order)
    for path in files:
        path.unlink(missing_ok=True)
    # the same claim line can appear twice in one run (e.g. in two files): keep ids unique and stable
    if df.get_column("finding_id").is_duplicated().any():
        n = pl.col("finding_id").cum_count().over("finding_id")
        df = df.with_columns(pl.when(n > 1).then(pl.format("{}-{}", pl.col("finding_id"), n))
                             .otherwise(pl.col("finding_id")).alias("finding_id"))
    return df.select(FINDING_COLUMNS)


def spilled(rows: pl.DataFrame, path: Path) -> Path:
    """A group's finding rows (:func:`finding_rows`) written to `path` for :func:`ordered`, in the format of
    every spilled part of a run (:func:`claims_audit.retained.write_part`)."""
    write_part(rows.select(*FINDING_COLUMNS, "_sev"), path)
    return path


def _gathered_from_parts(parts: list[pl.DataFrame | Path]) -> pl.DataFrame:
    """The rows of every part (frames, IPC files) in the report's order, one column at a time: the sort
    keys first, then each column read from every part, gathered and kept."""
    def column(names: list[str]) -> pl.DataFrame:
        frames = [pl.read_ipc(p, columns=names) if isinstance(p, Path) else p.select(names) for p in parts]
        return pl.concat(frames)
    order = column(REPORT_ORDER).select(
        pl.arg_sort_by(REPORT_ORDER, nulls_last=True, maintain_order=True)).to_series()
    return pl.DataFrame([column([name]).to_series().gather(order) for name in (*FINDING_COLUMNS, "_sev")])


def gathered_by_column(frame: pl.DataFrame, order: pl.Series) -> pl.DataFrame:
    """`frame`'s rows in `order` (row positions), gathered column by column; `frame` is emptied as it
    goes, so that each column's old values can be freed before the next is gathered."""
    columns = []
    for name in frame.columns:
        columns.append(frame.drop_in_place(name).gather(order))
    return pl.DataFrame(columns)
