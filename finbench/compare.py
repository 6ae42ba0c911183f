"""Run comparison, in one place: what `finbench regress`, the leaderboard's Δ columns and the study/sweep report
share.

- `mixture_task`: which fine-tuning task an lm-eval task evaluates (its config's `dataset_kwargs.task`, so
  `finbench_fpb` and `finbench_fpb_mc` are both `fpb`), the one rule for "the single-task run of this column".
- `run_recipe`: the recipe a run was trained from (the `recipe.yaml` stored beside its lm-eval output), read with
  finbench.finetune.recipe.load; only name, base model and mixture are used. A run of one recipe with another
  training seed is named `<recipe>-seed<N>`; `RunRecipe.config` is the name without that suffix.
- `align` / `paired`: two runs' per-sample items of one metric restricted to the documents both scored (doc id and
  doc hash), and the paired-bootstrap Δ over them (both resampled with the same indices: results.task_seed).
- `configurations` / `study_scores` / `config_delta`: runs of one recipe with different training seeds reported as
  ONE configuration. Score = the mean over seeds of the metric on the shared test documents. CI = a two-level
  bootstrap: draw b resamples the test documents (the same indices for every run of every configuration, so Δs are
  paired by document) and, independently, the configuration's seeds with replacement (stats.resample_seeds); the
  draw is the mean over the resampled seeds of the metric on the resampled documents. Its spread combines
  document sampling and seed variance; with one seed it is the document bootstrap alone. A paired Δ of two
  configurations is the difference of their draws. Nothing here selects among seeds: every seed counts.
- `majority_score`: the best constant answer (the most common gold label of the shared documents) scored like a run,
  with the same document draws, for "does this run beat the majority class" (label tasks only).
- `answer_distribution`: per run and task, how often each extracted answer was given (so collapse is visible).
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from . import results, stats
from .config import DataError

RECIPE_FILE = "recipe.yaml"
_SEED_SUFFIX = re.compile(r"^(?P<config>.+)-seed(?P<seed>\d+)$")


class CompareError(DataError):
    """Runs that cannot be compared; the message says what to do."""


def mixture_task(configs: dict, task: str) -> str:
    """The fine-tuning (registry) task an lm-eval task evaluates: `dataset_kwargs.task` of its config in a results
    file's `configs` (each finbench task YAML states it); the lm-eval task name for tasks that do not."""
    kwargs = (configs.get(task) or {}).get("dataset_kwargs") or {}
    name = kwargs.get("task") if isinstance(kwargs, dict) else None
    return name if isinstance(name, str) and name else task


# ------------------------------------------------------------------------------------------------ recipes
@dataclass(frozen=True)
class RunRecipe:
    """What comparisons need from the recipe a run was trained from."""

    name: str  # the run's name (a seed run: `<recipe>-seed<N>`)
    base_model: str
    tasks: tuple[str, ...]  # mixture task names (sorted)
    general: float = 0.0
    math: float = 0.0
    seed: int | None = None  # the training seed, when the recipe or its name states it

    @property
    def config(self) -> str:
        """The configuration a seed run belongs to: its name without `-seed<N>`."""
        found = _SEED_SUFFIX.match(self.name)
        return found.group("config") if found else self.name

    @property
    def label(self) -> str:
        """The run's name with its seed (`<recipe>-seed<N>`), which tells the seeds of one configuration apart."""
        if self.seed is None or _SEED_SUFFIX.match(self.name):
            return self.name
        return f"{self.name}-seed{self.seed}"

    @property
    def single_task(self) -> str | None:
        """The task of a single-task recipe (one mixture task, no general or math share), else None."""
        return self.tasks[0] if len(self.tasks) == 1 and not self.general and not self.math else None


def _training_seed(training) -> int | None:
    seed = training.get("seed") if isinstance(training, dict) else getattr(training, "seed", None)
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None


def read_recipe(path: Path) -> RunRecipe:
    """A recipe file -> RunRecipe, through finbench.finetune.recipe.load (raises its RecipeError on a bad file)."""
    from .finetune import recipe as recipes

    r = recipes.load(path)
    seed = _training_seed(getattr(r, "training", None))
    found = _SEED_SUFFIX.match(r.name)
    if seed is None and found:
        seed = int(found.group("seed"))
    return RunRecipe(
        r.name,
        r.base_model,
        tuple(sorted(p.task for p in r.mixture.tasks)),
        float(r.mixture.general),
        float(r.mixture.math),
        seed,
    )


def recipe_file(run: results.Run) -> Path | None:
    return results.sidecar(run, RECIPE_FILE)


def run_recipe(run: results.Run) -> RunRecipe | None:
    """The recipe stored beside a run's output (None for a run without one, e.g. a zero-shot base)."""
    f = recipe_file(run)
    return read_recipe(f) if f else None


# ------------------------------------------------------------------------------------------------ pairing
def same_metric(run: results.Run, task: str, like: results.Items) -> results.Items | None:
    """`run`'s per-sample items of the metric and filter of `like` (None if it did not log them)."""
    return next(
        (i for i in results.metric_items(run, task) if (i.metric, i.filter) == (like.metric, like.filter)), None
    )


def align(*items: results.Items) -> list[results.Items]:
    """Each Items restricted to the documents every one of them scored, in the first one's order."""
    shared = set(items[0].keys).intersection(*(set(i.keys) for i in items[1:]))
    keys = [k for k in items[0].keys if k in shared]
    out = []
    for i in items:
        pos = {k: n for n, k in enumerate(i.keys)}
        out.append(replace(i, items=[i.items[pos[k]] for k in keys], keys=list(keys)))
    return out


@dataclass
class Paired:
    """Δ = a − b of one metric on the documents both runs scored, with its paired-bootstrap CI."""

    task: str
    metric: str
    filter: str
    higher_is_better: bool
    n: int  # documents both scored
    a_only: int
    b_only: int
    a: float
    b: float
    delta: float
    lo: float
    hi: float
    boot: np.ndarray = field(repr=False)

    @property
    def direction(self) -> str:
        """'better' / 'worse' when the CI excludes 0 (in the metric's direction), else 'unclear'."""
        return direction(self.lo, self.hi, self.higher_is_better)


def direction(lo: float, hi: float, higher_is_better: bool = True) -> str:
    lo, hi = (lo, hi) if higher_is_better else (-hi, -lo)
    return "better" if lo > 0 else "worse" if hi < 0 else "unclear"


def paired(
    a: results.Items,
    b: results.Items,
    n_boot: int = results.N_BOOT,
    seed: int = results.SEED,
    alpha: float = stats.ALPHA,
) -> Paired:
    """Paired bootstrap of metric(a) − metric(b) over the documents both scored (CompareError if none)."""
    if (a.metric, a.filter) != (b.metric, b.filter):
        raise CompareError(f"{a.task}: cannot pair {a.metric},{a.filter} with {b.metric},{b.filter}")
    x, y = align(a, b)
    if not x.keys:
        raise CompareError(
            f"{a.task}: the runs share no samples (no common doc id + doc hash): different data or "
            "--limit? Evaluate both on the same documents"
        )
    boot = results.paired_draws(x, y, n_boot, results.task_seed(a.task, seed))
    lo, hi = stats.percentile_ci(boot, alpha)
    av, bv = float(x.fn(x.items)), float(y.fn(y.items))
    return Paired(
        a.task,
        a.metric,
        a.filter,
        a.higher_is_better,
        len(x.keys),
        len(a.keys) - len(x.keys),
        len(b.keys) - len(x.keys),
        av,
        bv,
        av - bv,
        lo,
        hi,
        boot,
    )


def single_task_runs(
    recipes: dict[str, RunRecipe | None], configs: dict, task: str, base_model: str | None = None
) -> list[str]:
    """The runs (keys of `recipes`) that are single-task runs trained on the task lm-eval task `task` evaluates
    (optionally only those on `base_model`)."""
    want = mixture_task(configs, task)
    return [
        k
        for k, r in recipes.items()
        if r is not None and r.single_task == want and (base_model is None or r.base_model == base_model)
    ]


def single_config(configs: list, task: str, base_model: str | None = None):
    """The single-task Configuration trained on the task lm-eval task `task` evaluates (single_task_runs, read from
    the first run that scored it; optionally on `base_model`), None unless exactly one."""
    run = next((r.run for c in configs for r in c.runs if task in r.run.samples), None)
    if run is None:
        return None
    found = single_task_runs({c.name: c.recipe for c in configs}, run.results["configs"], task, base_model)
    return next(c for c in configs if c.name == found[0]) if len(found) == 1 else None


# ------------------------------------------------------------------------------------------------ seeds
@dataclass
class NamedRun:
    name: str
    run: results.Run
    recipe: RunRecipe | None


@dataclass
class Configuration:
    """One recipe (or one recipe-less run, e.g. the zero-shot base) and its runs, one per training seed."""

    name: str
    runs: list[NamedRun]
    recipe: RunRecipe | None  # the first seed's (all seeds share everything but the seed)

    @property
    def seeds(self) -> list[int | None]:
        return [r.recipe.seed if r.recipe else None for r in self.runs]


def configurations(runs: list[NamedRun]) -> list[Configuration]:
    """Group runs into configurations: by recipe config name (`<recipe>-seed<N>` -> `<recipe>`); runs without a
    recipe are each their own. Seed runs of one configuration must agree on base model and mixture, and no seed
    may appear twice (CompareError): a repeated seed would weigh one training twice."""
    out: dict[str, Configuration] = {}
    for r in runs:
        key = r.recipe.config if r.recipe else r.name
        if key not in out:
            out[key] = Configuration(key, [r], r.recipe)
            continue
        c = out[key]
        first = c.recipe
        if first is None or r.recipe is None:
            raise CompareError(f"{key}: two runs of that name; give each run its own directory name")
        same = (first.base_model, first.tasks, first.general, first.math) == (
            r.recipe.base_model,
            r.recipe.tasks,
            r.recipe.general,
            r.recipe.math,
        )
        if not same:
            raise CompareError(
                f"{key}: runs {c.runs[0].name} and {r.name} differ in base model or mixture, so they "
                "are not seeds of one recipe; give the recipes different names"
            )
        if r.recipe.seed in c.seeds:
            raise CompareError(f"{key}: seed {r.recipe.seed} appears twice ({r.name}); each seed counts once")
        c.runs.append(r)
    for c in out.values():
        c.runs.sort(key=lambda r: (r.recipe.seed if r.recipe and r.recipe.seed is not None else -1, r.name))
    return list(out.values())


def _config_seed(name: str, task: str, seed: int) -> int:
    """The seed-resampling seed of one configuration on one task (independent across configurations)."""
    return seed + zlib.crc32(f"seeds:{name}:{task}".encode())


@dataclass
class StudyScore:
    """One configuration on one task: the mean over seeds on the shared documents, with its two-level CI."""

    config: str
    task: str
    metric: str
    filter: str
    higher_is_better: bool
    n: int  # shared test documents
    per_seed: list[float]
    value: float
    lo: float
    hi: float
    boot: np.ndarray = field(repr=False)
    items: results.Items | None = field(default=None, repr=False)  # the first seed's, on the shared documents
    label: str | None = None  # a constant answer's label (majority_score)
    runs: list[str] = field(default_factory=list)  # the seed runs that scored the task (per_seed's order)

    @property
    def n_seeds(self) -> int:
        return len(self.per_seed)


MAJORITY = "majority class"


def _label_pairs(items: list) -> bool:
    return bool(items) and all(isinstance(i, (list, tuple)) and len(i) == 2 and isinstance(i[0], str) for i in items)


def gold_labels(run: results.Run, task: str, keys: list[str]) -> list[str] | None:
    """The gold label of each document `keys` names, from a metric of `run`'s `task` whose per-sample items are
    (gold, prediction) label pairs (e.g. MMLU's macro_f1 beside its 0/1 acc); None if the task logs none or lacks a
    document."""
    for i in results.metric_items(run, task):
        if _label_pairs(i.items):
            gold = {k: g for k, (g, _) in zip(i.keys, i.items)}
            return [gold[k] for k in keys] if all(k in gold for k in keys) else None
    return None


def majority_score(
    like: StudyScore, seed: int = results.SEED, alpha: float = stats.ALPHA, golds: list[str] | None = None
) -> StudyScore | None:
    """The constant answer that scores best on a classification task, scored like a run on the same documents and
    with the same document draws (so a Δ against it is paired): the most common gold label of those documents
    (accuracy, macro-F1 and weighted-F1 of a constant all grow with its class's share). It is the strongest constant
    baseline, so "beats the majority class" is never flattered. Items that are (gold, prediction) label pairs are
    scored directly; 0/1 accuracy items (MMLU's acc) need `golds`, the gold label per document of `like.items`
    (gold_labels), and score int(gold == the constant). None otherwise."""
    items = like.items
    if items is None or not items.items:
        return None
    if _label_pairs(items.items):
        label = Counter(g for g, _ in items.items).most_common(1)[0][0]
        const = replace(items, items=[[g, label] for g, _ in items.items])
    elif golds is not None and len(golds) == len(items.items) and all(i in (0, 1) for i in items.items):
        label = Counter(golds).most_common(1)[0][0]
        const = replace(items, items=[int(g == label) for g in golds])
    else:
        return None
    boot = results.draws(const.items, const.fn, len(like.boot), results.task_seed(items.task, seed))
    lo, hi = stats.percentile_ci(boot, alpha)
    value = float(const.fn(const.items))
    return StudyScore(
        f"{MAJORITY} ({label})",
        like.task,
        like.metric,
        like.filter,
        like.higher_is_better,
        like.n,
        [value],
        value,
        lo,
        hi,
        boot,
        const,
        label,
    )


def study_scores(
    configs: list[Configuration],
    task: str,
    metric: str | None = None,
    n_boot: int = results.N_BOOT,
    seed: int = results.SEED,
    alpha: float = stats.ALPHA,
) -> dict[str, StudyScore]:
    """Every configuration that scored `task`, over the seeds that scored it (a plan may evaluate some seeds on
    fewer tasks, e.g. the study's seeds 2-3 of the + general variants on the sentiment tasks only: StudyScore.runs
    names those that counted), on the documents every run scored. `metric`: a metric name (e.g. weighted_f1, for a
    published number); default the task's primary metric (results.primary_items) of the first run."""
    have = [(c, r) for c in configs for r in c.runs if task in r.run.samples]
    if not have:
        return {}
    for field_, what in (("versions", "task version"), ("n-shot", "n-shot")):
        seen = {str((r.run.results.get(field_) or {}).get(task)) for _, r in have}
        if len(seen) > 1:
            raise CompareError(
                f"{task}: the runs differ in {what} ({', '.join(sorted(seen))}); their scores are not "
                "comparable. Evaluate every run with the same task config and --num_fewshot"
            )
    first = have[0][1].run
    like = (
        results.primary_items(first, task)
        if metric is None
        else next((i for i in results.metric_items(first, task) if i.metric == metric), None)
    )
    if like is None:
        raise CompareError(f"{task}: {have[0][1].name} has no per-sample {metric or 'primary metric'}")
    items = []
    for _c, r in have:
        found = same_metric(r.run, task, like)
        if found is None:
            raise CompareError(
                f"{task}: {r.name} did not log {like.metric},{like.filter}; re-run it with "
                "--log_samples on the same task config"
            )
        items.append(found)
    items = align(*items)
    if not items[0].keys:
        raise CompareError(f"{task}: the runs share no test documents; evaluate them on the same documents")
    tseed = results.task_seed(task, seed)
    out, pos = {}, 0
    for c in configs:
        scored = [r.name for r in c.runs if task in r.run.samples]
        mine = items[pos : pos + len(scored)]
        if not mine:
            continue
        pos += len(scored)
        per_seed = [float(i.fn(i.items)) for i in mine]
        doc_draws = np.stack([results.draws(i.items, i.fn, n_boot, tseed) for i in mine])
        boot = stats.resample_seeds(doc_draws, _config_seed(c.name, task, seed))
        lo, hi = stats.percentile_ci(boot, alpha)
        out[c.name] = StudyScore(
            c.name,
            task,
            like.metric,
            like.filter,
            like.higher_is_better,
            len(mine[0].keys),
            per_seed,
            float(np.mean(per_seed)),
            lo,
            hi,
            boot,
            mine[0],
            runs=scored,
        )
    return out


@dataclass
class StudyDelta:
    task: str
    a: str
    b: str
    value: float
    lo: float
    hi: float
    higher_is_better: bool
    n: int

    @property
    def direction(self) -> str:
        return direction(self.lo, self.hi, self.higher_is_better)


def config_delta(a: StudyScore, b: StudyScore, alpha: float = stats.ALPHA) -> StudyDelta:
    """Paired Δ a − b of two configurations' study scores (same task, same documents, same document draws)."""
    if (a.task, a.metric, a.filter, a.n) != (b.task, b.metric, b.filter, b.n):
        raise CompareError(f"{a.task}: {a.config} and {b.config} were not scored on the same documents and metric")
    lo, hi = stats.percentile_ci(a.boot - b.boot, alpha)
    return StudyDelta(a.task, a.config, b.config, a.value - b.value, lo, hi, a.higher_is_better, a.n)


# ------------------------------------------------------------------------------------------------ answers
def _first(value):
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value


def answer_distribution(run: results.Run, task: str, filt: str | None = None) -> tuple[Counter, Counter]:
    """(answers, golds): how often each extracted answer (lm-eval's filtered_resps under filter `filt`; default the
    primary metric's) and each gold target occurs in a run's samples of `task`, over the documents its primary
    metric scored (FinanceBench without a judge: the numeric questions). A multiple-choice task's answer is the
    chosen option of its (gold, prediction) items (its filtered_resps are loglikelihoods)."""
    prim = results.primary_items(run, task)
    if filt is None:
        filt = prim.filter if prim else "none"
    if (run.results["configs"].get(task) or {}).get("output_type") == "multiple_choice":
        pairs = next((i for i in results.metric_items(run, task) if i.filter == filt and _label_pairs(i.items)), None)
        if pairs is not None:
            return Counter(p for _, p in pairs.items), Counter(g for g, _ in pairs.items)
    scored = set(prim.keys) if prim is not None and prim.filter == filt else None
    answers, golds = Counter(), Counter()
    for s in run.samples.get(task, []):
        if s.get("filter", "none") != filt or (scored is not None and results.sample_key(s) not in scored):
            continue
        answers[str(_first(results.sample_field(s, "filtered_resps", "")))] += 1
        golds[str(_first(results.sample_field(s, "target", "")))] += 1
    return answers, golds
