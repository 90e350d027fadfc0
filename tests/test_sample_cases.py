"""The curated sample extracts audit exactly as their case list says (claims_audit.sample_cases).

The quick start, the README's example and the screenshots all audit ``sample_claims/``; this test audits
the folder through the library and checks every expectation the case list holds: each curated line gets
exactly its listed rule ids, no background line gets a finding, each bad cell has exactly its Rejected
row, and the totals are the ones the README quotes. A rule whose behaviour drifts fails here with the
file, row, case and both rule lists named (claim values are not printed).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from claims_audit import pipeline, sample_cases
from claims_audit.rules import registry
from claims_audit.validation import ROW_REJECTED

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_claims"
CASES = ROOT / sample_cases.CASES_PATH  # tests/data/sample_claims_cases.yaml
RUN_DATE = dt.date(2026, 11, 22)  # the first night after the two extracts

# what `make audit` prints for the sample folder, and the README quotes
TOTALS = {"rows_read": 610, "rows_audited": 602, "rows_rejected": 8, "lines_34421": 116, "findings": 132}


@pytest.fixture(scope="module")
def expected() -> dict[str, Any]:
    return yaml.safe_load(CASES.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def audited() -> pipeline.AuditResult:
    return pipeline.run([SAMPLES], RUN_DATE)


def _curated_lines(listed: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(case["case"], line) for case in listed["cases"] for line in case["lines"]]


def _of_file(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    return frame.filter(pl.col("source_file").str.ends_with(f"/{name}"))


def finding_differences(expected: dict[str, Any], findings: pl.DataFrame) -> list[str]:
    """Every way the findings differ from the case list: a curated line with other rule ids than listed, a
    finding on a line the list does not hold, or a finding named by another claim/line than listed."""
    problems = []
    for listed in expected["files"]:
        found = _of_file(findings, listed["file"])
        by_row = {row: (sorted(rules), ids) for row, rules, ids in
                  found.group_by("source_row").agg("rule_id", pl.concat_str("claim_id", pl.lit("/"),
                                                   pl.col("line_number").cast(pl.String)).unique().alias("ids"))
                  .iter_rows()}  # fmt: skip
        curated = {line["row"]: (tag, line) for tag, line in _curated_lines(listed)}
        for row, (tag, line) in curated.items():
            rules, ids = by_row.get(row, ([], [f"{line['claim_id']}/{line['line']}"]))
            if rules != sorted(line["rules"]):
                problems.append(f"{listed['file']} row {row} ({tag}): expected {sorted(line['rules'])}, got {rules}")
            if ids != [f"{line['claim_id']}/{line['line']}"]:
                problems.append(f"{listed['file']} row {row} ({tag}): findings name another claim line")
        for row in sorted(set(by_row) - set(curated)):
            problems.append(f"{listed['file']} row {row} (background): unexpected {by_row[row][0]}")
    return problems


def rejection_differences(expected: dict[str, Any], rejected: pl.DataFrame) -> list[str]:
    """Every way the Rejected rows differ from the bad cells the case list holds (row, column, outcome)."""
    problems = []
    for listed in expected["files"]:
        want = Counter((line["row"], line["rejected"]["column"], line["rejected"]["outcome"])
                       for _, line in _curated_lines(listed) if "rejected" in line)  # fmt: skip
        got = Counter(_of_file(rejected, listed["file"]).select("source_row", "column", "outcome").iter_rows())
        problems += [f"{listed['file']}: missing Rejected row {r}" for r in sorted(want - got)]
        problems += [f"{listed['file']}: unexpected Rejected row {r}" for r in sorted(got - want)]
    return problems


def test_totals_match_the_case_list_and_the_readme(expected: dict[str, Any], audited: pipeline.AuditResult) -> None:
    assert expected["totals"] == TOTALS
    assert audited.totals == TOTALS
    for listed in expected["files"]:
        summary = next(i for i in audited.inputs if Path(i.path).name == listed["file"])
        rejected_rows = sum(1 for _, line in _curated_lines(listed)
                            if line.get("rejected", {}).get("outcome") == ROW_REJECTED)  # fmt: skip
        assert (summary.rows_read, summary.rows_rejected) == (listed["rows"], rejected_rows), listed["file"]
    line = (f"Auditing the folder reads {TOTALS['rows_read']} rows, audits {TOTALS['rows_audited']} and rejects "
            f"{TOTALS['rows_rejected']}; {TOTALS['lines_34421']} lines with 34421, {TOTALS['findings']} findings.")
    assert line in (SAMPLES / "README.md").read_text(encoding="utf-8")


def test_every_curated_line_gets_exactly_its_rule_ids(expected: dict[str, Any], audited: pipeline.AuditResult) -> None:
    assert finding_differences(expected, audited.findings) == []


def test_every_bad_cell_is_rejected_with_its_reason(expected: dict[str, Any], audited: pipeline.AuditResult) -> None:
    assert rejection_differences(expected, audited.rejected) == []


def test_the_case_list_covers_every_34421_line_and_known_rules(expected: dict[str, Any]) -> None:
    known = set(registry.rule_ids())
    for listed in expected["files"]:
        lines = _curated_lines(listed)
        assert {rule for _, line in lines for rule in line["rules"]} <= known
        frame = sample_cases.build(0 if listed["file"].endswith(".csv") else 1).frame.with_row_index("row", offset=2)
        rows_34421 = set(frame.filter(pl.col("procedure_code") == "34421")["row"])
        assert rows_34421 <= {line["row"] for _, line in lines}, listed["file"]
        rejected_rows = {line["row"] for _, line in lines if line.get("rejected", {}).get("outcome") == ROW_REJECTED}
        assert all(not line["rules"] for _, line in lines if line["row"] in rejected_rows)  # never audited


def test_the_comparison_names_a_drifted_rule(expected: dict[str, Any], audited: pipeline.AuditResult) -> None:
    """The checks above can fail: a finding lost, one added to a background line, or a bad cell let
    through are each reported with the file, row and case (over whatever the real audit already differs)."""
    baseline = set(finding_differences(expected, audited.findings))
    first_finding = audited.findings.head(1)
    lost = set(finding_differences(expected, audited.findings.slice(1))) - baseline
    assert len(lost) == 1 and f" row {first_finding['source_row'].item()} (" in lost.pop()

    background_row = 2  # the first data row of each file is a background line
    extra = pl.concat([audited.findings, first_finding.with_columns(source_row=pl.lit(background_row, pl.Int64))])
    added = set(finding_differences(expected, extra)) - baseline
    assert len(added) == 1 and f" row {background_row} (background): unexpected" in added.pop()

    let_through = set(rejection_differences(expected, audited.rejected.slice(1)))
    assert len(let_through - set(rejection_differences(expected, audited.rejected))) == 1
