"""The nightly job's own helpers (the rest of audit.audit is covered end to end by the CLI tests)."""

from __future__ import annotations

import sys
import threading

import pytest

from claims_audit import audit


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
