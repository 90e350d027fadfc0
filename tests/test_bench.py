"""The benchmark script (a deliverable of its own: the README and the closing notes quote it) still runs.

A smoke run on a small extract, not a timing: the numbers of a 2,000-line file mean nothing, but every
process of the alternation must start, finish with an accepted exit code and be reported.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench.py"


def test_bench_runs_every_stage_and_prints_the_ratios() -> None:
    proc = subprocess.run([sys.executable, str(BENCH), "--lines", "2000", "--rounds", "1", "--stages"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "generated 2,000 lines" in out
    for name in ("audit", "read", "read+validate", "plain read"):
        assert re.search(rf"^median {re.escape(name)}: [\d.]+ s / \d+ MiB \([\d.]+x time, [\d.]+x memory\)$",
                         out, re.M), (name, out)
    assert re.search(r"^time ratio [\d.]+ \(target <= 3\.0\); audit peak RSS [\d.]+ GiB$", out, re.M)
    # the plain read is the yardstick: exactly 1.00x of itself
    assert re.search(r"^median plain read: .*\(1\.00x time, 1\.00x memory\)$", out, re.M)


def test_a_failing_process_fails_the_benchmark(monkeypatch, capsys) -> None:
    """A process that ends with an exit code it should not have must not yield a ratio."""
    sys.path.insert(0, str(BENCH.parent))
    try:
        import bench  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(BENCH.parent))
    ok = [sys.executable, "-c", "pass"]
    monkeypatch.setattr(bench, "commands", lambda extract, out, stages, ledger=False: {
        "audit": ([sys.executable, "-c", "raise SystemExit(4)"], {0, 1}), "plain read": (ok, {0})})
    monkeypatch.setattr(sys, "argv", ["bench.py", "--lines", "50", "--rounds", "1"])
    assert bench.main() == 1
    captured = capsys.readouterr()
    assert "audit failed with exit code 4" in captured.err
    assert "time ratio" not in captured.out


def test_scale_mode_prints_the_table() -> None:
    proc = subprocess.run([sys.executable, str(BENCH), "--scale", "--scale-lines", "1000,3000", "--rounds", "1"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = re.findall(r"^\| ([\d,]+) \| [\d.]+ s \| [\d.]+ s \| [\d.]+x \| (.+) \| [\d.]+ GiB \|$", proc.stdout, re.M)
    assert [r[0] for r in rows] == ["1,000", "3,000"], proc.stdout
    assert rows[0][1] == "-" and re.fullmatch(r"[\d.]+x for 3x lines", rows[1][1])
