"""Benchmark: the whole audit against a plain polars read of the same file, as whole processes.

    python bench/bench.py [--lines 2000000] [--rounds 3]

Generates the extract with `claims-audit sample`, then alternates, in one run, `claims-audit run` and
`python -c "import polars; polars.read_csv(FILE, infer_schema=False)"`, measuring wall time and peak
memory (max RSS of each child via wait4). Prints the medians and the ratios the README and the closing
notes quote. Targets: time ratio <= 2.0, memory ratio <= 2.0.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def measure(cmd: list[str]) -> tuple[float, float, int]:
    """(seconds, peak RSS in MiB, exit code) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss / 1024, proc.returncode


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=2_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="claims-audit-bench-"))
    extract = work / "extract.csv"
    cli = str(BIN / "claims-audit")
    t0 = time.perf_counter()
    subprocess.run([cli, "sample", "--lines", str(args.lines), "--out", str(extract), "--seed", str(args.seed)],
                   check=True, stdout=subprocess.DEVNULL)
    print(f"generated {args.lines:,} lines ({extract.stat().st_size / 2**20:.0f} MiB) in "
          f"{time.perf_counter() - t0:.1f} s")
    audit_cmd = [cli, "run", str(extract), "--out", str(work / "out"), "--run-date", "2026-11-20", "--quiet"]
    if "--no-ledger" in subprocess.run([cli, "run", "--help"], capture_output=True, text=True).stdout:
        audit_cmd.append("--no-ledger")
    read_cmd = [sys.executable, "-c", f"import polars; polars.read_csv({str(extract)!r}, infer_schema=False)"]
    audits, reads = [], []
    for r in range(args.rounds):
        a = measure(audit_cmd)
        b = measure(read_cmd)
        if a[2] not in (0, 1) or b[2] != 0:
            print(f"a command failed: audit exit {a[2]}, read exit {b[2]}", file=sys.stderr)
            return 1
        audits.append(a)
        reads.append(b)
        print(f"round {r + 1}: audit {a[0]:.2f} s {a[1]:.0f} MiB | plain read {b[0]:.2f} s {b[1]:.0f} MiB")
    at, am = statistics.median(a[0] for a in audits), statistics.median(a[1] for a in audits)
    rt, rm = statistics.median(b[0] for b in reads), statistics.median(b[1] for b in reads)
    print(f"median: audit {at:.2f} s / {am:.0f} MiB; plain read {rt:.2f} s / {rm:.0f} MiB")
    print(f"time ratio {at / rt:.2f} (target <= 2.0); memory ratio {am / rm:.2f} (target <= 2.0)")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"work folder kept: {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
