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
    with pytest.raises(RuntimeError):  # nor new cells (a scratch folder nothing would remove)
        cells.add(_cells(0, 3))
    assert not list(tmp_path.glob(".claims-audit.*"))


def test_a_range_of_cells_reads_only_the_files_it_spans(tmp_path, monkeypatch):
    cells = RejectedCells(tmp_path, held_bytes=3_000)
    for i in range(12):
        cells.add(_cells(10 * i, 10))
    read = []
    real = rejected.read_part
    monkeypatch.setattr(rejected, "read_part", lambda part: read.append(part) or real(part))
    whole = pl.concat(list(cells.batches()))
    files = len(read)
    assert files == cells.files > 3
    for start, stop in ((0, 0), (0, 1), (35, 36), (17, 93), (100, 120), (119, 500), (0, 120)):
        read.clear()
        got = list(cells.batches(start, stop))
        assert_frame_equal(pl.concat(got) if got else whole.clear(), whole.slice(start, max(0, stop - start)))
        assert len(read) <= -(-(min(stop, 120) - start) // 10) + 1  # the files (or parts) it spans, no more
    cells.close()


def test_counted_cells_are_never_written(tmp_path):
    cells = RejectedCells(tmp_path, held_bytes=0, keep=False)
    for i in range(5):
        cells.add(_cells(10 * i, 10))
    mark = cells.mark()
    cells.add(_cells(50, 10))
    cells.rollback(mark)
    assert cells.height == 50 and cells.files == 0 and not list(tmp_path.iterdir())
    with pytest.raises(RuntimeError):
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
    with pytest.raises(RuntimeError) as failure:  # held: the cells are not freed with the exception
        pipeline.run([src], RUN, work_dir=tmp_path / "out")
    assert "the rules failed" in str(failure.value)
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


@pytest.mark.slow
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


def _hostile_cells(rows: int) -> pl.DataFrame:
    """Cells holding what a Rejected sheet must make safe: member ids (masked with --mask-member-ids),
    empty values, formula-like text, an error literal, control characters, an emoji, a cell past Excel's
    limit."""
    kinds = [("member_id", lambda i: f"M{i:07d}"), ("member_id", lambda i: None),
             ("units", lambda i: "=1+1" if i % 2 else "@x"), ("dx_1", lambda i: "bad\x01ctl" if i > rows - 400 else "ok"),
             ("units", lambda i: "x" * (40_000 if i == rows - 100 else i % 50)),
             ("service_date", lambda i: "2026-13-01 😀"), ("procedure_code", lambda i: "#N/A")]
    columns = [kinds[i % len(kinds)][0] for i in range(rows)]
    values = [kinds[i % len(kinds)][1](i) for i in range(rows)]
    return pl.DataFrame({"source_file": ["in.csv"] * rows, "source_row": list(range(2, rows + 2)), "column": columns,
                         "value": values, "problem": [f"problem {i % 13}" for i in range(rows)],
                         "outcome": ["row rejected"] * rows}, schema=REJECTED_SCHEMA)


@pytest.mark.parametrize("mask", [False, True])
def test_hostile_cells_spilled_over_many_files_give_the_sheets_of_one_frame(tmp_path, monkeypatch, mask):
    """The same cells held as one frame and spilled over many small files, over overflow sheets: every
    Rejected sheet byte for byte the same; masked, no member id in clear anywhere in the workbook; each
    file read a bounded number of times (the cleaning pass, then the measures and rows of its sheets)."""
    from claims_audit.report import write_reports

    monkeypatch.setenv(MASK_KEY_ENV, "k" * 24)
    monkeypatch.setattr(excel, "DATA_ROWS_PER_SHEET", 1000)
    clean = tmp_path / "clean.csv"
    sample.write(sample.generate(200, seed=3), clean)
    result = pipeline.run([clean], RUN)
    frame = _hostile_cells(2500)
    spilled = RejectedCells(tmp_path, held_bytes=6_000)
    for start in range(0, frame.height, 173):
        spilled.add(frame.slice(start, 173))
    assert spilled.files > 10
    read = []
    real = rejected.read_part
    monkeypatch.setattr(rejected, "read_part", lambda part: read.append(part) or real(part))
    sheets = {}
    for name, cells in (("one", RejectedCells.of(frame)), ("spilled", spilled)):
        result.rejected_cells = cells
        paths = write_reports(result, tmp_path / name, mask=mask)
        sheets[name] = _sheets(paths.xlsx, "Rejected")
        with zipfile.ZipFile(paths.xlsx) as z:
            clear = sum(z.read(item).count(b"M0000007") for item in z.namelist())
        assert (clear == 0) if mask else (clear > 0)
    assert list(sheets["one"]) == ["Rejected", "Rejected 2", "Rejected 3"]
    assert sheets["spilled"] == sheets["one"]
    files = [p for p in read if isinstance(p, Path)]
    reads = {p: files.count(p) for p in set(files)}
    assert len(reads) == spilled.files and max(reads.values()) <= 5  # 1 + 2 per sheet it spans (at most 2)
    spilled.close()


def test_a_file_whose_checksum_cannot_be_read_is_rejected_whole_with_nothing_kept(tmp_path, monkeypatch):
    """Read, then its checksum fails (the file went away): the file is rejected as a whole, its lines and
    cells forgotten, and the run reconciles."""
    path = tmp_path / "night.parquet"
    sample.generate(300, seed=2, bad_fraction=0.1).write_parquet(path)
    other = _damaged(tmp_path / "in", lines=200)

    def unreadable(p):
        if Path(p) == path:
            raise OSError(5, "Input/output error")
        return real(p)
    real = pipeline.sha256
    monkeypatch.setattr(pipeline, "sha256", unreadable)
    result = pipeline.run([path, other], RUN)
    night, damaged = result.inputs
    assert night.status == "rejected" and "cannot be read" in night.error and night.rows_audited == 0
    assert damaged.rows_read == 200 and result.totals["rows_audited"] == damaged.rows_audited
    cells = result.rejected
    assert cells.filter(pl.col("source_file") == str(path)).get_column("outcome").to_list() == ["file rejected"]
    result.close()


def test_a_history_back_fill_writes_no_rejected_cell(tmp_path, monkeypatch):
    """The back-fill counts rejected rows and lists none: no cell is ever written, however many."""
    monkeypatch.setattr(rejected, "DEFAULT_HELD_BYTES", 0)
    spills = []
    real = RejectedCells._spill
    monkeypatch.setattr(RejectedCells, "_spill", lambda self: spills.append(1) or real(self))
    src = _damaged(tmp_path / "in", lines=1500)
    summaries, lines = pipeline.read_inputs([src], work_dir=tmp_path / "out")
    assert summaries[0].rows_rejected > 100 and spills == []
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
