"""Where member ids live (issue 17): with --mask-member-ids no file a run writes holds a raw member id
(every workbook part, the manifest, the ledger's rows); without it they appear only in the cells the
README's Privacy section names; never on the console.

The inputs are the README's samples plus a claim-edit-heavy synthetic extract (PTP, MUE and duplicate
findings are the ones whose evidence used to name the member) and a file whose member_id cell is rejected.
Each night is followed by a review import, so the ledger holds decisions and the next night a Closed sheet.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from claims_audit import sample
from claims_audit.report import MASK_KEY_ENV
from conftest import REPO, line, run_subprocess, write_csv
from phi_scan import hits_anywhere, hits_outside_allowed, member_ids, pattern

KEY = "phi-scan-key-of-at-least-16-chars"
NIGHTS = ("2026-11-20", "2026-11-21")
REJECTED_MEMBER = "MBR55501"  # the visible part of a member_id cell rejected for its line break


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("phi-in")
    edits = folder / "edits.csv"
    sample.write(sample.generate(3000, seed=3), edits)
    bad = write_csv(folder / "bad-member.csv", [
        line(claim_id="CB1", member_id=f"{REJECTED_MEMBER}\nX"),
        line(claim_id="CB2", member_id="MBR55502", procedure_code="37187", modifier_1="LT"),
        line(claim_id="CB3", member_id="MBR55502"),
    ])
    samples = sorted((REPO / "sample_claims").glob("claims_*"))
    return [*samples, edits, bad]


def _ids(inputs: list[Path]) -> set[str]:
    return member_ids(inputs) | {REJECTED_MEMBER}


def _review(report: Path, desk: Path) -> Path:
    """A reviewer closes the first findings and notes a few more (the notes hold no member ids)."""
    wb = openpyxl.load_workbook(report)
    ws = wb["Findings"]
    header = [c.value for c in ws[1]]
    at = {name: header.index(name) for name in ("disposition", "reviewer_note")}
    for n, row in enumerate(ws.iter_rows(min_row=2, max_row=41)):
        row[at["disposition"]].value = "Not an error" if n < 20 else "Confirmed"
        row[at["reviewer_note"]].value = f"checked by the team, case {n}"
    desk.mkdir(parents=True, exist_ok=True)
    reviewed = desk / f"reviewed-{report.name}"
    wb.save(reviewed)
    return reviewed


def _two_nights(cli, inputs: list[Path], out: Path, desk: Path, *extra: str, env=None) -> list[str]:
    """Run two nights with an import in between; returns everything printed."""
    printed = []
    for night in NIGHTS:
        res = cli("run", *inputs, "--out", out, "--run-date", night, *extra, env=env)
        assert res.exit_code == 1, res.output  # the samples hold deliberately bad rows
        printed.append(res.output)
        if night == NIGHTS[0]:
            imported = cli("review", "import", _review(out / f"claims-audit-{night}.xlsx", desk),
                           "--ledger", out / "claims-audit-ledger.sqlite")
            assert imported.exit_code == 0, imported.output
            printed.append(imported.output)
    status = cli("review", "status", "--ledger", out / "claims-audit-ledger.sqlite")
    assert status.exit_code == 0, status.output
    return [*printed, status.output]


def test_masked_runs_write_no_member_id_anywhere(cli, inputs, tmp_path):
    out = tmp_path / "out"
    printed = _two_nights(cli, inputs, out, tmp_path / "desk", "--mask-member-ids", env={MASK_KEY_ENV: KEY})
    ids = _ids(inputs)
    assert hits_anywhere(out, ids) == []
    assert not any(pattern(ids).search(text) for text in printed)
    book = openpyxl.load_workbook(out / f"claims-audit-{NIGHTS[1]}.xlsx", read_only=True)
    assert {"Findings", "Rejected", "Closed", "Summary"} <= set(book.sheetnames)  # every sheet was scanned
    rejected = [r for r in book["Rejected"].iter_rows(values_only=True) if r and "member_id" in r]
    assert rejected and all(str(v).startswith("M-") for r in rejected for v in r[3:4])
    assert all("masked member id" in r[4] for r in rejected)


def test_unmasked_runs_hold_member_ids_only_where_the_readme_says(cli, inputs, tmp_path):
    out = tmp_path / "out"
    printed = _two_nights(cli, inputs, out, tmp_path / "desk")
    ids = _ids(inputs)
    assert hits_outside_allowed(out, ids) == []
    assert hits_anywhere(out, ids), "the scan must see the ids that are there (Findings member_id)"
    assert not any(pattern(ids).search(text) for text in printed)


def test_claim_edit_evidence_names_the_related_line_not_the_member(cli, inputs, tmp_path):
    out = tmp_path / "out"
    assert cli("run", *inputs, "--out", out, "--run-date", NIGHTS[0], "--no-ledger").exit_code == 1
    ws = openpyxl.load_workbook(out / f"claims-audit-{NIGHTS[0]}.xlsx", read_only=True)["Findings"]
    rows = ws.iter_rows(values_only=True)
    header = next(rows)
    at = {c: header.index(c) for c in ("rule_id", "evidence", "related_claim_id")}
    edits = [r for r in rows if r[at["rule_id"]] in {"PTP_CONFLICT", "MUE_EXCEEDED", "DUPLICATE_LINE"}]
    assert {r[at["rule_id"]] for r in edits} == {"PTP_CONFLICT", "MUE_EXCEEDED", "DUPLICATE_LINE"}
    assert all("same member" in r[at["evidence"]] for r in edits)
    assert all(r[at["related_claim_id"]] for r in edits if r[at["rule_id"]] != "MUE_EXCEEDED")


@pytest.mark.slow
def test_masked_run_as_a_real_process_prints_no_member_id(inputs, tmp_path):
    out = tmp_path / "out"
    done = run_subprocess("run", *inputs, "--out", out, "--run-date", NIGHTS[0], "--mask-member-ids",
                          env={MASK_KEY_ENV: KEY})
    assert done.returncode == 1, done.stderr
    ids = _ids(inputs)
    assert not pattern(ids).search(done.stdout + done.stderr)
    assert hits_anywhere(out, ids) == []
