"""Benchmark of the Spark engine (issue 20): `claims-audit run --engine spark --master local[2]` against the
default engine on the same extract, as whole processes, with memory per kind of process.

The extract (`claims_audit.sample.generate`, LINES lines) is written as FILES CSV files of equal size in
one folder (Spark reads one file per task, so one file would use one core); both engines audit that
folder with `--no-ledger`. While a run lasts, its process tree is sampled every 0.2 s and each process's
peak resident memory (VmHWM) kept: for the Spark run, the driver's Python process, the JVM (Spark's driver
and, in local mode, its executors) and the Python workers (the largest one, and the sum of their peaks: at
most that many bytes were resident in workers at once).

    python bench/spark_bench.py --lines 2000000 --files 8 --rounds 1
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
RUN_DATE = "2026-11-20"


def write_extract(folder: Path, lines: int, files: int) -> int:
    """LINES generated lines as FILES CSV files (members' lines spread over several files); bytes written."""
    from claims_audit import sample

    frame = sample.generate(lines, seed=20)
    step = -(-lines // files)
    for n in range(files):
        sample.write(frame.slice(n * step, step), folder / f"part-{n:03d}.csv")
    return sum(p.stat().st_size for p in folder.iterdir())


def _tree(root: int) -> list[int]:
    """root and every descendant process (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _peak(pid: int) -> tuple[str, int] | None:
    """(kind, VmHWM in KiB) of one process: python driver, jvm or python worker."""
    try:
        with open(f"/proc/{pid}/status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    hwm = int(status.get("VmHWM", "0 kB").split()[0])
    kind = "jvm" if "java" in status.get("Name", "") or " org.apache.spark" in cmd else (
        "worker" if "pyspark" in cmd and ("daemon" in cmd or "worker" in cmd) else "driver")
    return kind, hwm


def measure(cmd: list[str]) -> dict[str, float]:
    """Wall time, exit code and peak memory (MiB) per kind of process of one run."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peaks: dict[int, tuple[str, int]] = {}
    while proc.poll() is None:
        for pid in _tree(proc.pid):
            seen = _peak(pid)
            if seen is not None and seen[1] >= peaks.get(pid, ("", -1))[1]:
                peaks[pid] = seen
        time.sleep(0.2)
    elapsed = time.perf_counter() - start
    by_kind: dict[str, list[int]] = {}
    for kind, hwm in peaks.values():
        by_kind.setdefault(kind, []).append(hwm)
    mib = {k: [v / 1024 for v in vs] for k, vs in by_kind.items()}
    return {"seconds": elapsed, "exit": proc.returncode, "driver": max(mib.get("driver", [0])),
            "jvm": max(mib.get("jvm", [0])), "worker_max": max(mib.get("worker", [0])),
            "worker_sum": sum(mib.get("worker", [0])), "workers": len(mib.get("worker", []))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=2_000_000)
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--work", type=Path, default=None, help="folder for the extract (default: a temporary one)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="claims-audit-spark-bench-", dir=args.work))
    try:
        extract = work / "extract"
        extract.mkdir()
        size = write_extract(extract, args.lines, args.files)
        print(f"generated {args.lines:,} lines in {args.files} CSV files, {size / 2**20:.0f} MiB")
        cli = str(BIN / "claims-audit")
        base = [cli, "run", str(extract), "--run-date", RUN_DATE, "--no-ledger", "--quiet"]
        runs = {"default engine": [*base, "--out", str(work / "local")],
                f"spark {args.master}": [*base, "--out", str(work / "spark"), "--engine", "spark",
                                         "--master", args.master]}
        env_note = os.environ.get("PYSPARK_PYTHON") or sys.executable
        print(f"python workers: {env_note}; load average before: {os.getloadavg()[0]:.1f}")
        for _ in range(args.rounds):
            for name, cmd in runs.items():
                m = measure(cmd)
                if m["exit"] not in (0, 1):
                    print(f"{name} failed with exit code {m['exit']}")
                    return 1
                print(f"{name}: {m['seconds']:.1f} s; driver {m['driver']:.0f} MiB, JVM {m['jvm']:.0f} MiB, "
                      f"{m['workers']} Python workers (largest {m['worker_max']:.0f} MiB, sum of peaks "
                      f"{m['worker_sum']:.0f} MiB); load average {os.getloadavg()[0]:.1f}")
        manifests = [json.loads((work / d / f"claims-audit-{RUN_DATE}.json").read_text()) for d in ("local", "spark")]
        same = all(manifests[0][k] == manifests[1][k] for k in ("totals", "inputs", "findings_by_rule"))
        print(f"same totals, inputs and findings per rule: {same} ({manifests[1]['totals']['findings']:,} findings)")
        return 0 if same else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
