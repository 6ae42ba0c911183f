"""finbench's API model pieces without a server: the identity-keyed response cache, usage/cost, key masking, and
the bad-input checks (adapter rank and base model on real PEFT adapters, missing key, unreachable endpoint)."""

from __future__ import annotations

import json
import logging

import pytest

from finbench import preflight, pricing
from helpers import cli
from servers import free_port


def test_price_table_estimates_known_models_and_refuses_to_guess():
    cost = pricing.estimate_cost("gpt-4o-2024-08-06", 1_000_000, 100_000)
    assert cost["usd"] == pytest.approx(2.50 + 1.00)
    assert cost["prices_taken"] == pricing.PRICES_TAKEN
    assert pricing.estimate_cost("my-local-model", 10, 10)["usd"] == "unknown"
    assert pricing.estimate_cost(None, 10, 10)["usd"] == "unknown"


def test_response_cache_survives_reopening_and_counts_by_identity(tmp_path):
    from finbench.api_model import ResponseCache  # imports lm-eval's API models: in the tests that need them

    db = tmp_path / "c.sqlite"
    cache = ResponseCache(db)
    cache.put("k1", "model-a", "positive", {"prompt_tokens": 3, "completion_tokens": 1})
    cache.put("k2", "model-b", "negative", None)
    again = ResponseCache(db)  # a new process after a crash sees what was stored
    assert again.get("k1") == ("positive", {"prompt_tokens": 3, "completion_tokens": 1})
    assert again.get("k3") is None
    assert again.count("model-a") == 1 and again.count() == 2


def _lm(tmp_path, **kw):
    from finbench.api_model import FinbenchChatCompletion

    args = dict(
        model="m1",
        base_url="http://127.0.0.1:9/v1/chat/completions",
        check_endpoint=False,
        response_cache=str(tmp_path / "c.sqlite"),
    )
    args.update(kw)
    return FinbenchChatCompletion(**args)


def test_cache_key_includes_the_model_identity(tmp_path):
    from lm_eval.models.api_models import JsonChatStr

    req = (
        JsonChatStr(json.dumps([{"role": "user", "content": "Sentiment?"}])),
        {"until": ["\n\n"], "max_gen_toks": 32},
    )
    a, a_again = _lm(tmp_path), _lm(tmp_path)
    keys = {
        a._key("generate_until", req),
        _lm(tmp_path, model="m2")._key("generate_until", req),
        _lm(tmp_path, model_revision="r2")._key("generate_until", req),
        _lm(tmp_path, base_url="http://127.0.0.1:10/v1/chat/completions")._key("generate_until", req),
    }
    assert len(keys) == 4
    assert a._key("generate_until", req) == a_again._key("generate_until", req)


def test_model_args_with_a_key_are_refused(tmp_path):
    with pytest.raises(preflight.ServingError, match="OPENAI_API_KEY"):
        _lm(tmp_path, api_key="sk-123456789")


@pytest.fixture
def record_factory(monkeypatch):
    """The process's log-record factory and finbench's set of masked keys, put back after the test."""
    from finbench import api_model

    saved = logging.getLogRecordFactory()
    monkeypatch.setattr(api_model, "_MASKED", set())
    yield
    logging.setLogRecordFactory(saved)


def test_the_key_is_masked_in_every_log_record(caplog, record_factory):
    from finbench.api_model import _mask_key_in_logs

    secret = "sk-mask-test-abcdef123456"
    _mask_key_in_logs(secret)
    with caplog.at_level(logging.INFO):
        logging.getLogger("lm_eval.models.api_models").warning("headers=%s", {"Authorization": f"Bearer {secret}"})
        logging.getLogger("somewhere.else").error(f"failed with {secret}")
    assert secret not in caplog.text
    assert caplog.text.count("Bearer ***") == 1 and "failed with ***" in caplog.text


def _tiny_llama(path, hidden=64, inter=128):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(
        hidden_size=hidden,
        intermediate_size=inter,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=128,
    )
    model = LlamaForCausalLM(cfg)
    model.save_pretrained(path)
    return model


def _adapter(model, path, r):
    from peft import LoraConfig, get_peft_model

    get_peft_model(model, LoraConfig(r=r, target_modules=["q_proj", "v_proj", "down_proj"])).save_pretrained(path)


def test_adapter_rank_above_the_limit_is_a_clear_error(tmp_path):
    base = _tiny_llama(tmp_path / "base")
    _adapter(base, tmp_path / "r32", r=32)
    assert preflight.check_adapter(str(tmp_path / "base"), str(tmp_path / "r32"), 32)["r"] == 32
    with pytest.raises(preflight.ServingError, match=r"rank 32, above max_lora_rank=16.*max_lora_rank=32"):
        preflight.check_adapter(str(tmp_path / "base"), str(tmp_path / "r32"), 16)


def test_adapter_for_another_base_model_is_a_clear_error(tmp_path):
    _tiny_llama(tmp_path / "base", hidden=64)
    other = _tiny_llama(tmp_path / "other", hidden=96)
    _adapter(other, tmp_path / "adapter", r=8)
    with pytest.raises(preflight.ServingError, match="does not fit base model .*trained on another base model"):
        preflight.check_adapter(str(tmp_path / "base"), str(tmp_path / "adapter"), 16)
    with pytest.raises(preflight.ServingError, match="not a PEFT adapter"):
        preflight.check_adapter(str(tmp_path / "base"), str(tmp_path / "base"), 16)


@pytest.fixture
def _finbench(monkeypatch):
    """`finbench ARGS` in this process, on the sample sets, with no OPENAI_API_KEY in the environment."""
    monkeypatch.setenv("FINBENCH_DATA_DIR", "sample")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return lambda args: cli(*args)


def test_unreachable_endpoint_is_a_clear_error_before_lm_eval_starts(tmp_path, _finbench):
    port = free_port()  # nothing listens there
    proc = _finbench(
        [
            "eval",
            "--backend",
            "finbench-chat-completions",
            "--model_args",
            f"model=m,base_url=http://127.0.0.1:{port}/v1/chat/completions",
            "--tasks",
            "finbench_fpb",
            "--output_path",
            str(tmp_path / "out"),
        ]
    )
    assert proc.returncode == 2
    assert f"cannot reach the endpoint http://127.0.0.1:{port}/v1/models" in proc.stderr
    assert "Traceback" not in proc.stderr and "[finbench] " not in proc.stderr  # lm-eval never started
    assert not (tmp_path / "out").exists()


def test_missing_api_key_is_a_clear_error(tmp_path, _finbench):
    proc = _finbench(
        [
            "eval",
            "--backend",
            "finbench-openai-chat-completions",
            "--model_args",
            "model=gpt-4o",
            "--tasks",
            "finbench_fpb",
            "--output_path",
            str(tmp_path / "out"),
        ]
    )
    assert proc.returncode == 2
    assert "OPENAI_API_KEY is not set" in proc.stderr and "Traceback" not in proc.stderr


def test_key_in_model_args_is_refused_and_not_echoed(tmp_path, _finbench):
    proc = _finbench(
        [
            "eval",
            "--backend",
            "local-chat-completions",
            "--model_args",
            "model=m,base_url=http://127.0.0.1:9/v1/chat/completions,api_key=sk-leak-me-123456",
            "--tasks",
            "finbench_fpb",
            "--output_path",
            str(tmp_path / "out"),
        ]
    )
    assert proc.returncode == 2
    assert "api_key=… is refused" in proc.stderr
    assert "sk-leak-me-123456" not in proc.stderr + proc.stdout


def test_openai_payload_keeps_stop_and_greedy_for_gpt4o_snapshots(tmp_path, monkeypatch):
    from finbench.api_model import FinbenchOpenAIChatCompletion

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-used-123456")
    for model, stop, temp in (("gpt-4o-2024-05-13", ["\n\n", "<|endoftext|>"], 0), ("o3-mini", None, 1)):
        lm = FinbenchOpenAIChatCompletion(model=model, check_endpoint=False, response_cache="none")
        payload = lm._create_payload(
            [{"role": "user", "content": "x"}],
            generate=True,
            gen_kwargs={"until": ["\n\n"], "max_gen_toks": 8, "temperature": 0},
        )
        assert payload.get("stop") == stop and payload["temperature"] == temp, model


def test_usage_line_of_the_printed_table():
    from finbench.results import api_usage_line

    usage = {"requests_sent": 3, "cache_hits": 2, "prompt_tokens": 100, "completion_tokens": 5}
    priced = api_usage_line({"usage": usage, "estimated_cost_this_run": pricing.estimate_cost("gpt-4o", 100, 5)})
    assert "3 requests sent, 2 answers from the response cache" in priced
    assert f"$0.0003 (list prices of {pricing.PRICES_TAKEN})" in priced
    unknown = api_usage_line({"usage": usage, "estimated_cost_this_run": pricing.estimate_cost("local", 100, 5)})
    assert unknown.endswith("estimated cost unknown")
