"""FiQA 2018 task 1 (headlines + posts): one record per aspect, 3 classes from the score; test = FinGPT's 235 items."""

from __future__ import annotations

from pathlib import Path

from ._common import Reader, Splits, carve_dev, fingpt_input, log

FILES = {"headline": "fiqa_sa/task1_headline_ABSA_train.json", "post": "fiqa_sa/task1_post_ABSA_train.json"}
FINGPT = "fiqa_sa/fingpt/fiqa_test.jsonl"
SOURCE = (
    "the FiQA 2018 task 1 training files task1_headline_ABSA_train.json / task1_post_ABSA_train.json "
    "(e.g. github.com/ashishsalunkhe/Aspect-based-Financial-Sentiment-Analysis commit 8f7d95c6, dataset/*.json; "
    "original: sites.google.com/view/fiqa) and FinLoRA's data/test/fiqa_test.jsonl "
    "(github.com/Open-Finance-Lab/FinLoRA commit 7e1cf828) as fiqa_sa/fingpt/fiqa_test.jsonl"
)
# FinGPT prompts say "tweet" for posts and "news" for headlines.
PROMPT_SOURCE = {"tweet": "post", "news": "headline"}


def label(score: float) -> str:
    """FinGPT's rule (FinGPT_Benchmark/benchmarks/fiqa.py make_label): < -0.1 negative, [-0.1, 0.1) neutral,
    >= 0.1 positive."""
    if score < -0.1:
        return "negative"
    if score < 0.1:
        return "neutral"
    return "positive"


def parse(reader: Reader, source: str, path: Path) -> list[dict]:
    data = reader.json(path)
    if not isinstance(data, dict):
        reader.problem(path, "file", f"expected a JSON object keyed by id, got {type(data).__name__}")
        return []
    rows = []
    for key, rec in data.items():
        sentence = rec.get("sentence") if isinstance(rec, dict) else None
        info = rec.get("info") if isinstance(rec, dict) else None
        if not isinstance(sentence, str) or not sentence.strip() or not isinstance(info, list):
            reader.problem(path, f"record {key}", "missing 'sentence' or 'info' list")
            continue
        for j, aspect in enumerate(info):
            try:
                score = float(aspect["sentiment_score"])
                target = str(aspect["target"])
            except (TypeError, KeyError, ValueError) as e:
                reader.problem(path, f"record {key} info {j}", f"bad aspect entry ({type(e).__name__}: {e})")
                continue
            if not -1.0 <= score <= 1.0:
                reader.problem(path, f"record {key} info {j}", f"sentiment_score {score} outside [-1, 1]")
                continue
            rows.append(
                {
                    "id": f"fiqa-{source}-{key}-{j}",
                    "text": sentence,
                    "target": target,
                    "source": source,
                    "score": score,
                    "label": label(score),
                }
            )
    return rows


def match_fingpt(reader: Reader, path: Path, rows: list[dict]) -> list[dict]:
    """Test items in FinGPT file order: for each FinGPT record, the first unused aspect of the same sentence and
    source whose label equals the FinGPT target (else the first unused aspect of that sentence, a problem)."""
    by_text: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        by_text.setdefault((r["source"], r["text"]), []).append(r)
    used: set[str] = set()
    test = []
    for n, obj in reader.jsonl(path):
        context = str(obj.get("context", ""))
        text = fingpt_input(context)
        kind = "tweet" if "this tweet" in context else "news"
        cands = [r for r in by_text.get((PROMPT_SOURCE[kind], text), []) if r["id"] not in used] if text else []
        if not cands:
            reader.problem(path, f"line {n}", "FinGPT test input not found among the labelled FiQA sentences")
            continue
        pick = next((r for r in cands if r["label"] == obj.get("target")), None)
        if pick is None:
            pick = cands[0]
            reader.problem(path, f"line {n}", f"FinGPT target {obj.get('target')!r} != derived label of {pick['id']}")
        used.add(pick["id"])
        test.append(pick)
    return test


def load(root: Path) -> Splits:
    reader = Reader("fiqa_sa", root, SOURCE)
    rows = []
    for source, rel in FILES.items():
        rows += parse(reader, source, reader.path(rel))
    test = match_fingpt(reader, reader.path(FINGPT), rows)
    # Other aspects of a test sentence are kept out of train/dev: their prompt text would equal a test prompt.
    test_texts = {(r["source"], r["text"]) for r in test}
    train = [r for r in rows if (r["source"], r["text"]) not in test_texts]
    held_out = len(rows) - len(train) - len(test)
    if held_out:
        log.info("fiqa_sa: %d other aspect(s) of test sentences kept out of train/dev", held_out)
    train, dev = carve_dev(train, group=lambda r: f"{r['source']}\t{r['text']}")
    return reader.done({"train": train, "dev": dev, "test": test})
