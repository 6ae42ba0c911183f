"""Read lm-eval output directories (results JSON + `--log_samples` JSONL), recompute every aggregate from the logged
per-sample items, attach 95 % bootstrap confidence intervals, and render the score table."""

from __future__ import annotations

import importlib.util
import json
import math
import re
import sys
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import msgspec
import numpy as np

from . import metrics, stats
from .config import DataError, tasks_dir

N_BOOT = 1000
SEED = 0


@dataclass
class MetricRow:
    task: str
    metric: str
    filter: str
    n: int
    value: float  # recomputed from the samples
    reported: float | None  # what lm-eval wrote in the results file
    lo: float
    hi: float
    boot: np.ndarray | None = field(default=None, repr=False)


@dataclass
class Run:
    results_file: Path
    results: dict
    samples: dict[str, list[dict]]  # task -> samples (one dict per document)


class ResultsError(DataError):
    """An lm-eval results or samples file that cannot be read; the message names the file and what to do."""


def _read_json(f: Path):
    try:
        return json.loads(f.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{f}: not a readable JSON file ({exc}); re-run lm_eval or remove it") from None


# The bulky fields lm-eval logs per sample. A lazy load keeps them as undecoded JSON (msgspec.Raw): tables need only
# doc ids, hashes and metric values, and skipping the rest makes loading ~5x faster with far less garbage to collect.
LAZY_FIELDS = frozenset({"doc", "arguments", "resps", "filtered_resps", "target"})
_LINE = msgspec.json.Decoder(dict[str, msgspec.Raw])
_VALUE = msgspec.json.Decoder()


def sample_field(sample: dict, key: str, default=None):
    """`sample[key]` whether the sample was loaded lazily (a LAZY_FIELDS value is decoded here) or not."""
    value = sample.get(key, default)
    return _VALUE.decode(value) if isinstance(value, msgspec.Raw) else value


def _parse_sample(line: bytes, lazy: bool):
    try:
        if not lazy:
            return _VALUE.decode(line)
        return {k: v if k in LAZY_FIELDS else _VALUE.decode(v) for k, v in _LINE.decode(line).items()}
    except (msgspec.DecodeError, UnicodeDecodeError):
        # what msgspec refuses but Python's json reads (NaN, invalid UTF-8): the tolerant path, or its error
        return json.loads(line.decode("utf-8", errors="replace"))


def load_run(results_file: Path, lazy: bool = False) -> Run:
    """One lm-eval `results_*.json` and the `samples_<task>_<stamp>.jsonl` files written beside it. Raises
    ResultsError naming the file when the results JSON or a samples line is malformed or lacks lm-eval's keys.
    `lazy`: leave LAZY_FIELDS undecoded (read them with `sample_field`)."""
    f = Path(results_file)
    res = _read_json(f)
    if not isinstance(res, dict) or not isinstance(res.get("results"), dict) or not isinstance(res.get("configs"), dict):
        raise ResultsError(f"{f}: not an lm-eval results file (no 'results'/'configs'); re-run lm_eval or remove it")
    stamp = f.stem[len("results_"):]
    samples = {}
    for task in res["configs"]:
        sfile = f.parent / f"samples_{task}_{stamp}.jsonl"
        if not sfile.exists():
            continue
        rows = []
        try:
            lines = sfile.read_bytes().splitlines()
        except OSError as exc:
            raise ResultsError(f"{sfile}: unreadable ({exc})") from None
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = _parse_sample(line, lazy)
            except json.JSONDecodeError as exc:
                raise ResultsError(f"{sfile}:{lineno}: malformed samples line ({exc}); the run was cut short? "
                                   "re-run lm_eval with --log_samples") from None
            if not isinstance(row, dict) or "doc_id" not in row:
                raise ResultsError(f"{sfile}:{lineno}: not an lm-eval sample (no doc_id)")
            rows.append(row)
        samples[task] = rows
    return Run(f, res, samples)


def find_runs(path: Path, lazy: bool = False) -> list[Run]:
    """Every `results_*.json` under `path` (lm-eval nests them in a per-model folder), with its samples files."""
    return [load_run(f, lazy) for f in sorted(Path(path).rglob("results_*.json"))]


@lru_cache(maxsize=None)
def _task_utils(utils_path: str):
    spec = importlib.util.spec_from_file_location("finbench_task_utils", utils_path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _mean(items):
    return float(np.mean([float(x) for x in items])) if len(items) else math.nan


def aggregation_fn(name: str):
    """lm-eval writes a callable aggregation into the results' configs by its function name; resolve finbench's
    from tasks/utils.py, `mean` from numpy, any other from lm-eval's aggregation registry (f1, matthews_corrcoef,
    perplexity, bleu, …: what other lm-eval tasks use). Unknown names -> None (no recomputation possible)."""
    if name == "mean":
        return _mean
    fn = getattr(_task_utils(str(tasks_dir() / "utils.py")), name, None)
    if fn is None:
        import lm_eval.api.metrics  # noqa: F401  (registers lm-eval's aggregations)
        from lm_eval.api.registry import AGGREGATION_REGISTRY

        fn = AGGREGATION_REGISTRY.get(name, None)
    return fn


def _agg_name(agg) -> str:
    """lm-eval dumps a callable aggregation as its source ("def macro_f1_sentiment(items): ...") or its repr."""
    text = str(agg)
    found = re.match(r"\s*(?:def\s+|<function\s+)(\w+)", text)
    return found.group(1) if found else text


def draws(items: list, fn, n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap draws of aggregation `fn` over `items`. Means and the aggregations that declare a confusion-count
    form (`fn.bootstrap_counts`, set in tasks/utils.py) are vectorised; anything else is resampled generically.
    All paths use the same resample indices for a given seed and agree draw for draw."""
    spec = getattr(fn, "bootstrap_counts", None)
    if fn is _mean:
        return stats.bootstrap_mean_distribution([float(x) for x in items], n_boot, seed)
    if spec == "headline":
        codes, n_codes, n_types = metrics.headline_codes(items)
        return metrics.headline_avg_f1_from_counts(stats.bootstrap_counts(codes, n_codes, n_boot, seed), n_types)
    if spec is not None:
        labels, metric = spec
        codes, n_codes = metrics.confusion_codes(items, labels)
        return metrics.from_confusion(stats.bootstrap_counts(codes, n_codes, n_boot, seed), len(labels), metric)
    return stats.bootstrap_distribution(items, fn, n_boot=n_boot, seed=seed)


def task_seed(task: str, seed: int = SEED) -> int:
    """The bootstrap seed of a task: `seed` plus a CRC of its name (tasks resample independently; every run of one
    task on the same samples draws the same indices, which is what makes cross-run deltas paired)."""
    return seed + zlib.crc32(task.encode())


@dataclass
class Items:
    """One metric of one task under one filter: the logged per-sample items in doc order, keyed for pairing."""

    task: str
    metric: str
    filter: str
    agg: str  # aggregation name
    fn: object  # the aggregation callable
    items: list
    keys: list[str]  # per item: "<doc_id>:<doc_hash>" (the same document in two runs has the same key)
    higher_is_better: bool


def sample_key(sample: dict) -> str:
    return f"{sample['doc_id']}:{sample.get('doc_hash', '')}"


def metric_items(run: Run, task: str) -> list[Items]:
    """Every declared metric of `task` (lm-eval's metric_list order; for configs without one, the metrics in
    `higher_is_better`, aggregated by mean) whose aggregation can be recomputed, per filter, items in doc order."""
    cfg = run.results["configs"].get(task, {})
    hib = run.results.get("higher_is_better", {}).get(task) or {}
    declared = cfg.get("metric_list") or [{"metric": m, "aggregation": "mean"} for m in hib]
    samples = sorted(run.samples.get(task, []), key=lambda s: s["doc_id"])
    out = []
    for m in declared:
        name = m["metric"]
        agg = _agg_name(m.get("aggregation", "mean"))
        fn = aggregation_fn(agg)
        if fn is None:
            continue
        by_filter: dict[str, tuple[list, list]] = {}
        for s in samples:
            if name in s:
                items, keys = by_filter.setdefault(s.get("filter", "none"), ([], []))
                items.append(s[name])
                keys.append(sample_key(s))
        better = bool(hib.get(name, m.get("higher_is_better", True)))
        out += [Items(task, name, filt, agg, fn, items, keys, better) for filt, (items, keys) in by_filter.items()]
    return out


def primary_items(run: Run, task: str) -> Items | None:
    """The one score a table shows for a task: finbench's `score` when the task declares it, else the first
    declared metric (lm-eval's order) that can be recomputed; its first filter. None if nothing can be."""
    found = metric_items(run, task)
    return next((i for i in found if i.metric == "score"), found[0] if found else None)


def paired_draws(a: Items, b: Items, n_boot: int, seed: int) -> np.ndarray:
    """Paired bootstrap draws of metric(a) - metric(b) over aligned items (a.keys == b.keys): both are resampled
    with the SAME indices (same n, same seed), so this is draws(a) - draws(b); for means one pass over a - b."""
    if a.keys != b.keys:
        raise ValueError("paired draws need the same samples in the same order")
    if a.fn is _mean:
        diff = np.asarray(a.items, dtype=float) - np.asarray(b.items, dtype=float)
        return stats.bootstrap_mean_distribution(diff, n_boot, seed)
    return draws(a.items, a.fn, n_boot, seed) - draws(b.items, b.fn, n_boot, seed)


def metric_rows(run: Run, n_boot: int = N_BOOT, seed: int = SEED) -> list[MetricRow]:
    """Every declared metric of every task with samples, recomputed from the per-sample items, with its bootstrap
    draws. Metrics that share an aggregation and identical items (e.g. `score` and `macro_f1`) share one bootstrap."""
    from tqdm.auto import tqdm

    jobs = [(i.task, i.metric, i.agg, i.fn, i.filter, i.items) for task in sorted(run.samples)
            for i in metric_items(run, task)]
    rows, done = [], {}
    for task, name, agg, fn, filt, items in tqdm(jobs, desc="bootstrap CIs", unit="metric", leave=False):
        key = (task, agg, filt)
        if key in done and done[key][0] == items:
            value, boot = done[key][1]
        else:
            value = float(fn(items))
            boot = draws(items, fn, n_boot=n_boot, seed=task_seed(task, seed))
            done[key] = (items, (value, boot))
        lo, hi = stats.percentile_ci(boot)
        reported = run.results["results"].get(task, {}).get(f"{name},{filt}")
        rows.append(MetricRow(task, name, filt, len(items), value, reported, lo, hi, boot))
    return rows


def group_rows(run: Run, rows: list[MetricRow]) -> list[MetricRow]:
    """Group scores as lm-eval computes them: the unweighted mean of the `score` of every task under the group
    (a group of groups averages its leaf tasks, not its subgroups), with CIs from the tasks' bootstrap draws (each
    task is resampled independently, with its own seed, so draws combine index by index)."""
    scores = {r.task: r for r in rows if r.metric == "score"}
    subtasks = run.results.get("group_subtasks", {})

    def leaves(name: str) -> list[str]:
        return [leaf for c in subtasks[name] for leaf in leaves(c)] if name in subtasks else [name]

    out = []
    for group in subtasks:
        kids = [scores[t] for t in leaves(group) if t in scores]
        if not kids:
            continue
        boot = np.mean(np.stack([k.boot for k in kids]), axis=0)
        lo, hi = stats.percentile_ci(boot)
        filt = kids[0].filter
        out.append(MetricRow(group, "score", filt, sum(k.n for k in kids), float(np.mean([k.value for k in kids])),
                             run.results["results"].get(group, {}).get(f"score,{filt}"), lo, hi, boot))
    return out


_SECRET = re.compile(r"""(['"]?\w*(?:key|token|secret|password)\w*['"]?\s*[=:]\s*)(['"]?)[^,'"}\s]+""", re.I)


def redact(model_args) -> str:
    """model_args as text, with the values of anything named like a key, token, secret or password masked."""
    return _SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}***", str(model_args))


def format_table(run: Run, rows: list[MetricRow], groups: list[MetricRow]) -> str:
    cfg = run.results.get("config", {})
    lines = [
        f"model: {cfg.get('model')} {redact(cfg.get('model_args') or '')}".rstrip(),
        f"results: {run.results_file}",
        f"95% CI: percentile bootstrap over samples, {N_BOOT} resamples, seed {SEED}",
        "",
        f"{'task':<28} {'metric':<12} {'n':>6} {'value':>7}  {'95% CI':<17}",
        "-" * 74,
    ]
    for r in groups + rows:
        ci = f"[{r.lo:.3f}, {r.hi:.3f}]" if not math.isnan(r.lo) else ""
        lines.append(f"{r.task:<28} {r.metric:<12} {r.n:>6} {r.value:>7.3f}  {ci:<17}")
    if cfg.get("finbench_api"):
        lines += ["", api_usage_line(cfg["finbench_api"])]
    lines += partial_lines(run.results)
    meta = run_meta(run)
    if meta.get("sample_data"):
        lines += ["", "SAMPLE DATA: these numbers come from finbench's small synthetic sample sets; they are a smoke "
                      "test, not benchmark scores."]
    return "\n".join(lines)


def partial_tasks(res: dict) -> dict[str, tuple[int, int]]:
    """task -> (documents evaluated, documents in its test split) for each task a run evaluated only part of
    (lm-eval's `n-samples`: `--limit`, `--samples`)."""
    out = {}
    for task, n in (res.get("n-samples") or {}).items():
        try:
            effective, original = int(n["effective"]), int(n["original"])
        except (KeyError, TypeError, ValueError):
            continue
        if effective < original:
            out[task] = (effective, original)
    return out


def sample_text(res: dict, task: str) -> str | None:
    """'sample of N of M documents' for a partial task of a run (None for a full one). finbench tasks before
    version 2.0 took the first documents in file order: those say 'first N of M documents'."""
    if task not in (part := partial_tasks(res)):
        return None
    n, m = part[task]
    version = str((res.get("versions") or {}).get(task, ""))
    prefix = task.startswith("finbench_") and version.split(".")[0] in ("0", "1")
    return f"{'first' if prefix else 'sample of'} {n:,} of {m:,} documents"


def partial_lines(res: dict) -> list[str]:
    """The table's note on a partial run: which tasks saw a sample, of how many documents."""
    part = partial_tasks(res)
    if not part:
        return []
    lines = ["", "PARTIAL RUN: scores on a sample of the test sets (lm-eval --limit takes the first documents of "
                 "finbench's seeded, label-stratified order); run without --limit for full-test-set scores."]
    return lines + [f"  {task}: {sample_text(res, task)}" for task in sorted(part)]


def api_usage_line(api: dict) -> str:
    """One line on an API run (finbench's API models write `config.finbench_api` into the results file)."""
    u, cost = api["usage"], api["estimated_cost_this_run"]
    usd = cost["usd"] if cost["usd"] == "unknown" else f"${cost['usd']:.4f} (list prices of {cost['prices_taken']})"
    return (f"API usage: {u['requests_sent']} requests sent, {u['cache_hits']} answers from the response cache; "
            f"{u['prompt_tokens']} prompt + {u['completion_tokens']} completion tokens billed; estimated cost {usd}")


META_FILE = "finbench_run.json"


def sidecar(run: Run, name: str) -> Path | None:
    """A file stored beside a run's lm-eval output (finbench_run.json, recipe.yaml): next to the results file or
    one level up (lm-eval writes <output_path>/<model>/results_*.json); the nearest wins."""
    for parent in run.results_file.parents[:2]:
        if (parent / name).is_file():
            return parent / name
    return None


def run_meta(run: Run) -> dict:
    """finbench's own record of a run (data dir, sample or real data, versions), written by `finbench eval` at the
    top of the output path; empty for runs made with plain `lm_eval`."""
    f = sidecar(run, META_FILE)
    return _read_json(f) if f else {}


def report(path: Path, out=sys.stdout) -> int:
    runs = find_runs(path, lazy=True)
    if not runs:
        print(f"no lm-eval results_*.json under {path}", file=sys.stderr)
        return 2
    for run in runs:
        if not run.samples:
            print(f"{run.results_file}: no samples files beside it (run lm_eval with --log_samples)", file=sys.stderr)
            continue
        rows = metric_rows(run)
        print(format_table(run, rows, group_rows(run, rows)), file=out)
        print(file=out)
    return 0
