"""LoRA fine-tuning of a recipe with peft + TRL's SFTTrainer (no hand-written loop).

One run directory per recipe (`recipe.out`):
  recipe.yaml         the recipe (a resumed run must match its fingerprint)
  mixture.jsonl       the training examples, as built by `finbench finetune mix`; manifest.json, leakage.txt beside
  checkpoints/        periodic Trainer checkpoints (adapter, optimizer, scheduler, RNG, trainer state)
  adapter/            the selected adapter: lowest loss on the recipe's *dev* mixture (never test data)
  loss.jsonl, loss.png  the training and dev loss curve
  train_summary.json  steps, tokens/s, dropped examples, the selected checkpoint
  merged/             base + adapter merged (`finbench.finetune.export`), loads like any HF model
A killed run restarts from its last *complete* checkpoint (one with its trainer state written, which the Trainer
writes last); a checkpoint cut short by the kill is discarded. The prompt is masked out of the loss: TRL's
prompt-completion format trains the final assistant turn only.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path

from finbench import artifacts
from finbench.config import DataError

from . import leakage, mix
from .lm_head import label_positions_only
from .recipe import DEFAULT_BASE, Recipe, RecipeError
from .rundir import STATE

CHECKPOINTS = "checkpoints"


def resolve_base(name: str) -> str:
    """The base model as a path or hub id that from_pretrained loads; RecipeError if it cannot be found."""
    if name == DEFAULT_BASE:
        from finbench.default_model import prepare

        return str(prepare())
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise RecipeError(f"base_model: {path} has no config.json; give a Hugging Face model directory")
        return str(path.resolve())
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(name)
    except (OSError, ValueError) as exc:
        raise RecipeError(
            f"base_model: {name!r} is neither a local model directory nor a loadable hub model "
            f"({str(exc).splitlines()[0]}); use {DEFAULT_BASE!r} for the embedded SmolLM2"
        ) from None
    return name


def use_bf16(precision: str) -> bool:
    """bf16 autocast where the hardware runs bf16 matmuls natively (measured faster: docs/BENCHMARKS.md)."""
    from ..hardware import native_bf16

    if precision != "auto":
        return precision == "bf16"
    return native_bf16()


def complete_checkpoints(ckpt_dir: Path) -> list[Path]:
    """Checkpoints whose trainer state was written (the Trainer writes it last), oldest first."""
    out = []
    for p in Path(ckpt_dir).glob("checkpoint-*"):
        try:
            step = int(p.name.split("-")[1])
            json.loads((p / "trainer_state.json").read_text())
        except (ValueError, OSError, json.JSONDecodeError):
            continue
        out.append((step, p))
    return [p for _, p in sorted(out)]


def _discard_partial(ckpt_dir: Path) -> list[str]:
    complete = set(complete_checkpoints(ckpt_dir))
    dropped = []
    for p in Path(ckpt_dir).glob("checkpoint-*"):
        if p not in complete:
            shutil.rmtree(p, ignore_errors=True)
            dropped.append(p.name)
    return dropped


def _check_run_dir(recipe: Recipe) -> None:
    """A run dir may only be resumed by the recipe that started it, and a new run needs an empty (or new) dir: a
    folder of other files is refused (training writes into it and deletes stale `.tmp` files there)."""
    stored = recipe.out / "recipe.yaml"
    if recipe.out.exists() and not recipe.out.is_dir():
        raise RecipeError(f"output_dir {recipe.out} is a file; set output_dir to a new or empty directory")
    others = sorted(p.name for p in recipe.out.iterdir() if p.name != STATE) if recipe.out.is_dir() else []
    if others and not stored.exists():
        shown = ", ".join(others[:5])
        raise RecipeError(
            f"output_dir {recipe.out} is not empty and holds no finbench run (no recipe.yaml; it has "
            f"{shown}…); set output_dir to a new or empty directory, so nothing there is overwritten"
        )
    if stored.exists():
        from .recipe import load

        old = load(stored)
        if old.fingerprint() != recipe.fingerprint():
            raise RecipeError(
                f"{recipe.out} holds a run of a different recipe (fingerprint {old.fingerprint()} vs "
                f"{recipe.fingerprint()}); set another output_dir or delete {recipe.out}"
            )


def _prepare_run_dir(recipe: Recipe, mixture: mix.Mixture, report: leakage.Report) -> None:
    out = recipe.out
    out.mkdir(parents=True, exist_ok=True)
    artifacts.clean_stale(out)
    artifacts.write_text(out / "recipe.yaml", recipe.to_yaml())
    artifacts.write_text(out / "mixture.jsonl", mix.dumps(mixture.records))
    artifacts.write_text(out / "manifest.json", json.dumps(mixture.manifest, indent=2) + "\n")
    artifacts.write_text(out / "leakage.txt", report.format() + "\n")


def _to_prompt_completion(records: list[dict], tokenizer, max_length: int) -> tuple[list[dict], int]:
    rows, dropped = [], 0
    for rec in records:
        msgs = rec["messages"]
        n = len(tokenizer.apply_chat_template(msgs, tokenize=True, return_dict=True)["input_ids"])
        if n > max_length:
            dropped += 1
            continue
        rows.append({"prompt": msgs[:-1], "completion": msgs[-1:]})
    return rows, dropped


def write_curve(out: Path, log_history: list[dict]) -> None:
    """loss.jsonl (one line per logged step) and loss.png from the Trainer's log history."""
    keep = ("step", "epoch", "loss", "eval_loss", "learning_rate", "grad_norm")
    rows = [{k: r[k] for k in keep if k in r} for r in log_history if "loss" in r or "eval_loss" in r]
    artifacts.write_text(out / "loss.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for key, label in (("loss", "train"), ("eval_loss", "dev")):
        pts = [(r["step"], r[key]) for r in rows if key in r]
        if pts:
            ax.plot(*zip(*pts), marker="o" if key == "eval_loss" else None, ms=3, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (assistant tokens)")
    ax.set_title(out.name)
    ax.legend()
    fig.tight_layout()
    tmp = out / ".loss.png.tmp.png"
    fig.savefig(tmp, dpi=100, metadata={"Software": None})
    plt.close(fig)
    os.replace(tmp, out / "loss.png")


def train(
    recipe: Recipe, *, allow_leakage: bool = False, max_steps: int | None = None, export_merged: bool = True
) -> Path:
    """Train (or resume) the recipe's LoRA adapter, select it on dev loss, export it; returns the run dir.

    Everything that can be checked is checked before the run dir is written: the base model, the data (train and
    dev splits of every task), the mixture and the leakage guard.
    """
    base = resolve_base(recipe.base_model)
    mixture = mix.build(recipe, "train")
    dev = mix.build(recipe, "dev")
    report = leakage.guard(mixture.records, allow=allow_leakage)
    _check_run_dir(recipe)

    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTTrainer

    tokenizer = AutoTokenizer.from_pretrained(base)
    if not tokenizer.chat_template:
        raise RecipeError(f"base_model: {base} has no chat template; finbench trains and evaluates chat models")
    t = recipe.training
    max_length = t["max_length"]
    train_rows, dropped = _to_prompt_completion(mixture.records, tokenizer, max_length)
    dev_rows, dev_dropped = _to_prompt_completion(dev.records, tokenizer, max_length)
    if not train_rows or not dev_rows:
        which = "training" if not train_rows else "dev (checkpoint-selection)"
        raise DataError(
            f"every {which} example is longer than training.max_length={max_length} tokens; "
            "raise max_length or add shorter tasks"
        )

    bf16 = use_bf16(recipe.precision)
    if t.get("packing") and not torch.cuda.is_available():
        print(
            "[finetune] note: packing gives TRL padding-free batches, made for FlashAttention on GPUs; on CPU they "
            "trained at about half the speed of padded batches (docs/BENCHMARKS.md)"
        )
    overrides = {"max_steps": max_steps} if max_steps is not None else {}
    args = recipe.sft_config(recipe.out / CHECKPOINTS, bf16=bf16, use_cpu=not torch.cuda.is_available(), **overrides)
    # under `accelerate launch` (several processes) only the main process writes; the others wait for it
    from accelerate import PartialState

    state = PartialState()
    out, ckpt_dir, discarded = recipe.out, recipe.out / CHECKPOINTS, []
    if state.is_main_process:
        _prepare_run_dir(recipe, mixture, report)
        discarded = _discard_partial(ckpt_dir) if ckpt_dir.exists() else []
    state.wait_for_everyone()
    done = complete_checkpoints(ckpt_dir) if ckpt_dir.exists() else []
    resume = str(done[-1]) if done else None
    if discarded:
        print(f"[finetune] discarded incomplete checkpoint(s) {', '.join(discarded)} (killed mid-save)")
    if resume:
        print(f"[finetune] resuming from {resume}")

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    lora = LoraConfig(
        r=recipe.lora.r,
        lora_alpha=recipe.lora.alpha,
        lora_dropout=recipe.lora.dropout,
        target_modules=list(recipe.lora.target_modules),
        task_type="CAUSAL_LM",
    )

    class Curve(TrainerCallback):
        def on_save(self, args, state, control, **kw):
            if state.is_world_process_zero:
                write_curve(out, state.log_history)

    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(train_rows),
        eval_dataset=Dataset.from_list(dev_rows),
        processing_class=tokenizer,
        peft_config=lora,
        callbacks=[Curve()],
    )
    tokens_before = 0
    if resume:
        tokens_before = json.loads((Path(resume) / "trainer_state.json").read_text()).get("num_input_tokens_seen", 0)
    started = time.perf_counter()
    with label_positions_only():  # the LM head on label positions only, on CPU too (lm_head.py)
        trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - started
    tokens = trainer.state.num_input_tokens_seen - tokens_before
    if not trainer.is_world_process_zero():
        return out
    write_curve(out, trainer.state.log_history)

    # load_best_model_at_end has put the dev-selected weights into trainer.model
    with artifacts.staged_dir(out / "adapter") as tmp:
        trainer.model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    evals = [r for r in trainer.state.log_history if "eval_loss" in r]
    summary = {
        "recipe": recipe.name,
        "fingerprint": recipe.fingerprint(),
        "base_model": base,
        "examples": len(train_rows),
        "dropped_too_long": dropped,
        "dev_examples": len(dev_rows),
        "dev_dropped_too_long": dev_dropped,
        "bf16": bf16,
        "packing": bool(t.get("packing")),
        "global_steps": trainer.state.global_step,
        "resumed_from": resume,
        "train_seconds_this_session": round(seconds, 1),
        "train_tokens_this_session": tokens,
        "train_tokens_per_second": round(tokens / seconds, 1) if seconds else None,
        "selected_checkpoint": trainer.state.best_model_checkpoint,
        "selected_dev_loss": trainer.state.best_metric,
        "dev_losses": {r["step"]: r["eval_loss"] for r in evals},
        "leakage": {"clean": report.clean, "overlaps": {f"{a}->{b}": n for (a, b), n in report.overlaps.items()}},
        "mixture": mixture.manifest,
    }
    if not math.isfinite(trainer.state.best_metric or float("nan")):
        summary["selected_dev_loss"] = None
    artifacts.write_text(out / "train_summary.json", json.dumps(summary, indent=2) + "\n")
    if export_merged:
        from .export import export

        export(out / "adapter", base, out / "merged")
    return out
