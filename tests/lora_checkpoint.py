"""A fine-tuned checkpoint for the serving tests: a LoRA adapter trained for a few real steps (peft + transformers
`Trainer`) on finbench's sample sentiment/headline training prompts, saved as an adapter dir and as a merged model
dir (`merge_and_unload`).

Self-contained on purpose: once `finbench.finetune` exists, `train_lora` is the one place to swap for it.
Rank 8, on every projection vLLM supports for Llama (q, k, v, o, gate, up, down). The learning rate is high so that
a few steps change the greedy answers (a verification against an adapter that changes nothing proves nothing).
"""

from __future__ import annotations

from pathlib import Path

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def _examples(tokenizer, n: int) -> list[dict]:
    from finbench import data, prompts
    from finbench.config import SAMPLE_DIR

    out = []
    for task in ("fpb", "tfns", "headline"):
        for rec in data.load_splits(task, SAMPLE_DIR).splits["train"][:n]:
            chat = [{"role": "user", "content": prompts.prompt(task, rec)}]
            prefix = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
            answer = prompts.target(task, rec) + tokenizer.eos_token
            p_ids = tokenizer(prefix, add_special_tokens=False)["input_ids"]
            a_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
            out.append({"input_ids": p_ids + a_ids, "labels": [-100] * len(p_ids) + a_ids})
    return out


def train_lora(base: Path, out_dir: Path, steps: int = 24, rank: int = 8, lr: float = 2e-3) -> tuple[Path, Path]:
    """Train, save; returns (adapter_dir, merged_dir)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0,
                                             target_modules=TARGETS, task_type="CAUSAL_LM"))

    def collate(batch):
        width = max(len(b["input_ids"]) for b in batch)
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        ids = torch.tensor([b["input_ids"] + [pad] * (width - len(b["input_ids"])) for b in batch])
        labels = torch.tensor([b["labels"] + [-100] * (width - len(b["labels"])) for b in batch])
        mask = torch.tensor([[1] * len(b["input_ids"]) + [0] * (width - len(b["input_ids"])) for b in batch])
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}

    args = TrainingArguments(output_dir=str(out_dir / "trainer"), max_steps=steps, per_device_train_batch_size=4,
                             learning_rate=lr, lr_scheduler_type="constant", logging_steps=steps, save_strategy="no",
                             report_to=[], use_cpu=True, seed=0, dataloader_num_workers=0)
    Trainer(model=model, args=args, train_dataset=_examples(tok, 40), data_collator=collate).train()
    adapter, merged = out_dir / "adapter", out_dir / "merged"
    model.save_pretrained(adapter)
    model.merge_and_unload().save_pretrained(merged)
    tok.save_pretrained(merged)
    return adapter, merged
