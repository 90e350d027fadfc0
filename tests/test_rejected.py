"""The rejected cells of a run (claims_audit.rejected): held up to a budget, past it in files, read back in
order, and the Rejected sheet written from them batch by batch is the sheet of cells held in memory."""

from __future__ import annotations

import datetime as dt
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from claims_audit import audit, pipeline, rejected, sample
from claims_audit.rejected import REJECTED_SCHEMA, RejectedCells
from claims_audit.report import MASK_KEY_ENV, excel, sheetxml
from test_streaming import MEASURE

RUN = dt.date(2026, 11, 20)


def _cells(start: int, rows: int) -> pl.DataFrame:
    return pl.DataFrame({"source_file": ["a.csv"] * rows, "source_row": list(range(start, start + rows)),
                         "column": ["units"] * rows, "value": [f"x{i}" for i in range(start, start + rows)],
                         "problem": ["not a whole number"] * rows, "outcome": ["row rejected"] * rows},
                        schema=REJECTED_SCHEMA)


def test_cells_past_the_budget_go_to_files_and_come_back_in_order(tmp_path):
    cells = RejectedCells(tmp_path, held_bytes=4_000)
    frames = [_cells(10 * i, 10) for i in range(12)]
    for frame in frames:
        cells.add(frame)
    cells.add(_cells(999, 0))  # nothing added
    assert cells.files > 1 and cells.height == 120
    assert cells.peak_held <= 4_000 + rejected.held_bytes(frames[0])  # never more than one piece past it
    assert_frame_equal(cells.frame(), pl.concat(frames))
    assert sum(b.height for b in cells.batches()) == 120
    [scratch] = tmp_path.glob(".claims-audit.*.scratch")  # the output folder's kind of scratch, owner-only
    assert stat.S_IMODE(scratch.stat().st_mode) == 0o700 and list(scratch.glob("rejected-*.arrow"))
    cells.close()
    assert not list(tmp_path.glob(".claims-audit.*"))
    with pytest.raises(RuntimeError):  # never a part of the cells once their files are gone
        cells.frame()


@pytest.mark.parametrize("mark", [0, 7, 30, 35, 58, 60])
def test_rollback_forgets_what_came_after_the_mark_wherever_it_is(tmp_path, mark):
    cells = RejectedCells(tmp_path, held_bytes=3_000)
    frames = [_cells(10 * i, 10) for i in range(6)]
    for frame in frames:
        cells.add(frame)
    assert cells.files
    before = cells.frame()
    cells.rollback(mark)
    assert cells.height == mark
    assert_frame_equal(cells.frame(), before.head(mark))
    cells.add(_cells(500, 25))  # and goes on from there
    assert_frame_equal(cells.frame(), pl.concat([before.head(mark), _cells(500, 25)]))
    cells.close()


def _damaged(folder: Path, lines: int = 3000, seed: int = 5) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "damaged.csv"
    sample.write(sample.generate(lines, seed=seed, bad_fraction=1.0), path)
    return path


def _sheets(path: Path, prefix: str) -> dict[str, bytes]:
    """The XML of every sheet whose name starts with `prefix`, by sheet name."""
    import openpyxl
    names = openpyxl.load_workbook(path, read_only=True).sheetnames
    with zipfile.ZipFile(path) as z:
        parts = sheetxml._sheet_paths(z)
        return {n: z.read(p) for n, p in zip(names, parts) if n.startswith(prefix)}


@pytest.mark.parametrize("mask", [False, True])
def test_a_spilled_rejected_sheet_is_the_sheet_of_held_cells(tmp_path, monkeypatch, mask):
    """A damaged extract (a bad cell in most rows) with the cells spilled in small files, over overflow
    sheets, masked or not: every Rejected sheet byte for byte as with the cells held, and no file left."""
    monkeypatch.setenv(MASK_KEY_ENV, "k" * 24)
    monkeypatch.setenv(pipeline.CHUNK_ENV, "20000")  # pieces of about 200 rows: cells added piece by piece
    monkeypatch.setattr(excel, "DATA_ROWS_PER_SHEET", 1000)  # the cells continue on 'Rejected 2', ...
    src = _damaged(tmp_path / "in")
    sheets, real_close = {}, RejectedCells.close
    for name, budget in (("held", 1 << 40), ("spilled", 8_000)):
        monkeypatch.setattr(rejected, "DEFAULT_HELD_BYTES", budget)
        files = []

        def close(self, files=files):
            files.append(self.files)
            real_close(self)
        monkeypatch.setattr(RejectedCells, "close", close)
        out = tmp_path / name
        run = audit.audit([src], out=out, run_date=RUN, no_ledger=True, mask=mask)
        assert files and (files[0] > 10 if name == "spilled" else files[0] == 0)
        assert not list(out.glob(".claims-audit.*"))  # the cells' scratch folder is gone with the run
        sheets[name] = _sheets(run.paths.xlsx, "Rejected")
    assert len(sheets["held"]) >= 2 and sheets["spilled"] == sheets["held"]


def test_a_failed_run_leaves_no_rejected_cell_file(tmp_path, monkeypatch):
    monkeypatch.setattr(rejected, "DEFAULT_HELD_BYTES", 8_000)
    src = _damaged(tmp_path / "in", lines=1500)

    def broken(*args, **kwargs):
        raise RuntimeError("the rules failed")
    monkeypatch.setattr(pipeline, "_rules_by_group", broken)
    with pytest.raises(RuntimeError):
        pipeline.run([src], RUN, work_dir=tmp_path / "out")
    assert not list((tmp_path / "out").glob(".claims-audit.*"))


def _peak_mib(extract: Path, out: Path, held_bytes: int) -> tuple[float, int]:
    """(peak RSS in MiB, exit code) of a real `claims-audit run` whose rejected cells are held up to
    `held_bytes`."""
    launch = (f"import sys; import claims_audit.rejected as r; r.DEFAULT_HELD_BYTES = {held_bytes}; "
              "from claims_audit.cli import _main; sys.argv[0] = 'claims-audit'; _main()")
    proc = subprocess.run([sys.executable, "-c", MEASURE, str(out.with_suffix(".stdout")), sys.executable, "-c",
                           launch, "run", str(extract), "--out", str(out), "--run-date", "2026-11-20",
                           "--no-ledger"], env=dict(os.environ, **{pipeline.CHUNK_ENV: str(2 << 20)}), capture_output=True, text=True, check=True)
    code, peak_kib = (int(v) for v in proc.stdout.split())
    return peak_kib / 1024, code


def test_many_rejected_cells_take_no_more_memory_than_their_budget(tmp_path):
    """A moderate damaged extract (1,000,000 rows, about 880,000 rejected cells) read in 2 MiB pieces as
    real processes: with the cells held in memory the run needs far more than with them in files past a
    4 MiB budget (the cells cost about 90 bytes each in memory)."""
    extract = tmp_path / "damaged.csv"
    subprocess.run([sys.executable, "-m", "claims_audit", "sample", "--lines", "1000000", "--out", str(extract),
                    "--seed", "4", "--bad-fraction", "1.0"], check=True, stdout=subprocess.DEVNULL)
    held, held_code = _peak_mib(extract, tmp_path / "held", 1 << 40)
    spilled, spilled_code = _peak_mib(extract, tmp_path / "spilled", 4 << 20)
    assert held_code == spilled_code == 1  # rows rejected
    assert spilled < held - 40, (held, spilled)  # measured: about 520 MiB held, 445 MiB in files
