"""The prompt and the reference answer text of every finbench task, shared by the lm-eval tasks and by fine-tuning
mixtures (so a model is trained on exactly the format it is evaluated on).

One function per prompt format (PROMPTS) and per answer format (TARGETS); which format a task uses is its
finbench.registry record (`prompt`, `target`)."""

from __future__ import annotations

from collections.abc import Callable

from finbench import registry
from finbench.data import format_number
from finbench.data.ner import spans as ner_spans
from finbench.registry import ENTITY_TYPE_LABELS, MMLU_LETTERS, SENTIMENT_LABELS, YES_NO

__all__ = [
    "prompt",
    "target",
    "PROMPTS",
    "TARGETS",
    "SENTIMENT_LABELS",
    "ENTITY_TYPE_LABELS",
    "YES_NO",
    "MMLU_LETTERS",
    "NER_TYPE_NAMES",
]

NER_TYPE_NAMES = {"PER": "person", "ORG": "organization", "LOC": "location", "MISC": "miscellaneous"}


def _sentiment(doc: dict, kind: str) -> str:
    about = f" towards '{doc['target']}'" if doc.get("target") else ""
    return (
        f"What is the sentiment of this {kind}{about}? "
        f"Answer with one word: negative, neutral, or positive.\n\n"
        f"Text: {doc['text']}\nAnswer:"
    )


# Prompts put what documents share first (the instruction, then a headline, sentence or report context shared by
# several questions), so vLLM's prefix cache serves it once: a headline is asked 6 questions, a NER sentence ~2.
def _headline(doc: dict) -> str:
    return (
        "Answer the question about the news headline with yes or no.\n\n"
        f"Headline: {doc['headline']}\nQuestion: {doc['question']}\nAnswer:"
    )


def _ner(doc: dict) -> str:
    return (
        "List the named entities of type person, organization, or location in the sentence below, "
        "one line per mention in the order they appear (a name mentioned twice is listed twice), written as "
        "`entity, type`. If there are none, answer `None`.\n\n"
        f"Sentence: {doc['text']}\nAnswer:"
    )


def _ner_cls(doc: dict) -> str:
    return (
        "Name the entity type of a name in the sentence below. "
        "Answer with one word: person, organization, or location.\n\n"
        f"Sentence: {doc['text']}\nWhat is the entity type of '{doc['entity']}'?\nAnswer:"
    )


def _numeric_qa(doc: dict) -> str:
    """FinQA and ConvFinQA (whose records carry the conversation so far in `history`)."""
    parts = [
        "Read the financial report excerpt and answer the question. Give the final answer as a single number "
        "on the last line, written as `Answer: <number>` (a percentage as a number with %).",
        "",
        doc["context"].strip(),
        "",
    ]
    for q, a in doc.get("history") or []:
        parts += [f"Question: {q}", f"Answer: {a}"]
    parts += [f"Question: {doc['question']}", "Answer:"]
    return "\n".join(parts)


def _tatqa(doc: dict) -> str:
    return (
        "Read the table and paragraphs from a financial report and answer the question. Write only the answer on "
        "the last line as `Answer: <answer>`: a number with its scale word if any (thousand, million, billion, %), "
        "or the text span(s) from the report, separated by `; ` if there are several.\n\n"
        f"{doc['context'].strip()}\n\nQuestion: {doc['question']}\nAnswer:"
    )


def _mmlu(doc: dict, generative: bool = False) -> str:
    """MMLU's zero-shot prompt as lm-eval writes it (subject header, question, lettered options, `Answer:`); the
    generative variant asks for the letter, for chat models and APIs."""
    options = "".join(f"\n{letter}. {text}" for letter, text in zip(MMLU_LETTERS, doc["choices"]))
    ask = "\nAnswer with the letter of the correct option: A, B, C, or D." if generative else ""
    return (
        f"The following are multiple choice questions (with answers) about {doc['subject'].replace('_', ' ')}."
        f"\n\n{doc['question'].strip()}{options}{ask}\nAnswer:"
    )


def _financemath(doc: dict) -> str:
    """FinanceMath's chain-of-thought prompt (the authors' instructions, system and user turn in one)."""
    tables = ("Table:\n" + "\n\n".join(doc["tables"]) + "\n\n") if doc.get("tables") else ""
    return (
        "You are a financial expert, you are supposed to answer the given question. You need to first think "
        "through the problem step by step, documenting each necessary step. Then you are required to conclude "
        "your response with the final answer in your last sentence as 'Therefore, the answer is {final answer}'. "
        "The final answer should be a numeric value.\n\n"
        f"{tables}Question: {doc['question']}\n\nLet's think step by step to answer the given question."
    )


def _financebench(doc: dict) -> str:
    evidence = "\n\n---\n\n".join(e.strip() for e in doc["evidence"])
    return (
        f"Answer the question about {doc['company']} using the evidence from its filing ({doc['doc_name']}). "
        "End with the final answer on the last line, written as `Answer: <answer>` (a number when the question "
        f"asks for one).\n\nEvidence:\n{evidence}\n\nQuestion: {doc['question']}\nAnswer:"
    )


def _ner_target(doc: dict) -> str:
    spans = [(t, NER_TYPE_NAMES[ty]) for t, ty in ner_spans(doc["tokens"], doc["tags"]) if ty != "MISC"]
    return "\n".join(f"{t}, {ty}" for t, ty in spans) or "None"


def _tatqa_target(doc: dict) -> str:
    ans = doc["answer"]
    text = "; ".join(str(a) for a in ans) if isinstance(ans, list) else str(ans)
    scale = doc.get("scale") or ""
    return f"Answer: {text}{'%' if scale == 'percent' else (' ' + scale if scale else '')}"


# format name (registry.Task.prompt / .target) -> f(doc, task record)
PROMPTS: dict[str, Callable[[dict, registry.Task], str]] = {
    "sentiment": lambda doc, t: _sentiment(doc, t.text_kind),
    "headline": lambda doc, t: _headline(doc),
    "ner": lambda doc, t: _ner(doc),
    "ner_cls": lambda doc, t: _ner_cls(doc),
    "numeric_qa": lambda doc, t: _numeric_qa(doc),
    "tatqa": lambda doc, t: _tatqa(doc),
    "mmlu": lambda doc, t: _mmlu(doc),
    "mmlu_gen": lambda doc, t: _mmlu(doc, generative=True),
    "financemath": lambda doc, t: _financemath(doc),
    "financebench": lambda doc, t: _financebench(doc),
}
TARGETS: dict[str, Callable[[dict], str]] = {
    "label": lambda doc: doc["label"],
    "ner": _ner_target,
    "numeric": lambda doc: f"Answer: {doc['answer_str']}",
    "tatqa": _tatqa_target,
    "financemath": lambda doc: f"Therefore, the answer is {format_number(doc['answer'])}.",
    "financebench": lambda doc: f"Answer: {doc['answer']}",
}


def prompt(task: str, doc: dict) -> str:
    """The user-turn text for one record of `task` (a registry name: `finbench_fpb`, or `fpb`; a chat template,
    when used, wraps it)."""
    spec = _task(task)
    return PROMPTS[spec.prompt](doc, spec)


def target(task: str, doc: dict) -> str:
    """The reference answer written the way the prompt asks for it (used for training targets)."""
    return TARGETS[_task(task).target](doc)


def _task(name: str) -> registry.Task:
    try:
        return registry.get(name)
    except KeyError:
        raise ValueError(f"unknown finbench task {name!r}") from None
