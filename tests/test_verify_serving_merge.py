"""`finbench verify-serving` merges through finbench.finetune.export, whose logit check stands between a merge and
the serving paths: a merge that does not reproduce base + adapter is refused before any lm-eval run, and leaves
nothing under the output's merged/."""

from __future__ import annotations

import pytest

from conftest import cli


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory, default_model):
    """(base, adapter): a 2-layer Llama with the default model's tokenizer (so the probes' chat template applies) and
    a LoRA adapter with random (non-zero) weights, i.e. one that changes the model's logits. Built once for both
    tests (read-only: each merges into its own tmp_path)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(default_model)
    torch.manual_seed(0)
    tmp_path = tmp_path_factory.mktemp("tiny_checkpoint")
    base = tmp_path / "base"
    LlamaForCausalLM(
        LlamaConfig(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            vocab_size=len(tok),
        )
    ).save_pretrained(base)
    tok.save_pretrained(base)
    adapter = tmp_path / "adapter"
    get_peft_model(
        LlamaForCausalLM.from_pretrained(base),
        LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
    ).save_pretrained(adapter)
    return base, adapter


def test_an_honest_merge_passes_the_check_and_lands_whole(tiny_checkpoint, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from finbench import verify
    from finbench.finetune import export

    base, adapter = tiny_checkpoint
    merged = verify.merge(str(base), str(adapter), tmp_path / "out" / "merged")
    assert (merged / "config.json").exists() and (merged / "tokenizer_config.json").exists()
    assert sorted(p.name for p in merged.parent.iterdir()) == ["merged"]  # no staging dir left beside it
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    with torch.no_grad():
        want = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter)(ids).logits
        plain = AutoModelForCausalLM.from_pretrained(base)(ids).logits
        got = AutoModelForCausalLM.from_pretrained(merged)(ids).logits
    assert float((want - plain).abs().max()) > 100 * export.ATOL  # the adapter matters, so the check can tell
    assert float((got - want).abs().max()) <= export.ATOL


def test_a_merge_that_is_not_base_plus_adapter_is_refused_before_any_run(
    tiny_checkpoint, tmp_path, monkeypatch, sample_data
):
    import torch
    from peft.tuners.lora import LoraModel

    base, adapter = tiny_checkpoint
    real = LoraModel.merge_and_unload

    def broken(self, *args, **kwargs):  # what a merge bug (or a base that is not the adapter's) gives
        model = real(self, *args, **kwargs)
        with torch.no_grad():
            model.model.layers[0].self_attn.q_proj.weight.add_(0.5)
        return model

    monkeypatch.setattr(LoraModel, "merge_and_unload", broken)
    out = tmp_path / "out"
    proc = cli(
        "verify-serving",
        "--base",
        base,
        "--adapter",
        adapter,
        "--tasks",
        "finbench_fpb",
        "--limit",
        "2",
        "--output_path",
        out,
    )
    assert proc.returncode == 2, proc.stderr
    assert "refuses the merge of" in proc.stderr and "max |Δ logit|" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(out.iterdir()) == []  # no merged/, no staging dir, no serving path was run
