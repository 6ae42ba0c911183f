"""Per-sample scoring and corpus aggregations for finbench tasks (sklearn/seqeval-backed; missing predictions score wrong).

Two registries, which finbench.registry's metrics name: SAMPLES, the per-sample functions (score_results, every
task's process_results, runs them), and AGGREGATIONS, the corpus aggregations with their vectorised bootstrap forms.
"""

from __future__ import annotations

import functools
import math
import re
import string
import warnings
from collections.abc import Callable, Iterable, Sequence
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import numpy as np

from . import registry
from .registry import ENTITY_TYPE_LABELS, MMLU_LETTERS, SENTIMENT_LABELS

# sklearn, seqeval and scipy are imported where they are used: importing them costs ~0.7 s, and reading results
# (tables, leaderboards, regress) mostly runs on the vectorised confusion-count path, which needs none of them.

__all__ = [
    "MISSING",
    "accuracy",
    "macro_f1",
    "weighted_f1",
    "mcc",
    "missing_rate",
    "per_type_f1",
    "headline_avg_f1",
    "headline_yes_f1",
    "entities_to_tags",
    "ner_entity_f1",
    "ner_entity_precision",
    "ner_entity_recall",
    "ner_doc_f1",
    "parse_number",
    "strict_match",
    "exec_match",
    "match_text",
    "tatqa_em_f1",
    "tatqa_official",
    "tatqa_readings",
    "Aggregation",
    "AGGREGATIONS",
    "MEAN",
    "aggregation",
    "Sample",
    "SAMPLES",
    "mc_choice",
    "score_results",
]

# A missing prediction (None) becomes this label. It is never in a task's label set, so it can never be a true
# positive: it is a false negative for the sample's gold class.
MISSING = "<missing>"

# --------------------------------------------------------------------------------------------------------------
# Classification over an explicit label set
#
# Items are (gold, pred) pairs (lists after a JSON round trip); pred may be None. Labels are compared as strings.
# --------------------------------------------------------------------------------------------------------------


def _pairs(items: Iterable[Sequence[Any]], labels: Sequence[Any] | None = None) -> tuple[list[str], list[str]]:
    """Split (gold, pred) items into string lists; None and (if labels are given) out-of-set predictions -> MISSING."""
    label_set = None if labels is None else {str(x) for x in labels}
    if label_set is not None and MISSING in label_set:
        raise ValueError(f"label set must not contain the missing-prediction sentinel {MISSING!r}")
    gold: list[str] = []
    pred: list[str] = []
    for item in items:
        g, p = item[0], item[1]
        g = str(g)
        if label_set is not None and g not in label_set:
            raise ValueError(f"gold label {g!r} is not in the label set {sorted(label_set)}")
        p = MISSING if p is None else str(p)
        if label_set is not None and p not in label_set:
            p = MISSING
        gold.append(g)
        pred.append(p)
    return gold, pred


def accuracy(items: Iterable[Sequence[Any]]) -> float:
    """Fraction of (gold, pred) items with pred == gold; a None prediction is wrong. nan for no items."""
    gold, pred = _pairs(items)
    if not gold:
        return float("nan")
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(gold, pred))


def _f1(items: Iterable[Sequence[Any]], labels: Sequence[Any], average: str) -> float:
    labels = [str(x) for x in labels]
    gold, pred = _pairs(items, labels)
    if not gold:
        return float("nan")
    from sklearn.metrics import f1_score

    return float(f1_score(gold, pred, labels=labels, average=average, zero_division=0))


def macro_f1(items: Iterable[Sequence[Any]], labels: Sequence[Any]) -> float:
    """Unweighted mean of per-class F1 over exactly `labels` (a class absent from the sample still counts, as 0
    when it is also never predicted; MISSING is never averaged in). nan for no items."""
    return _f1(items, labels, "macro")


def weighted_f1(items: Iterable[Sequence[Any]], labels: Sequence[Any]) -> float:
    """Per-class F1 over `labels`, averaged with weights = gold support of each class. nan for no items."""
    return _f1(items, labels, "weighted")


def mcc(items: Iterable[Sequence[Any]], labels: Sequence[Any]) -> float:
    """Multiclass Matthews correlation (sklearn). It is computed over the confusion matrix of `labels` plus the
    MISSING sentinel (a None or out-of-set prediction is its own predicted class, so it lowers MCC rather than
    being counted as some real label). 0.0 when undefined (e.g. every prediction the same). nan for no items."""
    gold, pred = _pairs(items, labels)
    if not gold:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        from sklearn.metrics import matthews_corrcoef

        value = float(matthews_corrcoef(gold, pred))
    return 0.0 if math.isnan(value) else value


def missing_rate(items: Iterable[Sequence[Any]]) -> float:
    """Fraction of items whose prediction (the item's LAST element) is None. nan for no items."""
    items = list(items)
    if not items:
        return float("nan")
    return sum(1 for item in items if item[-1] is None) / len(items)


# --------------------------------------------------------------------------------------------------------------
# Headline. FinBen's "AvgF1" (PIXIU src/tasks/flare.py, Headlines.label_avg): per question type the weighted F1 over
# yes/no (sklearn average="weighted", weights = gold support), then the unweighted mean over the types present.
# Secondary: the F1 of the "yes" class per type, averaged (finbench's v1 score).
# --------------------------------------------------------------------------------------------------------------


def _yes_no(value: Any) -> str:
    return MISSING if value is None else str(value).strip().lower()


def _by_type(items: Iterable[Sequence[Any]]) -> dict[str, tuple[list[str], list[str]]]:
    by_type: dict[str, tuple[list[str], list[str]]] = {}
    for item in items:
        gold, pred = by_type.setdefault(str(item[0]), ([], []))
        gold.append(_yes_no(item[1]))
        pred.append(_yes_no(item[2]))
    return dict(sorted(by_type.items()))


def per_type_f1(items: Iterable[Sequence[Any]], average: str = "weighted") -> dict[str, float]:
    """Items (question_type, gold, pred) with gold/pred "yes"/"no"/None -> {question_type: F1}, types sorted.

    average="weighted": sklearn f1_score over labels ["no", "yes"] weighted by gold support (FinBen's per-type
    score); average="yes": the F1 of the "yes" class alone. zero_division=0. A None (or out-of-set) prediction is
    its own class: a false negative for its gold label, never a true positive (FinBen reads anything but "Yes" as
    "no"; finbench does not let a missing answer score as a correct "no")."""
    from sklearn.metrics import f1_score

    if average not in ("weighted", "yes"):
        raise ValueError(f"unknown headline F1 average {average!r}: use 'weighted' or 'yes'")
    labels, avg = (["no", "yes"], "weighted") if average == "weighted" else (["yes"], "macro")
    return {
        t: float(f1_score(g, p, labels=labels, average=avg, zero_division=0)) for t, (g, p) in _by_type(items).items()
    }


def headline_avg_f1(items: Iterable[Sequence[Any]]) -> float:
    """FinBen's headline AvgF1: unweighted mean over the question types present of the per-type weighted yes/no F1
    (see per_type_f1). nan if empty."""
    scores = per_type_f1(items)
    return float(np.mean(list(scores.values()))) if scores else float("nan")


def headline_yes_f1(items: Iterable[Sequence[Any]]) -> float:
    """Mean over the question types present of the F1 of the "yes" class (numpy over confusion counts; equal to
    per_type_f1(items, "yes") averaged, tests check it). nan if empty."""
    codes, n_codes, n_types = headline_codes(items)
    if not n_types:
        return float("nan")
    return float(headline_f1_from_counts(np.bincount(codes, minlength=n_codes), n_types, "yes"))


# --------------------------------------------------------------------------------------------------------------
# The same classification metrics on stacks of confusion counts (for vectorised bootstraps). Each item becomes one
# integer code; a resample is then a vector of code counts, and a stack of them is scored in one array operation.
# They agree with the sklearn functions above draw for draw (tests/test_metrics.py checks it).
# --------------------------------------------------------------------------------------------------------------


def confusion_codes(items: Iterable[Sequence[Any]], labels: Sequence[Any]) -> tuple[np.ndarray, int]:
    """(gold, pred) items -> (codes, n_codes): code = gold_index * (K + 1) + pred_index over labels + [MISSING]."""
    labels = [str(x) for x in labels]
    gold, pred = _pairs(items, labels)
    index = {label: i for i, label in enumerate([*labels, MISSING])}
    k = len(labels) + 1
    return np.array([index[g] * k + index[p] for g, p in zip(gold, pred)], dtype=np.int64), k * k


def from_confusion(counts: np.ndarray, n_labels: int, metric: str) -> np.ndarray:
    """macro_f1 / weighted_f1 / mcc for each row of `counts` (shape (..., (K + 1)^2), from confusion_codes)."""
    k = n_labels + 1
    c = counts.reshape(*counts.shape[:-1], k, k).astype(float)
    gold_sum, pred_sum = c.sum(-1), c.sum(-2)
    if metric == "mcc":  # sklearn's multiclass formula; 0 where undefined
        total = gold_sum.sum(-1)
        correct = np.trace(c, axis1=-2, axis2=-1)
        cov_tp = correct * total - (gold_sum * pred_sum).sum(-1)
        den = np.sqrt((total**2 - (gold_sum * gold_sum).sum(-1)) * (total**2 - (pred_sum * pred_sum).sum(-1)))
        return np.divide(cov_tp, den, out=np.zeros_like(cov_tp), where=den > 0)
    tp = np.diagonal(c, axis1=-2, axis2=-1)[..., :n_labels]
    support, predicted = gold_sum[..., :n_labels], pred_sum[..., :n_labels]
    den = support + predicted  # = 2 tp + fp + fn
    f1 = np.divide(2 * tp, den, out=np.zeros_like(tp), where=den > 0)  # zero_division=0
    if metric == "macro_f1":
        return f1.mean(-1)
    if metric == "weighted_f1":
        weight = support.sum(-1)
        return np.divide((f1 * support).sum(-1), weight, out=np.zeros_like(weight), where=weight > 0)
    raise ValueError(f"unknown confusion metric {metric!r}")


def headline_codes(items: Iterable[Sequence[Any]]) -> tuple[np.ndarray, int, int]:
    """(question_type, gold, pred) items -> (codes, n_codes, n_types): code = type * 6 + gold_is_yes * 3 + pred,
    pred 0 = "no", 1 = "yes", 2 = missing or anything else."""
    rows = [(str(item[0]), _yes_no(item[1]) == "yes", {"no": 0, "yes": 1}.get(_yes_no(item[2]), 2)) for item in items]
    types = {t: i for i, t in enumerate(sorted({t for t, _, _ in rows}))}
    codes = np.array([types[t] * 6 + 3 * g + p for t, g, p in rows], dtype=np.int64)
    return codes, 6 * len(types), len(types)


def headline_f1_from_counts(counts: np.ndarray, n_types: int, average: str = "weighted") -> np.ndarray:
    """headline_avg_f1 (average="weighted") or headline_yes_f1 (average="yes") for each row of `counts` (shape
    (..., 6 * n_types), from headline_codes); types absent from a row are left out of its average."""
    c = counts.reshape(*counts.shape[:-1], n_types, 2, 3).astype(float)  # [..., type, gold no/yes, pred no/yes/miss]
    tp = np.stack([c[..., 0, 0], c[..., 1, 1]], -1)
    support = c.sum(-1)  # [..., type, gold class]
    predicted = c[..., :2].sum(-2)  # [..., type, pred class no/yes]
    den = support + predicted
    f1 = np.divide(2 * tp, den, out=np.zeros_like(tp), where=den > 0)  # zero_division=0
    n = support.sum(-1)
    if average == "weighted":
        per_type = np.divide((f1 * support).sum(-1), n, out=np.zeros_like(n), where=n > 0)
    elif average == "yes":
        per_type = f1[..., 1]
    else:
        raise ValueError(f"unknown headline F1 average {average!r}: use 'weighted' or 'yes'")
    present = n > 0
    n_present = present.sum(-1)
    return np.divide((per_type * present).sum(-1), n_present, out=np.full(n_present.shape, np.nan), where=n_present > 0)


def headline_avg_f1_from_counts(counts: np.ndarray, n_types: int) -> np.ndarray:
    """headline_avg_f1 for each row of `counts` (the vectorised bootstrap form finbench.results uses)."""
    return headline_f1_from_counts(counts, n_types, "weighted")


# --------------------------------------------------------------------------------------------------------------
# NER (seqeval, IO tags)
# --------------------------------------------------------------------------------------------------------------

_PUNCT_SPACE = re.compile(r"\s*([^\w\s])\s*")


def _canon(text: str) -> str:
    """Lower-case, collapse whitespace, and drop whitespace around punctuation ("Inc ." == "Inc.", "AT & T" == "AT&T")."""
    return _PUNCT_SPACE.sub(r"\1", " ".join(text.lower().split()))


def _find_spans(tokens: Sequence[str], entity: str) -> list[tuple[int, int]]:
    """All (start, end) token spans whose text equals `entity` case-insensitively, ignoring whitespace differences
    and spaces around punctuation (a plain whitespace-token match is a special case). Spans start and end on token
    boundaries; for each start the shortest matching span is taken."""
    target = _canon(entity)
    if not target:
        return []
    spans: list[tuple[int, int]] = []
    for i in range(len(tokens)):
        for j in range(i + 1, len(tokens) + 1):
            cand = _canon(" ".join(tokens[i:j]))
            if cand == target:
                spans.append((i, j))
                break
            if len(cand) >= len(target) or not target.startswith(cand):
                break
    return spans


def entities_to_tags(tokens: Sequence[str], entities: Iterable[Sequence[str]]) -> tuple[list[str], int]:
    """Place predicted (entity text, TYPE) pairs onto a sentence's tokens as IO tags ("I-PER", "O", ...).

    Each listed line is one mention (the prompt asks for one line per mention, and the gold target lists a name
    mentioned twice twice). An entity is matched against the token sequence case-insensitively by its whitespace
    tokens, with spaces around punctuation ignored on both sides (the data is tokenised "Inc ." style, models write
    "Inc."); matches start and end on token boundaries. An entity listed k times with the same type tags its first k
    free occurrences, so listing "LLC" once does not tag every "LLC" of a contract. Occurrences are resolved left to
    right: the earlier-starting match wins, then the longer one, then the entity listed first; tokens already tagged
    are never re-tagged, and an occurrence lost to an overlap does not use up a mention. Returns (tags, unplaced)
    where `unplaced` counts entity lines that match nowhere in the sentence (dropped: they cannot be scored on
    tokens); an entity that matched but lost every span to an overlapping one is not counted as unplaced."""
    tokens = [str(t) for t in tokens]
    tags = ["O"] * len(tokens)
    matches: list[tuple[int, int, int, tuple[str, str]]] = []  # (start, -length, entity order, key)
    mentions: dict[tuple[str, str], int] = {}  # (canonical text, TYPE) -> lines listing it
    unplaced = 0
    for order, entity in enumerate(entities):
        if isinstance(entity, str) or not isinstance(entity, Sequence) or len(entity) != 2:
            unplaced += 1  # malformed: not a (text, TYPE) pair
            continue
        text, etype = str(entity[0]), str(entity[1]).strip().upper()
        key = (_canon(text), etype)
        spans = _find_spans(tokens, text)
        if not spans:
            unplaced += 1
            continue
        if key in mentions:
            mentions[key] += 1
            continue  # its occurrences are already listed, with the order of its first line
        mentions[key] = 1
        for start, end in spans:
            matches.append((start, start - end, order, key))
    for start, neg_len, _, key in sorted(matches):
        end = start - neg_len
        if mentions[key] and all(tag == "O" for tag in tags[start:end]):
            tags[start:end] = [f"I-{key[1]}"] * (end - start)
            mentions[key] -= 1
    return tags, unplaced


def _tag_pairs(items: Iterable[Sequence[Any]]) -> tuple[list[list[str]], list[list[str]]]:
    """(gold_tags, pred_tags) items -> seqeval inputs; None pred -> all "O"; pred padded/truncated to gold length."""
    golds: list[list[str]] = []
    preds: list[list[str]] = []
    for item in items:
        gold = [str(t) for t in item[0]]
        pred = ["O"] * len(gold) if item[1] is None else [str(t) for t in item[1]]
        pred = (pred + ["O"] * len(gold))[: len(gold)]
        golds.append(gold)
        preds.append(pred)
    return golds, preds


def _seq(name: str, items: Iterable[Sequence[Any]]) -> float:
    """seqeval.metrics.<name> (f1_score, precision_score, recall_score) over items; nan for no items."""
    import seqeval.metrics

    golds, preds = _tag_pairs(items)
    if not golds:
        return float("nan")
    return float(getattr(seqeval.metrics, name)(golds, preds, zero_division=0))


def ner_entity_f1(items: Iterable[Sequence[Any]]) -> float:
    """Corpus-level micro entity F1 (seqeval, default mode) over items (gold_tags, pred_tags), one per sentence.

    With IO tags an "I-X" after "O" (or after another type) starts a chunk, and adjacent same-type tokens form ONE
    chunk, so two adjacent same-type entities merge; the gold data has the same property, so both sides are chunked
    alike. A None pred_tags is all "O" (its gold entities are false negatives). 0.0 when there are no entities at
    all; nan for no items."""
    return _seq("f1_score", items)


def ner_entity_precision(items: Iterable[Sequence[Any]]) -> float:
    """Corpus-level micro entity precision (seqeval), same conventions as ner_entity_f1."""
    return _seq("precision_score", items)


def ner_entity_recall(items: Iterable[Sequence[Any]]) -> float:
    """Corpus-level micro entity recall (seqeval), same conventions as ner_entity_f1."""
    return _seq("recall_score", items)


def ner_doc_f1(gold_tags: Sequence[str], pred_tags: Sequence[str] | None) -> float:
    """Entity F1 of one sentence (seqeval). Defined as 1.0 when neither gold nor prediction has an entity."""
    golds, preds = _tag_pairs([(gold_tags, pred_tags)])
    if all(t == "O" for t in golds[0]) and all(t == "O" for t in preds[0]):
        return 1.0
    return _seq("f1_score", [(gold_tags, pred_tags)])


# --------------------------------------------------------------------------------------------------------------
# Numeric QA (ConvFinQA / FinQA)
# --------------------------------------------------------------------------------------------------------------

_SCALE_WORDS = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_NUMBER_RE = re.compile(
    r"""^(?P<neg>[-+])?\s*(?P<cur>[$€£¥])?\s*(?P<paren>\()?\s*(?P<neg2>[-+])?\s*(?P<cur2>[$€£¥])?\s*
    (?P<num>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<dec>\d*))?|\.(?P<dec2>\d+))
    (?:[eE](?P<exp>[-+]?\d+))?
    \s*(?P<pct>%)?\s*(?P<close>\))?\s*(?:(?P<scale>thousand|million|billion|trillion)s?)?\s*(?P<pct2>%)?$""",
    re.VERBOSE | re.IGNORECASE,
)


def _parse(s: Any) -> tuple[float, int, float] | None:
    """-> (written number with sign, decimals written, scale factor) or None."""
    if s is None or isinstance(s, bool):
        return None
    if isinstance(s, (int, float)):
        if not math.isfinite(float(s)):
            return None
        return _parse(repr(float(s)) if isinstance(s, float) else str(s))
    text = str(s).strip().replace("\u2212", "-").replace("\u2013", "-")
    m = _NUMBER_RE.match(text)
    if not m or bool(m.group("paren")) != bool(m.group("close")):
        return None
    if m.group("neg") and m.group("neg2"):
        return None
    value = float(m.group("num").replace(",", ""))
    if m.group("exp"):
        value *= 10.0 ** int(m.group("exp"))
    sign = -1.0 if "-" in ((m.group("neg") or "") + (m.group("neg2") or "")) or m.group("paren") else 1.0
    decimals = len(m.group("dec") or m.group("dec2") or "")
    if m.group("exp"):
        decimals = max(0, decimals - int(m.group("exp")))
    scale = _SCALE_WORDS[m.group("scale").lower()] if m.group("scale") else 1.0
    return sign * value, decimals, scale


def parse_number(s: Any) -> float | None:
    """Parse a gold answer string: "60.94", "-3.5", "12.6%" (-> 12.6: the % sign is dropped, not divided),
    "$1,234", "(12)" (-> -12, accounting negative), "1.2 million" (-> 1200000.0; also thousand/billion/trillion),
    "1e3". Ints/floats pass through. Anything else ("yes", "n/a", "about 5") -> None."""
    parsed = _parse(s)
    if parsed is None:
        return None
    value, _, scale = parsed
    return value * scale


def strict_match(pred: float | None, gold_str: Any) -> bool:
    """True iff `pred`, rounded to the number of decimals WRITTEN in the gold string, equals the gold number.

    The rounding is done in the gold's written unit: gold "12.6%" is the number 12.6 with 1 decimal, so 12.6 and
    12.63 match, 12.66 and 0.126 do not; gold "60" (0 decimals) matches 59.5..60.49; gold "1.2 million" compares
    round(pred / 1e6, 1) with 1.2. A None/NaN/inf prediction or a non-numeric gold ("yes") -> False."""
    if pred is None or isinstance(pred, bool):
        return False
    try:
        pred = float(pred)
    except (TypeError, ValueError):
        return False
    if not math.isfinite(pred):
        return False
    parsed = _parse(gold_str)
    if parsed is None:
        return False
    value, decimals, scale = parsed
    return round(pred / scale, decimals) == round(value, decimals)


def _decimals(d: Decimal) -> int:
    """Decimals of a number written as the shortest repr of its float: 60.94 -> 2, 11.0 -> 0, 1e-05 -> 5."""
    return max(0, -d.normalize().as_tuple().exponent)


_REF_ROUNDING = (ROUND_HALF_UP, ROUND_HALF_EVEN, ROUND_DOWN)


def exec_match(pred: float | None, executed: float | None) -> bool:
    """Execution accuracy of one ConvFinQA/FinQA answer, after PoT's `finqa_equal` (TIGER-AI-Lab/Program-of-Thoughts
    tool.py) with include_percentage=True: the prediction is compared with the executed answer x, and with x * 100
    and x / 100 (a percent written 12.6 or 0.126), both rounded to the smaller of their precisions (decimals); a
    match with any of the three is correct. Deliberate differences, each needed for the annotated answers to score
    as right (tasks/README.md counts them):
      - the prediction's precision is the decimals of its shortest form, an integral value counting 0: "11%" for
        x = 0.10745 is right (PoT takes str(float("11")) = "11.0", precision 1); the reference's is PoT's (at
        least 1);
      - numbers are rounded in decimal (repr) arithmetic, and the executed answer may be rounded half-up,
        half-even or truncated: annotators truncate ("6.88" for 6.88702, "1.42%" for 0.01429); 0.13445 is
        "0.1345" (Python's float round gives 0.1344);
      - a reference that rounds (or truncates) to 0 at the compared precision is not matched: PoT accepts "0"
        for every |x| < 0.05 through x / 100.
    None / NaN / inf, or a non-numeric gold -> False."""
    if pred is None or executed is None or isinstance(pred, bool) or isinstance(executed, bool):
        return False
    try:
        pred, executed = float(pred), float(executed)
    except (TypeError, ValueError):
        return False
    if not (math.isfinite(pred) and math.isfinite(executed)):
        return False
    p_dec, x_dec = Decimal(repr(pred)), Decimal(repr(executed))
    try:
        for ref in (x_dec.scaleb(-2), x_dec, x_dec.scaleb(2)):
            ref_decimals = max(1, _decimals(ref))  # PoT: str() of a float reference always shows a decimal
            q = Decimal(1).scaleb(-min(_decimals(p_dec), ref_decimals))
            preds = {p_dec.quantize(q, ROUND_HALF_UP), p_dec.quantize(q, ROUND_HALF_EVEN)}
            for mode in _REF_ROUNDING:
                rounded = ref.quantize(q, mode)
                if rounded in preds and (rounded != 0 or ref == 0):
                    return True
    except InvalidOperation:  # beyond decimal's 28 digits: no match
        return False
    return False


def match_text(pred_text: str | None, gold_text: str | None) -> bool:
    """Non-numeric answers ("yes"/"no"): case-insensitive equality after stripping whitespace and a trailing '.'."""
    if pred_text is None or gold_text is None:
        return False

    def norm(x: Any) -> str:
        return " ".join(str(x).split()).strip().rstrip(".").strip().lower()

    return norm(pred_text) == norm(gold_text)


# --------------------------------------------------------------------------------------------------------------
# TAT-QA: a faithful port of the official evaluation (NExTplusplus/TAT-QA tatqa_metric.py + tatqa_utils.py),
# plus the reading of a free-text prediction into (answer, scale) that the official script gets from the model.
# --------------------------------------------------------------------------------------------------------------


def _scale_to_num(scale: str) -> float:
    scale = scale.lower()
    if "hundred" in scale:
        return 100
    if "thousand" in scale:
        return 1000
    if "million" in scale:
        return 1000000
    if "billion" in scale:
        return 1000000000
    if "percent" in scale:
        return 0.01
    return 1


_EXCLUDE_IN_NUM = "'\"\\$€£¥%(),[]"


def _clean_num(text: Any) -> str:
    return "".join(ch for ch in str(text) if ch not in _EXCLUDE_IN_NUM)


def _extract_one_num_from_str(s: str) -> int | float | None:
    groups = re.findall(r"([+-]?\d+(\.\d+)?)|([+-]?\.\d+)", _clean_num(s))
    if not groups:
        return None
    num = groups[0][0]
    if num == "":
        return None
    return float(num) if "." in num else int(num)


def _is_number(text: str) -> bool:
    try:
        words = " ".join(_clean_num(w) for w in text.split()).split()
        if not words:
            return False
        num = float(words[0])
        if np.isnan(num):
            return False
        if len(words) >= 2 and _scale_to_num(words[1]) == 1:
            return False
        return True
    except ValueError:
        return False


def _negative_num_handle(x: str) -> int:
    return -1 if re.findall(r"(\([\d.\s]+\))", x.strip()) else 1


def _percent_num_handle(x: str) -> float:
    return 0.01 if re.findall(r"([\d.\s]+%)", x.strip()) else 1


def _word_scale_handle(x: str) -> float:
    for one in re.finditer(r"([\d.]+\s?[a-zA-Z]+)", x):
        return _scale_to_num(one.group(0).lower())
    return 1


def _to_number(text: str) -> float | None:
    num = _extract_one_num_from_str(text)
    if num is None:
        return None
    return round(num * _word_scale_handle(text) * _negative_num_handle(text) * _percent_num_handle(text), 4)


_EXCLUDE = set(string.punctuation)


def _remove_punc(text: str) -> str:
    return text if _is_number(text) else "".join(ch for ch in text if ch not in _EXCLUDE)


def _normalize_number(text: str) -> str:
    return str(_to_number(text)) if _is_number(text) else text


def _normalize_answer(text: str) -> str:
    parts = [
        " ".join(
            re.sub(r"\b(a|an|the)\b", " ", _normalize_number(_remove_punc(token.lower())), flags=re.UNICODE).split()
        )
        for token in re.split(" ", text)
    ]
    return " ".join(p for p in parts if p.strip()).strip()


def _answer_to_bags(answer: str | Sequence[str]) -> tuple[list[str], list[set[str]]]:
    raw_spans = list(answer) if isinstance(answer, (list, tuple)) else [answer]
    normalized = [_normalize_answer(span) for span in raw_spans]
    return normalized, [set(span.split()) for span in normalized]


def _compute_f1(predicted_bag: set[str], gold_bag: set[str]) -> float:
    intersection = len(gold_bag & predicted_bag)
    precision = 1.0 if not predicted_bag else intersection / len(predicted_bag)
    recall = 1.0 if not gold_bag else intersection / len(gold_bag)
    if precision == 0.0 and recall == 0.0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def _align_bags(predicted: list[set[str]], gold: list[set[str]]) -> np.ndarray:
    """Optimal 1-1 alignment of predicted and gold bags (Hungarian, scipy), per-gold best F1."""
    scores = np.zeros([len(gold), len(predicted)])
    for gi, g in enumerate(gold):
        for pi, p in enumerate(predicted):
            scores[gi, pi] = _compute_f1(p, g)
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(-scores)
    max_scores = np.zeros([max(len(gold), len(predicted))])
    for r, c in zip(rows, cols):
        max_scores[r] = max(max_scores[r], scores[r, c])
    return max_scores


def _get_metrics(predicted: str | Sequence[str], gold: str | Sequence[str]) -> tuple[float, float]:
    pred_bags = _answer_to_bags(predicted)
    gold_bags = _answer_to_bags(gold)
    em = 1.0 if set(pred_bags[0]) == set(gold_bags[0]) and len(pred_bags[0]) == len(gold_bags[0]) else 0.0
    f1 = round(float(np.mean(_align_bags(pred_bags[1], gold_bags[1]))), 2)
    return em, f1


def _get_answer_str(answers: Sequence[Any], scale: str) -> list[str]:
    ans_temp = []
    for ans in sorted(str(a) for a in answers):  # official: sorted() on the raw strings, case-sensitive
        ans_str = str(ans)
        if _is_number(ans_str):
            ans_num = _to_number(ans_str)
            if ans_num is None:
                if scale:
                    ans_str = ans_str + " " + str(scale)
            elif "%" in ans_str:
                ans_str = f"{ans_num:.4f}"
            else:
                ans_str = f"{round(ans_num, 2) * _scale_to_num(scale):.4f}"
        elif scale:
            ans_str = ans_str + " " + str(scale)
        ans_temp.append(ans_str)
    return [" ".join(ans_temp)]


def _add_percent_pred(prediction_strings: list[str], pred_scale: str, pred: Sequence[Any]) -> list[str]:
    """Official: also try the unrounded number, so pred 0.2342 matches gold 23.42 with scale percent."""
    if len(pred) > 1:
        return prediction_strings
    pred_str = str(pred[0])
    if not pred_scale and "%" not in pred_str and _is_number(pred_str):
        num = _to_number(pred_str)
        if num is not None:
            prediction_strings.append(f"{num:.4f}")
    return prediction_strings


def _metric_max(predictions: list[str], ground_truths: list[str]) -> tuple[float, float]:
    scores = [_get_metrics(p, g) for p in predictions for g in ground_truths]
    return max(scores) if scores else (0.0, 0.0)


_PRED_SCALE = re.compile(r"(%|(?<![a-z])(?:percent|thousands?|millions?|billions?))\s*$", re.IGNORECASE)


def _strip_scale(span: str) -> tuple[str, str]:
    """(span without its trailing scale, scale) when the span is a number followed by a scale word or "%"."""
    m = _PRED_SCALE.search(span)
    if m:
        rest = span[: m.start()].strip()
        if rest and _is_number(rest):
            word = m.group(1).lower()
            return rest, "percent" if word in ("%", "percent") else word.rstrip("s")
    return span, ""


def tatqa_readings(text: str | None) -> list[tuple[list[str], str]]:
    """Read an answer written the way finbench's TAT-QA prompt asks (`a number with its scale word if any
    (thousand, million, billion, %), or the text span(s) from the report, separated by "; "`) into what the
    official scorer takes from a model: [(answer spans, predicted scale), ...].

    Spans: the text split on ";" (a comma never splits: spans contain commas); when that gives several, the whole
    text as one span is a second reading (single-span answers contain "; " too). Scale: a trailing "%", "percent",
    "thousand(s)", "million(s)" or "billion(s)" after a number ("1.2 million", "(59.9)%", "$19.1 million
    thousand") is the predicted scale ("%" -> "percent") and is removed; in a multi-span reading the last span
    decides it and it is removed from every span that carries the same one ("25; 28%", "25%; 28%"), or (another
    reading) from the last span only ("(66)%; (223)%%": the official to_number reads "(66)%" as -66). Text
    spans keep their words ("among the top 5%" has no scale). None or empty -> []."""
    if text is None:
        return []
    whole = " ".join(str(text).split())
    spans = [s.strip() for s in whole.split(";") if s.strip()]
    if not spans:
        return []
    readings = []
    _, scale = _strip_scale(spans[-1])
    stripped = [_strip_scale(s) for s in spans]
    readings.append(([r if sc == scale and scale else s for s, (r, sc) in zip(spans, stripped)], scale))
    if len(spans) > 1 and scale:  # the scale written once, after the last span: "(66)%; (223)%%"
        readings.append(([*spans[:-1], stripped[-1][0]], scale))
    if len(spans) > 1:
        rest, scale = _strip_scale(whole)
        readings.append(([rest], scale))
    return readings


def _gold_answers(gold_answer: Any, answer_type: str) -> list[str]:
    """Official extract_gold_answers: span/multi-span -> the list; count -> str(int); otherwise str(answer)."""
    if isinstance(gold_answer, (list, tuple)) and answer_type not in ("span", "multi-span"):
        gold_answer = gold_answer[0] if len(gold_answer) == 1 else " ".join(str(x) for x in gold_answer)
    if answer_type in ("span", "multi-span"):
        answers = list(gold_answer) if isinstance(gold_answer, (list, tuple)) else [gold_answer]
        return [str(a) for a in answers]
    if answer_type == "count":
        try:
            return [str(int(float(str(gold_answer).replace(",", ""))))]
        except ValueError:
            return [str(gold_answer)]
    return [str(gold_answer)]


def tatqa_official(
    spans: Sequence[str] | str | float, pred_scale: str, gold_answer: Any, answer_type: str, scale: str
) -> tuple[float, float]:
    """(EM, F1) the official TAT-QA scorer (NExTplusplus/TAT-QA tatqa_metric.py, TaTQAEmAndF1.__call__) gives a
    prediction given as answer spans plus a predicted scale: DROP-style normalisation (lower, punctuation stripped
    unless the token is a number, articles dropped, numbers through to_number: "1,234" -> 1234, "(12)" -> -12,
    "12%" -> 0.12, "1.2 million" -> 1200000), each side's spans sorted and joined by get_answer_str (a number
    becomes "%.4f" % (round(number, 2) * scale), thousand=1e3 million=1e6 billion=1e9 percent=0.01, or the number
    itself when it carries a "%"; a non-number gets " <scale>" appended), add_percent_pred (an unscaled one-span
    number also tries its unrounded value: 0.2342 matches 23.42 percent), EM = equal normalised strings, F1 =
    bag-of-tokens F1 over the optimal (Hungarian) alignment, rounded to 2 decimals; arithmetic and count: F1 = EM.
    No or empty prediction -> (0.0, 0.0)."""
    spans = [str(s) for s in (spans if isinstance(spans, (list, tuple)) else [spans])]
    if not spans or not any(spans):
        return 0.0, 0.0
    gold = _gold_answers(gold_answer, answer_type)
    if not gold:
        return 0.0, 0.0
    gold_strings = _get_answer_str(gold, (scale or "").strip())
    pred_strings = _add_percent_pred(_get_answer_str(spans, pred_scale), pred_scale, spans)
    em, f1 = _metric_max(pred_strings, gold_strings)
    if answer_type in ("arithmetic", "count"):
        f1 = em
    return float(em), float(f1)


def tatqa_em_f1(pred: str | None, gold_answer: Any, answer_type: str, scale: str) -> tuple[float, float]:
    """(EM, F1) of one TAT-QA answer text: the official scorer (tatqa_official) on the (spans, scale) that
    tatqa_readings reads from the text (the better of its readings when there are two). No other leniency:
    "0 million" for 3.61 million is wrong, "1.23 million" for 1,226 thousand is wrong, "1,226,000" for 1,226
    thousand is right (as officially). None or empty -> (0.0, 0.0)."""
    return max(
        (tatqa_official(spans, sc, gold_answer, answer_type, scale) for spans, sc in tatqa_readings(pred)),
        default=(0.0, 0.0),
    )


# --------------------------------------------------------------------------------------------------------------
# FinanceMath (Zhao et al., ACL 2024): the accuracy rule of the authors' evaluation, from its description.
# --------------------------------------------------------------------------------------------------------------
FINANCEMATH_REL_TOL = 0.0015  # 0.15 % of the reference


def _within(value: float, ref: float) -> bool:
    return abs(value - ref) <= abs(ref) * FINANCEMATH_REL_TOL


def financemath_strict(pred: float | None, gold: float) -> bool:
    """The prediction within 0.15 % of the ground truth (sign included): FinanceMath's tolerance alone."""
    if pred is None or isinstance(pred, bool) or not math.isfinite(float(pred)):
        return False
    return _within(float(pred), float(gold))


def financemath_match(pred: float | None, gold: float) -> bool:
    """FinanceMath's accuracy rule, so the authors' published accuracies compare. With big, small = the larger and the
    smaller of |pred| and |gold|, a prediction is correct when any of these holds:
      1. both are nonzero and big / small is exactly a power of ten (1, 10, 100, ... as float arithmetic gives it):
         the authors accept a unit or percent slip this way, and the sign is ignored (|-5| = |5|);
      2. small x 100 is within 0.15 % of big and small <= big / 50 (a percent written as a fraction), likewise
         small x 1000 with small <= big / 500, and small x 100000 with small <= big / 50000;
      3. big and small are equal once rounded UP to 3 decimals (ceil(x * 1000) / 1000);
      4. pred is within 0.15 % of gold (sign included).
    None / NaN / inf -> False."""
    if pred is None or isinstance(pred, bool):
        return False
    p, g = float(pred), float(gold)
    if not (math.isfinite(p) and math.isfinite(g)):
        return False
    big, small = max(abs(p), abs(g)), min(abs(p), abs(g))
    if small != 0 and big != 0 and math.log10(big / small).is_integer():
        return True
    for factor, bound in ((100, 50), (1000, 500), (100000, 50000)):
        if small <= big / bound and _within(small * factor, big):
            return True
    if math.ceil(big * 1000) / 1000 == math.ceil(small * 1000) / 1000:
        return True
    return _within(p, g)


# --------------------------------------------------------------------------------------------------------------
# The aggregation registry (lighteval-style): every corpus aggregation a finbench task names in its metric_list,
# with its vectorised bootstrap form. finbench.results resolves the names lm-eval writes into results files here.
# --------------------------------------------------------------------------------------------------------------


class Aggregation:
    """A corpus aggregation over the per-sample items a task logs.

    name     what lm-eval records in a results file's configs (the YAML names `!function utils.<name>`, and
             lm-eval writes str() of a callable object: the name)
    fn       items -> score
    counts   the vectorised bootstrap form, or None: items -> (codes, n_codes, decode), each item one integer code,
             decode((n_boot, n_codes) code counts of the resamples) -> the n_boot scores (equal to fn draw for draw)
    higher_is_better  its direction (for `mean` it is the metric's: see the task's registry record)
    doc      one line for docs and error messages

    A plain class, not a dataclass: lm-eval serialises a task config with dataclasses.asdict, which would turn a
    dataclass aggregation into a dict of its fields instead of writing its name.
    """

    __slots__ = ("name", "fn", "counts", "higher_is_better", "doc")

    def __init__(
        self,
        name: str,
        fn: Callable[[list], float],
        counts: Callable[[list], tuple[np.ndarray, int, Callable[[np.ndarray], np.ndarray]]] | None = None,
        higher_is_better: bool = True,
        doc: str = "",
    ):
        self.name, self.fn, self.counts, self.higher_is_better, self.doc = name, fn, counts, higher_is_better, doc

    def __repr__(self) -> str:
        return f"<finbench aggregation {self.name}>"

    def __call__(self, items) -> float:
        return self.fn(items)

    def __str__(self) -> str:
        return self.name

    def draws(self, items: list, n_boot: int, seed: int) -> np.ndarray:
        """Bootstrap draws of this aggregation over `items` (stats' resample indices for `seed`): vectorised for
        means and count-coded aggregations, one evaluation per draw otherwise; all paths agree draw for draw."""
        from . import stats

        if self.fn is _mean:
            return stats.bootstrap_mean_distribution([float(x) for x in items], n_boot, seed)
        if self.counts is not None:
            codes, n_codes, decode = self.counts(items)
            return decode(stats.bootstrap_counts(codes, n_codes, n_boot, seed))
        return stats.bootstrap_distribution(items, self.fn, n_boot=n_boot, seed=seed)


def _mean(items) -> float:
    return float(np.mean([float(x) for x in items])) if len(items) else math.nan


def _confusion(name: str, labels: Sequence[str], metric: str, fn: Callable, doc: str) -> Aggregation:
    def counts(items):
        codes, n_codes = confusion_codes(items, labels)
        return codes, n_codes, lambda c: from_confusion(c, len(labels), metric)

    return Aggregation(name, lambda items: fn(items, labels), counts, doc=doc)


def _headline_counts(items):
    codes, n_codes, n_types = headline_codes(items)
    return codes, n_codes, lambda c: headline_avg_f1_from_counts(c, n_types)


def _judge_mean(items) -> float:
    return sum(int(i["verdict"]) for i in items) / len(items) if items else float("nan")


MEAN = Aggregation("mean", _mean, doc="mean of the per-sample values")
_ALL_AGGREGATIONS = [
    MEAN,
    _confusion("macro_f1_sentiment", SENTIMENT_LABELS, "macro_f1", macro_f1, "macro F1 over negative/neutral/positive"),
    _confusion(
        "weighted_f1_sentiment",
        SENTIMENT_LABELS,
        "weighted_f1",
        weighted_f1,
        "support-weighted F1 over negative/neutral/positive",
    ),
    _confusion("mcc_sentiment", SENTIMENT_LABELS, "mcc", mcc, "Matthews correlation over negative/neutral/positive"),
    _confusion(
        "macro_f1_entity_type", ENTITY_TYPE_LABELS, "macro_f1", macro_f1, "macro F1 over person/organization/location"
    ),
    _confusion(
        "weighted_f1_entity_type",
        ENTITY_TYPE_LABELS,
        "weighted_f1",
        weighted_f1,
        "support-weighted F1 over person/organization/location",
    ),
    _confusion(
        "mcc_entity_type", ENTITY_TYPE_LABELS, "mcc", mcc, "Matthews correlation over person/organization/location"
    ),
    _confusion(
        "macro_f1_letters",
        MMLU_LETTERS,
        "macro_f1",
        macro_f1,
        "macro F1 over the option letters A-D (a missing letter is a false negative of its gold letter)",
    ),
    Aggregation(
        "headline_avg_f1",
        headline_avg_f1,
        _headline_counts,
        doc="FinBen's headline AvgF1: weighted yes/no F1 per question type, averaged",
    ),
    Aggregation("headline_yes_f1", headline_yes_f1, doc="F1 of the yes class per question type, averaged (v1 score)"),
    Aggregation("ner_entity_f1", ner_entity_f1, doc="seqeval entity F1 over PER/ORG/LOC, corpus level"),
    Aggregation("judge_mean", _judge_mean, doc="share of judged answers the judge calls correct"),
]
AGGREGATIONS: dict[str, Aggregation] = {a.name: a for a in _ALL_AGGREGATIONS}


def aggregation(name: str) -> Aggregation | None:
    """finbench's aggregation called `name` (as results files record it), or None."""
    return AGGREGATIONS.get(name)


# --------------------------------------------------------------------------------------------------------------
# The per-sample registry (lighteval-style sample-level functions): what each metric of a task logs for one document,
# named by its registry record (finbench.registry.Metric.sample). score_results is every task's process_results.
# --------------------------------------------------------------------------------------------------------------


class Sample:
    """One scored document as the per-sample functions see it: `doc` the finbench.data record (JSON fields decoded),
    `pred` the parsed answer (the `extracted` filter's output, or the most likely choice of a multiple-choice task;
    None when the reply could not be read), `judge` FinanceBench's grader for open questions (None: not judged).
    What several metrics of a document share (placed NER tags, the TAT-QA scores, the judge's verdict) is computed
    once, on first use."""

    def __init__(self, doc: dict, pred: Any, judge: Any = None):
        self.doc, self.pred, self.judge = doc, pred, judge

    @functools.cached_property
    def ner(self) -> tuple[list[str], list[str], int]:
        """(gold tags, predicted tags, unplaced entity lines): the 7 MISC tokens of FIN3 are scored as O (the prompt
        asks for person/organization/location)."""
        gold = ["O" if t.endswith("MISC") else t for t in self.doc["tags"]]
        pred, unplaced = entities_to_tags(self.doc["tokens"], [tuple(e) for e in self.pred or []])
        return gold, pred, unplaced

    @functools.cached_property
    def numeric(self) -> tuple[bool, bool]:
        """(strict, executed) of a ConvFinQA/FinQA answer: strict_match against the annotated string, exec_match
        against the executed answer; the few yes/no turns are matched as text by both."""
        gold = self.doc["answer"]
        if isinstance(gold, (int, float)):
            return strict_match(self.pred, self.doc["answer_str"]), exec_match(self.pred, float(gold))
        same = self.pred is not None and match_text(str(self.pred), str(gold))
        return same, same

    @functools.cached_property
    def tatqa(self) -> tuple[float, float]:
        return tatqa_em_f1(self.pred, self.doc["answer"], self.doc["answer_type"], self.doc.get("scale") or "")

    @functools.cached_property
    def verdict(self) -> dict | None:
        """The judge's verdict on an open FinanceBench question (its raw reply and identity included), None when the
        question is numeric or no judge is set."""
        if self.doc["numeric"] or self.judge is None:
            return None
        return self.judge.grade(self.doc["question"], self.doc["answer"], self.pred)


SAMPLES: dict[str, Callable[[Sample], Any]] = {}


def _sample(name: str):
    def register(fn: Callable[[Sample], Any]) -> Callable[[Sample], Any]:
        SAMPLES[name] = fn
        return fn

    return register


@_sample("missing")
def _missing(s: Sample) -> int:
    """1 when the reply could not be parsed (scored wrong by every other metric), else 0."""
    return int(s.pred is None)


@_sample("label_acc")
def _label_acc(s: Sample) -> int:
    return int(s.pred == s.doc["label"])


@_sample("label_pair")
def _label_pair(s: Sample) -> list:
    """[gold, pred]: the item of the label-set F1/MCC aggregations."""
    return [s.doc["label"], s.pred]


@_sample("headline_item")
def _headline_item(s: Sample) -> list:
    """[question type, gold, pred]: the item of the per-question-type headline F1s."""
    return [s.doc["question_type"], s.doc["label"], s.pred]


@_sample("ner_tags")
def _ner_tags(s: Sample) -> list:
    """[gold IO tags, predicted IO tags]: the item of seqeval's corpus entity F1."""
    gold, pred, _ = s.ner
    return [gold, pred]


@_sample("ner_doc_f1")
def _ner_doc_f1(s: Sample) -> float:
    gold, pred, _ = s.ner
    return ner_doc_f1(gold, pred)


@_sample("ner_unplaced")
def _ner_unplaced(s: Sample) -> int:
    return s.ner[2]


@_sample("numeric_em")
def _numeric_em(s: Sample) -> int:
    return int(s.numeric[0])


@_sample("exec_acc")
def _exec_acc(s: Sample) -> int:
    """PoT-style execution accuracy (exec_match)."""
    return int(s.numeric[1])


@_sample("tatqa_em")
def _tatqa_em(s: Sample) -> float:
    return s.tatqa[0]


@_sample("tatqa_f1")
def _tatqa_f1(s: Sample) -> float:
    return s.tatqa[1]


def _subject_acc(subject: str) -> Callable[[Sample], int | None]:
    def acc(s: Sample) -> int | None:
        return int(s.pred == s.doc["label"]) if s.doc["subject"] == subject else None

    acc.__doc__ = f"accuracy on the {subject} questions (not logged for the others)"
    return acc


for _subject in ("professional_accounting", "econometrics", "high_school_macroeconomics", "high_school_microeconomics"):
    SAMPLES[f"acc_{_subject}"] = _subject_acc(_subject)


@_sample("financemath_acc")
def _financemath_acc(s: Sample) -> int:
    return int(financemath_match(s.pred, s.doc["answer"]))


@_sample("financemath_strict")
def _financemath_strict(s: Sample) -> int:
    return int(financemath_strict(s.pred, s.doc["answer"]))


@_sample("financebench_numeric")
def _financebench_numeric(s: Sample) -> int | None:
    """A numeric FinanceBench question by the numeric-QA rule (exec_match); not logged for open questions."""
    return int(exec_match(s.pred, parse_number(s.doc["answer"]))) if s.doc["numeric"] else None


@_sample("judge_verdict")
def _judge_verdict(s: Sample) -> dict | None:
    return s.verdict


@_sample("financebench_score")
def _financebench_score(s: Sample) -> Any:
    """The numeric rule for numeric questions, the judge's verdict for open ones; with no judge an open question has
    no score item (only the numeric subset counts)."""
    if s.doc["numeric"]:
        return _financebench_numeric(s)
    return None if s.verdict is None else s.verdict["verdict"]


def mc_choice(results: Sequence[tuple[float, bool]], choices: Sequence[str]) -> str:
    """The choice whose continuation has the highest loglikelihood (the first on a tie), from lm-eval's
    multiple_choice results [(loglikelihood, is_greedy), ...]."""
    lls = [ll for ll, _ in results]
    return choices[max(range(len(lls)), key=lls.__getitem__)]


def score_results(task: registry.Task, doc: dict, results: list, judge: Any = None) -> dict:
    """lm-eval's process_results for `task`: {metric: its per-sample item} over the registry's metrics, from the
    document's record and lm-eval's results (the filtered answer, or the choices' loglikelihoods). A per-sample
    function returning None does not apply to the document: the metric logs nothing for it."""
    pred = mc_choice(results, task.labels) if task.multiple_choice else results[0]
    sample = Sample(doc, pred, judge)
    out = {}
    for m in task.metrics:
        value = SAMPLES[m.sample](sample)
        if value is not None:
            out[m.name] = value
    return out
