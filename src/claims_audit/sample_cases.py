"""The curated sample extracts in ``sample_claims/``: every deliberate case, what the audit must say about
it, and the files built from it (all data synthetic).

    python -m claims_audit.sample_cases [--out DIR] [--cases FILE]

writes ``claims_2026-11-20.csv``, ``claims_2026-11-21.xlsx`` and ``README.md`` into DIR (default:
``sample_claims``) and the machine-readable case list to FILE (default:
``tests/data/sample_claims_cases.yaml``; not in the sample folder, because everything there that is not
a README is audited by ``make audit``). Run it from the repository root. The CSV, the case list and the
README are byte-identical on every run with the same polars version; the .xlsx has the same cell values
(its zip timestamps differ).

Each extract = background lines of the package's generator (:func:`claims_audit.sample.generate`, fixed
seed; its 34421 lines turned into 99232 hospital visits so that every 34421 line in a file is a curated
one; service dates moved into the year before the extract date) + curated claims inserted between them at
fixed positions. Each curated line declares the rule ids the audit must raise on it (none for the clean
cases and the negative controls), and each deliberately bad cell the column and outcome of its Rejected
row. The case list names them with their file, claim id, line and spreadsheet row, and the README's case
tables are rendered from that same list, so the two cannot disagree; ``tests/test_sample_cases.py`` audits
``sample_claims/`` and checks every one of them.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from . import sample
from .sample import LEFT, RIGHT, render_side
from .validation import ROW_REJECTED, VALUE_IGNORED

CSV_NAME = "claims_2026-11-20.csv"
XLSX_NAME = "claims_2026-11-21.xlsx"
CASES_PATH = Path("tests/data/sample_claims_cases.yaml")  # relative to the repository root
README_NAME = "README.md"
GENERATOR = "python -m claims_audit.sample_cases"


def _npi(first9: str) -> str:
    return first9 + sample.npi_check_digit(first9)


# rendering providers of the curated claims (synthetic NPIs with a valid check digit)
SURGEON_A = _npi("142706589")  # 1427065895
SURGEON_B = _npi("172938465")  # 1729384655
SURGEON_C = _npi("108765432")  # 1087654327
SURGEON_D = _npi("165430987")  # 1654309875
HOSPITALIST = _npi("129384756")  # 1293847566
OFFICE_DOC = _npi("190817263")  # 1908172632
CURATED_NPIS = frozenset({SURGEON_A, SURGEON_B, SURGEON_C, SURGEON_D, HOSPITALIST, OFFICE_DOC})


@dataclass(frozen=True)
class Rejection:
    """The Rejected-sheet row a deliberately bad cell must produce: its column and outcome
    (:data:`~claims_audit.validation.ROW_REJECTED` or :data:`~claims_audit.validation.VALUE_IGNORED`)."""

    column: str
    outcome: str


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
    rules: tuple[str, ...] = ()  # the rule ids the audit must raise on this line, no more and no fewer
    rejected: Rejection | None = None  # the Rejected row of a deliberately bad cell
    # overrides for deliberately bad cells
    service_date: str | None = None
    npi: str | None = None


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
    intended: str  # the outcome in words, for the README
    claims: list[Claim] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------------
# operative note texts of the curated cases (synthetic; commas, quotes and newlines on purpose)
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
NOTE_ARTERIAL = (
    "Acute limb ischemia, left leg, absent pulses. Femoral embolectomy via arteriotomy, #4 Fogarty, "
    "pulses restored."
)

# the rule ids the curated cases expect (catalogue ids, see src/claims_audit/data/)
APPROACH = "APPROACH_MISMATCH"
SITE = "SITE_MISMATCH"
DX_NOT_SUPPORTING = "DIAGNOSIS_NOT_SUPPORTING"
INCOMPLETE = "DOCUMENTATION_INCOMPLETE"
CONFLICT = "DOCUMENTATION_CONFLICT"


# --------------------------------------------------------------------------------------------------------
# curated cases
# --------------------------------------------------------------------------------------------------------


class _Cases:
    """The curated cases of one file variant (0 = CSV of 2026-11-20, 1 = XLSX of 2026-11-21) in file order.

    Members and dates are drawn in the order the cases are added, so a case's place decides its member
    id and date: reordering cases changes the files."""

    def __init__(self, variant: int) -> None:
        self.variant = variant
        self.first_day = dt.date(2026, 11, 12) if variant == 0 else dt.date(2026, 11, 13)
        numbers = range(123401, 123499) if variant == 0 else range(223501, 223599)
        self._members: Iterator[str] = iter(f"000{n:06d}" for n in numbers)  # leading zeros on purpose
        self._days: Iterator[int] = iter(range(60))
        self.cases: list[Case] = []

    def member(self) -> str:
        return next(self._members)

    def date(self) -> dt.date:
        return self.first_day - dt.timedelta(days=next(self._days) % 17)

    def one(self, tag: str, what: str, intended: str, line: Line, *, surgeon: str = SURGEON_A, pos: str = "21",
            us: bool = False, dotted: bool = True) -> None:  # fmt: skip
        """A single-line claim of a fresh member."""
        claim = Claim(self.member(), self.date(), surgeon, [line], pos, us, dotted)
        self.cases.append(Case(tag, what, intended, [claim]))

    def claims(self, tag: str, what: str, intended: str, claims: list[Claim]) -> None:
        self.cases.append(Case(tag, what, intended, claims))


def _clean_cases(c: _Cases) -> None:
    v = c.variant
    c.one("DOC-CLEAN-1", "34421-LT, left groin incision, left common femoral vein",
          "no finding (clean)",
          Line("34421", ("LT",), ("I82.412", "Z79.01"),
               ("Left groin incision, open femoral venotomy", "Left vertical groin incision, CFV exposure")[v],
               ("Left common femoral vein", "L CFV")[v]))
    c.one("DOC-CLEAN-2", "34421-RT, inguinal incision, CFV and external iliac vein, with op note",
          "no finding (clean)",
          Line("34421", ("RT",), ("I82.421", "I82.411"),
               ("Right oblique inguinal incision; exposure of the common femoral vein",
                "Open, right femoral cutdown (inguinal incision)")[v],
               ("R CFV and external iliac vein", "right common femoral and external iliac veins")[v],
               render_side(NOTE_CLEAN_CFV, RIGHT)), surgeon=SURGEON_B, us=True)
    c.one("DOC-CLEAN-3", "34421-LT, popliteal fossa incision, popliteal vein", "no finding (clean)",
          Line("34421", ("LT",), ("I82432",),
               ("Left popliteal fossa incision (prone)", "Medial knee incision, left")[v],
               ("left popliteal vein", "Left popliteal vein")[v]), dotted=False)
    c.one("DOC-CLEAN-4", "34421-RT, thigh incision, superficial femoral VEIN (SFV, a deep vein)",
          "no finding (clean; SFV is a deep vein)",
          Line("34421", ("RT",), ("I82.411",),
               ("Open thrombectomy via right thigh incision", "Right thigh incision, open venotomy")[v],
               ("Right superficial femoral vein (SFV)", "R SFV and popliteal vein")[v]), surgeon=SURGEON_C)
    c.one("DOC-CLEAN-5", "34421-RT, groin incision with balloon catheter to the IVC, op note",
          "no finding (clean; the incision decides the code, not the tool)",
          Line("34421", ("RT",), ("I82.220", "I82.421"),
               ("Leg incision - right groin (femoral venotomy)", "Right groin incision")[v],
               ("Infrarenal IVC and right common iliac vein", "IVC / right iliocaval segment")[v],
               render_side(NOTE_CLEAN_IVC, RIGHT)))
    c.one("DOC-CLEAN-6", "34421-50, bilateral groin incisions, both common femoral veins, bilateral dx",
          "no finding (clean; one line with modifier 50)",
          Line("34421", ("50",), ("I82.413",),
               ("Bilateral groin incisions", "Bilateral inguinal incisions, femoral venotomies")[v],
               ("Bilateral common femoral veins", "bilateral CFV")[v]), surgeon=SURGEON_D, us=True)


def _abdominal_approach_cases(c: _Cases) -> None:
    v = c.variant
    c.one("DOC-APPROACH-ABDOMINAL", "34421 documented through a laparotomy (abdominal incision)",
          "APPROACH_MISMATCH, suggested 34401",
          Line("34421", ("LT",), ("I82.220", "I82.422"),
               ("Lower midline laparotomy, transperitoneal exposure", "Laparotomy (midline)")[v],
               ("IVC and left common iliac vein", "Infrarenal vena cava, L common iliac vein")[v],
               render_side(NOTE_ABDOMINAL, LEFT) if v == 0 else None, rules=(APPROACH,)))
    c.one("DOC-APPROACH-ABDOMINAL-2", "34421 documented through a retroperitoneal flank incision",
          "APPROACH_MISMATCH, suggested 34401",
          Line("34421", ("RT",), ("I82.421",),
               ("Right retroperitoneal flank incision", "Retroperitoneal approach, right flank")[v],
               ("Right common iliac vein", "right common and external iliac veins")[v], rules=(APPROACH,)),
          surgeon=SURGEON_B)
    c.one("DOC-APPROACH-ABDOMINAL-AND-LEG", "34421 documented with abdominal AND groin incisions",
          "APPROACH_MISMATCH, suggested 34451",
          Line("34421", ("LT",), ("I82.422", "I82.412"),
               ("Left retroperitoneal incision plus left groin incision",
                "Combined lower abdominal and left inguinal incisions")[v],
               ("Left iliac and common femoral veins", "IVC, left iliofemoral veins")[v], rules=(APPROACH,)),
          us=True)
    c.one("DOC-APPROACH-ABDOMINAL-AND-LEG-2", "34421 documented with a laparotomy and a right groin cutdown",
          "APPROACH_MISMATCH, suggested 34451",
          Line("34421", ("RT",), ("I82.421", "I82.411"),
               ("Midline laparotomy and right femoral cutdown",
                "Right flank (retroperitoneal) + right groin incisions")[v],
               ("IVC, right common iliac and common femoral veins", "Right iliofemoral veins")[v],
               rules=(APPROACH,)), surgeon=SURGEON_D)


def _catheter_approach_cases(c: _Cases) -> None:
    v = c.variant
    c.one("DOC-APPROACH-PERCUTANEOUS", "34421 documented as percutaneous ClotTriever thrombectomy",
          "APPROACH_MISMATCH, suggested 37187",
          Line("34421", ("LT",), ("I82.412", "I82.422"),
               ("Percutaneous, US-guided left popliteal access (prone), 16 Fr sheath, ClotTriever x4 passes",
                "Percutaneous mechanical thrombectomy, ClotTriever, L popliteal access")[v],
               ("Left femoral and iliac veins", "L femoral and iliac veins")[v], rules=(APPROACH,)),
          surgeon=SURGEON_C)
    c.one("DOC-APPROACH-PERCUTANEOUS-2", "34421 documented as AngioJet rheolytic thrombectomy over the wire",
          "APPROACH_MISMATCH, suggested 37187",
          Line("34421", ("RT",), ("I82411",),
               ("Percutaneous rheolytic thrombectomy (AngioJet) over the wire",
                "AngioJet, R CFV access, 8 Fr sheath")[v],
               ("Right common femoral vein", "R iliofemoral veins")[v], rules=(APPROACH,)), dotted=False)
    c.one("DOC-APPROACH-LYSIS", "34421 documented as catheter-directed thrombolysis only (EKOS, tPA)",
          "APPROACH_MISMATCH, suggested 37212",
          Line("34421", ("LT",), ("I82.422",),
               ("Catheter-directed thrombolysis: EKOS infusion catheter, overnight tPA",
                "Infusion catheter via L popliteal access, tPA lysis overnight")[v],
               ("Left iliofemoral veins", "left common femoral and iliac veins")[v], rules=(APPROACH,)),
          surgeon=SURGEON_D)
    c.one("DOC-APPROACH-LYSIS-2", "34421 documented as an infusion catheter with overnight tPA",
          "APPROACH_MISMATCH, suggested 37212",
          Line("34421", ("RT",), ("I82.411",),
               ("Infusion catheter, overnight tPA (lysis only, no mechanical device)",
                "Catheter-directed lysis, EKOS, R popliteal access")[v],
               ("Right femoral and popliteal veins", "Right iliofemoral veins")[v], rules=(APPROACH,)), us=True)


def _upper_body_approach_cases(c: _Cases) -> None:
    v = c.variant
    wrong_everything = (APPROACH, DX_NOT_SUPPORTING, SITE)
    c.one("DOC-APPROACH-NECK", "34421 documented through a supraclavicular (neck) incision, subclavian vein",
          "APPROACH_MISMATCH and SITE_MISMATCH, suggested 34471; dx I82.B11 (subclavian) does not support 34421",
          Line("34421", ("RT",), ("I82.B11",),
               ("Right supraclavicular (neck) incision", "Neck incision, right supraclavicular")[v],
               ("Right subclavian vein", "R subclavian vein")[v], rules=wrong_everything), us=True)
    c.one("DOC-APPROACH-NECK-2", "34421 documented through a left cervical incision, subclavian vein",
          "APPROACH_MISMATCH and SITE_MISMATCH, suggested 34471; dx I82.B12 (subclavian) does not support 34421",
          Line("34421", ("LT",), ("I82.B12",),
               ("Left cervical incision", "Left supraclavicular incision")[v],
               ("Left subclavian vein", "left subclavian vein")[v], rules=wrong_everything), surgeon=SURGEON_C)
    c.one("DOC-APPROACH-ARM", "34421 documented through an upper-arm (axillary) incision",
          "APPROACH_MISMATCH and SITE_MISMATCH, suggested 34490; dx I82.A12 (axillary) does not support 34421",
          Line("34421", ("LT",), ("I82.A12",),
               ("Left upper arm incision, axillary vein exposure", "Axillary incision, left arm")[v],
               ("Left axillary and subclavian veins", "L axillary vein")[v], rules=wrong_everything),
          surgeon=SURGEON_B)
    c.one("DOC-APPROACH-ARM-2", "34421 documented through an arm incision, axillary vein",
          "APPROACH_MISMATCH and SITE_MISMATCH, suggested 34490; dx I82.A11 (axillary) does not support 34421",
          Line("34421", ("RT",), ("I82.A11",),
               ("Right arm incision", "Right axillary incision")[v],
               ("Right axillary vein", "Right axillary and subclavian veins")[v], rules=wrong_everything),
          surgeon=SURGEON_D, us=True)


def _site_cases(c: _Cases) -> None:
    v = c.variant
    wrong_vessel = (DX_NOT_SUPPORTING, SITE)
    artery = "SITE_MISMATCH, suggested 34201; dx I74.3 (arterial) does not support 34421"
    c.one("DOC-SITE-ARTERY", "34421 documented as groin incision on the superficial femoral ARTERY (SFA)", artery,
          Line("34421", ("RT",), ("I74.3",),
               ("Right groin incision, transverse arteriotomy", "R femoral cutdown")[v],
               ("Right superficial femoral artery (SFA)", "right common femoral artery, embolectomy")[v],
               rules=wrong_vessel))
    c.one("DOC-SITE-ARTERY-2", "34421 with an arterial embolectomy op note (acute limb ischemia)", artery,
          Line("34421", ("LT",), ("I74.3",), ("Left femoral cutdown", "Left groin incision")[v],
               ("Left common femoral artery embolus", "L SFA")[v], NOTE_ARTERIAL, rules=wrong_vessel),
          surgeon=SURGEON_C, us=True)
    calf = "SITE_MISMATCH (calf veins are not a 34421 site; no single code fits); calf dx does not support 34421"
    c.one("DOC-SITE-CALF", "34421 documented on calf veins (posterior tibial, peroneal)", calf,
          Line("34421", ("LT",), ("I82.442", "I82.452"),
               ("Left medial calf incision", "Left popliteal fossa incision")[v],
               ("Left posterior tibial and peroneal veins", "L gastrocnemius and soleal veins")[v],
               rules=wrong_vessel))
    c.one("DOC-SITE-CALF-2", "34421 documented on the soleal and gastrocnemius veins", calf,
          Line("34421", ("RT",), ("I82.4Z1",), ("Right medial calf incision", "Right calf incision")[v],
               ("Right soleal and gastrocnemius veins", "R peroneal veins")[v], rules=wrong_vessel),
          surgeon=SURGEON_B, us=True)
    saphenous = "SITE_MISMATCH (saphenous vein is superficial); superficial-vein dx does not support 34421"
    c.one("DOC-SITE-SAPHENOUS", "34421 documented on the great saphenous vein (superficial)", saphenous,
          Line("34421", ("RT",), ("I82.811",), ("Right groin incision", "R groin incision at the SFJ")[v],
               ("Right great saphenous vein (GSV) at the saphenofemoral junction", "Right GSV")[v],
               rules=wrong_vessel), surgeon=SURGEON_D)
    c.one("DOC-SITE-SAPHENOUS-2", "34421 documented on the small saphenous vein, with op note about the GSV",
          saphenous,
          Line("34421", ("LT",), ("I82.812",), ("Left groin incision", "L groin incision")[v],
               ("Left GSV and SSV", "Left greater saphenous vein")[v], render_side(NOTE_GSV, LEFT),
               rules=wrong_vessel), surgeon=SURGEON_A)
    subclavian = "SITE_MISMATCH (subclavian vein); dx I82.B1- does not support 34421"
    c.one("DOC-SITE-SUBCLAVIAN", "34421 abstract: leg incision but subclavian vein", subclavian,
          Line("34421", ("LT",), ("I82.B12",), ("Open - leg incision", "Open, leg")[v],
               ("Left subclavian vein", "L subclavian vein")[v], rules=wrong_vessel))
    c.one("DOC-SITE-SUBCLAVIAN-2", "34421 abstract: groin incision but right subclavian vein", subclavian,
          Line("34421", ("RT",), ("I82.B11",), ("Right groin incision", "R femoral venotomy")[v],
               ("Right subclavian vein", "R subclavian")[v], rules=wrong_vessel), surgeon=SURGEON_C, us=True)


def _incomplete_cases(c: _Cases) -> None:
    v = c.variant
    incomplete = (INCOMPLETE,)
    c.one("DOC-INCOMPLETE-NA", "34421 with approach and site 'N/A'", "DOCUMENTATION_INCOMPLETE",
          Line("34421", ("RT",), ("I82.411",), ("N/A", "n/a")[v], ("N/A", "n/a")[v], rules=incomplete),
          surgeon=SURGEON_B)
    c.one("DOC-INCOMPLETE-BLANK", "34421 with approach, site and op note all blank", "DOCUMENTATION_INCOMPLETE",
          Line("34421", ("LT",), ("I82.412",), rules=incomplete), us=True)
    c.one("DOC-INCOMPLETE-SEE-NOTE", "34421 with 'see op note' but no op note", "DOCUMENTATION_INCOMPLETE",
          Line("34421", ("RT",), ("I82.431",), ("see op note", "See op note")[v],
               ("see op note", "See OP note")[v], rules=incomplete), surgeon=SURGEON_C)
    c.one("DOC-INCOMPLETE-FEMORAL", "34421, groin incision but site just 'femoral' (vein or artery?)",
          "DOCUMENTATION_INCOMPLETE (vessel unknown)",
          Line("34421", ("LT",), ("I82.412",), ("Left groin incision", "L groin incision")[v],
               ("left femoral", "Femoral")[v], rules=incomplete))
    c.one("DOC-INCOMPLETE-VAGUE", "34421 with approach 'open' and site 'right leg'", "DOCUMENTATION_INCOMPLETE",
          Line("34421", ("RT",), ("I82.411",), ("open", "Open procedure")[v], ("Right leg", "RLE")[v],
               rules=incomplete), surgeon=SURGEON_D)
    c.one("DOC-INCOMPLETE-NO-REMOVAL", "34421 abstract clean, but the op note is a consult (no thrombus removal)",
          "DOCUMENTATION_INCOMPLETE (note describes no thrombectomy)",
          Line("34421", ("RT",), ("I82.411", "I82.421"), ("Right groin incision", "R groin incision")[v],
               ("Right common femoral vein", "R CFV")[v], render_side(NOTE_CONSULT, RIGHT), rules=incomplete),
          us=True)


def _operative_note_cases(c: _Cases) -> None:
    """Documentation only in the operative note, and abstracts the note contradicts (the note decides)."""
    v = c.variant
    c.one("DOC-NOTE-ONLY-CLEAN", "34421, blank abstract, op note: groin incision, CFV/iliac thrombectomy",
          "no finding (clean, from the note)",
          Line("34421", ("LT",), ("I82.412", "I82.422"), None, None, render_side(NOTE_CLEAN_CFV, LEFT)),
          surgeon=SURGEON_B)
    c.one("DOC-NOTE-ONLY-CLEAN-2", "34421, abstract 'see op note', op note: popliteal fossa incision",
          "no finding (clean, from the note)",
          Line("34421", ("RT",), ("I82.431",), "see op note", "see op note",
               render_side(NOTE_CLEAN_POPLITEAL, RIGHT)), surgeon=SURGEON_C)
    c.one("DOC-NOTE-ONLY-PERCUTANEOUS", "34421, blank abstract, op note describes percutaneous ClotTriever",
          "APPROACH_MISMATCH from the note, suggested 37187",
          Line("34421", ("LT",), ("I82.412",), None, None, render_side(NOTE_PERC, LEFT), rules=(APPROACH,)),
          us=True)
    c.one("DOC-CONFLICT-APPROACH", "34421 abstract says groin incision, op note says percutaneous",
          "APPROACH_MISMATCH from the operative note (the note decides), suggested 37187; DOCUMENTATION_CONFLICT "
          "(approach)",
          Line("34421", ("LT",), ("I82.412",), ("Left groin incision", "Open, left groin")[v],
               ("Left common femoral vein", "L CFV")[v], render_side(NOTE_PERC, LEFT), rules=(APPROACH, CONFLICT)),
          surgeon=SURGEON_D)
    c.one("DOC-CONFLICT-SITE", "34421 abstract says femoral vein, op note describes the great saphenous vein",
          "SITE_MISMATCH from the operative note (saphenous vein); DOCUMENTATION_CONFLICT (vessel)",
          Line("34421", ("RT",), ("I82.411",), ("Open femoral venotomy, right groin", "Right groin incision")[v],
               ("Right femoral vein", "R FV")[v], render_side(NOTE_GSV, RIGHT), rules=(CONFLICT, SITE)))
    c.one("DOC-CONFLICT-ABDOMINAL", "34421 abstract says groin incision, op note describes a laparotomy",
          "APPROACH_MISMATCH from the operative note, suggested 34401; DOCUMENTATION_CONFLICT (approach)",
          Line("34421", ("LT",), ("I82.422",), ("Left groin incision", "L groin")[v],
               ("Left common iliac vein", "L CIV")[v], render_side(NOTE_ABDOMINAL, LEFT),
               rules=(APPROACH, CONFLICT)), surgeon=SURGEON_B, us=True)


# claim-level situations: clean documentation, so only the claim edit under test fires
_CLEAN_LEFT = ("Left groin incision, femoral venotomy", "Left common femoral vein")
_CLEAN_RIGHT = ("Right groin incision, femoral venotomy", "Right common femoral vein")


def _c34421(side: str = "LT", dx: tuple[str, ...] = ("I82.412",), *, mods: tuple[str, ...] | None = None,
            **more: Any) -> Line:  # fmt: skip
    """A 34421 line with clean leg-incision documentation of its side."""
    approach, site = _CLEAN_LEFT if side == "LT" else _CLEAN_RIGHT
    return Line("34421", (side,) if mods is None else mods, dx, approach, site, **more)


def _pair_edit_cases(c: _Cases) -> None:
    """NCCI procedure-to-procedure pairs and the medically unlikely edits."""
    m, d = c.member(), c.date()
    c.claims("CLM-PTP-37187", "34421-LT and 37187 (no modifier) on the same claim and day",
             "NCCI PTP 34421/37187 (mutually exclusive)",
             [Claim(m, d, SURGEON_A, [_c34421(), Line("37187", (), ("I82.412",), rules=("PTP_CONFLICT",))])])
    m, d = c.member(), c.date()
    c.claims("CLM-PTP-37187-59", "34421-RT and 37187-59 on the same day", "no PTP error: the pair 34421/37187 "
             "(modifier indicator 1) is bypassed by 59; at most a review that a distinct site is documented",
             [Claim(m, d, SURGEON_B, [_c34421("RT", ("I82.411",)), Line("37187", ("59",), ("I82.411",))],
                    us_date=True)])
    m, d = c.member(), c.date()
    c.claims("CLM-PTP-75822", "34421-LT and venography 75822 on the same day", "NCCI PTP 34421/75822",
             [Claim(m, d, SURGEON_C, [_c34421(), Line("75822", ("26",), ("I82.412",), rules=("PTP_CONFLICT",)),
                                      Line("85025", (), ("I82.412",))])])
    m, d = c.member(), c.date()
    c.claims("CLM-PTP-34451", "34451 and 34421-LT on the same day", "NCCI PTP 34451/34421 "
             "(34421 included in the more extensive 34451)",
             [Claim(m, d, SURGEON_D, [Line("34451", ("LT",), ("I82.422",), "Retroperitoneal and left groin incisions",
                                           "Left iliofemoral veins"),
                                      _c34421(dx=("I82.412",), rules=("PTP_CONFLICT",))])])
    m, d = c.member(), c.date()
    c.claims("CLM-MUE-UNITS", "34421-LT with 2 units", "MUE exceeded (1 unit per day, MAI 3); bilateral "
             "is billed as one line with 50",
             [Claim(m, d, SURGEON_A, [_c34421(units="2", rules=("BILATERAL_FORMAT", "MUE_EXCEEDED"))],
                    us_date=True)])
    m, d = c.member(), c.date()
    c.claims("CLM-MUE-RT-LT", "34421-RT and 34421-LT as two lines, bilateral dx", "MUE / bilateral: "
             "bill one line with modifier 50",
             [Claim(m, d, SURGEON_B, [_c34421("RT", ("I82.413",)),
                                      _c34421("LT", ("I82.413",), rules=("BILATERAL_FORMAT", "MUE_EXCEEDED"))])])


def _diagnosis_and_global_cases(c: _Cases) -> None:
    m, d = c.member(), c.date()
    c.claims("CLM-DX-SIDE", "34421-RT with a left-side dx I82.412", "laterality conflict (RT vs left dx)",
             [Claim(m, d, SURGEON_C, [_c34421("RT", ("I82.412",), rules=("LATERALITY_CONFLICT",))])])
    m, d = c.member(), c.date()
    c.claims("CLM-DX-UNSUPPORTIVE", "34421-LT with only dx E11.9", "dx does not support 34421",
             [Claim(m, d, SURGEON_D, [_c34421(dx=("E11.9",), rules=(DX_NOT_SUPPORTING,))], us_date=True)])
    m, d = c.member(), c.date()
    c.claims("CLM-DX-INVALID", "34421-LT with dx I82.4 (a category, not a billable code)",
             "invalid / non-billable dx, so no diagnosis supports 34421 (the cell has a valid shape, so it is not "
             "rejected)",
             [Claim(m, d, SURGEON_A, [_c34421(dx=("I82.4",), rules=("DIAGNOSIS_INVALID", DX_NOT_SUPPORTING))])])
    m, d = c.member(), c.date()
    c.claims("CLM-GLOBAL-57", "E/M 99213 by the surgeon on the day of surgery without 57 (date written "
             "MM/DD/YYYY on the E/M claim, YYYY-MM-DD on the surgery claim)",
             "global period: E/M on the day of surgery needs 57",
             [Claim(m, d, SURGEON_B, [_c34421()]),
              Claim(m, d, SURGEON_B, [Line("99213", (), ("I82.412",), rules=("GLOBAL_PERIOD_EM",))], pos="11",
                    us_date=True)])
    m, d = c.member(), dt.date(2026, 10, 16) + dt.timedelta(days=c.variant)
    c.claims("CLM-GLOBAL-24", "E/M 99213 by the surgeon 30 days after 34421, no 24, same dx",
             "global period: E/M within 90 days needs 24 and an unrelated dx",
             [Claim(m, d, SURGEON_C, [_c34421()]),
              Claim(m, d + dt.timedelta(days=30), SURGEON_C,
                    [Line("99213", (), ("I82.412", "Z79.01"), rules=("GLOBAL_PERIOD_EM",))], pos="11")])


def _modifier_and_duplicate_cases(c: _Cases) -> None:
    m, d = c.member(), c.date()
    c.claims("CLM-MOD-62", "34421-LT with co-surgeon modifier 62", "co-surgeon: documentation required",
             [Claim(m, d, SURGEON_D, [_c34421(mods=("LT", "62"), rules=("MODIFIER_NOT_PAYABLE",))])])
    m, d = c.member(), c.date()
    c.claims("CLM-MOD-66", "34421-RT with team-surgery modifier 66", "team surgery never payable for 34421",
             [Claim(m, d, SURGEON_A, [_c34421("RT", ("I82.411",), mods=("66", "RT"), rules=("MODIFIER_NOT_PAYABLE",))],
                    us_date=True)])
    m, d = c.member(), c.date()
    c.claims("CLM-DUPLICATE", "the same 34421-LT line on two claims (same member, date, NPI, charge, dx)",
             "exact duplicate line (the second copy also takes the day over the MUE)",
             [Claim(m, d, SURGEON_B, [_c34421(dx=("I82.412", "I10"))]),
              Claim(m, d, SURGEON_B, [_c34421(dx=("I82.412", "I10"), rules=("DUPLICATE_LINE", "MUE_EXCEEDED"))])])


def _negative_controls(c: _Cases) -> None:
    """Correct billing: no finding on any line."""
    m, d = c.member(), c.date()
    c.claims("OK-NO-EDIT-PAIRS", "34421-LT with duplex 93970 and venography 75820 the same day",
             "no finding (no NCCI edit for these pairs)",
             [Claim(m, d, SURGEON_C, [_c34421(), Line("93970", ("26",), ("I82.412",)),
                                      Line("75820", ("26",), ("I82.412",))])])
    m, d = c.member(), c.date()
    c.claims("OK-EM-57", "E/M 99223-57 the day before 34421-RT (decision for surgery)", "no finding (57 present)",
             [Claim(m, d - dt.timedelta(days=1), SURGEON_D,
                    [Line("99223", ("57",), ("I82.411",)), Line("85025", (), ("I82.411",))]),
              Claim(m, d, SURGEON_D, [_c34421("RT", ("I82.411",))])])
    m, d = c.member(), dt.date(2026, 10, 9) + dt.timedelta(days=c.variant)
    c.claims("OK-EM-24", "E/M 99214-24 by the surgeon 35 days after 34421, unrelated dx",
             "no finding (24 and an unrelated dx)",
             [Claim(m, d, SURGEON_A, [_c34421()]),
              Claim(m, d + dt.timedelta(days=35), SURGEON_A, [Line("99214", ("24",), ("M17.11",))], pos="11",
                    us_date=True)])


def curated_cases(variant: int) -> list[Case]:
    """The coding and documentation cases of file variant 0 (the CSV) or 1 (the .xlsx), in file order."""
    cases = _Cases(variant)
    for add in (_clean_cases, _abdominal_approach_cases, _catheter_approach_cases, _upper_body_approach_cases,
                _site_cases, _incomplete_cases, _operative_note_cases, _pair_edit_cases,
                _diagnosis_and_global_cases, _modifier_and_duplicate_cases, _negative_controls):  # fmt: skip
        add(cases)
    return cases.cases


_OUTCOME_WORDS = {ROW_REJECTED: "row rejected (Rejected sheet)",
                  VALUE_IGNORED: "row audited without this value (Rejected sheet)"}  # fmt: skip


def bad_cases(variant: int) -> list[Case]:
    """Single-line office claims with one deliberately invalid or unusual cell each."""
    v = variant
    day = dt.date(2026, 11, 10) if v == 0 else dt.date(2026, 11, 11)
    members = iter([f"00{n:07d}" for n in (range(7710, 7730) if v == 0 else range(8810, 8830))])
    out: list[Case] = []

    def bad(tag: str, what: str, line: Line, column: str, outcome: str | None = ROW_REJECTED, *, pos: str = "11",
            accepted: str = "") -> None:  # fmt: skip
        line.rejected = Rejection(column, outcome) if outcome else None
        intended = _OUTCOME_WORDS[outcome] if outcome else accepted
        out.append(Case(tag, what, intended, [Claim(next(members), day, OFFICE_DOC, [line], pos)]))

    bad("BAD-DATE", "impossible service_date '" + ("2026-02-30", "02/30/2026")[v] + "'",
        Line("99213", (), ("I10",), service_date=("2026-02-30", "02/30/2026")[v]), "service_date")
    bad("BAD-UNITS-ZERO", "units '0'", Line("85025", (), ("D64.9",), units="0"), "units")
    bad("BAD-UNITS-TEXT", "units '" + ("x", "1.5")[v] + "'", Line("36415", (), ("E11.9",), units=("x", "1.5")[v]),
        "units")
    bad("BAD-PROCEDURE-EMPTY", "empty procedure_code", Line(None, (), ("I10",), charge="135.00"), "procedure_code")
    bad("BAD-NPI", "rendering_npi with a wrong check digit",
        Line("99214", (), ("E11.9", "I10"), npi=OFFICE_DOC[:9] + str((int(OFFICE_DOC[9]) + 3) % 10)),
        "rendering_npi", VALUE_IGNORED)
    bad("BAD-DX", "malformed dx_1 '" + ("IB2.412", "82.411")[v] + "'",
        Line("93970", (), (("IB2.412", "82.411")[v],)), "dx_1", VALUE_IGNORED, pos="22")
    bad("BAD-MODIFIER", "modifier_1 '" + ("RTT", "591")[v] + "' (3 characters) on a 34421 line",
        Line("34421", (("RTT", "591")[v],), ("I82.411",), "Right groin incision", "Right common femoral vein"),
        "modifier_1", VALUE_IGNORED, pos="21")
    bad("BAD-CHARGE", "charge_amount '" + ("$1,250.00", "12,50")[v] + "'",
        Line("99213", (), ("I10",), charge=("$1,250.00", "12,50")[v]), "charge_amount", (None, VALUE_IGNORED)[v],
        accepted="accepted: a currency sign and thousands separators are read")
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
        modifier_1=pl.when(is34421 | pl.col("modifier_1").is_in(["62", "66", "80", "82", "AS"]))
        .then(pl.lit(None, pl.String))
        .otherwise(pl.col("modifier_1")),
        charge_amount=pl.when(is34421).then(pl.lit(sample.charge_text("99232"))).otherwise(pl.col("charge_amount")),
        **{c: pl.lit(None, pl.String) for c in ("modifier_2", "modifier_3", "modifier_4")},
        **{
            c: pl.when(is34421).then(pl.lit(None, pl.String)).otherwise(pl.col(c))
            for c in ("documented_approach", "documented_site", "op_note")
        },
    )  # fmt: skip


def _claim_frame(claim: Claim, tag: str) -> pl.DataFrame:
    rows = []
    for number, line in enumerate(claim.lines, start=1):
        dx = [code if claim.dotted else code.replace(".", "") for code in line.dx]
        mods = list(line.mods)
        units = int(line.units) if line.units.isdigit() else 1
        rows.append({
            "claim_id": claim.claim_id,
            "line_number": str(number),
            "member_id": claim.member,
            "service_date": line.service_date or claim.date.strftime("%m/%d/%Y" if claim.us_date else "%Y-%m-%d"),
            "procedure_code": line.code,
            "units": line.units,
            **{f"modifier_{k}": (mods[k - 1] if k <= len(mods) else None) for k in range(1, 5)},
            "rendering_npi": line.npi or claim.npi,
            "place_of_service": claim.pos,
            "charge_amount": line.charge or sample.charge_text(line.code, units),
            **{f"dx_{k}": (dx[k - 1] if k <= len(dx) else None) for k in range(1, 13)},
            "documented_approach": line.approach,
            "documented_site": line.site,
            "op_note": line.note,
            "_tag": tag,
        })  # fmt: skip
    return pl.DataFrame(rows, schema={**{c: pl.String for c in sample.COLUMNS}, "_tag": pl.String})


@dataclass
class SampleFile:
    """One built extract: its rows (with a ``_tag`` column naming the case of each curated line) and cases."""

    name: str
    frame: pl.DataFrame
    cases: list[Case]


def build(variant: int) -> SampleFile:
    """The extract of file variant 0 (the CSV) or 1 (the .xlsx): background and curated claims interleaved."""
    extract = (dt.date(2026, 11, 20), dt.date(2026, 11, 21))[variant]
    seed = (20261120, 20261121)[variant]
    base = background(228, seed, extract).with_columns(_tag=pl.lit(None, pl.String))
    cases = curated_cases(variant) + bad_cases(variant)
    tagged = [(case.tag, claim) for case in cases for claim in case.claims]
    for k, (_, claim) in enumerate(tagged, start=1):
        claim.claim_id = f"C{extract:%y%m%d}{variant + 7}{k:04d}"
    if {claim.member for _, claim in tagged} & set(base["member_id"]):
        raise AssertionError("a curated member collides with the background")
    if CURATED_NPIS & set(base["rendering_npi"].drop_nulls()):
        raise AssertionError("a curated NPI collides with the background")

    # interleave: curated claim k goes after background claim ((k + 1) * n_base) // (n_curated + 1)
    base_claims = base.partition_by("claim_id", maintain_order=True)
    slots: dict[int, list[pl.DataFrame]] = {}
    for k, (tag, claim) in enumerate(tagged):
        slots.setdefault(((k + 1) * len(base_claims)) // (len(tagged) + 1), []).append(_claim_frame(claim, tag))
    parts: list[pl.DataFrame] = []
    for position, frame in enumerate(base_claims):
        parts.append(frame)
        parts.extend(slots.get(position, []))
    parts.extend(slots.get(len(base_claims), []))
    frame = pl.concat(parts, how="vertical")
    if frame["claim_id"].n_unique() != len(base_claims) + len(tagged):
        raise AssertionError("claim ids of the sample are not unique")
    return SampleFile((CSV_NAME, XLSX_NAME)[variant], frame, cases)


# --------------------------------------------------------------------------------------------------------
# the machine-readable case list and the README rendered from it
# --------------------------------------------------------------------------------------------------------


def _case_lines(sample_file: SampleFile) -> Iterator[tuple[Case, dict[str, Any]]]:
    """Every curated line of a file with its spreadsheet row (header = row 1) and what it must get."""
    located = (
        sample_file.frame.with_row_index("row", offset=2)
        .filter(pl.col("_tag").is_not_null())
        .select("row", "claim_id", "line_number", "procedure_code")
        .iter_rows()
    )
    for case in sample_file.cases:
        for claim in case.claims:
            for number, line in enumerate(claim.lines, start=1):
                row, claim_id, line_number, code = next(located)
                if (claim_id, line_number) != (claim.claim_id, str(number)):
                    raise AssertionError(f"curated line {claim.claim_id}/{number} is not where it was placed")
                entry: dict[str, Any] = {"row": int(row), "claim_id": claim_id, "line": number,
                                         "procedure_code": code, "rules": sorted(line.rules)}  # fmt: skip
                if line.rejected is not None:
                    entry["rejected"] = {"column": line.rejected.column, "outcome": line.rejected.outcome}
                yield case, entry


def _file_expectations(sample_file: SampleFile) -> dict[str, Any]:
    cases: dict[str, dict[str, Any]] = {}
    for case, entry in _case_lines(sample_file):
        listed = cases.setdefault(case.tag, {"case": case.tag, "what": case.what, "intended": case.intended,
                                             "lines": []})  # fmt: skip
        listed["lines"].append(entry)
    rejected_rows = [line["row"] for case in cases.values() for line in case["lines"]
                     if line.get("rejected", {}).get("outcome") == ROW_REJECTED]  # fmt: skip
    frame = sample_file.frame.with_row_index("row", offset=2)
    audited_34421 = frame.filter((pl.col("procedure_code") == "34421") & ~pl.col("row").is_in(rejected_rows))
    return {
        "file": sample_file.name,
        "rows": frame.height,
        "claims": frame["claim_id"].n_unique(),
        "lines_34421": audited_34421.height,
        "cases": list(cases.values()),
    }


def expectations(files: list[SampleFile]) -> dict[str, Any]:
    """What auditing the sample folder must report: the totals, and per file every curated line with the
    rule ids it must get (and the Rejected row of each bad cell). Background lines must get no finding."""
    listed = [_file_expectations(f) for f in files]
    lines = [line for f in listed for case in f["cases"] for line in case["lines"]]
    rows_read = sum(f["rows"] for f in listed)
    rows_rejected = sum(1 for line in lines if line.get("rejected", {}).get("outcome") == ROW_REJECTED)
    totals = {
        "rows_read": rows_read,
        "rows_audited": rows_read - rows_rejected,
        "rows_rejected": rows_rejected,
        "lines_34421": sum(f["lines_34421"] for f in listed),
        "findings": sum(len(line["rules"]) for line in lines),
    }
    return {"totals": totals, "files": listed}


class _OneLine(dict):
    """A mapping written on one line of the case list (a curated line: row, claim, line, rule ids)."""


class _CasesDumper(yaml.SafeDumper):
    pass


_CasesDumper.add_representer(
    _OneLine, lambda dumper, data: dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)
)


def cases_yaml(expected: dict[str, Any]) -> str:
    """The case list: :func:`expectations` as YAML, one curated line per line."""
    header = (
        "# The curated sample cases and what the audit must report on each of their lines (rows are\n"
        "# spreadsheet rows, the header is row 1; every line not listed must get no finding).\n"
        f"# Generated with the extracts by `{GENERATOR}`; do not edit by hand.\n"
        "# tests/test_sample_cases.py audits sample_claims/ against it.\n"
    )
    files = [{**f, "cases": [{**case, "lines": [_OneLine(line) for line in case["lines"]]} for case in f["cases"]]}
             for f in expected["files"]]  # fmt: skip
    body = yaml.dump({**expected, "files": files}, Dumper=_CasesDumper, sort_keys=False, allow_unicode=True,
                     width=160, default_flow_style=False)  # fmt: skip
    return header + body


def _expected_words(case: dict[str, Any]) -> str:
    """The README cell of a case's expected rule ids (or Rejected rows); 'none' for a clean case."""
    parts = []
    for line in case["lines"]:
        words = ", ".join(line["rules"])
        if "rejected" in line:
            kind = "rejected" if line["rejected"]["outcome"] == ROW_REJECTED else "value ignored"
            words = f"{kind}: {line['rejected']['column']}"
        if words:
            parts.append(words if len(case["lines"]) == 1 else f"row {line['row']}: {words}")
    return "; ".join(parts) or "none"


_README_HEAD = [
    "# Sample claim extracts (synthetic)",
    "",
    "**All data in this folder is synthetic.** Members, claims, dates, charges, notes and NPIs are "
    "invented; the NPIs carry a valid check digit but belong to no one. Diagnosis and procedure codes "
    "are real code values used as labels only.",
    "",
    f"This file is generated by `{GENERATOR}` (`src/claims_audit/sample_cases.py`) together with the "
    f"extracts and the case list `{CASES_PATH}`; regenerate everything, from the repository root, with",
    "",
    "```",
    GENERATOR,
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
    "the case was built to show, per `docs/design.md` and the domain notes. The *expected rule ids* column "
    f"is what the audit must report on the case's lines, no more and no fewer; `{CASES_PATH}` holds the "
    "same list with claim ids and line numbers (outside this folder, which is audited as a whole), and "
    "`tests/test_sample_cases.py` audits this folder and checks every entry, the totals and that no other "
    "line gets a finding.",
    "",
    f"Curated NPIs: surgeons A `{SURGEON_A}`, B `{SURGEON_B}`, C `{SURGEON_C}`, D `{SURGEON_D}`; "
    f"office `{OFFICE_DOC}`.",
]

_README_TAIL = [
    "",
    "Rows not listed are background lines: office, hospital and ASC claims with E/M, labs, imaging, "
    "HCPCS, Category II and other vascular / surgical codes. They are valid and meant to raise no "
    "finding (no 34421, no assistant / co-surgeon / second modifiers, members and NPIs of their own); a "
    "finding on an unlisted row is either a rule added after these files or a defect.",
    "",
]


def readme(expected: dict[str, Any]) -> str:
    """The sample folder's README, its case tables rendered from :func:`expectations`."""
    totals = expected["totals"]
    parts = [
        *_README_HEAD,
        "",
        f"Auditing the folder reads {totals['rows_read']} rows, audits {totals['rows_audited']} and rejects "
        f"{totals['rows_rejected']}; {totals['lines_34421']} lines with 34421, {totals['findings']} findings.",
    ]
    for listed in expected["files"]:
        bad = sum(len(case["lines"]) for case in listed["cases"] if case["case"].startswith("BAD-"))
        parts += [
            "",
            f"## `{listed['file']}`",
            "",
            f"{listed['rows']} data rows, {listed['claims']} claims, {listed['lines_34421']} lines with 34421 (all "
            f"curated), {bad} deliberately bad or unusual cells.",
            "",
            "| case | rows | what | intended finding | expected rule ids |",
            "|---|---|---|---|---|",
        ]
        for case in listed["cases"]:
            rows = ", ".join(str(line["row"]) for line in case["lines"])
            parts.append(f"| `{case['case']}` | {rows} | {case['what']} | {case['intended']} | "
                         f"{_expected_words(case)} |")  # fmt: skip
    return "\n".join(parts + _README_TAIL)


# --------------------------------------------------------------------------------------------------------
# write
# --------------------------------------------------------------------------------------------------------


def write_samples(out: Path, cases: Path = CASES_PATH) -> list[SampleFile]:
    """Build both extracts and write them and the README into ``out``, the case list to ``cases``."""
    files = [build(variant) for variant in (0, 1)]
    for sample_file in files:
        sample.write(sample_file.frame.drop("_tag"), out / sample_file.name)
    expected = expectations(files)
    cases.parent.mkdir(parents=True, exist_ok=True)
    cases.write_text(cases_yaml(expected), encoding="utf-8")
    (out / README_NAME).write_text(readme(expected), encoding="utf-8")
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=GENERATOR, description="Build the curated sample extracts (synthetic).")
    parser.add_argument("--out", type=Path, default=Path("sample_claims"),
                        help="folder of the extracts and their README (default: sample_claims)")  # fmt: skip
    parser.add_argument("--cases", type=Path, default=CASES_PATH, help=f"the case list (default: {CASES_PATH})")
    args = parser.parse_args(argv)
    for sample_file in write_samples(args.out, args.cases):
        print(f"{sample_file.name}: {sample_file.frame.height} rows, {len(sample_file.cases)} cases")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
