"""LoRA training throughput on the study's real mixture: useful (non-pad) tokens/s of today's configuration vs
length-grouped batches, side by side in one run, with MFU against the matmul ceiling measured in the same run.

    FINBENCH_DATA_DIR=../shared/data .venv/bin/python benchmarks/train_throughput.py --examples 64 --repeats 3

Every configuration trains one epoch over the SAME examples (a seeded sample of the study cocktail's train mixture,
finetune/recipes/study/cocktail.yaml: short classification prompts, NER, long ConvFinQA/TAT-QA report excerpts), so
useful tokens are equal and only the batching differs. "today" is the configuration recipes trained with before:
padded batches of 8 in random order, `precision: auto`. "grouped" batches examples of similar length
(SFTConfig `train_sampling_strategy: group_by_length`, transformers' LengthGroupedSampler), so little of each batch is
padding. "head on label positions" adds finbench.finetune.lm_head (TRL's fused LM head projects only the positions
that carry a label, as it does on GPUs; finbench's trainer always trains this way). "bf16 autocast" trains that in
bf16 instead of the recipe's precision (the study's recipes say fp32): measured only on hardware with bf16 matmuls, its
MFU against the bf16 ceiling. Configurations are interleaved within each repeat so machine load hits them alike; figures are medians over
repeats. Model FLOPs per trained token: 2N forward + 2N backward through the activations (LoRA freezes the base
weights, so their weight gradients are never computed) + attention, N = matmul parameters (lm_head included, the
embedding lookup excluded), the head counted at every position in every row (one definition of the work, so the
MFU column compares like with like). `--skip TEXT` leaves out configurations (`--skip "batches of 16"`: every name containing it; a full name: that one). The median rate of the configuration the recipe trains with is recorded in finbench's
cache for `finbench sweep run --dry-run` estimates.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from throughput import matmul_ceiling  # noqa: E402

from finbench.hardware import native_bf16  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# name -> (train_sampling_strategy, per-device batch, LM head on label positions only: finbench.finetune.lm_head,
# precision: None = the recipe's, "bf16" = bf16 autocast, measured only where the hardware has bf16 matmuls)
CONFIGS = {
    "today (random order, padded batches of 8)": ("random", 8, False, None),
    "grouped by length, batches of 8": ("group_by_length", 8, False, None),
    "grouped by length, batches of 8, head on label positions": ("group_by_length", 8, True, None),
    "grouped by length, batches of 8, head on label positions, bf16 autocast": ("group_by_length", 8, True, "bf16"),
    "grouped by length, batches of 16": ("group_by_length", 16, False, None),
}


def lora_flops_per_token(config, seq: float) -> float:
    """Training FLOPs per token for LoRA (see module docstring); `seq` = mean attended length."""
    d, layers = config.hidden_size, config.num_hidden_layers
    kv = config.num_key_value_heads * (d // config.num_attention_heads)
    per_layer = 2 * (d * d + 2 * d * kv + d * d + 3 * d * config.intermediate_size)  # q,k,v,o + gate,up,down
    attention = 2 * 2 * seq * d  # QK^T and AV, forward, per layer per token
    forward = layers * (per_layer + attention) + 2 * d * config.vocab_size  # + lm_head
    return 2 * forward  # forward + backward through activations


def run_config(
    base: str, rows: list[dict], sampling: str, batch: int, labels_only: bool, bf16: bool, max_length: int, tokenizer
) -> dict:
    import contextlib

    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from finbench.finetune.lm_head import label_positions_only

    clock: dict[str, float] = {}

    class Clock(TrainerCallback):
        def on_train_begin(self, args, state, control, **kw):
            clock["start"] = time.perf_counter()

        def on_train_end(self, args, state, control, **kw):
            clock["end"] = time.perf_counter()

    args = SFTConfig(
        output_dir="/tmp/finbench-train-bench",
        num_train_epochs=1,
        per_device_train_batch_size=batch,
        max_length=max_length,
        packing=False,
        train_sampling_strategy=sampling,
        bf16=bf16,
        use_cpu=not torch.cuda.is_available(),
        report_to="none",
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        include_num_input_tokens_seen="non_padding",
        seed=42,
        dataloader_num_workers=0,
    )
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    lora = LoraConfig(
        r=16,
        lora_alpha=32,
        task_type="CAUSAL_LM",
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=lora,
        callbacks=[Clock()],
    )
    with label_positions_only() if labels_only else contextlib.nullcontext():
        trainer.train()
    seconds = clock["end"] - clock["start"]
    tokens = trainer.state.num_input_tokens_seen
    return {"tokens": tokens, "seconds": seconds, "tokens_per_second": tokens / seconds, "model_config": model.config}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--recipe", default=str(ROOT / "finetune/recipes/study/cocktail.yaml"))
    ap.add_argument("--examples", type=int, default=64, help="seeded sample of the mixture every configuration trains")
    ap.add_argument(
        "--max-length", type=int, default=1024, help="examples longer than this are left out (today's recipes' limit)"
    )
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default=None)
    ap.add_argument(
        "--skip",
        action="append",
        default=[],
        help="leave out the configuration of this name, or else every configuration whose name contains this text",
    )
    a = ap.parse_args()

    from transformers import AutoTokenizer

    from finbench.finetune import mix, recipe, train

    r = recipe.load(a.recipe)
    base = train.resolve_base(r.base_model)
    tokenizer = AutoTokenizer.from_pretrained(base)
    rows, _ = train._to_prompt_completion(mix.build(r).records, tokenizer, a.max_length)
    rows = random.Random(0).sample(rows, min(a.examples, len(rows)))
    lens = [
        len(tokenizer.apply_chat_template(x["prompt"] + x["completion"], tokenize=True, return_dict=True)["input_ids"])
        for x in rows
    ]
    bf16 = train.use_bf16(r.precision)  # the recipe's precision (the study's: fp32)
    precision = "bf16" if bf16 else "fp32"
    # --skip NAME leaves out that configuration; any other text, every configuration whose name contains it
    configs = [n for n in CONFIGS if n not in a.skip and not any(s in n for s in a.skip if s not in CONFIGS)]
    if not configs or next(iter(CONFIGS)) not in configs:
        ap.error("--skip must leave today's configuration (the baseline every ratio is against)")
    if not native_bf16():  # emulated bf16 is tens of times slower: nothing a user would train with
        left = [n for n in configs if CONFIGS[n][3] == "bf16"]
        configs = [n for n in configs if n not in left]
        for n in left:
            print(f"note: '{n}' not measured: this machine has no bf16 matmuls (finbench.hardware.native_bf16)")

    def precision_of(name: str) -> str:
        return CONFIGS[name][3] or precision

    results: dict[str, list] = {name: [] for name in configs}
    ceilings: dict[str, list] = {p: [] for p in sorted({precision_of(n) for n in configs})}
    for rep in range(a.repeats):
        for p in ceilings:
            ceilings[p].append(matmul_ceiling(torch.bfloat16 if p == "bf16" else torch.float32))
        for name, (sampling, batch, labels_only, _) in CONFIGS.items():
            if name not in configs:
                continue
            res = run_config(
                base, rows, sampling, batch, labels_only, precision_of(name) == "bf16", a.max_length, tokenizer
            )
            results[name].append(res)
            print(
                f"[repeat {rep + 1}] {name}: {res['tokens_per_second']:.1f} tok/s ({res['seconds']:.0f} s, "
                f"load {os.getloadavg()[0]:.1f})",
                file=sys.stderr,
                flush=True,
            )
    cfg = next(iter(results.values()))[0]["model_config"]
    ceil = {p: statistics.median(c) for p, c in ceilings.items()}
    mean_len = statistics.mean(lens)
    out = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"avx512_bf16: {'avx512_bf16' in Path('/proc/cpuinfo').read_text()}",
        "precision": precision,
        "examples": len(rows),
        "useful_tokens": sum(lens),
        "mean_example_tokens": round(mean_len, 1),
        "max_length": a.max_length,
        "repeats": a.repeats,
        "ceilings_tflops": {p: round(c, 4) for p, c in ceil.items()},
        "configs": {},
    }
    today = next(iter(CONFIGS))
    base_rate = statistics.median(x["tokens_per_second"] for x in results[today])
    print(
        f"| configuration ({precision} unless named) | useful tokens/s (median of {a.repeats}) | runs | vs today | model TFLOP/s "
        f"| MFU |"
    )
    print("|---|---:|---|---:|---:|---:|")
    for name, runs in results.items():
        rate = statistics.median(x["tokens_per_second"] for x in runs)
        tflops = rate * lora_flops_per_token(cfg, mean_len / 2) / 1e12
        mfu = tflops / ceil[precision_of(name)]  # against the ceiling of the precision it trains in
        out["configs"][name] = {
            "tokens_per_second": round(rate, 1),
            "precision": precision_of(name),
            "tflops": round(tflops, 4),
            "mfu": round(mfu, 3),
            "runs": [round(x["tokens_per_second"], 1) for x in runs],
        }
        print(
            f"| {name} | {rate:.1f} | {', '.join(f'{x:.0f}' for x in out['configs'][name]['runs'])} | "
            f"{rate / base_rate:.2f}x | {tflops:.3f} | {mfu:.0%} |"
        )
    print(
        f"\nmatmul ceiling (2048^3, median of {a.repeats}): "
        f"{', '.join(f'{p} {c:.3f}' for p, c in ceil.items())} TFLOP/s; {len(rows)} examples, "
        f"{sum(lens)} tokens, mean {mean_len:.0f}; {out['machine']}"
    )
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2) + "\n")
    from finbench.config import cache_dir
    from finbench.finetune.sweep import THROUGHPUT_FILE

    t = r.training
    chosen = next(
        (
            n
            for n, (s, b, head, p) in CONFIGS.items()
            # finbench's trainer always scores label positions only (train.py); the recipe's own precision
            if s == t["train_sampling_strategy"]
            and b == t["per_device_train_batch_size"]
            and head
            and p is None
            and n in results
        ),
        None,
    )
    if chosen is None:
        print(
            f"note: the recipe's configuration ({t['train_sampling_strategy']}, batches of "
            f"{t['per_device_train_batch_size']}) is not one measured here; nothing recorded for --dry-run"
        )
        return
    cache_dir().mkdir(parents=True, exist_ok=True)
    (cache_dir() / THROUGHPUT_FILE).write_text(
        json.dumps(
            {
                "tokens_per_second": out["configs"][chosen]["tokens_per_second"],
                "config": f"{chosen}, {precision}",
                "date": time.strftime("%Y-%m-%d"),
            }
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
