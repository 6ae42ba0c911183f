"""Fine-tuning recipes: one YAML file per experiment, loaded into a validated `Recipe` (errors name the bad field).

A recipe says which base model to adapt, the LoRA settings, the task mixture (train splits only) and the training
settings. Like alignment-handbook's recipes, the `training:` block is TRL `SFTConfig` keyword arguments, validated by
constructing the config (so its names, types and choices are TRL's, not finbench's); finbench's own keys (`name`,
`base_model`, `output_dir`, `lora`, `mixture`, `precision`, `resources`) sit beside it. A few SFTConfig arguments are
set by finbench and refused in a recipe (`MANAGED`). Every field has a default except `name` and `mixture.tasks`;
unknown fields are errors, so a typo never silently falls back to a default. See finetune/README.md for the schema.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from finbench import yamlfile
from finbench.data import TASKS

DEFAULT_BASE = "default"  # the embedded SmolLM2-135M-Instruct (finbench default-model)
LLAMA_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
PRECISIONS = ("auto", "bf16", "fp32")

# SFTConfig defaults finbench changes (the rest are TRL's): length-grouped, unpacked batches measured fastest on CPU
# (docs/BENCHMARKS.md); save_steps is also the dev-evaluation interval unless eval_steps is given.
TRAINING_DEFAULTS: dict[str, Any] = {
    "num_train_epochs": 1.0,
    "learning_rate": 2e-4,
    "lr_scheduler_type": "cosine",
    "warmup_steps": 0.03,
    "per_device_train_batch_size": 8,
    "gradient_accumulation_steps": 1,
    "max_length": 1024,
    "packing": False,
    "train_sampling_strategy": "group_by_length",
    "seed": 42,
    "save_steps": 50,
    "save_total_limit": 3,
    "logging_steps": 5,
}
# SFTConfig arguments finbench sets itself, and why (a recipe that sets one is refused)
MANAGED = {
    "output_dir": "the run's checkpoints go to <output_dir>/checkpoints (set the recipe's top-level output_dir)",
    "bf16": "set the recipe's top-level `precision` (auto: bf16 where this machine runs it natively)",
    "fp16": "set the recipe's top-level `precision`",
    "use_cpu": "chosen per machine (CPU when no GPU is visible)",
    "eval_strategy": "dev loss is evaluated every eval_steps (default: save_steps) for checkpoint selection",
    "save_strategy": "checkpoints are saved every save_steps (resumable runs)",
    "load_best_model_at_end": "the checkpoint with the lowest dev loss is selected (never test data)",
    "metric_for_best_model": "selection is on dev loss",
    "greater_is_better": "selection is on dev loss",
    "report_to": "finbench writes loss.jsonl/loss.png itself",
    "include_num_input_tokens_seen": "finbench counts non-padding tokens for its throughput figures",
    "data_seed": "the data order follows `seed`",
}
# the pre-SFTConfig recipe schema, for a message that says what each old name is now
RENAMED = {
    "epochs": "num_train_epochs",
    "lr": "learning_rate",
    "schedule": "lr_scheduler_type",
    "warmup_ratio": "warmup_steps (a float < 1 is a ratio of the total steps)",
    "batch_size": "per_device_train_batch_size",
    "grad_accum": "gradient_accumulation_steps",
    "precision": "the top-level `precision` key",
}


class RecipeError(ValueError):
    """An invalid recipe; the message names the file and the field and says what is allowed."""


@dataclass(frozen=True)
class Lora:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: tuple[str, ...] = LLAMA_MODULES


@dataclass(frozen=True)
class Part:
    task: str
    cap: int


@dataclass(frozen=True)
class Mixture:
    tasks: tuple[Part, ...]
    general: float = 0.0  # general-instruction examples = share x finance examples (LIMA; capped at what exists)
    math: float = 0.0  # math examples = share x finance examples (GSM8K)
    decontaminate: bool = True  # drop train examples that share a document with any test split (reported)
    dev_cap: int = 32  # dev examples per task for checkpoint selection (dev loss), never test


@dataclass(frozen=True)
class Resources:
    """What one sweep run of this recipe asks of a cluster engine (`finbench sweep run --executor ray|slurm`)."""

    gpus: int = 0
    cpus: int = 2
    mem_gb: int = 0  # 0: the engine's default
    time_min: int = 240  # Slurm's time limit (a preempted or timed-out run is requeued and resumes)


@dataclass(frozen=True)
class Recipe:
    name: str
    mixture: Mixture
    base_model: str = DEFAULT_BASE
    lora: Lora = field(default_factory=Lora)
    training: dict[str, Any] = field(default_factory=lambda: dict(TRAINING_DEFAULTS))  # SFTConfig keyword arguments
    precision: str = "auto"  # auto: bf16 where the device runs it natively (CUDA bf16, CPU AMX/AVX512-BF16)
    output_dir: str = ""  # default: runs/<name>
    resources: Resources = field(default_factory=Resources)  # where it runs, not what it trains
    source: str = ""  # the file it was loaded from (not part of the recipe's identity)

    @property
    def out(self) -> Path:
        return Path(self.output_dir or f"runs/{self.name}")

    @property
    def seed(self) -> int:
        """The training seed (SFTConfig `seed`); it also seeds the mixture's sampling."""
        return self.training["seed"]

    def sft_config(self, output_dir: str | Path, *, bf16: bool = False, use_cpu: bool = True, **overrides: Any):
        """The TRL SFTConfig this recipe trains with: its `training:` block plus what finbench manages."""
        return sft_config(self.training, output_dir, bf16=bf16, use_cpu=use_cpu, **overrides)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("source")
        d["training"] = dict(self.training)
        d["mixture"]["tasks"] = [dict(p) for p in d["mixture"]["tasks"]]
        d["lora"]["target_modules"] = list(d["lora"]["target_modules"])
        return d

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def fingerprint(self) -> str:
        """Hash of everything that changes the trained model (not output_dir): a resumed run must match it."""
        d = self.to_dict()
        d.pop("output_dir")
        d.pop("resources")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def _fail(where: str, msg: str) -> RecipeError:
    return RecipeError(f"{where}: {msg}")


def _section(raw: Any, cls: type, where: str, convert: dict[str, Any] | None = None) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise _fail(where, f"must be a mapping of {', '.join(f.name for f in dataclasses.fields(cls))}")
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(raw) - set(names))
    if unknown:
        raise _fail(f"{where}.{unknown[0]}", f"unknown field; allowed: {', '.join(names)}")
    kwargs = {}
    defaults = cls.__dataclass_fields__
    for key, value in raw.items():
        default = defaults[key].default
        if convert and key in convert:
            kwargs[key] = convert[key](value, f"{where}.{key}")
            continue
        expected = type(default) if default is not dataclasses.MISSING else None
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if expected is not None and (not isinstance(value, expected) or isinstance(value, bool) != (expected is bool)):
            raise _fail(f"{where}.{key}", f"must be {expected.__name__}, got {value!r}")
        kwargs[key] = value
    return cls(**kwargs)


def _modules(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise _fail(where, f"must be a non-empty list of module names, e.g. {list(LLAMA_MODULES)}")
    return tuple(value)


def _parts(value: Any, where: str) -> tuple[Part, ...]:
    if not isinstance(value, list) or not value:
        raise _fail(
            where, f"the mixture is empty: list at least one {{task: <name>, cap: <n>}}; tasks: {', '.join(TASKS)}"
        )
    parts, seen = [], set()
    for i, item in enumerate(value):
        w = f"{where}[{i}]"
        if not isinstance(item, dict) or set(item) - {"task", "cap"} or "task" not in item:
            raise _fail(w, "must be a mapping {task: <name>, cap: <n>}")
        task = item["task"]
        if task not in TASKS:
            raise _fail(
                f"{w}.task",
                f"unknown task {task!r}; known: {', '.join(TASKS)} (general and math are mixture shares, not tasks)",
            )
        if task in seen:
            raise _fail(f"{w}.task", f"{task!r} is listed twice")
        cap = item.get("cap", 5000)
        if not isinstance(cap, int) or isinstance(cap, bool) or cap <= 0:
            raise _fail(f"{w}.cap", f"must be a positive integer (examples taken from the train split), got {cap!r}")
        seen.add(task)
        parts.append(Part(task, cap))
    return tuple(parts)


@functools.lru_cache(maxsize=1)
def _sft_fields() -> dict[str, Any]:
    """SFTConfig's argument names and their annotated types (TRL is imported only when a recipe is validated)."""
    import typing

    from trl import SFTConfig

    hints = typing.get_type_hints(SFTConfig)
    return {f.name: (hints.get(f.name), f.metadata.get("choices")) for f in dataclasses.fields(SFTConfig) if f.init}


def _type_error(value: Any, hint: Any) -> str | None:
    """Why `value` does not fit a plain annotated type (int, float, bool, str, optionally `| None`); else None."""
    import types
    import typing

    options = (
        typing.get_args(hint)
        if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union
        else (hint,)
    )
    if value is None and type(None) in options:
        return None
    plain = [t for t in options if t in (int, float, bool, str)]
    if len(plain) != len([t for t in options if t is not type(None)]):
        return None  # a richer type (enums, dicts, unions of several kinds): SFTConfig itself checks it
    for t in plain:
        if t is bool and isinstance(value, bool):
            return None
        if t is int and isinstance(value, int) and not isinstance(value, bool):
            return None
        if t is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return None
        if t is str and isinstance(value, str):
            return None
    return f"must be {' or '.join(t.__name__ for t in plain)}, got {value!r}"


def check_warmup(training: dict[str, Any], transformers_version: str) -> None:
    """A fractional warmup_steps is a ratio of the total steps from transformers 5; 4.x reads it as 0 steps
    (no warmup at all, silently): refuse it there rather than train without the warmup the recipe asks for."""
    w = training.get("warmup_steps", 0)
    if isinstance(w, float) and 0 < w < 1 and int(transformers_version.split(".")[0]) < 5:
        raise RecipeError(
            f"warmup_steps={w} is a ratio only from transformers 5 (installed: {transformers_version}, "
            f"which would train with no warmup); give a whole number of steps or upgrade transformers"
        )


def sft_config(
    training: dict[str, Any], output_dir: str | Path, *, bf16: bool = False, use_cpu: bool = True, **overrides: Any
):
    """SFTConfig(**training) plus finbench's managed arguments: dev-loss checkpoint selection every eval_steps."""
    import transformers
    from trl import SFTConfig

    kwargs = {**training, **overrides}
    check_warmup(kwargs, transformers.__version__)
    kwargs.setdefault("eval_steps", kwargs.get("save_steps", 500))
    kwargs.setdefault("per_device_eval_batch_size", kwargs.get("per_device_train_batch_size", 8))
    return SFTConfig(
        output_dir=str(output_dir),
        bf16=bf16,
        use_cpu=use_cpu,
        eval_strategy="steps",
        save_strategy="steps",
        load_best_model_at_end=True,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        report_to="none",
        include_num_input_tokens_seen="non_padding",
        data_seed=kwargs.get("seed", 42),
        **kwargs,
    )


def _training(raw: Any, where: str) -> dict[str, Any]:
    """The recipe's `training:` block with finbench's defaults filled in, validated by constructing SFTConfig."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise _fail(where, "must be a mapping of TRL SFTConfig keyword arguments (e.g. learning_rate: 2.0e-4)")
    fields = _sft_fields()
    for key, value in raw.items():
        w = f"{where}.{key}"
        if key in MANAGED:
            raise _fail(w, f"set by finbench, not by a recipe: {MANAGED[key]}")
        if key in RENAMED and key not in fields:
            raise _fail(w, f"unknown field: training is SFTConfig keyword arguments now; use {RENAMED[key]}")
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise _fail(
                w, f"unknown field: not an SFTConfig argument (TRL's SFTConfig / transformers' TrainingArguments){hint}"
            )
        hint, choices = fields[key]
        why = _type_error(value, hint)
        if why:
            raise _fail(w, why)
        if choices and value not in choices:
            raise _fail(w, f"must be one of {', '.join(map(str, choices))}, got {value!r}")
    training = {**TRAINING_DEFAULTS, **raw}
    checks = [
        (
            training["num_train_epochs"] > 0 or training.get("max_steps", -1) > 0,
            "num_train_epochs",
            "must be > 0 (or set max_steps)",
        ),
        (training["learning_rate"] > 0, "learning_rate", "must be > 0"),
        (training["per_device_train_batch_size"] > 0, "per_device_train_batch_size", "must be > 0"),
        (training["gradient_accumulation_steps"] > 0, "gradient_accumulation_steps", "must be > 0"),
        (
            (training["max_length"] or 0) >= 64,
            "max_length",
            "must be >= 64 tokens (longer examples are dropped and counted, never cut: a cut loses the answer)",
        ),
        (training["save_steps"] > 0, "save_steps", "must be > 0 (the checkpoint and dev-evaluation interval)"),
    ]
    for ok, name, msg in checks:
        if not ok:
            raise _fail(f"{where}.{name}", msg)
    try:
        sft_config(training, "unused")
    except (TypeError, ValueError) as exc:
        raise _fail(where, f"SFTConfig refused these arguments: {str(exc).splitlines()[0]}") from None
    return training


def _check_ranges(r: Recipe, where: str) -> None:
    checks = [
        (r.lora.r > 0, "lora.r", "must be > 0"),
        (r.lora.alpha > 0, "lora.alpha", "must be > 0"),
        (0 <= r.lora.dropout < 1, "lora.dropout", "must be in [0, 1)"),
        (r.mixture.general >= 0, "mixture.general", "must be >= 0 (a share of the finance examples)"),
        (r.mixture.math >= 0, "mixture.math", "must be >= 0 (a share of the finance examples)"),
        (r.mixture.dev_cap > 0, "mixture.dev_cap", "must be > 0 (dev examples per task for checkpoint selection)"),
        (r.precision in PRECISIONS, "precision", f"must be one of {', '.join(PRECISIONS)}"),
        (r.resources.gpus >= 0, "resources.gpus", "must be >= 0"),
        (r.resources.cpus > 0, "resources.cpus", "must be > 0"),
        (r.resources.mem_gb >= 0, "resources.mem_gb", "must be >= 0 (0: the engine's default)"),
        (r.resources.time_min > 0, "resources.time_min", "must be > 0 minutes"),
    ]
    for ok, name, msg in checks:
        if not ok:
            raise _fail(f"{where}: {name}", msg)


def from_dict(raw: Any, where: str = "recipe") -> Recipe:
    if not isinstance(raw, dict):
        raise _fail(where, "a recipe must be a YAML mapping with at least `name` and `mixture.tasks`")
    allowed = {"name", "base_model", "lora", "mixture", "training", "precision", "output_dir", "resources"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise _fail(f"{where}: {unknown[0]}", f"unknown field; allowed: {', '.join(sorted(allowed))}")
    name = raw.get("name")
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise _fail(f"{where}: name", "must be a non-empty string without '/' (it names the run)")
    base = raw.get("base_model", DEFAULT_BASE)
    if not isinstance(base, str) or not base:
        raise _fail(f"{where}: base_model", f"must be {DEFAULT_BASE!r}, a local HF model dir, or a hub id")
    out = raw.get("output_dir", "")
    if not isinstance(out, str):
        raise _fail(f"{where}: output_dir", "must be a path string")
    precision = raw.get("precision", "auto")
    if not isinstance(precision, str):
        raise _fail(f"{where}: precision", f"must be one of {', '.join(PRECISIONS)}")
    if "mixture" not in raw:
        raise _fail(f"{where}: mixture", "missing; give mixture.tasks as a list of {task, cap}")
    mixture_raw = raw["mixture"]
    if not isinstance(mixture_raw, dict) or "tasks" not in mixture_raw:
        raise _fail(f"{where}: mixture.tasks", "missing; list at least one {task: <name>, cap: <n>}")
    recipe = Recipe(
        name=name,
        base_model=base,
        output_dir=out,
        precision=precision,
        lora=_section(raw.get("lora"), Lora, f"{where}: lora", {"target_modules": _modules}),
        mixture=_section(mixture_raw, Mixture, f"{where}: mixture", {"tasks": _parts}),
        training=_training(raw.get("training"), f"{where}: training"),
        resources=_section(raw.get("resources"), Resources, f"{where}: resources"),
    )
    _check_ranges(recipe, where)
    return recipe


def load(path: str | Path) -> Recipe:
    """Load and validate a recipe file; RecipeError names the file and the field on any problem."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"{path}: no such recipe file (shipped recipes are in finetune/recipes/)")
    try:
        raw = yamlfile.load(path.read_text())
    except yaml.YAMLError as exc:
        raise RecipeError(f"{path}: not valid YAML: {exc}") from None
    return dataclasses.replace(from_dict(raw, str(path)), source=str(path))
