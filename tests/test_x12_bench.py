"""The 837 benchmark script runs: it generates a small 837P file, reads every line of it and reports
rows per second (the 100 MB measurement is `bench/x12_bench.py --mb 100`, see the README)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "x12_bench.py"


@pytest.mark.slow
def test_x12_bench_reads_every_generated_line():
    res = subprocess.run([sys.executable, str(SCRIPT), "--mb", "0.1"], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    assert "generated" in res.stdout and "rows/s" in res.stdout
    lines = int(res.stdout.split(" service lines")[0].split()[-1])
    assert f"read {lines} rows" in res.stdout
