"""RENDERING_NPI_MISSING: an audited line without a (valid) rendering NPI. The edits that compare lines by
provider (PTP, global period, duplicates) can then only look within the line's own claim, so a problem
across claims of the same surgeon stays unseen; the fix is in the extract, not on the claim.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from .. import empty_output
from ..registry import AUDITED_LINES, declare, register
from .context import FAMILY, date_text, finish

if TYPE_CHECKING:
    from ..inputs import RuleInputs


def npi_missing(audited: pl.DataFrame) -> pl.DataFrame:
    """`audited`: the audited-code lines (see :func:`context.audited_lines`)."""
    hits = audited.filter(pl.col("rendering_npi").is_null())
    if hits.is_empty():
        return empty_output()
    return finish(
        hits,
        "RENDERING_NPI_MISSING",
        message=pl.format(
            "{} on {} has no rendering NPI, so the edits that compare lines of the same provider (NCCI "
            "pairs, the global period, duplicates) only looked within its own claim. Add the rendering "
            "provider's NPI to the extract (837 loop 2310B/2420A NM1*82).",
            pl.col("procedure_code"), date_text("service_date")),
        evidence=pl.lit("rendering_npi is empty"),
        reference=pl.lit("CMS-1500 item 24J / 837P NM1*82: the rendering provider's NPI"),
    )


@register(
    declare("RENDERING_NPI_MISSING", severity="warning", tables=("claim_edit_policy",), scope=AUDITED_LINES,
            reads=("rendering_npi",)),
    family=FAMILY, cost=1)
def check(inputs: RuleInputs) -> pl.DataFrame:
    return npi_missing(inputs.audited)
