"""FinanceMath validation (yale-nlp/FinanceMath, Zhao et al. ACL 2024) -> the test split: 200 knowledge-intensive
finance maths questions {id, topic, question, tables (Markdown), answer (float: the expert solution's result rounded
to 3 decimals)}. The 1,000-question test split has no public answers, so finbench evaluates on validation (the
authors publish per-model accuracies on it: knowledge/financemath/validation_{cot,pot}_results.json).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from finbench.config import DataError

from ._common import Reader, Splits

FILE = "knowledge/financemath/validation.json"
COT_RESULTS = "knowledge/financemath/validation_cot_results.json"
SOURCE = "github.com/yale-nlp/FinanceMath (commit bdddc586, data/validation.json)"
TOPICS = (
    "Accounting",
    "Market Analysis & Economics",
    "Asset Classes & Derivatives",
    "Quantitative Analysis & Valuation",
    "Risk Management",
    "Portfolio Management & Strategy",
    "Corporate & Securities Issuance",
)


def load(root: Path) -> Splits:
    reader = Reader("financemath", root, SOURCE)
    path = reader.path(FILE)
    out = []
    for where, rec in reader.json_records(path):
        try:
            gt = rec["ground_truth"]
            if isinstance(gt, bool) or not isinstance(gt, (int, float)) or not math.isfinite(gt):
                raise ValueError(f"ground_truth {gt!r} is not a finite number")
            tables = rec.get("tables") or []
            if not isinstance(tables, list) or not all(isinstance(t, str) for t in tables):
                raise ValueError("tables is not a list of strings")
            if not str(rec["question"]).strip():
                raise ValueError("empty question")
            out.append(
                {
                    "id": str(rec["question_id"]),
                    "topic": str(rec["topic"]),
                    "question": str(rec["question"]),
                    "tables": tables,
                    "answer": float(gt),
                }
            )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            reader.problem(
                path,
                f"record {where}" if not str(where).startswith("record") else where,
                f"malformed entry ({type(e).__name__}: {e})",
            )
    by_id = {r["id"]: r for r in out}
    if len(by_id) != len(out):
        reader.problem(path, "file", f"{len(out) - len(by_id)} duplicate question_id(s); the last one kept")
    return reader.done({"test": list(by_id.values())})  # file order; load_splits applies the evaluation order


def published_accuracies(root: Path, kind: str = "cot") -> dict[str, dict]:
    """The authors' accuracies on this split per model ({model: {accuracy, topic_accuracy, ...}}), in percent."""
    p = root / f"knowledge/financemath/validation_{kind}_results.json"
    if not p.is_file():
        raise DataError(f"financemath: missing {p} (FINBENCH_DATA_DIR={root}); get it from {SOURCE}")
    return {r["model_name"]: r for r in json.loads(p.read_text())}
