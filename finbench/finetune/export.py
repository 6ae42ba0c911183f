"""Export a LoRA adapter as a merged Hugging Face checkpoint (peft `merge_and_unload`) that vLLM and lm-eval's hf
backend load like any model: weights, config, tokenizer and chat template, written atomically.

Before the merged dir is moved into place, it is reloaded from disk and its logits on a few chat prompts are compared
with base + adapter; a mismatch beyond float tolerance stops the export and leaves any previous export intact.
"""

from __future__ import annotations

from pathlib import Path

from finbench import artifacts

PROBES = (
    "What is the sentiment of this financial news sentence? Answer with one word: negative, neutral, or positive."
    "\n\nText: Operating profit rose to EUR 13.1 mn from EUR 8.7 mn.\nAnswer:",
    "Does the news headline talk about price going up? Answer with yes or no.\n\nHeadline: gold rallies "
    "2% on weak dollar\nAnswer:",
    "Read the financial report excerpt and answer the question.\n\nrevenue was $ 120 million in 2019 and "
    "$ 150 million in 2020.\n\nQuestion: what was the growth rate?\nAnswer:",
)
ATOL = 1e-3  # fp32 merge vs unmerged: differences come from summation order only


class ExportError(Exception):
    """The merged checkpoint does not reproduce base + adapter."""


def _logits(model, tokenizer):
    import torch

    out = []
    with torch.no_grad():
        for text in PROBES:
            ids = tokenizer.apply_chat_template(
                [{"role": "user", "content": text}], add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
            out.append(model(**ids).logits.float())
    return out


def max_logit_diff(a, b) -> float:
    return max(float((x - y).abs().max()) for x, y in zip(a, b))


def export(adapter_dir: Path, base: str, merged_dir: Path) -> float:
    """Merge `adapter_dir` into `base`, verify, and write `merged_dir`; returns the max |Δ logit| observed."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # finbench's adapters carry the tokenizer they were trained with; another PEFT adapter may have none: the base's
    tokenizer = AutoTokenizer.from_pretrained(
        adapter_dir if (Path(adapter_dir) / "tokenizer_config.json").exists() else base
    )
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32), adapter_dir)
    model.eval()
    reference = _logits(model, tokenizer)
    merged = model.merge_and_unload()
    with artifacts.staged_dir(Path(merged_dir)) as tmp:
        merged.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        reloaded = AutoModelForCausalLM.from_pretrained(tmp, dtype=torch.float32).eval()
        diff = max_logit_diff(reference, _logits(reloaded, AutoTokenizer.from_pretrained(tmp)))
        if diff > ATOL:
            raise ExportError(
                f"merged checkpoint differs from base + adapter (max |Δ logit| {diff:.2e} > {ATOL}); "
                f"nothing was written to {merged_dir}"
            )
    return diff
