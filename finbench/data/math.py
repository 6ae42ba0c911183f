"""GSM8K train (math/gsm8k/train.jsonl) -> train-only chat records {id, messages}, calculator annotations removed."""

from __future__ import annotations

import re
from pathlib import Path

from ._common import Reader, Splits

FILE = "math/gsm8k/train.jsonl"
SOURCE = "github.com/openai/grade-school-math (commit 3101c7d5, grade_school_math/data/train.jsonl)"
CALC = re.compile(r"<<[^<>]*>>")  # `48/2 = <<48/2=24>>24` -> `48/2 = 24`


def clean(answer: str) -> str:
    """The answer with its reasoning and final `#### N` line kept, the `<<…>>` calculator annotations removed."""
    return CALC.sub("", answer)


def load(root: Path) -> Splits:
    reader = Reader("math", root, SOURCE)
    path = reader.path(FILE)
    rows = []
    for n, obj in reader.jsonl(path):
        q, a = obj.get("question"), obj.get("answer")
        if not isinstance(q, str) or not isinstance(a, str) or not q.strip() or "####" not in a:
            reader.problem(path, f"line {n}", "needs string 'question' and 'answer' (with a '#### N' final line)")
            continue
        rows.append(
            {
                "id": f"gsm8k-{n}",
                "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": clean(a)}],
            }
        )
    return reader.done({"train": rows})
