"""Benchmark: rows (service lines) per second reading a large X12 837P file.

Generates a synthetic 5010 837P interchange of about --mb megabytes (transactions of 5,000 claims, one
subscriber per claim, 4 service lines per claim, ICD-10-CM diagnoses, valid NPIs), then times reading it
into the canonical text table (x12 segmenting + x12sdk parsing + rows), as `claims-audit run` does.

    .venv/bin/python bench/x12_bench.py --mb 100
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from claims_audit.readers import InputFile, read
from claims_audit.schema import load_layout

ISA = ("ISA*00*          *00*          *ZZ*SUBMITTER      *ZZ*RECEIVER       *261120*0100*^*00501*000000001*0*P*:~"
       "\nGS*HC*SUBMITTER*RECEIVER*20261120*0100*1*X*005010X222A2~\n")
HEADER = ("BHT*0019*00*B{tx}*20261120*0100*CH~\nNM1*41*2*BILLING SERVICE*****46*TGJ23~\nPER*IC*DESK*TE*5555550100~\n"
          "NM1*40*2*PAYER*****46*66783~\nHL*1**20*1~\nNM1*85*2*CLINIC*****XX*1234567893~\nN3*1 MAIN ST~\n"
          "N4*CITY*FL*331110000~\nREF*EI*587654321~\n")
CLAIM = ("HL*{hl}*1*22*0~\nSBR*P*18*GRP******CI~\nNM1*IL*1*DOE*JANE****MI*M{member:09d}~\n"
         "NM1*PR*2*PAYER*****PI*999996666~\nCLM*C{claim:09d}*400***11:B:1*Y*A*Y*I~\n"
         "HI*ABK:I82411*ABF:I10~\n{lines}")
LINE = "LX*{n}~\nSV1*HC:{code}:RT*100*UN*1***1~\nDTP*472*D8*20261102~\n"
CODES = ["34421", "99213", "76937", "36005"]
CLAIMS_PER_TX = 5000


def claim_text(hl: int, claim: int) -> tuple[str, int]:
    lines = "".join(LINE.format(n=n + 1, code=CODES[n]) for n in range(4))
    return CLAIM.format(hl=hl, member=claim % 200_000, claim=claim, lines=lines), 6 + 3 * 4


def generate(path: Path, megabytes: float) -> int:
    """Write the file; returns the number of service lines in it."""
    target = int(megabytes * 1_000_000)
    written, claim, tx, lines = 0, 0, 0, 0
    with path.open("w") as fh:
        fh.write(ISA)
        while written < target:
            tx += 1
            parts, segments = [f"ST*837*{tx:04d}*005010X222A2~\n", HEADER.format(tx=tx)], 1 + 9
            for i in range(CLAIMS_PER_TX):
                claim += 1
                text, count = claim_text(i + 2, claim)
                parts.append(text)
                segments += count
                lines += 4
            segments += 1
            parts.append(f"SE*{segments}*{tx:04d}~\n")
            chunk = "".join(parts)
            fh.write(chunk)
            written += len(chunk)
        fh.write(f"GE*{tx}*1~\nIEA*1*000000001~\n")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=100.0, help="size of the generated file in MB")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.837"
        t0 = time.perf_counter()
        lines = generate(path, args.mb)
        size = path.stat().st_size
        print(f"generated {size / 1e6:.1f} MB, {lines} service lines in {time.perf_counter() - t0:.1f} s")
        layout = load_layout()
        t0 = time.perf_counter()
        raw = read(InputFile(path, str(path)), layout)
        seconds = time.perf_counter() - t0
        assert raw.rows_read == lines and raw.structural.height == 0, "every line must be read"
        print(f"read {raw.rows_read} rows in {seconds:.1f} s: {raw.rows_read / seconds:,.0f} rows/s, "
              f"{size / 1e6 / seconds:.2f} MB/s")


if __name__ == "__main__":
    main()
