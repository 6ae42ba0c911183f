"""FinQA (official train/dev/test json): one record per question, answer = qa.exe_ans."""

from __future__ import annotations

import re
from pathlib import Path

from finbench.config import DataError

from ._common import Reader, Splits, format_number, join_context, table_text

FILES = {"train": "finqa/train.json", "dev": "finqa/dev.json", "test": "finqa/test.json"}
SOURCE = "github.com/czyssrs/FinQA (dataset/train.json, dataset/dev.json, dataset/test.json; commit 0f16e286)"
NOTE = (
    "FinQA is not in finbench's shared data: it must be obtained from github.com/czyssrs/FinQA (dataset/*.json) "
    "and placed at $FINBENCH_DATA_DIR/finqa/ (train.json, dev.json, test.json)."
)


def parse(reader: Reader, path: Path) -> list[dict]:
    out = []
    for where, entry in reader.json_records(path):
        try:
            qa = entry["qa"]
            answer = qa["exe_ans"]
            if isinstance(answer, bool) or not isinstance(answer, (int, float, str)):
                raise ValueError(f"exe_ans of type {type(answer).__name__}")
            answer = answer if isinstance(answer, str) else float(answer)
            pre, post, table = entry["pre_text"], entry["post_text"], entry["table"]
            if not all(isinstance(x, list) for x in (pre, post, table)):
                raise ValueError("pre_text/post_text/table are not lists")
            doc_id = str(entry.get("filename") or re.sub(r"-\d+$", "", str(entry["id"])))
            answer_str = qa.get("answer")
            out.append(
                {
                    "id": str(entry["id"]),
                    "doc_id": doc_id,
                    "context": join_context(" ".join(map(str, pre)), table_text(table), " ".join(map(str, post))),
                    "question": str(qa["question"]),
                    "answer": answer,
                    "answer_str": str(answer_str) if answer_str not in (None, "") else format_number(answer),
                    "program": str(qa.get("program", "")),
                }
            )
        except (TypeError, KeyError, ValueError, AttributeError) as e:
            reader.problem(path, where, f"malformed entry ({type(e).__name__}: {e})")
    return out


def load(root: Path) -> Splits:
    reader = Reader("finqa", root, SOURCE)
    try:
        paths = {part: reader.path(rel) for part, rel in FILES.items()}  # all three required
    except DataError as e:
        raise DataError(f"{NOTE} {e}") from None
    return reader.done({part: parse(reader, path) for part, path in paths.items()})
