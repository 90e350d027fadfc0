"""The words the Summary sheet uses for the run's facts and table headers.

The manifest keeps the machine names (``lines_34421``, ``exit_code``); Summary is read by people, so it
says "34421 lines audited" and "Exit code". Review import finds the Summary's run facts by their label
normalised to words joined by underscores ("Run ID" -> ``run_id``, "Report seal" -> ``report_seal``), so
the labels of those five items must normalise to their machine names (a test holds them to it).
A name without a label here (a fact added later) is shown in words: underscores become spaces, first
letter capitalised.
"""

from __future__ import annotations

LABELS: dict[str, str] = {
    # totals
    "run_date": "Run date",
    "exit_code": "Exit code",
    "inputs": "Input files",
    "rows_read": "Rows read",
    "rows_audited": "Rows audited",
    "rows_rejected": "Rows rejected",
    "lines_34421": "34421 lines audited",
    "findings": "Findings",
    "previous_run_date": "Previous run",
    "findings_open": "Findings open",
    "findings_closed": "Findings closed",
    "new": "New",
    "recurring": "Recurring",
    "decided": "Decided",
    "closed": "Closed",
    "resolved": "Resolved",
    # the run
    "run_id": "Run ID",
    "report_seal": "Report seal",
    "tool_version": "Tool version",
    "rules_version": "Rules version",
    "schema": "Extract layout",
    "rule_config": "Rule configuration",
    "rule_config_sha256": "Rule configuration SHA-256",
    "ledger": "Review ledger",
    # medical records (--records)
    "records_folder": "Medical records folder",
    "records_files_read": "Record files read",
    "records_pages": "Record pages read",
    "records_ocr_pages": "Record pages read by OCR",
    "records_unreadable": "Record files unreadable",
    "records_unmatched": "Record files matching no claim line",
    "records_not_needed": "Record files not needed",
    # the claims history
    "history_lines_consulted": "Claims-history lines consulted",
    "history_dates_consulted": "Their dates of service",
    "history_lines_recorded": "Lines added to the claims history",
    # table headers
    "rule_id": "Rule",
    "severity": "Severity",
    "path": "File",
    "status": "Status",
    "encoding": "Encoding",
    "error": "Error",
    "sha256": "SHA-256",
    "ignored": "Not audited",
    "reason": "Reason",
    "night": "Night",
    "note": "Note",
}

# In the totals block the comparison counts say what they count
TOTAL_LABELS: dict[str, str] = {
    "new": "New findings",
    "recurring": "Recurring findings, not yet decided",
    "decided": "Findings decided before, still present",
    "resolved": "Resolved since the previous run",
}

EXIT_MEANINGS = {0: "every row audited", 1: "rows or files rejected"}


def label(name: str, totals: bool = False) -> str:
    """The Summary's word for a machine name."""
    if totals and name in TOTAL_LABELS:
        return TOTAL_LABELS[name]
    if name in LABELS:
        return LABELS[name]
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def machine_name(text: str) -> str | None:
    """The machine name a Summary label stands for (None when it is no known label)."""
    for table in (TOTAL_LABELS, LABELS):
        for key, shown in table.items():
            if shown == text:
                return key
    return None
