"""Benchmark: the whole audit against a plain polars read of the same file, as whole processes.

    python bench/bench.py [--lines 2000000] [--rounds 3] [--stages]

Generates the extract with `claims-audit sample`, then alternates, in one run, `claims-audit run` and
`python -c "import polars; polars.read_csv(FILE, infer_schema=False)"`, measuring wall time and peak
memory (max RSS of each child via wait4). Prints the medians and the ratios the README and the closing
notes quote. Targets: time ratio <= 2.0, memory ratio <= 2.0.

`--stages` adds, in the same alternation, two processes that stop part-way through the audit, to show
where the time goes as whole processes (not profiler estimates):

* `read`: the extract read as text with its structure proven (every record has the header's number of
  fields) and its SHA-256 taken, as `claims-audit run` reads it;
* `read+validate`: the same, plus every cell checked against the layout and cast.

Like `claims-audit run`, they end with `os._exit` (the frames are not freed one by one).
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
STAGE_CODE = """\
import os, sys
from claims_audit import readers, schema, validation
layout = schema.load_layout()
raw = readers.read(readers.discover([{path!r}])[0], layout)
{validate}sys.stdout.flush()
os._exit(0)
"""


def measure(cmd: list[str]) -> tuple[float, float, int]:
    """(seconds, peak RSS in MiB, exit code) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss / 1024, proc.returncode


def stage_command(extract: Path, validate: bool) -> list[str]:
    """A process that reads the extract as the audit does (and validates it), then stops."""
    code = STAGE_CODE.format(path=str(extract), validate="validation.validate(raw, layout)\n" if validate else "")
    return [sys.executable, "-c", code]


def commands(extract: Path, out: Path, stages: bool) -> dict[str, tuple[list[str], set[int]]]:
    """name -> (command, accepted exit codes), in the order they alternate; "plain read" is the yardstick."""
    cli = str(BIN / "claims-audit")
    audit = [cli, "run", str(extract), "--out", str(out), "--run-date", "2026-11-20", "--quiet"]
    if "--no-ledger" in subprocess.run([cli, "run", "--help"], capture_output=True, text=True).stdout:
        audit.append("--no-ledger")
    cmds = {"audit": (audit, {0, 1})}
    if stages:
        cmds["read"] = (stage_command(extract, validate=False), {0})
        cmds["read+validate"] = (stage_command(extract, validate=True), {0})
    read = [sys.executable, "-c", f"import polars; polars.read_csv({str(extract)!r}, infer_schema=False)"]
    cmds["plain read"] = (read, {0})
    return cmds


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=2_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--stages", action="store_true", help="also time the read and read+validate stages")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="claims-audit-bench-"))
    try:
        return _run(args, work)
    finally:
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, work: Path) -> int:
    extract = work / "extract.csv"
    t0 = time.perf_counter()
    subprocess.run([str(BIN / "claims-audit"), "sample", "--lines", str(args.lines), "--out", str(extract),
                    "--seed", str(args.seed)], check=True, stdout=subprocess.DEVNULL)
    print(f"generated {args.lines:,} lines ({extract.stat().st_size / 2**20:.0f} MiB) in "
          f"{time.perf_counter() - t0:.1f} s")
    cmds = commands(extract, work / "out", args.stages)
    runs: dict[str, list[tuple[float, float, int]]] = {name: [] for name in cmds}
    for r in range(args.rounds):
        for name, (cmd, ok) in cmds.items():
            m = measure(cmd)
            if m[2] not in ok:
                print(f"{name} failed with exit code {m[2]}", file=sys.stderr)
                return 1
            runs[name].append(m)
        print(f"round {r + 1}: " + " | ".join(f"{n} {v[-1][0]:.2f} s {v[-1][1]:.0f} MiB" for n, v in runs.items()))
    med = {n: (statistics.median(m[0] for m in v), statistics.median(m[1] for m in v)) for n, v in runs.items()}
    rt, rm = med["plain read"]
    for name, (t, m) in med.items():
        print(f"median {name}: {t:.2f} s / {m:.0f} MiB ({t / rt:.2f}x time, {m / rm:.2f}x memory)")
    at, am = med["audit"]
    print(f"time ratio {at / rt:.2f} (target <= 2.0); memory ratio {am / rm:.2f} (target <= 2.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
