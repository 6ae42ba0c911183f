"""Fine-tuning recipes: one YAML file per experiment, loaded into a validated `Recipe` (errors name the bad field).

A recipe says which base model to adapt, the LoRA settings, the task mixture (train splits only) and the training
settings. Every field has a default except `name` and `mixture.tasks`; unknown fields are errors, so a typo never
silently falls back to a default. See finetune/README.md for the schema.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from finbench.data import TASKS

DEFAULT_BASE = "default"  # the embedded SmolLM2-135M-Instruct (finbench default-model)
LLAMA_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
SCHEDULES = ("linear", "cosine", "constant", "constant_with_warmup")
PRECISIONS = ("auto", "bf16", "fp32")


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
class Training:
    epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs
    lr: float = 2e-4
    schedule: str = "cosine"
    warmup_ratio: float = 0.03
    batch_size: int = 8
    grad_accum: int = 1
    max_length: int = 1024  # longer examples are dropped (and counted), never cut: a cut loses the answer
    packing: bool = True
    precision: str = "auto"  # auto: bf16 where the device runs it natively (CUDA bf16, CPU AMX/AVX512-BF16)
    seed: int = 42
    save_steps: int = 50  # checkpoint and dev evaluation every N optimizer steps
    save_total_limit: int = 3
    logging_steps: int = 5


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
    training: Training = field(default_factory=Training)
    output_dir: str = ""  # default: runs/<name>
    resources: Resources = field(default_factory=Resources)  # where it runs, not what it trains
    source: str = ""  # the file it was loaded from (not part of the recipe's identity)

    @property
    def out(self) -> Path:
        return Path(self.output_dir or f"runs/{self.name}")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("source")
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
        raise _fail(where, "the mixture is empty: list at least one {task: <name>, cap: <n>}; "
                           f"tasks: {', '.join(TASKS)}")
    parts, seen = [], set()
    for i, item in enumerate(value):
        w = f"{where}[{i}]"
        if not isinstance(item, dict) or set(item) - {"task", "cap"} or "task" not in item:
            raise _fail(w, "must be a mapping {task: <name>, cap: <n>}")
        task = item["task"]
        if task not in TASKS:
            raise _fail(f"{w}.task", f"unknown task {task!r}; known: {', '.join(TASKS)} "
                                     "(general and math are mixture shares, not tasks)")
        if task in seen:
            raise _fail(f"{w}.task", f"{task!r} is listed twice")
        cap = item.get("cap", 5000)
        if not isinstance(cap, int) or isinstance(cap, bool) or cap <= 0:
            raise _fail(f"{w}.cap", f"must be a positive integer (examples taken from the train split), got {cap!r}")
        seen.add(task)
        parts.append(Part(task, cap))
    return tuple(parts)


def _check_ranges(r: Recipe, where: str) -> None:
    checks = [
        (r.lora.r > 0, "lora.r", "must be > 0"),
        (r.lora.alpha > 0, "lora.alpha", "must be > 0"),
        (0 <= r.lora.dropout < 1, "lora.dropout", "must be in [0, 1)"),
        (r.mixture.general >= 0, "mixture.general", "must be >= 0 (a share of the finance examples)"),
        (r.mixture.math >= 0, "mixture.math", "must be >= 0 (a share of the finance examples)"),
        (r.mixture.dev_cap > 0, "mixture.dev_cap", "must be > 0 (dev examples per task for checkpoint selection)"),
        (r.training.epochs > 0 or r.training.max_steps > 0, "training.epochs", "must be > 0 (or set max_steps)"),
        (r.training.lr > 0, "training.lr", "must be > 0"),
        (r.training.schedule in SCHEDULES, "training.schedule", f"must be one of {', '.join(SCHEDULES)}"),
        (0 <= r.training.warmup_ratio < 1, "training.warmup_ratio", "must be in [0, 1)"),
        (r.training.batch_size > 0, "training.batch_size", "must be > 0"),
        (r.training.grad_accum > 0, "training.grad_accum", "must be > 0"),
        (r.training.max_length >= 64, "training.max_length", "must be >= 64 tokens"),
        (r.training.precision in PRECISIONS, "training.precision", f"must be one of {', '.join(PRECISIONS)}"),
        (r.training.save_steps > 0, "training.save_steps", "must be > 0"),
        (r.training.save_total_limit > 0, "training.save_total_limit", "must be > 0"),
        (r.training.logging_steps > 0, "training.logging_steps", "must be > 0"),
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
    allowed = {"name", "base_model", "lora", "mixture", "training", "output_dir", "resources"}
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
    if "mixture" not in raw:
        raise _fail(f"{where}: mixture", "missing; give mixture.tasks as a list of {task, cap}")
    mixture_raw = raw["mixture"]
    if not isinstance(mixture_raw, dict) or "tasks" not in mixture_raw:
        raise _fail(f"{where}: mixture.tasks", "missing; list at least one {task: <name>, cap: <n>}")
    recipe = Recipe(
        name=name,
        base_model=base,
        output_dir=out,
        lora=_section(raw.get("lora"), Lora, f"{where}: lora", {"target_modules": _modules}),
        mixture=_section(mixture_raw, Mixture, f"{where}: mixture", {"tasks": _parts}),
        training=_section(raw.get("training"), Training, f"{where}: training"),
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
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise RecipeError(f"{path}: not valid YAML: {exc}") from None
    return dataclasses.replace(from_dict(raw, str(path)), source=str(path))
