"""Prompts and reference answers: every reference answer written in the prompt's format must be parsed back by the
extractor and score perfectly, so models trained on `prompts.target` are evaluated on the format they learned."""

from __future__ import annotations

import os

import pytest

from finbench import data, extract, metrics, prompts, registry

TASKS = list(registry.data_tasks(registry.SUITE, "finbench_extended"))  # fpb … finqa


@pytest.mark.parametrize("task", TASKS)
def test_reference_answers_round_trip_through_extraction_and_scoring(task, sample_data):
    records = [r for recs in data.load_splits(task).splits.values() for r in recs]
    assert records
    for doc in records:
        text = prompts.prompt(task, doc)
        assert text.rstrip().endswith("Answer:")
        parsed = extract.extract_answer(task, prompts.target(task, doc))
        if task == "ner":
            gold = ["O" if t.endswith("MISC") else t for t in doc["tags"]]
            tags, unplaced = metrics.entities_to_tags(doc["tokens"], parsed)
            assert (tags, unplaced) == (gold, 0), doc["id"]
        elif task in ("convfinqa", "finqa"):
            if isinstance(doc["answer"], str):
                continue  # yes/no turns are scored as text
            assert metrics.exec_match(parsed, doc["answer"]), (doc["id"], parsed, doc["answer"])
            assert metrics.strict_match(parsed, doc["answer_str"]), (doc["id"], parsed, doc["answer_str"])
        elif task == "tatqa":
            em, f1 = metrics.tatqa_em_f1(parsed, doc["answer"], doc["answer_type"], doc["scale"])
            assert (em, f1) == (1.0, 1.0), (doc["id"], parsed, doc["answer"], doc["scale"])
        else:
            assert parsed == doc["label"], doc["id"]


def test_prompt_shows_the_input_and_the_conversation_history(sample_data):
    turn = next(r for r in data.load_splits("convfinqa").splits["test"] if r["history"])
    text = prompts.prompt("convfinqa", turn)
    for q, a in turn["history"]:
        assert f"Question: {q}\nAnswer: {a}" in text
    assert text.endswith(f"Question: {turn['question']}\nAnswer:")
    fiqa = data.load_splits("fiqa_sa").splits["test"][0]
    assert fiqa["text"] in prompts.prompt("fiqa_sa", fiqa) and f"'{fiqa['target']}'" in prompts.prompt("fiqa_sa", fiqa)


def test_unknown_task_is_an_error():
    with pytest.raises(ValueError, match="unknown finbench task"):
        prompts.prompt("nope", {})


# what several documents share, and the field that differs between them (the prompt must end with the differing part)
SHARED = {
    "headline": ("headline", "question"),  # six questions per headline
    "ner_cls": ("text", "entity"),  # several entities per sentence
    "convfinqa": ("context", "question"),  # several turns per report
    "tatqa": ("context", "question"),  # several questions per table
}


@pytest.mark.parametrize("task", sorted(SHARED))
def test_shared_text_comes_first_for_prefix_caching(task, sample_data):
    """Two documents with the same shared field have prompts that agree up to the differing field, and the task
    instruction comes before both (vLLM's prefix cache then serves the shared part once)."""
    shared, varying = SHARED[task]
    docs = [r for recs in data.load_splits(task).splits.values() for r in recs]
    by_shared: dict[str, list[dict]] = {}
    for d in docs:
        by_shared.setdefault(d[shared], []).append(d)
    pairs = [(a, b) for group in by_shared.values() for a, b in zip(group, group[1:]) if a[varying] != b[varying]]
    assert pairs, f"the sample data has no two {task} documents sharing their {shared}"
    for a, b in pairs:
        pa, pb = prompts.prompt(task, a), prompts.prompt(task, b)
        common = len(os.path.commonprefix([pa, pb]))
        text = a[shared].strip()
        assert pa.index(text) + len(text) <= common, (a["id"], b["id"])  # the shared field is in the shared prefix
        assert pa.rindex(a[varying]) > pa.index(text), (a["id"], b["id"])  # and the differing field follows it
    first = [prompts.prompt(task, d) for d in docs[:2]]
    assert first[0][:40] == first[1][:40]  # the instruction leads
