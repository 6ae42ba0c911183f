"""ConvFinQA dev (tomoro or PoT format) -> one record per turn; train/test halves split by report page."""

from __future__ import annotations

import ast
import operator
import re
from pathlib import Path
from typing import Any

from ._common import Reader, Splits, carve_dev, format_number, join_context, partition, table_text

TOMORO = "convfinqa/tomoro_convfinqa_dataset_dev.json"
POT = "convfinqa/pot_convfinqa_dev.json"
SOURCE = (
    "ConvFinQA dev in either derived format: github.com/JoyMurmur/finqa-agent (commit db2ecf7d, "
    "data/convfinqa_dataset.json -> convfinqa/tomoro_convfinqa_dataset_dev.json) or "
    "github.com/TIGER-AI-Lab/Program-of-Thoughts (commit 850399c3, data/convfinqa_dev.json -> "
    "convfinqa/pot_convfinqa_dev.json); upstream: github.com/czyssrs/ConvFinQA"
)
HALVES = {"test": 0.5, "train": 0.5}


def page(conv_id: str) -> str:
    """The report page of a conversation id: `Single_MRO/2007/page_134.pdf-1` -> `MRO/2007/page_134.pdf`."""
    return re.sub(r"-\d+$", "", re.sub(r"^(Single_|Double_)", "", conv_id))


# -- safe evaluation of PoT programs ------------------------------------------------------------------------
_BIN = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_CMP = {ast.Gt: operator.gt, ast.Lt: operator.lt, ast.GtE: operator.ge, ast.LtE: operator.le, ast.Eq: operator.eq}
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")  # `ans = 13.4%` (10 PoT turns) means 0.134


def run_program(program: str) -> float | str:
    """Execute a PoT program (`x0 = 60.94 - 25.14; ans = x0 / 25.14`) with an `ast` walker: number literals,
    + - * /, unary minus, parentheses, names assigned earlier, one comparison (-> "yes"/"no"). Never eval/exec.
    Numeric results are rounded to 5 decimals, as ConvFinQA's executed answers are. ValueError when unsupported."""
    try:
        tree = ast.parse(_PERCENT.sub(r"(\1 / 100)", program), mode="exec")
    except SyntaxError as e:
        raise ValueError(f"not a program: {e.msg}") from None
    env: dict[str, Any] = {}

    def num(node: ast.AST) -> float:
        value = ev(node)
        if isinstance(value, str):
            raise ValueError("a comparison result used in arithmetic")
        return value

    def ev(node: ast.AST) -> float | str:
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id not in env:
                raise ValueError(f"name {node.id!r} used before assignment")
            return env[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
            try:
                return _BIN[type(node.op)](num(node.left), num(node.right))
            except ZeroDivisionError:
                raise ValueError("division by zero") from None
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = num(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _CMP:
            return "yes" if _CMP[type(node.ops[0])](num(node.left), num(node.comparators[0])) else "no"
        raise ValueError(f"unsupported expression {type(node).__name__}")

    for stmt in tree.body:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
            raise ValueError(f"unsupported statement {type(stmt).__name__}")
        env[stmt.targets[0].id] = ev(stmt.value)
    if "ans" not in env:
        raise ValueError("no 'ans' assigned")
    ans = env["ans"]
    return ans if isinstance(ans, str) else round(ans, 5)


# -- the two formats -> conversations {id, context, questions, answers, answer_strs} -----------------------------
def tomoro_table(table: dict) -> str:
    """Tomoro's table (column -> {row label -> value}) as pipe rows: header, then one row per row label."""
    columns = list(table)
    labels: list[str] = []
    for col in columns:
        for label in table[col]:
            if label not in labels:
                labels.append(label)
    rows = [["", *columns]]
    rows += [
        [label, *(format_number(table[c][label]) if label in table[c] else "" for c in columns)] for label in labels
    ]
    return table_text(rows)


def read_tomoro(reader: Reader, path: Path) -> list[dict]:
    convs = []
    for where, rec in reader.json_records(path, key="dev"):
        try:
            doc, dlg = rec["doc"], rec["dialogue"]
            questions, answers = dlg["conv_questions"], dlg["executed_answers"]
            answer_strs = [str(a) for a in dlg["conv_answers"]]
            if not (len(questions) == len(answers) == len(answer_strs)) or not questions:
                raise ValueError("questions/answers lengths differ or are empty")
            if not all(isinstance(a, (int, float, str)) and not isinstance(a, bool) for a in answers):
                raise ValueError("an executed answer is neither a number nor a string")
            table = doc["table"]
            if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
                raise ValueError("table is not {column: {row: value}}")
            context = join_context(doc["pre_text"], tomoro_table(table), doc["post_text"])
            convs.append(
                {
                    "id": str(rec["id"]),
                    "context": context,
                    "questions": [str(q) for q in questions],
                    "answers": [a if isinstance(a, str) else float(a) for a in answers],
                    "answer_strs": answer_strs,
                }
            )
        except (TypeError, KeyError, ValueError, AttributeError) as e:
            reader.problem(path, where, f"malformed conversation ({type(e).__name__}: {e})")
    return convs


def read_pot(reader: Reader, path: Path) -> list[dict]:
    convs = []
    for where, rec in reader.json_records(path):
        try:
            questions, programs = rec["questions"], rec["programs"]
            if len(questions) != len(programs) or not questions:
                raise ValueError("questions/programs lengths differ or are empty")
            answers = [run_program(str(p)) for p in programs]
            # PoT's text is pre_text + post_text already joined: context = text, then the table.
            context = join_context(str(rec["text"]), str(rec["table"]))
            convs.append(
                {
                    "id": str(rec["id"]),
                    "context": context,
                    "questions": [str(q) for q in questions],
                    "answers": answers,
                    "answer_strs": [format_number(a) for a in answers],
                }
            )
        except (TypeError, KeyError, ValueError, AttributeError) as e:
            reader.problem(path, where, f"malformed conversation ({type(e).__name__}: {e})")
    return convs


def conversations(reader: Reader) -> list[dict]:
    """Tomoro's file when present (preferred), else PoT's; DataError when neither is there."""
    path = reader.path(TOMORO, required=False)
    if path is not None:
        return read_tomoro(reader, path)
    path = reader.path(POT, required=False)
    if path is not None:
        return read_pot(reader, path)
    reader.path(TOMORO)  # raises DataError naming the expected file
    return []


def turns(conv: dict) -> list[dict]:
    out = []
    history: list[list[Any]] = []
    for t, (q, a, a_str) in enumerate(zip(conv["questions"], conv["answers"], conv["answer_strs"])):
        out.append(
            {
                "id": f"{conv['id']}#{t}",
                "doc_id": page(conv["id"]),
                "conv_id": conv["id"],
                "turn": t,
                "context": conv["context"],
                "history": [list(h) for h in history],
                "question": q,
                "answer": a,
                "answer_str": a_str,
            }
        )
        history.append([q, a_str])
    return out


def load(root: Path) -> Splits:
    reader = Reader("convfinqa", root, SOURCE)
    convs = conversations(reader)
    seen: set[str] = set()
    unique = []
    for c in convs:
        if c["id"] in seen:
            reader.problem(reader.files[-1], c["id"], "duplicate conversation id (dropped)")
            continue
        seen.add(c["id"])
        unique.append(c)
    half = partition((page(c["id"]) for c in unique), HALVES)
    records = [r for c in unique for r in turns(c)]
    test = [r for r in records if half[r["doc_id"]] == "test"]
    train = [r for r in records if half[r["doc_id"]] == "train"]
    train, dev = carve_dev(train, group=lambda r: r["doc_id"])
    return reader.done({"train": train, "dev": dev, "test": test})
