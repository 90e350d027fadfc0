"""Build the hand-curated sample extracts in this folder (all data synthetic).

    python scripts/make_samples.py [--out DIR]

Writes ``claims_2026-11-20.csv``, ``claims_2026-11-21.xlsx`` and ``README.md`` (the list of deliberate
cases with their spreadsheet rows) into DIR (default: this folder). The CSV is byte-identical on every run
with the same polars version; the .xlsx has the same cell values on every run (its zip timestamps differ).

Each file = generator background lines (``claims_audit.sample.generate``, fixed seed; 34421 lines turned
into 99232 hospital visits so that every 34421 line in the file is a curated one; service dates moved into
the year before the extract date) + curated claims inserted between them at fixed positions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

try:
    from claims_audit import sample
except ImportError:  # running from a source checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from claims_audit import sample

HERE = Path(__file__).resolve().parents[1] / "sample_claims"
CSV_NAME = "claims_2026-11-20.csv"
XLSX_NAME = "claims_2026-11-21.xlsx"


def npi(first9: str) -> str:
    return first9 + sample.npi_check_digit(first9)


# rendering providers of the curated claims (synthetic NPIs with a valid check digit)
SURGEON_A = npi("142706589")  # 1427065895
SURGEON_B = npi("172938465")  # 1729384655
SURGEON_C = npi("108765432")  # 1087654327
SURGEON_D = npi("165430987")  # 1654309875
HOSPITALIST = npi("129384756")  # 1293847566
OFFICE_DOC = npi("190817263")  # 1908172632

CHARGES = {
    "34421": "2450.00", "34401": "2650.00", "34451": "3100.00", "37187": "1850.00", "37212": "1200.00",
    "75822": "680.00", "75820": "520.00", "93970": "450.00", "36010": "450.00", "99213": "135.00",
    "99214": "195.00", "99223": "365.00", "99232": "130.00", "85025": "28.00", "80048": "35.00",
    "36415": "15.00", "71046": "95.00",
}  # fmt: skip


@dataclass
class Line:
    code: str | None
    mods: tuple[str, ...] = ()
    dx: tuple[str, ...] = ()
    approach: str | None = None
    site: str | None = None
    note: str | None = None
    units: str = "1"
    charge: str | None = None
    tag: str | None = None  # the deliberate case this line demonstrates (listed in README)
    # overrides for deliberately bad cells
    service_date: str | None = None
    npi: str | None = None
    line_number: str | None = None


@dataclass
class Claim:
    member: str
    date: dt.date
    npi: str
    lines: list[Line]
    pos: str = "21"
    us_date: bool = False  # write the date as MM/DD/YYYY
    dotted: bool = True  # ICD-10-CM codes with the dot
    claim_id: str = ""


@dataclass
class Case:
    tag: str
    what: str
    expect: str
    claims: list[Claim] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------------
# operative note texts (synthetic; commas, quotes and newlines on purpose)
# --------------------------------------------------------------------------------------------------------

NOTE_CLEAN_CFV = (
    "PROCEDURE: Open thrombectomy, {side} common femoral and external iliac veins.\n"
    "INDICATION: Acute {side} iliofemoral DVT with phlegmasia cerulea dolens; \"not a lysis candidate\" "
    "(recent craniotomy).\n"
    "DESCRIPTION: A {side} vertical groin incision was made. The common femoral vein, femoral vein and "
    "profunda were exposed and controlled with vessel loops. Through a transverse venotomy a #8 Fogarty "
    "balloon catheter was passed into the external and common iliac veins; fresh thrombus was removed in "
    "three passes, with brisk back-bleeding. An Esmarch wrap cleared the infrainguinal segment.\n"
    "The venotomy was closed with running 6-0 Prolene. EBL 250 mL. No complications."
)
NOTE_CLEAN_POPLITEAL = (
    "Operative note, {side} popliteal vein thrombectomy.\n"
    "Prone position. A lazy-S incision was made in the {side} popliteal fossa; the popliteal vein was "
    "dissected free and controlled with Rummel tourniquets, then opened longitudinally. Thrombus was "
    "extracted with forceps and a #5 Fogarty catheter, and \"good inflow\" was confirmed.\n"
    "Venotomy closed primarily, wound closed in layers."
)
NOTE_CLEAN_IVC = (
    "Open thrombectomy of the IVC and {side} iliac veins, femoral approach.\n"
    "A {side} oblique inguinal incision exposed the common femoral vein. Through a transverse venotomy a "
    "large balloon catheter was advanced under fluoroscopy into the infrarenal vena cava and withdrawn, "
    "removing thrombus from the IVC and common iliac vein; an adjunct arteriovenous fistula was created.\n"
    "Closure in layers. Patient to PACU in stable condition, \"feet warm and pink\"."
)
NOTE_PERC = (
    "PROCEDURE: Percutaneous mechanical thrombectomy, {side} iliofemoral veins.\n"
    "With the patient prone, ultrasound-guided micropuncture access of the {side} popliteal vein was "
    "obtained and upsized over the wire to a 16 Fr sheath. Four passes with the ClotTriever system "
    "removed a large volume of thrombus from the femoral and iliac veins; venography showed \"brisk "
    "in-line flow\".\n"
    "Sheath removed; hemostasis with a figure-of-eight stitch and manual compression. No open incision."
)
NOTE_ABDOMINAL = (
    "PROCEDURE: Venous thrombectomy, infrarenal IVC and {side} common iliac vein.\n"
    "A lower midline laparotomy was performed and the retroperitoneum opened. The vena cava and {side} "
    "common iliac vein were controlled, a cavotomy was made, and thrombus was extracted, \"including a "
    "long tail\". No groin incision was required.\n"
    "Fascia closed with looped PDS."
)
NOTE_GSV = (
    "{Side} groin incision over the saphenofemoral junction. The great saphenous vein was dissected, "
    "thrombus was extracted from the proximal GSV, and the vein was ligated flush with the common femoral "
    "vein, which was \"free of thrombus\" on intraoperative duplex."
)
NOTE_CONSULT = (
    "VASCULAR SURGERY CONSULT.\n"
    "68-year-old with acute {side} femoral DVT, \"leg swollen, tense and dusky\". Duplex: occlusive "
    "thrombus of the common femoral vein. Options discussed with the patient and family.\n"
    "Plan: anticoagulation, elevation, re-evaluate in the morning."
)


def side_text(text: str, side: str) -> str:
    return text.replace("{side}", side).replace("{Side}", side.capitalize())


# --------------------------------------------------------------------------------------------------------
# curated cases
# --------------------------------------------------------------------------------------------------------


def cases(v: int) -> list[Case]:
    """The curated cases of file variant v (0 = CSV of 2026-11-20, 1 = XLSX of 2026-11-21)."""
    d0 = dt.date(2026, 11, 12) if v == 0 else dt.date(2026, 11, 13)
    mem = iter(
        [f"000{n:06d}" for n in (range(123401, 123499) if v == 0 else range(223501, 223599))]
    )  # synthetic members with leading zeros, one per case
    day = iter(range(60))

    def date() -> dt.date:
        return d0 - dt.timedelta(days=next(day) % 17)

    out: list[Case] = []

    def one(tag: str, what: str, expect: str, line: Line, *, surgeon: str = SURGEON_A, pos: str = "21",
            us: bool = False, dotted: bool = True) -> None:  # fmt: skip
        line.tag = tag
        out.append(Case(tag, what, expect, [Claim(next(mem), date(), surgeon, [line], pos, us, dotted)]))

    L, R = "left", "right"

    # ---- documentation: clean leg incision --------------------------------------------------------------
    one("DOC-CLEAN-1", "34421-LT, left groin incision, left common femoral vein",
        "no finding (clean)",
        Line("34421", ("LT",), ("I82.412", "Z79.01"),
             ("Left groin incision, open femoral venotomy", "Left vertical groin incision, CFV exposure")[v],
             ("Left common femoral vein", "L CFV")[v]))
    one("DOC-CLEAN-2", "34421-RT, inguinal incision, CFV and external iliac vein, with op note",
        "no finding (clean)",
        Line("34421", ("RT",), ("I82.421", "I82.411"),
             ("Right oblique inguinal incision; exposure of the common femoral vein",
              "Open, right femoral cutdown (inguinal incision)")[v],
             ("R CFV and external iliac vein", "right common femoral and external iliac veins")[v],
             side_text(NOTE_CLEAN_CFV, R)), surgeon=SURGEON_B, us=True)
    one("DOC-CLEAN-3", "34421-LT, popliteal fossa incision, popliteal vein", "no finding (clean)",
        Line("34421", ("LT",), ("I82432",),
             ("Left popliteal fossa incision (prone)", "Medial knee incision, left")[v],
             ("left popliteal vein", "Left popliteal vein")[v]), dotted=False)
    one("DOC-CLEAN-4", "34421-RT, thigh incision, superficial femoral VEIN (SFV, a deep vein)",
        "no finding (clean; SFV is a deep vein)",
        Line("34421", ("RT",), ("I82.411",),
             ("Open thrombectomy via right thigh incision", "Right thigh incision, open venotomy")[v],
             ("Right superficial femoral vein (SFV)", "R SFV and popliteal vein")[v]), surgeon=SURGEON_C)
    one("DOC-CLEAN-5", "34421-RT, groin incision with balloon catheter to the IVC, op note",
        "no finding (clean; the incision decides the code, not the tool)",
        Line("34421", ("RT",), ("I82.220", "I82.421"),
             ("Leg incision - right groin (femoral venotomy)", "Right groin incision")[v],
             ("Infrarenal IVC and right common iliac vein", "IVC / right iliocaval segment")[v],
             side_text(NOTE_CLEAN_IVC, R)))
    one("DOC-CLEAN-6", "34421-50, bilateral groin incisions, both common femoral veins, bilateral dx",
        "no finding (clean; one line with modifier 50)",
        Line("34421", ("50",), ("I82.413",),
             ("Bilateral groin incisions", "Bilateral inguinal incisions, femoral venotomies")[v],
             ("Bilateral common femoral veins", "bilateral CFV")[v]), surgeon=SURGEON_D, us=True)

    # ---- documentation: approach mismatches -------------------------------------------------------------
    one("DOC-APPROACH-ABDOMINAL", "34421 documented through a laparotomy (abdominal incision)",
        "APPROACH_MISMATCH, suggested 34401",
        Line("34421", ("LT",), ("I82.220", "I82.422"),
             ("Lower midline laparotomy, transperitoneal exposure", "Laparotomy (midline)")[v],
             ("IVC and left common iliac vein", "Infrarenal vena cava, L common iliac vein")[v],
             side_text(NOTE_ABDOMINAL, L) if v == 0 else None))
    one("DOC-APPROACH-ABDOMINAL-2", "34421 documented through a retroperitoneal flank incision",
        "APPROACH_MISMATCH, suggested 34401",
        Line("34421", ("RT",), ("I82.421",),
             ("Right retroperitoneal flank incision", "Retroperitoneal approach, right flank")[v],
             ("Right common iliac vein", "right common and external iliac veins")[v]), surgeon=SURGEON_B)
    one("DOC-APPROACH-ABDOMINAL-AND-LEG", "34421 documented with abdominal AND groin incisions",
        "APPROACH_MISMATCH, suggested 34451",
        Line("34421", ("LT",), ("I82.422", "I82.412"),
             ("Left retroperitoneal incision plus left groin incision",
              "Combined lower abdominal and left inguinal incisions")[v],
             ("Left iliac and common femoral veins", "IVC, left iliofemoral veins")[v]), us=True)
    one("DOC-APPROACH-ABDOMINAL-AND-LEG-2", "34421 documented with a laparotomy and a right groin cutdown",
        "APPROACH_MISMATCH, suggested 34451",
        Line("34421", ("RT",), ("I82.421", "I82.411"),
             ("Midline laparotomy and right femoral cutdown",
              "Right flank (retroperitoneal) + right groin incisions")[v],
             ("IVC, right common iliac and common femoral veins", "Right iliofemoral veins")[v]), surgeon=SURGEON_D)
    one("DOC-APPROACH-PERCUTANEOUS", "34421 documented as percutaneous ClotTriever thrombectomy",
        "APPROACH_MISMATCH, suggested 37187",
        Line("34421", ("LT",), ("I82.412", "I82.422"),
             ("Percutaneous, US-guided left popliteal access (prone), 16 Fr sheath, ClotTriever x4 passes",
              "Percutaneous mechanical thrombectomy, ClotTriever, L popliteal access")[v],
             ("Left femoral and iliac veins", "L femoral and iliac veins")[v]), surgeon=SURGEON_C)
    one("DOC-APPROACH-PERCUTANEOUS-2", "34421 documented as AngioJet rheolytic thrombectomy over the wire",
        "APPROACH_MISMATCH, suggested 37187",
        Line("34421", ("RT",), ("I82411",),
             ("Percutaneous rheolytic thrombectomy (AngioJet) over the wire",
              "AngioJet, R CFV access, 8 Fr sheath")[v],
             ("Right common femoral vein", "R iliofemoral veins")[v]), dotted=False)
    one("DOC-APPROACH-LYSIS", "34421 documented as catheter-directed thrombolysis only (EKOS, tPA)",
        "APPROACH_MISMATCH, suggested 37212",
        Line("34421", ("LT",), ("I82.422",),
             ("Catheter-directed thrombolysis: EKOS infusion catheter, overnight tPA",
              "Infusion catheter via L popliteal access, tPA lysis overnight")[v],
             ("Left iliofemoral veins", "left common femoral and iliac veins")[v]), surgeon=SURGEON_D)
    one("DOC-APPROACH-LYSIS-2", "34421 documented as an infusion catheter with overnight tPA",
        "APPROACH_MISMATCH, suggested 37212",
        Line("34421", ("RT",), ("I82.411",),
             ("Infusion catheter, overnight tPA (lysis only, no mechanical device)",
              "Catheter-directed lysis, EKOS, R popliteal access")[v],
             ("Right femoral and popliteal veins", "Right iliofemoral veins")[v]), us=True)
    one("DOC-APPROACH-NECK", "34421 documented through a supraclavicular (neck) incision, subclavian vein",
        "APPROACH_MISMATCH and SITE_MISMATCH, suggested 34471; dx I82.B11 (subclavian) does not support 34421",
        Line("34421", ("RT",), ("I82.B11",),
             ("Right supraclavicular (neck) incision", "Neck incision, right supraclavicular")[v],
             ("Right subclavian vein", "R subclavian vein")[v]), us=True)
    one("DOC-APPROACH-NECK-2", "34421 documented through a left cervical incision, subclavian vein",
        "APPROACH_MISMATCH and SITE_MISMATCH, suggested 34471; dx I82.B12 (subclavian) does not support 34421",
        Line("34421", ("LT",), ("I82.B12",),
             ("Left cervical incision", "Left supraclavicular incision")[v],
             ("Left subclavian vein", "left subclavian vein")[v]), surgeon=SURGEON_C)
    one("DOC-APPROACH-ARM", "34421 documented through an upper-arm (axillary) incision",
        "APPROACH_MISMATCH and SITE_MISMATCH, suggested 34490; dx I82.A12 (axillary) does not support 34421",
        Line("34421", ("LT",), ("I82.A12",),
             ("Left upper arm incision, axillary vein exposure", "Axillary incision, left arm")[v],
             ("Left axillary and subclavian veins", "L axillary vein")[v]), surgeon=SURGEON_B)
    one("DOC-APPROACH-ARM-2", "34421 documented through an arm incision, axillary vein",
        "APPROACH_MISMATCH and SITE_MISMATCH, suggested 34490; dx I82.A11 (axillary) does not support 34421",
        Line("34421", ("RT",), ("I82.A11",),
             ("Right arm incision", "Right axillary incision")[v],
             ("Right axillary vein", "Right axillary and subclavian veins")[v]), surgeon=SURGEON_D, us=True)

    # ---- documentation: site mismatches -----------------------------------------------------------------
    one("DOC-SITE-ARTERY", "34421 documented as groin incision on the superficial femoral ARTERY (SFA)",
        "SITE_MISMATCH, suggested 34201; dx I74.3 (arterial) does not support 34421",
        Line("34421", ("RT",), ("I74.3",),
             ("Right groin incision, transverse arteriotomy", "R femoral cutdown")[v],
             ("Right superficial femoral artery (SFA)", "right common femoral artery, embolectomy")[v]))
    one("DOC-SITE-ARTERY-2", "34421 with an arterial embolectomy op note (acute limb ischemia)",
        "SITE_MISMATCH, suggested 34201; dx I74.3 (arterial) does not support 34421",
        Line("34421", ("LT",), ("I74.3",),
             ("Left femoral cutdown", "Left groin incision")[v],
             ("Left common femoral artery embolus", "L SFA")[v],
             "Acute limb ischemia, left leg, absent pulses. Femoral embolectomy via arteriotomy, #4 Fogarty, "
             "pulses restored."), surgeon=SURGEON_C, us=True)
    one("DOC-SITE-CALF", "34421 documented on calf veins (posterior tibial, peroneal)",
        "SITE_MISMATCH (calf veins are not a 34421 site; no single code fits); calf dx does not support 34421",
        Line("34421", ("LT",), ("I82.442", "I82.452"),
             ("Left medial calf incision", "Left popliteal fossa incision")[v],
             ("Left posterior tibial and peroneal veins", "L gastrocnemius and soleal veins")[v]))
    one("DOC-SITE-CALF-2", "34421 documented on the soleal and gastrocnemius veins",
        "SITE_MISMATCH (calf veins are not a 34421 site; no single code fits); calf dx does not support 34421",
        Line("34421", ("RT",), ("I82.4Z1",),
             ("Right medial calf incision", "Right calf incision")[v],
             ("Right soleal and gastrocnemius veins", "R peroneal veins")[v]), surgeon=SURGEON_B, us=True)
    one("DOC-SITE-SAPHENOUS", "34421 documented on the great saphenous vein (superficial)",
        "SITE_MISMATCH (saphenous vein is superficial); superficial-vein dx does not support 34421",
        Line("34421", ("RT",), ("I82.811",),
             ("Right groin incision", "R groin incision at the SFJ")[v],
             ("Right great saphenous vein (GSV) at the saphenofemoral junction", "Right GSV")[v]),
        surgeon=SURGEON_D)
    one("DOC-SITE-SAPHENOUS-2", "34421 documented on the small saphenous vein, with op note about the GSV",
        "SITE_MISMATCH (saphenous vein is superficial); superficial-vein dx does not support 34421",
        Line("34421", ("LT",), ("I82.812",),
             ("Left groin incision", "L groin incision")[v],
             ("Left GSV and SSV", "Left greater saphenous vein")[v], side_text(NOTE_GSV, L)), surgeon=SURGEON_A)
    one("DOC-SITE-SUBCLAVIAN", "34421 abstract: leg incision but subclavian vein",
        "SITE_MISMATCH (subclavian vein); dx I82.B1- does not support 34421",
        Line("34421", ("LT",), ("I82.B12",),
             ("Open - leg incision", "Open, leg")[v], ("Left subclavian vein", "L subclavian vein")[v]))
    one("DOC-SITE-SUBCLAVIAN-2", "34421 abstract: groin incision but right subclavian vein",
        "SITE_MISMATCH (subclavian vein); dx I82.B1- does not support 34421",
        Line("34421", ("RT",), ("I82.B11",),
             ("Right groin incision", "R femoral venotomy")[v], ("Right subclavian vein", "R subclavian")[v]),
        surgeon=SURGEON_C, us=True)

    # ---- documentation: incomplete ----------------------------------------------------------------------
    one("DOC-INCOMPLETE-NA", "34421 with approach and site 'N/A'", "DOCUMENTATION_INCOMPLETE",
        Line("34421", ("RT",), ("I82.411",), ("N/A", "n/a")[v], ("N/A", "n/a")[v]), surgeon=SURGEON_B)
    one("DOC-INCOMPLETE-BLANK", "34421 with approach, site and op note all blank", "DOCUMENTATION_INCOMPLETE",
        Line("34421", ("LT",), ("I82.412",)), us=True)
    one("DOC-INCOMPLETE-SEE-NOTE", "34421 with 'see op note' but no op note", "DOCUMENTATION_INCOMPLETE",
        Line("34421", ("RT",), ("I82.431",), ("see op note", "See op note")[v], ("see op note", "See OP note")[v]),
        surgeon=SURGEON_C)
    one("DOC-INCOMPLETE-FEMORAL", "34421, groin incision but site just 'femoral' (vein or artery?)",
        "DOCUMENTATION_INCOMPLETE (vessel unknown)",
        Line("34421", ("LT",), ("I82.412",), ("Left groin incision", "L groin incision")[v],
             ("left femoral", "Femoral")[v]))
    one("DOC-INCOMPLETE-VAGUE", "34421 with approach 'open' and site 'right leg'", "DOCUMENTATION_INCOMPLETE",
        Line("34421", ("RT",), ("I82.411",), ("open", "Open procedure")[v], ("Right leg", "RLE")[v]),
        surgeon=SURGEON_D)
    one("DOC-INCOMPLETE-NO-REMOVAL", "34421 abstract clean, but the op note is a consult (no thrombus removal)",
        "DOCUMENTATION_INCOMPLETE (note describes no thrombectomy)",
        Line("34421", ("RT",), ("I82.411", "I82.421"), ("Right groin incision", "R groin incision")[v],
             ("Right common femoral vein", "R CFV")[v], side_text(NOTE_CONSULT, R)), us=True)

    # ---- documentation: op note only ------------------------------------------------------------------
    one("DOC-NOTE-ONLY-CLEAN", "34421, blank abstract, op note: groin incision, CFV/iliac thrombectomy",
        "no finding (clean, from the note)",
        Line("34421", ("LT",), ("I82.412", "I82.422"), None, None, side_text(NOTE_CLEAN_CFV, L)),
        surgeon=SURGEON_B)
    one("DOC-NOTE-ONLY-CLEAN-2", "34421, abstract 'see op note', op note: popliteal fossa incision",
        "no finding (clean, from the note)",
        Line("34421", ("RT",), ("I82.431",), "see op note", "see op note", side_text(NOTE_CLEAN_POPLITEAL, R)),
        surgeon=SURGEON_C)
    one("DOC-NOTE-ONLY-PERCUTANEOUS", "34421, blank abstract, op note describes percutaneous ClotTriever",
        "APPROACH_MISMATCH from the note, suggested 37187",
        Line("34421", ("LT",), ("I82.412",), None, None, side_text(NOTE_PERC, L)), us=True)

    # ---- documentation: abstract vs note conflict -------------------------------------------------------
    one("DOC-CONFLICT-APPROACH", "34421 abstract says groin incision, op note says percutaneous",
        "APPROACH_MISMATCH from the operative note (the note decides), suggested 37187; DOCUMENTATION_CONFLICT "
        "(approach)",
        Line("34421", ("LT",), ("I82.412",), ("Left groin incision", "Open, left groin")[v],
             ("Left common femoral vein", "L CFV")[v], side_text(NOTE_PERC, L)), surgeon=SURGEON_D)
    one("DOC-CONFLICT-SITE", "34421 abstract says femoral vein, op note describes the great saphenous vein",
        "SITE_MISMATCH from the operative note (saphenous vein); DOCUMENTATION_CONFLICT (vessel)",
        Line("34421", ("RT",), ("I82.411",), ("Open femoral venotomy, right groin", "Right groin incision")[v],
             ("Right femoral vein", "R FV")[v], side_text(NOTE_GSV, R)))
    one("DOC-CONFLICT-ABDOMINAL", "34421 abstract says groin incision, op note describes a laparotomy",
        "APPROACH_MISMATCH from the operative note, suggested 34401; DOCUMENTATION_CONFLICT (approach)",
        Line("34421", ("LT",), ("I82.422",), ("Left groin incision", "L groin")[v],
             ("Left common iliac vein", "L CIV")[v], side_text(NOTE_ABDOMINAL, L)), surgeon=SURGEON_B, us=True)

    # ---- claim-level situations (clean documentation, same member / date / NPI) ------------------------
    clean_l = ("Left groin incision, femoral venotomy", "Left common femoral vein")
    clean_r = ("Right groin incision, femoral venotomy", "Right common femoral vein")

    def claim_case(tag: str, what: str, expect: str, claims: list[Claim]) -> None:
        out.append(Case(tag, what, expect, claims))

    def c34421(side: str = "LT", dx: tuple[str, ...] = ("I82.412",), **kw) -> Line:
        a, s = clean_l if side == "LT" else clean_r
        return Line("34421", (side,) if side else (), dx, a, s, **kw)

    m, d = next(mem), date()
    claim_case("CLM-PTP-37187", "34421-LT and 37187 (no modifier) on the same claim and day",
               "NCCI PTP 34421/37187 (mutually exclusive)",
               [Claim(m, d, SURGEON_A, [c34421(tag="CLM-PTP-37187"),
                                        Line("37187", (), ("I82.412",), tag="CLM-PTP-37187")])])
    m, d = next(mem), date()
    claim_case("CLM-PTP-37187-59", "34421-RT and 37187-59 on the same day", "no PTP error: the pair 34421/37187 "
               "(modifier indicator 1) is bypassed by 59; at most a review that a distinct site is documented",
               [Claim(m, d, SURGEON_B, [c34421("RT", ("I82.411",), tag="CLM-PTP-37187-59"),
                                        Line("37187", ("59",), ("I82.411",), tag="CLM-PTP-37187-59")], us_date=True)])
    m, d = next(mem), date()
    claim_case("CLM-PTP-75822", "34421-LT and venography 75822 on the same day",
               "NCCI PTP 34421/75822",
               [Claim(m, d, SURGEON_C, [c34421(tag="CLM-PTP-75822"),
                                        Line("75822", ("26",), ("I82.412",), tag="CLM-PTP-75822"),
                                        Line("85025", (), ("I82.412",))])])
    m, d = next(mem), date()
    claim_case("CLM-PTP-34451", "34451 and 34421-LT on the same day", "NCCI PTP 34451/34421 "
               "(34421 included in the more extensive 34451)",
               [Claim(m, d, SURGEON_D, [Line("34451", ("LT",), ("I82.422",),
                                             "Retroperitoneal and left groin incisions", "Left iliofemoral veins",
                                             tag="CLM-PTP-34451"),
                                        c34421(dx=("I82.412",), tag="CLM-PTP-34451")])])
    m, d = next(mem), date()
    claim_case("CLM-MUE-UNITS", "34421-LT with 2 units", "MUE exceeded (1 unit per day, MAI 3); bilateral "
               "is billed as one line with 50",
               [Claim(m, d, SURGEON_A, [c34421(units="2", tag="CLM-MUE-UNITS")], us_date=True)])
    m, d = next(mem), date()
    claim_case("CLM-MUE-RT-LT", "34421-RT and 34421-LT as two lines, bilateral dx", "MUE / bilateral: "
               "bill one line with modifier 50",
               [Claim(m, d, SURGEON_B, [c34421("RT", ("I82.413",), tag="CLM-MUE-RT-LT"),
                                        c34421("LT", ("I82.413",), tag="CLM-MUE-RT-LT")])])
    m, d = next(mem), date()
    claim_case("CLM-DX-SIDE", "34421-RT with a left-side dx I82.412", "laterality conflict (RT vs left dx)",
               [Claim(m, d, SURGEON_C, [c34421("RT", ("I82.412",), tag="CLM-DX-SIDE")])])
    m, d = next(mem), date()
    claim_case("CLM-DX-UNSUPPORTIVE", "34421-LT with only dx E11.9", "dx does not support 34421",
               [Claim(m, d, SURGEON_D, [c34421(dx=("E11.9",), tag="CLM-DX-UNSUPPORTIVE")], us_date=True)])
    m, d = next(mem), date()
    claim_case("CLM-DX-INVALID", "34421-LT with dx I82.4 (a category, not a billable code)",
               "invalid / non-billable dx, so no diagnosis supports 34421 (the cell has a valid shape, so it is not "
               "rejected)",
               [Claim(m, d, SURGEON_A, [c34421(dx=("I82.4",), tag="CLM-DX-INVALID")])])
    m, d = next(mem), date()
    claim_case("CLM-GLOBAL-57", "E/M 99213 by the surgeon on the day of surgery without 57 (date written "
               "MM/DD/YYYY on the E/M claim, YYYY-MM-DD on the surgery claim)",
               "global period: E/M on the day of surgery needs 57",
               [Claim(m, d, SURGEON_B, [c34421(tag="CLM-GLOBAL-57")]),
                Claim(m, d, SURGEON_B, [Line("99213", (), ("I82.412",), tag="CLM-GLOBAL-57")], pos="11", us_date=True)])
    m, d = next(mem), dt.date(2026, 10, 16) + dt.timedelta(days=v)
    claim_case("CLM-GLOBAL-24", "E/M 99213 by the surgeon 30 days after 34421, no 24, same dx",
               "global period: E/M within 90 days needs 24 and an unrelated dx",
               [Claim(m, d, SURGEON_C, [c34421(tag="CLM-GLOBAL-24")]),
                Claim(m, d + dt.timedelta(days=30), SURGEON_C,
                      [Line("99213", (), ("I82.412", "Z79.01"), tag="CLM-GLOBAL-24")], pos="11")])
    m, d = next(mem), date()
    claim_case("CLM-MOD-62", "34421-LT with co-surgeon modifier 62", "co-surgeon: documentation required",
               [Claim(m, d, SURGEON_D, [c34421(tag="CLM-MOD-62", dx=("I82.412",)) ])])
    out[-1].claims[0].lines[0].mods = ("LT", "62")
    m, d = next(mem), date()
    claim_case("CLM-MOD-66", "34421-RT with team-surgery modifier 66", "team surgery never payable for 34421",
               [Claim(m, d, SURGEON_A, [c34421("RT", ("I82.411",), tag="CLM-MOD-66")], us_date=True)])
    out[-1].claims[0].lines[0].mods = ("66", "RT")
    m, d = next(mem), date()
    claim_case("CLM-DUPLICATE", "the same 34421-LT line on two claims (same member, date, NPI, charge, dx)",
               "exact duplicate line (the second copy also takes the day over the MUE)",
               [Claim(m, d, SURGEON_B, [c34421(dx=("I82.412", "I10"), tag="CLM-DUPLICATE")]),
                Claim(m, d, SURGEON_B, [c34421(dx=("I82.412", "I10"), tag="CLM-DUPLICATE")])])

    # ---- negative controls (correct billing; no claim-level finding expected) --------------------------
    m, d = next(mem), date()
    claim_case("OK-NO-EDIT-PAIRS", "34421-LT with duplex 93970 and venography 75820 the same day",
               "no finding (no NCCI edit for these pairs)",
               [Claim(m, d, SURGEON_C, [c34421(tag="OK-NO-EDIT-PAIRS"),
                                        Line("93970", ("26",), ("I82.412",), tag="OK-NO-EDIT-PAIRS"),
                                        Line("75820", ("26",), ("I82.412",), tag="OK-NO-EDIT-PAIRS")])])
    m, d = next(mem), date()
    claim_case("OK-EM-57", "E/M 99223-57 the day before 34421-RT (decision for surgery)",
               "no finding (57 present)",
               [Claim(m, d - dt.timedelta(days=1), SURGEON_D,
                      [Line("99223", ("57",), ("I82.411",), tag="OK-EM-57"), Line("85025", (), ("I82.411",))]),
                Claim(m, d, SURGEON_D, [c34421("RT", ("I82.411",), tag="OK-EM-57")])])
    m, d = next(mem), dt.date(2026, 10, 9) + dt.timedelta(days=v)
    claim_case("OK-EM-24", "E/M 99214-24 by the surgeon 35 days after 34421, unrelated dx",
               "no finding (24 and an unrelated dx)",
               [Claim(m, d, SURGEON_A, [c34421(tag="OK-EM-24")]),
                Claim(m, d + dt.timedelta(days=35), SURGEON_A,
                      [Line("99214", ("24",), ("M17.11",), tag="OK-EM-24")], pos="11", us_date=True)])
    return out


def bad_cases(v: int) -> list[Case]:
    """Single-line claims with one deliberately invalid cell each (rejected by validation)."""
    d = dt.date(2026, 11, 10) if v == 0 else dt.date(2026, 11, 11)
    mem = iter([f"00{n:07d}" for n in (range(7710, 7730) if v == 0 else range(8810, 8830))])
    out = []

    rejected, ignored = "row rejected (Rejected sheet)", "row audited without this value (Rejected sheet)"

    def bad(tag: str, what: str, line: Line, *, pos: str = "11", dotted: bool = True,
            expect: str = rejected) -> None:
        line.tag = tag
        out.append(Case(tag, what, expect, [Claim(next(mem), d, OFFICE_DOC, [line], pos, dotted=dotted)]))

    bad("BAD-DATE", "impossible service_date '" + ("2026-02-30", "02/30/2026")[v] + "'",
        Line("99213", (), ("I10",), service_date=("2026-02-30", "02/30/2026")[v]))
    bad("BAD-UNITS-ZERO", "units '0'", Line("85025", (), ("D64.9",), units="0"))
    bad("BAD-UNITS-TEXT", "units '" + ("x", "1.5")[v] + "'", Line("36415", (), ("E11.9",), units=("x", "1.5")[v]))
    bad("BAD-PROCEDURE-EMPTY", "empty procedure_code", Line(None, (), ("I10",), charge="135.00"))
    bad("BAD-NPI", "rendering_npi with a wrong check digit",
        Line("99214", (), ("E11.9", "I10"), npi=OFFICE_DOC[:9] + str((int(OFFICE_DOC[9]) + 3) % 10)),
        expect=ignored)
    bad("BAD-DX", "malformed dx_1 '" + ("IB2.412", "82.411")[v] + "'",
        Line("93970", (), (("IB2.412", "82.411")[v],)), pos="22", expect=ignored)
    bad("BAD-MODIFIER", "modifier_1 '" + ("RTT", "591")[v] + "' (3 characters) on a 34421 line",
        Line("34421", (("RTT", "591")[v],), ("I82.411",), "Right groin incision", "Right common femoral vein"),
        pos="21", expect=ignored)
    bad("BAD-CHARGE", "charge_amount '" + ("$1,250.00", "12,50")[v] + "'", Line("99213", (), ("I10",),
        charge=("$1,250.00", "12,50")[v]),
        expect=("accepted: a currency sign and thousands separators are read", ignored)[v])
    return out


# --------------------------------------------------------------------------------------------------------
# assembly
# --------------------------------------------------------------------------------------------------------


def background(lines: int, seed: int, extract: dt.date) -> pl.DataFrame:
    """Generator lines with no 34421 (turned into hospital visits), dates in the year before `extract`, and
    no assistant / co-surgeon / second modifiers (so that the background raises no finding)."""
    df = sample.generate(lines, seed=seed)
    is34421 = pl.col("procedure_code") == "34421"
    parsed = pl.coalesce(
        pl.col("service_date").str.strptime(pl.Date, "%Y-%m-%d", strict=False),
        pl.col("service_date").str.strptime(pl.Date, "%m/%d/%Y", strict=False),
    )
    back = (parsed - pl.date(2024, 1, 1)).dt.total_days() % 350 + 1
    new_date = pl.lit(extract) - pl.duration(days=back)
    return df.with_columns(
        service_date=pl.when(pl.col("service_date").str.contains("/"))
        .then(new_date.dt.strftime("%m/%d/%Y"))
        .otherwise(new_date.dt.strftime("%Y-%m-%d")),
        procedure_code=pl.when(is34421).then(pl.lit("99232")).otherwise(pl.col("procedure_code")),
        # no assistant / co-surgeon / second modifiers in the background, so it raises no incidental finding
        modifier_1=pl.when(is34421 | pl.col("modifier_1").is_in(["62", "66", "80", "82", "AS"]))
        .then(pl.lit(None, pl.String))
        .otherwise(pl.col("modifier_1")),
        charge_amount=pl.when(is34421).then(pl.lit(CHARGES["99232"])).otherwise(pl.col("charge_amount")),
        **{c: pl.lit(None, pl.String) for c in ("modifier_2", "modifier_3", "modifier_4")},
        **{
            c: pl.when(is34421).then(pl.lit(None, pl.String)).otherwise(pl.col(c))
            for c in ("documented_approach", "documented_site", "op_note")
        },
    )  # fmt: skip


def claim_frame(claim: Claim) -> pl.DataFrame:
    rows = []
    for n, ln in enumerate(claim.lines, start=1):
        dx = [x if claim.dotted else x.replace(".", "") for x in ln.dx]
        mods = list(ln.mods)
        row = {
            "claim_id": claim.claim_id,
            "line_number": ln.line_number or str(n),
            "member_id": claim.member,
            "service_date": ln.service_date
            or claim.date.strftime("%m/%d/%Y" if claim.us_date else "%Y-%m-%d"),
            "procedure_code": ln.code,
            "units": ln.units,
            **{f"modifier_{k}": (mods[k - 1] if k <= len(mods) else None) for k in range(1, 5)},
            "rendering_npi": ln.npi or claim.npi,
            "place_of_service": claim.pos,
            "charge_amount": ln.charge
            or f"{float(CHARGES.get(ln.code or '', '100.00')) * int(ln.units if ln.units.isdigit() else 1):.2f}",
            **{f"dx_{k}": (dx[k - 1] if k <= len(dx) else None) for k in range(1, 13)},
            "documented_approach": ln.approach,
            "documented_site": ln.site,
            "op_note": ln.note,
            "_tag": ln.tag,
        }
        rows.append(row)
    return pl.DataFrame(rows, schema={**{c: pl.String for c in sample.COLUMNS}, "_tag": pl.String})


def build(v: int) -> tuple[pl.DataFrame, list[Case]]:
    """The file of variant v as a frame (with a `_tag` column) and its cases."""
    extract = (dt.date(2026, 11, 20), dt.date(2026, 11, 21))[v]
    seed = (20261120, 20261121)[v]
    base = background(228, seed, extract).with_columns(_tag=pl.lit(None, pl.String))
    all_cases = cases(v) + bad_cases(v)
    claims = [cl for case in all_cases for cl in case.claims]
    for k, cl in enumerate(claims, start=1):
        cl.claim_id = f"C{extract:%y%m%d}{v + 7}{k:04d}"
    curated_members = {cl.member for cl in claims}
    curated_npis = {SURGEON_A, SURGEON_B, SURGEON_C, SURGEON_D, HOSPITALIST, OFFICE_DOC}
    assert not curated_members & set(base["member_id"]), "curated member collides with background"
    assert not curated_npis & set(base["rendering_npi"].drop_nulls()), "curated NPI collides with background"

    # interleave: curated claim k goes after background claim round((k+1) * n_base / (n_curated + 1))
    base_claims = base.partition_by("claim_id", maintain_order=True)
    n_base, n_cur = len(base_claims), len(claims)
    slots: dict[int, list[pl.DataFrame]] = {}
    for k, cl in enumerate(claims):
        slots.setdefault(((k + 1) * n_base) // (n_cur + 1), []).append(claim_frame(cl))
    parts: list[pl.DataFrame] = []
    for b, frame in enumerate(base_claims):
        parts.append(frame)
        parts.extend(slots.get(b, []))
    parts.extend(slots.get(n_base, []))
    df = pl.concat(parts, how="vertical")
    assert df["claim_id"].n_unique() == n_base + n_cur
    return df, all_cases


def rows_of(df: pl.DataFrame) -> dict[str, list[int]]:
    """Spreadsheet rows (header = 1) of each deliberate case."""
    tagged = df.with_row_index("row", offset=2).filter(pl.col("_tag").is_not_null())
    out: dict[str, list[int]] = {}
    for tag, row in tagged.select("_tag", "row").iter_rows():
        out.setdefault(tag, []).append(int(row))
    return out


def readme(built: list[tuple[str, pl.DataFrame, list[Case]]]) -> str:
    parts = [
        "# Sample claim extracts (synthetic)",
        "",
        "**All data in this folder is synthetic.** Members, claims, dates, charges, notes and NPIs are "
        "invented; the NPIs carry a valid check digit but belong to no one. Diagnosis and procedure codes "
        "are real code values used as labels only.",
        "",
        "This file is generated by `scripts/make_samples.py` together with the extracts; regenerate everything "
        "with",
        "",
        "```",
        "python scripts/make_samples.py",
        "```",
        "",
        "Each extract holds background lines from `claims_audit.sample.generate` (fixed seed; the "
        "generator's own 34421 lines are turned into 99232 hospital visits so that **every 34421 line in a "
        "file is one of the curated cases below**; service dates are moved into the year before the extract "
        "date) and curated claims inserted between them. Curated claims use their own member ids "
        "and NPIs, so the background never interacts with them and the two files never "
        "interact with each other. Dates are mixed `YYYY-MM-DD` / `MM/DD/YYYY`, diagnosis codes mixed "
        "with / without the dot, as a warehouse extract would be.",
        "",
        "Rows are spreadsheet rows: the header is row 1, the first data line row 2 (in the CSV a quoted op "
        "note may span several physical lines; it is still one row). The *intended finding* column is what "
        "the case was built to show, per `docs/design.md` and the domain notes; it is not generated by the "
        "auditor.",
        "",
        "Curated NPIs: surgeons A `" + SURGEON_A + "`, B `" + SURGEON_B + "`, C `" + SURGEON_C + "`, D `"
        + SURGEON_D + "`; office `" + OFFICE_DOC + "`.",
    ]
    for name, df, case_list in built:
        rows = rows_of(df)
        n34421 = df.filter(pl.col("procedure_code") == "34421").height
        parts += [
            "",
            f"## `{name}`",
            "",
            f"{df.height} data rows, {df['claim_id'].n_unique()} claims, {n34421} lines with 34421 (all "
            f"curated), {sum(len(c.claims[0].lines) for c in case_list if c.tag.startswith('BAD-'))} "
            "deliberately bad or unusual cells.",
            "",
            "| case | rows | what | intended finding |",
            "|---|---|---|---|",
        ]
        for c in case_list:
            r = ", ".join(str(x) for x in rows[c.tag])
            parts.append(f"| `{c.tag}` | {r} | {c.what} | {c.expect} |")
    parts += [
        "",
        "Rows not listed are background lines: office, hospital and ASC claims with E/M, labs, imaging, "
        "HCPCS, Category II and other vascular / surgical codes. They are valid and meant to raise no "
        "finding (no 34421, no assistant / co-surgeon / second modifiers, members and NPIs of their own); a "
        "finding on an unlisted row is either a rule added after these files or a defect.",
        "",
    ]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE, help="output folder (default: sample_claims/)")
    args = ap.parse_args(argv)
    built = []
    for v, name in enumerate((CSV_NAME, XLSX_NAME)):
        df, case_list = build(v)
        sample.write(df.drop("_tag"), args.out / name)
        built.append((name, df, case_list))
    (args.out / "README.md").write_text(readme(built), encoding="utf-8")
    for name, df, case_list in built:
        print(f"{name}: {df.height} rows, {len(case_list)} cases")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
