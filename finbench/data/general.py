"""LIMA (LLaMA-Factory conversion, general/lima.json) -> train-only chat records {id, messages} for fine-tuning mixes."""

from __future__ import annotations

from pathlib import Path

from ._common import Reader, Splits

FILE = "general/lima.json"
SOURCE = (
    "github.com/hiyouga/LLaMA-Factory commit b9cdff41 (data/lima.json; LIMA itself: huggingface.co/datasets/GAIR/lima)"
)


def messages(rec: dict) -> list[dict]:
    """History turns first, then the instruction (plus input, when non-empty) and the output."""
    out = []
    for turn in rec.get("history") or []:
        user, assistant = turn  # ValueError/TypeError when not a pair
        out += [{"role": "user", "content": str(user)}, {"role": "assistant", "content": str(assistant)}]
    prompt = str(rec["instruction"])
    if rec.get("input"):
        prompt += "\n\n" + str(rec["input"])
    out += [{"role": "user", "content": prompt}, {"role": "assistant", "content": str(rec["output"])}]
    return out


def load(root: Path) -> Splits:
    reader = Reader("general", root, SOURCE)
    path = reader.path(FILE)
    data = reader.json(path)
    if not isinstance(data, list):
        reader.problem(path, "file", "expected a JSON list")
        data = []
    rows = []
    for i, rec in enumerate(data):
        try:
            msgs = messages(rec)
            if not msgs[-2]["content"].strip() or not msgs[-1]["content"].strip():
                raise ValueError("empty instruction or output")
            rows.append({"id": f"lima-{i}", "messages": msgs})
        except (TypeError, KeyError, ValueError, AttributeError) as e:
            reader.problem(path, f"record {i}", f"malformed record ({type(e).__name__}: {e})")
    return reader.done({"train": rows})
