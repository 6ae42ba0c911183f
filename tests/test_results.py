"""Reading lm-eval results: aggregation names as lm-eval dumps them, and secrets never printed."""

from __future__ import annotations

from finbench import results


def test_aggregation_names_are_read_from_lm_evals_dumps():
    assert results._agg_name("def macro_f1_sentiment(items):\n    return 1\n") == "macro_f1_sentiment"
    assert results._agg_name("<function ner_entity_f1 at 0x7f>") == "ner_entity_f1"
    assert results._agg_name("mean") == "mean"
    assert results.aggregation_fn("macro_f1_sentiment")([["positive", "positive"], ["negative", None]]) == 0.5 / 1.5
    assert results.aggregation_fn("no_such_aggregation") is None


def test_model_args_secrets_are_masked():
    text = results.redact("model=gpt-4o,api_key=sk-abc123,base_url=http://127.0.0.1:8000/v1,auth_token='t0k'")
    assert "sk-abc123" not in text and "t0k" not in text
    assert "model=gpt-4o" in text and "base_url=http://127.0.0.1:8000/v1" in text
    assert "sk-xyz" not in results.redact({"pretrained": "/m", "openai_api_key": "sk-xyz"})
