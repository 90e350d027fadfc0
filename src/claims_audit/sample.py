"""Synthetic claim extracts: a realistic, deterministic, vectorised generator and a writer.

Everything produced here is invented. Member ids, claim ids and NPIs are made up (NPIs carry a valid check
digit so they look real to a validator, but they are not looked up anywhere). Diagnosis and procedure codes
are real code values used only as labels; no CPT descriptor text is reproduced.

``generate(lines, seed)`` returns one row per claim line with the canonical columns (:data:`COLUMNS`), every
column a polars ``String`` and empty cells null. All randomness comes from a small integer hash (murmur3's
32-bit finaliser) evaluated with polars arithmetic on the row index, so the output depends only on
``(lines, seed, bad_fraction)``: not on the polars version's random number generator, nor on the number of
threads. Two million lines take a few seconds.

Shape of the data:

* claims of 1-6 lines; the lines of a claim share claim_id, member_id, service_date, rendering_npi and
  place_of_service; line_number runs 1..n within the claim;
* office claims (POS 11) carry E/M, labs, preventive HCPCS, Category II and duplex codes; facility claims
  (POS 21/22/24) start with a surgical / interventional procedure and continue with hospital E/M, imaging,
  catheter and lab lines. CPT 34421 is about 1.5 % of all lines;
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
import re
from pathlib import Path

import polars as pl

__all__ = ["COLUMNS", "BAD_KINDS", "XLSX_MAX_ROWS", "generate", "write", "npi_check_digit"]

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


def _fmix(x: pl.Expr) -> pl.Expr:
    """murmur3 fmix32 on a UInt64 expression holding values < 2**32 (products stay below 2**64)."""
    x = x.xor(x // _lit(1 << 16))
    x = (x * _lit(0x85EBCA6B)) % _lit(_M32)
    x = x.xor(x // _lit(1 << 13))
    x = (x * _lit(0xC2B2AE35)) % _lit(_M32)
    return x.xor(x // _lit(1 << 16))


class _Rng:
    """Independent pseudo-random streams keyed by (seed, stream name), evaluated on an index column."""

    def __init__(self, seed: int) -> None:
        s = int(seed) % (1 << 64)
        self._seed = _fmix_py(_fmix_py(s & 0xFFFFFFFF) ^ (s >> 32) ^ 0x5BD1E995)

    def _keys(self, stream: str) -> tuple[int, int]:
        h = self._seed
        for ch in stream.encode():
            h = _fmix_py(h ^ ch) + 0x9E3779B9
        return _fmix_py(h), _fmix_py(h ^ 0x27D4EB2F)

    def u32(self, index: pl.Expr, stream: str) -> pl.Expr:
        """A value in [0, 2**32) for each row of ``index`` (UInt64)."""
        k1, k2 = self._keys(stream)
        x = _fmix((index + _lit(k1)) % _lit(_M32))
        return _fmix(x.xor(_lit(k2)))

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
    "27447": ("surgery_side", 420000), "29881": ("surgery_side", 190000), "47562": ("surgery", 260000),
    "49505": ("surgery", 180000), "66984": ("surgery_side", 210000), "43239": ("surgery", 95000),
    "45378": ("surgery", 85000), "11721": ("surgery", 9000),
}

_OFFICE = [
    ("99213", 200), ("99214", 170), ("99212", 45), ("99215", 35), ("99203", 30), ("99204", 25), ("99202", 10),
    ("G0439", 25), ("G0438", 6), ("G0444", 10), ("0001F", 12), ("1036F", 10), ("3074F", 14), ("3078F", 14),
    ("3044F", 10), ("1159F", 8), ("1160F", 8), ("4004F", 6), ("80053", 40), ("80061", 35), ("85025", 45),
    ("83036", 30), ("81002", 15), ("36415", 60), ("84443", 20), ("93970", 8), ("93971", 10), ("93000", 20),
    ("J1100", 5), ("J0690", 4), ("11721", 8), ("93925", 4),
]  # fmt: skip
_SURGICAL_PRIMARY = [
    ("34421", 96), ("37187", 70), ("37188", 15), ("37212", 45), ("37213", 10), ("36010", 25), ("34401", 14),
    ("34451", 12), ("34201", 25), ("34203", 10), ("35226", 15), ("37228", 40), ("37238", 35), ("36475", 45),
    ("36478", 30), ("36821", 20), ("36905", 25), ("27447", 60), ("29881", 55), ("47562", 55), ("49505", 45),
    ("66984", 55), ("43239", 60), ("45378", 70), ("99223", 60), ("99222", 30),
]  # fmt: skip
_FACILITY_OTHER = [
    ("99232", 120), ("99233", 50), ("99231", 40), ("99223", 35), ("99238", 25), ("93970", 45), ("93971", 30),
    ("75820", 20), ("75822", 20), ("71046", 40), ("93005", 30), ("76937", 30), ("36010", 15), ("37187", 10),
    ("37212", 8), ("35226", 6), ("85025", 60), ("80048", 55), ("85610", 45), ("85730", 35), ("85379", 20),
    ("36415", 40), ("J1644", 25), ("J1100", 10), ("34401", 2), ("34451", 2),
]  # fmt: skip

_SIDES = ["right", "left", "bilateral", None]  # side index 0..3
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
    (("I70.231", "I70.241", "I70.261", "I70.261"), 10),
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
    "surgery": [("K80.20", 20), ("K40.90", 20), ("H25.11", 10), ("K21.9", 15), ("Z12.11", 20), ("L60.0", 10),
                ("D12.6", 10)],
    "surgery_side": [("M17.11", 25), ("M17.12", 25), ("S83.241A", 15), ("S83.242A", 15), ("H25.11", 10),
                     ("H25.12", 10)],
}  # fmt: skip
_DX_OTHER = [
    ("I10", 30), ("E11.9", 20), ("Z79.01", 18), ("E78.5", 15), ("Z86.718", 10), ("I26.99", 5), ("N17.9", 4),
    ("D68.51", 3), ("F17.210", 8), ("Z87.891", 8), ("K21.9", 6), ("E66.01", 5), ("I48.91", 6), ("Z95.1", 3),
    ("N18.30", 4), ("Z68.30", 3), ("I25.10", 6), ("E11.65", 5), ("Z79.4", 4), ("J44.9", 5), ("O22.31", 1),
    ("R60.0", 4), ("M79.604", 3), ("M79.605", 3), ("Z79.02", 4), ("E87.1", 2), ("D64.9", 4),
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
    "A {side} medial calf incision exposed the posterior tibial veins; thrombus in the posterior tibial and "
    "peroneal veins was extracted through a venotomy. The popliteal vein was patent on duplex, \"no "
    "intervention needed\" there."
)
_GSV_NOTE = (
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


def _render(template: str | None, side: int) -> str | None:
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
    return text[:1].upper() + text[1:] if text else text


# --------------------------------------------------------------------------------------------------------
# generate
# --------------------------------------------------------------------------------------------------------

_EPOCH = _dt.date(2024, 1, 1)
_DAYS = (_dt.date(2026, 12, 31) - _EPOCH).days + 1
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
    claim_offset = _fmix_py(rng._seed ^ 0xC1A1) % 9_000_000_000 + 1_000_000_000
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
    i = pl.col("i")

    code = (
        pl.when(pl.col("kind") == "office")
        .then(_pick(rng, i, "code_office", _OFFICE))
        .when(pl.col("line_number") == 1)
        .then(_pick(rng, i, "code_primary", _SURGICAL_PRIMARY))
        .otherwise(_pick(rng, i, "code_other", _FACILITY_OTHER))
    )
    code_list = list(_CODES)
    df = df.with_columns(procedure_code=code).with_columns(
        family=pl.col("procedure_code").replace_strict({k: v[0] for k, v in _CODES.items()}, default="other"),
        base_cents=pl.col("procedure_code").replace_strict(
            {k: v[1] for k, v in _CODES.items()}, default=10_000, return_dtype=_U64
        ),
        code_idx=pl.col("procedure_code").replace_strict(
            {k: n for n, k in enumerate(code_list)}, default=len(code_list), return_dtype=_U64
        ),
        side=_pick(rng, i, "side", _SIDE_WEIGHTS, _U64),
        is34421=pl.col("procedure_code") == "34421",
    )

    fam = pl.col("family")
    facility = pl.col("kind") == "facility"
    is34421 = pl.col("is34421")
    side = pl.col("side")

    # units: 34421 carries 2 units on ~3 % of lines (an MUE problem), others mostly 1
    units = (
        pl.when(is34421)
        .then(_pick(rng, i, "units_34421", [("1", 97), ("2", 3)]))
        .when(fam == "cat2")
        .then(pl.lit("1"))
        .otherwise(_pick(rng, i, "units", [("1", 940), ("2", 45), ("3", 10), ("4", 5)]))
    )

    # modifiers
    side_mod = _gather(["RT", "LT", "50", None], side)
    sided = fam.is_in(["venous", "arterial", "surgery_side"])
    mod1 = (
        pl.when(sided & rng.chance(i, "mod1_sided", 8800))
        .then(side_mod)
        .when(sided)
        .then(_pick(rng, i, "mod1_proc", _MOD1_PROCEDURE_OTHER))
        .when((fam == "em") & facility)
        .then(_pick(rng, i, "mod1", _MOD1_BY_FAMILY["em_facility"]))
        .when(fam == "em")
        .then(_pick(rng, i, "mod1", _MOD1_BY_FAMILY["em_office"]))
        .when(fam == "lab")
        .then(_pick(rng, i, "mod1", _MOD1_BY_FAMILY["lab"]))
        .when(fam.is_in(["imaging", "venous_imaging", "arterial_imaging"]) & facility)
        .then(_pick(rng, i, "mod1", _MOD1_BY_FAMILY["imaging_facility"]))
        .when(fam.is_in(["imaging", "venous_imaging", "arterial_imaging"]))
        .then(_pick(rng, i, "mod1", _MOD1_BY_FAMILY["imaging_office"]))
        .when(fam == "cat2")
        .then(_pick(rng, i, "mod1", _MOD1_BY_FAMILY["cat2"]))
        .when(fam == "drug")
        .then(_pick(rng, i, "mod1", _MOD1_BY_FAMILY["drug"]))
        .otherwise(pl.lit(None, pl.String))
    )
    df = df.with_columns(units=units, modifier_1=mod1)
    m1 = pl.col("modifier_1")
    has2 = m1.is_not_null() & rng.chance(i, "mod2_on", 600)
    df = df.with_columns(modifier_2=pl.when(has2).then(_pick(rng, i, "mod2", _MOD2)))
    has3 = pl.col("modifier_2").is_not_null() & rng.chance(i, "mod3_on", 800)
    df = df.with_columns(modifier_3=pl.when(has3).then(_pick(rng, i, "mod3", _MOD3)))
    has4 = pl.col("modifier_3").is_not_null() & rng.chance(i, "mod4_on", 2000)
    df = df.with_columns(modifier_4=pl.when(has4).then(_pick(rng, i, "mod4", _MOD4)))

    # charges: typical amount x 0.85..1.15 x units, in cents, written with two decimals
    cents = (
        pl.col("base_cents") * (_lit(8500) + rng.below(i, "charge", 3001)) // _lit(10_000)
    ) * pl.col("units").cast(_U64)
    df = df.with_columns(charge_amount=_cents_to_text(cents))

    # diagnoses
    dx_error = _pick(rng, i, "dx_error", [("none", 95), ("flip_side", 3), ("unsupportive", 2)])
    df = df.with_columns(dx_error=pl.when(is34421).then(dx_error).otherwise(pl.lit("none")))
    dx_side = (
        pl.when(pl.col("dx_error") == "flip_side")
        .then(_gather([1, 0, 2, 3], side, _U64))
        .otherwise(side)
    )

    def stem_pick(stems: list[tuple[tuple[str, str, str, str], int]], stream: str) -> pl.Expr:
        flat = [code for codes, _ in stems for code in codes]
        stem_idx = _pick(rng, i, stream, [(n, w) for n, (_, w) in enumerate(stems)], _U64)
        return _gather(flat, stem_idx * _lit(4) + dx_side)

    dx1 = (
        pl.when(pl.col("dx_error") == "unsupportive")
        .then(pl.lit("E11.9"))
        .when(fam.is_in(["venous", "venous_imaging"]))
        .then(stem_pick(_VENOUS_STEMS, "dx_venous"))
        .when(fam.is_in(["arterial", "arterial_imaging"]))
        .then(stem_pick(_ARTERIAL_STEMS, "dx_arterial"))
    )
    for f, pool in _DX1_BY_FAMILY.items():
        dx1 = dx1.when(fam == f).then(_pick(rng, i, f"dx1_{f}", pool))
    dx1 = dx1.otherwise(_pick(rng, i, "dx1_em", _DX1_BY_FAMILY["em"]))
    n_dx = pl.when(pl.col("dx_error") == "unsupportive").then(_lit(1)).otherwise(_pick(rng, i, "dx_count", _DX_COUNT, _U64))
    dx_cols = {"dx_1": dx1}
    for n in range(2, 13):
        dx_cols[f"dx_{n}"] = pl.when(n_dx >= n).then(_pick(rng, i, f"dx_{n}", _DX_OTHER))
    df = df.with_columns(**dx_cols).with_columns(
        pl.when(pl.col("dotted")).then(pl.col(f"dx_{n}")).otherwise(pl.col(f"dx_{n}").str.replace(".", "", literal=True))
        for n in range(1, 13)
    )  # fmt: skip

    # documentation
    entry_idx = _pick(rng, i, "doc_entry", [(n, e[1]) for n, e in enumerate(_DOC_ENTRIES)], _U64) * _lit(4) + side
    approaches = [_render(e[2], s) for e in _DOC_ENTRIES for s in range(4)]
    sites = [_render(e[3], s) for e in _DOC_ENTRIES for s in range(4)]
    notes = [_render(e[4], s) for e in _DOC_ENTRIES for s in range(4)]
    note_rates = [e[5] for e in _DOC_ENTRIES for _ in range(4)]
    other_idx = [code_list.index(k) for k in _OTHER_DOC]
    other_app = [None] * (4 * (len(code_list) + 1))
    other_site = list(other_app)
    for k, (a, s_) in _OTHER_DOC.items():
        for s in range(4):
            other_app[code_list.index(k) * 4 + s] = _render(a, s)
            other_site[code_list.index(k) * 4 + s] = _render(s_, s)
    other_on = pl.col("code_idx").is_in(other_idx) & rng.chance(i, "doc_other", 1200)
    other_pos = pl.col("code_idx") * _lit(4) + side
    df = df.with_columns(
        documented_approach=pl.when(is34421)
        .then(_gather(approaches, entry_idx))
        .when(other_on)
        .then(_gather(other_app, other_pos)),
        documented_site=pl.when(is34421)
        .then(_gather(sites, entry_idx))
        .when(other_on)
        .then(_gather(other_site, other_pos)),
        op_note=pl.when(is34421 & (rng.below(i, "note_on", 10_000) < _gather(note_rates, entry_idx, _U64))).then(
            _gather(notes, entry_idx)
        ),
        rendering_npi=pl.when(pl.col("no_npi")).then(pl.lit(None, pl.String)).otherwise(pl.col("npi")),
    )

    # ---- deliberately invalid cells ----------------------------------------------------------------------
    n_bad = round(lines * float(bad_fraction))
    if n_bad:
        df = _inject_bad(df, rng, n_bad)

    return df.select(pl.col(name).cast(pl.String) for name in COLUMNS)


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
        procedure_code=pl.when(bad == "empty_procedure_code").then(pl.lit(None, pl.String)).otherwise(pl.col("procedure_code")),
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
        raise ValueError(f"an .xlsx sheet holds at most {XLSX_MAX_ROWS:,} data rows; got {df.height:,} (use .csv or .parquet)")
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
    problems = text.select(
        pl.col(c).str.contains(_XLSX_ILLEGAL).any().alias(f"{c}\tcontrol characters") for c in text.columns
    ).hstack(
        text.select((pl.col(c).str.len_chars().max() > _XLSX_MAX_CELL).alias(f"{c}\tlonger than 32,767 characters") for c in text.columns)
    )  # fmt: skip
    bad = [name.replace("\t", ": ") for name, v in problems.row(0, named=True).items() if v]
    if bad:
        raise ValueError("cannot write to .xlsx: " + "; ".join(bad))
    formula_like = text.select(pl.any_horizontal(pl.col(c).str.starts_with("=") for c in text.columns)).to_series()

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("claims")
    ws.freeze_panes = "A2"
    ws.append(list(text.columns))
    for row, risky in zip(text.iter_rows(), formula_like, strict=True):
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
