"""Benchmark: the whole audit against a plain polars read of the same file, as whole processes.

    python bench/bench.py [--lines 2000000] [--rounds 3] [--stages]
    python bench/bench.py --lines 10000000 --rounds 1
    python bench/bench.py --scale [--scale-lines 2000000,10000000,50000000] [--rounds 1] [--ledger]

Generates the extract with `claims-audit sample`, then alternates, in one run, `claims-audit run` and
`python -c "import polars; polars.read_csv(FILE, infer_schema=False)"`, measuring wall time and peak
memory (max RSS of each child via wait4). Prints the medians and the ratios the README and the closing
notes quote. Targets (issue 13): time ratio <= 3.0 at 2M and 10M lines, peak RSS <= 2.5 GB at 10M lines
and <= 3 GB at 50M lines.

`--scale` runs the same alternation at each size of `--scale-lines` (one extract at a time, generated
into the work folder and deleted before the next: the 50M-line extract is about 5 GB) and prints one
table: audit time and peak RSS, plain-read time, time ratio, and each size's time over the previous
size's (the 50M-line run must take at most 5.5x the 10M-line run).

The audit runs with `--no-ledger` unless `--ledger` is given: then it is the default run, with the review
ledger and the claims history (a first night: the output folder is emptied before every round).

`--stages` adds, in the same alternation, two processes that stop part-way through the audit, to show
where the time goes as whole processes (not profiler estimates):

* `read`: the extract read as text in pieces (readers.read_chunks, the default piece size) with its
  structure proven (every record has the header's number of fields) and its SHA-256 taken, as
  `claims-audit run` reads it;
* `read+validate`: the same, plus every cell checked against the layout and cast.

Like `claims-audit run`, they end with `os._exit` (the frames are not freed one by one).
"""

from __future__ import annotations

import argparse
import compileall
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
from claims_audit.process import apply_runtime_settings
apply_runtime_settings()  # as the console entry point does, before polars loads
from claims_audit import readers, schema, validation
layout = schema.load_layout()
for raw in readers.read_chunks(readers.discover([{path!r}])[0], layout, None, readers.ReadOptions()):
    {validate}
sys.stdout.flush()
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
    code = STAGE_CODE.format(path=str(extract), validate="validation.validate(raw, layout)" if validate else "pass")
    return [sys.executable, "-c", code]


def commands(extract: Path, out: Path, stages: bool, ledger: bool = False) -> dict[str, tuple[list[str], set[int]]]:
    """name -> (command, accepted exit codes), in the order they alternate; "plain read" is the yardstick.
    `ledger`: the default run (review ledger and claims history, a first night: `out` is emptied before
    each round), else `--no-ledger`."""
    cli = str(BIN / "claims-audit")
    audit = [cli, "run", str(extract), "--out", str(out), "--run-date", "2026-11-20", "--quiet"]
    if not ledger and "--no-ledger" in subprocess.run([cli, "run", "--help"], capture_output=True, text=True).stdout:
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
    ap.add_argument("--scale", action="store_true", help="time and peak RSS at every size of --scale-lines")
    ap.add_argument("--scale-lines", default="2000000,10000000,50000000")
    ap.add_argument("--work", type=Path, default=None, help="folder for the extracts (default: a temporary one)")
    ap.add_argument("--ledger", action="store_true",
                    help="time the default run (review ledger and claims history, a first night) instead of --no-ledger")
    args = ap.parse_args()
    compile_package()
    work = Path(tempfile.mkdtemp(prefix="claims-audit-bench-", dir=args.work))
    try:
        return _scale(args, work) if args.scale else _run(args, work)
    finally:
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def compile_package() -> None:
    """The package's modules compiled to bytecode before anything is timed, as installing a wheel does:
    under PYTHONDONTWRITEBYTECODE (some CI images and sandboxes set it) an editable install would
    otherwise compile every module again in every timed run (about 0.05 s)."""
    import claims_audit

    compileall.compile_dir(str(Path(claims_audit.__file__).parent), quiet=1)


SAMPLE_SLICE = 10_000_000  # `claims-audit sample` holds its whole extract in memory (12+ GB at 50M lines)


def generate(lines: int, seed: int, extract: Path) -> None:
    """A `claims-audit sample` extract; past 10M lines, slices of 10M lines with successive seeds (other
    claims and members, the same mix) appended under one header."""
    t0 = time.perf_counter()
    part = extract.with_suffix(".part.csv")
    with extract.open("wb") as out:
        for k, start in enumerate(range(0, lines, SAMPLE_SLICE)):
            n = min(SAMPLE_SLICE, lines - start)
            subprocess.run([str(BIN / "claims-audit"), "sample", "--lines", str(n), "--out", str(part),
                            "--seed", str(seed + k)], check=True, stdout=subprocess.DEVNULL)
            with part.open("rb") as src:
                if k:
                    src.readline()  # the header is written once
                shutil.copyfileobj(src, out, 1 << 24)
            part.unlink()
    os.sync()  # the extract on disk before anything is timed: no writeback of it during the first run
    print(f"generated {lines:,} lines ({extract.stat().st_size / 2**20:.0f} MiB) in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)


def medians(extract: Path, out: Path, stages: bool, rounds: int, ledger: bool = False
            ) -> dict[str, tuple[float, float]] | None:
    """name -> (median seconds, median peak MiB) over `rounds` alternations; None when a process failed."""
    cmds = commands(extract, out, stages, ledger)
    runs: dict[str, list[tuple[float, float, int]]] = {name: [] for name in cmds}
    for r in range(rounds):
        for name, (cmd, ok) in cmds.items():
            if name == "audit":
                shutil.rmtree(out, ignore_errors=True)  # every round a first night (with --ledger)
            m = measure(cmd)
            if m[2] not in ok:
                print(f"{name} failed with exit code {m[2]}", file=sys.stderr)
                return None
            runs[name].append(m)
        print(f"round {r + 1}: " + " | ".join(f"{n} {v[-1][0]:.2f} s {v[-1][1]:.0f} MiB" for n, v in runs.items()),
              flush=True)
    return {n: (statistics.median(m[0] for m in v), statistics.median(m[1] for m in v)) for n, v in runs.items()}


def _run(args: argparse.Namespace, work: Path) -> int:
    extract = work / "extract.csv"
    generate(args.lines, args.seed, extract)
    med = medians(extract, work / "out", args.stages, args.rounds, args.ledger)
    if med is None:
        return 1
    rt, rm = med["plain read"]
    for name, (t, m) in med.items():
        print(f"median {name}: {t:.2f} s / {m:.0f} MiB ({t / rt:.2f}x time, {m / rm:.2f}x memory)")
    at, am = med["audit"]
    print(f"time ratio {at / rt:.2f} (target <= 3.0); audit peak RSS {am / 1024:.2f} GiB")
    return 0


def _scale(args: argparse.Namespace, work: Path) -> int:
    sizes = [int(n) for n in args.scale_lines.split(",") if n.strip()]
    table: list[tuple[int, float, float, float]] = []
    for lines in sizes:
        extract = work / f"extract-{lines}.csv"
        generate(lines, args.seed, extract)
        try:
            med = medians(extract, work / "out", False, args.rounds, args.ledger)
        finally:
            extract.unlink(missing_ok=True)
            shutil.rmtree(work / "out", ignore_errors=True)
        if med is None:
            return 1
        table.append((lines, *med["audit"], med["plain read"][0]))
    print("| lines | audit | plain read | time ratio | growth | audit peak RSS |")
    print("|---|---|---|---|---|---|")
    previous = None
    for lines, t, mib, plain in table:
        growth = f"{t / previous[1]:.2f}x for {lines / previous[0]:.0f}x lines" if previous else "-"
        print(f"| {lines:,} | {t:.1f} s | {plain:.2f} s | {t / plain:.2f}x | {growth} | {mib / 1024:.2f} GiB |")
        previous = (lines, t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
