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
