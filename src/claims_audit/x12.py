"""Reading X12 837 claim files (5010 837P 005010X222A2 and 837I 005010X223A3) as one text row per service
line (loop 2400), under the canonical column names, for the same validation and rules as any extract.

The transactions are parsed with ``x12sdk`` (typed pydantic models of the 5010 implementation guides).
Three things are handled around it, because the parser does not do them:

* Segment positions. ``source_row`` of an 837 row is the position of its LX segment in the file, counting
  segments from 1 = the ISA segment, so a person can find the line (the parser discards positions). The
  file is split into segments here; the parser is fed segment by segment.
* The component separator. ISA16 declares it, but some files declare ``:`` and write ``>`` inside their
  composites (SV1, SV2, HI, CLM05). The separator the composites really use is found here and handed to
  the parser instead of the declared one.
* Claim-level rejection. The parser validates a whole transaction (ST..SE) at once: one claim with wrong
  totals would fail all of them. A transaction that fails is parsed again claim by claim, each claim with
  its own header, billing provider and subscriber context, so only the claims the parser rejects lose
  their lines (each line rejected with the parser's reason and the CLM segment's position).

Envelope errors (a malformed ISA, IEA/GE/SE counts or control numbers that do not match) and versions other
than 5010 reject the whole file, naming the version.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from .errors import FileRejected

EXTENSIONS = {".837", ".837p", ".837i", ".x12", ".edi"}
# implementation guides read (GS08, else ST03), by their prefix: the errata A1/A2/A3 are the same layout
SUPPORTED = {"005010X222": "837P", "005010X223": "837I"}
ICD10_QUALIFIERS = {"ABK": "principal", "ABJ": "admitting", "ABF": "other"}
ICD9_QUALIFIERS = {"BK": "principal", "BJ": "admitting", "BF": "other"}
MAX_DX = 12
COLUMNS = [
    "claim_id", "line_number", "member_id", "service_date", "procedure_code",
    "modifier_1", "modifier_2", "modifier_3", "modifier_4", "units", "charge_amount", "place_of_service",
    "rendering_npi", *[f"dx_{i}" for i in range(1, MAX_DX + 1)], *[f"icd9_dx_{i}" for i in range(1, MAX_DX + 1)],
    "claim_frequency", "original_claim_id", "op_note", "revenue_code", "bill_type",
]
_SEPARATOR_CANDIDATES = ":>^|\\!~+"


def looks_like_x12(head: bytes) -> bool:
    """An X12 interchange starts with its ISA segment (after an optional byte-order mark or blank space)."""
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    return len(text) >= 4 and text[:3].upper() == b"ISA" and not text[3:4].isalnum()


@dataclass(frozen=True)
class Segment:
    position: int  # 1 = the ISA segment
    name: str
    elements: list[str]  # element 0 is the segment name


@dataclass
class Delimiters:
    element: str
    repetition: str
    component: str
    segment: str
    declared_component: str


@dataclass
class X12Table:
    """What reading an 837 file gives the readers: canonical text rows and the lines it had to reject."""

    rows: dict[str, list[str | None]]  # COLUMNS -> one value per service line
    source_rows: list[int]  # LX position of each row
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (LX or CLM position, reason)
    sha256: str | None = None


# --- segments and envelope --------------------------------------------------------------------------


def _delimiters(text: str) -> Delimiters:
    if len(text) < 106 or text[:3].upper() != "ISA":
        raise FileRejected("X12 envelope error: the file does not start with a complete ISA segment "
                           "(106 characters)")
    element = text[3]
    isa = text[:106].split(element)
    if len(isa) != 17:
        raise FileRejected(f"X12 envelope error: the ISA segment has {len(isa) - 1} elements, 16 expected")
    segment, component = text[105], text[104]
    if segment.isalnum() or component.isalnum() or len({element, segment, component}) < 3:
        raise FileRejected("X12 envelope error: ISA delimiters are missing or not distinct (element "
                           "separator, ISA16 component separator, segment terminator)")
    repetition = isa[11] if len(isa[11]) == 1 and not isa[11].isalnum() else "^"
    return Delimiters(element, repetition, component, segment, component)


def split_segments(text: str) -> tuple[Delimiters, list[Segment]]:
    """Every segment with its position (ISA = 1). Line breaks between segments are ignored."""
    delims = _delimiters(text)
    segments: list[Segment] = []
    for raw in text.split(delims.segment):
        raw = raw.strip("\r\n")
        if not raw.strip():
            continue
        elements = raw.split(delims.element)
        name = elements[0].strip().upper()
        elements[0] = name
        segments.append(Segment(len(segments) + 1, name, elements))
    return delims, segments


def _effective_component(delims: Delimiters, segments: list[Segment]) -> str | None:
    """The component separator the composites really use, when it is not the one ISA16 declares.

    A composite starts with a qualifier (HC, BK, ABK...) or a facility code: the first character after it
    that is no letter or digit is its separator. When the declared separator never appears there and one
    other candidate does, that one is used (returned); otherwise None (the declared one stands).
    """
    seen: dict[str, int] = {}
    for seg in segments:
        if seg.name == "SV1":
            values = seg.elements[1:2]
        elif seg.name == "SV2":
            values = seg.elements[2:3]
        elif seg.name == "HI":
            values = seg.elements[1:]
        elif seg.name == "CLM":
            values = seg.elements[5:6]
        else:
            continue
        for v in values:
            sep = next((ch for ch in v if not ch.isalnum() and ch != " "), None)
            if sep is not None and sep in _SEPARATOR_CANDIDATES and sep != delims.element:
                seen[sep] = seen.get(sep, 0) + 1
    if not seen or delims.component in seen:
        return None
    return max(seen, key=lambda s: seen[s]) if len(seen) == 1 else None


@dataclass
class Transaction:
    version: str
    kind: str  # 837P | 837I
    segments: list[Segment]  # ST..SE


def _envelope(segments: list[Segment]) -> Iterator[Transaction]:
    """The transactions of the interchange, after checking its envelope (counts and control numbers)."""
    isa = segments[0]
    version = isa.elements[12].strip() if len(isa.elements) > 12 else ""
    if segments[-1].name != "IEA":
        raise FileRejected("X12 envelope error: the interchange has no IEA trailer (file cut off?)")
    groups = [s for s in segments if s.name == "GS"]
    iea = segments[-1]
    if _element(iea, 1) != str(len(groups)) and _int(_element(iea, 1)) != len(groups):
        raise FileRejected(f"X12 envelope error: IEA01 counts {_element(iea, 1) or 'no'} functional groups, "
                           f"the file holds {len(groups)}")
    if _element(iea, 2).strip() != isa.elements[13].strip():
        raise FileRejected("X12 envelope error: IEA02 does not repeat the ISA13 control number")
    if version not in ("00501",):
        raise _unsupported(_group_version(segments) or f"ISA12 {version or '(blank)'}")
    yield from _transactions(segments)


def _unsupported(version: str) -> FileRejected:
    return FileRejected(f"X12 version {version} is not supported: claims-audit reads 5010 837 files (837P "
                        "005010X222A2, 837I 005010X223A3); convert 4010 files to 5010 first")


def _group_version(segments: list[Segment]) -> str:
    gs = next((s for s in segments if s.name == "GS"), None)
    return _element(gs, 8).strip() if gs is not None else ""


def _transactions(segments: list[Segment]) -> Iterator[Transaction]:
    group_version, group_count, gs = "", 0, None
    current: list[Segment] | None = None
    for seg in segments[1:-1]:
        if seg.name == "GS":
            gs, group_version, group_count = seg, _element(seg, 8).strip(), 0
        elif seg.name == "GE":
            if gs is None:
                raise FileRejected(f"X12 envelope error: GE at segment {seg.position} without a GS")
            if _int(_element(seg, 1)) != group_count:
                raise FileRejected(f"X12 envelope error: GE01 at segment {seg.position} counts "
                                   f"{_element(seg, 1) or 'no'} transactions, the group holds {group_count}")
            if _element(seg, 2).strip() != _element(gs, 6).strip():
                raise FileRejected(f"X12 envelope error: GE02 at segment {seg.position} does not repeat GS06")
            gs = None
        elif seg.name == "ST":
            current = [seg]
        elif current is not None:
            current.append(seg)
            if seg.name == "SE":
                group_count += 1
                yield _transaction(current, group_version)
                current = None
        elif seg.name not in ("IEA",):
            raise FileRejected(f"X12 envelope error: segment {seg.position} ({seg.name}) is outside any "
                               "transaction (ST..SE)")
    if current is not None or gs is not None:
        raise FileRejected("X12 envelope error: a transaction (ST) or group (GS) is not closed (SE, GE)")


def _transaction(segs: list[Segment], group_version: str) -> Transaction:
    st, se = segs[0], segs[-1]
    version = group_version or _element(st, 3).strip()
    if _element(st, 1) != "837":
        raise FileRejected(f"X12 transaction set {_element(st, 1) or '(blank)'} at segment {st.position} is not "
                           "an 837 claim")
    kind = next((k for prefix, k in SUPPORTED.items() if version.startswith(prefix)), None)
    if kind is None:
        raise _unsupported(version or "(blank)")
    if _int(_element(se, 1)) != len(segs):
        raise FileRejected(f"X12 envelope error: SE01 at segment {se.position} counts {_element(se, 1) or 'no'} "
                           f"segments, the transaction holds {len(segs)}")
    if _element(se, 2).strip() != _element(st, 2).strip():
        raise FileRejected(f"X12 envelope error: SE02 at segment {se.position} does not repeat ST02")
    return Transaction(version, kind, segs)


def _element(seg: Segment | None, i: int) -> str:
    return seg.elements[i] if seg is not None and len(seg.elements) > i else ""


def _int(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


# --- claims inside a transaction ----------------------------------------------------------------------


@dataclass
class ClaimBlock:
    """The segments of one claim (CLM up to the next CLM, HL or SE) and the context it needs to parse
    alone: the transaction header and the billing provider / subscriber / patient HL loops above it."""

    clm: Segment
    segments: list[Segment]
    context: list[Segment]
    lx_positions: list[int]


def claim_blocks(tx: Transaction) -> tuple[list[Segment], list[ClaimBlock]]:
    """(header segments before the first HL, the claims in document order with their HL context)."""
    header: list[Segment] = []
    levels: dict[str, list[Segment]] = {}
    current_level: str | None = None
    blocks: list[ClaimBlock] = []
    claim: ClaimBlock | None = None
    for seg in tx.segments[1:-1]:
        if seg.name == "HL":
            claim = None
            current_level = _element(seg, 3).strip()
            if current_level == "20":
                levels = {"20": [seg]}
            elif current_level == "22":
                levels = {"20": levels.get("20", []), "22": [seg]}
            else:
                levels[current_level] = [seg]
        elif seg.name == "CLM":
            context = [s for lvl in ("20", "22", "23") for s in levels.get(lvl, [])
                       if lvl != "23" or current_level == "23"]
            claim = ClaimBlock(seg, [seg], context, [])
            blocks.append(claim)
        elif claim is not None:
            claim.segments.append(seg)
            if seg.name == "LX":
                claim.lx_positions.append(seg.position)
        elif current_level is None:
            header.append(seg)
        else:
            levels[current_level].append(seg)
    return header, blocks


def _parser(tx: Transaction, delims: Delimiters) -> Any:
    from x12sdk.models import X12Delimiters
    from x12sdk.parsing import create_parser

    parser = create_parser("837", tx.version, X12Delimiters(
        element_separator=delims.element, repetition_separator=delims.repetition,
        segment_terminator=delims.segment, component_separator=delims.component))
    # x12sdk works out each segment's field names and multi-value fields from its pydantic model on every
    # segment; they depend only on the segment name (and this parser's fixed delimiters): remember them.
    # A third of the parsing time on a large file.
    parser._get_segment_field_names = functools.lru_cache(maxsize=None)(parser._get_segment_field_names)
    parser._get_multivalue_fields = functools.lru_cache(maxsize=None)(parser._get_multivalue_fields)
    return parser


def _parse(segments: list[Segment], tx: Transaction, delims: Delimiters) -> Any:
    """The x12sdk transaction model of these segments (ST first, SE last)."""
    parser = _parser(tx, delims)
    model = None
    for seg in segments:
        model = parser.parse(seg.name, list(seg.elements)) or model
    if model is None:
        raise ValueError("the transaction did not produce a model")
    return model


def _reason(exc: Exception) -> str:
    """The parser's complaint without the claim values pydantic quotes back (input_value)."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            parts = []
            for e in errors(include_input=False, include_url=False)[:3]:
                where = " > ".join(str(p) for p in e.get("loc", ()) if isinstance(p, str)
                                   and not p.startswith(("loop_2000", "loop_1000")))
                parts.append(f"{where}: {e.get('msg', '')}" if where else str(e.get("msg", "")))
            more = len(errors()) - 3
            return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
        except Exception:  # never let the reason itself fail the file
            pass
    if isinstance(exc, KeyError):
        return f"unsupported segment {exc.args[0] if exc.args else ''}".strip()
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__


def transaction_claims(tx: Transaction, delims: Delimiters) -> Iterator[tuple[ClaimBlock, Any, Any, str | None]]:
    """(claim block, its x12sdk 2300 loop or None, its context dict, reason when rejected) per claim."""
    header, blocks = claim_blocks(tx)
    try:
        model = _parse(tx.segments, tx, delims)
        parsed = list(model_claims(model))
    except Exception:  # noqa: BLE001 - any parser failure: fall back to claim by claim
        parsed = None
    if parsed is not None and _aligned(parsed, blocks):
        for block, (claim, ctx) in zip(blocks, parsed):
            yield block, claim, ctx, None
        return
    st, se = tx.segments[0], tx.segments[-1]
    for block in blocks:
        segs = [st, *header, *block.context, *block.segments]
        count = str(len(segs) + 1)
        segs.append(Segment(se.position, "SE", ["SE", count, *se.elements[2:]]))
        try:
            one = list(model_claims(_parse(segs, tx, delims)))
        except Exception as exc:  # noqa: BLE001 - the parser's verdict on this claim alone
            yield block, None, None, _reason(exc)
            continue
        if not _aligned(one, [block]):
            yield block, None, None, "the parsed claim does not match its segments (CLM01 or LX count differ)"
            continue
        yield block, one[0][0], one[0][1], None


def _aligned(parsed: list[tuple[Any, dict]], blocks: list[ClaimBlock]) -> bool:
    """The parser's claims are the claim blocks found here, in the same order (so LX positions fit)."""
    if len(parsed) != len(blocks):
        return False
    return all(claim.clm_segment.patient_control_number == _element(block.clm, 1)
               and len(claim.loop_2400) == len(block.lx_positions)
               for (claim, _), block in zip(parsed, blocks))


def model_claims(model: Any) -> Iterator[tuple[Any, dict]]:
    """Every 2300 claim loop of a transaction model in document order, with who it is for."""
    for billing in model.loop_2000a:
        billing_npi = _npi(billing.loop_2010aa.nm1_segment)
        for sub in billing.loop_2000b:
            subscriber_id = sub.loop_2010ba.nm1_segment.identification_code
            base = {"billing_npi": billing_npi, "member_id": subscriber_id}
            for claim in sub.loop_2300 or []:
                yield claim, base
            for patient in sub.loop_2000c or []:
                key = dependent_key(subscriber_id, patient.loop_2010ca)
                for claim in patient.loop_2300 or []:
                    yield claim, {**base, "member_id": key}


def dependent_key(subscriber_id: str | None, patient_loop: Any) -> str:
    """A stable member key for a dependent patient (loop 2000C, who has no member id of their own in a
    5010 837): the subscriber id, '~', and the first 12 hex digits of SHA-256 over the patient's last
    name, first name and birth date (upper case, '|'-separated, date as YYYYMMDD). The same dependent gets
    the same key in every file; the name is not repeated in the output."""
    nm1 = patient_loop.nm1_segment
    dmg = getattr(patient_loop, "dmg_segment", None)
    born = getattr(dmg, "date_time_period", None) if dmg is not None else None
    born_text = born.strftime("%Y%m%d") if isinstance(born, (dt.date, dt.datetime)) else str(born or "")
    parts = [(nm1.name_last_or_organization_name or "").strip().upper(), (nm1.name_first or "").strip().upper(),
             born_text]
    digest = hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:12]
    return f"{subscriber_id or ''}~{digest}"


def _npi(nm1: Any) -> str | None:
    if nm1 is None or getattr(nm1, "identification_code_qualifier", None) != "XX":
        return None
    return nm1.identification_code


def _rendering(holder: Any, prefix: str) -> str | None:
    """The NPI of the NM1*82 (rendering provider) among `holder`'s loops named prefix* (2310x, 2420x)."""
    for name in type(holder).model_fields:
        if name.startswith(prefix):
            loop = getattr(holder, name)
            nm1 = getattr(loop, "nm1_segment", None)
            if nm1 is not None and getattr(nm1, "entity_identifier_code", None) == "82":
                return _npi(nm1)
    return None


# --- one row per service line -------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if hasattr(value, "value") and not isinstance(value, str):  # an Enum member
        value = value.value
    text = str(value).strip()
    return text or None


def _decimal_text(value: Decimal) -> str:
    """Whole quantities without their '.00' (units must be whole), others as written."""
    try:
        if value == value.to_integral_value():
            return str(int(value))
    except (InvalidOperation, ValueError, OverflowError):
        pass
    return format(value, "f")


def _date_text(value: Any) -> str | None:
    """A DTP date (D8) as YYYY-MM-DD; a range (RD8) gives its first day."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = _text(value)
    if text is None:
        return None
    first = text.split("-")[0]
    if len(first) == 8 and first.isdigit():
        return f"{first[:4]}-{first[4:6]}-{first[6:]}"
    return text


def _dtp(segments: Any, qualifiers: tuple[str, ...]) -> str | None:
    if segments is None:
        return None
    items = segments if isinstance(segments, list) else [segments]
    for q in qualifiers:
        for d in items:
            if d is not None and getattr(d, "date_time_qualifier", None) == q:
                return _date_text(d.date_time_period)
    return None


def _notes(segments: Any) -> list[str]:
    if segments is None:
        return []
    items = segments if isinstance(segments, list) else [segments]
    return [n.description for n in items if n is not None and getattr(n, "description", None)]


def _diagnoses(claim: Any) -> tuple[list[str], list[str]]:
    """(ICD-10-CM codes, ICD-9-CM codes) of the claim's HI segments: the principal first, then the
    admitting and other diagnoses in the order written. Other HI qualifiers (occurrence codes, value codes,
    condition codes, procedures) are not diagnoses and are skipped."""
    icd10: list[tuple[int, str]] = []
    icd9: list[tuple[int, str]] = []
    order = 0
    for hi in claim.hi_segment or []:
        for n in range(1, 25):
            comp = getattr(hi, f"health_care_code_{n}", None)
            if not comp or len(comp) < 2 or not comp[1]:
                continue
            qualifier, code = comp[0].strip().upper(), comp[1].strip()
            order += 1
            rank = 0 if qualifier in ("ABK", "BK") else order
            if qualifier in ICD10_QUALIFIERS:
                icd10.append((rank, code))
            elif qualifier in ICD9_QUALIFIERS:
                icd9.append((rank, code))
    return [c for _, c in sorted(icd10)], [c for _, c in sorted(icd9)]


def _reference(claim: Any, qualifier: str) -> str | None:
    for ref in claim.ref_segment or []:
        if ref is not None and ref.reference_identification_qualifier == qualifier:
            return ref.reference_identification
    return None


def claim_rows(claim: Any, ctx: dict, kind: str, component: str) -> Iterator[dict[str, str | None]]:
    """The canonical text values of each service line of one parsed claim."""
    clm = claim.clm_segment
    facility = (clm.health_care_service_location_information or "").split(component)
    facility_code = facility[0].strip() if facility else ""
    frequency = facility[2].strip() if len(facility) > 2 else ""
    icd10, icd9 = _diagnoses(claim)
    claim_date = _dtp(claim.dtp_segment, ("472", "434"))
    claim_npi = _rendering(claim, "loop_2310")
    claim_notes = _notes(claim.nte_segment)
    base: dict[str, str | None] = {
        "claim_id": _text(clm.patient_control_number), "member_id": _text(ctx["member_id"]),
        "claim_frequency": frequency or None, "original_claim_id": _text(_reference(claim, "F8")),
        **{f"dx_{i + 1}": c for i, c in enumerate(icd10[:MAX_DX])},
        **{f"icd9_dx_{i + 1}": c for i, c in enumerate(icd9[:MAX_DX])},
    }
    if kind == "837I":
        base["bill_type"] = (facility_code + frequency) or None
    for line in claim.loop_2400:
        service = line.sv1_segment if kind == "837P" else line.sv2_segment
        composite = (service.product_service_id_qualifier if kind == "837P"
                     else service.composite_medical_procedure_identifier) or ""
        parts = [p.strip() for p in composite.split(component)]
        row = dict(base)
        row.update({
            "line_number": _text(line.lx_segment.assigned_number),
            "service_date": _dtp(line.dtp_segment, ("472",)) or claim_date,
            "procedure_code": parts[1] if len(parts) > 1 and parts[1] else None,
            **{f"modifier_{i}": (parts[i + 1] or None) if len(parts) > i + 1 else None for i in range(1, 5)},
            "units": _text(service.service_unit_count),
            "charge_amount": _text(service.line_item_charge_amount),
            "rendering_npi": _rendering(line, "loop_2420") or claim_npi or ctx["billing_npi"],
            "op_note": "\n".join(claim_notes + _notes(getattr(line, "nte_segment", None))) or None,
        })
        if kind == "837P":
            row["place_of_service"] = _text(service.place_of_service_code) or facility_code or None
        else:
            row["revenue_code"] = _text(service.service_line_revenue_code)
        yield row


# --- the whole file -----------------------------------------------------------------------------------


def read_837(path: Path) -> X12Table:
    """Read an 837 file. Raises FileRejected (with the number of service lines it holds) for envelope
    errors and unsupported versions; claims the parser rejects come back as rejected lines."""
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    text = data.decode("utf-8", errors="replace").lstrip("\ufeff").lstrip()
    delims, segments = split_segments(text)
    lines_in_file = sum(1 for s in segments if s.name == "LX")
    try:
        effective = _effective_component(delims, segments)
        if effective:
            delims.component = effective
        transactions = list(_envelope(segments))
    except FileRejected as exc:
        raise FileRejected(exc.reason, rows=lines_in_file) from None
    table = X12Table({c: [] for c in COLUMNS}, [], sha256=digest)
    for tx in transactions:
        for block, claim, ctx, reason in transaction_claims(tx, delims):
            if claim is None:
                _reject_claim(table, block, reason or "rejected by the parser")
                continue
            for position, row in zip(block.lx_positions, claim_rows(claim, ctx, tx.kind, delims.component)):
                table.source_rows.append(position)
                for c in COLUMNS:
                    table.rows[c].append(row.get(c))
    return table


def _reject_claim(table: X12Table, block: ClaimBlock, reason: str) -> None:
    """Every service line of a claim the parser rejected, at its LX position (a claim without any LX is
    one rejected row at its CLM position: it has no line to audit, and it must not vanish)."""
    problem = (f"claim rejected by the X12 837 parser (CLM at segment {block.clm.position}): {reason}")
    for position in block.lx_positions or [block.clm.position]:
        table.rejected.append((position, problem))
