"""Near-duplicate detection between training text and test documents: normalised word n-gram containment.

A test document is cut into *units*: a sentence, tweet or headline is one unit; a report context (ConvFinQA, TAT-QA,
FinQA) is one unit per paragraph (line) of at least PARAGRAPH words, its table rows together as one more (shorter
lines are headings such as "Cash Flows from Operating Activities" that every filing repeats). Text is normalised to
words (accents, case, URLs, cashtags such as `$I`, punctuation and spacing removed). A training text contaminates a unit when

- the unit has at least N words and at least SHARE of its N-grams occur in that one training text, or a run of
  SPAN words of it does (a shared paragraph inside a long report context), or
- the unit is shorter than N words (but at least MIN_WORDS) and occurs in the training text as a whole, as a
  contiguous word sequence (a short tweet under a ticker prefix and a URL, a sentence fragment inside a longer one).

The constants are justified on the real data in finetune/README.md. Matching is vectorised: every window of the
training texts gets a 64-bit polynomial hash (numpy), windows whose hash belongs to a unit's n-gram are verified
word by word, so the result is exact.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from finbench import registry

N = 8  # n-gram length
SHARE = 0.6  # share of a unit's n-grams found in one training text
SPAN = 30  # or: a run of this many of its words (n-grams at consecutive positions)
MIN_WORDS = 5  # units shorter than N: at least this many words, contained whole
PARAGRAPH = 25  # report contexts: paragraphs (and tables) of at least this many words
REPORTS = ("convfinqa", "tatqa", "finqa")

_URL = re.compile(r"(?:https?://|www\.)\S*")
_CASHTAG = re.compile(r"\$[a-z][a-z0-9._]*")
_WORD = re.compile(r"[^\W_]+")
_P = np.uint64(0x9E3779B97F4A7C15)


def words(text: str) -> list[str]:
    """The normalised words of `text` (what both sides are compared on)."""
    if not text.isascii():  # accents off (a per-character pass: only where there can be any)
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return _WORD.findall(_CASHTAG.sub(" ", _URL.sub(" ", text.lower())))


def units(text: str) -> list[str]:
    """The units of one test document's text: each line, except that table rows (`a | b`) form one unit."""
    lines = [ln for ln in text.split("\n") if ln.strip()]
    table = [ln for ln in lines if "|" in ln]
    return [ln for ln in lines if "|" not in ln] + (["\n".join(table)] if table else [])


@dataclass
class Unit:
    text: str
    words: tuple[int, ...]  # word ids
    docs: list[tuple[str, str]]  # (test task, record id) of every test record containing it


@dataclass
class Match:
    text: int  # index of the training text
    unit: Unit
    share: float  # share of the unit's n-grams found in the training text (1.0 for a contained short unit)
    span: int  # longest run of the unit's words found (approximately: consecutive n-grams)
    start: int  # word offset of the (first) match in the training text


def _hashes(ids: np.ndarray, n: int) -> list[np.ndarray]:
    """h[k][i] = hash of ids[i:i+k+1] for k < n (arrays shrink as windows grow)."""
    out, h = [], np.zeros(len(ids), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            h = h[: len(ids) - k] * _P + ids[k:].astype(np.uint64)
            out.append(h)
    return out


class Index:
    """The units of a set of test documents, ready to be matched against training texts."""

    def __init__(
        self,
        docs: list[tuple[str, str, str]],
        n: int = N,
        share: float = SHARE,
        span: int = SPAN,
        min_words: int = MIN_WORDS,
        paragraph: int = PARAGRAPH,
    ):
        """`docs`: (test task, record id, text) of every test document."""
        self.n, self.share, self.span = n, share, span
        self.vocab: dict[str, int] = {}
        by_words: dict[tuple[int, ...], Unit] = {}
        for task, rid, text in docs:
            for u in units(text):
                ws = words(u)
                if len(ws) < (paragraph if task in REPORTS else min_words):
                    continue
                key = tuple(self.vocab.setdefault(w, len(self.vocab) + 1) for w in ws)
                unit = by_words.get(key)
                if unit is None:
                    unit = by_words[key] = Unit(u, key, [])
                if (task, rid) not in unit.docs:
                    unit.docs.append((task, rid))
        self.units = list(by_words.values())
        # n-gram hash -> [(unit, position)] for long units; whole-unit hash -> [unit] per length for short ones
        post: dict[int, list[tuple[int, int]]] = defaultdict(list)
        self.short: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
        for ui, unit in enumerate(self.units):
            hs = _hashes(np.array(unit.words, dtype=np.int64), min(n, len(unit.words)))
            if len(unit.words) >= n:
                for pos, h in enumerate(hs[n - 1].tolist()):
                    post[h].append((ui, pos))
            else:
                self.short[len(unit.words)][int(hs[-1][0])].append(ui)
        self.post = dict(post)
        self._keys = {
            k: np.array(sorted(v), dtype=np.uint64)
            for k, v in [(n, self.post)] + [(k, d) for k, d in self.short.items()]
        }

    def ids(self, text: str) -> list[int]:
        return [self.vocab.get(w, 0) for w in words(text)]

    def match(self, texts: list[str]) -> list[Match]:
        """Every (training text, unit) pair that is contaminated, in text order."""
        ids_of = [self.ids(t) for t in texts]
        offsets = np.cumsum([0] + [len(x) + 1 for x in ids_of])
        flat = np.zeros(int(offsets[-1]), dtype=np.int64)  # 0 (a word no unit has) separates the texts
        for i, x in enumerate(ids_of):
            flat[offsets[i] : offsets[i] + len(x)] = x
        if not len(flat):
            return []
        hs = _hashes(flat, self.n)
        hits: dict[tuple[int, int], set[int]] = defaultdict(set)  # (text, unit) -> unit positions found
        first: dict[tuple[int, int], int] = {}
        out = []
        for k, keys in self._keys.items():
            h = hs[k - 1]
            where = np.nonzero(np.isin(h, keys))[0]
            for at in where.tolist():
                ti = int(np.searchsorted(offsets, at, side="right")) - 1
                window = tuple(flat[at : at + k].tolist())
                if k == self.n:
                    for ui, pos in self.post[int(h[at])]:
                        if self.units[ui].words[pos : pos + k] == window:
                            hits[(ti, ui)].add(pos)
                            first.setdefault((ti, ui), int(at - offsets[ti]))
                else:
                    for ui in self.short[k][int(h[at])]:
                        if self.units[ui].words == window and (ti, ui) not in first:
                            first[(ti, ui)] = int(at - offsets[ti])
                            out.append(Match(ti, self.units[ui], 1.0, k, first[(ti, ui)]))
        for (ti, ui), found in hits.items():
            unit = self.units[ui]
            grams = len(unit.words) - self.n + 1
            share = len(found) / grams
            span = _longest_run(sorted(found)) + self.n - 1
            if share >= self.share or span >= self.span:
                out.append(Match(ti, unit, share, span, first[(ti, ui)]))
        out.sort(key=lambda m: (m.text, m.start))
        return out


def _longest_run(positions: list[int]) -> int:
    best = run = 1
    for a, b in zip(positions, positions[1:]):
        run = run + 1 if b == a + 1 else 1
        best = max(best, run)
    return best


# -- the suite's documents ------------------------------------------------------------------------------------------
def document_text(task: str, doc: dict) -> str:
    """The document text of one record of a suite task (the sentence, tweet, headline or report context: the field
    its registry record names)."""
    return doc[registry.get(task).document]


def documents(task: str, split: str, root: str | None = None) -> list[tuple[str, str, str]]:
    """(task, record id, document text) of every record of `task`'s `split` (DataError when its data is absent)."""
    from finbench import data

    return [(task, d["id"], document_text(task, d)) for d in data.load_splits(task, root).splits.get(split, [])]


def train_overlap(task: str, root: str | None = None) -> tuple[int, int]:
    """(test records with a near-duplicate in the task's train or dev split, test records): what a model trained on
    the public train files (finbench carves dev out of them) could have memorised."""
    test = documents(task, "test", root)
    if not test:
        return 0, 0
    index = Index(test)
    train = list(dict.fromkeys(t for s in ("train", "dev") for _, _, t in documents(task, s, root)))
    found = {rid for m in index.match(train) for _, rid in m.unit.docs}
    return len(found), len(test)


def snippet(text: str, match: Match) -> str:
    """The line(s) of `text`, as written, holding the matched words (a prompt's `Text: …` line, a paragraph)."""
    lines, seen, out = text.split("\n"), 0, []
    end = match.start + min(len(match.unit.words), match.span)
    for line in lines:
        n = len(words(line))
        if seen + n > match.start and seen < end:
            out.append(line.strip())
        seen += n
    return " / ".join(out)


def annotate(rows: list[dict], data_dir=None) -> None:
    """`finbench data check`'s hook: each found task row gets `train_near_duplicates` = [test records with a
    near-duplicate in the task's train + dev splits, test records] (tasks without a test split: absent)."""
    for row in rows:
        if row["status"] == "found" and row["counts"].get("test") and row["counts"].get("train"):
            row["train_near_duplicates"] = list(train_overlap(row["task"], data_dir))


def notes(rows: list[dict]) -> list[str]:
    """The lines `finbench data check` prints for `annotate`'s counts."""
    return [
        f"{r['task']}: {n} of {total} test records ({n / total:.1%}) have a near-duplicate in the task's train "
        f"files (train + dev splits; finbench.decontam): a model trained on them can have seen these"
        for r in rows
        if r.get("train_near_duplicates")
        for n, total in [r["train_near_duplicates"]]
        if n
    ]
