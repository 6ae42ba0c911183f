"""Mixture builder: a recipe's task cocktail as chat `messages` records, from train splits only.

Finance records use exactly the evaluation tasks' prompts (`finbench.prompts`), so a model is trained on the format
it is tested on. Sampling is seeded by the recipe's seed and each part's name, so the same recipe and data give the
same file byte for byte. With `mixture.decontaminate` (the default) train examples that share a document with any test
split, or near-duplicate one (`leakage`), are dropped before sampling, counted in the manifest and listed in
`Mixture.dropped` (`finbench finetune mix` writes them beside the mixture).
"""

from __future__ import annotations

import copy
import functools
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from finbench import data, prompts
from finbench.config import DataError

from . import leakage
from .recipe import Recipe


@dataclass
class Mixture:
    records: list[dict]
    manifest: dict = field(default_factory=dict)  # per source: available, leaked (dropped), taken; notes
    dropped: list[dict] = field(default_factory=list)  # {id, source, why, test: [{test, test_text, ...}]}


def _record(task: str, doc: dict) -> dict:
    if task in data.TRAIN_ONLY:
        messages = [{"role": m["role"], "content": m["content"]} for m in doc["messages"]]
    else:
        messages = [
            {"role": "user", "content": prompts.prompt(task, doc)},
            {"role": "assistant", "content": prompts.target(task, doc)},
        ]
    return {"id": f"{task}/{doc['id']}", "source": task, "messages": messages}


def _split(task: str, split: str) -> list[dict]:
    rows = data.load_splits(task).splits.get(split) or []
    if not rows:
        raise DataError(
            f"{task}: the {split} split is empty in {data.resolve()}; a mixture needs it (run `finbench data check`)."
        )
    return rows


@functools.lru_cache(maxsize=32)
def _decontaminated(task: str, split: str, root: str, rows_id: int) -> tuple[list[dict], list[dict], int, list]:
    """(kept records, dropped entries, near-duplicates dropped, the rows) of a task's split: what decontamination
    keeps does not depend on the seed, so a sweep planning many recipes (or `--dry-run`) checks each split once. Keyed
    by the loaded rows' identity too (kept alive in the value), so data reloaded after `data.clear_cache()` is
    checked again."""
    rows = _split(task, split)
    records = [_record(task, r) for r in rows]
    index = leakage.test_index()
    near = leakage.near_duplicates(records, index)
    kept, dropped = [], []
    for i, (row, rec) in enumerate(zip(rows, records)):
        same = leakage.leaked(task, row, index)
        if same:
            dropped.append({"id": rec["id"], "source": task, "why": "same document", "test_tasks": sorted(same)})
        elif i in near:
            dropped.append({"id": rec["id"], "source": task, "why": "near-duplicate", "test": near[i]})
        else:
            kept.append(rec)
    return kept, dropped, sum(d["why"] == "near-duplicate" for d in dropped), rows


def _take(task: str, split: str, n: int, seed: int, decontaminate: bool, info: dict, dropped: list[dict]) -> list[dict]:
    rows = _split(task, split)
    info["available"] = len(rows)
    if decontaminate:
        kept, gone, near, _ = _decontaminated(task, split, data.resolve(), id(rows))
        records = [copy.deepcopy(r) for r in kept]
        dropped += copy.deepcopy(gone)
        info["leaked_dropped"] = len(rows) - len(kept)
        info["near_duplicates_dropped"] = near
    else:
        records = [_record(task, r) for r in rows]
    if n < len(records):
        records = random.Random(f"{seed}:{task}").sample(records, n)
    info["taken"] = len(records)
    return records


def build(recipe: Recipe, split: str = "train") -> Mixture:
    """The recipe's mixture from `split` (train for training; dev, with `mixture.dev_cap` per task, for selection).

    general/math shares apply to the train mixture only (selection is on the finance tasks' dev data).
    """
    m, seed = recipe.mixture, recipe.seed
    records: list[dict] = []
    dropped: list[dict] = []
    manifest: dict = {"split": split, "seed": seed, "sources": {}, "notes": []}
    for part in m.tasks:
        info = manifest["sources"].setdefault(part.task, {"cap": part.cap if split == "train" else m.dev_cap})
        records += _take(part.task, split, info["cap"], seed, m.decontaminate and split == "train", info, dropped)
    finance = len(records)
    if split == "train":
        for source, share in (("general", m.general), ("math", m.math)):
            if share <= 0:
                continue
            want = round(share * finance)
            info = manifest["sources"].setdefault(source, {"share": share, "asked": want})
            records += _take(source, "train", want, seed, m.decontaminate, info, dropped)
            if info["taken"] < want:
                manifest["notes"].append(
                    f"{source}: asked for {want} examples ({share} x {finance} finance), only {info['taken']} available"
                )
    random.Random(f"{seed}:shuffle:{split}").shuffle(records)
    manifest["examples"] = len(records)
    if not records:
        raise DataError("the mixture is empty")
    return Mixture(records, manifest, dropped)


def dumps(records: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def read(path: Path) -> list[dict]:
    """Read a mixture JSONL file (each line {id, source, messages}); DataError names the bad line."""
    out = []
    with open(path) as fh:
        for i, line in enumerate(fh, 1):
            try:
                rec = json.loads(line)
                assert isinstance(rec, dict) and {"id", "source", "messages"} <= set(rec)
            except (json.JSONDecodeError, AssertionError):
                raise DataError(f"{path}:{i}: not a mixture record (JSON with id, source, messages)") from None
            out.append(rec)
    return out


def dropped_path(mixture: Path) -> Path:
    """Where `finbench finetune mix` lists the examples decontamination dropped: beside the mixture."""
    return mixture.with_name(mixture.stem + ".dropped.jsonl")
