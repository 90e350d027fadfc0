"""The nightly job's own helpers (the rest of audit.audit is covered end to end by the CLI tests)."""

from __future__ import annotations

import sys
import threading

import pytest

from claims_audit import audit
from hostile import sheet_names, sheet_rows


def _wait_for_imports() -> None:
    for thread in threading.enumerate():
        if thread.name.startswith("import "):
            thread.join(10)


def test_a_background_import_loads_the_module_and_a_failing_one_prints_nothing(capfd, monkeypatch, tmp_path):
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    audit._import_in_background("colorsys")
    broken = tmp_path / "claims_audit_broken_module.py"
    broken.write_text("raise RuntimeError('broken on import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    audit._import_in_background("claims_audit_broken_module")
    _wait_for_imports()
    assert "colorsys" in sys.modules
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # no traceback from the thread


def test_a_missing_module_fails_at_once():
    with pytest.raises(ModuleNotFoundError):
        audit._import_in_background("claims_audit_no_such_module")


@pytest.mark.parametrize("no_ledger, stages", [
    (True, ["rules", "report"]),
    (False, ["rules", "ledger and history", "report"]),
])
def test_the_stages_after_reading_are_shown_in_order_with_the_rows_read(tmp_path, no_ledger, stages):
    import datetime as dt

    from claims_audit import pipeline
    from conftest import line, write_csv

    path = write_csv(tmp_path / "a.csv", [line(claim_id=f"C{i}") for i in range(5)])
    events: list[pipeline.ProgressEvent] = []
    audit.audit([path], out=tmp_path / "out", run_date=dt.date(2026, 11, 20), no_ledger=no_ledger,
                progress=events.append)
    after = [e for e in events if e.stage != "reading"]
    assert [e.stage for e in after] == stages
    assert all(e.rows == 5 for e in after)


def test_every_stage_shows_the_rows_the_summaries_count_when_a_file_is_rejected_whole(tmp_path, monkeypatch):
    """A Parquet input whose checksum fails once it is read is rejected whole (none of its rows counted):
    the rows shown after reading are those of the summaries, at every stage."""
    import datetime as dt

    from claims_audit import pipeline, sample
    from conftest import line, write_csv

    night = tmp_path / "night.parquet"
    sample.generate(300, seed=2).write_parquet(night)
    other = write_csv(tmp_path / "a.csv", [line(claim_id=f"C{i}") for i in range(5)])
    real = pipeline.sha256
    monkeypatch.setattr(pipeline, "sha256", lambda p: (_ for _ in ()).throw(OSError(5, "I/O error"))
                        if str(p) == str(night) else real(p))
    events: list[pipeline.ProgressEvent] = []
    done = audit.audit([night, other], out=tmp_path / "out", run_date=dt.date(2026, 11, 20), no_ledger=True,
                       progress=events.append)
    assert done.result.inputs[0].status == "rejected" and done.result.totals["rows_read"] == 5
    assert [e.rows for e in events if e.stage != "reading"] == [5, 5]


def test_a_failing_close_still_removes_every_scratch_folder(tmp_path, monkeypatch):
    """The ledger's close fails after the report is written: the rejected cells' files (spilled) and the
    run's scratch folders are removed all the same."""
    import datetime as dt

    from claims_audit import ledger, pipeline, rejected, sample

    monkeypatch.setattr(rejected, "DEFAULT_HELD_BYTES", 4_000)
    monkeypatch.setenv(pipeline.CHUNK_ENV, "20000")
    path = tmp_path / "damaged.csv"
    sample.write(sample.generate(2_000, seed=5, bad_fraction=1.0), path)
    real = ledger.Ledger.close

    def failing(self):
        real(self)
        raise RuntimeError("close failed")
    monkeypatch.setattr(ledger.Ledger, "close", failing)
    spills = []
    real_spill = rejected.RejectedCells._spill
    monkeypatch.setattr(rejected.RejectedCells, "_spill", lambda self: spills.append(1) or real_spill(self))
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="close failed") as failure:  # held: nothing freed by the exception
        audit.audit([path], out=out, run_date=dt.date(2026, 11, 20))
    assert failure.value is not None and len(spills) > 3
    assert (out / "claims-audit-2026-11-20.xlsx").exists()
    assert not list(out.glob(".claims-audit.*"))


def test_memory_limit_scales_every_budget():
    """--memory-limit sets the piece size, the kept lines' budget and the rejected cells' budget (a
    tenth of the kept lines', as by default); without it, the rejected cells keep their default."""
    from claims_audit import pipeline, retained

    assert pipeline.memory_settings(None) == (pipeline.DEFAULT_CHUNK_BYTES, retained.DEFAULT_BUDGET_BYTES, None)
    chunk, kept, cells = pipeline.memory_settings(1200 << 20)
    assert (chunk, kept, cells) == (30 << 20, 200 << 20, 20 << 20)
    assert pipeline.memory_settings(64 << 20)[2] == 4 << 20  # never below 4 MiB


def test_memory_limit_spills_the_rejected_cells_sooner(tmp_path, monkeypatch):
    """A damaged night of about 5 MB of rejected cells: held whole by default (64 MiB), in files under
    --memory-limit 64M (4 MiB); the same Rejected rows either way."""
    import datetime as dt

    from claims_audit import rejected, sample

    path = tmp_path / "damaged.csv"
    sample.write(sample.generate(30_000, seed=5, bad_fraction=1.0), path)
    spills: list[int] = []
    real_spill = rejected.RejectedCells._spill
    monkeypatch.setattr(rejected.RejectedCells, "_spill", lambda self: spills.append(1) or real_spill(self))
    frames = []
    for limit in (None, 64 << 20):
        spills.clear()
        done = audit.audit([path], out=tmp_path / f"out-{limit}", run_date=dt.date(2026, 11, 20), no_ledger=True,
                           memory_limit=limit)
        assert done.result.rejected_cells.peak_held > 4 << 20
        assert len(spills) == (0 if limit is None else 1), (limit, spills)
        assert [n for n in sheet_names(done.paths.xlsx) if n.startswith("Rejected")] == ["Rejected"]  # all on one
        frames.append(sheet_rows(done.paths.xlsx, "Rejected"))
    assert frames[0] == frames[1] and len(frames[0]) > 25_000
