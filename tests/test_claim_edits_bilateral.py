"""BILATERAL_FORMAT: modifier 50, RT and LT, units."""

from __future__ import annotations

from claim_edit_lines import D, line, run, keys


def test_bilateral_two_units_without_50():
    [f] = run(line(units=2, dx=("I82413",)), rule="BILATERAL_FORMAT").to_dicts()
    assert "modifier 50 and 1 unit" in f["message"]
    assert f["reference"].startswith("PFS 34421 bilateral surgery indicator 1")


def test_bilateral_correct_format_is_clean():
    assert run(line(mods=("50",), dx=("I82413",)), rule="BILATERAL_FORMAT").is_empty()
    assert run(line(mods=("RT",)), rule="BILATERAL_FORMAT").is_empty()


def test_bilateral_50_with_two_units_and_rt_lt_on_one_line():
    assert keys(run(line(mods=("50",), units=2, dx=("I82413",)), rule="BILATERAL_FORMAT")) == [0]
    assert keys(run(line(mods=("RT", "LT"), dx=("I82413",)), rule="BILATERAL_FORMAT")) == [0]


def test_bilateral_separate_rt_and_lt_lines_across_files():
    out = run(
        line(mods=("RT",), claim_id="A", source_file="a.csv"),
        line(mods=("LT",), dx=("I82412",), claim_id="B", source_file="b.csv"),
        rule="BILATERAL_FORMAT",
    )
    [f] = out.to_dicts()
    assert (f["line_key"], f["related_claim_id"], f["related_line_number"]) == (1, "A", 1)
    # other dates or members are separate procedures
    assert run(line(mods=("RT",)), line(mods=("LT",), dx=("I82412",), service_date=D(2024, 8, 5)),
               rule="BILATERAL_FORMAT").is_empty()


def test_bilateral_uses_fee_schedule_dates():
    # the only packaged PFS version takes effect 2024-01-01
    assert run(line(units=2, service_date=D(2023, 12, 31)), rule="BILATERAL_FORMAT").is_empty()
    assert keys(run(line(units=2, service_date=D(2024, 1, 1)), rule="BILATERAL_FORMAT")) == [0]
