"""Why a 34421 line's documentation reads the way it does: the concepts, evidence, negations and findings.

``claims-audit explain --approach TEXT --site TEXT [--note TEXT]`` is a thin wrapper over
:func:`explain` and :func:`render`. An analyst uses it to see why a line was flagged and to test a
vocabulary change (edit a file under ``data/documentation/`` and run it again: the rule-set version
printed at the top changes with the data).

Everything shown comes from the same code path as the nightly run (``documentation.classify_texts`` and
``rules.documentation.apply``) on a one-line frame; nothing here is a second implementation of the rules,
except :func:`negations`, which retraces the cleaning steps to list what they removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from . import documentation as doc
from .rules import documentation as doc_rules
from .rules import rules_version

FIELD_NAMES = {doc.APPROACH_FIELD: "approach field", doc.SITE_FIELD: "site field", doc.NOTE_FIELD: "op note"}


@dataclass
class Explanation:
    inputs: dict[str, str | None]
    answered: dict[str, bool]                 # field -> False when blank or a non-answer
    negations: list[dict[str, str]]           # field, step, removed text
    concepts: dict[str, list[str]]            # where -> concepts found there
    decision: dict[str, Any]                  # doc_* values
    findings: list[dict[str, Any]]
    suggested_code: str | None
    rules_version: str
    vocabulary: list[dict[str, Any]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)   # --record / --records: files and outcome


def negations(text: str | None, vocab: doc.Vocabulary, mode: str = "approach") -> list[tuple[str, str]]:
    """(step, removed text) for every piece of ``text`` the cleaning of ``mode`` removes or blanks."""
    if not text:
        return []
    out: list[tuple[str, str]] = []

    def found(series_text: str, pattern: str) -> list[str]:
        frame = pl.DataFrame({"t": [series_text]}, schema={"t": pl.String})
        return frame.select(pl.col("t").str.extract_all(doc.insensitive(pattern))).item().to_list()

    current = text
    for step, pattern, repl in vocab.pre_steps:
        if step != "clause break":
            out += [(step, m) for m in found(current, pattern)]
        current = pl.DataFrame({"t": [current]}).select(pl.col("t").str.replace_all(doc.insensitive(pattern), repl)).item()
    clauses = found(current, doc.CLAUSE_SPLIT) if current else []
    trigger = vocab.clause_trigger[mode]
    kept = []
    for clause in clauses:
        hits = found(clause, trigger)
        if hits:
            out.append((f'whole clause ("{hits[0].strip()}")', clause))
            kept.append(doc.GAP + clause[len(clause.rstrip(".;:,!?\n\x1f")):])
        else:
            kept.append(clause)
    current = "".join(kept)
    for step, pattern, repl in vocab.post_steps[mode]:
        out += [(step, m) for m in found(current, pattern)]
        current = pl.DataFrame({"t": [current]}).select(pl.col("t").str.replace_all(doc.insensitive(pattern), repl)).item()
    tidy = [(step, " ".join(t.replace(doc.MARK, "").split()).strip(" ,;:")) for step, t in out]
    return [(s, t) for s, t in tidy if t and t != "…"]


def _flags(row: dict[str, Any], prefix: str, names: list[str]) -> list[str]:
    return [n for n in names if row.get(f"{prefix}{n}")]


def _first_match(text: str | None, pattern: str) -> str | None:
    """The words of ``text`` that ``pattern`` matched first (what made a concept count)."""
    if not text:
        return None
    frame = pl.DataFrame({"t": [text]}, schema={"t": pl.String})
    found = frame.select(pl.col("t").str.extract(doc.insensitive("(" + pattern + ")"), 1)).item()
    return " ".join(found.split()) if found else None


def _approach_patterns(vocab: doc.Vocabulary, abstract: bool) -> dict[str, str]:
    explicit = vocab.explicit_abstract if abstract else vocab.explicit
    return {**{f"e_{c}": explicit[c] for c in doc.OPEN_SITES},
            "perc": vocab.percutaneous_abstract if abstract else vocab.percutaneous,
            "lysis": vocab.lysis_abstract if abstract else vocab.lysis, "mech": vocab.mechanical,
            "conv": vocab.conversion, "generic": vocab.open_generic,
            **{f"r_{c}": vocab.regions[c] for c in doc.OPEN_SITES}, "default": vocab.open_leg_default}


def _why(row: dict[str, Any], prefix: str, names: list[str], text: str | None, patterns: dict[str, str],
         label: dict[str, str] | None = None) -> list[str]:
    """Each concept flagged under ``prefix`` with the words that made it count ("percutaneous wording
    ("Popliteal access")"); a vessel stem alone in the site field says which vocabulary list allows it."""
    out = []
    for n in _flags(row, prefix, names):
        words = _first_match(text, patterns[n])
        shown = (label or {}).get(n, n)
        if words:
            shown += f' ("{words}")'
            if prefix == "_vs_" and _first_match(words, r"^\w+$") and n in vocab_stem_concepts(patterns):
                shown += " - a stem alone in the site field names the vein (vocabulary.yaml site_field_vein_stems)"
        out.append(shown)
    return out


def vocab_stem_concepts(patterns: dict[str, str]) -> set[str]:
    """Vessel concepts whose site-field pattern accepts a bare stem (see documentation.load_vocabulary)."""
    return {c for c, p in patterns.items() if r"\W*(?:$|" in p}


def spelling_fixes(text: str | None, vocab: doc.Vocabulary) -> list[tuple[str, str]]:
    """(as written, read as) for each misspelling of spellings.csv found in an abstract field."""
    out = []
    for pattern, word in vocab.spellings:
        written = _first_match(text, doc._words([pattern]))
        if written and written.lower() != word:
            out.append((written, word))
    return out


def _with_records(note: str | None, files: list[Any]) -> tuple[str | None, Any]:
    """The note the run would read for a line with these record files (read here, in this process)."""
    from . import records as rec

    rec.read_all(files, rec.tesseract_available(), workers=1)
    recs = rec.Records(folder=Path("."), files=files, assigned={0: files} if files else {})
    target = pl.DataFrame({"line_key": [0], doc.NOTE_FIELD: [note]},
                          schema={"line_key": pl.Int64, doc.NOTE_FIELD: pl.String})
    attached = rec.attach(target, recs) if files else target
    return attached.item(0, doc.NOTE_FIELD), recs


def explain(approach: str | None, site: str | None, note: str | None = None,
            vocab: doc.Vocabulary | None = None, record_files: list[Any] | None = None) -> Explanation:
    """``record_files`` (records.RecordFile): medical records read as the line's operative note after
    ``note``, as ``run --records`` reads them; the evidence then names file and page."""
    vocab = vocab or doc.load_vocabulary()
    recs, problem = None, None
    given_note = note
    if record_files is not None:
        note, recs = _with_records(note, record_files)
        if record_files and not any(f.status == "read" for f in record_files):
            problem = "; ".join(f"{f.name}: {f.reason}" for f in record_files)
    inputs = {doc.APPROACH_FIELD: approach, doc.SITE_FIELD: site, doc.NOTE_FIELD: note}
    keys = pl.DataFrame({k: [v] for k, v in inputs.items()}, schema={k: pl.String for k in inputs})
    row = doc.classify_texts(keys, vocab, details=True).row(0, named=True)
    if recs is not None and recs.assigned:
        from . import records as rec
        frame = pl.DataFrame({"line_key": [0], **{c: [row[c]] for c in rec.EVIDENCE_COLUMNS}},
                             schema={"line_key": pl.Int64, **{c: pl.String for c in rec.EVIDENCE_COLUMNS}})
        target = pl.DataFrame({"line_key": [0], doc.NOTE_FIELD: [given_note]},
                              schema={"line_key": pl.Int64, doc.NOTE_FIELD: pl.String})
        row.update(rec.attribute(frame, target, recs).row(0, named=True))
    answered = {doc.APPROACH_FIELD: row["_a"] is not None, doc.SITE_FIELD: row["_s"] is not None,
                doc.NOTE_FIELD: row["_n"] is not None}

    neg: list[dict[str, str]] = []
    for fld, text in inputs.items():
        if not answered[fld]:
            continue
        seen: set[str] = set()
        for mode in (("approach", "treated", "vessel") if fld == doc.NOTE_FIELD else ("approach",)):
            for step, removed in negations(text, vocab, mode):
                if removed in seen:
                    continue
                seen.add(removed)
                use = "" if mode == "approach" else " - for reading the vessel only"
                neg.append({"field": FIELD_NAMES[fld], "step": step + use, "removed": removed})

    approach_names = [f"e_{c}" for c in doc.OPEN_SITES] + ["perc", "lysis", "mech", "conv", "generic",
                                                            *[f"r_{c}" for c in doc.OPEN_SITES], "default"]
    words = {**{f"e_{c}": f"{c} (incision site)" for c in doc.OPEN_SITES},
             "perc": "percutaneous wording", "lysis": "catheter lysis wording", "mech": "mechanical device",
             "conv": "converted to open", "generic": "open-surgery word",
             **{f"r_{c}": f"{c} (body region)" for c in doc.OPEN_SITES},
             "default": "leg-incision evidence without a site (venotomy, femoral vein exposure, ...)"}
    vessels = list(vocab.vessels)
    a_abs, a_note = _approach_patterns(vocab, True), _approach_patterns(vocab, False)
    concepts = {
        "approach field": _why(row, "_fa_", approach_names, row["_ac"], a_abs, words),
        "site field": _why(row, "_vs_", vessels, row["_sc"], vocab.vessels_abstract),
        "op note: approach": _why(row, "_fn_", approach_names, row["_na"], a_note, words),
        "op note: vessels in the thrombus-removal sentences": _why(row, "_vp_", vessels, row["_np"],
                                                                   vocab.vessels),
        "op note: vessels named anywhere": _why(row, "_vn_", vessels, row["_nv"], vocab.vessels),
        "op note: side weights (thrombus-removal sentences; whole note)": (
            [f"{where}: left {row[p + 'vl'] * 4 + row[p + 'sl'] * 2 + row[p + 'b']}, "
             f"right {row[p + 'vr'] * 4 + row[p + 'sr'] * 2 + row[p + 'b']}"
             for where, p in (("removal sentences", "_sp_"), ("whole note", "_sn_"))]
            if answered[doc.NOTE_FIELD] else []),
        "op note: document kinds": [k.kind for k in vocab.kinds if row.get(f"_k_{k.kind}")],
    }
    for fld in (doc.APPROACH_FIELD, doc.SITE_FIELD):
        for written, word in spelling_fixes(inputs[fld] if answered[fld] else None, vocab):
            neg.append({"field": FIELD_NAMES[fld], "step": f'misspelling read as "{word}" (spellings.csv)',
                        "removed": written})
    decision = {c: row[c] for c in doc.DOC_COLUMNS}
    sources = {"abstract": "abstract", "note": "op note"}
    decision["approach from"] = sources.get(row["_a_src"])
    decision["vessel from"] = sources.get(row["_v_src"])
    # the note's account decided over a different abstract value (documentation.classify_texts)
    decision["note decided"] = [what for what, src, abs_value in (("approach", row["_a_src"], row["_a_abs"]),
                                                                   ("vessel", row["_v_src"], row["_v_abs"]))
                                if src == "note" and abs_value is not None]

    lines = pl.DataFrame({"line_key": [0]}, schema={"line_key": pl.Int64}).with_columns(
        *[pl.lit(row[c], t).alias(c) for c, t in doc.DOC_COLUMNS.items()],
        pl.lit(problem, pl.String).alias(doc_rules.RECORD_PROBLEM))
    found = doc_rules.apply(lines, vocab).sort("rule_id")
    findings = found.select("rule_id", "severity", "message", "suggested_code", "evidence", "reference").to_dicts()
    codes = sorted({f["suggested_code"] for f in findings if f["suggested_code"]})
    shown = dict(inputs)
    if record_files is not None:  # never print a record: the input shows the line's own note only
        shown[doc.NOTE_FIELD] = given_note
    return Explanation(inputs=shown, answered=answered, negations=neg, concepts=concepts, decision=decision,
                       findings=findings, suggested_code=", ".join(codes) or None,
                       rules_version=rules_version(), vocabulary=doc.describe_files(vocab),
                       records=[f.entry() for f in record_files or []])


def render(e: Explanation) -> str:
    """The explanation as plain text for a terminal."""
    out: list[str] = [f"claims-audit explain - rule set {e.rules_version}"]
    out.append("vocabulary: " + "; ".join(f"{v['file']} {v['version']} (effective {v['effective']})"
                                          for v in e.vocabulary))
    out.append("")
    out.append("Input")
    for fld, text in e.inputs.items():
        shown = "(blank)" if text is None or not text.strip() else f'"{" ".join(text.split())}"'
        note = "" if e.answered[fld] or text is None or not text.strip() else "  <- a non-answer: ignored"
        out.append(f"  {fld}: {shown}{note}")
    for r in e.records:
        pages = f"{r['pages']} pages, {r['ocr_pages']} OCR" if r["status"] == "read" else r.get("reason", "")
        out.append(f"  medical record {r['file']}: {r['status']} ({pages})")
        for p in r.get("unreadable_pages", []):
            out.append(f"    page {p['page']} not read: {p['reason']}")
    out.append("")
    out.append("Negations and exclusions applied")
    if e.negations:
        for n in e.negations:
            verb = "read" if n["step"].startswith("misspelling") else "removed"
            out.append(f'  {n["field"]}: {verb} "{n["removed"]}"  [{n["step"]}]')
    else:
        out.append("  (none)")
    out.append("")
    out.append("Concepts found")
    for where, found in e.concepts.items():
        if found or not where.startswith("op note") or e.answered[doc.NOTE_FIELD]:
            out.append(f"  {where}: {', '.join(found) if found else '(none)'}")
    out.append("")
    d = e.decision
    out.append("Decision")
    source = f"  (from the {d['approach from']})" if d["approach from"] else ""
    out.append(f"  approach: {d['doc_approach']}{source}")
    if d["doc_approach_evidence"]:
        out.append(f"    evidence: {d['doc_approach_evidence']}")
    source = f"  (from the {d['vessel from']})" if d["vessel from"] else ""
    out.append(f"  vessel:   {d['doc_vessel']}{source}")
    if d["doc_site_evidence"]:
        out.append(f"    evidence: {d['doc_site_evidence']}")
    out.append(f"  side:     {d['doc_side'] or '(not documented)'}")
    if d["doc_procedure"] is not None:
        described = "yes" if d["doc_procedure"] else f"no - the note describes {d['doc_note_kind']}"
        out.append(f"  thrombus removal described in the op note: {described}")
        if d["doc_note_evidence"]:
            out.append(f"    evidence: {d['doc_note_evidence']}")
    if d["doc_conflict"]:
        out.append(f"  abstract vs op note: {d['doc_conflict']}")
    if d.get("note decided"):
        out.append(f"  the op note's account of the thrombus removal decided the {' and '.join(d['note decided'])}"
                   " over the abstract (coders code from the body of the operative report)")
    out.append("")
    out.append("Findings that would be raised")
    if e.findings:
        for f in e.findings:
            out.append(f"  {f['rule_id']} ({f['severity']}): {f['message']}")
            if f["evidence"]:
                out.append(f"    evidence: {f['evidence']}")
            if f["reference"]:
                out.append(f"    reference: {f['reference']}")
    else:
        out.append("  (none: the documentation supports 34421)")
    out.append("")
    out.append(f"Suggested code: {e.suggested_code or '(none)'}")
    return "\n".join(out)
