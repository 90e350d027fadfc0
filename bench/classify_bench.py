"""Benchmark: documentation classification + documentation rules for 100,000 CPT 34421 lines with notes.

The lines cycle through the 248 labeled corpus cases (tests/data/documentation_cases.csv: abstract
fields and operative notes). Two runs:

* ``repeated``  - the corpus texts as they are: many lines share the same documentation, as they do in
  real extracts with coded abstract values (classification runs once per distinct text triple);
* ``distinct``  - every line's note made unique (a case reference sentence appended), so every line's
  text is classified: the worst case for the de-duplication.

Usage: ``python bench/classify_bench.py [--lines 100000] [--repeat 3]``. Prints seconds per run and
lines per second; exits 0.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import polars as pl

from claims_audit import documentation
from claims_audit.rules import documentation as doc_rules

REPO = Path(__file__).resolve().parents[1]
CASES = REPO / "tests" / "data" / "documentation_cases.csv"
FIELDS = ["documented_approach", "documented_site", "op_note"]


def build(lines: int, distinct: bool) -> pl.DataFrame:
    cases = pl.read_csv(CASES, infer_schema=False).select(FIELDS)
    # give every case a note: cases without one borrow the note of the case 124 rows further on
    notes = cases.get_column("op_note")
    borrowed = pl.concat([notes, notes]).slice(124, cases.height)
    cases = cases.with_columns(pl.coalesce(pl.col("op_note"), pl.Series(borrowed)).alias("op_note"))
    idx = pl.int_range(0, lines, eager=True) % cases.height
    df = cases[idx.to_list()].with_row_index("line_key").with_columns(
        pl.col("line_key").cast(pl.Int64), pl.lit("34421").alias("procedure_code"))
    if distinct:
        df = df.with_columns(pl.format("{}\nCase reference {}.", pl.col("op_note"), pl.col("line_key"))
                             .alias("op_note"))
    return df


def run(df: pl.DataFrame) -> tuple[float, int]:
    t = time.perf_counter()
    classified = documentation.classify(df)
    findings = doc_rules.apply(classified)
    return time.perf_counter() - t, findings.height


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    documentation.load_vocabulary()
    for distinct in (False, True):
        df = build(args.lines, distinct)
        chars = df.select(pl.col("op_note").str.len_chars().sum()).item()
        times = []
        for _ in range(args.repeat):
            seconds, n_findings = run(df)
            times.append(seconds)
        best, median = min(times), statistics.median(times)
        label = "distinct" if distinct else "repeated"
        print(f"{label:9} {args.lines:,} lines ({chars / 1e6:.1f} M note characters): best {best:.2f} s, "
              f"median {median:.2f} s, {args.lines / best:,.0f} lines/s, {n_findings:,} findings")


if __name__ == "__main__":
    main()
