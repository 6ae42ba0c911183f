"""Read lm-eval output directories (results JSON + `--log_samples` JSONL, or its .jsonl.gz in a slim export),
recompute every aggregate from the logged per-sample items, attach 95 % bootstrap confidence intervals, and render the score table."""

from __future__ import annotations

import gzip
import json
import math
import re
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import numpy as np

from . import metrics, stats
from .config import DataError

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


def merge_runs(parts: list[Run]) -> Run:
    """One run from the results files of one model whose tasks are disjoint (e.g. a run's knowledge tasks,
    evaluated in two output dirs): the per-task entries of each results file side by side, the first one's
    settings; `finbench_parts` lists the files."""
    if len(parts) == 1:
        return parts[0]
    res = dict(parts[0].results)
    for key in ("results", "configs", "versions", "n-shot", "higher_is_better", "n-samples", "group_subtasks"):
        res[key] = {k: v for p in parts for k, v in (p.results.get(key) or {}).items()}
    res["finbench_parts"] = [str(p.results_file) for p in parts]
    return Run(parts[0].results_file, res, {t: s for p in parts for t, s in p.samples.items()})


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
    if (
        not isinstance(res, dict)
        or not isinstance(res.get("results"), dict)
        or not isinstance(res.get("configs"), dict)
    ):
        raise ResultsError(f"{f}: not an lm-eval results file (no 'results'/'configs'); re-run lm_eval or remove it")
    stamp = f.stem[len("results_") :]
    samples = {}
    for task in res["configs"]:
        sfile = _samples_path(f.parent, task, stamp)
        if not sfile.exists():
            continue
        rows = []
        try:
            data = sfile.read_bytes()
            lines = (gzip.decompress(data) if sfile.suffix == ".gz" else data).splitlines()
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise ResultsError(f"{sfile}: unreadable ({exc})") from None
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = _parse_sample(line, lazy)
            except json.JSONDecodeError as exc:
                raise ResultsError(
                    f"{sfile}:{lineno}: malformed samples line ({exc}); the run was cut short? "
                    "re-run lm_eval with --log_samples"
                ) from None
            if not isinstance(row, dict) or "doc_id" not in row:
                raise ResultsError(f"{sfile}:{lineno}: not an lm-eval sample (no doc_id)")
            rows.append(row)
        samples[task] = rows
    return Run(f, res, samples)


def _staging(part: str) -> bool:
    """A writer's temporary dir (`.<name>.<random>.tmp`, finbench.artifacts): never a result."""
    return part.startswith(".") and part.endswith(".tmp")


def results_files(path: Path) -> list[Path]:
    """Every lm-eval `results_*.json` under `path` (or `path` itself when it is one), sorted, leaving out those
    inside a staging dir of a writer that has not finished (a killed `finbench eval` or sweep evaluation)."""
    path = Path(path)
    if path.is_file():
        return [path]
    return [f for f in sorted(path.rglob("results_*.json")) if not any(_staging(p) for p in f.relative_to(path).parts)]


def find_runs(path: Path, lazy: bool = False) -> list[Run]:
    """Every `results_*.json` under `path` (lm-eval nests them in a per-model folder), with its samples files."""
    return [load_run(f, lazy) for f in results_files(path)]


def _samples_path(folder: Path, task: str, stamp: str) -> Path:
    """lm-eval's `samples_<task>_<stamp>.jsonl`, or its gzipped form (a slim export, finbench.slim) if only that
    exists."""
    plain = folder / f"samples_{task}_{stamp}.jsonl"
    gz = plain.with_name(plain.name + ".gz")
    return gz if not plain.exists() and gz.exists() else plain


def samples_file(run: Run, task: str) -> Path:
    return _samples_path(run.results_file.parent, task, run.results_file.stem[len("results_") :])


def incomplete_tasks(run: Run) -> dict[str, str]:
    """The tasks of a results file that cannot be scored in full, with why: no samples file beside it, or fewer
    documents in it than lm-eval scored (`n-samples`: the file was cut short). Every reader that recomputes
    scores (report, leaderboard, regress) leaves these out and says so; a group average over them is not computed."""
    out = {}
    counts = run.results.get("n-samples") or {}
    for task in run.results["configs"]:
        if task not in run.samples:
            out[task] = f"no samples file {samples_file(run, task).name} beside the results file"
            continue
        want = (counts.get(task) or {}).get("effective")
        got = len({s["doc_id"] for s in run.samples[task]})
        if isinstance(want, int) and got < want:
            out[task] = f"{samples_file(run, task).name} holds {got} of the {want} documents lm-eval scored (cut short)"
    return out


def aggregation_fn(name: str):
    """The aggregation a results file names: finbench's (finbench.metrics.AGGREGATIONS, `mean` included), else
    lm-eval's aggregation registry (f1, matthews_corrcoef, perplexity, bleu, …: what other lm-eval tasks use).
    Unknown names -> None (no recomputation possible)."""
    fn = metrics.aggregation(name)
    if fn is None:
        import lm_eval.api.metrics  # noqa: F401  (registers lm-eval's aggregations)
        from lm_eval.api.registry import AGGREGATION_REGISTRY

        fn = AGGREGATION_REGISTRY.get(name, None)
    return fn


def _agg_name(agg) -> str:
    """lm-eval dumps a callable aggregation as its source ("def macro_f1_sentiment(items): ...", finbench before
    its aggregation registry), its repr, or str() of a callable object (a metrics.Aggregation: its name)."""
    text = str(agg)
    found = re.match(r"\s*(?:def\s+|<function\s+)(\w+)", text)
    return found.group(1) if found else text


def draws(items: list, fn, n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap draws of aggregation `fn` over `items`: finbench's aggregations (metrics.Aggregation) use their
    vectorised forms; any other callable (lm-eval's) is resampled generically. All paths use the same resample
    indices for a given seed and agree draw for draw."""
    if isinstance(fn, metrics.Aggregation):
        return fn.draws(items, n_boot, seed)
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
    if a.fn is metrics.MEAN:
        diff = np.asarray(a.items, dtype=float) - np.asarray(b.items, dtype=float)
        return stats.bootstrap_mean_distribution(diff, n_boot, seed)
    return draws(a.items, a.fn, n_boot, seed) - draws(b.items, b.fn, n_boot, seed)


def metric_rows(run: Run, n_boot: int = N_BOOT, seed: int = SEED) -> list[MetricRow]:
    """Every declared metric of every task with samples, recomputed from the per-sample items, with its bootstrap
    draws. Metrics that share an aggregation and identical items (e.g. `score` and `macro_f1`) share one bootstrap."""
    from tqdm.auto import tqdm

    jobs = [
        (i.task, i.metric, i.agg, i.fn, i.filter, i.items)
        for task in sorted(run.samples)
        for i in metric_items(run, task)
    ]
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


def group_leaves(run: Run) -> dict[str, list[str]]:
    """Each group of the results file -> its leaf tasks (a group of groups lists the leaves of its subgroups)."""
    subtasks = run.results.get("group_subtasks", {})

    def leaves(name: str) -> list[str]:
        return [leaf for c in subtasks[name] for leaf in leaves(c)] if name in subtasks else [name]

    return {group: leaves(group) for group in subtasks}


def group_rows(run: Run, rows: list[MetricRow], incomplete: dict[str, str] | None = None) -> list[MetricRow]:
    """Group scores as lm-eval computes them: the unweighted mean of the `score` of every task under the group
    (a group of groups averages its leaf tasks, not its subgroups), with CIs from the tasks' bootstrap draws (each
    task is resampled independently, with its own seed, so draws combine index by index). A group with a task in
    `incomplete` (incomplete_tasks) is not computed: its average would silently leave that task out."""
    scores = {r.task: r for r in rows if r.metric == "score"}
    out = []
    for group, leaves in group_leaves(run).items():
        if any(t in (incomplete or {}) for t in leaves):
            continue
        kids = [scores[t] for t in leaves if t in scores]
        if not kids:
            continue
        boot = np.mean(np.stack([k.boot for k in kids]), axis=0)
        lo, hi = stats.percentile_ci(boot)
        filt = kids[0].filter
        out.append(
            MetricRow(
                group,
                "score",
                filt,
                sum(k.n for k in kids),
                float(np.mean([k.value for k in kids])),
                run.results["results"].get(group, {}).get(f"score,{filt}"),
                lo,
                hi,
                boot,
            )
        )
    return out


_SPECIAL_TOKEN = re.compile(r"(?:bos|eos|pad|unk|sep|cls|mask|add_bos|add_eos|add_special)_?tokens?$")


def is_secret_name(name: str) -> bool:
    """An argument name that carries a secret, in any case and spelling: api_key, API_KEY, Api-Key, apikey,
    openai_api_key, token, auth_token, HF_TOKEN, secret, password, passwd, authorization, bearer, credentials,
    cookie, headers (which carry Authorization). Not: tokenizer, max_tokens, add_bos_token."""
    n = str(name).strip().strip("'\"").lower()
    if _SPECIAL_TOKEN.search(n):
        return False
    n = re.sub(r"[-_\s.]", "", n)
    return bool(
        re.search(r"key|secret|passw(?:or)?d|credential|authori[sz]ation|bearer|cookie", n)
        or re.search(r"token$", n)
        or n in ("auth", "header", "headers")
    )


_ARG = re.compile(r"""(['"]?)([\w.-]+)(\1\s*[=:]\s*)(['"]?)((?:bearer\s+)?[^,'"}\s]+)""", re.I)
# values that are keys whatever they are called: "Bearer …", OpenAI/Anthropic-style `sk-…`, Hugging Face `hf_…`
# (not inside a path or a longer name: `/ckpt/sk-learn-model`, `hf_models/` are not keys)
_SECRET_VALUE = re.compile(r"(?<![\w/.-])(?:bearer\s+[^\s,'\"}]+|sk-[\w-]{16,}|hf_[A-Za-z0-9]{30,})(?![\w/.])", re.I)


def is_secret_value(value: object) -> bool:
    """A whole argument value that looks like a key (`Bearer …`, `sk-…`, `hf_…`), whatever its name."""
    return bool(_SECRET_VALUE.fullmatch(str(value).strip()))


def redact(model_args) -> str:
    """model_args (a string or a dict) as text, with the value of every argument named like a secret
    (is_secret_name) masked, and any value that looks like a key (`Bearer …`, `sk-…`, `hf_…`)."""
    text = _ARG.sub(
        lambda m: (
            m.group(0) if not is_secret_name(m.group(2)) else f"{m.group(1)}{m.group(2)}{m.group(3)}{m.group(4)}***"
        ),
        str(model_args),
    )
    return _SECRET_VALUE.sub("***", text)


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
        lines += [
            "",
            "SAMPLE DATA: these numbers come from finbench's small synthetic sample sets; they are a smoke "
            "test, not benchmark scores.",
        ]
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
    lines = [
        "",
        "PARTIAL RUN: scores on a sample of the test sets (lm-eval's --limit N, and the --samples a sweep plan "
        "passes, take the first N documents of finbench's seeded, label-stratified order, never the file's first "
        "lines); run without them for full-test-set scores.",
    ]
    return lines + [f"  {task}: {sample_text(res, task)}" for task in sorted(part)]


def api_usage_line(api: dict) -> str:
    """One line on an API run (finbench's API models write `config.finbench_api` into the results file)."""
    u, cost = api["usage"], api["estimated_cost_this_run"]
    usd = cost["usd"] if cost["usd"] == "unknown" else f"${cost['usd']:.4f} (list prices of {cost['prices_taken']})"
    return (
        f"API usage: {u['requests_sent']} requests sent, {u['cache_hits']} answers from the response cache; "
        f"{u['prompt_tokens']} prompt + {u['completion_tokens']} completion tokens billed; estimated cost {usd}"
    )


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


def report(path: Path, out=None) -> int:
    """Print the score table of the one run under `path` (an output dir or a results_*.json). Exit status: 0, 1 when
    the run is incomplete (tasks without their full samples are left out, and so are the group averages over
    them; both are named), 2 when there is nothing to report or several runs to choose from."""
    out = out or sys.stdout
    files = results_files(path)
    if not files:
        print(f"no lm-eval results_*.json under {path}", file=sys.stderr)
        return 2
    if len(files) > 1:
        listed = "\n  ".join(str(f) for f in files)
        print(
            f"{path}: {len(files)} runs under it; pass the results_*.json of the one to report "
            f"(`finbench report FILE`):\n  {listed}",
            file=sys.stderr,
        )
        return 2
    run = load_run(files[0], lazy=True)
    if not run.samples:
        print(f"{run.results_file}: no samples files beside it (run lm_eval with --log_samples)", file=sys.stderr)
        return 2
    bad = incomplete_tasks(run)
    scored = Run(run.results_file, run.results, {t: s for t, s in run.samples.items() if t not in bad})
    rows = metric_rows(scored)
    print(format_table(scored, rows, group_rows(scored, rows, bad)), file=out)
    if bad:
        lines = [
            f"INCOMPLETE RUN: {len(bad)} of {len(run.results['configs'])} tasks cannot be scored in full "
            "and are left out:"
        ] + [f"  {t}: {why}" for t, why in sorted(bad.items())]
        groups = sorted(g for g, leaves in group_leaves(run).items() if any(t in bad for t in leaves))
        if groups:
            lines.append(f"  group averages not computed (they would leave those tasks out): {', '.join(groups)}")
        lines.append("  re-run the evaluation (the run was cut short, or files were removed)")
        print("\n" + "\n".join(lines), file=out)
        print(f"finbench report: {run.results_file} is incomplete: {', '.join(sorted(bad))}", file=sys.stderr)
    print(file=out)
    return 1 if bad else 0
