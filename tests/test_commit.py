"""The write protocol (commit.py): report files and the ledger change together or not at all, whatever
fails or whenever the process is killed, and a killed run's leftovers are cleaned up by the next run."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from claims_audit import commit
from claims_audit.commit import FAULT_ENV
from conftest import line, run_subprocess, write_csv
from report_reading import summary_items

DAY = "2026-11-20"
OTHER_DAY = "2026-11-21"


def extract(path: Path, lines: int) -> Path:
    """`lines` claim lines; every second one percutaneous (a finding each)."""
    rows = [line(claim_id=f"C{n}", member_id=f"M{n}",
                 documented_approach="percutaneous" if n % 2 else "left groin incision")
            for n in range(lines)]
    return write_csv(path, rows)


def summary_item(xlsx: Path, item: str) -> object:
    return summary_items(xlsx).get(item)


def ledger_run_id(ledger: Path, day: str) -> str | None:
    con = sqlite3.connect(ledger)
    try:
        row = con.execute("SELECT run_id FROM runs WHERE run_date = ?", (day,)).fetchone()
        return row[0] if row else None
    finally:
        con.close()


def files(out: Path) -> dict[str, bytes]:
    """The report files (not the ledger, whose WAL files come and go, nor the claims-history folder,
    whose files are history exactly when the ledger lists them: see `assert_agree`)."""
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())
            if "ledger" not in p.name and not p.name.startswith(".") and p.is_file()}


def history_listed_and_present(out: Path) -> None:
    """Every history file the ledger's catalog lists exists (unlisted ones are leftovers, not history)."""
    path = out / "claims-audit-ledger.sqlite"
    if not path.exists():
        return
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = {t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        listed = [f for (f,) in con.execute("SELECT file FROM history_batches")] if "history_batches" in tables else []
    finally:
        con.close()
    assert all((out / "claims-audit-history" / f).exists() for f in listed), listed


def hidden(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.startswith("."))


def assert_agree(out: Path, day: str) -> None:
    """The report of `day` in `out` is the run the ledger recorded for that date (or neither exists)."""
    history_listed_and_present(out)
    xlsx = out / f"claims-audit-{day}.xlsx"
    recorded = ledger_run_id(out / "claims-audit-ledger.sqlite", day)
    if not xlsx.exists():
        assert recorded is None and not (out / f"claims-audit-{day}.json").exists()
        return
    import json
    manifest = json.loads((out / f"claims-audit-{day}.json").read_text(encoding="utf-8"))
    assert summary_item(xlsx, "run_id") == manifest["run_id"] == recorded


def run(cli, src: Path, out: Path, day: str = DAY, *extra: str):
    return cli("run", src, "--out", out, "--run-date", day, "--quiet", *extra)


# --- failures inside one process ------------------------------------------------------------------


@pytest.mark.parametrize("day", [DAY, OTHER_DAY], ids=["same-date", "new-date"])
def test_a_failed_ledger_commit_restores_the_previous_report(cli, tmp_path, monkeypatch, day):
    out = tmp_path / "out"
    assert run(cli, extract(tmp_path / "a.csv", 4), out).exit_code == 0
    before = files(out)
    from claims_audit.ledger import Ledger
    real = Ledger.record_run

    def record_then_break_the_commit(self, *args, **kwargs):
        view = real(self, *args, **kwargs)
        # a deferred foreign-key violation: the real COMMIT fails, after the report files were renamed
        self.connection.execute("PRAGMA defer_foreign_keys = ON")
        self.connection.execute("INSERT INTO run_findings VALUES ('1999-01-01', 'x', 'r', 'e', 'fp', 'new', NULL, 0)")
        return view

    monkeypatch.setattr(Ledger, "record_run", record_then_break_the_commit)
    res = run(cli, extract(tmp_path / "a.csv", 30), out, day)
    assert res.exit_code == 3, res.output
    assert "ledger" in res.output and "cannot be written" in res.output
    assert files(out) == before, "the previous report is back, the new one is gone"
    assert hidden(out) == []
    assert_agree(out, DAY)
    assert_agree(out, day)


def test_a_failed_rename_leaves_report_and_ledger_as_they_were(cli, tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert run(cli, extract(tmp_path / "a.csv", 4), out).exit_code == 0
    before = files(out)
    real = os.replace
    calls = []

    def second_rename_fails(src, dst):
        calls.append(dst)
        if str(dst).endswith(".json") and not str(src).endswith(".bak"):
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(commit.os, "replace", second_rename_fails)
    res = run(cli, extract(tmp_path / "a.csv", 30), out)
    assert res.exit_code == 3, res.output
    assert "report cannot be written" in res.output and "No space left" in res.output
    assert files(out) == before  # the workbook, already renamed, was put back
    assert hidden(out) == []
    assert_agree(out, DAY)


# --- killed processes -----------------------------------------------------------------------------


@pytest.mark.parametrize("step, new_report_wins", [("staged", False), ("published", False),
                                                   ("committed", True)])
def test_a_run_killed_at_each_step_is_settled_by_the_next_run(tmp_path, step, new_report_wins):
    out = tmp_path / "out"
    src = extract(tmp_path / "a.csv", 4)
    assert run_subprocess("run", src, "--out", out, "--run-date", DAY, "-q").returncode == 0
    before = files(out)
    extract(tmp_path / "a.csv", 30)
    killed = run_subprocess("run", src, "--out", out, "--run-date", DAY, "-q", env={FAULT_ENV: step})
    assert killed.returncode == -signal.SIGKILL
    assert hidden(out), "the killed run left its files behind (as a real kill would)"
    after_kill = files(out)
    # the next run into the folder settles it before doing anything else (even one that finds no input)
    nothing = run_subprocess("run", tmp_path / "missing.csv", "--out", out, "--run-date", OTHER_DAY)
    assert nothing.returncode == 2
    assert hidden(out) == [], "temporary files, backups, journal and lock are all gone"
    if new_report_wins:  # the ledger committed: the new report stays, its backups go
        assert files(out) == after_kill != before
    else:
        assert files(out) == before
    assert_agree(out, DAY)


def test_a_run_killed_while_the_workbook_is_being_written(tmp_path):
    """No hook: a real run with a large report is killed -9 as soon as its partial file appears."""
    out = tmp_path / "out"
    out.mkdir()
    src = extract(tmp_path / "big.csv", 30_000)
    exe = Path(sys.executable).parent / "claims-audit"
    proc = subprocess.Popen([str(exe), "run", str(src), "--out", str(out), "--run-date", DAY, "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            partial = [p for p in out.iterdir() if p.name.endswith((".tmp", ".splice"))
                       and ".xlsx." in p.name]
            if partial:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.002)
        proc.wait(30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    if proc.returncode != -signal.SIGKILL:
        pytest.fail("the run finished before its partial workbook was seen; make the extract larger")
    assert any(p.name.endswith((".tmp", ".splice")) for p in out.iterdir())
    small = extract(tmp_path / "small.csv", 2)
    res = run_subprocess("run", small, "--out", out, "--run-date", OTHER_DAY, "-q")
    assert res.returncode == 0, res.stderr
    assert hidden(out) == []
    assert not (out / f"claims-audit-{DAY}.xlsx").exists()
    assert_agree(out, DAY)
    assert_agree(out, OTHER_DAY)


def test_files_of_a_live_transaction_are_left_alone(tmp_path):
    out = tmp_path / "out"
    with commit.OutputTransaction(out) as tx:
        tx.stage(out / "claims-audit-2026-11-20.json", lambda p: p.write_text("{}"))
        assert commit.recover(out, lambda journal: False) == []
        assert (out / f".claims-audit-2026-11-20.json.{tx.run_id}.tmp").exists()
    assert hidden(out) == []


def test_leftovers_of_older_versions_are_removed(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for name in (".claims-audit-2026-11-20.xlsx.abc123.tmp", "..claims-audit-2026-11-20.xlsx.x1.tmp.y2.splice"):
        (out / name).write_bytes(b"member ids")
    (out / ".keep-me").write_text("not ours")
    commit.recover(out, lambda journal: False)
    assert hidden(out) == [".keep-me"]


# --- a full disk ----------------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path):
    """A 3 MB tmpfs (CI runs as root); skipped, saying why, where mounting is not allowed."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command: the disk-full test needs a tiny tmpfs")
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root in a privileged environment): "
                    f"{res.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _fill(disk: Path, leave: int) -> Path:
    filler = disk / "filler"
    filler.unlink(missing_ok=True)
    st = os.statvfs(disk)
    free = st.f_bavail * st.f_frsize
    with filler.open("wb") as fh:
        with contextlib.suppress(OSError):
            fh.write(b"\0" * max(0, free - leave))
    return filler


@pytest.mark.parametrize("day", [DAY, OTHER_DAY], ids=["same-date", "new-date"])
def test_disk_full_at_every_point_keeps_report_and_ledger_in_agreement(cli, tmp_path, tiny_disk, day):
    out = tiny_disk / "reports"
    assert run(cli, extract(tmp_path / "a.csv", 6), out).exit_code == 0
    big = extract(tmp_path / "b.csv", 400)
    outcomes, messages = [], set()
    for leave in (0, 4_096, 16_384, 28_672, 65_536, 98_304, 131_072, 163_840, 196_608, 229_376, 262_144,
                  524_288, 1_048_576):
        before = files(out)
        filler = _fill(tiny_disk, leave)
        res = run(cli, big, out, day)
        filler.unlink()
        outcomes.append(res.exit_code)
        messages.add(res.output.strip())
        assert res.exit_code in (0, 3), res.output
        assert "Traceback" not in res.output and "cannot rollback" not in res.output
        if res.exit_code == 3:
            assert res.output.startswith("Error: ") and ("ledger" in res.output or "report" in res.output)
            assert files(out) == before, f"{leave} bytes free: the previous report is intact"
        assert hidden(out) == [], f"{leave} bytes free: {hidden(out)}"
        assert_agree(out, DAY)
        assert_agree(out, day)
        con = sqlite3.connect(out / "claims-audit-ledger.sqlite")
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()
    print("exit codes by free space:", outcomes, messages)
    assert 3 in outcomes and 0 in outcomes, f"the disk was full at some points only: {outcomes}"
