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


def _write_run(d, lines: list[str]):
    import json

    d.mkdir(parents=True, exist_ok=True)
    (d / "results_2026-01-01T00-00-00.json").write_text(
        json.dumps(
            {
                "results": {"t": {"acc,none": 0.5}},
                "configs": {"t": {"metric_list": [{"metric": "acc", "aggregation": "mean"}]}},
                "higher_is_better": {"t": {"acc": True}},
            }
        )
    )
    (d / "samples_t_2026-01-01T00-00-00.jsonl").write_text("\n".join(lines) + "\n")
    return d / "results_2026-01-01T00-00-00.json"


def test_lazy_load_keeps_bulky_fields_undecoded_and_scores_the_same(tmp_path):
    import json

    rows = [
        {
            "doc_id": i,
            "doc": {"text": f"d{i} <b>é</b>"},
            "target": "yes",
            "arguments": {"gen_args_0": {"arg_0": "p"}},
            "resps": [["yes"]],
            "filtered_resps": ["yes"],
            "filter": "none",
            "doc_hash": f"h{i}",
            "acc": float(i % 2),
        }
        for i in range(5)
    ]
    f = _write_run(tmp_path / "run", [json.dumps(r, ensure_ascii=False) for r in rows])
    eager, lazy = results.load_run(f), results.load_run(f, lazy=True)
    assert eager.samples["t"] == rows
    assert all(not isinstance(s["doc"], dict) and s["acc"] == r["acc"] for s, r in zip(lazy.samples["t"], rows))
    assert [results.sample_field(s, k) for s in lazy.samples["t"] for k in results.LAZY_FIELDS] == [
        r[k] for r in rows for k in results.LAZY_FIELDS
    ]
    assert results.sample_field(eager.samples["t"][0], "doc") == rows[0]["doc"]
    a, b = results.primary_items(eager, "t"), results.primary_items(lazy, "t")
    assert (a.items, a.keys) == (b.items, b.keys) and a.keys[1] == "1:h1"


def test_samples_python_json_reads_still_load_and_a_cut_line_names_the_file(tmp_path):
    import math

    import pytest

    # lm-eval's json.dumps writes NaN (not JSON) for an undefined metric; msgspec refuses it, the fallback reads it
    f = _write_run(tmp_path / "nan", ['{"doc_id": 0, "acc": NaN, "doc": {}}', '{"doc_id": 1, "acc": 1.0}'])
    for lazy in (False, True):
        run = results.load_run(f, lazy=lazy)
        assert [s["doc_id"] for s in run.samples["t"]] == [0, 1] and math.isnan(run.samples["t"][0]["acc"])
    cut = _write_run(tmp_path / "cut", ['{"doc_id": 0, "acc": 1.0}', '{"doc_id": 1, "ac'])
    with pytest.raises(results.ResultsError, match=r"samples_t_.*\.jsonl:2: malformed samples line"):
        results.load_run(cut, lazy=True)
