"""Shared test helpers: building extracts, running the CLI in-process and as a real subprocess."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from claims_audit.cli import app

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

HEADER = ["claim_id", "line_number", "member_id", "service_date", "procedure_code", "units", "modifier_1",
          "modifier_2", "rendering_npi", "place_of_service", "charge_amount", "dx_1", "dx_2",
          "documented_approach", "documented_site", "op_note"]
VALID_NPI = "1234567893"


def line(**overrides: str) -> dict[str, str]:
    """A valid clean 34421 line (leg incision, femoral vein); override any column."""
    row = {"claim_id": "C1", "line_number": "1", "member_id": "000123", "service_date": "2026-11-02",
           "procedure_code": "34421", "units": "1", "modifier_1": "LT", "modifier_2": "",
           "rendering_npi": VALID_NPI, "place_of_service": "22", "charge_amount": "2400.00",
           "dx_1": "I82.412", "dx_2": "", "documented_approach": "left groin incision",
           "documented_site": "left common femoral vein", "op_note": ""}
    row.update(overrides)
    return row


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str] | None = None,
              delimiter: str = ",", encoding: str = "utf-8") -> Path:
    header = header or HEADER
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding=encoding) as fh:
        w = csv.DictWriter(fh, fieldnames=header, delimiter=delimiter, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    header = header or HEADER
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append([r.get(h) or None for h in header])
    wb.save(path)
    return path


def read_sheet(path: Path, sheet: str, drop_blank: bool = False) -> list[dict[str, object]]:
    """Rows as dicts with every header key; `drop_blank` leaves out rows with no value at all."""
    wb = openpyxl.load_workbook(path, read_only=True)
    rows = list(wb[sheet].iter_rows(values_only=True))
    wb.close()
    head = rows[0]
    # read-only mode drops trailing empty cells of write-only sheets: pad every row to the header
    return [{h: (r[i] if i < len(r) else None) for i, h in enumerate(head)} for r in rows[1:]
            if not drop_blank or any(v is not None for v in r)]


# A second process holding the write lock of an SQLite file until its stdin closes (ledger tests).
HOLD_LOCK = """\
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
con.execute("ROLLBACK")
"""


@pytest.fixture
def cli():
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None):
        return runner.invoke(app, [str(a) for a in args], env=env)

    return invoke


def run_subprocess(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None
                   ) -> subprocess.CompletedProcess:
    """The installed console script, as a scheduler would start it."""
    exe = Path(sys.executable).parent / "claims-audit"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "claims_audit"]
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(cmd + [str(a) for a in args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=600)


def manifest(out: Path, run_date: str = "2026-11-20") -> dict:
    return json.loads((out / f"claims-audit-{run_date}.json").read_text(encoding="utf-8"))


# --- the ledger's two back ends --------------------------------------------------------------------
# A real PostgreSQL server for the whole session (tests/pgserver.py: initdb + pg_ctl on a Unix socket,
# as `nobody` when the tests run as root); each test that asks for it gets a database of its own.
# Tests that take `ledger_backend` run once per back end: "sqlite" (a file) and "postgresql" (a URL);
# mark a test `sqlite_only` when it looks at the SQLite file or the Parquet files themselves.


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: runs on the SQLite back end only (file-level checks)")


def pytest_generate_tests(metafunc):
    if "ledger_backend" in metafunc.fixturenames:
        only = metafunc.definition.get_closest_marker("sqlite_only")
        metafunc.parametrize("ledger_backend", ["sqlite"] if only else ["sqlite", "postgresql"], indirect=True)


@pytest.fixture(scope="session")
def pg_server():
    import pgserver

    binaries = pgserver.find_binaries()
    try:
        import psycopg  # noqa: F401
    except ImportError:
        binaries = None
    if binaries is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL (initdb, pg_ctl) and psycopg are required on CI: .ci/run installs them")
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) or no psycopg here")
    server = pgserver.Server(binaries).start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server) -> str:
    """A new empty database on the test server: its URL (no password; trust on the Unix socket)."""
    return pg_server.new_database()


@pytest.fixture
def ledger_backend(request, tmp_path):
    """The ledger a test uses: a file in tmp_path, or a URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return Backend("sqlite", str(tmp_path / "ledger.sqlite"))
    return Backend("postgresql", request.getfixturevalue("pg_url"))


class Backend:
    def __init__(self, kind: str, ledger: str):
        self.kind = kind
        self.ledger = ledger

    @property
    def is_server(self) -> bool:
        return self.kind == "postgresql"
