"""TAT-QA: dev json -> train (+dev carved by table), test_gold json -> test; one record per question."""

from __future__ import annotations

from pathlib import Path

from ._common import Reader, Splits, carve_dev, join_context, table_text

FILES = {"train": "tatqa/tatqa_dataset_dev.json", "test": "tatqa/tatqa_dataset_test_gold.json"}
SOURCE = (
    "github.com/NExTplusplus/TAT-QA (commit 870accc4, dataset_raw/tatqa_dataset_dev.json and "
    "dataset_raw/tatqa_dataset_test_gold.json)"
)


def parse(reader: Reader, path: Path) -> list[dict]:
    out = []
    for where, item in reader.json_records(path):
        try:
            uid = str(item["table"]["uid"])
            rows = item["table"]["table"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise ValueError("table is not a list of rows")
            paragraphs = sorted(item["paragraphs"], key=lambda p: int(p["order"]))
            context = join_context(table_text(rows), *(str(p["text"]) for p in paragraphs))
            questions = item["questions"]
            if not isinstance(questions, list):
                raise ValueError("questions is not a list")
        except (TypeError, KeyError, ValueError, AttributeError) as e:
            reader.problem(path, where, f"malformed context ({type(e).__name__}: {e})")
            continue
        for j, q in enumerate(questions):
            try:
                answer = q["answer"]
                if not isinstance(answer, (list, str, int, float)) or isinstance(answer, bool):
                    raise ValueError(f"answer of type {type(answer).__name__}")
                out.append(
                    {
                        "id": str(q["uid"]),
                        "doc_id": uid,
                        "context": context,
                        "question": str(q["question"]),
                        "answer": answer,
                        "answer_type": str(q["answer_type"]),
                        "scale": str(q.get("scale") or ""),
                        "derivation": str(q.get("derivation") or ""),
                    }
                )
            except (TypeError, KeyError, ValueError, AttributeError) as e:
                reader.problem(path, f"{where} question {j}", f"malformed question ({type(e).__name__}: {e})")
    return out


def load(root: Path) -> Splits:
    reader = Reader("tatqa", root, SOURCE)
    parts = {part: parse(reader, reader.path(rel)) for part, rel in FILES.items()}
    train, dev = carve_dev(parts["train"], group=lambda r: r["doc_id"], exclude={r["doc_id"] for r in parts["test"]})
    return reader.done({"train": train, "dev": dev, "test": parts["test"]})
