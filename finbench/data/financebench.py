"""FinanceBench open sample (patronus-ai/financebench, Islam et al. 2023) -> the test split: 150 questions on real
filings with the evidence text, so the task runs "oracle" (evidence in context) without the PDFs.

Record: {id, company, doc_name, doc_type, gics_sector, question_type, question_reasoning, question, answer (the gold
text), justification, evidence (the evidence texts, in order), numeric}. `numeric` is true when the gold answer is a
bare number ("$1577.00", "1.9%", "-0.02"; 52 of 150): those are scored by the numeric-QA rule, the others need a judge.
"""

from __future__ import annotations

from pathlib import Path

from finbench.metrics import parse_number

from ._common import Reader, Splits

FILE = "knowledge/financebench/financebench_open_source.jsonl"
DOCS = "knowledge/financebench/financebench_document_information.jsonl"
SOURCE = (
    "github.com/patronus-ai/financebench (commit cc39aeb4, data/financebench_open_source.jsonl and "
    "data/financebench_document_information.jsonl)"
)


def is_numeric(answer: str) -> bool:
    """A bare number, possibly with $, %, a sign, thousands separators or a scale word."""
    return parse_number(answer.strip()) is not None


def load(root: Path) -> Splits:
    reader = Reader("financebench", root, SOURCE)
    path, docs_path = reader.path(FILE), reader.path(DOCS)
    docs = {}
    for n, d in reader.jsonl(docs_path):
        if not isinstance(d.get("doc_name"), str):
            reader.problem(docs_path, f"line {n}", "no doc_name")
            continue
        docs[d["doc_name"]] = d
    out, seen = [], set()
    for n, rec in reader.jsonl(path):
        where = f"line {n}"
        try:
            rid, question, answer = rec["financebench_id"], rec["question"], rec["answer"]
            if not (isinstance(question, str) and question.strip() and isinstance(answer, str) and answer.strip()):
                raise ValueError("empty question or answer")
            evidence = [e["evidence_text"] for e in rec["evidence"]]
            if not evidence or not all(isinstance(e, str) and e.strip() for e in evidence):
                raise ValueError("no evidence text")
            if rid in seen:
                raise ValueError(f"duplicate financebench_id {rid}")
        except (KeyError, TypeError, ValueError) as e:
            reader.problem(path, where, f"malformed entry ({type(e).__name__}: {e})")
            continue
        seen.add(rid)
        info = docs.get(rec.get("doc_name"))
        if info is None:
            reader.problem(
                docs_path,
                rid,
                f"doc_name {rec.get('doc_name')!r} not in the document information "
                "(kept; doc_type and gics_sector empty)",
            )
        out.append(
            {
                "id": str(rid),
                "company": str(rec.get("company") or ""),
                "doc_name": str(rec.get("doc_name") or ""),
                "doc_type": str((info or {}).get("doc_type") or "").lower(),
                "gics_sector": str((info or {}).get("gics_sector") or ""),
                "question_type": str(rec.get("question_type") or ""),
                "question_reasoning": str(rec.get("question_reasoning") or ""),
                "question": question,
                "answer": answer,
                "justification": str(rec.get("justification") or ""),
                "evidence": evidence,
                "numeric": is_numeric(answer),
            }
        )
    by_id = {r["id"]: r for r in out}
    return reader.done({"test": list(by_id.values())})  # file order; load_splits applies the evaluation order
