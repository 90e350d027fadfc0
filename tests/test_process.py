"""The process settings of the console entry point (claims_audit.process): made before polars loads,
read by the allocator polars is built with, never over a user's own, and the entry point makes them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from claims_audit import cli as cli_module
from claims_audit import process

SRC = str(process.__file__).rsplit("/claims_audit/", 1)[0]


def _python(code: str, **env: str | None) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter (polars not loaded yet), with `env` set (None: unset)."""
    environment = {k: v for k, v in os.environ.items() if k not in env}
    environment.update({k: v for k, v in env.items() if v is not None})
    environment["PYTHONPATH"] = SRC + os.pathsep + environment.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment,
                          timeout=120)


SHOW = """\
import os
from claims_audit import process
applied = process.apply_runtime_settings()
print(applied, os.environ.get(process.ALLOCATOR), os.environ.get(process.BLAS_THREADS), sep="|")
"""


def test_settings_are_made_in_a_fresh_process() -> None:
    proc = _python(SHOW, _RJEM_MALLOC_CONF=None, OPENBLAS_NUM_THREADS=None)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().split("|") == ["True", process.ALLOCATOR_SETTINGS, "1"]


def test_a_users_own_settings_come_after_ours() -> None:
    """jemalloc takes the last value of a key: the user's decay wins, and an option of theirs that is not
    ours leaves ours in force."""
    proc = _python(SHOW, _RJEM_MALLOC_CONF="dirty_decay_ms:0,", OPENBLAS_NUM_THREADS="4")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().split("|") == ["True", process.ALLOCATOR_SETTINGS + ",dirty_decay_ms:0", "4"]


def test_importing_the_cli_loads_neither_polars_nor_numpy() -> None:
    """The entry point's module chain must not load them, or the settings would come too late (and
    apply_runtime_settings would say so only by returning False, which nobody reads)."""
    proc = _python("import sys\nimport claims_audit.cli\nprint('polars' in sys.modules, 'numpy' in sys.modules)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False"]


def test_nothing_is_set_once_polars_is_loaded() -> None:
    """The allocator read its settings when polars loaded (polars writes its own defaults into the
    variable then): setting them afterwards would only mislead whoever reads the environment."""
    proc = _python("import polars\n" + SHOW, _RJEM_MALLOC_CONF=None, OPENBLAS_NUM_THREADS=None)
    assert proc.returncode == 0, proc.stderr
    applied, allocator, blas = proc.stdout.strip().split("|")
    assert (applied, blas) == ("False", "None")
    assert process.ALLOCATOR_SETTINGS not in allocator


def test_polars_allocator_reads_the_variable_set() -> None:
    """The variable's name is that of the jemalloc polars is built with: a setting it cannot parse is
    reported by jemalloc itself on stderr (a polars built with another allocator or prefix fails here,
    and the settings would be silently ignored)."""
    code = ("from claims_audit import process\n"
            "process.ALLOCATOR_SETTINGS = 'not_an_option:1'\n"
            "process.apply_runtime_settings()\n"
            "import polars as pl\n"
            "pl.DataFrame({'a': list(range(100_000))}).sum()\n")
    proc = _python(code, _RJEM_MALLOC_CONF=None)
    assert proc.returncode == 0, proc.stderr
    assert "<jemalloc>: Invalid conf pair: not_an_option:1" in proc.stderr
    # ...and the setting shipped is one it accepts
    proc = _python(SHOW + "import polars as pl\npl.DataFrame({'a': list(range(100_000))}).sum()\n",
                   _RJEM_MALLOC_CONF=None)
    assert proc.returncode == 0 and "jemalloc" not in proc.stderr, proc.stderr


def test_the_entry_point_makes_them_before_anything_runs(monkeypatch) -> None:
    order: list[str] = []
    monkeypatch.setattr(cli_module, "apply_runtime_settings", lambda: order.append("settings"))
    monkeypatch.setattr(cli_module, "_main", lambda: order.append("main"))

    def exit_(code: int) -> None:
        raise SystemExit(code)

    monkeypatch.setattr(cli_module.os, "_exit", exit_)
    with pytest.raises(SystemExit) as exc:
        cli_module.main()
    assert exc.value.code == 0
    assert order == ["settings", "main"]
