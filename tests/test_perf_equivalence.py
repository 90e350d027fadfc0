"""The speed paths give exactly what the plain ones give: claim edits over the whole run (doc_side passed
separately) vs over a frame carrying doc_side, positional line lookup in `findings.assemble` vs the join,
the text-cleaning shortcut of the report vs `clean_text_columns`."""

from __future__ import annotations

import datetime as dt

import polars as pl
from polars.testing import assert_frame_equal

from claims_audit import pipeline, sample
from claims_audit.findings import _with_lines, assemble
from claims_audit.report import excel
from claims_audit.report.safety import clean_text_columns
from claims_audit.report.tablerows import TableRows
from claims_audit.rules import claim_edits

RUN = dt.date(2026, 11, 20)


def _lines(tmp_path) -> pl.DataFrame:
    from claims_audit.readers import discover
    from claims_audit.schema import load_layout, load_mapping
    path = tmp_path / "extract.csv"
    sample.write(sample.generate(20_000, seed=3), path)
    layout = load_layout(None)
    from claims_audit.readers import read
    from claims_audit.validation import validate
    lines = validate(read(discover([path])[0], layout, load_mapping(None)), layout).lines
    lines = lines.with_columns(pl.lit(str(path)).alias("source_file"))  # every line of the run, as one frame
    return lines.with_row_index("line_key").with_columns(pl.col("line_key").cast(pl.Int64))


def test_claim_edits_with_doc_frame_equal_doc_side_column(tmp_path):
    lines = _lines(tmp_path)
    doc, _ = pipeline.apply_rules(lines)
    side = doc.select("line_key", "doc_side")
    fast = claim_edits.apply(lines, doc=side)
    plain = claim_edits.apply(lines.join(side, on="line_key", how="left", maintain_order="left"))
    assert fast.height > 0
    assert_frame_equal(fast, plain)


def test_assemble_positional_lookup_equals_join(tmp_path):
    lines = _lines(tmp_path)
    doc, output = pipeline.apply_rules(lines)
    keep = ["line_key", "claim_id", "op_note", "service_date", "units"]
    joined = output.join(lines.select(keep), on="line_key", how="left")
    assert_frame_equal(_with_lines(output, lines, keep), joined)
    # line_key not the row position (e.g. a caller's own frame): the join is used
    shuffled = lines.reverse()
    assert_frame_equal(_with_lines(output, shuffled, keep), joined)
    assert_frame_equal(assemble(shuffled, output, doc), assemble(lines, output, doc))


def test_report_cleaning_shortcut_equals_clean_text_columns():
    frame = pl.DataFrame({
        "plain": ["ok", "fine", None, "", "x"],
        "ctrl": ["a\x00b", "tab\tok", None, "\ufffe", "z\x7f"],
        "long": ["é" * 20_000, "a" * 40_000, None, "b", "c"],
        "astral": ["😀" * 17_000, "", None, "d", "e"],
        "empty": [None] * 5,
        "n": [1, 2, 3, 4, 5],
    }, schema_overrides={"empty": pl.String})
    for f in (frame, frame.head(0), frame.select("plain", "n"), frame.slice(2, 1)):
        assert_frame_equal(excel._clean(TableRows.of(f)).frame(), clean_text_columns(f))
        # batch by batch (the rejected cells read back from files): the same, batch for batch
        in_batches = _in_batches(f, 2)
        assert [b.height for b in excel._clean(in_batches).batches()] == [b.height for b in in_batches.batches()]
        assert_frame_equal(excel._clean(in_batches).frame(), clean_text_columns(f))


def _in_batches(frame: pl.DataFrame, rows: int) -> TableRows:
    """`frame` as a TableRows read in batches of `rows` rows (an empty batch first, as a file may give)."""
    def batches(start, stop):
        yield frame.head(0)
        for first in range(0, frame.height, rows):
            batch = frame.slice(first, rows)
            low, high = max(start - first, 0), min(stop - first, batch.height)
            if high > low:
                yield batch.slice(low, high - low)
    return TableRows(frame.schema, frame.height, batches)


def test_sheet_rows_in_pieces_join_to_rows_xml(monkeypatch):
    from claims_audit.report import sheetxml
    frame = pl.DataFrame({
        "s": [f"a&<>{i}" if i % 3 else None for i in range(23)],
        "d": [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(23)],
        "f": [float(i) / 3 if i % 4 else float("nan") for i in range(23)],
        "b": [i % 2 == 0 for i in range(23)],
        "empty": [None] * 23,
    }, schema_overrides={"empty": pl.String})
    monkeypatch.setattr(sheetxml, "ROWS_PER_PIECE", 5)
    whole = sheetxml.rows_xml(frame, 7)
    assert b"".join(sheetxml._row_pieces(frame, 7)).decode() == whole
    for rows in (1, 3, 5, 7, 23, 40):  # batches that cut pieces anywhere give the same rows, numbered on
        assert b"".join(sheetxml._row_pieces(_in_batches(frame, rows), 7)).decode() == whole
    assert whole.startswith('<row r="2">') and whole.endswith("</row>") and 'r="E' not in whole
    def bound(rows: TableRows) -> int:  # as the writer bounds a sheet's zip entry
        return sheetxml.size_bound(excel._measures(rows)[1], rows.height, len(rows.columns))
    assert bound(TableRows.of(frame)) > len(whole.encode())
    assert bound(_in_batches(frame, 4)) == bound(TableRows.of(frame))
    head, tail = sheetxml._split_at_rows(b"<worksheet><sheetData/></worksheet>")
    assert head + b"<row/>" + tail == b"<worksheet><sheetData><row/></sheetData></worksheet>"


def test_findings_put_in_order_column_by_column_equal_one_sort(tmp_path):
    """findings.ordered gathers column by column (holding the findings once) what one sort of the whole
    frame gives, with nulls last and ties in group order; the groups it is given are emptied."""
    from claims_audit.findings import FINDING_COLUMNS, ordered

    lines = _lines(tmp_path)
    doc, output = pipeline.apply_rules(lines)
    from claims_audit.findings import finding_rows
    rows = finding_rows(lines, output, doc)
    assert rows.height > 200
    # ties and nulls in every sort key: rows repeated with their keys partly emptied, in three groups
    noisy = pl.concat([rows, rows.with_columns(pl.lit(None, pl.String).alias("related_claim_id"),
                                               pl.lit(None, pl.Int64).alias("source_row"))])
    noisy = noisy.with_columns(pl.format("{}-{}", "finding_id", pl.int_range(pl.len())).alias("finding_id"))
    cut = [noisy.slice(0, 150), noisy.slice(150, noisy.height // 2), noisy.slice(150 + noisy.height // 2)]
    plain = (pl.concat(cut).sort(["source_file", "source_row", "_sev", "rule_id", "related_claim_id",
                                  "related_line_number"], nulls_last=True, maintain_order=True)
             .select(FINDING_COLUMNS))
    groups = list(cut)
    assert_frame_equal(ordered(groups), plain)
    assert groups == []
    # groups waiting in files (a run of several groups), beside one still in memory: the same, files removed
    from claims_audit.findings import spilled
    files = [spilled(cut[0], tmp_path / "g0.arrow"), cut[1], spilled(cut[2], tmp_path / "g2.arrow")]
    assert_frame_equal(ordered(list(files)), plain)
    assert not (tmp_path / "g0.arrow").exists() and not (tmp_path / "g2.arrow").exists()
