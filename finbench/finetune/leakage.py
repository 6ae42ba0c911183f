"""Test-leakage guard: every training example is checked against every test split of the suite.

A document is identified by keys: the hash of its normalised text (case, accents, punctuation and spacing
removed) and, where the source has them, report identities (the ConvFinQA/FinQA page, the TAT-QA table). The test
splits of the knowledge sets (MMLU finance, FinanceMath, FinanceBench: `data.KNOWLEDGE`) are indexed too, by their
questions and the passages they come with (FinanceBench's evidence pages are 10-K/10-Q excerpts, the kind of filing
ConvFinQA and TAT-QA contexts are cut from; FinanceMath's tables; MMLU's choices). A training
example leaks when any of its keys, or the hash of its prompt, equals one of a test document's, in any task (an FPB
sentence in TFNS's test split counts too), or when its id names a test record, or when the text it trains on
near-duplicates a test document (word n-gram containment, `finbench.decontam`: a tweet under a ticker prefix and a
URL, a sentence fragment inside a longer sentence, a report paragraph shared by two tables of one filing).
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from finbench import data, decontam, prompts, registry
from finbench.config import DataError

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


class LeakageError(Exception):
    """Training examples overlap a test split; the message is the report."""


def normalise(text: str) -> str:
    if not text.isascii():  # accents off (a per-character pass: only where there can be any)
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return _NON_WORD.sub("", text.lower())


def text_key(text: str) -> str:
    return "text:" + hashlib.sha1(normalise(text).encode()).hexdigest()


def doc_keys(task: str, doc: dict) -> set[str]:
    """The identities of the document behind one record of `task` (general/math: the user turns' text)."""
    if task in data.TRAIN_ONLY:
        return {text_key(m["content"]) for m in doc["messages"] if m["role"] == "user"}
    try:
        spec = registry.get(task)  # which fields identify the document: its registry record
    except KeyError:
        raise ValueError(f"unknown finbench task {task!r}") from None
    keys = {text_key(doc[spec.document])}
    if spec.report:  # the report page / table a QA record is about
        keys.add(f"{spec.report[0]}:{doc[spec.report[1]]}")
    return keys | {text_key(prompts.prompt(task, doc))}


def _passages(task: str, doc: dict) -> list[str]:
    """A knowledge-set test record's question and the texts it comes with (evidence pages, tables, choices)."""
    extra = {"financebench": "evidence", "financemath": "tables", "mmlu_finance": "choices"}[task]
    value = doc.get(extra) or []
    return [doc["question"], *(value if isinstance(value, list) else [value])]


def test_documents(task: str, doc: dict) -> tuple[set[str], str]:
    """(exact keys, near-duplicate text) of one test record of any evaluated task, suite or knowledge set."""
    if task in data.KNOWLEDGE:
        texts = [t for t in _passages(task, doc) if isinstance(t, str) and t.strip()]
        return {text_key(t) for t in texts}, "\n\n".join(texts)
    return doc_keys(task, doc), decontam.document_text(task, doc)


@dataclass
class TestIndex:
    keys: dict[str, set[str]]  # key -> test tasks holding it
    ids: dict[str, str]  # "<task>/<record id>" of every test record -> task
    missing: list[str] = field(default_factory=list)  # tasks whose data is absent (cannot be checked)
    near: decontam.Index | None = None  # the test documents' units, for near-duplicates


@functools.lru_cache(maxsize=4)
def _test_index(root: str) -> TestIndex:
    keys: dict[str, set[str]] = defaultdict(set)
    ids: dict[str, str] = {}
    missing, texts = [], []
    for task in data.TASKS + data.KNOWLEDGE:
        try:
            test = data.load_splits(task, root).splits.get("test", [])
        except DataError:
            missing.append(task)
            continue
        for doc in test:
            ids[f"{task}/{doc['id']}"] = task
            doc_keyset, text = test_documents(task, doc)
            texts.append((task, doc["id"], text))
            for k in doc_keyset:
                keys[k].add(task)
    return TestIndex(dict(keys), ids, missing, decontam.Index(texts))


def test_index() -> TestIndex:
    """Keys of every test document of every suite task and knowledge set found in the data dir (built once per data
    dir)."""
    return _test_index(data.resolve())


def leaked(task: str, doc: dict, index: TestIndex) -> set[str]:
    """The test tasks that `doc` (a record of `task`'s train split) shares a document with (same keys)."""
    hits = set()
    for k in doc_keys(task, doc):
        hits |= index.keys.get(k, set())
    return hits


def near_duplicates(records: list[dict], index: TestIndex) -> dict[int, list[dict]]:
    """Record position -> the test documents its messages near-duplicate, as pair dicts (see `Report.pairs`)."""
    texts, owner = [], []
    for i, rec in enumerate(records):
        for m in rec["messages"]:
            texts.append(m["content"])
            owner.append(i)
    out: dict[int, list[dict]] = defaultdict(list)
    for m in index.near.match(texts):
        i = owner[m.text]
        rec = records[i]
        out[i].append(
            {
                "train": rec["id"],
                "source": rec["source"],
                "test_tasks": sorted({task for task, _ in m.unit.docs}),
                "tests": [f"{task}/{rid}" for task, rid in m.unit.docs],
                "test_text": m.unit.text,
                "train_text": decontam.snippet(texts[m.text], m),
                "share": round(m.share, 3),
                "span": m.span,
            }
        )
    return dict(out)


@dataclass
class Report:
    examples: int
    overlaps: Counter  # (train source, test task) -> examples
    samples: dict  # (train source, test task) -> up to 3 example ids
    unchecked: list[str]  # test tasks whose data is missing
    pairs: list[dict] = field(default_factory=list)  # near-duplicates, one per (example, test text): {train,
    #                                source, test_tasks, tests (the test records holding it), test_text, train_text,
    #                                share, span}

    @property
    def clean(self) -> bool:
        return not self.overlaps

    def format(self) -> str:
        lines = [
            f"leakage check: {self.examples} training examples against the test splits of "
            f"{', '.join(t for t in data.TASKS + data.KNOWLEDGE if t not in self.unchecked)}"
        ]
        if self.unchecked:
            lines.append(f"  not checked (no data): {', '.join(self.unchecked)}")
        if self.clean:
            lines.append("  no overlap")
        for (src, test), n in sorted(self.overlaps.items()):
            lines.append(
                f"  {n} example(s) from {src} share a document with the {test} test split, "
                f"e.g. {', '.join(self.samples[(src, test)])}"
            )
        if self.pairs:
            tests = len({t for p in self.pairs for t in p["tests"]})
            lines.append(
                f"  near-duplicates: {len({p['train'] for p in self.pairs})} example(s), {tests} test "
                f"record(s) (word n-gram containment, finbench.decontam):"
            )
        for p in self.pairs:
            more = f" (+{len(p['tests']) - 1} more test records with this text)" if len(p["tests"]) > 1 else ""
            lines.append(f"    test  {p['tests'][0]}{more}: {_one_line(p['test_text'])}")
            lines.append(
                f"    train {p['train']}: {_one_line(p['train_text'])}  "
                f"(share {p['share']:.2f}, span {p['span']} words)"
            )
        return "\n".join(lines)


def _one_line(text: str, width: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def check(records: list[dict]) -> Report:
    """Check mixture records ({id, source, messages}) by looking up their documents; ids must be train records."""
    index = test_index()
    train_docs: dict[str, dict[str, dict]] = {}
    overlaps: Counter = Counter()
    samples: dict = defaultdict(list)

    def hit(src: str, test: str, rid: str) -> None:
        overlaps[(src, test)] += 1
        if len(samples[(src, test)]) < 3:
            samples[(src, test)].append(rid)

    near = near_duplicates(records, index)
    pairs = [p for i in sorted(near) for p in near[i]]
    for i, rec in enumerate(records):
        src, rid = rec["source"], rec["id"]
        if rid in index.ids:
            hit(src, index.ids[rid], rid)
            continue
        if src not in train_docs:
            train_docs[src] = {f"{src}/{d['id']}": d for d in data.load_splits(src).splits["train"]}
        doc = train_docs[src].get(rid)
        tasks = leaked(src, doc, index) if doc is not None else set()
        # the text actually trained on is checked as well (an edited or foreign record has no train document)
        user = " ".join(m["content"] for m in rec["messages"] if m["role"] == "user")
        tasks |= index.keys.get(text_key(user), set())
        if doc is None and src not in data.TRAIN_ONLY:
            tasks |= {"(not a train record of " + src + ")"}
        tasks |= {t for p in near.get(i, []) for t in p["test_tasks"]}
        for test in sorted(tasks):
            hit(src, test, rid)
    return Report(len(records), overlaps, dict(samples), list(index.missing), pairs)


def guard(records: list[dict], allow: bool = False) -> Report:
    """Run the check; raise LeakageError with the report on any overlap unless `allow`."""
    report = check(records)
    if not report.clean and not allow:
        raise LeakageError(
            report.format() + "\nTraining stopped. Remove these examples (mixture.decontaminate: "
            "true does it) or pass --allow-leakage to train anyway."
        )
    return report
