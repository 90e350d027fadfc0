"""Streaming (issue 13): inputs read and validated in pieces give the very results of whole-file reading.

Pieces are cut at record boundaries (claims_audit.textchunks); every test here compares a run with tiny
pieces (and the kept lines spilled to Parquet) with the same run reading each file whole: findings,
rejected rows (file, spreadsheet row, column, value, reason), counts, order and finding ids.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from claims_audit import pipeline, sample, textchunks
from claims_audit.findings import assemble
from claims_audit.readers import InputFile, ReadOptions, discover, read, read_chunks
from claims_audit.schema import load_layout
from claims_audit.validation import validate
from conftest import HEADER, line, write_csv
from test_fuzz import FUZZ, extracts

RUN = dt.date(2026, 11, 20)


def _run(paths, chunk_bytes, retain_bytes=pipeline.DEFAULT_BUDGET_BYTES, **kw) -> pipeline.AuditResult:
    return pipeline.run(paths, RUN, chunk_bytes=chunk_bytes, retain_bytes=retain_bytes, **kw)


def _same_results(a: pipeline.AuditResult, b: pipeline.AuditResult) -> None:
    assert_frame_equal(a.findings, b.findings)
    assert_frame_equal(a.rejected, b.rejected)
    assert a.inputs == b.inputs
    assert a.totals == b.totals and a.lines_34421 == b.lines_34421


def _extract(folder: Path, lines: int, seed: int, bad: float = 0.02) -> Path:
    path = folder / f"extract-{seed}.csv"
    sample.write(sample.generate(lines, seed=seed, bad_fraction=bad), path)
    return path


def test_pieces_and_spilled_lines_give_the_results_of_whole_files(tmp_path):
    files = [_extract(tmp_path, 12_000, seed=5), _extract(tmp_path, 6_000, seed=6)]
    whole = _run(files, None)
    assert whole.findings.height > 300 and whole.rejected.height > 50
    pieces = _run(files, 64 << 10, retain_bytes=0, work_dir=tmp_path / "out")  # every kept piece spilled
    _same_results(whole, pieces)
    assert not list((tmp_path / "out").iterdir())  # the scratch folder is gone


def test_kept_lines_change_no_finding(tmp_path):
    """The findings of a run that keeps only what the rules need are those over every line of the run."""
    path = _extract(tmp_path, 20_000, seed=8)
    layout = load_layout()
    lines = validate(read(discover([path])[0], layout), layout).lines
    lines = lines.with_row_index("line_key").with_columns(pl.col("line_key").cast(pl.Int64),
                                                          pl.lit(str(path)).alias("source_file"))
    doc, output = pipeline.apply_rules(lines)
    everything = assemble(lines, output, doc)
    kept = _run([path], 32 << 10, retain_bytes=0)
    assert everything.height > 300
    assert_frame_equal(kept.findings, everything)


def _rows(chunk_bytes: int | None, path: Path) -> tuple[list[tuple], list[tuple], int, int]:
    tables = list(read_chunks(InputFile(path, str(path)), load_layout(), None, ReadOptions(chunk_bytes)))
    frame = pl.concat([t.frame for t in tables])
    structural = pl.concat([t.structural for t in tables])
    return (frame.select("source_row", "claim_id", "op_note").rows(), structural.rows(),
            sum(t.rows_read for t in tables), sum(t.blank_lines for t in tables))


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_a_record_split_across_a_piece_boundary_is_read_once_at_its_row(tmp_path, eol):
    notes = ["plain", 'line one\nline two, "quoted"', "", "a\r\nb", 'end "x"\n\n', "ünïcode, ok"]
    records = []
    for i, note in enumerate(notes):
        buf = io.StringIO()
        csv.writer(buf, lineterminator="").writerow([line(claim_id=f"C{i}", op_note=note)[h] for h in HEADER])
        records.append(buf.getvalue())
    # blank lines between records, CRLF or LF line ends (quoted newlines stay as written)
    body = eol.join([",".join(HEADER), *records[:2], "", "", *records[2:], ""]).encode()
    path = tmp_path / "split.csv"
    path.write_bytes(body)
    whole = _rows(None, path)
    assert [r[1] for r in whole[0]] == [f"C{i}" for i in range(len(notes))]
    assert whole[0][1][2] == 'line one\nline two, "quoted"'
    for size in range(1, len(body) + 2):  # a boundary at every byte of the file
        assert _rows(size, path) == whole, size


def test_lone_crs_end_rows_in_every_piece_as_in_the_whole_file(tmp_path):
    """A CR alone outside quotes ends a row (as a spreadsheet shows it) wherever the pieces are cut: in
    the header line, in an unquoted cell, before a blank line; inside quotes it stays text."""
    rows = [",".join(line(claim_id=f"C{i}")[h] for h in HEADER) for i in range(5)]
    body = (",".join(HEADER) + "\r" + rows[0] + "\n" + rows[1].replace("left groin", "left\rgroin") + "\n"
            + rows[2].replace(",,", ',"a\rb",', 1) + "\r\r\n" + rows[3] + "\r\n\n" + rows[4] + "\r").encode()
    path = tmp_path / "cr.csv"
    path.write_bytes(body)
    whole = _rows(None, path)
    assert [r[:2] for r in whole[0]] == [(2, "C0"), (5, "C2"), (7, "C3"), (9, "C4")]
    assert [r[0] for r in whole[1]] == [3, 4]  # 'C1,...,left' and 'groin incision,...'
    assert whole[2:] == (6, 2)  # rows read, blank lines
    for size in range(25, len(body) + 2, 3):  # smaller: the header passes 8 piece sizes, read whole
        assert _rows(size, path) == whole, size
    assert textchunks.lone_cr_as_lf(b'a,"x\ry"\r\n') is None


def test_a_file_cut_inside_a_quoted_field_reports_its_last_row_in_every_piece(tmp_path):
    """Cut after a doubled quote (`"=H(""go""`): polars closes the cell, yet the quote is open. Found by
    a 1200-example run: the last piece (every field there) was proven well formed and its row audited,
    the whole file (a long row elsewhere: the line pass) reported it."""
    rows = [",".join(line(claim_id=f"C{i}")[h] for h in HEADER) for i in range(4)]
    rows[1] += ",extra"
    cut = ",".join(line(claim_id="C9", op_note="NOTE")[h] for h in HEADER).replace("NOTE", '"=H(""go""')
    path = tmp_path / "cut.csv"
    path.write_bytes("\n".join([",".join(HEADER), *rows, cut]).encode())
    whole = _rows(None, path)
    assert [r[0] for r in whole[0]] == [2, 4, 5]
    assert whole[1] == [(3, None, None, "row has 17 fields, the header has 16"),
                        (6, None, None, "quoted field is not terminated (file may be cut off)")]
    for size in range(25, path.stat().st_size + 2, 5):  # smaller: the header passes 8 sizes, read whole
        assert _rows(size, path) == whole, size


def test_pieces_end_at_record_boundaries_only():
    data = b'h1,h2\n1,"a\nb"\n2,x\n"3\n",y\n'
    for size in range(1, len(data) + 1):
        pieces = list(textchunks.record_pieces(io.BytesIO(data), size))
        assert b"".join(pieces) == data
        assert all(p.endswith(b"\n") and p.count(b'"') % 2 == 0 for p in pieces)


def test_pieces_know_which_is_the_last(tmp_path):
    """Only the last piece says so, for a file (its size) and any other stream (a byte read ahead),
    including a file that ends without a line end and one whose last block is a whole piece."""
    for data in (b'h1,h2\n1,"a\nb"\n2,x\n"3\n",y\n', b"h1,h2\n1,x\n2,y", b"h\n1\n2\n3\n"):
        path = tmp_path / "f.csv"
        path.write_bytes(data)
        for size in range(1, len(data) + 2):
            with path.open("rb") as fh:
                from_file = list(textchunks.pieces_with_end(fh, size, repeat_header=True))
            from_stream = list(textchunks.pieces_with_end(io.BytesIO(data), size, repeat_header=True))
            assert from_file == from_stream, size
            assert [last for _, last in from_file] == [False] * (len(from_file) - 1) + [True], size
            assert [p for p, _ in from_file] == list(textchunks.record_pieces(io.BytesIO(data), size, True))


def test_the_first_piece_is_parsed_before_the_next_is_cut(tmp_path, monkeypatch):
    """The run's first rows come after one cut, not two (the second is cut while the first is checked)."""
    path = write_csv(tmp_path / "a.csv", [line(claim_id=f"C{i}", line_number="1") for i in range(400)])
    cuts: list[int] = []
    real = textchunks.last_boundary
    monkeypatch.setattr(textchunks, "last_boundary", lambda data, opened=False: cuts.append(1) or real(data, opened))
    tables = read_chunks(discover([path])[0], load_layout(), None, ReadOptions(2_000, scratch=tmp_path))
    next(tables)
    assert len(cuts) == 1
    rest = list(tables)
    assert len(rest) > 3 and rest[-1].sha256 is not None and all(t.sha256 is None for t in rest[:-1])


@pytest.mark.parametrize("end_seen", ["never", "always"])
def test_a_wrong_idea_of_the_files_end_costs_a_whole_read_not_a_row(tmp_path, monkeypatch, end_seen):
    """The end of a file told from its size is only a hint: a last piece not flagged (a stream, a late
    size) or a piece flagged too early (a file still growing) makes the reader read the file again,
    whole, with the same rows and checksum as ever."""
    path = _extract(tmp_path, 3_000, seed=9)
    reference = _run([path], 32 << 10)
    monkeypatch.setattr(textchunks, "_at_end", lambda fh: end_seen == "always")
    again = _run([path], 32 << 10)
    _same_results(reference, again)
    assert again.inputs[0].sha256 == reference.inputs[0].sha256 is not None


def test_the_end_of_a_stream_is_told_without_consuming_it(tmp_path):
    data = b"h\n1\n"
    stream = io.BytesIO(data)
    assert not textchunks._at_end(stream)
    stream.read()
    assert textchunks._at_end(stream)
    with (tmp_path / "f").open("wb+") as fh:
        fh.write(data)
        assert textchunks._at_end(fh)
        fh.seek(2)
        assert not textchunks._at_end(fh)
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb") as pipe, os.fdopen(write_end, "wb") as writer:
        writer.write(data)
        writer.flush()
        assert not textchunks._at_end(pipe)  # a pipe's end is found by reading it
        assert pipe.read(len(data)) == data


@pytest.mark.parametrize("data", [b'"h\n1",h2\n1,"a\nb"\n2,x\n"3\n",y\n', b'h1,h2\r1,x\n2,"y\n"\n\n3,z'])
def test_later_pieces_start_with_the_header_record(data):
    """With repeat_header every piece after the first starts with the header record (a CR alone ending
    it becomes a LF), and the rest of the pieces are the file, in order, each byte once."""
    header = textchunks.header_record(data)
    for size in range(1, len(data) + 1):
        try:
            first, *later = textchunks.record_pieces(io.BytesIO(data), size, repeat_header=True)
        except textchunks.NoBoundary:
            continue
        assert all(p.startswith(header) for p in later)
        assert first + b"".join(p[len(header):] for p in later) == data
    assert header in (b'"h\n1",h2\n', b"h1,h2\n")


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16", "utf-16-le", "utf-8-sig", "latin-1"])
def test_other_encodings_are_streamed_with_the_decoding_of_the_whole_file(tmp_path, encoding):
    rows = [line(claim_id=f"C{i}", op_note="Fémoral, côté gauche" if i % 5 == 0 else "") for i in range(60)]
    if encoding == "latin-1":  # a byte Windows-1252 leaves undefined, late in the file: Latin-1 throughout
        rows[-1]["op_note"] = "\x81"
    path = write_csv(tmp_path / "enc.csv", rows, encoding=encoding)
    whole = _run([path], None)
    pieces = _run([path], 512, work_dir=tmp_path / "out")
    _same_results(whole, pieces)
    assert whole.inputs[0].rows_audited == 60
    assert not list((tmp_path / "out").iterdir())


def test_mixed_utf8_and_windows_1252_found_late_is_decoded_as_whole(tmp_path):
    rows = [line(claim_id=f"C{i}") for i in range(80)]
    path = write_csv(tmp_path / "mixed.csv", rows)
    data = path.read_bytes()
    # a Windows-1252 byte early, a UTF-8 character late: the whole file reads as UTF-8 + Windows-1252
    data = data.replace(b"C3,", b"C3\xe9,", 1).replace(b"C77,", "C77é,".encode(), 1)
    path.write_bytes(data)
    whole, pieces = _run([path], None), _run([path], 300)
    _same_results(whole, pieces)
    assert whole.inputs[0].encoding == "utf-8+windows-1252"


def test_irregular_quoting_falls_back_to_the_whole_file(tmp_path):
    rows = [line(claim_id=f"C{i}", op_note='a 5" stent' if i == 30 else "") for i in range(60)]
    path = write_csv(tmp_path / "stray.csv", rows)
    data = path.read_bytes().replace(b'"a 5"" stent"', b'a 5" stent')  # a stray quote, as people type it
    path.write_bytes(data)
    _same_results(_run([path], None), _run([path], 200))


def test_a_late_piece_without_a_boundary_reads_the_file_again_whole(tmp_path):
    """A stray quote deep in the file (no record boundary within MAX_GROWTH pieces, many pieces in) sends
    the reader back to read it whole."""
    from claims_audit.readers import ReadAgain, _delimited_pieces

    rows = [line(claim_id=f"C{i}", op_note='a 5" stent' if i == 50 else "") for i in range(80)]
    path = write_csv(tmp_path / "stray.csv", rows)
    path.write_bytes(path.read_bytes().replace(b'"a 5"" stent"', b'a 5" stent'))
    parsed = []
    with pytest.raises(ReadAgain) as again:
        for piece in _delimited_pieces(path, ".csv", ReadOptions(200, scratch=tmp_path)):
            parsed.append(piece)
    assert again.value.options.chunk_bytes is None
    assert len(parsed) > 10  # well past the first two pieces


def test_a_mapping_failure_counts_every_piece(tmp_path):
    header = [h for h in HEADER if h != "units"]
    path = write_csv(tmp_path / "nounits.csv", [line(claim_id=f"C{i}") for i in range(50)], header=header)
    whole, pieces = _run([path], None), _run([path], 256)
    _same_results(whole, pieces)
    assert pieces.inputs[0].rows_read == 50 and pieces.inputs[0].status == "rejected"


def test_parquet_is_read_in_slices(tmp_path):
    frame = sample.generate(3_000, seed=4)
    path = tmp_path / "lines.parquet"
    frame.write_parquet(path, row_group_size=500)
    _same_results(_run([path], None), _run([path], 40_000))


# found by a 400-example run: a lone CR in an unquoted cell ends a row (whole: the csv module, which splits
# there; pieces: polars, which took the CR for text); with a duplicated extra header and random bytes
LONE_CR_EXTRACT = (
    b"claim_id,line_number,member_id,service_date,procedure_code,units,modifier_1,modifier_2,rendering_npi,"
    b"place_of_service,charge_amount,dx_1,dx_2,documented_approach,documented_site,op_note,notes,notes\n"
    b",1,000123,2026-11-02,34421,1,LT,,1234567893,22,2400.00,I82.412,,left groin incision,left common femo"
    b"ral vein,,,\n,2026112,,,0001F,,,(12.00),,=cmd|' /C calc'!A0,,\t=2+2,2,,,F\xc3\xa9moral,=1+1,\n,1,00012"
    b"3,2026-11-02,34421,1,LT,,1234567893,22,2400.00,I82.412,,left groin incision,,,+1,\n\"=HYPERLINK(\"\"ht"
    b"tp://x.test\"\",\"\"go\"\")\",1,000123,2026-11-02,34421,1,LT,,1234567893,22,2400.00,I82.412,,=1+1,left "
    b"common femoral vein,,,\n2026-11-02 00:00:00,,2026-11-02T00:00:00,,left groin incision,2026112,=1+1,\"$"
    b"1,234.50\",,,,\xef\xbb\xbf,percutaneous,,,,,\n,left groin incision,,\xf0\x9f\x98\x80,,,,\"($1,234.50)"
    b"\",2.61121E+11,,1.23457E+09,2026-11-02 00:00:00,,,,,,\n,1,000123,2026-11-02,34421,1,LT,,1234567893,22"
    b",2400.00,I82.412,,left groin incision,left common femoral vein,,,\nC1,1,000123,2026-11-02,34421,1,LT,,"
    b"1234567893,22,2400.00,I82.412,,left groin incision,left common femoral vein,,,,(12.00)\nW\x14\xc2\x91"
    b"\xc2\x98}\xc2\x9ev\xf0\xa4\x8b\xaf\xc3\x9b$\xc3\xb3\xc2\x8b\xc2\xb1\xf1\xa7\xb9\xb2Q\xc3\xba&\\1C"
    b"\xf1\x94\xbd\x8c\xf2\xa0\x84\x8e\xc2\xa2\r,left groin incision,,,,,,=1+1,,\xf0\x9f\x98\x80,,left comm"
    b"on femoral vein,2026-11-02T00:00:00,,,,,\n,,,,,,,,,,,,,,,,,\n")


@FUZZ
@given(extracts(), st.integers(1, 400))
@example(("extract.csv", LONE_CR_EXTRACT, None, [*HEADER, "notes", "notes"]), 236)
def test_random_damaged_extracts_in_tiny_pieces_equal_whole_files(extract, size):
    name, data, _, _ = extract
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / name
        src.write_bytes(data)
        _same_results(_run([src], None), _run([src], size, retain_bytes=0, work_dir=Path(tmp) / "out"))


def test_the_scratch_folder_is_removed_when_the_run_fails(tmp_path, monkeypatch):
    path = _extract(tmp_path, 2_000, seed=2)

    def boom(*a, **k):
        raise RuntimeError("rules failed")

    monkeypatch.setattr(pipeline, "apply_rules", boom)
    with pytest.raises(RuntimeError):
        _run([path], 4096, retain_bytes=0, work_dir=tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_a_killed_runs_scratch_folder_is_removed_by_the_next_run(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    dead = "ab" * 16
    (out / f".claims-audit.{dead}.scratch").mkdir()
    (out / f".claims-audit.{dead}.scratch" / "lines-000000.parquet").write_bytes(b"PAR1")
    (out / f".claims-audit.{dead}.lock").write_bytes(b"")  # nobody holds it: its run is dead
    path = write_csv(tmp_path / "a.csv", [line()])
    proc = subprocess.run([sys.executable, "-m", "claims_audit", "run", str(path), "--out", str(out),
                           "--run-date", "2026-11-20", "--no-ledger", "--quiet"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["claims-audit-2026-11-20.json", "claims-audit-2026-11-20.xlsx"]


def test_progress_reports_bytes_rows_and_stages(tmp_path):
    files = [_extract(tmp_path, 3_000, seed=1), _extract(tmp_path, 2_000, seed=3)]
    events: list[pipeline.ProgressEvent] = []
    _run(files, 16 << 10, progress=events.append)
    reading = [e for e in events if e.stage == "reading"]
    total = sum(f.stat().st_size for f in files)
    assert len(reading) > 10 and all(e.run_total == total for e in reading)
    assert [e.run_done for e in reading] == sorted(e.run_done for e in reading)
    assert reading[-1].run_done == total and reading[-1].rows == 5_000
    assert {e.file for e in reading} == {str(f) for f in files}
    assert [e.stage for e in events if e.stage != "reading"] == ["rules"]
    events.clear()  # a run of several groups of members: which one the rules audit, of how many
    _run(files, 16 << 10, progress=events.append, buckets=3)
    assert [(e.stage, e.group, e.groups) for e in events if e.stage != "reading"] == [
        ("rules", 0, 0), ("rules", 1, 3), ("rules", 2, 3), ("rules", 3, 3)]


def test_progress_is_silent_off_a_terminal_and_with_quiet(tmp_path, monkeypatch):
    from claims_audit import cli
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert cli._Progress(quiet=True).bar is None
    shown = cli._Progress()
    assert shown.bar is not None
    with shown:  # renders every stage without error
        shown(pipeline.ProgressEvent("reading", "a.csv", 10, 100, 10, 200, 5))
        shown(pipeline.ProgressEvent("rules", None, 0, 0, 200, 200, 9))
        shown(pipeline.ProgressEvent("rules", None, 0, 0, 200, 200, 9, 2, 15))
        whole = shown.bar.tasks[0]
        assert whole.description == "whole run: rules, group 2 of 15" and whole.completed == 200
        shown(pipeline.ProgressEvent("report", rows=9))  # no byte counts: the bar stays where it was
        assert whole.description == "whole run: report" and whole.completed == 200 and whole.total == 200
        assert whole.fields["rows"] == "9 rows"
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert cli._Progress().bar is None
    path = write_csv(tmp_path / "a.csv", [line()])
    proc = subprocess.run([sys.executable, "-m", "claims_audit", "run", str(path), "--out", str(tmp_path / "o"),
                           "--run-date", "2026-11-20", "--no-ledger", "--quiet"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == ""


# the peak RSS of a child is measured by a small Python parent: a child forked from a big process (this
# test session) inherits its parent's peak in ru_maxrss, which exec does not reset
MEASURE = """
import os, subprocess, sys
with open(sys.argv[1], "w") as out:
    proc = subprocess.Popen(sys.argv[2:], stdout=out, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def _peak_rss_mib(extract: Path, out: Path, chunk_bytes: int) -> tuple[float, str]:
    """(peak RSS in MiB, first line printed) of a real `claims-audit run` with pieces of `chunk_bytes`."""
    env = dict(os.environ, **{pipeline.CHUNK_ENV: str(chunk_bytes)})
    printed = out.with_suffix(".stdout")
    proc = subprocess.run([sys.executable, "-c", MEASURE, str(printed), sys.executable, "-m", "claims_audit",
                           "run", str(extract), "--out", str(out), "--run-date", "2026-11-20", "--no-ledger"],
                          env=env, capture_output=True, text=True, check=True)
    code, peak_kib = (int(v) for v in proc.stdout.split())
    assert code == 0
    return peak_kib / 1024, printed.read_text().splitlines()[0]


def test_memory_is_bounded_by_the_piece_size_not_the_file(tmp_path):
    """The same moderate extract (about 45 MB) read whole and in 1 MiB pieces, as real processes: the
    pieces need far less memory (the retained lines, findings and workbook are the same in both)."""
    extract = tmp_path / "moderate.csv"
    subprocess.run([sys.executable, "-m", "claims_audit", "sample", "--lines", "450000", "--out", str(extract),
                    "--seed", "3"], check=True, stdout=subprocess.DEVNULL)
    whole, whole_summary = _peak_rss_mib(extract, tmp_path / "w", 1 << 40)
    pieces, pieces_summary = _peak_rss_mib(extract, tmp_path / "p", 1 << 20)
    assert whole_summary == pieces_summary and whole_summary.startswith("450000 rows read")
    assert pieces < whole - 150, (whole, pieces)  # measured: about 620 MiB whole, 320 MiB in pieces
