"""Domain exceptions and the stable exit codes the CLI maps them to.

The library raises these small exceptions; the CLI turns each into one clean ``Error:`` line and its
exit code through :func:`outcome_of`, the one mapping every command uses. Messages never contain claim
values (PHI): they name files, rows and columns only.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of ``claims-audit``. Stable: schedulers depend on them."""

    OK = 0  #: every row of every input was audited
    REJECTED = 1  #: run completed, but some rows or whole files were rejected (see the report)
    USAGE = 2  #: invalid command line or configuration file, or no input found
    OUTPUT = 3  #: the report could not be written (permissions, disk full, ...)
    INTERNAL = 4  #: internal error: a reconciliation check failed or an unexpected bug


class ClaimsAuditError(Exception):
    """Base of every error a user can cause; carries its exit code."""

    exit_code: ExitCode = ExitCode.INTERNAL


class UsageError(ClaimsAuditError):
    """The command line or a configuration file is invalid."""

    exit_code = ExitCode.USAGE


class NoInputError(UsageError):
    """No input file could be found."""


class ConfigError(UsageError):
    """A schema, mapping or rule configuration file is invalid."""


class OutputError(ClaimsAuditError):
    """The report or manifest could not be written."""

    exit_code = ExitCode.OUTPUT


class ReconciliationError(ClaimsAuditError):
    """Rows read did not equal rows audited plus rows rejected: never write such a report."""

    exit_code = ExitCode.INTERNAL


class FileRejected(Exception):
    """A single input file cannot be audited; the run goes on with the other files.

    ``reason`` is written to the Rejected sheet and the manifest; it names no claim values.
    """

    def __init__(self, reason: str, column: str | None = None, rows: int = 0):
        super().__init__(reason)
        self.reason = reason
        self.column = column
        self.rows = rows  # data rows the file holds, when they could be counted (all rejected with it)


class LedgerError(ClaimsAuditError):
    """The review ledger cannot be used: busy for too long, unreadable, not a claims-audit ledger, missing
    (review commands), or written by a newer claims-audit. Nothing was changed in it.

    Exit code 3 (could not write) by default; 2 when the user pointed at the wrong file.
    """

    exit_code = ExitCode.OUTPUT

    def __init__(self, message: str, exit_code: ExitCode | None = None, busy: bool = False):
        super().__init__(message)
        self.busy = busy  # another process held the ledger's lock
        if exit_code is not None:
            self.exit_code = exit_code


class ReviewImportError(UsageError):
    """A reviewed workbook was rejected as a whole (not a claims-audit report, unknown finding ids,
    invalid dispositions, conflicting rows); nothing was imported."""


INTERRUPTED = 130  # the shell's code for a process stopped by Ctrl-C


def outcome_of(exc: BaseException) -> tuple[int, str]:
    """The exit code and the one-line message for an exception that ends a command: a domain error's own
    code and message; an interruption; anything else is a bug, named by its type only (its message may
    quote claim values)."""
    if isinstance(exc, ClaimsAuditError):
        return int(exc.exit_code), str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED, "interrupted; the previous report (if any) and the ledger are left as they were"
    return int(ExitCode.INTERNAL), (f"internal error ({type(exc).__name__}); rerun with CLAIMS_AUDIT_DEBUG=1 "
                                    "for details")
