"""The command line: help for every command, documented exit codes, clean errors, real subprocess."""

from __future__ import annotations

from pathlib import Path

import pytest

from claims_audit.cli import app
from conftest import REPO, line, manifest, run_subprocess, write_csv

import typer.main


def _commands():
    group = typer.main.get_command(app)
    out = []
    for name, cmd in group.commands.items():
        out.append([name])
        for sub in getattr(cmd, "commands", {}) or {}:
            out.append([name, sub])
    return out


def test_every_command_has_help_and_is_documented(cli):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for cmd in _commands():
        res = cli(*cmd, "--help")
        assert res.exit_code == 0, cmd
        assert "Usage" in res.output
        assert f"claims-audit {' '.join(cmd)}" in readme, f"README does not document {' '.join(cmd)}"


def test_exit_codes_are_in_help_and_readme(cli):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    help_text = " ".join(cli("run", "--help").output.split())
    for code in ("0", "1", "2", "3", "4"):
        assert f"| {code} |" in readme
    assert "Exit codes: 0" in help_text


def test_version(cli):
    res = cli("--version")
    assert res.exit_code == 0 and res.output.startswith("claims-audit ")


@pytest.mark.parametrize("args", [["run", "--run-date", "2026-13-01", "x.csv"], ["run", "nope.csv"],
                                  ["run", "--mapping", "missing.yaml", "x.csv"], ["run", "--bogus"]])
def test_usage_errors_exit_2_without_traceback(tmp_path, args):
    write_csv(tmp_path / "x.csv", [line()])
    res = run_subprocess(*args, cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr + res.stdout


def test_subprocess_run_writes_report_and_exit_code(tmp_path):
    src = write_csv(tmp_path / "in.csv", [line(), line(claim_id="C2", units="-1", member_id="SECRET-MEMBER")])
    out = tmp_path / "out"
    res = run_subprocess("run", src, "--out", out, "--run-date", "2026-11-20", cwd=tmp_path)
    assert res.returncode == 1, res.stderr
    assert "SECRET-MEMBER" not in res.stdout + res.stderr
    assert manifest(out)["totals"]["rows_rejected"] == 1
    assert (out / "claims-audit-2026-11-20.xlsx").exists()


def test_schema_command_lists_columns(cli):
    res = cli("schema")
    assert res.exit_code == 0
    for col in ("claim_id", "procedure_code", "dx_12", "op_note"):
        assert col in res.output


def test_sample_command_writes_a_file_the_audit_reads(cli, tmp_path: Path):
    out = tmp_path / "s.csv"
    res = cli("sample", "--lines", "500", "--out", out, "--seed", "3")
    assert res.exit_code == 0, res.output
    res = cli("run", out, "--out", tmp_path / "r", "--run-date", "2026-11-20")
    assert res.exit_code == 0, res.output
    m = manifest(tmp_path / "r")
    assert m["totals"]["rows_read"] == 500 and m["totals"]["lines_34421"] > 0
