"""Benchmark of the claims history (issue 12), as whole processes:

1. a night's `claims-audit run` with an empty history against the same run with N earlier nights of
   LINES lines each already in history (target: at most 1.2x);
2. `claims-audit history import` of a LINES-line extract against a `claims-audit run` of it (target: at
   most 1.5x).

History is filled by one real back-fill of a LINES-line extract (another seed), then that batch is copied
N-1 times with every member key and date of service moved (so no two nights share a member or a day),
each copy listed in the ledger through the same `History.record` the runs use. That keeps the set-up to
minutes instead of generating N extracts; the lookups a night makes are the same work either way (every
history file is scanned for tonight's members).

    python bench/history_bench.py --lines 2000000 --nights 60 --rounds 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import measure  # noqa: E402

RUN_DATE = "2026-11-20"


def cli() -> list[str]:
    exe = Path(sys.executable).parent / "claims-audit"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "claims_audit"]


def fill_history(ledger: Path, seed_extract: Path, nights: int) -> None:
    """One real back-fill, then nights-1 shifted copies of its batch, listed in the ledger."""
    from claims_audit.history import STORED, History, default_folder
    from claims_audit.ledger import Ledger

    code = measure([*cli(), "history", "import", str(seed_extract), "--ledger", str(ledger), "-q"])[2]
    if code not in (0, 1):
        raise SystemExit(f"history import failed with exit code {code}")
    with Ledger.open(ledger) as store:
        history = History(default_folder(ledger), store)
        [(name,)] = store.query("SELECT file FROM history_batches")
        first = pl.read_parquet(history.folder / name).drop("run_date")
        for k in range(1, nights):
            shifted = first.with_columns(
                (pl.col("member_key") ^ pl.lit(0x5DEECE66D * k, pl.Int64)).alias("member_key"),
                (pl.col("service_date") - pl.duration(days=k)).alias("service_date"),
                (pl.col("source_sha256") + f"-{k}").alias("source_sha256"),
                pl.lit(f"night-{k}.csv").alias("source_file"))
            with store.transaction():
                history.record(shifted.select([c for c in STORED if c != "run_date"]), kind="import",
                               run_id=None, run_date=dt.date(2026, 11, 19) - dt.timedelta(days=k),
                               sources=[(f"night-{k}.csv", f"{k:064x}")], superseded=[])


def median(cmd: list[str], rounds: int) -> tuple[float, float]:
    runs = [measure(cmd) for _ in range(rounds)]
    if any(code not in (0, 1) for _, _, code in runs):
        raise SystemExit(f"{' '.join(cmd)} failed")
    return statistics.median(t for t, _, _ in runs), max(m for _, m, _ in runs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=2_000_000)
    ap.add_argument("--nights", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="claims-audit-history-bench-"))
    try:
        tonight, past = work / "tonight.csv", work / "past.csv"
        for path, seed in ((tonight, 1), (past, 2)):
            if measure([*cli(), "sample", "--lines", str(args.lines), "--out", str(path), "--seed", str(seed)])[2]:
                raise SystemExit("sample failed")
        fill_history(work / "full" / "claims-audit-ledger.sqlite", past, args.nights)
        night = [*cli(), "run", str(tonight), "--run-date", RUN_DATE, "-q"]
        empty = median([*night, "--out", str(work / "empty")], args.rounds)
        full = median([*night, "--out", str(work / "full")], args.rounds)
        imported = median([*cli(), "history", "import", str(past), "--ledger",
                           str(work / "imp" / "claims-audit-ledger.sqlite"), "-q"], args.rounds)
        audited = median([*cli(), "run", str(past), "--run-date", RUN_DATE, "--out", str(work / "aud"), "-q"],
                         args.rounds)
        print(f"{args.lines:,} lines a night, {args.nights} nights in history, median of {args.rounds}")
        print(f"night, empty history         {empty[0]:7.2f} s  {empty[1]:8.0f} MiB")
        print(f"night, {args.nights} nights in history  {full[0]:7.2f} s  {full[1]:8.0f} MiB  "
              f"ratio {full[0] / empty[0]:.2f}x (target 1.2x)")
        print(f"history import              {imported[0]:7.2f} s  {imported[1]:8.0f} MiB")
        print(f"run of the same extract     {audited[0]:7.2f} s  {audited[1]:8.0f} MiB  "
              f"import ratio {imported[0] / audited[0]:.2f}x (target 1.5x)")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
