"""Reading approach, vessel and side out of documentation text, vectorised over whole columns.

Everything a coder knows about the words is data in ``data/documentation/`` (vocabulary.yaml,
negation.yaml, abbreviations.csv, devices.csv, procedure_kinds.csv). This module turns those lists into
regular expressions and evaluates them as polars string expressions over all 34421 lines at once: there is
no Python loop per line (the loops below run over vocabulary concepts to build expressions).

How one line is read (docs/design.md, "Documentation decision"):

1. Blank fields and non-answers ("N/A", "see op note", "vein") count as missing.
2. Every text is *cleaned*: negated, historical and planned wording is replaced by "…" (negation.yaml), so
   "no abdominal incision was required" or "status post thrombectomy in 2019" cannot count. For reading
   the vessel, wording about a vein that was only the access route, only inspected, only seen, a
   junction or a catheter site is removed as well.
3. Approach: an explicit incision site (groin / abdominal / neck / arm incision; abdominal and leg together
   is ``abdominal_and_leg``) decides; else percutaneous or lysis wording (unless the case was converted to
   open); else a generic open word ("incision", "venotomy", "Fogarty") with a body region ("forearm");
   else leg-incision evidence without a site (venotomy, exposure of the femoral vein, Esmarch).
4. Vessel: the concepts named in the sentences that describe thrombus removal, else anywhere; the first in
   the ranking order of vocabulary.yaml wins (dialysis access, the 34421 sites from the most central,
   other veins, arteries). A stem needs a vein word: "femoral" alone is not a vein.
5. Side: side words attached to a vessel (weight 4) or a site / limb word (weight 2); bilateral wording
   counts 1 for both; comparable weights on both sides give bilateral. The sentences that describe
   thrombus removal decide when they carry a side; else the whole note (its title line counted twice).
6. The abstract fields win; the operative note fills what they leave open. When both give a concept and
   they differ, ``doc_conflict`` quotes both.
7. ``doc_procedure``: does the note describe thrombus being removed (or lysed) in this procedure? A
   consult, clinic note or duplex report never does unless it is also an operative record.
   ``doc_note_kind`` says what the note describes instead (procedure_kinds.csv).

Texts are classified once per distinct (approach, site, note) triple and joined back to the lines.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl

from . import configfile
from .errors import ConfigError
from .shipped import DOCUMENTATION_DATA as DATA
APPROACH_FIELD = "documented_approach"
SITE_FIELD = "documented_site"
NOTE_FIELD = "op_note"
FIELDS = (APPROACH_FIELD, SITE_FIELD, NOTE_FIELD)

GAP = " … "           # what removed (negated / historical) wording is replaced by
MARK = "\x1f"         # invisible clause break inserted before "but", "however", ...
VESSEL_TOKEN = "\x02"  # stands for a vessel word when side phrases are counted
SITE_TOKEN = "\x03"    # stands for a site or limb word when side phrases are counted
WINDOW_WORDS = 7      # words of context quoted on each side of a match in a note
CLAUSE = r"[^.;:,!?\n\x1f]"

OPEN_SITES = ("leg_incision", "abdominal", "neck", "arm")
#: doc_note_kind when a note describes no operation of procedure_kinds.csv
NOTE_HISTORY_ONLY = "thrombus removal only as history, a plan or a negation"
NOTE_NO_REMOVAL = "no removal of thrombus"
SIDES = ("left", "right", "bilateral")

DOC_COLUMNS: dict[str, pl.DataType] = {
    "doc_approach": pl.String(), "doc_vessel": pl.String(), "doc_side": pl.String(),
    "doc_approach_evidence": pl.String(), "doc_site_evidence": pl.String(), "doc_source": pl.String(),
    "doc_procedure": pl.Boolean(), "doc_note_kind": pl.String(), "doc_note_evidence": pl.String(),
    "doc_conflict": pl.String(),
}


# --------------------------------------------------------------------------------------------------------
# the vocabulary: data files -> regular expressions
# --------------------------------------------------------------------------------------------------------

def _alt(terms: list[str] | tuple[str, ...]) -> str:
    return "(?:" + "|".join(terms) + ")"


def _words(terms: list[str] | tuple[str, ...]) -> str:
    """Any of the terms as whole words (no flags)."""
    return r"\b" + _alt(terms) + r"\b"


def insensitive(pattern: str) -> str:
    """Case-insensitive, with ASCII word boundaries (much faster in the regex engine's DFA)."""
    return "(?i)" + pattern.replace(r"\b", r"(?-u:\b)")


NEVER = r"(?-u:\B\b\B)"  # a pattern that matches nothing (and compiles fast, unlike an empty class)


@dataclass(frozen=True)
class Kind:
    kind: str
    role: str           # not_operative | other_procedure | operative_marker
    pattern: str
    description: str


@dataclass(frozen=True)
class Vocabulary:
    """The documentation vocabulary as regular expressions (flag-free; callers add ``(?i)``)."""

    folder: Path
    files: dict[str, dict[str, str]]      # data file -> version / effective / source
    digest: str                           # content hash of the data files
    labels: dict[str, str]
    non_answer: str
    # cleaning: (name, pattern, replacement) steps before and after whole clauses are dropped
    pre_steps: tuple[tuple[str, str, str], ...]
    clause_trigger: dict[str, str]        # mode -> a clause containing this is dropped
    post_steps: dict[str, tuple[tuple[str, str, str], ...]]   # mode -> steps after the clauses
    # approach
    explicit: dict[str, str]              # notes
    explicit_abstract: dict[str, str]
    regions: dict[str, str]
    percutaneous: str
    percutaneous_abstract: str
    lysis: str
    lysis_abstract: str
    mechanical: str
    conversion: str
    open_generic: str
    open_leg_default: str
    # vessel (ranking order)
    vessels: dict[str, str]
    vessels_abstract: dict[str, str]
    vessels_not: dict[str, str]
    # side
    side_anat_vessel: str
    side_anat_site: str
    side_abstract: dict[str, str]
    side_vessel: dict[str, str]
    side_site: dict[str, str]
    side_bilateral: str
    side_bare: dict[str, str]
    # the procedure itself
    removal: str
    kinds: tuple[Kind, ...]
    # misspellings of the abstract fields: (whole-word pattern, the word it stands for)
    spellings: tuple[tuple[str, str], ...] = ()

    @property
    def version(self) -> str:
        return ", ".join(f"{f} {m.get('version', '?')}" for f, m in self.files.items())

    def label(self, concept: str | None) -> str:
        return self.labels.get(concept or "unknown", concept or "unknown")


WHAT = "documentation rule data"


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]
    except FileNotFoundError:
        raise ConfigError(f"{WHAT} not found: {path}") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{WHAT} {path} cannot be read: {type(exc).__name__}") from None


def _yaml(path: Path) -> dict[str, Any]:
    doc = configfile.load(path, WHAT) or {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{WHAT} {path} must be a mapping")
    return doc


def _meta(path: Path) -> dict[str, str]:
    doc = _yaml(path)
    return {"version": str(doc.get("version", "")),
            "effective": str(doc.get("effective", doc.get("effective_date", ""))),
            "source": " ".join(str(doc.get("source", "")).split())}


@lru_cache(maxsize=8)
def load_vocabulary(folder: Path | str = DATA) -> Vocabulary:
    """Read every documentation data file of ``folder`` and build the patterns. A missing, unreadable or
    malformed data file is a ConfigError naming it (exit 2), never an internal error."""
    folder = Path(folder)
    try:
        return _build_vocabulary(folder)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ConfigError(f"{WHAT} in {folder} is malformed ({type(exc).__name__}: {str(exc)[:80]}); "
                          "check the files against data/documentation/README.md") from None


def _build_vocabulary(folder: Path) -> Vocabulary:
    voc = _yaml(folder / "vocabulary.yaml")
    neg = _yaml(folder / "negation.yaml")
    abbreviations = _read_csv(folder / "abbreviations.csv")
    devices = _read_csv(folder / "devices.csv")
    kinds = tuple(Kind(r["kind"], r["role"], r["pattern"], r["description"])
                  for r in _read_csv(folder / "procedure_kinds.csv"))
    files = {"vocabulary.yaml": _meta(folder / "vocabulary.yaml"),
             "negation.yaml": _meta(folder / "negation.yaml")}
    spellings = tuple((r["pattern"], r["word"]) for r in _read_csv(folder / "spellings.csv")) \
        if (folder / "spellings.csv").exists() else ()
    for name in ("abbreviations", "devices", "procedure_kinds", "crosswalk", "spellings"):
        sidecar = folder / f"{name}.meta.yaml"
        if sidecar.exists():
            files[f"{name}.csv"] = _meta(sidecar)
    h = hashlib.sha256()
    for f in sorted(p for p in folder.iterdir() if p.is_file()):
        h.update(f.name.encode() + b"\0" + f.read_bytes())

    def abbr(concept: str, scopes: tuple[str, ...]) -> list[str]:
        return [a["pattern"] for a in abbreviations if a["concept"] == concept and a["scope"] in scopes]

    def dev(approach: str | None = None, mechanical: bool | None = None) -> list[str]:
        return [d["pattern"] for d in devices
                if (approach is None or d["approach"] == approach)
                and (mechanical is None or (d["mechanical"].lower() in ("yes", "true", "1")) == mechanical)]

    # ---- cleaning -------------------------------------------------------------------------------------
    scope = int(neg.get("max_scope", 100))
    breakers = _words(neg["clause_breakers"])
    forward = [t for group in neg["forward"].values() for t in group]
    pre_steps = [("clause break", r"\s+(" + breakers + r")", MARK + " ${1}"),
                 *[("ignored", p, GAP) for p in neg.get("ignore", [])]]
    headings = ("history section", r"\b" + _alt(neg["headings"]) + rf"\s*:[\s,]*[^.;\n\x1f]{{0,{3 * scope}}}",
                GAP)
    fwd_all = ("negated/historical/planned", _words(forward) + rf"\s*:?{CLAUSE}{{0,{scope}}}", GAP)
    fwd_neg = ("negated", _words(neg["forward"]["negation"]) + rf"\s*:?{CLAUSE}{{0,{scope}}}", GAP)
    vessel_steps = [("not the treated vessel", p, GAP) for p in neg.get("vessel_only", [])]
    not_done = _words(neg["clause"])
    history = _words(neg.get("clause_history", []) + neg.get("clause_work_up", []) + neg.get("ignore_clause", []))
    ignored = _words(neg.get("ignore_clause") or [NEVER])
    only_seen = _alt([_words(neg.get("vessel_only_clause") or [NEVER]),
                      neg["mention_only_sentence"] + r"\s*[.;\n]\W*$"])
    # modes: "approach" (approach, procedure, kind), "treated" (+ vessel-only wording: the sentences
    # describing thrombus removal), "vessel" (negation and vessel-only wording removed, history kept)
    clause_trigger = {"approach": _alt([not_done, history]), "treated": _alt([not_done, history, only_seen]),
                      "vessel": _alt([not_done, ignored, only_seen])}
    post_steps = {"approach": (headings, fwd_all), "treated": (headings, fwd_all, *vessel_steps),
                  "vessel": (fwd_neg, *vessel_steps)}

    # ---- approach -------------------------------------------------------------------------------------
    inc = _alt(voc["incision_words"])
    exposure = _alt(voc.get("exposure_words") or [NEVER])
    win = int(voc.get("incision_window", 45))
    explicit, explicit_abstract, regions = {}, {}, {}

    def near(sites: str, words: str) -> list[str]:
        return [rf"\b{sites}\b[^.;:\n\x1f]{{0,{win}}}?\b{words}\b", rf"\b{words}\b[^.;\n\x1f]{{0,{win}}}?\b{sites}\b"]

    for concept, spec in voc["open_sites"].items():
        sites = _alt(spec.get("sites") or [NEVER])
        parts = [_words(spec.get("phrases") or [NEVER]), *near(sites, inc)]
        if spec.get("exposure_sites"):
            parts += near(_alt(spec["exposure_sites"]), exposure)
        explicit[concept] = _alt(parts)
        explicit_abstract[concept] = _alt(parts + [_words(spec.get("abstract") or [NEVER]),
                                                   _words(abbr(concept, ("any", "abstract")) or [NEVER])])
        regions[concept] = _words(spec.get("regions") or [NEVER])
    percutaneous = _words(voc["percutaneous"] + dev("percutaneous") + abbr("percutaneous", ("any",)))
    lysis = _words(voc["catheter_lysis"] + dev("catheter_lysis") + abbr("catheter_lysis", ("any",)))

    # ---- vessel ---------------------------------------------------------------------------------------
    all_stems = [s for spec in voc["vessels"].values() for s in spec.get("stems", [])]
    joiner = _alt(voc["list_joiners"])
    modifier = _alt(voc["list_modifiers"])
    vein_word = _alt(voc["vein_words"])
    vessels, vessels_abstract, vessels_not = {}, {}, {}
    for concept, spec in voc["vessels"].items():
        parts = []
        if spec.get("stems"):
            parts.append(rf"\b{_alt(spec['stems'])}(?:{joiner}(?:{modifier}\s+)*{_alt(all_stems)})*\s+"
                         rf"{vein_word}\b")
        terms = list(spec.get("terms", [])) + abbr(concept, ("any",))
        if terms:
            parts.append(_words(terms))
        vessels[concept] = _alt(parts or [NEVER])
        extra = [_words(abbr(concept, ("abstract",)) or [NEVER])]
        bare = [st for st in spec.get("stems", []) if st in voc.get("site_field_vein_stems", [])]
        if bare:  # "R subclavian": the stem ends the site field or a list item
            extra.append(rf"\b{_alt(bare)}\b\W*(?:$|[,;/(&+]|\band\b)")
        vessels_abstract[concept] = _alt(parts + extra)
        if spec.get("not_terms"):
            vessels_not[concept] = _words(spec["not_terms"])

    # ---- side -----------------------------------------------------------------------------------------
    sd = voc["side"]
    n = int(sd.get("attach_words", 4))
    vessel_terms = [p for c, spec in voc["vessels"].items() for p in spec.get("terms", [])]
    vessel_abbr = [a["pattern"] for a in abbreviations if a["concept"] in voc["vessels"]]
    anat_v = _words(all_stems + vessel_terms + vessel_abbr + [r"veins?", r"arter(?:y|ies)"])
    anat_s = _words(list(sd["anatomy"]) + [r for spec in voc["open_sites"].values()
                                           for r in spec.get("regions", [])])
    # side phrases are counted on a copy of the text where vessel words are replaced by VESSEL_TOKEN and
    # site / limb words by SITE_TOKEN (two passes instead of large alternations in every count)
    gap = r"[\s,-]+"
    word = r"(?:[\w/()'-]+,?\s+)"

    def attached(full: list[str], letters: list[str], token: str) -> str:
        return _alt([rf"\b{_alt(full)}\b\.?{gap}{word}{{0,{n}}}?{token}",
                     rf"\b{_alt(letters or [NEVER])}\b\.?{gap}{word}{{0,1}}?{token}"])

    letters = {s: abbr(s, ("attached", "any")) for s in SIDES}
    side_vessel = {s: attached(sd[s], letters[s], VESSEL_TOKEN) for s in ("left", "right")}
    side_site = {s: _alt([attached(sd[s], letters[s], SITE_TOKEN), _words(sd.get(f"phrases_{s}") or [NEVER])])
                 for s in ("left", "right")}
    any_anat = f"[{VESSEL_TOKEN}{SITE_TOKEN}]"
    side_bilateral = _alt([
        rf"\b{_alt(sd['bilateral_before'])}\b{gap}{word}{{0,3}}?{any_anat}",
        rf"{any_anat}[\w-]*\s+(?:[\w/()'-]+\s+){{0,2}}?{_words(sd['bilateral_after'])}",
        _words(sd.get("phrases_bilateral") or [NEVER])])
    side_abstract = {s: _words(sd[s] + letters[s]) for s in SIDES}
    side_abstract["bilateral"] = _words(sd["bilateral"] + sd["bilateral_before"] + letters["bilateral"])
    side_bare = {"left": _words(sd["left"]), "right": _words(sd["right"]),
                 "bilateral": _words(sd["bilateral"] + sd["bilateral_after"])}

    removal = _alt([_words(voc["removal"]), lysis])
    return Vocabulary(
        folder=folder, files=files, digest=h.hexdigest()[:10], labels=dict(voc.get("labels", {})),
        non_answer=r"^\W*" + _alt(voc["non_answers"]) + r"\W*$",
        pre_steps=tuple(pre_steps), clause_trigger=clause_trigger, post_steps=post_steps,
        explicit=explicit, explicit_abstract=explicit_abstract, regions=regions,
        percutaneous=percutaneous,
        percutaneous_abstract=_alt([percutaneous, _words(voc.get("percutaneous_abstract") or [NEVER]),
                                    _words(abbr("percutaneous", ("abstract",)) or [NEVER])]),
        lysis=lysis,
        lysis_abstract=_alt([lysis, _words(voc.get("catheter_lysis_abstract") or [NEVER]),
                             _words(abbr("catheter_lysis", ("abstract",)) or [NEVER])]),
        mechanical=_words(voc["mechanical"] + dev(mechanical=True)),
        conversion=_words(voc["conversion"]),
        open_generic=_words(voc["open_generic"] + dev("open")),
        open_leg_default=_words(voc["open_leg_default"]),
        vessels=vessels, vessels_abstract=vessels_abstract, vessels_not=vessels_not,
        side_anat_vessel=anat_v, side_anat_site=anat_s,
        side_abstract=side_abstract, side_vessel=side_vessel, side_site=side_site,
        side_bilateral=side_bilateral, side_bare=side_bare,
        removal=removal,
        kinds=kinds,
        spellings=spellings,
    )


# --------------------------------------------------------------------------------------------------------
# expressions
# --------------------------------------------------------------------------------------------------------

def answered(e: pl.Expr, vocab: Vocabulary) -> pl.Expr:
    """The text, or null when it is blank or a non-answer ("N/A", "see op note", "vein")."""
    return (pl.when(e.is_null() | (e.str.strip_chars() == "") | e.str.contains(insensitive(vocab.non_answer)))
            .then(pl.lit(None, pl.String)).otherwise(e))


CLAUSE_SPLIT = r"[^.;:,!?\n\x1f]*[.;:,!?\n\x1f]+|[^.;:,!?\n\x1f]+"   # a clause and the punctuation after it
SENTENCE_SPLIT = r"[^.;:\n\x1f]*[.;:\n\x1f]+|[^.;:\n\x1f]+"          # a sentence (or heading) and its end
MODES = ("approach", "treated", "vessel")


def corrected(text: pl.Expr, vocab: Vocabulary) -> pl.Expr:
    """An abstract field with the misspellings of spellings.csv replaced by the words they stand for."""
    for pattern, word in vocab.spellings:
        text = text.str.replace_all(insensitive(_words([pattern])), word)
    return text


def clause_parts(text: pl.Expr, vocab: Vocabulary) -> pl.Expr:
    """The text (after the ``ignore`` replacements) as a list of clauses, each with its punctuation."""
    for _, pattern, repl in vocab.pre_steps:
        text = text.str.replace_all(insensitive(pattern), repl)
    return text.str.extract_all(CLAUSE_SPLIT)


def cleaned_from_parts(parts: pl.Expr, vocab: Vocabulary, mode: str = "approach") -> pl.Expr:
    """Join the clauses back, blanking those that contain a trigger, then apply the forward triggers.

    ``mode``: "approach" removes negation, history and plans (for the approach and the procedure);
    "treated" also removes vessels that were only the access route, inspected, seen, a junction or a
    catheter site (for the sentences that describe thrombus removal); "vessel" removes negation and those
    vessel-only mentions but keeps history (for the vessel and side when those sentences name none).
    """
    el = pl.element()
    text = parts.list.eval(
        pl.when(el.str.contains(insensitive(vocab.clause_trigger[mode])))
        .then(el.str.replace(r"^[^.;:,!?\n\x1f]*", GAP)).otherwise(el)
    ).list.join("")
    for _, pattern, repl in vocab.post_steps[mode]:
        text = text.str.replace_all(insensitive(pattern), repl)
    return text


def clean(text: pl.Expr, vocab: Vocabulary, mode: str = "approach") -> pl.Expr:
    """The text with negated, historical, planned and ignored wording replaced by "…" (see
    :func:`cleaned_from_parts` for the modes). Whole clauses are dropped with a vectorised list operation
    (split into clauses, blank the ones that contain a trigger, join), which keeps the regular
    expressions simple and fast."""
    return cleaned_from_parts(clause_parts(text, vocab), vocab, mode)


def procedure_sentences(text: pl.Expr, vocab: Vocabulary) -> pl.Expr:
    """The sentences of a (cleaned) note that describe thrombus removal, joined by " … "."""
    el = pl.element()
    return (text.str.extract_all(SENTENCE_SPLIT).list.eval(el.filter(el.str.contains(insensitive(vocab.removal))))
            .list.join(GAP))


def _has(text: pl.Expr, pattern: str) -> pl.Expr:
    return text.str.contains(insensitive(pattern)).fill_null(False)


# Each reading is done in two steps: flag columns (one regular-expression pass each, materialised once)
# and a cheap combination of those columns. Writing the combination directly over the regex
# expressions would evaluate each of them several times.

def approach_flags(text: pl.Expr, vocab: Vocabulary, abstract: bool, p: str) -> list[pl.Expr]:
    exp = vocab.explicit_abstract if abstract else vocab.explicit
    return [
        *[_has(text, exp[c]).alias(f"{p}e_{c}") for c in OPEN_SITES],
        _has(text, vocab.percutaneous_abstract if abstract else vocab.percutaneous).alias(f"{p}perc"),
        _has(text, vocab.lysis_abstract if abstract else vocab.lysis).alias(f"{p}lysis"),
        _has(text, vocab.mechanical).alias(f"{p}mech"),
        _has(text, vocab.conversion).alias(f"{p}conv"),
        _has(text, vocab.open_generic).alias(f"{p}generic"),
        *[_has(text, vocab.regions[c]).alias(f"{p}r_{c}") for c in OPEN_SITES],
        _has(text, vocab.open_leg_default).alias(f"{p}default"),
    ]


def _sites(flag: dict[str, pl.Expr]) -> pl.Expr:
    return (pl.when(flag["abdominal"] & flag["leg_incision"]).then(pl.lit("abdominal_and_leg"))
            .when(flag["neck"]).then(pl.lit("neck")).when(flag["arm"]).then(pl.lit("arm"))
            .when(flag["abdominal"]).then(pl.lit("abdominal"))
            .when(flag["leg_incision"]).then(pl.lit("leg_incision")))


def approach_from_flags(p: str) -> pl.Expr:
    """Explicit incision site; else percutaneous / lysis (unless converted to open); else a generic open
    word with a body region; else leg-incision evidence without a site; else null."""
    col = pl.col
    explicit = _sites({c: col(f"{p}e_{c}") for c in OPEN_SITES})
    closed = (pl.when(col(f"{p}conv")).then(pl.lit(None, pl.String))
              .when(col(f"{p}lysis") & ~col(f"{p}mech")).then(pl.lit("catheter_lysis"))
              .when(col(f"{p}perc") | col(f"{p}mech")).then(pl.lit("percutaneous")))
    region = _sites({c: col(f"{p}generic") & col(f"{p}r_{c}") for c in OPEN_SITES})
    default = pl.when(col(f"{p}default")).then(pl.lit("leg_incision"))
    return pl.coalesce(explicit, closed, region, default)


def vessel_flags(text: pl.Expr, vocab: Vocabulary, p: str, abstract: bool = False) -> list[pl.Expr]:
    patterns = vocab.vessels_abstract if abstract else vocab.vessels
    out = []
    for concept, pattern in patterns.items():
        if concept in vocab.vessels_not:
            flag = (text.str.count_matches(insensitive(pattern))
                    > text.str.count_matches(insensitive(vocab.vessels_not[concept]))).fill_null(False)
        else:
            flag = _has(text, pattern)
        out.append(flag.alias(f"{p}{concept}"))
    return out


def vessel_from_flags(prefixes: list[str], vocab: Vocabulary) -> pl.Expr:
    """The first concept in ranking order flagged under the first prefix that flags any, else null."""
    out = pl.lit(None, pl.String)
    for p in reversed(prefixes):
        ranked = pl.lit(None, pl.String)
        for concept in reversed(list(vocab.vessels)):
            ranked = pl.when(pl.col(f"{p}{concept}")).then(pl.lit(concept)).otherwise(ranked)
        out = pl.coalesce(ranked, out)
    return out


def _decide_side(left: pl.Expr, right: pl.Expr) -> pl.Expr:
    lo, hi = pl.min_horizontal(left, right), pl.max_horizontal(left, right)
    return (pl.when((left > 0) & (right > 0) & (lo * 2 >= hi)).then(pl.lit("bilateral"))
            .when(left > right).then(pl.lit("left")).when(right > left).then(pl.lit("right"))
            .otherwise(pl.lit(None, pl.String)))


def side_of_abstract(text: pl.Expr, vocab: Vocabulary) -> pl.Expr:
    """Any side word or letter of the abstract fields (both sides, or a bilateral word: bilateral)."""
    left, right, both = (_has(text, vocab.side_abstract[s]) for s in SIDES)
    return (pl.when(both | (left & right)).then(pl.lit("bilateral"))
            .when(left).then(pl.lit("left")).when(right).then(pl.lit("right")))


def side_tokens(text: pl.Expr, vocab: Vocabulary) -> pl.Expr:
    """A copy of the text with vessel words replaced by VESSEL_TOKEN and site / limb words by SITE_TOKEN."""
    return (text.str.replace_all(insensitive(vocab.side_anat_vessel), VESSEL_TOKEN)
            .str.replace_all(insensitive(vocab.side_anat_site), SITE_TOKEN))


def side_counts(tokens: pl.Expr, text: pl.Expr, vocab: Vocabulary, p: str, title: bool = True
                ) -> list[pl.Expr]:
    """Side phrase counts of a note. With ``title``, the first sentence (the title or procedure line:
    "LEFT LOWER EXTREMITY VENOUS DUPLEX", "Right femoral vein thrombectomy") counts twice."""
    first = tokens.str.extract(r"^([^.\n]*)", 1)

    def count(t: pl.Expr, pattern: str) -> pl.Expr:
        return t.str.count_matches(insensitive(pattern)).fill_null(0).cast(pl.Int64)

    def twice(pattern: str) -> pl.Expr:
        return count(tokens, pattern) + count(first, pattern) if title else count(tokens, pattern)

    return [twice(vocab.side_vessel["left"]).alias(f"{p}vl"),
            twice(vocab.side_vessel["right"]).alias(f"{p}vr"),
            twice(vocab.side_site["left"]).alias(f"{p}sl"),
            twice(vocab.side_site["right"]).alias(f"{p}sr"),
            twice(vocab.side_bilateral).alias(f"{p}b"),
            count(text, vocab.side_bare["left"]).alias(f"{p}bl"),
            count(text, vocab.side_bare["right"]).alias(f"{p}br"),
            count(text, vocab.side_bare["bilateral"]).alias(f"{p}bb")]


def _side_weights(p: str) -> tuple[pl.Expr, pl.Expr]:
    col = pl.col
    return (col(f"{p}vl") * 4 + col(f"{p}sl") * 2 + col(f"{p}b"),
            col(f"{p}vr") * 4 + col(f"{p}sr") * 2 + col(f"{p}b"))


def side_from_counts(p: str, first: str | None = None) -> pl.Expr:
    """Weights: a side attached to a vessel 4, to a site or limb word 2, bilateral wording 1 to each
    side; comparable weights on both sides give bilateral. The counts of prefix ``first`` (the sentences
    describing thrombus removal) decide when they have any; else those of ``p``; else bare side words."""
    col = pl.col
    left, right = _side_weights(p)
    bare = _decide_side(col(f"{p}bl") + col(f"{p}bb"), col(f"{p}br") + col(f"{p}bb"))
    out = pl.when((left + right) > 0).then(_decide_side(left, right)).otherwise(bare)
    if first:
        f_left, f_right = _side_weights(first)
        out = pl.when((f_left + f_right) > 0).then(_decide_side(f_left, f_right)).otherwise(out)
    return out


def _window(text: pl.Expr, pattern: str, words: int = WINDOW_WORDS) -> pl.Expr:
    """The first match of ``pattern`` in ``text`` with up to ``words`` words on each side (verbatim).

    Done in steps that stay fast on long notes: extract the match, split the text at it, and take the
    last words before and the first words after.
    """
    match = text.str.extract(insensitive("(" + pattern + ")"), 1)
    parts = text.str.splitn(match, 2)
    before = parts.struct.field("field_0").str.extract(rf"((?:\S+\s+){{0,{words}}}\S*)$", 1)
    after = parts.struct.field("field_1").str.extract(rf"^(\S*(?:\s+\S+){{0,{words}}})", 1)
    return pl.when(match.is_not_null()).then(pl.concat_str([before.fill_null(""), match, after.fill_null("")]))


def _tidy(e: pl.Expr) -> pl.Expr:
    """One line, no clause marks, runs of removed wording shown as one "…", none at the ends."""
    return (e.str.replace_all(MARK, "", literal=True).str.replace_all(r"(?:\s*…\s*[,.;:!?|]*)+", " … ")
            .str.replace_all(r"\s+", " ").str.replace_all(r"^[\s…,.;:!?|]+|[\s…,;:!?|]+$", "")
            .str.strip_chars())


# --------------------------------------------------------------------------------------------------------
# classification
# --------------------------------------------------------------------------------------------------------

class ClassifiedTexts:
    """The classifications of distinct (approach, site, note) texts already made in a run, so that a run
    whose rules see its members group by group classifies a text once, as a run seen whole does
    (templated notes recur across groups). Bounded: past `limit_bytes` nothing more is added."""

    def __init__(self, limit_bytes: int = 64 << 20):
        self.limit_bytes = limit_bytes
        self.frame: pl.DataFrame | None = None

    def classify(self, keys: pl.DataFrame, vocab: Vocabulary) -> pl.DataFrame:
        """classify_texts of `keys` (distinct FIELDS rows), reusing what is known."""
        if self.frame is None:
            result = classify_texts(keys, vocab)
            self.frame = result if result.estimated_size() <= self.limit_bytes else None
            return result
        known = keys.join(self.frame, on=list(FIELDS), how="inner", nulls_equal=True)
        fresh = keys.join(self.frame.select(FIELDS), on=list(FIELDS), how="anti", nulls_equal=True)
        result = classify_texts(fresh, vocab) if fresh.height else self.frame.clear()
        if self.frame.estimated_size() + result.estimated_size() <= self.limit_bytes:
            self.frame = pl.concat([self.frame, result])
        return pl.concat([known.select(result.columns), result])


def classify(lines: pl.DataFrame, vocab: Vocabulary | None = None, known: ClassifiedTexts | None = None
             ) -> pl.DataFrame:
    """Add the doc_* columns (docs/design.md) to lines that carry the documentation columns. `known`: the
    texts a run has classified already (each distinct text is classified once per run)."""
    vocab = vocab or load_vocabulary()
    missing = [c for c in FIELDS if c not in lines.columns]
    base = lines.with_columns([pl.lit(None, pl.String).alias(c) for c in missing]) if missing else lines
    base = base.with_columns([pl.col(c).cast(pl.String) for c in FIELDS])
    if base.height == 0:
        return base.with_columns([pl.lit(None, t).alias(c) for c, t in DOC_COLUMNS.items()]).drop(missing)
    keys = base.select(FIELDS).unique()
    result = known.classify(keys, vocab) if known is not None else classify_texts(keys, vocab)
    out = base.join(result, on=list(FIELDS), how="left", nulls_equal=True, maintain_order="left")
    return out.drop(missing) if missing else out


def classify_texts(keys: pl.DataFrame, vocab: Vocabulary, details: bool = False) -> pl.DataFrame:
    """Classify distinct (approach, site, note) rows; returns the key columns plus doc_* columns
    (and, with ``details``, the intermediate ``_`` columns explain.py shows)."""
    col = pl.col
    df = keys.with_row_index("_row").with_columns(
        answered(col(APPROACH_FIELD), vocab).alias("_a"),
        answered(col(SITE_FIELD), vocab).alias("_s"),
        answered(col(NOTE_FIELD), vocab).alias("_n"),
    )
    df = df.with_columns(clean(corrected(col("_a"), vocab), vocab).alias("_ac"),
                         clean(corrected(col("_s"), vocab), vocab).alias("_sc"),
                         clause_parts(col("_n"), vocab).alias("_parts"))
    df = df.with_columns([cleaned_from_parts(col("_parts"), vocab, m).alias(f"_n{m[0]}") for m in MODES])
    # _na: note for the approach and procedure; _nt: "treated" sentences; _nv: vessel and side
    df = df.with_columns(procedure_sentences(col("_nt"), vocab).alias("_np")).drop("_parts")
    df = df.with_columns(side_tokens(col("_nv"), vocab).alias("_ntok"), side_tokens(col("_np"), vocab).alias("_ptok"))
    kinds = [_has(col("_na"), _words([k.pattern])).alias(f"_k_{k.kind}") for k in vocab.kinds]
    df = df.with_columns(
        *approach_flags(col("_ac"), vocab, True, "_fa_"),
        *approach_flags(col("_na"), vocab, False, "_fn_"),
        *vessel_flags(col("_sc"), vocab, "_vs_", abstract=True),
        *vessel_flags(col("_np"), vocab, "_vp_"),
        *vessel_flags(col("_nv"), vocab, "_vn_"),
        *side_counts(col("_ntok"), col("_nv"), vocab, "_sn_"),
        *side_counts(col("_ptok"), col("_np"), vocab, "_sp_", title=False),
        side_of_abstract(pl.concat_str([col("_sc"), col("_ac")], separator=" ", ignore_nulls=True),
                         vocab).alias("_side_abs"),
        # bare side words of the approach reading (which keeps the access route): the side of the access
        # when the vessel reading carries none ("right popliteal access ...; the femoral vein was cleared")
        *[col("_na").str.count_matches(insensitive(vocab.side_bare[s])).fill_null(0).cast(pl.Int64).alias(f"_sa_{s}")
          for s in SIDES],
        _has(col("_na"), vocab.removal).alias("_removal"),
        _has(col("_n"), vocab.removal).alias("_removal_raw"),
        *kinds,
    )
    not_op = pl.any_horizontal([col(f"_k_{k.kind}") for k in vocab.kinds if k.role == "not_operative"]
                               or [pl.lit(False)])
    op_marker = pl.any_horizontal([col(f"_k_{k.kind}") for k in vocab.kinds if k.role == "operative_marker"]
                                  or [pl.lit(False)])

    def first_kind(role: str) -> pl.Expr:
        out = pl.lit(None, pl.String)
        for k in reversed([k for k in vocab.kinds if k.role == role]):
            out = pl.when(col(f"_k_{k.kind}")).then(pl.lit(k.kind)).otherwise(out)
        return out

    # what the note describes instead: in an operative record the other operation, else the document kind
    kind = (pl.when(op_marker).then(pl.coalesce(first_kind("other_procedure"), first_kind("not_operative")))
            .otherwise(pl.coalesce(first_kind("not_operative"), first_kind("other_procedure"))))
    df = df.with_columns(
        approach_from_flags("_fa_").alias("_a_abs"),
        approach_from_flags("_fn_").alias("_a_note"),
        vessel_from_flags(["_vs_"], vocab).alias("_v_abs"),
        vessel_from_flags(["_vp_", "_vn_"], vocab).alias("_v_note"),
        pl.coalesce(side_from_counts("_sn_", first="_sp_"),
                    _decide_side(col("_sa_left") + col("_sa_bilateral"), col("_sa_right") + col("_sa_bilateral")))
        .alias("_side_note"),
        (col("_removal") & ~(not_op & ~op_marker)).alias("_procedure"),
        kind.alias("_kind0"),
    )
    df = df.with_columns(
        pl.when(col("_n").is_null()).then(pl.lit(None, pl.Boolean)).otherwise(col("_procedure"))
        .alias("doc_procedure"),
        pl.when(col("_n").is_null() | col("_procedure")).then(pl.lit(None, pl.String))
        .when(col("_kind0").is_not_null()).then(col("_kind0"))
        .when(col("_removal_raw")).then(pl.lit("history_only"))
        .otherwise(pl.lit("no_removal")).alias("_kind"),
        pl.coalesce("_side_abs", "_side_note").alias("doc_side"),
        # the abstract's vessel is named anywhere in the note (then a more central note vessel is no conflict)
        _named_in_note(vocab).alias("_v_abs_in_note"),
    )
    # Coders code from the body of the operative report: when the note describes the thrombus removal and
    # its approach or vessel differs from the abstract's, the note's account decides (and the line gets
    # DOCUMENTATION_CONFLICT). A note that describes no removal only fills what the abstract leaves open.
    account = col("doc_procedure").fill_null(False)
    note_a = account & col("_a_note").is_not_null() & col("_a_abs").is_not_null() & (col("_a_abs") != col("_a_note"))
    note_v = (account & col("_v_note").is_not_null() & col("_v_abs").is_not_null()
              & (col("_v_abs") != col("_v_note")) & ~col("_v_abs_in_note"))
    df = df.with_columns(
        pl.when(note_a).then(pl.lit("note")).when(col("_a_abs").is_not_null()).then(pl.lit("abstract"))
        .when(col("_a_note").is_not_null()).then(pl.lit("note")).alias("_a_src"),
        pl.when(note_v).then(pl.lit("note")).when(col("_v_abs").is_not_null()).then(pl.lit("abstract"))
        .when(col("_v_note").is_not_null()).then(pl.lit("note")).alias("_v_src"),
    ).with_columns(
        pl.when(col("_a_src") == "note").then(col("_a_note")).otherwise(pl.coalesce("_a_abs", pl.lit("unknown")))
        .alias("doc_approach"),
        pl.when(col("_v_src") == "note").then(col("_v_note")).otherwise(pl.coalesce("_v_abs", pl.lit("unknown")))
        .alias("doc_vessel"),
    )
    df = _note_evidence(df, vocab)
    abs_a = _tidy(col("_a"))
    abs_s = _tidy(col("_s"))
    a_conf = col("_a_abs").is_not_null() & col("_a_note").is_not_null() & (col("_a_abs") != col("_a_note"))
    v_conf = (col("_v_abs").is_not_null() & col("_v_note").is_not_null() & (col("_v_abs") != col("_v_note"))
              & ~col("_v_abs_in_note"))
    kind_labels = {k.kind: k.description for k in vocab.kinds}
    kind_labels |= {"history_only": NOTE_HISTORY_ONLY, "no_removal": NOTE_NO_REMOVAL}
    df = df.with_columns(
        pl.when(col("_a_src") == "abstract").then(pl.format('approach "{}"', abs_a))
        .when(col("_a_src") == "note").then(pl.format('op note "…{}…"', col("_ev_a_note")))
        .alias("doc_approach_evidence"),
        pl.when(col("_v_src") == "abstract").then(pl.format('site "{}"', abs_s))
        .when(col("_v_src") == "note").then(pl.format('op note "…{}…"', col("_ev_v_note")))
        .alias("doc_site_evidence"),
        pl.coalesce(pl.when(col("_a_src") == "note").then(pl.lit("note")),
                    pl.when(col("_v_src") == "note").then(pl.lit("note")),
                    pl.when(col("_a_src").is_not_null() | col("_v_src").is_not_null())
                    .then(pl.lit("abstract")), pl.lit("none")).alias("doc_source"),
        col("_kind").replace_strict(kind_labels, default=col("_kind")).alias("doc_note_kind"),
        pl.when(col("_ev_kind").is_not_null()).then(pl.format('op note "…{}…"', col("_ev_kind")))
        .alias("doc_note_evidence"),
        pl.concat_str([
            pl.when(a_conf).then(pl.format('approach: abstract "{}" ({}) vs op note "…{}…" ({})', abs_a,
                                           col("_a_abs"), col("_ev_a_note"), col("_a_note"))),
            pl.when(v_conf).then(pl.format('site: abstract "{}" ({}) vs op note "…{}…" ({})', abs_s,
                                           col("_v_abs"), col("_ev_v_note"), col("_v_note"))),
        ], separator="; ", ignore_nulls=True).replace("", None).alias("doc_conflict"),
    )
    keep = list(FIELDS) + list(DOC_COLUMNS)
    if details:
        keep += [c for c in df.columns if c.startswith("_") and c not in keep]
    return df.select(keep)


def _named_in_note(vocab: Vocabulary) -> pl.Expr:
    out = pl.lit(False)
    for concept in vocab.vessels:
        out = pl.when(pl.col("_v_abs") == concept).then(pl.col(f"_vn_{concept}")).otherwise(out)
    return out.fill_null(False)


def _note_evidence(df: pl.DataFrame, vocab: Vocabulary) -> pl.DataFrame:
    """Quote the words (with a window) that decided the note's approach, vessel and kind.

    Rows are grouped by the concept found, so each row runs only its own concept's pattern.
    """
    ap = {c: [[vocab.explicit[c]], [vocab.regions[c], vocab.open_generic]] for c in OPEN_SITES}
    ap["leg_incision"].append([vocab.open_leg_default])
    ap["abdominal_and_leg"] = [[vocab.explicit["abdominal"], vocab.explicit["leg_incision"]],
                               [vocab.regions["abdominal"], vocab.regions["leg_incision"], vocab.open_generic]]
    ap["percutaneous"] = [[_alt([vocab.percutaneous, vocab.mechanical])]]
    ap["catheter_lysis"] = [[vocab.lysis]]
    vp = {c: [[p]] for c, p in vocab.vessels.items()}
    kp = {k.kind: [[_words([k.pattern])]] for k in vocab.kinds if k.role != "operative_marker"}
    df = _quote(df, "_a_note", "_na", ap, "_ev_a_note")
    df = _quote(df, "_v_note", "_np", vp, "_ev_v_note")
    df = _quote(df, "_v_note", "_nv", vp, "_ev_v_note")
    df = _quote(df, "_kind", "_na", kp, "_ev_kind")
    return _quote(df, "_kind", "_n", {"history_only": [[vocab.removal]]}, "_ev_kind")


def _quote(df: pl.DataFrame, key: str, text: str, patterns: dict[str, list[list[str]]], out: str
           ) -> pl.DataFrame:
    """Fill ``out`` for rows whose ``key`` is one of the concepts of ``patterns``: the first alternative
    (a list of patterns whose windows are joined with " … ") that matches, tried in order, each only on
    the rows the previous ones left empty."""
    todo = df.filter(pl.col(key).is_not_null())
    if out in df.columns:  # a second pass for the same column: only what is still empty
        todo = todo.filter(pl.col(out).is_null())
    todo = todo.select("_row", key, text)
    parts = []
    for concept, alternatives in patterns.items():
        sub = todo.filter(pl.col(key) == concept)
        for alt in alternatives:
            if sub.height == 0:
                break
            got = sub.select("_row", _tidy(pl.concat_str([_window(pl.col(text), p) for p in alt],
                                                         separator=" … ")).alias(out))
            parts.append(got.filter(pl.col(out).is_not_null()))
            sub = sub.join(got.filter(pl.col(out).is_not_null()).select("_row"), on="_row", how="anti")
    found = pl.concat(parts) if parts else pl.DataFrame(schema={"_row": pl.UInt32, out: pl.String})
    if out in df.columns:
        return df.join(found.rename({out: "_q"}), on="_row", how="left", maintain_order="left").with_columns(
            pl.coalesce(out, "_q").alias(out)).drop("_q")
    return df.join(found, on="_row", how="left", maintain_order="left")


def describe_files(vocab: Vocabulary | None = None) -> list[dict[str, Any]]:
    """Version, effective date and source of every documentation data file (for explain and reports)."""
    vocab = vocab or load_vocabulary()
    return [{"file": f, **m} for f, m in vocab.files.items()]
