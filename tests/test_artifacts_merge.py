"""artifacts.merge_stage: a finished stage becomes the output dir, or joins an existing one with the `last` files
published after the rest (finbench eval's results_*.json after their samples files)."""

from __future__ import annotations

import os

from finbench import artifacts


def _stage(final, files):
    stage = artifacts.new_stage(final)
    for rel, text in files.items():
        (stage / rel).parent.mkdir(parents=True, exist_ok=True)
        (stage / rel).write_text(text)
    return stage


def test_a_new_output_is_the_stage_itself(tmp_path):
    out = tmp_path / "out"
    stage = _stage(out, {"m/results_1.json": "r", "m/samples_t_1.jsonl": "s"})
    artifacts.merge_stage(stage, out)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "m/results_1.json",
        "m/samples_t_1.jsonl",
    ]
    assert not stage.exists()


def test_an_existing_output_keeps_its_files_and_gets_the_last_ones_last(tmp_path, monkeypatch):
    out = tmp_path / "out"
    (out / "m").mkdir(parents=True)
    (out / "m" / "results_0.json").write_text("earlier run")
    stage = _stage(out, {"m/results_1.json": "r", "m/samples_t_1.jsonl": "s", "m/samples_u_1.jsonl": "u"})
    moved, replace = [], os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (moved.append(os.path.basename(b)), replace(a, b)))
    artifacts.merge_stage(stage, out, last=lambda f: f.name.startswith("results_"))
    assert moved[-1] == "results_1.json" and sorted(moved) == [
        "results_1.json",
        "samples_t_1.jsonl",
        "samples_u_1.jsonl",
    ]
    assert (out / "m" / "results_0.json").read_text() == "earlier run" and (out / "m" / "results_1.json").exists()
    assert not stage.exists() and not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
