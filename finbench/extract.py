"""Parse what a model wrote in answer to a finbench prompt into a normalised answer (None when nothing parses).

`extract_answer(task, text)`: one small parser per answer kind (PARSERS); a task's kind is its registry record's `answer`. First step for all
(`_clean`): chat-template leftovers go (`<|im_end|>`, `</s>`, a leading `assistant` line; text after an end-of-turn
token is cut); for label/entity tasks so does a few-shot continuation (a later `Text: ..` line, then `Answer:`).

LABELS (fpb, fiqa_sa, tfns -> negative/neutral/positive; headline -> yes/no; ner_cls -> person/organization/location).
Each synonym occurrence is a mention; mentions separated only by `, / | -`, or/and/nor, articles form a group.
Dropped groups: negated ones (not, n't, cannot, no, never, without, rather than, than, non- up to 3 words before,
same clause, not reaching back over an earlier mention or past "but") and option lists (a group naming every label:
"negative, neutral or positive", "yes or no", "yes and no"). A group with 2+ different labels is a HEDGE.
The answer is the first kept mention
  1. after the LAST strong marker (`answer is`, `answer:`, `final answer`) that has one after it, else
  2. at the very start, followed by punctuation/end ("Positive. (Although some might argue neutral.)" -> positive),
  3. after the FIRST weak marker that has one after it (`sentiment ... is`, `label:`, `classified as`, `is a`), else
  4. anywhere: the first mention that is not a hedge ("mixed positive and negative, but overall neutral" -> neutral).
In 1-3 a hedge is the answer: None ("It could be positive or neutral"). yes/no words are too common for that:
there only 1-3 apply, the word must come right after the marker, and be followed by punctuation, the end or a
pronoun/article ("No, the ..." yes; "No information is given" no). "True"/"False" are yes/no.
Sentiment: "neither positive nor negative", "not positive or negative", "no (clear) sentiment" -> neutral (denying
both poles is what neutral means); "mixed", "none", "neither", "objective" alone -> None: none of them picks one of
the three labels, and mapping them to one is the guessing this module exists to avoid.

ENTITIES (ner) -> [(text, "PER"|"ORG"|"LOC"|"MISC")], order of appearance, one per mention (repeats kept). A JSON/Python literal if
one parses (list of {entity, type} / [text, type], or {TYPE: [texts]}, or {text: TYPE}); else `"entity": "..",
"type": ".."` pairs (truncated JSON); else per line / `;`-piece: `X, type`, `X: type`, `type: X, Y`, `X (type)`,
`X - type`, `| X | type |`, `Entity: X, Type: T`, `X is a type`, `A, type, B, type`. Nothing found: [] when the
text says so ("None", "No entities", "Person: None", "does not contain any named entities"), else None.

NUMBERS (convfinqa, finqa) -> float, the number AS WRITTEN: "14.2%" -> 14.2, "$1.2 million" -> 1.2 (the scorer
decides % vs fraction and scale; `extract_number_with_scale` also gives the scale word and a percent flag).
"(1,234)", "(12.3)%", "(12.3%)" -> negative (accounting; not for a year "(2019)", nor for a restatement of the number
just before it, "0.35 (35%)"); unicode minus; 1.2e3; currency; thousands separators; "2018-2019" is two positive
numbers. Which number:
the last `\\boxed{}`; else after the LAST answer marker (`answer is/:/=`, `final answer`, `result is`) that has a
number after it: the first number on the marker's line, after that line's last `=` if any ("Answer: (100-85)/85 =
17.6%"), or if that line has none, the last number after the marker; else the bold number when the text bolds
exactly one value (`**14.2%**`; several bold values are intermediate steps); else the last number in the text.
When the chosen number and its neighbour give one quantity twice, as a fraction and a percent ("0.142 or 14.2%",
"14.2% (0.142)"), the percent form is the answer (the prompt asks for it).
Number words zero..twenty count only right after a marker or as the whole answer.

TEXT (tatqa) -> the rest of the line after the last answer marker (else the first non-empty line), without
markdown bold/backticks, surrounding quotes, trailing period. None when empty, punctuation only, or a refusal.
"""

from __future__ import annotations

import ast
import json
import math
import re

from finbench import registry

_END = re.compile(r"<\|(?:im_end|eot_id|eom_id|end|endoftext)\|>|</s>|<end_of_turn>|<\|im_start\|>\s*user", re.I)
_SPECIAL = re.compile(r"<\|[^|<>]{0,40}\|>|</?s>|<(?:start|end)_of_turn>|\[/?INST\]", re.I)
_ROLE = re.compile(r"^\s*(?:assistant|model)\s*(?::|\n)", re.I)
_NEXT_SHOT = re.compile(r"\n\s*(?:Text|Sentence|Headline)\s*:[^\n]*\n(?:[^\n]*\n)?\s*Answer\s*:", re.I)


def _clean(text: str, cut_next_shot: bool = False, ascii_quotes: bool = True) -> str:
    for m in _END.finditer(text):
        if _SPECIAL.sub("", text[: m.start()]).strip():
            text = text[: m.start()]
            break
    text = _ROLE.sub("", _SPECIAL.sub(" ", text), count=1)
    if ascii_quotes:
        text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    text = text.strip()
    if cut_next_shot and (m := _NEXT_SHOT.search(text)):
        text = text[: m.start()]
    return text


# ---------------------------------------------------------------- labels
_NEG = re.compile(
    r"(?:\bnot|\bcannot|n't|\bnever|\bno|\bneither|\bnor|\bwithout|\bhardly|\brather\s+than|"
    r"\binstead\s+of|\bthan|\bnon-?)\s*"
    r"(?:(?!but\b|yet\b|so\b|however\b|instead\b)[a-z']+\s+){0,3}$",
    re.I,
)
_GROUP_SEP = re.compile(r"(?:\s|[,/|\-]|\b(?:or|and|nor|a|an|the)\b)*", re.I)
_STRONG = re.compile(
    r"\b(?:final\s+)?answer\b\s*(?:is\b|:|=|would\s+be\b|should\s+be\b|will\s+be\b)|"
    r"\bfinal\s+answer\b",
    re.I,
)
_LEAD_FOLLOW = re.compile(r"\s*(?:$|[^\w\s])")
_YN_FOLLOW = re.compile(r"\s*(?:$|[^\w\s])|\s+(?:it|the|this|that|there|they|i|he|she|we)\b", re.I)
_MARKER_GAP = " \t\n:=-'\"([.,"
_HEDGE = object()


class _Labels:
    def __init__(self, synonyms: dict[str, list[str]], weak: str, anywhere: bool = True, abbrev=None):
        self.labels, self.anywhere, self.weak = tuple(synonyms), anywhere, re.compile(weak, re.I)
        self.lookup = {w: lab for lab, ws in synonyms.items() for w in [lab, *ws]}
        words = sorted(self.lookup, key=len, reverse=True)
        alts = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in words)
        abbr = "|".join(f"{a}|{a.title()}" for a in abbrev or {})  # case-sensitive: "PER", never "per share"
        self.lookup.update({a.lower(): lab for a, lab in (abbrev or {}).items()})
        self.rx = re.compile(rf"\b(?:(?i:{alts}){'|' + abbr if abbr else ''})\b")

    def extract(self, text: str):
        t = re.sub(r"[*_`#]+", " ", _clean(text, cut_next_shot=True))
        groups: list[list[tuple[int, int, str]]] = []
        ment_from, prev_end = [], 0  # negation never reaches back over a mention: "not negative but positive"
        for m in self.rx.finditer(t):
            if not self.anywhere and not _YN_FOLLOW.match(t, m.end()):
                continue
            ment = (m.start(), m.end(), self.lookup[" ".join(m.group().lower().split())])
            if groups and _GROUP_SEP.fullmatch(t, groups[-1][-1][1], m.start()):
                groups[-1].append(ment)
            else:
                groups.append([ment])
                ment_from.append(prev_end)
            prev_end = m.end()
        cands = []  # (start, label or _HEDGE)
        for g, lo in zip(groups, ment_from):
            labs = {lab for _, _, lab in g}
            if len(labs) == len(self.labels) or _NEG.search(t[max(lo, g[0][0] - 40) : g[0][0]]):
                continue
            cands += [(s, lab if len(labs) == 1 else _HEDGE, e) for s, e, lab in g]

        def after(pos: int):
            for s, lab, _ in cands:
                if s >= pos:
                    return lab if self.anywhere or not t[pos:s].strip(_MARKER_GAP) else None
            return None

        for m in reversed(list(_STRONG.finditer(t))):
            if (lab := after(m.end())) is not None:
                return None if lab is _HEDGE else lab
        lead_ok = cands and (not self.anywhere or _LEAD_FOLLOW.match(t, cands[0][2]))
        if lead_ok and not t[: cands[0][0]].strip(_MARKER_GAP):
            return None if cands[0][1] is _HEDGE else cands[0][1]
        for m in self.weak.finditer(t):
            if (lab := after(m.end())) is not None:
                return None if lab is _HEDGE else lab
        if self.anywhere:  # a hedge here is skipped when the model resolves it later ("mixed, but overall neutral")
            return next((lab for _, lab, _ in cands if lab is not _HEDGE), None)
        return None


_SENTIMENT = _Labels(
    {
        "negative": ["bearish", "pessimistic", "unfavourable", "unfavorable", "downbeat"],
        "neutral": [
            "neither positive nor negative",
            "neither negative nor positive",
            "neither bullish nor bearish",
            "neither bearish nor bullish",
            "not positive or negative",
            "not negative or positive",
            "no sentiment",
            "no clear sentiment",
            "no particular sentiment",
            "no strong sentiment",
        ],
        "positive": ["bullish", "upbeat", "optimistic", "favourable", "favorable"],
    },
    weak=r"\b(?:sentiment|label|classification|category|class|prediction|tone|polarity)\b[^.?!\n]{0,40}?"
    r"(?:\bis\b|:|=|\bwould\s+be\b|\bseems\b|\bappears\b)|\bclassif(?:y|ied)\b[^.?!\n]{0,30}?\bas\b|\bi'?d say\b|"
    r"\bi would say\b",
)
_YES_NO = _Labels(
    {"no": ["false"], "yes": ["true"]},
    anywhere=False,
    weak=r"\b(?:statement|claim)\s+is\b|\b(?:answer|response)\b[^.?!\n]{0,20}?:",
)
_ENTITY_TYPE = _Labels(
    {
        "person": ["persons", "people", "individual", "individuals", "human"],
        "organization": [
            "organisation",
            "organizations",
            "organisations",
            "company",
            "companies",
            "corporation",
            "bank",
            "firm",
            "institution",
            "agency",
            "business",
            "enterprise",
        ],
        "location": ["locations", "place", "country", "city", "region", "town", "nation", "geographic location"],
    },
    weak=r"\b(?:entity\s+type|type|category|class|label|classification)\b[^.?!\n]{0,40}?(?:\bis\b|:|=)|"
    r"\bis\s+an?\b|\brefers\s+to\s+an?\b|\bclassif(?:y|ied)\b[^.?!\n]{0,30}?\bas\b",
    abbrev={"PER": "person", "ORG": "organization", "LOC": "location"},
)

# ---------------------------------------------------------------- entities
_NER_TYPES = {
    **dict.fromkeys(["per", "person", "persons", "people", "individual", "individuals", "person name"], "PER"),
    **dict.fromkeys(
        [
            "org",
            "organization",
            "organizations",
            "organisation",
            "organisations",
            "company",
            "companies",
            "corporation",
            "institution",
        ],
        "ORG",
    ),
    **dict.fromkeys(
        ["loc", "location", "locations", "place", "places", "country", "city", "gpe", "geographic location"], "LOC"
    ),
    **dict.fromkeys(["misc", "miscellaneous", "other", "others"], "MISC"),
}
_TYPE_NAMES = {"per", "person", "org", "organization", "organisation", "loc", "location", "misc", "miscellaneous"}
_ENT_KEYS = ("entity", "text", "name", "word", "span", "value", "entity_text")
_TYPE_KEYS = ("type", "label", "entity_type", "tag", "category", "class", "entity_group")
_PAIR_RX = re.compile(
    r'"(?:entity|text|name|word|span)"\s*:\s*"([^"]+)"\s*,\s*"(?:type|label|entity_type|tag)"\s*:'
    r'\s*"([^"]+)"',
    re.I,
)
_EMPTY_RX = re.compile(
    r"\bno\s+(?:[\w-]+\s+){0,2}entit|(?:\bnot?|n't)\s+(?:\w+\s+){0,3}any\s+(?:\w+\s+)?entit|"
    r"^\W*(?:none|n/?a|nil|empty)\b|^\s*\[\s*\]\s*$|:\s*(?:none|n/a)\b",
    re.I,
)
_BULLET = re.compile(r"^\s*(?:[-*\u2022+]|\d+[.)])\s+")
_PAREN = re.compile(r"([^()\[\],;|\n]+?)\s*[(\[]\s*([^()\[\]\n]{1,40}?)\s*[)\]]")
_ENTITY_TYPE_RX = re.compile(
    r"(?:entity|name|text)\s*[:=]\s*(.+?)\s*[,;|]?\s*(?:entity\s+)?(?:type|label|tag|category)"
    r"\s*[:=]\s*(.+)$",
    re.I,
)
_IS_A = re.compile(r"^([^,;:]{1,80}?)\s+(?:is|are)\s+(?:an?\s+|the\s+)?(.+?)\W*$", re.I)


def _ner_type(s) -> str | None:
    if not isinstance(s, str):
        return None
    s = " ".join(s.strip().strip("()[]{}*_`'\".:;,").split()).lower()
    s = re.sub(r"^(?:entity\s+)?(?:type|tag|label|category)\s*[:=]\s*", "", s)
    s = re.sub(r"\s+(?:entity|entities|names?)$", "", re.sub(r"^[bi]-", "", s))
    return _NER_TYPES.get(s)


def _add(out: list, ent, typ: str | None) -> bool:
    if not isinstance(ent, str) or typ is None:
        return False
    e = _BULLET.sub("", ent).replace("**", "").replace("__", "").strip().strip("`'\" \t").rstrip(".,;:").strip()
    # an entity that is itself a type name ("organization, person") is a restated option list; synonyms such as
    # "Company" or "Bank" are real entities in SEC filings and stay
    bad = (
        not e
        or ":" in e
        or len(e.split()) > 12
        or e.lower() in ("none", "n/a", "na", "-", "nil")
        or any(p.strip().lower() in _TYPE_NAMES for p in e.split(","))
    )
    if not bad:  # a repeated line is another mention (the scorer places each mention once)
        out.append((e, typ))
    return not bad


def _ner_obj(obj, out: list) -> None:
    if isinstance(obj, dict):
        low = {str(k).lower(): v for k, v in obj.items()}
        ek = next((k for k in _ENT_KEYS if k in low), None)
        tk = next((k for k in _TYPE_KEYS if k in low), None)
        if ek and tk:
            _add(out, low[ek], _ner_type(low[tk]))
            return
        for k, v in obj.items():
            if (typ := _ner_type(k)) and isinstance(v, (list, str)):
                for e in [v] if isinstance(v, str) else v:
                    _add(out, e, typ)
            elif isinstance(v, str):
                _add(out, k, _ner_type(v))
            else:
                _ner_obj(v, out)
    elif isinstance(obj, (list, tuple)):
        if len(obj) == 2 and all(isinstance(x, str) for x in obj):
            _ = _add(out, obj[0], _ner_type(obj[1])) or _add(out, obj[1], _ner_type(obj[0]))
            return
        for item in obj:
            _ner_obj(item, out)


def _ner_piece(piece: str, out: list) -> None:
    p = _BULLET.sub("", piece).replace("**", "").replace("__", "").strip()
    if len(p) > 300:  # prose, not an entity line (and keeps the regexes below linear-time in practice)
        return
    p = re.sub(r"^(?:answer|(?:named\s+)?entities|output)\s*:\s*", "", p, flags=re.I)
    parts = [x.strip() for x in p.split(",")]
    if len(parts) >= 4 and len(parts) % 2 == 0 and all(_ner_type(x) for x in parts[1::2]):  # "A, type, B, type"
        for e, typ in zip(parts[::2], parts[1::2]):
            _add(out, e, _ner_type(typ))
        return
    if "|" in p:
        cells = [c.strip() for c in p.strip("|").split("|")]
        for i, c in enumerate(cells):
            if typ := _ner_type(c):
                ents = [e for e in cells[:i] if e and not re.fullmatch(r"[\d.\s]+", e)]
                _add(out, ents[-1] if ents else None, typ)
                return
        return
    if m := _ENTITY_TYPE_RX.search(p):
        _add(out, m.group(1), _ner_type(m.group(2)))
        return
    found = (
        [(m.group(1), t) for m in _PAREN.finditer(p) if (t := _ner_type(m.group(2)))] if "(" in p or "[" in p else []
    )
    if found:
        for e, typ in found:
            _add(out, e, typ)
        return
    for sep in (":", " - ", " \u2013 ", " \u2014 ", "->", "=>", "=", ","):
        if sep in p:
            left, right = p.split(sep, 1) if sep == ":" else p.rsplit(sep, 1)
            if typ := _ner_type(right):
                _add(out, left, typ)
                return
            if typ := _ner_type(left):
                for e in right.split(","):
                    _add(out, e, typ)
                return
    if (m := _IS_A.match(p)) and (typ := _ner_type(m.group(2))):
        _add(out, m.group(1), typ)


def _entities(text: str):
    t = _clean(text, cut_next_shot=True)
    out: list[tuple[str, str]] = []
    i = min((k for k in (t.find("["), t.find("{")) if k >= 0), default=-1)
    j = max(t.rfind("]"), t.rfind("}"))
    if 0 <= i < j:
        for load in (json.loads, ast.literal_eval):
            try:
                obj = load(t[i : j + 1])
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
            if isinstance(obj, (list, dict)):
                _ner_obj(obj, out)
                if out or not obj:
                    return out
            break
    for m in _PAIR_RX.finditer(t):
        _add(out, m.group(1), _ner_type(m.group(2)))
    if out:
        return out
    for line in t.splitlines():
        for piece in line.split(";"):
            _ner_piece(piece, out)
    if out:
        return out
    return [] if _EMPTY_RX.search(t.replace("*", "").replace("`", "")) else None


# ---------------------------------------------------------------- numbers
_NUM = re.compile(
    r"""(?<![\w.])(?P<lp>\(\s*)?(?P<sign>[-+\u2212\u2013](?=[$\u20ac\u00a3\u00a5\d.]|US))?
    (?P<cur>(?:US\$|USD|EUR|GBP|[$\u20ac\u00a3\u00a5])\s*)?(?P<sign2>[-\u2212])?
    (?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?P<exp>[eE][-+]?\d+)?(?P<pin>\s*%)?(?P<rp>\s*\))?
    (?:\s*(?P<pct>%|percent\b|per\s?cent\b|pct\b|percentage\s+points?\b))?
    (?:\s*(?P<scale>thousand|million|billion|trillion)s?\b|\s?(?P<abbr>bn|mn|mm)\b|(?P<short>[kmb])\b)?
    (?![\w]|\.\d)""",
    re.X | re.I,
)
_SCALES = {"k": "thousand", "m": "million", "mm": "million", "mn": "million", "b": "billion", "bn": "billion"}
_WORDS = {
    w: float(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
}
_WORD_RX = re.compile(r"^[\s:=\-'\"]*(?:approximately\s+|about\s+)?(" + "|".join(_WORDS) + r")\b", re.I)
_NUM_MARKER = re.compile(
    r"\b(?:final\s+answer|answer|result)\b\s*(?:(?:is|would\s+be|should\s+be|will\s+be|equals)"
    r"\b\s*:?|[:=]|-(?!\d))|\bfinal\s+answer\b",
    re.I,
)


def _value(m: re.Match) -> tuple[float, str | None, bool]:
    v = float(m["num"].replace(",", "") + (m["exp"] or ""))
    pct = bool(m["pin"] or m["pct"])
    year = re.fullmatch(r"(?:19|20)\d\d", m["num"]) is not None
    parens = bool(m["lp"] and m["rp"]) and not year
    neg = m["sign"] in ("-", "\u2212", "\u2013") or bool(m["sign2"]) or parens
    scale = (m["scale"] or _SCALES.get((m["abbr"] or m["short"] or "").lower()) or "").lower() or None
    return (-v if neg else v, scale, pct)


def _delatex(t: str) -> str:
    t = re.sub(r"\\(?:text|mathrm|textbf|mathbf)\s*\{([^{}]*)\}", r"\1", t)
    t = t.replace("\\%", "%").replace("\\$", "$").replace("{,}", ",").replace("\\approx", " ~ ")
    return re.sub(r"\\[()\[\],!;]", " ", t)


_RESTATE_GAP = re.compile(r"\s*")
_DUAL_GAP = re.compile(r"[\s,]*(?:or|i\.e\.,?|that\s+is|which\s+is|=|\u2248|~)?\s*", re.I)


def _same_quantity(a: tuple, b: tuple, forms: bool) -> bool:
    """a and b are one quantity: a fraction and its percent (0.142 and 14.2%; forms=True), or also (forms=False)
    equal magnitudes, for a parenthesised restatement ("0.35 (35%)", "14.2% (0.142)", "12 (12)")."""
    (va, _, pa), (vb, _, pb) = a, b
    if pa != pb:
        frac, pct = (va, vb) if pb else (vb, va)
        return math.isclose(abs(frac) * 100, abs(pct), rel_tol=0.01)
    return not forms and math.isclose(abs(va), abs(vb), rel_tol=1e-9)


def _numbers(text: str, pos: int = 0) -> list[tuple[re.Match, tuple]]:
    """The numbers of text[pos:] with their values; a parenthesised number right after a number it restates is
    positive ("0.35 (35%)": 35, not -35; "(12.3%)" alone is -12.3)."""
    out: list[tuple[re.Match, tuple]] = []
    for m in _NUM.finditer(text, pos):
        v = _value(m)
        if (
            v[0] < 0
            and m["lp"]
            and m["rp"]
            and out
            and _RESTATE_GAP.fullmatch(text, out[-1][0].end(), m.start())
            and _same_quantity(out[-1][1], v, forms=False)
        ):
            v = (-v[0], v[1], v[2])
        out.append((m, v))
    return out


def _pick(text: str, nums: list, i: int) -> tuple:
    """nums[i]'s value; when the answer gives the same quantity twice ("0.142 or 14.2%", "14.2% (0.142)"), the
    percent form, which the prompt asks for."""
    m, v = nums[i]
    for j in (i - 1, i + 1):
        if 0 <= j < len(nums):
            (m1, v1), (m2, v2) = sorted([nums[i], nums[j]], key=lambda n: n[0].start())
            if _DUAL_GAP.fullmatch(text, m1.end(), m2.start()) and _same_quantity(v1, v2, forms=True):
                return v1 if v1[2] else v2
    return v


def _region(seg: str):
    if "=" in seg:
        seg = seg[seg.rfind("=") + 1 :]
    if nums := _numbers(seg):
        return _pick(seg, nums, 0)
    if m := _WORD_RX.match(seg):
        return (_WORDS[m.group(1).lower()], None, False)
    return None


def extract_number_with_scale(text: str) -> tuple[float, str | None, bool] | None:
    """THE answer number of `text` as (value as written, scale word or None, written as a percent?), or None."""
    if not isinstance(text, str) or not (t := _delatex(_clean(text))):
        return None
    for box in reversed(re.findall(r"\\boxed\s*\{((?:[^{}]|\{[^{}]*\})*)\}", t)):
        if nums := _numbers(box):
            return _pick(box, nums, 0)
    plain = re.sub(r"\*\*|__|`", " ", t)
    for mk in reversed(list(_NUM_MARKER.finditer(plain))):
        eol = plain.find("\n", mk.end())
        if r := _region(plain[mk.end() : eol if eol >= 0 else None]):
            return r
        if nums := _numbers(plain, mk.end()):
            return _pick(plain, nums, len(nums) - 1)
    bold = {
        _value(m)
        for b in re.findall(r"\*\*([^*\n]{1,60}?)\*\*", t)
        if (
            m := _NUM.fullmatch(
                re.sub(r"^(?:approximately|about|around|roughly|~|\u2248)\s*", "", b.strip(), flags=re.I).rstrip(".,")
            )
        )
    }
    if len(bold) == 1:  # one emphasised value is the answer; several are intermediate results
        return bold.pop()
    if nums := _numbers(plain):
        return _pick(plain, nums, len(nums) - 1)
    if m := re.fullmatch(r"\W*(" + "|".join(_WORDS) + r")\W*", plain, re.I):
        return (_WORDS[m.group(1).lower()], None, False)
    return None


def _number(text: str) -> float | None:
    r = extract_number_with_scale(text)
    return None if r is None else r[0]


# ---------------------------------------------------------------- text
_REFUSAL = re.compile(
    r"^(?:i\s+(?:cannot|can['\u2019]t|can\s+not|am\s+unable|'m\s+unable|do\s+not\s+know|don['\u2019]t\s+know)|"
    r"not\s+(?:enough|sufficient)\s+information|n/?a$|unknown$)",
    re.I,
)


_QUOTES = "\"'\u2018\u2019\u201c\u201d"


def _text(text: str) -> str | None:
    t = _clean(text, ascii_quotes=False)  # the answer is scored on its characters: "Company\u2019s" stays
    if marks := list(_STRONG.finditer(t)):
        t = t[marks[-1].end() :]
    line = next((ln for ln in t.splitlines() if ln.strip(" \t*_`:")), "")
    line = line.replace("**", "").replace("__", "").replace("`", "").strip().lstrip(":").strip()
    line = line.rstrip(".").strip()
    if len(line) >= 2 and line[0] in _QUOTES and line[-1] in _QUOTES:  # only a quoted answer loses its quotes:
        line = line[1:-1].rstrip(".").strip()  # the scorer keeps a closing \u201d, so must the answer
    if not re.search(r"[^\W_]", line) or _REFUSAL.match(line):
        return None
    return line


# ---------------------------------------------------------------- multiple-choice letters (MMLU, generative)
_LETTER_MARKER = re.compile(
    r"(?i:\b(?:final\s+)?(?:answer|option|choice)\b\s*(?:is\b|:|=|would\s+be\b|should\s+be\b)?"
    r"\s*(?:\(|\*\*|option\s+)?)\s*([A-D])\b(?![\w'])"
)
_LETTER_LEAD = re.compile(r"^[\s*_`\"'(\[]*([A-D])(?:[)\].:,*`\"']|\s*$|[ \t]*\n)")
_LETTER_MARKED = re.compile(r"\(([A-D])\)|\b([A-D])[.)](?:\s|$)|\b(?:option|choice)\s+([A-D])\b")


def extract_letter(text: str | None, letters: str = "ABCD") -> str | None:
    """The option letter a reply chooses: the letter after the last answer marker ("Answer: C", "the answer is (b)",
    "option D"), else a reply that starts with a letter ("C", "C. 4%", "(C)"), else the one letter marked as an option
    ("(C)", "C.") when the reply marks exactly one. None when none (or several) can be read."""
    if not isinstance(text, str) or not (t := _clean(text)):
        return None
    found = [m.group(1).upper() for m in _LETTER_MARKER.finditer(t)]
    if found and found[-1] in letters:
        return found[-1]
    if (m := _LETTER_LEAD.match(t)) and m.group(1) in letters:
        return m.group(1)
    marked = {next(g for g in m.groups() if g) for m in _LETTER_MARKED.finditer(t)}
    marked &= set(letters)
    return marked.pop() if len(marked) == 1 else None


def extract_reply(text: str | None) -> str | None:
    """The reply as a judge should read it: special tokens and a leading role name removed; None when empty."""
    if not isinstance(text, str):
        return None
    t = _clean(text, ascii_quotes=False)
    return t if re.search(r"[^\W_]", t) else None


# ---------------------------------------------------------------- parsers by answer kind (registry.Task.answer)
PARSERS = {
    "sentiment": _SENTIMENT.extract,
    "yes_no": _YES_NO.extract,
    "entity_type": _ENTITY_TYPE.extract,
    "entities": _entities,
    "number": _number,
    "text": _text,
    "letter": extract_letter,
    "reply": extract_reply,
}
KNOWN_TASKS = tuple(t.name.removeprefix("finbench_") for t in registry.TASKS.values() if t.answer in PARSERS)


def parse(kind: str, text: str | None):
    """The answer of kind `kind` (a key of PARSERS) in the model output `text`, or None when none can be parsed."""
    if not isinstance(text, str) or not text.strip():
        return None
    return PARSERS[kind](text)


def extract_answer(task: str, text: str | None):
    """The normalised answer of `task` (a registry name: `finbench_fpb` or `fpb`) in the model output `text`, or
    None when none can be parsed."""
    kind = registry.TASKS.get(task) or registry.TASKS.get(f"finbench_{task}")
    if kind is None or kind.answer not in PARSERS:
        raise ValueError(f"unknown task {task!r}; known tasks: {', '.join(KNOWN_TASKS)}")
    return parse(kind.answer, text)
