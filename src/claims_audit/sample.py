"""Synthetic claim extracts: a realistic, deterministic, vectorised generator and a writer.

Everything produced here is invented. Member ids, claim ids and NPIs are made up (NPIs carry a valid check
digit so they look real to a validator, but they are not looked up anywhere). Diagnosis and procedure codes
are real code values used only as labels; no CPT descriptor text is reproduced.

``generate(lines, seed)`` returns one row per claim line with the canonical columns (:data:`COLUMNS`), every
column a polars ``String`` and empty cells null. All randomness comes from tabulation hashing of row and
claim indexes with seed-dependent tables built from murmur3's 32-bit finaliser (see ``_Rng``), evaluated
with polars expressions (no Python loop per line). The output therefore depends only on
``(lines, seed, bad_fraction)``: not on polars' random number generator, nor on the number of threads. Two
million lines take a few seconds and about 1 GB (polars stores every string cell as a 16-byte view).

Shape of the data:

* claims of 1-6 lines; the lines of a claim share claim_id, member_id, service_date, rendering_npi and
  place_of_service; line_number runs 1..n within the claim;
* office claims (POS 11) carry E/M, labs, preventive HCPCS, Category II and duplex codes; facility claims
  (POS 21/22/24) start with a surgical / interventional procedure and continue with hospital E/M, imaging,
  catheter and lab lines. CPT 34421 is about 1.6 % of all lines;
* service dates span 2024-01-01..2026-12-31, written ``YYYY-MM-DD`` or ``MM/DD/YYYY`` (per claim);
* ICD-10-CM codes with or without the dot (per claim), laterality coherent with RT/LT modifiers and with the
  documentation text (with a small share of deliberate side conflicts and unsupportive diagnoses);
* for 34421 lines, ``documented_approach`` / ``documented_site`` / ``op_note`` carry clean leg-incision
  documentation (~58 %), approach mismatches (abdominal, abdominal + leg, percutaneous, catheter lysis,
  neck, arm), site mismatches (artery, calf veins, saphenous vein, subclavian vein), incomplete
  documentation ('N/A', blank, 'see op note' without a note, "femoral" alone, a duplex report instead of an
  operative note), op-note-only documentation and abstract-vs-note conflicts.

``bad_fraction`` makes exactly ``round(lines * bad_fraction)`` lines carry exactly one invalid cell (see
:data:`BAD_KINDS`); with the default 0.0 every cell is valid against ``schemas/claims-extract-v1.yaml``.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
from pathlib import Path

import polars as pl

__all__ = [
    "COLUMNS", "BAD_KINDS", "DOC_KIND_SHARE", "XLSX_MAX_ROWS", "RIGHT", "LEFT", "generate", "write", "npi_check_digit",
    "render_side", "charge_text",
]  # fmt: skip

COLUMNS: list[str] = [
    "claim_id",
    "line_number",
    "member_id",
    "service_date",
    "procedure_code",
    "units",
    "modifier_1",
    "modifier_2",
    "modifier_3",
    "modifier_4",
    "rendering_npi",
    "place_of_service",
    "charge_amount",
    *[f"dx_{n}" for n in range(1, 13)],
    "documented_approach",
    "documented_site",
    "op_note",
]

#: The kinds of invalid cell ``bad_fraction`` injects (one per bad line), with the column each one hits.
BAD_KINDS: dict[str, str] = {
    "impossible_date": "service_date",
    "units_zero": "units",
    "units_not_integer": "units",
    "empty_procedure_code": "procedure_code",
    "bad_npi_check_digit": "rendering_npi",
    "modifier_three_chars": "modifier_1",
    "malformed_dx": "dx_1",
    "charge_not_number": "charge_amount",
}

#: Data rows an .xlsx sheet can hold below its header row.
XLSX_MAX_ROWS = 1_048_575

_M32 = 1 << 32
_U64 = pl.UInt64


# --------------------------------------------------------------------------------------------------------
# deterministic hashing (murmur3 fmix32), in Python for keys and in polars for columns
# --------------------------------------------------------------------------------------------------------


def _fmix_py(x: int) -> int:
    x &= 0xFFFFFFFF
    x ^= x >> 16
    x = (x * 0x85EBCA6B) & 0xFFFFFFFF
    x ^= x >> 13
    x = (x * 0xC2B2AE35) & 0xFFFFFFFF
    x ^= x >> 16
    return x


def _lit(v: int) -> pl.Expr:
    return pl.lit(v, dtype=_U64)


def _fmix_series(x: pl.Series) -> pl.Series:
    """murmur3 fmix32 on a UInt64 Series holding values < 2**32 (products stay below 2**64)."""
    x = x ^ (x // (1 << 16))
    x = (x * 0x85EBCA6B) % _M32
    x = x ^ (x // (1 << 13))
    x = (x * 0xC2B2AE35) % _M32
    return x ^ (x // (1 << 16))


class _Rng:
    """Independent pseudo-random streams keyed by (seed, stream name), evaluated on an index column.

    Simple tabulation hashing: the index is split into two 16-bit halves, each half (xor a per-stream key)
    looks up a seed-dependent table of random 32-bit words, and the two words are xor-ed with a third
    per-stream key. Indexes must be below 2**32. Table lookups keep the polars expression trees small
    (an arithmetic mixer would reuse sub-expressions and blow the trees up) and are fast.
    """

    def __init__(self, seed: int) -> None:
        s = int(seed) % (1 << 64)
        self.key = _fmix_py(_fmix_py(s & 0xFFFFFFFF) ^ (s >> 32) ^ 0x5BD1E995)
        j = pl.int_range(0, 1 << 16, dtype=_U64, eager=True)
        self._t1 = _fmix_series((_fmix_series(j ^ (self.key & 0xFFFF)) + 0x9E3779B9) % _M32)
        self._t2 = _fmix_series((_fmix_series(j ^ (self.key >> 16)) + 0x7F4A7C15) % _M32)
        self._streams: dict[str, tuple[int, int, int]] = {}

    def _keys(self, stream: str) -> tuple[int, int, int]:
        keys = self._streams.get(stream)
        if keys is None:
            n = len(self._streams)  # distinct 16-bit keys for distinct streams (odd multipliers)
            h = self.key
            for ch in stream.encode():
                h = _fmix_py(h ^ ch)
            keys = ((n * 40503 + self.key) & 0xFFFF, (n * 25931 + (self.key >> 16)) & 0xFFFF, _fmix_py(h))
            self._streams[stream] = keys
        return keys

    def u32(self, index: pl.Expr, stream: str) -> pl.Expr:
        """A value in [0, 2**32) for each row of ``index`` (a UInt64 expression with values < 2**32)."""
        a, b, c = self._keys(stream)
        lo = pl.lit(self._t1).gather((index % _lit(1 << 16)).xor(_lit(a)))
        hi = pl.lit(self._t2).gather(((index // _lit(1 << 16)) % _lit(1 << 16)).xor(_lit(b)))
        return lo.xor(hi).xor(_lit(c))

    def below(self, index: pl.Expr, stream: str, n: int) -> pl.Expr:
        """A value in [0, n)."""
        return self.u32(index, stream) % _lit(n)

    def chance(self, index: pl.Expr, stream: str, per_10000: int) -> pl.Expr:
        """True with probability per_10000 / 10000."""
        return self.below(index, stream, 10_000) < _lit(per_10000)


def _expand(weighted: list[tuple[object, int]]) -> list[object]:
    out: list[object] = []
    for value, weight in weighted:
        out.extend([value] * weight)
    return out


def _pick(rng: _Rng, index: pl.Expr, stream: str, weighted: list[tuple[object, int]], dtype=pl.String) -> pl.Expr:
    """A weighted choice per row (weights are small integers; None values become null)."""
    pool = _expand(weighted)
    return pl.lit(pl.Series(pool, dtype=dtype)).gather(rng.below(index, stream, len(pool)))


def _gather(values: list[object], idx: pl.Expr, dtype=pl.String) -> pl.Expr:
    return pl.lit(pl.Series(values, dtype=dtype)).gather(idx)


# --------------------------------------------------------------------------------------------------------
# NPI
# --------------------------------------------------------------------------------------------------------


def npi_check_digit(first9: str) -> str:
    """The NPI check digit for a 9-digit prefix: Luhn over '80840' + the 9 digits."""
    if not re.fullmatch(r"\d{9}", first9):
        raise ValueError("an NPI prefix is 9 digits")
    total = 0
    for i, ch in enumerate(reversed("80840" + first9)):
        d = int(ch)
        if i % 2 == 0:  # rightmost digit of the payload is doubled (the check digit will follow it)
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def _npi_check_expr(base9: pl.Expr) -> pl.Expr:
    """Vectorised check digit for a UInt64 expression holding 9-digit numbers."""
    total = _lit(24)  # the prefix 80840 contributes 24 (8 + 0*2 + 8 + 4*2 + 0)
    for k in range(9):  # k = 0 is the rightmost digit (doubled)
        d = (base9 // _lit(10**k)) % _lit(10)
        if k % 2 == 0:
            d = pl.when(d > 4).then(d * _lit(2) - _lit(9)).otherwise(d * _lit(2))
        total = total + d
    return (_lit(10) - total % _lit(10)) % _lit(10)


# --------------------------------------------------------------------------------------------------------
# code pools
# --------------------------------------------------------------------------------------------------------

# Families decide modifiers, diagnoses and documentation. Charges are typical billed amounts in cents.
_CODES: dict[str, tuple[str, int]] = {
    # office / hospital E/M
    "99202": ("em", 11000), "99203": ("em", 16500), "99204": ("em", 25000), "99212": ("em", 9000),
    "99213": ("em", 13500), "99214": ("em", 19500), "99215": ("em", 27000), "99222": ("em", 26000),
    "99223": ("em", 36500), "99231": ("em", 8500), "99232": ("em", 13000), "99233": ("em", 19000),
    "99238": ("em", 12500),
    # preventive / HCPCS / Category II
    "G0438": ("hcpcs", 24000), "G0439": ("hcpcs", 17500), "G0444": ("hcpcs", 3500), "J1100": ("drug", 400),
    "J1644": ("drug", 1200), "J0690": ("drug", 900), "0001F": ("cat2", 0), "1036F": ("cat2", 0),
    "3074F": ("cat2", 0), "3078F": ("cat2", 0), "3044F": ("cat2", 0), "1159F": ("cat2", 0),
    "1160F": ("cat2", 0), "4004F": ("cat2", 0),
    # labs
    "80053": ("lab", 4500), "80048": ("lab", 3500), "80061": ("lab", 5500), "85025": ("lab", 2800),
    "85610": ("lab", 1800), "85730": ("lab", 2400), "83036": ("lab", 4200), "81002": ("lab", 1200),
    "36415": ("lab", 1500), "84443": ("lab", 6000), "85379": ("lab", 5200),
    # imaging / diagnostics
    "93970": ("venous_imaging", 45000), "93971": ("venous_imaging", 30000),
    "75820": ("venous_imaging", 52000), "75822": ("venous_imaging", 68000),
    "71046": ("imaging", 9500), "93000": ("imaging", 6500), "93005": ("imaging", 4500),
    "76937": ("imaging", 12000), "93925": ("arterial_imaging", 42000),
    # vascular family (venous)
    "34421": ("venous", 245000), "34401": ("venous", 265000), "34451": ("venous", 310000),
    "37187": ("venous", 185000), "37188": ("venous", 160000), "37212": ("venous", 120000),
    "37213": ("venous", 95000), "36010": ("venous", 45000), "37238": ("venous", 160000),
    "36475": ("venous", 150000), "36478": ("venous", 130000),
    # vascular family (arterial / access)
    "34201": ("arterial", 230000), "34203": ("arterial", 250000), "35226": ("arterial", 190000),
    "37228": ("arterial", 210000), "36821": ("arterial", 175000), "36905": ("arterial", 220000),
    # other surgery
    "27447": ("knee", 420000), "29881": ("meniscus", 190000), "66984": ("eye", 210000),
    "47562": ("gallbladder", 260000), "49505": ("hernia", 180000), "43239": ("egd", 95000),
    "45378": ("colonoscopy", 85000), "11721": ("nail", 9000),
}


def charge_text(code: str | None, units: int = 1) -> str:
    """The typical billed amount of ``units`` of ``code`` (the generator's charge table, 100.00 a unit for
    a code it lacks), written with two decimals: the curated sample cases charge what the generator would
    before its random spread."""
    cents = _CODES.get(code or "", ("", 10_000))[1] * units
    return f"{cents // 100}.{cents % 100:02d}"


# office claims: line 1 is the visit (or a small office procedure), later lines are ancillary services
_OFFICE_FIRST = [
    ("99213", 200), ("99214", 170), ("99212", 45), ("99215", 35), ("99203", 30), ("99204", 25), ("99202", 10),
    ("G0439", 30), ("G0438", 8), ("93970", 8), ("93971", 10), ("11721", 10), ("93925", 4),
]  # fmt: skip
_OFFICE_OTHER = [
    ("G0444", 10), ("0001F", 14), ("1036F", 10), ("3074F", 14), ("3078F", 14), ("3044F", 10), ("1159F", 8),
    ("1160F", 8), ("4004F", 6), ("80053", 40), ("80061", 35), ("85025", 45), ("83036", 30), ("81002", 15),
    ("36415", 60), ("84443", 20), ("93000", 20), ("J1100", 5), ("J0690", 4),
]  # fmt: skip
# facility claims: line 1 is the procedure, line 2 may be the hospital visit, later lines are ancillary
_SURGICAL_PRIMARY = [
    ("34421", 88), ("37187", 70), ("37188", 15), ("37212", 45), ("37213", 10), ("36010", 25), ("34401", 14),
    ("34451", 12), ("34201", 25), ("34203", 10), ("35226", 15), ("37228", 40), ("37238", 35), ("36475", 45),
    ("36478", 30), ("36821", 20), ("36905", 25), ("27447", 60), ("29881", 55), ("47562", 55), ("49505", 45),
    ("66984", 55), ("43239", 60), ("45378", 70),
]  # fmt: skip
_FACILITY_ANCILLARY = [
    ("93970", 45), ("93971", 30), ("75820", 20), ("75822", 20), ("71046", 40), ("93005", 30), ("76937", 30),
    ("36010", 15), ("37187", 10), ("37212", 8), ("35226", 6), ("85025", 60), ("80048", 55), ("85610", 45),
    ("85730", 35), ("85379", 20), ("36415", 40), ("J1644", 25), ("J1100", 10), ("34401", 2), ("34451", 2),
]  # fmt: skip
_FACILITY_SECOND = [("99232", 130), ("99233", 50), ("99231", 40), ("99223", 60), ("99222", 25), ("99238", 25),
                    *_FACILITY_ANCILLARY]  # fmt: skip

_SIDES = ["right", "left", "bilateral", None]  # side index 0..3
RIGHT, LEFT = 0, 1  # the side indexes of render_side for the two single sides
_SIDE_WEIGHTS = [(0, 46), (1, 46), (2, 4), (3, 4)]

# --- modifiers -----------------------------------------------------------------------------------------
_MOD1_BY_FAMILY: dict[str, list[tuple[object, int]]] = {
    "em_office": [(None, 90), ("25", 10)],
    "em_facility": [(None, 84), ("57", 7), ("25", 5), ("24", 4)],
    "lab": [(None, 92), ("QW", 4), ("90", 2), ("91", 2)],
    "imaging_office": [(None, 92), ("26", 5), ("TC", 3)],
    "imaging_facility": [(None, 45), ("26", 52), ("TC", 3)],
    "cat2": [(None, 92), ("8P", 5), ("1P", 3)],
    "drug": [(None, 70), ("JZ", 30)],
    "other": [(None, 1)],
}
# venous / arterial / sided surgery: mostly the side modifier, else one of these
_MOD1_PROCEDURE_OTHER = [(None, 40), ("59", 20), ("XS", 10), ("22", 10), ("62", 5), ("78", 5), ("79", 5), ("58", 5)]
_MOD2 = [("AS", 20), ("80", 15), ("82", 5), ("GA", 20), ("KX", 20), ("Q6", 10), ("GY", 10)]
_MOD3 = [("CR", 50), ("GC", 50)]
_MOD4 = [("CS", 1)]

# --- diagnoses -------------------------------------------------------------------------------------------
# venous stems: the final character carries laterality (right, left, bilateral, unspecified)
_VENOUS_STEMS: list[tuple[tuple[str, str, str, str], int]] = [
    (("I82.411", "I82.412", "I82.413", "I82.419"), 30),
    (("I82.421", "I82.422", "I82.423", "I82.429"), 18),
    (("I82.431", "I82.432", "I82.433", "I82.439"), 12),
    (("I82.4Y1", "I82.4Y2", "I82.4Y3", "I82.4Y9"), 8),
    (("I82.511", "I82.512", "I82.513", "I82.519"), 5),
    (("I82.521", "I82.522", "I82.523", "I82.529"), 3),
    (("I80.11", "I80.12", "I80.13", "I80.10"), 8),
    (("I80.211", "I80.212", "I80.213", "I80.219"), 3),
    (("I82.220", "I82.220", "I82.220", "I82.220"), 3),
    (("I82.221", "I82.221", "I82.221", "I82.221"), 1),
]
_ARTERIAL_STEMS: list[tuple[tuple[str, str, str, str], int]] = [
    (("I70.221", "I70.222", "I70.223", "I70.229"), 30),
    (("I70.211", "I70.212", "I70.213", "I70.219"), 25),
    (("I74.3", "I74.3", "I74.3", "I74.3"), 25),
    (("I70.261", "I70.262", "I70.263", "I70.269"), 10),
    (("N18.6", "N18.6", "N18.6", "N18.6"), 10),
]
_DX1_BY_FAMILY: dict[str, list[tuple[object, int]]] = {
    "em": [("I10", 30), ("E11.9", 25), ("E78.5", 15), ("J06.9", 8), ("M54.50", 8), ("Z00.00", 10), ("K21.9", 6),
           ("F41.1", 5), ("I25.10", 8), ("I48.91", 6), ("E11.65", 6), ("R07.9", 4), ("I82.412", 3), ("Z79.01", 4),
           ("N18.30", 4), ("E66.9", 4)],
    "lab": [("Z00.00", 25), ("E11.9", 25), ("E78.5", 20), ("R73.03", 10), ("D64.9", 10), ("Z79.01", 10),
            ("E03.9", 8), ("I10", 10)],
    "hcpcs": [("Z00.00", 40), ("Z00.01", 20), ("Z13.89", 10), ("Z13.31", 10), ("E11.9", 5), ("I10", 5)],
    "cat2": [("E11.9", 30), ("I10", 30), ("I50.22", 10), ("E11.65", 10), ("Z79.4", 5), ("I50.9", 5)],
    "drug": [("I82.412", 10), ("I82.411", 10), ("R11.2", 20), ("I10", 10), ("E11.9", 10)],
    "imaging": [("R07.9", 25), ("R06.02", 20), ("I48.91", 15), ("I26.99", 10), ("R00.0", 10), ("Z01.810", 10)],
    "gallbladder": [("K80.20", 50), ("K80.10", 20), ("K81.0", 20), ("K82.8", 10)],
    "hernia": [("K40.90", 70), ("K40.91", 20), ("K40.20", 10)],
    "egd": [("K21.9", 40), ("R10.13", 20), ("K29.70", 20), ("D50.9", 20)],
    "colonoscopy": [("Z12.11", 50), ("D12.6", 20), ("Z86.010", 20), ("K63.5", 10)],
    "nail": [("B35.1", 60), ("L60.0", 40)],
}  # fmt: skip
# sided procedures: the primary diagnosis follows the side of the line
_SIDED_STEMS: dict[str, list[tuple[tuple[str, str, str, str], int]]] = {
    "knee": [(("M17.11", "M17.12", "M17.0", "M17.10"), 1)],
    "meniscus": [(("S83.241A", "S83.242A", "S83.241A", "S83.249A"), 1)],
    "eye": [(("H25.11", "H25.12", "H25.13", "H25.10"), 1)],
}
# secondary diagnoses: dx_2..dx_12 walk this list with a random start and a random step, so the codes of a
# line are distinct (the length must be a prime above 12)
_DX_SECONDARY = [
    "I10", "E11.9", "Z79.01", "E78.5", "Z86.718", "I26.99", "N17.9", "D68.51", "F17.210", "Z87.891", "K21.9",
    "E66.01", "I48.91", "Z95.1", "N18.30", "Z68.30", "I25.10", "E11.65", "Z79.4", "J44.9", "E03.9", "R60.0",
    "M79.604", "M79.605", "Z79.02", "E87.1", "D64.9", "Z79.899", "G47.33",
]  # fmt: skip
_DX_COUNT = [(1, 35), (2, 25), (3, 16), (4, 10), (5, 5), (6, 3), (7, 2), (8, 1), (9, 1), (10, 1), (11, 1), (12, 1)]


# --------------------------------------------------------------------------------------------------------
# documentation text for 34421 lines
# --------------------------------------------------------------------------------------------------------
# Placeholders: {side} right/left/bilateral, {Side} capitalised, {S} R/L/Bilat. With an unspecified side
# they disappear and the text is tidied.

_CLEAN_NOTE_1 = (
    "PROCEDURE: Open venous thrombectomy, {side} common femoral and external iliac veins.\n"
    "INDICATION: Acute {side} iliofemoral DVT with phlegmasia; \"not a candidate for lysis\" per hematology.\n"
    "DESCRIPTION: A {side} vertical groin incision was made, and the common femoral vein was exposed and "
    "controlled with vessel loops. A transverse venotomy was made. A #8 Fogarty balloon catheter was passed "
    "proximally through the venotomy into the external and common iliac veins, and fresh thrombus was "
    "removed in several passes; distal thrombus was cleared with an Esmarch wrap of the leg.\n"
    "The venotomy was closed with 6-0 Prolene. Completion flow was brisk. EBL 200 mL, no complications."
)
_CLEAN_NOTE_2 = (
    "Operative note - {Side} popliteal vein thrombectomy.\n"
    "Under general anesthesia, with the patient prone, a {side} posterior (popliteal fossa) incision was "
    "made. The popliteal vein was dissected free, controlled with Rummel tourniquets, and opened "
    "longitudinally. Organized and fresh thrombus was extracted with forceps and a #5 Fogarty catheter, "
    "\"good back-bleeding\" was obtained, and the venotomy was closed primarily.\n"
    "Patient tolerated the procedure well."
)
_CLEAN_NOTE_3 = (
    "Open thrombectomy of the IVC and {side} iliac veins via femoral venotomy.\n"
    "A {side} oblique inguinal incision exposed the common femoral vein. Through a transverse venotomy, a "
    "balloon catheter was advanced into the infrarenal vena cava under fluoroscopy and withdrawn, removing "
    "thrombus from the IVC and common iliac vein; an adjunct arteriovenous fistula was created.\n"
    "Closure in layers, drains: none. \"Palpable pedal pulses\" at the end of the case."
)
_ABDOMINAL_NOTE = (
    "PROCEDURE: Thrombectomy of the infrarenal IVC.\n"
    "A lower midline laparotomy was performed, the small bowel was packed away and the retroperitoneum "
    "opened. The infrarenal vena cava and {side} common iliac vein were controlled, a cavotomy was made, "
    "and thrombus was extracted. No groin incision was required.\n"
    "The abdomen was closed with looped PDS."
)
_ABD_LEG_NOTE = (
    "Combined approach: a {side} retroperitoneal flank incision exposed the common iliac vein, and a {side} "
    "groin incision exposed the common femoral vein.\n"
    "Thrombus was removed from the iliac vein through a venotomy under direct vision and from the femoral "
    "vein with a Fogarty catheter, \"complete clearance\" on completion venogram."
)
_PERC_NOTE = (
    "PROCEDURE: Percutaneous mechanical thrombectomy, {side} iliofemoral veins.\n"
    "With the patient prone, ultrasound-guided micropuncture access of the {side} popliteal vein was "
    "obtained and upsized to a 16 Fr sheath over the wire. Four passes with the ClotTriever device removed "
    "a large volume of thrombus from the femoral and iliac veins.\n"
    "Sheath removed, hemostasis with a figure-of-eight stitch and manual compression. No open incision."
)
_LYSIS_NOTE = (
    "Catheter-directed thrombolysis, {side} iliofemoral DVT.\n"
    "US-guided {side} popliteal access, 6 Fr sheath; an EKOS infusion catheter was positioned across the "
    "thrombus and tPA 1 mg/hr was started for overnight infusion. \"No mechanical device used.\"\n"
    "Patient to ICU for lysis monitoring, fibrinogen q6h."
)
_NECK_NOTE = (
    "Open thrombectomy, {side} subclavian vein.\n"
    "A {side} supraclavicular incision was made, the clavicular head of the sternocleidomastoid divided, "
    "and the subclavian vein exposed; thrombus was extracted through a venotomy, closed with 6-0 Prolene."
)
_ARM_NOTE = (
    "Open thrombectomy of the {side} axillary and subclavian veins.\n"
    "Through a {side} upper-arm (axillary) incision the axillary vein was exposed, a venotomy was made, and "
    "a Fogarty catheter was passed centrally to the subclavian vein, retrieving \"copious\" thrombus."
)
_ARTERY_NOTE = (
    "PROCEDURE: {Side} femoral embolectomy.\n"
    "Acute limb ischemia, {side} leg, with absent pedal pulses. A {side} groin incision exposed the common "
    "femoral artery and the SFA; a transverse arteriotomy was made and a #4 Fogarty embolectomy catheter "
    "retrieved fresh embolus. Pulses were restored.\n"
    "Arteriotomy closed with a bovine pericardial patch."
)
_CALF_NOTE = (
    "Thrombectomy, {side} calf veins.\n"
    "A {side} medial calf incision exposed the posterior tibial veins; thrombus in the posterior tibial and "
    "peroneal veins was extracted through a venotomy. The popliteal vein was patent on duplex, \"no "
    "intervention needed\" there."
)
_GSV_NOTE = (
    "PROCEDURE: {Side} saphenous thrombectomy and ligation.\n"
    "{Side} groin incision over the saphenofemoral junction. The great saphenous vein was dissected, "
    "thrombus extracted from the proximal GSV, and the vein ligated flush with the common femoral vein, "
    "which was free of thrombus."
)
_DUPLEX_NOTE = (
    "VENOUS DUPLEX, {SIDE_UP} LOWER EXTREMITY.\n"
    "Findings: acute occlusive thrombus of the {side} common femoral, femoral and popliteal veins; "
    "\"non-compressible\" segments. Calf veins not visualized.\n"
    "IMPRESSION: Acute {side} femoropopliteal DVT. Vascular surgery consulted."
)

# (kind, weight, documented_approach, documented_site, op_note or None, note rate per 10000)
_DOC_ENTRIES: list[tuple[str, int, str | None, str | None, str | None, int]] = [
    # clean leg incision (58)
    ("clean", 14, "{Side} groin incision, open femoral venotomy", "{Side} common femoral vein", _CLEAN_NOTE_1, 2500),
    ("clean", 10, "Open, {side} femoral cutdown (inguinal incision)", "{S} CFV and external iliac vein", _CLEAN_NOTE_1, 2500),
    ("clean", 8, "{Side} popliteal fossa incision", "{Side} popliteal vein", _CLEAN_NOTE_2, 3000),
    ("clean", 8, "Open thrombectomy via {side} thigh incision", "{Side} superficial femoral vein (SFV) and popliteal vein", None, 0),
    ("clean", 7, "Leg incision - {side} groin", "Infrarenal IVC and {side} common iliac vein (iliocaval)", _CLEAN_NOTE_3, 3000),
    ("clean", 6, "open, leg", "{S} FV", None, 0),
    ("clean", 5, "{Side} oblique groin incision; percutaneous access was not attempted", "{side} common femoral and external iliac veins", None, 0),
    # approach mismatch (18)
    ("approach_abdominal", 3, "Lower midline laparotomy, transperitoneal exposure", "IVC and {side} common iliac vein", _ABDOMINAL_NOTE, 3000),
    ("approach_abdominal", 1, "{Side} retroperitoneal flank incision", "{Side} common iliac vein", None, 0),
    ("approach_abdominal_and_leg", 3, "{Side} retroperitoneal incision plus {side} groin incision", "{Side} iliac and common femoral veins", _ABD_LEG_NOTE, 3000),
    ("approach_percutaneous", 3, "Percutaneous, US-guided {side} popliteal access (prone), 16 Fr sheath, ClotTriever", "{Side} femoral and iliac veins", _PERC_NOTE, 3000),
    ("approach_percutaneous", 2, "Percutaneous mechanical thrombectomy (AngioJet rheolytic)", "{Side} common femoral vein", None, 0),
    ("approach_catheter_lysis", 3, "Catheter-directed thrombolysis, EKOS infusion catheter, overnight tPA", "{Side} iliofemoral veins", _LYSIS_NOTE, 3000),
    ("approach_neck", 1, "{Side} supraclavicular (neck) incision", "{Side} subclavian vein", _NECK_NOTE, 3000),
    ("approach_arm", 2, "{Side} upper arm incision, axillary exposure", "{Side} axillary and subclavian veins", _ARM_NOTE, 3000),
    # site mismatch (10)
    ("site_artery", 4, "{Side} groin incision", "{Side} superficial femoral artery (SFA), embolectomy", _ARTERY_NOTE, 3000),
    ("site_calf_vein", 2, "{Side} medial calf incision", "{Side} posterior tibial and peroneal veins", _CALF_NOTE, 3000),
    ("site_saphenous_vein", 3, "{Side} groin incision", "{Side} great saphenous vein (GSV) at the SFJ", _GSV_NOTE, 3000),
    ("site_subclavian_vein", 1, "Open - leg incision", "{Side} subclavian vein", None, 0),
    # incomplete (8)
    ("incomplete", 2, "N/A", "N/A", None, 0),
    ("incomplete", 2, None, None, None, 0),
    ("incomplete", 2, "see op note", "see op note", None, 0),
    ("incomplete", 1, "{Side} groin incision", "{side} femoral", None, 0),
    ("incomplete", 1, None, None, _DUPLEX_NOTE, 10000),
    # op-note-only (4) and abstract-vs-note conflict (2)
    ("note_only", 2, None, None, _CLEAN_NOTE_1, 10000),
    ("note_only", 1, "see op note", "see op note", _CLEAN_NOTE_2, 10000),
    ("note_only", 1, None, None, _PERC_NOTE, 10000),
    ("conflict", 1, "{Side} groin incision", "{Side} common femoral vein", _PERC_NOTE, 10000),
    ("conflict", 1, "Open femoral venotomy, {side} groin", "{Side} femoral vein", _GSV_NOTE, 10000),
]  # fmt: skip

#: documentation kinds of 34421 lines and their share (percent) in generated data
DOC_KIND_SHARE: dict[str, int] = {}
for _k, _w, *_ in _DOC_ENTRIES:
    DOC_KIND_SHARE[_k] = DOC_KIND_SHARE.get(_k, 0) + _w
del _k, _w

# other vascular codes: occasional abstract text consistent with the code billed
_OTHER_DOC: dict[str, tuple[str, str]] = {
    "37187": ("Percutaneous mechanical thrombectomy, ClotTriever", "{Side} femoral vein"),
    "37212": ("Catheter-directed thrombolysis", "{Side} iliac vein"),
    "34401": ("Laparotomy, transperitoneal", "IVC"),
    "34451": ("Abdominal and {side} groin incisions", "{Side} iliofemoral veins"),
    "34201": ("{Side} groin incision", "{Side} common femoral artery"),
    "36010": ("Percutaneous, right internal jugular access", "IVC"),
}


def render_side(template: str | None, side: int) -> str | None:
    """A documentation template written for one side: ``side`` indexes ``_SIDES`` (:data:`RIGHT`,
    :data:`LEFT`, 2 bilateral, 3 unspecified). Shared by the generator and the curated sample cases
    (:mod:`claims_audit.sample_cases`), so both tidy the text the same way."""
    if template is None:
        return None
    word = _SIDES[side] or ""
    abbrev = {0: "R", 1: "L", 2: "Bilat", 3: ""}[side]
    text = (
        template.replace("{Side}", word.capitalize())
        .replace("{side}", word)
        .replace("{S}", abbrev)
        .replace("{SIDE_UP}", word.upper() or "UNSPECIFIED")
    )
    text = re.sub(r"[ \t]{2,}", " ", text)
    text = re.sub(r"(^|\n) ", r"\1", text)
    text = text.replace("( ", "(").replace(" ,", ",")
    if "\n" in text:  # an op note: every line starts with a capital
        text = re.sub(r"(^|\n)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)
    elif template.startswith("{") and text:  # an abstract that starts with the side word
        text = text[:1].upper() + text[1:]
    return text


# --------------------------------------------------------------------------------------------------------
# generate
# --------------------------------------------------------------------------------------------------------

_EPOCH = _dt.date(2024, 1, 1)
_DAYS = (_dt.date(2026, 12, 31) - _EPOCH).days + 1
_CHUNK = 1 << 18
_CLAIM_SIZE = [(1, 30), (2, 25), (3, 20), (4, 12), (5, 8), (6, 5)]


def _cents_to_text(cents: pl.Expr) -> pl.Expr:
    return pl.concat_str(
        [(cents // _lit(100)).cast(pl.String), pl.lit("."), (cents % _lit(100)).cast(pl.String).str.zfill(2)]
    )


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema={c: pl.String for c in COLUMNS})


def generate(lines: int, seed: int = 0, bad_fraction: float = 0.0) -> pl.DataFrame:
    """A synthetic claim extract of exactly ``lines`` rows (all columns String, empty cells null).

    Deterministic for ``(lines, seed, bad_fraction)``. ``bad_fraction`` (0..1): that fraction of the lines
    (rounded to a whole number) gets exactly one invalid cell, of a kind listed in :data:`BAD_KINDS`.
    """
    if isinstance(lines, bool) or not isinstance(lines, int) or lines < 0:
        raise ValueError("lines must be a whole number >= 0")
    if not 0.0 <= float(bad_fraction) <= 1.0:
        raise ValueError("bad_fraction must be between 0 and 1")
    if lines == 0:
        return _empty()
    rng = _Rng(seed)

    # ---- claims: sizes 1..6, as many claims as needed to reach `lines` ------------------------------
    n_members = max(8, lines // 6)
    n_providers = max(12, min(20_000, lines // 150))
    c = pl.col("c")
    sizes = (
        pl.DataFrame({"c": pl.int_range(0, lines, dtype=_U64, eager=True)})
        .select(size=_pick(rng, c, "claim_size", _CLAIM_SIZE, pl.UInt64))
        .with_columns(start=pl.col("size").cum_sum() - pl.col("size"))
        .filter(pl.col("start") < lines)
    )
    n_claims = sizes.height
    kind = _pick(rng, c, "claim_kind", [("office", 55), ("facility", 45)])
    member = rng.below(c, "member", n_members)
    provider = rng.below(c, "provider", n_providers)
    npi_base = (rng.below(provider, "npi_first", 2) + _lit(1)) * _lit(10**8) + rng.below(provider, "npi_rest", 10**8)
    claim_offset = _fmix_py(rng.key ^ 0xC1A1) % 9_000_000_000 + 1_000_000_000
    claims = (
        pl.DataFrame({"c": pl.int_range(0, n_claims, dtype=_U64, eager=True)})
        .with_columns(
            kind=kind,
            npi_base=npi_base,
            day=rng.below(c, "date", _DAYS).cast(pl.Int64),
            us_date=rng.chance(c, "date_format", 2500),
            dotted=rng.chance(c, "dx_dotted", 7000),
            no_npi=rng.chance(c, "npi_missing", 50),
            member_num=rng.below(member, "member_id", 300_000_000),
        )
        .with_columns(
            claim_id=pl.concat_str([pl.lit("C"), (c + _lit(claim_offset)).cast(pl.String).str.zfill(11)]),
            member_id=pl.col("member_num").cast(pl.String).str.zfill(9),
            date=pl.lit(_EPOCH) + pl.duration(days=pl.col("day")),
            npi_check=_npi_check_expr(pl.col("npi_base")),
            place_of_service=pl.when(pl.col("kind") == "office")
            .then(_pick(rng, c, "pos_office", [("11", 92), ("22", 8)]))
            .otherwise(_pick(rng, c, "pos_facility", [("21", 45), ("22", 35), ("24", 20)])),
        )
        .with_columns(
            service_date=pl.when(pl.col("us_date"))
            .then(pl.col("date").dt.strftime("%m/%d/%Y"))
            .otherwise(pl.col("date").dt.strftime("%Y-%m-%d")),
            npi=pl.concat_str([pl.col("npi_base").cast(pl.String), pl.col("npi_check").cast(pl.String)]),
        )
        .select("claim_id", "member_id", "service_date", "npi", "npi_base", "npi_check", "no_npi",
                "place_of_service", "kind", "us_date", "dotted")
    )  # fmt: skip

    # ---- lines ------------------------------------------------------------------------------------------
    claim_index = pl.int_range(0, n_claims, dtype=pl.UInt32, eager=True).repeat_by(sizes["size"]).explode()
    line_no = sizes.select(pl.int_ranges(1, pl.col("size") + 1, dtype=pl.Int64).explode()).to_series()
    df = claims[claim_index.head(lines)].with_columns(
        i=pl.int_range(0, lines, dtype=_U64), line_number=line_no.head(lines)
    )
    # the line-level columns are computed in slices to bound the memory of temporaries; every value
    # depends only on the global row index `i`, so the slicing does not change the result
    keep = [*COLUMNS, "i", "npi_base", "npi_check", "us_date"]
    df = pl.concat(
        [_fill_lines(df.slice(off, _CHUNK), rng).select(keep) for off in range(0, lines, _CHUNK)],
        how="vertical",
    )

    # ---- deliberately invalid cells ----------------------------------------------------------------------
    n_bad = round(lines * float(bad_fraction))
    if n_bad:
        df = _inject_bad(df, rng, n_bad)

    return df.select(pl.col(name).cast(pl.String) for name in COLUMNS)


def _below(r: str, n: int) -> pl.Expr:
    return pl.col(r) % _lit(n)


class _Table:
    """A list of strings (None allowed) addressed by integer index; choices are made on indexes and the
    strings gathered once at the end, which is much cheaper than choosing among strings branch by branch."""

    def __init__(self, values: list[str | None], *, unique: bool = True) -> None:
        self.values = list(dict.fromkeys(values)) if unique else list(values)
        self.index: dict[str | None, int] = {}
        for n, v in enumerate(self.values):
            self.index.setdefault(v, n)
        self.series = pl.Series(self.values, dtype=pl.String)

    def choose(self, r: str, weighted: list[tuple[str | None, int]]) -> pl.Expr:
        """Index of a weighted choice driven by the random column ``r``."""
        pool = [self.index[v] for v in _expand(weighted)]
        return pl.lit(pl.Series(pool, dtype=_U64)).gather(pl.col(r) % _lit(len(pool)))

    def ids(self, values: list[str | None]) -> pl.Expr:
        return pl.lit(pl.Series([self.index[v] for v in values], dtype=_U64))

    def text(self, idx: pl.Expr) -> pl.Expr:
        return pl.lit(self.series).gather(idx)


def _choose(r: str, weighted: list[tuple[object, int]], dtype=pl.String) -> pl.Expr:
    """A weighted choice of a value driven by the random column ``r`` (None values become null)."""
    pool = _expand(weighted)
    return pl.lit(pl.Series(pool, dtype=dtype)).gather(pl.col(r) % _lit(len(pool)))


# one random column per decision; branches of one decision are exclusive and share its column
_LINE_STREAMS = [
    "code", "side", "units", "mod1", "mod1_sided", "mod2_on", "mod2", "mod3_on", "mod3", "mod4_on", "mod4",
    "charge", "dx_error", "dx1", "dx_count", "dx_start", "dx_step", "doc_entry", "doc_note", "doc_other",
]  # fmt: skip


@functools.cache
def _tables() -> dict[str, object]:
    codes = _Table(list(_CODES))
    families = sorted({f for f, _ in _CODES.values()})
    fam_of_code = pl.Series([families.index(_CODES[c][0]) for c in codes.values], dtype=_U64)
    cents_of_code = pl.Series([_CODES[c][1] for c in codes.values], dtype=_U64)
    mods = _Table(
        [None, "RT", "LT", "50"]
        + [m for pool in _MOD1_BY_FAMILY.values() for m, _ in pool]
        + [m for m, _ in _MOD1_PROCEDURE_OTHER]
    )
    stems = [*_VENOUS_STEMS, *_ARTERIAL_STEMS, *(x for v in _SIDED_STEMS.values() for x in v)]
    dotted = list(
        dict.fromkeys(
            ["E11.9"]
            + [code for codes_, _ in stems for code in codes_]
            + [code for pool in _DX1_BY_FAMILY.values() for code, _ in pool]
            + _DX_SECONDARY
        )
    )
    # every dx twice: with the dot (index k) and without (index k + n)
    dx = _Table(dotted + [c.replace(".", "") for c in dotted], unique=False)
    assert len(dx.values) == 2 * len(dotted)
    secondary_pos = pl.Series(
        [_DX_SECONDARY.index(c) if c in _DX_SECONDARY else len(_DX_SECONDARY) for c in dotted], dtype=_U64
    )
    return {
        "codes": codes, "families": families, "fam_of_code": fam_of_code, "cents_of_code": cents_of_code,
        "mods": mods, "dx": dx, "n_dx_dotted": len(dotted), "secondary_pos": secondary_pos,
        "secondary_ids": pl.Series([dotted.index(c) for c in _DX_SECONDARY], dtype=_U64),
    }  # fmt: skip


def _fill_lines(df: pl.DataFrame, rng: _Rng) -> pl.DataFrame:
    """Procedure codes, units, modifiers, charges, diagnoses and documentation for a slice of lines."""
    t = _tables()
    codes: _Table = t["codes"]
    mods: _Table = t["mods"]
    dx: _Table = t["dx"]
    families: list[str] = t["families"]
    i = pl.col("i")
    df = df.with_columns(rng.u32(i, name).alias(f"r_{name}") for name in _LINE_STREAMS)

    # procedure code (as an index into codes), its family and typical charge
    office = pl.col("kind") == "office"
    first, second = pl.col("line_number") == 1, pl.col("line_number") == 2
    code = (
        pl.when(office & first)
        .then(codes.choose("r_code", _OFFICE_FIRST))
        .when(office)
        .then(codes.choose("r_code", _OFFICE_OTHER))
        .when(first)
        .then(codes.choose("r_code", _SURGICAL_PRIMARY))
        .when(second)
        .then(codes.choose("r_code", _FACILITY_SECOND))
        .otherwise(codes.choose("r_code", _FACILITY_ANCILLARY))
    )
    df = df.with_columns(code=code).with_columns(
        procedure_code=codes.text(pl.col("code")),
        fam=pl.lit(t["fam_of_code"]).gather(pl.col("code")),
        base_cents=pl.lit(t["cents_of_code"]).gather(pl.col("code")),
        side=_choose("r_side", _SIDE_WEIGHTS, _U64),
        is34421=pl.col("code") == codes.index["34421"],
    )

    def fam_in(*names: str) -> pl.Expr:
        return pl.col("fam").is_in([families.index(n) for n in names])

    facility = pl.col("kind") == "facility"
    is34421 = pl.col("is34421")
    side = pl.col("side")

    # units: 34421 carries 2 units on ~3 % of lines (an MUE problem); labs and drugs sometimes > 1
    units = (
        pl.when(is34421)
        .then(_choose("r_units", [("1", 97), ("2", 3)]))
        .when(fam_in("lab", "drug"))
        .then(_choose("r_units", [("1", 85), ("2", 10), ("3", 3), ("4", 2)]))
        .otherwise(pl.lit("1"))
    )

    # modifiers
    sided = fam_in("venous", "arterial", *_SIDED_STEMS)
    imaging = fam_in("imaging", "venous_imaging", "arterial_imaging")
    by_family = _MOD1_BY_FAMILY
    mod1 = (
        pl.when(sided & (_below("r_mod1_sided", 10_000) < 8800))
        .then(mods.ids(["RT", "LT", "50", None]).gather(side))
        .when(sided)
        .then(mods.choose("r_mod1", _MOD1_PROCEDURE_OTHER))
        .when(fam_in("em") & facility)
        .then(mods.choose("r_mod1", by_family["em_facility"]))
        .when(fam_in("em"))
        .then(mods.choose("r_mod1", by_family["em_office"]))
        .when(fam_in("lab"))
        .then(mods.choose("r_mod1", by_family["lab"]))
        .when(imaging & facility)
        .then(mods.choose("r_mod1", by_family["imaging_facility"]))
        .when(imaging)
        .then(mods.choose("r_mod1", by_family["imaging_office"]))
        .when(fam_in("cat2"))
        .then(mods.choose("r_mod1", by_family["cat2"]))
        .when(fam_in("drug"))
        .then(mods.choose("r_mod1", by_family["drug"]))
        .otherwise(_lit(mods.index[None]))
    )
    df = df.with_columns(units=units, modifier_1=mods.text(mod1))
    has2 = pl.col("modifier_1").is_not_null() & (_below("r_mod2_on", 10_000) < 600)
    df = df.with_columns(modifier_2=pl.when(has2).then(_choose("r_mod2", _MOD2)))
    has3 = pl.col("modifier_2").is_not_null() & (_below("r_mod3_on", 10_000) < 800)
    df = df.with_columns(modifier_3=pl.when(has3).then(_choose("r_mod3", _MOD3)))
    has4 = pl.col("modifier_3").is_not_null() & (_below("r_mod4_on", 10_000) < 2000)
    df = df.with_columns(modifier_4=pl.when(has4).then(_choose("r_mod4", _MOD4)))

    # charges: typical amount x 0.85..1.15 x units, in cents, written with two decimals
    per_unit = pl.col("base_cents") * (_lit(8500) + _below("r_charge", 3001)) // _lit(10_000)
    cents = per_unit * pl.col("units").cast(_U64)
    df = df.with_columns(charge_amount=_cents_to_text(cents))

    # diagnoses (as indexes into dx): the primary follows the family and the side; 34421 lines sometimes
    # carry the wrong side or only an unsupportive diagnosis
    n_dotted: int = t["n_dx_dotted"]
    dx_error = _choose("r_dx_error", [("none", 95), ("flip_side", 3), ("unsupportive", 2)])
    df = df.with_columns(dx_error=pl.when(is34421).then(dx_error).otherwise(pl.lit("none")))
    dx_side = (
        pl.when(pl.col("dx_error") == "flip_side")
        .then(pl.lit(pl.Series([1, 0, 2, 3], dtype=_U64)).gather(side))
        .otherwise(side)
    )

    def stem_pick(stems: list[tuple[tuple[str, str, str, str], int]]) -> pl.Expr:
        flat = [dx.index[code] for codes_, _ in stems for code in codes_]
        stem_idx = _choose("r_dx1", [(n, w) for n, (_, w) in enumerate(stems)], _U64)
        return pl.lit(pl.Series(flat, dtype=_U64)).gather(stem_idx * _lit(4) + dx_side)

    dx1 = (
        pl.when(pl.col("dx_error") == "unsupportive")
        .then(_lit(dx.index["E11.9"]))
        .when(fam_in("venous", "venous_imaging"))
        .then(stem_pick(_VENOUS_STEMS))
        .when(fam_in("arterial", "arterial_imaging"))
        .then(stem_pick(_ARTERIAL_STEMS))
    )
    for f, stems in _SIDED_STEMS.items():
        dx1 = dx1.when(fam_in(f)).then(stem_pick(stems))
    for f, pool in _DX1_BY_FAMILY.items():
        dx1 = dx1.when(fam_in(f)).then(dx.choose("r_dx1", pool))
    dx1 = dx1.otherwise(dx.choose("r_dx1", _DX1_BY_FAMILY["em"]))
    n_dx = (
        pl.when(pl.col("dx_error") == "unsupportive")
        .then(_lit(1))
        .otherwise(_choose("r_dx_count", _DX_COUNT, _U64))
    )
    undotted = pl.when(pl.col("dotted")).then(_lit(0)).otherwise(_lit(n_dotted))
    df = df.with_columns(dx1=dx1, n_dx=n_dx, undotted=undotted)
    # secondary codes walk _DX_SECONDARY (prime length) from a random start with a random step, so they
    # are distinct; the one equal to the primary is swapped for the 12th step, never used otherwise
    p = len(_DX_SECONDARY)
    df = df.with_columns(
        start=_below("r_dx_start", p),
        step=_below("r_dx_step", p - 1) + _lit(1),
        primary_pos=pl.lit(t["secondary_pos"]).gather(pl.col("dx1")),
    ).with_columns(spare=(pl.col("start") + _lit(11) * pl.col("step")) % _lit(p))
    secondary_ids = pl.lit(t["secondary_ids"])
    dx_cols = {"dx_1": dx.text(pl.col("dx1") + pl.col("undotted"))}
    for n in range(2, 13):
        pos = (pl.col("start") + _lit(n - 2) * pl.col("step")) % _lit(p)
        pos = pl.when(pos == pl.col("primary_pos")).then(pl.col("spare")).otherwise(pos)
        idx = pl.when(pl.col("n_dx") >= n).then(secondary_ids.gather(pos) + pl.col("undotted"))
        dx_cols[f"dx_{n}"] = dx.text(idx)
    df = df.with_columns(**dx_cols)

    # documentation: 34421 lines always get an entry (whose texts may be null), a few other vascular
    # lines get the abstract text of their code
    approaches, sites, notes, note_rates, other_idx, other_app, other_site = _doc_pools()
    n_entries = len(approaches)
    entry_idx = _choose("r_doc_entry", [(n, e[1]) for n, e in enumerate(_DOC_ENTRIES)], _U64) * _lit(4) + side
    other_on = pl.col("code").is_in(other_idx) & (_below("r_doc_other", 10_000) < 1200)
    other_pos = _lit(n_entries) + pl.col("code") * _lit(4) + side
    abstract_idx = pl.when(is34421).then(entry_idx).when(other_on).then(other_pos)
    note_rate = pl.lit(pl.Series(note_rates, dtype=_U64)).gather(entry_idx)
    note_on = is34421 & (_below("r_doc_note", 10_000) < note_rate)
    df = df.with_columns(
        documented_approach=_gather(approaches + other_app, abstract_idx),
        documented_site=_gather(sites + other_site, abstract_idx),
        op_note=_gather(notes, pl.when(note_on).then(entry_idx)),
        rendering_npi=pl.when(pl.col("no_npi")).then(pl.lit(None, pl.String)).otherwise(pl.col("npi")),
    )
    return df


@functools.cache
def _doc_pools() -> tuple[list, list, list, list, list, list, list]:
    """Documentation texts rendered for every (entry, side), and the texts for other vascular codes."""
    approaches = [render_side(e[2], s) for e in _DOC_ENTRIES for s in range(4)]
    sites = [render_side(e[3], s) for e in _DOC_ENTRIES for s in range(4)]
    notes = [render_side(e[4], s) for e in _DOC_ENTRIES for s in range(4)]
    note_rates = [e[5] for e in _DOC_ENTRIES for _ in range(4)]
    code_list = list(_CODES)
    other_idx = [code_list.index(k) for k in _OTHER_DOC]
    other_app: list[str | None] = [None] * (4 * (len(code_list) + 1))
    other_site = list(other_app)
    for k, (a, site) in _OTHER_DOC.items():
        for s in range(4):
            other_app[code_list.index(k) * 4 + s] = render_side(a, s)
            other_site[code_list.index(k) * 4 + s] = render_side(site, s)
    return approaches, sites, notes, note_rates, other_idx, other_app, other_site


def _inject_bad(df: pl.DataFrame, rng: _Rng, n_bad: int) -> pl.DataFrame:
    i = pl.col("i")
    kinds = list(BAD_KINDS)
    df = df.with_columns(
        bad=pl.when(rng.u32(i, "bad_line").rank("ordinal") <= n_bad).then(
            _gather(kinds, rng.below(i, "bad_kind", len(kinds)))
        )
    )
    bad = pl.col("bad")
    wrong_check = (pl.col("npi_check") + _lit(1) + rng.below(i, "bad_npi", 9)) % _lit(10)
    bad_date = (
        pl.when(pl.col("us_date"))
        .then(_pick(rng, i, "bad_date", [("02/30/2026", 2), ("02/29/2025", 1), ("04/31/2026", 1)]))
        .otherwise(_pick(rng, i, "bad_date", [("2026-02-30", 2), ("2025-02-29", 1), ("2026-04-31", 1)]))
    )
    return df.with_columns(
        service_date=pl.when(bad == "impossible_date").then(bad_date).otherwise(pl.col("service_date")),
        units=pl.when(bad == "units_zero")
        .then(pl.lit("0"))
        .when(bad == "units_not_integer")
        .then(_pick(rng, i, "bad_units", [("x", 2), ("1.5", 1), ("-1", 1)]))
        .otherwise(pl.col("units")),
        procedure_code=pl.when(bad == "empty_procedure_code")
        .then(pl.lit(None, pl.String))
        .otherwise(pl.col("procedure_code")),
        rendering_npi=pl.when(bad == "bad_npi_check_digit")
        .then(pl.concat_str([pl.col("npi_base").cast(pl.String), wrong_check.cast(pl.String)]))
        .otherwise(pl.col("rendering_npi")),
        modifier_1=pl.when(bad == "modifier_three_chars")
        .then(_pick(rng, i, "bad_mod", [("RTX", 1), ("591", 1), ("LTT", 1), ("XSS", 1)]))
        .otherwise(pl.col("modifier_1")),
        dx_1=pl.when(bad == "malformed_dx")
        .then(_pick(rng, i, "bad_dx", [("IB2.412", 1), ("82.411", 1), ("I82.41234", 1), ("I10-", 1)]))
        .otherwise(pl.col("dx_1")),
        charge_amount=pl.when(bad == "charge_not_number")
        .then(pl.concat_str([pl.lit("$"), pl.col("charge_amount")]))
        .otherwise(pl.col("charge_amount")),
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------------
# write
# --------------------------------------------------------------------------------------------------------

_XLSX_ILLEGAL = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"
_XLSX_MAX_CELL = 32_767


def write(df: pl.DataFrame, path: str | Path) -> None:
    """Write ``df`` by the file suffix: .csv, .tsv/.txt (tab), .parquet, .xlsx. Creates parent folders.

    CSV/TSV: UTF-8, header row, nulls as empty cells, fields quoted only when needed, ``\\n`` line ends.
    XLSX: one sheet ``claims``, every cell written as a text (string) cell so codes such as ``0001F`` and
    member ids such as ``000123`` keep their form; at most :data:`XLSX_MAX_ROWS` data rows (ValueError
    beyond), and ValueError for cells Excel cannot hold (control characters, more than 32,767 characters).
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in {".csv", ".tsv", ".txt", ".parquet", ".xlsx"}:
        raise ValueError(f"unsupported output format {p.suffix or '(none)'!r}: use .csv, .tsv, .txt, .parquet or .xlsx")
    if suffix == ".xlsx" and df.height > XLSX_MAX_ROWS:
        raise ValueError(
            f"an .xlsx sheet holds at most {XLSX_MAX_ROWS:,} data rows; got {df.height:,} (use .csv or .parquet)"
        )
    p.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        df.write_csv(p, separator=",", line_terminator="\n", quote_style="necessary")
    elif suffix in {".tsv", ".txt"}:
        df.write_csv(p, separator="\t", line_terminator="\n", quote_style="necessary")
    elif suffix == ".parquet":
        df.write_parquet(p)
    else:
        _write_xlsx(df, p)


def _write_xlsx(df: pl.DataFrame, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    text = df.select(pl.all().cast(pl.String))
    checks = [pl.col(c).str.contains(_XLSX_ILLEGAL).any().alias(f"{c}: control characters") for c in text.columns]
    checks += [
        (pl.col(c).str.len_chars().max() > _XLSX_MAX_CELL).alias(f"{c}: longer than 32,767 characters")
        for c in text.columns
    ]
    bad = [name for name, v in text.select(checks).row(0, named=True).items() if v] if checks else []
    if bad:
        raise ValueError("cannot write to .xlsx: " + "; ".join(bad))
    if text.width:
        formula_like = text.select(pl.any_horizontal(pl.col(c).str.starts_with("=") for c in text.columns))
        risky_rows = formula_like.to_series().fill_null(False).to_list()
    else:
        risky_rows = [False] * text.height

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("claims")
    ws.freeze_panes = "A2"
    ws.append(list(text.columns))
    for row, risky in zip(text.iter_rows(), risky_rows, strict=True):
        if risky:  # a value starting with '=' would be taken as a formula: force a string cell
            cells = []
            for v in row:
                cell = WriteOnlyCell(ws, value=v)
                if isinstance(v, str) and v.startswith("="):
                    cell.data_type = "s"
                cells.append(cell)
            ws.append(cells)
        else:
            ws.append(row)
    wb.save(path)
