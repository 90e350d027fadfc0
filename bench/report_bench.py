"""The workbook at volume: a 1,000,000-row Findings table written by `report.write_reports`.

    python bench/report_bench.py [--findings 1000000] [--lines 200000]

Audits a `claims-audit sample` extract, repeats its findings (with distinct finding ids) up to
`--findings` rows and writes the workbook and manifest, in a child process whose peak RSS is measured
(wait4). Prints the writing time and the child's peak memory.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import datetime as dt, sys, time
from pathlib import Path
import polars as pl
from claims_audit import pipeline
from claims_audit.report import write_reports
result = pipeline.run([sys.argv[1]], dt.date(2026, 11, 20))
found, want = result.findings, int(sys.argv[3])
copies = -(-want // max(found.height, 1))
result.findings = pl.concat([found.with_columns(pl.format("{}-{}", pl.col("finding_id"), pl.lit(i))
                                                .alias("finding_id")) for i in range(copies)]).head(want)
start = time.perf_counter()
write_reports(result, Path(sys.argv[2]))
print(f"{result.findings.height:,} findings: workbook and manifest written in {time.perf_counter() - start:.1f} s")
"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--findings", type=int, default=1_000_000)
    ap.add_argument("--lines", type=int, default=200_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="claims-audit-report-bench-") as tmp:
        extract = Path(tmp) / "extract.csv"
        subprocess.run([str(Path(sys.executable).parent / "claims-audit"), "sample", "--lines", str(args.lines),
                        "--out", str(extract)], check=True, stdout=subprocess.DEVNULL)
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(extract), str(Path(tmp) / "out"),
                                 str(args.findings)])
        _, status, usage = os.wait4(proc.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        print(f"peak RSS of the process (audit of {args.lines:,} lines + the workbook): "
              f"{usage.ru_maxrss / 1024:.0f} MiB")
        return code


if __name__ == "__main__":
    sys.exit(main())
