"""The command line: help for every command, documented exit codes, clean errors, real subprocess."""

from __future__ import annotations

import re
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


# --- issue 18, item 9: the command line behaves as a user expects ---------------------------------


def test_no_input_creates_nothing(tmp_path):
    out = tmp_path / "reports"
    res = run_subprocess("run", tmp_path / "nonexistent", "--out", out, cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert "no input could be found" in res.stderr and "path does not exist" in res.stderr
    assert not out.exists(), "neither the output folder nor a ledger is created for a run that found nothing"
    res = run_subprocess("run", tmp_path / "nonexistent", cwd=tmp_path)  # the default --out reports/
    assert res.returncode == 2 and not (tmp_path / "reports").exists()


def test_out_naming_a_file_is_a_clear_usage_error(tmp_path):
    src = write_csv(tmp_path / "in.csv", [line()])
    target = tmp_path / "report.xlsx"
    target.write_bytes(b"not a folder")
    res = run_subprocess("run", src, "--out", target, cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip() == (f"Error: --out {target} is a file; give the folder the report should be "
                                  "written to")
    assert target.read_bytes() == b"not a folder"


def test_help_shows_flags_as_flags(cli):
    for cmd in _commands():
        res = cli(*cmd, "--help")
        assert "<bool>" not in res.output, cmd
    text = cli("run", "--help").output
    for flag in ("-q, --quiet", "--mask-member-ids", "--no-ledger", "--help"):
        assert re.search(rf"^\s+{re.escape(flag)}\s{{2,}}\S", text, re.M), flag
    assert re.search(r"^\s+--out <path>\s", text, re.M)


def test_a_workbook_whose_first_sheet_is_a_chart_reads_cleanly(tmp_path):
    import openpyxl
    from openpyxl.chart import BarChart, Reference

    from conftest import HEADER
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Lines"
    ws.append(HEADER)
    for r in (line(), line(claim_id="C2", member_id="M2")):
        ws.append([r.get(h) or None for h in HEADER])
    chart = BarChart()
    chart.add_data(Reference(ws, min_col=6, min_row=1, max_row=3))
    wb.create_chartsheet("Chart", 0).add_chart(chart)
    src = tmp_path / "with-chart.xlsx"
    wb.save(src)
    res = run_subprocess("run", src, "--out", tmp_path / "out", "--run-date", "2026-11-20", "-q", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "" and res.stderr == "", "nothing printed with -q, and no stray library line"
    entry = manifest(tmp_path / "out")["inputs"][0]
    assert (entry["status"], entry["rows_read"], entry["rows_audited"]) == ("ok", 2, 2)


def test_a_workbook_of_chart_sheets_only_is_rejected_with_that_reason(cli, tmp_path):
    import zipfile

    src = tmp_path / "charts.xlsx"
    import openpyxl
    wb = openpyxl.Workbook()
    wb.create_chartsheet("Chart")
    wb.remove(wb["Sheet"])
    wb.save(src)
    assert zipfile.is_zipfile(src)
    res = cli("run", src, "--out", tmp_path / "out", "--run-date", "2026-11-20", "--no-ledger")
    assert res.exit_code == 1, res.output
    assert manifest(tmp_path / "out")["inputs"][0]["error"] == ("workbook has no worksheet (only chart "
                                                                "sheets): no rows to read")


def _options(cmd: list[str]) -> list[str]:
    group = typer.main.get_command(app)
    command = group.commands[cmd[0]]
    for sub in cmd[1:]:
        command = command.commands[sub]
    return [opt for p in command.params for opt in getattr(p, "opts", []) if opt.startswith("--")]


def test_every_option_of_every_command_is_documented_in_the_readme_commands_table():
    """Issue 11: the README's Commands table names every option of every command (one had drifted)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Commands"):readme.index("### Exit codes")]
    rows = {line.split("`")[1]: line for line in table.splitlines() if line.startswith("| `claims-audit")}
    missing = []
    for cmd in _commands():
        prefix = f"claims-audit {' '.join(cmd)}"
        row = next((r for usage, r in rows.items() if usage == prefix or usage.startswith(prefix + " ")), None)
        if row is None:
            missing.append(prefix)
            continue
        missing += [f"{prefix} {opt}" for opt in _options(cmd) if opt not in {"--help"} and opt not in row]
    assert missing == []


def test_the_readme_module_map_lists_every_module():
    """Issue 11: the README's Development section names every module of the library with its one line."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Development"):]
    mapped = section[:section.index("```", section.index("```") + 3)]
    modules = sorted(p.name for p in (REPO / "src" / "claims_audit").glob("*.py")
                     if p.name not in {"__init__.py", "__main__.py"})
    assert [m for m in modules if m not in mapped] == []
