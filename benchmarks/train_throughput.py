"""LoRA training throughput: useful (non-pad) tokens/s with and without packing, bf16 autocast vs fp32, and MFU
against the matmul ceiling of this machine measured in the same run.

    FINBENCH_DATA_DIR=../shared/data .venv/bin/python benchmarks/train_throughput.py --repeats 3

Each configuration trains the same examples (the first ones of the CPU-study cocktail mixture, a mix of short
classification prompts and long report excerpts) with TRL's SFTTrainer for --steps optimizer steps after one
warm-up step; configurations are interleaved within each repeat so machine load hits them alike. Reported figures
are medians over repeats. Model FLOPs per trained token: 2N forward + 2N backward through the activations (LoRA
freezes the base weights, so their weight gradients are never computed) + attention, N = matmul parameters
(lm_head included, the embedding lookup excluded). The median tokens/s of the configuration the recipe trains with
(its packing and precision) is recorded in finbench's cache for `finbench sweep run --dry-run` estimates.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from throughput import matmul_ceiling  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def lora_flops_per_token(config, seq: float) -> float:
    """Training FLOPs per token for LoRA (see module docstring); `seq` = mean attended length."""
    d, layers = config.hidden_size, config.num_hidden_layers
    kv = config.num_key_value_heads * (d // config.num_attention_heads)
    per_layer = 2 * (d * d + 2 * d * kv + d * d + 3 * d * config.intermediate_size)  # q,k,v,o + gate,up,down
    attention = 2 * 2 * seq * d  # QK^T and AV, forward, per layer per token
    forward = layers * (per_layer + attention) + 2 * d * config.vocab_size  # + lm_head
    return 2 * forward  # forward + backward through activations


def run_config(base: str, rows: list[dict], packing: bool, bf16: bool, steps: int, batch: int, max_length: int,
               tokenizer) -> dict:
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    times: list[float] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            self.t = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            times.append(time.perf_counter() - self.t)

    args = SFTConfig(output_dir="/tmp/finbench-train-bench", max_steps=steps + 1, per_device_train_batch_size=batch,
                     max_length=max_length, packing=packing, bf16=bf16, use_cpu=not torch.cuda.is_available(),
                     report_to="none", save_strategy="no", logging_strategy="no", disable_tqdm=True,
                     include_num_input_tokens_seen="non_padding", seed=42, dataloader_num_workers=0)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    lora = LoraConfig(r=16, lora_alpha=32, task_type="CAUSAL_LM",
                      target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    seen: list[int] = []

    class Tokens(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            seen.append(state.num_input_tokens_seen)

    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                         peft_config=lora, callbacks=[Clock(), Tokens()])
    trainer.train()
    tokens = seen[-1] - seen[0]  # the warm-up step excluded
    seconds = sum(times[1:])
    return {"tokens": tokens, "seconds": seconds, "tokens_per_second": tokens / seconds,
            "model_config": model.config}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--recipe", default=str(ROOT / "finetune/recipes/study/cocktail.yaml"))
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=4, help="sequences per step (packed: max_length tokens each)")
    ap.add_argument("--max-length", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()

    from transformers import AutoTokenizer

    from finbench.finetune import mix, recipe, train

    r = recipe.load(a.recipe)
    base = train.resolve_base(r.base_model)
    tokenizer = AutoTokenizer.from_pretrained(base)
    records = mix.build(r).records
    rows, _ = train._to_prompt_completion(records, tokenizer, a.max_length)
    lens = [len(tokenizer.apply_chat_template(x["prompt"] + x["completion"], tokenize=True, return_dict=True)["input_ids"])
            for x in rows]
    configs = [("padded", False, False), ("padded", False, True), ("packed", True, False), ("packed", True, True)]
    results: dict[str, list] = {f"{n} {'bf16' if b else 'fp32'}": [] for n, _, b in configs}
    ceilings = {"fp32": [], "bf16": []}
    mean_len = statistics.mean(lens)
    for rep in range(a.repeats):
        ceilings["fp32"].append(matmul_ceiling(torch.float32))
        ceilings["bf16"].append(matmul_ceiling(torch.bfloat16))
        for name, packing, bf16 in configs:
            res = run_config(base, rows, packing, bf16, a.steps, a.batch, a.max_length, tokenizer)
            results[f"{name} {'bf16' if bf16 else 'fp32'}"].append(res)
            print(f"[repeat {rep + 1}] {name} {'bf16' if bf16 else 'fp32'}: {res['tokens_per_second']:.1f} tok/s",
                  file=sys.stderr, flush=True)
    cfg = next(iter(results.values()))[0]["model_config"]
    ceil = {k: statistics.median(v) for k, v in ceilings.items()}
    out = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
           "examples": len(rows), "mean_example_tokens": round(mean_len, 1), "steps": a.steps, "batch": a.batch,
           "max_length": a.max_length, "repeats": a.repeats, "ceiling_tflops": ceil, "configs": {}}
    print(f"| configuration | useful tokens/s (median of {a.repeats}) | vs padded fp32 | model TFLOP/s | MFU |")
    print("|---|---:|---:|---:|---:|")
    base_rate = statistics.median(x["tokens_per_second"] for x in results["padded fp32"])
    for key, runs in results.items():
        rate = statistics.median(x["tokens_per_second"] for x in runs)
        seq = a.max_length / 2 if key.startswith("packed") else mean_len / 2
        tflops = rate * lora_flops_per_token(cfg, seq) / 1e12
        precision = key.split()[1]
        mfu = tflops / ceil[precision]
        out["configs"][key] = {"tokens_per_second": round(rate, 1), "tflops": round(tflops, 4), "mfu": round(mfu, 3),
                               "runs": [round(x["tokens_per_second"], 1) for x in runs]}
        print(f"| {key} | {rate:.1f} | {rate / base_rate:.2f}x | {tflops:.3f} | {mfu:.0%} of {precision} "
              f"ceiling {ceil[precision]:.3f} |")
    print(f"\nmatmul ceiling (2048^3, median of {a.repeats}): fp32 {ceil['fp32']:.3f}, bf16 {ceil['bf16']:.3f} "
          f"TFLOP/s; {len(rows)} examples, mean {mean_len:.0f} tokens; {out['machine']}")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2) + "\n")
    from finbench.config import cache_dir
    from finbench.finetune.sweep import THROUGHPUT_FILE

    precision = "bf16" if train.use_bf16(r.training.precision) else "fp32"
    chosen = f"{'packed' if r.training.packing else 'padded'} {precision}"
    cache_dir().mkdir(parents=True, exist_ok=True)
    (cache_dir() / THROUGHPUT_FILE).write_text(json.dumps(
        {"tokens_per_second": out["configs"][chosen]["tokens_per_second"], "config": chosen,
         "date": time.strftime("%Y-%m-%d")}) + "\n")


if __name__ == "__main__":
    main()
