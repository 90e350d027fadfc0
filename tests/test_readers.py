"""Readers (issue 4): every column as text, spreadsheet row numbers, encodings, broken structure.

Library-level checks of `readers.discover` / `readers.read` (+ `validation.validate` for the row
accounting). The same cases through the whole CLI are in test_hostile_inputs.py.
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import os
import zipfile

import openpyxl
import polars as pl
import pytest
from hypothesis import given

from claims_audit import readers, sample
from claims_audit.errors import FileRejected, NoInputError
from claims_audit.readers import SUPPORTED_TEXT, InputFile, discover, read
from claims_audit.schema import load_layout
from claims_audit.validation import validate
from conftest import HEADER, line, write_xlsx
from hostile import csv_text, good, header_text, row_text, write_bytes
from test_fuzz import FUZZ, extracts

LAYOUT = load_layout()


def _read(path):
    return read(InputFile(path, str(path)), LAYOUT)


def _checked(path):
    """(raw table, validated) with the reconciliation asserted."""
    raw = _read(path)
    v = validate(raw, LAYOUT)
    assert raw.rows_read == v.lines.height + v.rows_rejected
    assert raw.frame.height + raw.structural.height == raw.rows_read
    return raw, v


def _col(raw, name):
    return raw.frame.get_column(name).to_list()


# --- encodings -------------------------------------------------------------------------------------


def test_utf8_bom_is_stripped_from_the_first_header(tmp_path):
    p = write_bytes(tmp_path / "bom.csv", codecs.BOM_UTF8 + csv_text([good(1)]).encode())
    raw, v = _checked(p)
    assert raw.encoding == "utf-8-sig" and raw.unknown_columns == []
    assert _col(raw, "claim_id") == ["C1"] and v.rows_rejected == 0


def test_windows_1252_is_decoded_and_named(tmp_path):
    text = csv_text([good(1, documented_site="left common Fémoral vein – “proximal”")])
    p = write_bytes(tmp_path / "cp.csv", text.encode("cp1252"))
    raw, v = _checked(p)
    assert raw.encoding == "windows-1252"
    assert _col(raw, "documented_site") == ["left common Fémoral vein – “proximal”"]


def test_latin1_bytes_undefined_in_windows_1252_fall_back_to_latin1(tmp_path):
    text = csv_text([good(1, documented_site="Fémoral\x81")])
    p = write_bytes(tmp_path / "l1.csv", text.encode("latin-1"))
    raw, _ = _checked(p)
    assert raw.encoding == "latin-1"
    assert _col(raw, "documented_site") == ["Fémoral\x81"]


def test_mixed_utf8_and_windows_1252_keeps_both_readable(tmp_path):
    data = (csv_text([good(1, documented_site="Fémoral UTF8")]).encode("utf-8")
            + row_text(good(2, documented_site="Fémoral CP")).encode("cp1252") + b"\n")
    p = write_bytes(tmp_path / "mixed.csv", data)
    raw, _ = _checked(p)
    assert raw.encoding == "utf-8+windows-1252"
    assert _col(raw, "documented_site") == ["Fémoral UTF8", "Fémoral CP"]


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_or_without_bom(tmp_path, codec):
    p = write_bytes(tmp_path / "u16.csv", csv_text([good(1, documented_site="Fémoral")]).encode(codec))
    raw, v = _checked(p)
    assert raw.encoding.startswith("utf-16")
    assert _col(raw, "documented_site") == ["Fémoral"] and v.rows_rejected == 0


@pytest.mark.parametrize("eol", ["\r\n", "\r"], ids=["crlf", "cr-only"])
def test_crlf_and_old_mac_line_ends(tmp_path, eol):
    text = csv_text([good(1, op_note=f"first line{eol}second line"), good(2)], lineterminator=eol)
    p = write_bytes(tmp_path / "eol.csv", text)
    raw, v = _checked(p)
    assert _col(raw, "claim_id") == ["C1", "C2"] and _col(raw, "source_row") == [2, 3]
    assert v.rows_rejected == 0
    assert _col(raw, "op_note")[0].replace("\r\n", "\n").replace("\r", "\n") == "first line\nsecond line"
    assert not any(s.endswith("\r") for s in _col(raw, "claim_id") + _col(raw, "documented_site"))


@pytest.mark.parametrize("eol", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_a_lone_cr_outside_quotes_ends_a_row_as_a_spreadsheet_shows_it(tmp_path, eol):
    """A CR alone in an unquoted cell starts a new row in Excel, LibreOffice and text editors (and in
    Python's csv module): the rows after it keep the numbers a person sees. Inside quotes it is text."""
    split = row_text(good(2)).replace("left common femoral vein", "left common\rfemoral vein")
    quoted = row_text(good(4, op_note="NOTE")).replace("NOTE", '"a\rb"')
    rows = [row_text(good(1)), split, row_text(good(3)), quoted]
    p = write_bytes(tmp_path / "cr.csv", eol.join([header_text(), *rows, ""]))
    raw, v = _checked(p)
    assert _col(raw, "claim_id") == ["C1", "C3", "C4"] and _col(raw, "source_row") == [2, 5, 6]
    assert _col(raw, "op_note") == [None, None, "a\rb"]
    assert raw.structural.get_column("source_row").to_list() == [3, 4]  # 'C2,...,left common' and the rest
    assert v.rows_rejected == 2 and raw.rows_read == 5


def test_a_lone_cr_in_the_header_line_ends_the_header(tmp_path):
    p = write_bytes(tmp_path / "crhead.csv", header_text() + "\r" + "\n".join([row_text(good(1)),
                                                                             row_text(good(2)), ""]))
    raw, _ = _checked(p)
    assert _col(raw, "claim_id") == ["C1", "C2"] and _col(raw, "source_row") == [2, 3]


def test_quoted_fields_with_newlines_quotes_and_separators(tmp_path):
    note = 'Incision in the "left groin",\nthrombus removed;\r\n""quoted"" twice, end'
    p = write_bytes(tmp_path / "q.csv", csv_text([good(1, op_note=note), good(2), good(3, op_note='"')]))
    raw, v = _checked(p)
    assert _col(raw, "op_note") == [note, None, '"']
    assert _col(raw, "source_row") == [2, 3, 4]  # a multi-line cell is still one spreadsheet row
    assert v.rows_rejected == 0


# --- structure --------------------------------------------------------------------------------------


def test_too_many_and_too_few_fields_reject_only_those_rows(tmp_path):
    short = ",".join(row_text(good(3)).split(",")[:5])
    text = "\n".join([header_text(), row_text(good(1)), row_text(good(2)) + ",extra", short,
                      row_text(good(4)) + ",", row_text(good(5))]) + "\n"
    raw, v = _checked(write_bytes(tmp_path / "ragged.csv", text))
    assert _col(raw, "claim_id") == ["C1", "C5"]
    problems = dict(raw.structural.select("source_row", "problem").iter_rows())
    assert problems == {3: "row has 17 fields, the header has 16", 4: "row has 5 fields, the header has 16",
                        5: "row has 17 fields, the header has 16"}
    assert v.rows_rejected == 3 and raw.rows_read == 5


def test_empty_file_header_only_and_blank_content(tmp_path):
    with pytest.raises(FileRejected, match="empty"):
        _read(write_bytes(tmp_path / "zero.csv", b""))
    with pytest.raises(FileRejected, match="no header"):
        _read(write_bytes(tmp_path / "blank.csv", "\n \r\n\n"))
    for name, text in [("h1.csv", header_text() + "\n"), ("h2.csv", header_text()),
                       ("h3.csv", header_text() + "\r\n\r\n")]:
        raw, v = _checked(write_bytes(tmp_path / name, text))
        assert raw.rows_read == 0 and v.lines.height == 0


def test_blank_lines_are_not_rows_and_keep_row_numbers(tmp_path):
    text = "\n".join([header_text(), "", row_text(good(1)), "", "", row_text(good(2, units="x")), "",
                      row_text(good(3))]) + "\n\n"
    raw, v = _checked(write_bytes(tmp_path / "blanks.csv", text))
    assert raw.rows_read == 3 and raw.blank_lines == 5
    assert _col(raw, "source_row") == [3, 6, 8]  # the row numbers a spreadsheet shows
    assert v.rejected.select("source_row", "column").rows() == [(6, "units")]


@pytest.mark.parametrize("tail", ['C9,1,"unterminated operative note', 'C9,1,"cut\noff in the middle',
                                  # cut in the last column: every field is there, the quote is still open
                                  row_text(good(9, op_note="NOTE")).replace("NOTE", '"cut off, ""in""')])
def test_trailing_unterminated_quote_rejects_only_the_last_row(tmp_path, tail):
    text = csv_text([good(1), good(2, op_note="multi\nline")]) + tail
    raw, v = _checked(write_bytes(tmp_path / "cut.csv", text))
    assert _col(raw, "claim_id") == ["C1", "C2"]
    assert raw.structural.rows() == [(4, None, None, "quoted field is not terminated (file may be cut off)")]


def test_trailing_partial_line_without_quotes(tmp_path):
    text = csv_text([good(1), good(2)]) + "C3,1,0001"
    raw, v = _checked(write_bytes(tmp_path / "partial.csv", text))
    assert _col(raw, "claim_id") == ["C1", "C2"]
    assert raw.structural.get_column("source_row").to_list() == [4]


def test_stray_quote_inside_a_field_is_literal_text(tmp_path):
    # polars refuses such files; the exact parser takes over and loses nothing
    text = "\n".join([header_text(), row_text(good(1)), row_text(good(2)).replace("left groin incision",
                                                                                   'a 5" groin incision'),
                      row_text(good(3))]) + "\n"
    raw, v = _checked(write_bytes(tmp_path / "stray.csv", text))
    assert _col(raw, "claim_id") == ["C1", "C2", "C3"]
    assert _col(raw, "documented_approach")[1] == 'a 5" groin incision'


def test_unit_separator_byte_in_data_does_not_cut_the_row(tmp_path):
    p = write_bytes(tmp_path / "us.csv", csv_text([good(1, op_note="a\x1fb\x1ec"), good(2)]))
    raw, v = _checked(p)
    assert _col(raw, "op_note") == ["a\x1fb\x1ec", None] and v.rows_rejected == 0


def test_fast_and_exact_parsers_agree(tmp_path):
    rows = [good(i, op_note=n) for i, n in enumerate(["", "x,y", 'say "hi"', "two\nlines", "", "ünï"])]
    text = csv_text(rows) + "\n" + row_text(good(9))[:20] + "\n"
    p = write_bytes(tmp_path / "same.csv", text)
    fast = readers._read_delimited(p, ".csv")
    exact = readers._parse_with_csv_module(p, fast.header, ",", "utf-8")
    assert fast.structural == exact.structural and fast.blank_lines == exact.blank_lines
    assert fast.body.equals(exact.body)


def test_duplicate_header_for_a_known_column_rejects_the_file(tmp_path):
    text = "\n".join([header_text() + ",Claim ID", row_text(good(1)) + ",X"]) + "\n"
    with pytest.raises(FileRejected, match="both stand for 'claim_id'") as exc:
        _read(write_bytes(tmp_path / "dup.csv", text))
    assert exc.value.rows == 1 and exc.value.column == "claim_id"


def test_duplicate_unknown_headers_are_listed_not_fatal(tmp_path):
    text = "\n".join([header_text() + ",notes,notes,Extra Col", row_text(good(1)) + ",a,b,c"]) + "\n"
    raw, v = _checked(write_bytes(tmp_path / "dupx.csv", text))
    assert raw.unknown_columns == ["notes", "notes", "Extra Col"] and v.rows_rejected == 0


def test_missing_required_column_rejects_the_file_with_its_rows(tmp_path):
    header = [h for h in HEADER if h != "units"]
    p = write_bytes(tmp_path / "nounits.csv", csv_text([good(1), good(2)], header=header))
    with pytest.raises(FileRejected, match="missing required column 'units'") as exc:
        _read(p)
    assert exc.value.rows == 2


# --- values keep their text --------------------------------------------------------------------------


def test_codes_and_ids_stay_text(tmp_path):
    p = write_bytes(tmp_path / "codes.csv", csv_text([
        good(1, procedure_code="0001F", member_id="000123"), good(2, procedure_code=" g0439 "),
        good(3, procedure_code="34421", claim_id="007", line_number="0002", place_of_service="02")]))
    raw, v = _checked(p)
    assert _col(raw, "member_id") == ["000123", "M0002", "M0003"]
    assert _col(raw, "claim_id") == ["C1", "C2", "007"]
    typed = v.lines
    assert typed.get_column("procedure_code").to_list() == ["0001F", "G0439", "34421"]
    assert typed.get_column("place_of_service").to_list()[2] == "02"
    assert typed.get_column("line_number").to_list()[2] == 2


# --- xlsx ---------------------------------------------------------------------------------------------


def test_xlsx_numeric_cells_then_text_codes_nothing_becomes_null(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    for i in range(150):  # numeric cells first: type inference would decide "number" here
        ws.append([f"C{i}", 1, 123456 + i, dt.datetime(2026, 11, 2), 34421 if i % 2 else 99213, 1, "LT", None,
                   1234567893, 22, 2400.5, "I82.412", None, "left groin incision", "left femoral vein", None])
    ws.append(["CG", 2, "000123", dt.date(2026, 11, 3), "G0439", "2", None, None, None, None, None, None,
               None, None, None, None])
    ws.append(["CF", 3, "000124", "2026-11-03", "0001F", 1, None, None, None, None, None, None, None, None,
               None, None])
    ws.append([])  # a blank row inside the sheet
    ws.append(["CZ", 1, "000125", "2026-11-03", "g0439 ", 1] + [None] * 10)
    p = tmp_path / "mixed types.xlsx"
    wb.save(p)
    raw, v = _checked(p)
    assert raw.rows_read == 153 and raw.blank_lines == 1 and v.rows_rejected == 0
    assert raw.frame.null_count().select(["procedure_code", "member_id", "service_date", "units"]).row(0) == (
        0, 0, 0, 0)
    tail = raw.frame.tail(3)
    assert tail.get_column("procedure_code").to_list() == ["G0439", "0001F", "g0439 "]
    assert tail.get_column("member_id").to_list() == ["000123", "000124", "000125"]
    assert tail.get_column("source_row").to_list() == [152, 153, 155]
    assert raw.frame.get_column("service_date").to_list()[0] == "2026-11-02"
    assert v.lines.get_column("procedure_code").to_list()[-1] == "G0439"


def test_corrupt_xlsx_and_other_files_named_xlsx(tmp_path):
    (tmp_path / "trunc.xlsx").write_bytes(b"PK\x03\x04" + b"\x00" * 50)
    (tmp_path / "text.xlsx").write_text("claim_id,units\nC1,1\n")
    good_wb = write_xlsx(tmp_path / "ok.xlsx", [line()])
    with zipfile.ZipFile(good_wb) as z, zipfile.ZipFile(tmp_path / "nosheet.xlsx", "w") as out:
        for item in z.namelist():
            if "worksheets" not in item:
                out.writestr(item, z.read(item))
    for name in ("trunc.xlsx", "text.xlsx", "nosheet.xlsx"):
        with pytest.raises(FileRejected, match="not a readable .xlsx"):
            _read(tmp_path / name)


# --- binary content ----------------------------------------------------------------------------------


def test_binary_files_named_csv_are_rejected(tmp_path):
    wb = write_xlsx(tmp_path / "real.xlsx", [line()])
    import gzip
    cases = {"workbook.csv": wb.read_bytes(), "gz.csv": gzip.compress(csv_text([line()]).encode()),
             "png.csv": b"\x89PNG\r\n\x1a\n" + os.urandom(200), "random.csv": os.urandom(4096),
             "nuls.csv": b"\x00\x01\x02\x03" * 100}
    for name, data in cases.items():
        with pytest.raises(FileRejected, match="not text"):
            _read(write_bytes(tmp_path / name, data))


def test_a_few_control_characters_in_cells_are_not_binary(tmp_path):
    note = "".join(chr(c) for c in range(0x20) if c not in (0x0A, 0x0D))
    raw, v = _checked(write_bytes(tmp_path / "ctl.csv", csv_text([good(1, op_note=note), good(2)])))
    assert _col(raw, "op_note") == [note, None] and v.rows_rejected == 0


# --- discovery ----------------------------------------------------------------------------------------


def test_discover_reports_each_unusable_path(tmp_path):
    ok = write_bytes(tmp_path / "a folder" / "clåims 1.csv", csv_text([line()]))
    (tmp_path / "a folder" / "~$clåims.xlsx").write_bytes(b"lock")  # Excel's lock file: skipped
    (tmp_path / "a folder" / ".hidden.csv").write_text("x")
    (tmp_path / "a folder" / "sub.csv").mkdir()  # a folder named like a file: skipped
    (tmp_path / "empty").mkdir()
    (tmp_path / "only-docs").mkdir()
    (tmp_path / "only-docs" / "readme.docx").write_text("x")
    (tmp_path / "broken.csv").symlink_to(tmp_path / "gone.csv")
    (tmp_path / "notes.docx").write_text("x")
    found = discover([tmp_path / "a folder", tmp_path / "empty", tmp_path / "only-docs",
                      tmp_path / "broken.csv", tmp_path / "missing.csv", tmp_path / "notes.docx"])
    folder = tmp_path / "a folder"
    assert [(f.display, f.problem, f.ignored) for f in found] == [
        (str(folder / ".hidden.csv"), None, "hidden file"),
        (str(ok), None, None),
        (str(folder / "sub.csv"), None, "subfolder (folders are not searched recursively; give it as its own "
                                        "PATH to audit it)"),
        (str(folder / "~$clåims.xlsx"), None, "Office lock file (the workbook is open in Excel)"),
        (str(tmp_path / "empty"), f"folder contains no supported files ({SUPPORTED_TEXT})", None),
        (str(tmp_path / "only-docs" / "readme.docx"), f"unsupported file type '.docx' (supported: {SUPPORTED_TEXT})", None),
        (str(tmp_path / "broken.csv"), "broken symbolic link: its target does not exist", None),
        (str(tmp_path / "missing.csv"), "path does not exist", None),
        (str(tmp_path / "notes.docx"), f"unsupported file type '.docx' (supported: {SUPPORTED_TEXT})", None)]
    with pytest.raises(NoInputError, match="path does not exist"):
        discover([tmp_path / "missing.csv"])


def test_reader_bug_rejects_only_that_file(tmp_path, monkeypatch):
    p = write_bytes(tmp_path / "a.csv", csv_text([line()]))

    def boom(*a, **k):
        raise ValueError("secret 000123")

    monkeypatch.setattr(readers, "_delimited_pieces", boom)
    with pytest.raises(FileRejected) as exc:
        _read(p)
    assert "unexpected ValueError" in exc.value.reason and "000123" not in exc.value.reason


def test_large_regular_file_takes_the_fast_path(tmp_path, monkeypatch):
    rows = [good(i, op_note="note, with comma" if i % 7 == 0 else "") for i in range(3000)]
    p = write_bytes(tmp_path / "big.csv", csv_text(rows))

    def forbidden(*a, **k):
        raise AssertionError("ordinary files must not need the exact (slow) parser")

    monkeypatch.setattr(readers, "_parse_with_csv_module", forbidden)
    raw, v = _checked(p)
    assert raw.rows_read == 3000 and v.rows_rejected == 0
    assert raw.frame.get_column("source_row").to_list() == list(range(2, 3002))
    assert raw.frame.schema["claim_id"] == pl.String


def test_utf16_file_cut_inside_its_last_character(tmp_path):
    data = csv_text([good(1), good(2)]).encode("utf-16")[:-3]  # cut mid code unit
    raw, v = _checked(write_bytes(tmp_path / "cut16.csv", data))
    assert _col(raw, "claim_id") == ["C1"] and raw.structural.get_column("source_row").to_list() == [3]


def test_utf16_with_garbage_is_rejected_not_garbled(tmp_path):
    data = codecs.BOM_UTF16_LE + "claim_id".encode("utf-16-le") + b"\x00\xd8\x41\x00" + b"x\x00" * 10
    with pytest.raises(FileRejected, match="utf-16 text but cannot be decoded"):
        _read(write_bytes(tmp_path / "bad16.csv", data))


def test_a_long_and_a_short_row_do_not_cancel_out(tmp_path):
    # one row with an extra empty field, one with a field missing: the file has exactly as many
    # separators as a well-formed one, yet both rows are broken and must be rejected on their own rows
    rows = [row_text(good(1)), row_text(good(2)) + ",", ",".join(row_text(good(3)).split(",")[:15]),
            row_text(good(4)) + ",,x", ",".join(row_text(good(5)).split(",")[:14]), row_text(good(6))]
    raw, v = _checked(write_bytes(tmp_path / "cancel.csv", header_text() + "\n" + "\n".join(rows) + "\n"))
    assert _col(raw, "claim_id") == ["C1", "C6"]
    assert raw.structural.select("source_row", "problem").rows() == [
        (3, "row has 17 fields, the header has 16"), (4, "row has 15 fields, the header has 16"),
        (5, "row has 18 fields, the header has 16"), (6, "row has 14 fields, the header has 16")]


def test_blank_line_and_trailing_separator_do_not_cancel_out(tmp_path):
    text = header_text() + "\n" + row_text(good(1)) + ",\n\n" + row_text(good(2)) + "\n"
    raw, v = _checked(write_bytes(tmp_path / "cancel2.csv", text))
    assert _col(raw, "claim_id") == ["C2"] and _col(raw, "source_row") == [4] and raw.blank_lines == 1
    assert raw.structural.get_column("source_row").to_list() == [2]


def test_data_that_says_utf8_is_not_an_encoding_problem(tmp_path):
    # polars' error message quotes the data; a cell reading "UTF8" must not pass for an encoding error
    text = '"' + csv_text([good(1, claim_id="UTF8"), good(2, documented_site="utf-8 text")])
    with pytest.raises(FileRejected, match="missing required columns") as exc:  # one big quoted field
        _read(write_bytes(tmp_path / "quoted-header.csv", text))
    assert "unexpected" not in exc.value.reason
    p = write_bytes(tmp_path / "stray.csv", csv_text([good(1, claim_id="UTF8")]) + 'C2,"utf8 cut')
    raw, v = _checked(p)
    assert raw.encoding == "utf-8" and _col(raw, "claim_id") == ["UTF8"]


def test_audited_lines_have_no_empty_chunks(tmp_path):
    # polars 2.1 panics in pl.format over a column holding an empty chunk, which row filters can leave
    text = csv_text([good(1), good(2, op_note="two\nlines"), good(3, units="x")]) + "C9,1,M9,2026-11"
    raw, v = _checked(write_bytes(tmp_path / "chunks.csv", text))
    for s in v.lines.get_columns():
        assert s.n_chunks() == 1 or all(c.len() for c in s.get_chunks()), s.name
    v.lines.select(pl.format("claim:{}", pl.col("claim_id")))


# --- the separators inside quotes, counted on the bytes (a shortcut of the well-formed proof) ----------


def _in_cells(data: bytes, width: int, delimiter: str) -> int | None:
    try:
        body = readers._polars_read(data, width, delimiter, ragged=False)
    except pl.exceptions.PolarsError:
        return None
    return readers._separators_in_cells(body, width, delimiter)


@FUZZ
@given(extracts())
def test_separators_counted_on_the_bytes_are_those_polars_keeps_in_cells(extract):
    """Wherever the byte count answers (every quote regular), it is the count over the parsed cells."""
    name, data, _, header = extract
    delimiter = {".csv": ",", ".tsv": "\t", ".txt": "|"}[name[-4:]]
    counted = readers._separators_in_quotes(data, delimiter.encode())
    in_cells = _in_cells(data, len(header), delimiter)
    if counted is not None and in_cells is not None:
        assert counted == in_cells


def test_separators_in_quotes_on_a_sample_extract_and_stray_quotes():
    frame = sample.generate(3_000, seed=9, bad_fraction=0.05)
    buf = io.BytesIO()
    frame.write_csv(buf)
    data = buf.getvalue()
    assert data.count(b'"') > 100
    assert readers._separators_in_quotes(data, b",") == _in_cells(data, frame.width, ",") > 0
    for stray in (b'x,a"b,c\n', b'x,"a"b,c\n', b'x, "a,b",c\n'):  # polars' guess, not RFC 4180
        assert readers._separators_in_quotes(data + stray, b",") is None
    assert readers._separators_in_quotes(data + b'x,"a,""b"",c",""\r\n', b",") == \
        readers._separators_in_quotes(data, b",") + 2


def test_rows_split_at_a_lone_cr_as_libreoffice_shows_them(tmp_path):
    """The spreadsheet itself is the judge of where a row ends: LibreOffice opens a file with a CR alone
    in an unquoted cell and in a quoted one, and shows the rows the reader numbers."""
    import shutil
    import subprocess

    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if exe is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("LibreOffice is not installed: CI=true needs it (.ci/run installs it)")
        pytest.skip("LibreOffice is not installed (no 'soffice' on PATH)")
    split = row_text(good(2)).replace("left common femoral vein", "left common\rfemoral vein")
    quoted = row_text(good(4, op_note="NOTE")).replace("NOTE", '"a\rb"')
    text = "\n".join([header_text(), row_text(good(1)), split, row_text(good(3)), quoted, ""])
    src = write_bytes(tmp_path / "cr.csv", text)
    subprocess.run([exe, f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless", "--norestore",
                    "--convert-to", "xlsx", "--outdir", str(tmp_path / "lo"), str(src)], check=True,
                   capture_output=True, timeout=240, env={**os.environ, "HOME": str(tmp_path)})
    wb = openpyxl.load_workbook(tmp_path / "lo" / "cr.xlsx", read_only=True)
    shown = [r for r in wb.active.iter_rows(values_only=True)]
    wb.close()
    raw = _read(src)
    assert len(shown) == 1 + raw.rows_read + raw.blank_lines == 6  # the header, then one row per record
    assert [shown[row - 1][0] for row in _col(raw, "source_row")] == _col(raw, "claim_id") == ["C1", "C3", "C4"]
    assert [shown[row - 1][0] for row in raw.structural.get_column("source_row")] == ["C2", "femoral vein"]
    assert shown[5][-1] == _col(raw, "op_note")[-1].replace("\r", "\n")  # LibreOffice shows the CR as a break


# --- reading ahead -------------------------------------------------------------------------------------


def test_the_next_table_is_read_while_the_caller_holds_this_one():
    import threading

    second_read = threading.Event()

    def tables():
        yield "first"
        second_read.set()
        yield "second"

    ahead = readers.read_ahead(tables())
    assert next(ahead) == "first"
    assert second_read.wait(5)  # read without the caller asking for it
    assert list(ahead) == ["second"]


def test_reading_ahead_gives_the_same_tables_and_raises_where_the_caller_asks(tmp_path):
    path = tmp_path / "a.csv"
    sample.write(sample.generate(3_000, seed=4, bad_fraction=0.05), path)
    options = readers.ReadOptions(40_000, scratch=tmp_path)
    layout = load_layout(None)
    plain = list(readers.read_chunks(InputFile(path, "a.csv"), layout, None, options))
    ahead = list(readers.read_ahead(readers.read_chunks(InputFile(path, "a.csv"), layout, None, options)))
    assert len(plain) > 5 and len(ahead) == len(plain)
    for a, b in zip(plain, ahead):
        assert a.frame.equals(b.frame) and a.rows_read == b.rows_read and a.sha256 == b.sha256

    def failing():
        yield 1
        yield 2
        raise FileRejected("broken after two tables")

    got = []
    with pytest.raises(FileRejected, match="broken after two"):
        for table in readers.read_ahead(failing()):
            got.append(table)
    assert got == [1, 2]


def test_stopping_early_closes_what_is_read_ahead():
    closed = []

    def tables():
        try:
            for n in range(10):
                yield n
        finally:
            closed.append(True)

    ahead = readers.read_ahead(tables())
    assert next(ahead) == 0
    ahead.close()
    assert closed == [True]
