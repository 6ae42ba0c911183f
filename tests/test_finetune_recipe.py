"""Recipes: every shipped recipe loads; every bad input is one clear error naming the file and the field."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from conftest import ROOT
from finbench.finetune import recipe
from finbench.finetune.recipe import RecipeError

# every recipe file (study/plan.yaml is a study file, test_finetune_sweep.py; study/dev_tasks/ are lm-eval tasks)
RECIPES = sorted(
    p for p in (ROOT / "finetune" / "recipes").rglob("*.yaml") if p.name != "plan.yaml" and "dev_tasks" not in p.parts
)
GOOD = {"name": "r", "mixture": {"tasks": [{"task": "fpb", "cap": 10}]}}


def test_shipped_recipes_load():
    names = {p.stem for p in RECIPES}
    assert {"cocktail", "cocktail_general", "cocktail_general_math", "smoke"} <= names
    assert {
        f"single_{t}" for t in ("fpb", "fiqa_sa", "tfns", "headline", "ner", "ner_cls", "convfinqa", "tatqa")
    } <= names
    for path in RECIPES:
        r = recipe.load(path)
        assert r.source == str(path)
        assert r.mixture.tasks and all(p.cap > 0 for p in r.mixture.tasks)


def test_paper_defaults():
    r = recipe.load(ROOT / "finetune/recipes/cocktail_general_math.yaml")
    caps = {p.task: p.cap for p in r.mixture.tasks}
    assert caps["headline"] == 10000 and caps["fpb"] == 5000 and caps["ner"] == 5000
    assert caps["convfinqa"] == 2000 and caps["tfns"] == 5000
    assert (r.mixture.general, r.mixture.math, r.seed) == (1.0, 0.5, 42)
    assert r.base_model == "default"


def test_defaults_and_roundtrip(tmp_path):
    r = recipe.from_dict(GOOD)
    assert r.lora.r == 16 and r.out.as_posix() == "runs/r" and r.precision == "auto"
    assert r.training == recipe.TRAINING_DEFAULTS and r.training["train_sampling_strategy"] == "group_by_length"
    path = tmp_path / "r.yaml"
    path.write_text(r.to_yaml())
    again = recipe.load(path)
    assert again.to_dict() == r.to_dict() and again.fingerprint() == r.fingerprint()


def test_fingerprint_tracks_what_changes_the_model():
    a = recipe.from_dict(GOOD)
    b = recipe.from_dict({**GOOD, "output_dir": "elsewhere"})
    c = recipe.from_dict({**GOOD, "training": {"learning_rate": 1e-4}})
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()


def _with(path: str, value):
    raw = yaml.safe_load(yaml.safe_dump(GOOD))
    keys = path.split(".")
    node = raw
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    node[keys[-1]] = value
    return raw


@pytest.mark.parametrize(
    "raw, field, words",
    [
        (_with("mixture.tasks", [{"task": "bogus", "cap": 5}]), "mixture.tasks[0].task", "unknown task 'bogus'"),
        (_with("mixture.tasks", [{"task": "fpb", "cap": 0}]), "mixture.tasks[0].cap", "positive integer"),
        (_with("mixture.tasks", [{"task": "fpb", "cap": "many"}]), "mixture.tasks[0].cap", "positive integer"),
        (_with("mixture.tasks", []), "mixture.tasks", "the mixture is empty"),
        (_with("mixture.tasks", [{"task": "fpb"}, {"task": "fpb"}]), "mixture.tasks[1].task", "listed twice"),
        (_with("mixture.tasks", [{"task": "general", "cap": 5}]), "mixture.tasks[0].task", "mixture shares"),
        (_with("mixture.general", -1), "mixture.general", ">= 0"),
        (_with("training.learning_rate", "fast"), "training.learning_rate", "must be float"),
        (_with("training.learning_rate", "2e-4"), "training.learning_rate", "must be float"),  # YAML 1.1: a string
        (_with("training.packing", "yes"), "training.packing", "must be bool"),
        (_with("training.per_device_train_batch_size", 0), "training.per_device_train_batch_size", "> 0"),
        (_with("training.per_device_train_batch_size", True), "training.per_device_train_batch_size", "must be int"),
        (_with("training.lr_scheduler_type", "zigzag"), "training", "zigzag is not a valid SchedulerType"),
        (_with("training.train_sampling_strategy", "by_mood"), "training.train_sampling_strategy", "group_by_length"),
        (_with("training.eval_steps", 7), "training", "SFTConfig refused"),  # save_steps 50 is no multiple of 7
        (_with("precision", "fp8"), "precision", "bf16"),
        (_with("training.num_train_epochs", 0), "training.num_train_epochs", "> 0"),
        (_with("training.learning_rat", 1e-4), "training.learning_rat", "did you mean learning_rate"),
        (_with("training.lr", 1e-4), "training.lr", "use learning_rate"),  # the old schema says what each name is now
        (_with("training.warmup_ratio", 0.1), "training.warmup_ratio", "use warmup_steps"),
        (_with("training.output_dir", "x"), "training.output_dir", "set by finbench"),
        (_with("training.bf16", True), "training.bf16", "precision"),
        (_with("training.load_best_model_at_end", False), "training.load_best_model_at_end", "dev loss"),
        (_with("lora.r", 0), "lora.r", "> 0"),
        (_with("lora.dropout", 1.5), "lora.dropout", "[0, 1)"),
        (_with("lora.target_modules", []), "lora.target_modules", "non-empty list"),
        (_with("optimizer", {}), "optimizer", "unknown field"),
        ({"mixture": GOOD["mixture"]}, "name", "non-empty string"),
        ({"name": "a/b", "mixture": GOOD["mixture"]}, "name", "without '/'"),
        ({"name": "r"}, "mixture", "missing"),
        ({"name": "r", "mixture": {"general": 1.0}}, "mixture.tasks", "missing"),
        (["not", "a", "mapping"], "recipe", "YAML mapping"),
    ],
)
def test_bad_recipes_name_the_field(tmp_path, raw, field, words):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(RecipeError) as exc:
        recipe.load(path)
    msg = str(exc.value)
    assert str(path) in msg and field in msg and words in msg, msg


def test_training_block_is_the_sft_config_the_trainer_gets():
    r = recipe.from_dict(
        {
            **GOOD,
            "training": {
                "learning_rate": 3e-4,
                "per_device_train_batch_size": 4,
                "gradient_accumulation_steps": 2,
                "warmup_steps": 0.1,
                "seed": 7,
                "save_steps": 10,
                "neftune_noise_alpha": 5.0,
            },
        }
    )
    cfg = r.sft_config("out")
    assert (cfg.learning_rate, cfg.per_device_train_batch_size, cfg.gradient_accumulation_steps) == (3e-4, 4, 2)
    assert (cfg.seed, cfg.data_seed, cfg.neftune_noise_alpha, r.seed) == (7, 7, 5.0, 7)
    assert cfg.train_sampling_strategy == "group_by_length"  # finbench's default, measured faster on CPU
    # what finbench manages: dev-loss selection at every checkpoint, evaluated at the save interval
    assert (cfg.eval_steps, cfg.save_steps, cfg.load_best_model_at_end, cfg.metric_for_best_model) == (
        10,
        10,
        True,
        "eval_loss",
    )
    assert cfg.per_device_eval_batch_size == 4 and cfg.output_dir == "out"


def test_warmup_is_a_ratio_of_the_total_steps():
    """The old mapping passed `warmup_ratio` as `warmup_steps`: transformers 4.x reads 0.03 as (almost) no warmup at
    all. A recipe's warmup_steps: 0.1 warms up for 10 % of the steps, and is refused where it would not."""
    r = recipe.from_dict({**GOOD, "training": {"warmup_steps": 0.1}})
    assert r.sft_config("out").get_warmup_steps(200) == 20
    recipe.check_warmup({"warmup_steps": 0.1}, "5.0.0")
    recipe.check_warmup({"warmup_steps": 20}, "4.56.0")
    with pytest.raises(RecipeError, match="no warmup"):
        recipe.check_warmup({"warmup_steps": 0.1}, "4.56.0")


def test_unreadable_recipe_files(tmp_path):
    with pytest.raises(RecipeError, match="no such recipe file"):
        recipe.load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        recipe.load(bad)
    twice = tmp_path / "twice.yaml"
    twice.write_text(yaml.safe_dump(GOOD, sort_keys=False) + "name: other\n")
    with pytest.raises(RecipeError, match="found the key 'name' twice"):
        recipe.load(twice)


def test_cli_bad_recipe_is_one_line_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_with("mixture.tasks", [{"task": "fpb", "cap": 0}])))
    out = tmp_path / "mix.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "finbench.cli", "finetune", "mix", str(bad), "-o", str(out), "--data-dir", "sample"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "mixture.tasks[0].cap" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]
