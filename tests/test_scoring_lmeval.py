"""The scoring-parity checks through the real pipeline: the `lm_eval` CLI (`local-chat-completions`, real HTTP) against
a scripted server on 127.0.0.1 that answers every real TAT-QA and ConvFinQA test question with a known output:
the gold answer in the prompt's format, `Answer: 0 billion`, or the executed answer in the wrong unit (x1000)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from answer_server import answer_server
from finbench import data, prompts
from helpers import assert_recomputed, env, lm_eval, one_run, real_data_dir

pytestmark = [
    pytest.mark.slow,
    pytest.mark.realdata,
    pytest.mark.skipif(real_data_dir() is None, reason="needs FINBENCH_DATA_DIR with the real data"),
]

TASKS = ("tatqa", "convfinqa")


@pytest.fixture(scope="module")
def docs_by_prompt(monkeypatch_module) -> dict[str, tuple[str, dict]]:
    """prompt text -> (task, record) for every test record of the two tasks."""
    out = {}
    for task in TASKS:
        for doc in data.load_splits(task).splits["test"]:
            out[prompts.prompt(task, doc).strip()] = (task, doc)
    return out


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    mp.setenv("FINBENCH_DATA_DIR", str(real_data_dir()))
    data.clear_cache()
    yield mp
    mp.undo()


def run(answer, out: Path):
    with answer_server(answer) as url:
        lm_eval(
            "--model",
            "local-chat-completions",
            "--model_args",
            f"model=scripted,base_url={url},num_concurrent=2,max_retries=1",
            "--tasks",
            ",".join(f"finbench_{t}" for t in TASKS),
            "--apply_chat_template",
            env=env(real_data_dir(), OPENAI_API_KEY=None),
            out=out,
        )
    return one_run(out)


def test_gold_answers_score_perfectly_through_lm_eval(docs_by_prompt, tmp_path):
    def gold(prompt: str) -> str:
        task, doc = docs_by_prompt[prompt.strip()]
        return prompts.target(task, doc)

    found = run(gold, tmp_path / "gold")
    res = found.results["results"]
    print({t: {k: v for k, v in res[f"finbench_{t}"].items() if "stderr" not in k} for t in TASKS})
    n = {t: len(found.samples[f"finbench_{t}"]) for t in TASKS}
    assert n == {t: len(data.load_splits(t).splits["test"]) for t in TASKS}  # the whole test split, no limit
    assert res["finbench_tatqa"]["em,extracted"] >= 0.99
    assert res["finbench_tatqa"]["f1,extracted"] >= 0.99
    assert res["finbench_convfinqa"]["score,extracted"] >= 0.97
    assert res["finbench_convfinqa"]["em,extracted"] == 1.0
    for t in TASKS:
        assert res[f"finbench_{t}"]["missing,extracted"] == 0.0
        assert found.results["configs"][f"finbench_{t}"]["metadata"]["version"] == 2.0
    assert_recomputed(found)


def test_constant_and_scale_slip_score_near_zero_through_lm_eval(docs_by_prompt, tmp_path):
    def adversarial(prompt: str) -> str:
        task, doc = docs_by_prompt[prompt.strip()]
        if task == "tatqa":
            return "Answer: 0 billion"
        x = doc["answer"]
        return f"Answer: {x}" if isinstance(x, str) else f"Answer: {x * 1000:.10g}"

    found = run(adversarial, tmp_path / "adversarial")
    res = found.results["results"]
    print({t: {k: v for k, v in res[f"finbench_{t}"].items() if "stderr" not in k} for t in TASKS})
    assert res["finbench_tatqa"]["em,extracted"] <= 0.02  # v1: 0.217
    assert res["finbench_convfinqa"]["score,extracted"] <= 0.05  # v1's tolerant_acc accepted every slip
    samples = found.samples["finbench_convfinqa"]
    assert all(
        json.loads(s["doc"]["answer"]) == 0 or isinstance(json.loads(s["doc"]["answer"]), str)
        for s in samples
        if s["score"]
    )  # only a 0 (or a yes/no turn) survives a x1000 slip
