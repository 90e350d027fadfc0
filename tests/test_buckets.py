"""Member buckets (claims_audit.buckets): every member's lines in exactly one bucket, the same bucket in
every process."""

from __future__ import annotations

import subprocess
import sys

import polars as pl
import pytest

from claims_audit import sample
from claims_audit.buckets import member_bucket, split_by_member


def test_member_buckets_keep_each_member_whole():
    frame = sample.generate(5_000, seed=3)
    parts = split_by_member(frame, 7)
    assert sum(p.height for p in parts.values()) == frame.height
    owners = pl.concat([p.select("member_id").unique().with_columns(pl.lit(k).alias("bucket"))
                        for k, p in parts.items()])
    assert owners.get_column("member_id").is_unique().all()
    again = frame.select(member_bucket(7)).to_series()
    assert again.equals(frame.select(member_bucket(7)).to_series()) and again.max() < 7 and again.min() >= 0
    with pytest.raises(ValueError):
        member_bucket(0)


def test_a_member_lands_in_the_same_bucket_in_another_process():
    """Executors are other processes: the bucket must not depend on the process (no random hash seed)."""
    ids = ["M0001", "000123", "1.23457E+11", "Z" * 40]
    here = pl.DataFrame({"member_id": ids}).select(member_bucket(13)).to_series().to_list()
    code = ("import polars as pl; from claims_audit.buckets import member_bucket; "
            f"print(pl.DataFrame({{'member_id': {ids!r}}}).select(member_bucket(13)).to_series().to_list())")
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert there.strip() == str(here)
