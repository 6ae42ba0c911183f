"""The evaluation order of each test split: a seeded, label-stratified order, so that the first N documents (what
lm-eval's `--limit N` evaluates) are a sample of the split, not a prefix of a file that may be sorted by label.

Membership never changes; only the order does. Within each stratum (the label, or the answer type; see STRATA) the
documents take a seeded shuffle of their sorted ids. The strata are then interleaved by Adams' apportionment: the
document of rank i (0-based) in a stratum of n documents gets the key i / n, and documents are sorted by key (ties by a
seeded order of the strata). So every prefix of N documents holds each stratum about N·n/M times (never more than
ceil(N·n/M)), and every prefix of N >= number of strata holds every stratum at least once: macro F1 over a small
sample never averages in a class the sample lacks. tasks/README.md explains the choice.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from ._common import SEED, shuffled

# task -> the field(s) a test document is stratified by; a task not listed gets a plain seeded shuffle
STRATA: dict[str, tuple[str, ...]] = {
    "fpb": ("label",),
    "fiqa_sa": ("label",),
    "tfns": ("label",),
    "ner_cls": ("label",),
    "headline": ("question_type", "label"),  # avg_f1 is the F1 of "yes" per question type
    "tatqa": ("answer_type",),  # span / multi-span / arithmetic / count are scored differently
    "mmlu_finance": ("subject", "label"),  # per-subject accuracy; letters are skewed towards D
    "financemath": ("topic",),
    "financebench": ("numeric",),  # judge=none scores the numeric subset only
}


def stratum_of(task: str) -> Callable[[dict], str]:
    """The stratum key of a record of `task` ('' for every record of an unstratified task)."""
    fields = STRATA.get(task, ())
    return lambda rec: "|".join(str(rec.get(f, "")) for f in fields)


def stratified_order(records: list[dict], stratum: Callable[[dict], str], seed: int = SEED) -> list[dict]:
    """`records` (each with a unique `id`) in Adams-interleaved, seeded order over `stratum` (see the module doc).
    Deterministic: independent of the input order and of hash seeds."""
    by_id = {r["id"]: r for r in records}
    if len(by_id) != len(records):
        raise ValueError("stratified_order needs unique record ids")
    groups: dict[str, list[str]] = {}
    for rid in shuffled(by_id, seed):
        groups.setdefault(stratum(by_id[rid]), []).append(rid)
    tie = {name: i for i, name in enumerate(shuffled(groups, seed))}
    keyed = [(Fraction(rank, len(ids)), tie[name], rid) for name, ids in groups.items() for rank, rid in enumerate(ids)]
    return [by_id[rid] for _, _, rid in sorted(keyed)]


def test_order(task: str, records: list[dict], seed: int = SEED) -> list[dict]:
    """The test split of `task` in evaluation order."""
    return stratified_order(records, stratum_of(task), seed)


test_order.__test__ = False  # not a pytest test
