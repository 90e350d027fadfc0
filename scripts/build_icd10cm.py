"""Build the shipped ICD-10-CM code table from the official code set in the simple-icd-10-cm package.

    python scripts/build_icd10cm.py

Writes src/claims_audit/data/icd10cm/icd10cm_codes.csv (code without dot, billable) and its .meta.yaml.
The run-time audit reads this small table (tens of milliseconds) instead of importing the package, whose
import parses the whole tabular XML (seconds). tests/test_icd10cm_table.py checks that the shipped table
equals the package's code set, so a package upgrade that changes the code set fails the tests until the
table is rebuilt. ICD-10-CM is published by CDC/NCHS (public domain).
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "claims_audit" / "data" / "icd10cm"


def code_rows() -> list[tuple[str, bool]]:
    import simple_icd_10_cm as icd

    rows = [(c, bool(icd.is_leaf(c))) for c in icd.get_all_codes(with_dots=False)
            if not icd.is_chapter_or_block(c)]
    return sorted(rows)


def release() -> str:
    import simple_icd_10_cm as icd

    data = Path(icd.__file__).parent / "data"
    return ", ".join(sorted(p.stem.replace("code-list-", "") for p in data.glob("code-list-*.txt")))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rows = code_rows()
    with (OUT / "icd10cm_codes.csv").open("w", encoding="utf-8", newline="\n") as fh:
        fh.write("code,billable\n")
        fh.writelines(f"{c},{'1' if b else '0'}\n" for c, b in rows)
    (OUT / "icd10cm_codes.meta.yaml").write_text(
        "# ICD-10-CM code set used by DIAGNOSIS_INVALID / DIAGNOSIS_NOT_SUPPORTING.\n"
        "# Built by scripts/build_icd10cm.py; do not edit by hand.\n"
        f"table: icd10cm_codes\nversion: \"ICD-10-CM {release()}\"\n"
        "effective: \"2026-04-01\"\n"
        "source: \"CDC/NCHS ICD-10-CM tabular list (public domain), as bundled in the PyPI package "
        f"simple-icd-10-cm {metadata.version('simple-icd-10-cm')}\"\n"
        f"codes: {len(rows)}\nbillable: {sum(b for _, b in rows)}\n",
        encoding="utf-8")
    print(f"wrote {len(rows)} codes to {OUT}")


if __name__ == "__main__":
    main()
