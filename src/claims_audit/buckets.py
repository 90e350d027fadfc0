"""Member buckets: every line of a member in the same one of N groups, so that each group can be audited
on its own and give the findings a whole-run evaluation gives.

Every claim edit compares lines of one member (same member and date, same member and provider, the
member's global period); the documentation rules read one line. A split by member therefore never
separates two lines a rule compares. The Spark engine shuffles by this bucket
(:mod:`claims_audit.spark_engine`); a single-machine run may use it to evaluate members group by group.
"""

from __future__ import annotations

import polars as pl

MEMBER = "member_id"
# a fixed seed: the same member lands in the same bucket in every process of a run (polars' hash is stable
# for one polars version; every executor of a cluster runs the same environment as the driver)
_SEED = 0x34421


def member_bucket(buckets: int, column: str = MEMBER) -> pl.Expr:
    """The bucket (0 .. buckets-1, Int32) of each line's member. A missing member id has a bucket too
    (all such lines share one), so no line is ever left out of every group."""
    if buckets < 1:
        raise ValueError("buckets must be at least 1")
    return (pl.col(column).hash(seed=_SEED) % buckets).cast(pl.Int32).alias("member_bucket")


def split_by_member(lines: pl.DataFrame, buckets: int) -> dict[int, pl.DataFrame]:
    """`lines` cut into member buckets (only the non-empty ones), each in the order of `lines`."""
    if lines.is_empty():
        return {}
    keyed = lines.with_columns(member_bucket(buckets))
    return {int(key): part.drop("member_bucket")
            for (key,), part in keyed.partition_by("member_bucket", as_dict=True, maintain_order=True).items()}
