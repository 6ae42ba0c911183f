"""Recipes: every shipped recipe loads; every bad input is one clear error naming the file and the field."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from finbench.finetune import recipe
from finbench.finetune.recipe import RecipeError

from conftest import ROOT

RECIPES = sorted((ROOT / "finetune" / "recipes").rglob("*.yaml"))
GOOD = {"name": "r", "mixture": {"tasks": [{"task": "fpb", "cap": 10}]}}


def test_shipped_recipes_load():
    names = {p.stem for p in RECIPES}
    assert {"cocktail", "cocktail_general", "cocktail_general_math", "smoke"} <= names
    assert {f"single_{t}" for t in ("fpb", "fiqa_sa", "tfns", "headline", "ner", "ner_cls", "convfinqa", "tatqa")} \
        <= names
    for path in RECIPES:
        r = recipe.load(path)
        assert r.source == str(path)
        assert r.mixture.tasks and all(p.cap > 0 for p in r.mixture.tasks)


def test_paper_defaults():
    r = recipe.load(ROOT / "finetune/recipes/cocktail_general_math.yaml")
    caps = {p.task: p.cap for p in r.mixture.tasks}
    assert caps["headline"] == 10000 and caps["fpb"] == 5000 and caps["ner"] == 5000
    assert caps["convfinqa"] == 2000 and caps["tfns"] == 5000
    assert (r.mixture.general, r.mixture.math, r.training.seed) == (1.0, 0.5, 42)
    assert r.base_model == "default"


def test_defaults_and_roundtrip(tmp_path):
    r = recipe.from_dict(GOOD)
    assert r.lora.r == 16 and r.training.packing and r.out.as_posix() == "runs/r"
    path = tmp_path / "r.yaml"
    path.write_text(r.to_yaml())
    again = recipe.load(path)
    assert again.to_dict() == r.to_dict() and again.fingerprint() == r.fingerprint()


def test_fingerprint_tracks_what_changes_the_model():
    a = recipe.from_dict(GOOD)
    b = recipe.from_dict({**GOOD, "output_dir": "elsewhere"})
    c = recipe.from_dict({**GOOD, "training": {"lr": 1e-4}})
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()


def _with(path: str, value):
    raw = yaml.safe_load(yaml.safe_dump(GOOD))
    keys = path.split(".")
    node = raw
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    node[keys[-1]] = value
    return raw


@pytest.mark.parametrize("raw, field, words", [
    (_with("mixture.tasks", [{"task": "bogus", "cap": 5}]), "mixture.tasks[0].task", "unknown task 'bogus'"),
    (_with("mixture.tasks", [{"task": "fpb", "cap": 0}]), "mixture.tasks[0].cap", "positive integer"),
    (_with("mixture.tasks", [{"task": "fpb", "cap": "many"}]), "mixture.tasks[0].cap", "positive integer"),
    (_with("mixture.tasks", []), "mixture.tasks", "the mixture is empty"),
    (_with("mixture.tasks", [{"task": "fpb"}, {"task": "fpb"}]), "mixture.tasks[1].task", "listed twice"),
    (_with("mixture.tasks", [{"task": "general", "cap": 5}]), "mixture.tasks[0].task", "mixture shares"),
    (_with("mixture.general", -1), "mixture.general", ">= 0"),
    (_with("training.lr", "fast"), "training.lr", "must be float"),
    (_with("training.packing", "yes"), "training.packing", "must be bool"),
    (_with("training.batch_size", 0), "training.batch_size", "> 0"),
    (_with("training.batch_size", True), "training.batch_size", "must be int"),
    (_with("training.schedule", "zigzag"), "training.schedule", "cosine"),
    (_with("training.precision", "fp8"), "training.precision", "bf16"),
    (_with("training.epochs", 0), "training.epochs", "> 0"),
    (_with("training.lrate", 1e-4), "training.lrate", "unknown field"),
    (_with("lora.r", 0), "lora.r", "> 0"),
    (_with("lora.dropout", 1.5), "lora.dropout", "[0, 1)"),
    (_with("lora.target_modules", []), "lora.target_modules", "non-empty list"),
    (_with("optimizer", {}), "optimizer", "unknown field"),
    ({"mixture": GOOD["mixture"]}, "name", "non-empty string"),
    ({"name": "a/b", "mixture": GOOD["mixture"]}, "name", "without '/'"),
    ({"name": "r"}, "mixture", "missing"),
    ({"name": "r", "mixture": {"general": 1.0}}, "mixture.tasks", "missing"),
    (["not", "a", "mapping"], "recipe", "YAML mapping"),
])
def test_bad_recipes_name_the_field(tmp_path, raw, field, words):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(RecipeError) as exc:
        recipe.load(path)
    msg = str(exc.value)
    assert str(path) in msg and field in msg and words in msg, msg


def test_unreadable_recipe_files(tmp_path):
    with pytest.raises(RecipeError, match="no such recipe file"):
        recipe.load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        recipe.load(bad)


def test_cli_bad_recipe_is_one_line_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_with("mixture.tasks", [{"task": "fpb", "cap": 0}])))
    out = tmp_path / "mix.jsonl"
    proc = subprocess.run([sys.executable, "-m", "finbench.cli", "finetune", "mix", str(bad), "-o", str(out),
                           "--data-dir", "sample"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "mixture.tasks[0].cap" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]
