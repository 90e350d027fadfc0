"""A whole run through the library: reconciliation, bad files next to good ones, findings."""

from __future__ import annotations

import datetime as dt

import pytest

from claims_audit import pipeline
from claims_audit.errors import ExitCode, NoInputError
from conftest import line, write_csv, write_xlsx

RUN = dt.date(2026, 11, 20)


def test_clean_file_exit_ok_and_reconciles(tmp_path):
    p = write_csv(tmp_path / "a.csv", [line(claim_id=f"C{i}", member_id=f"M{i}") for i in range(5)])
    r = pipeline.run([p], RUN)
    assert r.exit_code == ExitCode.OK
    assert r.totals == {"rows_read": 5, "rows_audited": 5, "rows_rejected": 0, "lines_34421": 5, "findings": 0}


def test_bad_file_does_not_stop_other_files(tmp_path):
    good = write_csv(tmp_path / "in" / "a.csv", [line()])
    write_csv(tmp_path / "in" / "b.csv", [line()], header=["claim_id", "line_number"])
    write_xlsx(tmp_path / "in" / "c.xlsx", [line(claim_id="X9", member_id="M9", documented_approach="laparotomy",
                                                 documented_site="IVC")])
    r = pipeline.run([tmp_path / "in"], RUN)
    status = {i.path.split("/")[-1]: i for i in r.inputs}
    assert [i.path for i in r.inputs] == sorted(i.path for i in r.inputs)
    assert status["b.csv"].status == "rejected"
    assert "missing required column" in status["b.csv"].error and "'member_id'" in status["b.csv"].error
    assert status["a.csv"].status == "ok" and status["c.xlsx"].status == "ok"
    assert r.exit_code == ExitCode.REJECTED
    assert r.findings.get_column("rule_id").to_list() == ["APPROACH_MISMATCH"]
    assert r.findings.get_column("suggested_code").to_list() == ["34401"]
    assert good.exists()


def test_no_input_at_all_is_a_usage_error(tmp_path):
    with pytest.raises(NoInputError):
        pipeline.run([tmp_path / "nope.csv"], RUN)


@pytest.mark.parametrize("approach,site,rules,code", [
    ("left groin incision", "left CFV", [], None),
    ("percutaneous ClotTriever", "left femoral vein", ["APPROACH_MISMATCH"], "37187"),
    ("laparotomy and groin incision", "IVC and iliac vein", ["APPROACH_MISMATCH"], "34451"),
    ("groin incision", "superficial femoral artery", ["SITE_MISMATCH"], "34201"),
    ("groin incision", "great saphenous vein", ["SITE_MISMATCH"], None),
    ("N/A", "see op note", ["DOCUMENTATION_INCOMPLETE"], None),
    ("supraclavicular incision", "subclavian vein", ["APPROACH_MISMATCH", "SITE_MISMATCH"], "34471"),
])
def test_documentation_rules(tmp_path, approach, site, rules, code):
    p = write_csv(tmp_path / "a.csv", [line(documented_approach=approach, documented_site=site)])
    f = pipeline.run([p], RUN).findings
    assert sorted(f.get_column("rule_id").to_list()) == rules
    for c in f.get_column("suggested_code").to_list():
        assert c == code


def test_op_note_used_when_abstract_blank(tmp_path):
    note = "A vertical left groin incision was made.\nThe common femoral vein was opened and thrombus removed."
    p = write_csv(tmp_path / "a.csv", [line(documented_approach="", documented_site="", op_note=note)])
    r = pipeline.run([p], RUN)
    assert r.findings.height == 0


def test_only_34421_lines_are_audited_for_documentation(tmp_path):
    p = write_csv(tmp_path / "a.csv", [line(procedure_code="99213", documented_approach="", documented_site="")])
    r = pipeline.run([p], RUN)
    assert r.totals["lines_34421"] == 0 and r.findings.height == 0


def test_finding_ids_are_stable_and_findings_ordered(tmp_path):
    rows = [line(claim_id=f"C{i}", member_id=f"M{i}", documented_approach="percutaneous") for i in range(3)]
    p = write_csv(tmp_path / "a.csv", rows)
    a, b = pipeline.run([p], RUN).findings, pipeline.run([p], RUN).findings
    assert a.equals(b)
    assert a.get_column("source_row").to_list() == [2, 3, 4]
    assert a.get_column("finding_id").n_unique() == 3


def test_reconciliation_failure_is_internal_error(tmp_path, monkeypatch):
    p = write_csv(tmp_path / "a.csv", [line()])
    real = pipeline._audit_input

    def broken(*a, **k):
        summary = real(*a, **k)
        summary.rows_read += 1
        return summary

    monkeypatch.setattr(pipeline, "_audit_input", broken)
    from claims_audit.errors import ReconciliationError
    with pytest.raises(ReconciliationError):
        pipeline.run([p], RUN)
