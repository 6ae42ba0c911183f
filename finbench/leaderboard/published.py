"""Published reference numbers (published.yaml): scores from papers and leaderboards that finbench cannot recompute
(no samples), shown as reference rows marked NOTE. A run meets one only on the same task and metric: its value and
95 % CI against the published constant. Never part of a paired statistic, an average or the regression gate."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from .. import results, stats, yamlfile
from ..config import DataError

FILE = Path(__file__).with_name("published.yaml")
NOTE = "published, not recomputed: no samples, no CI"
FIELDS = ("task", "model", "metric", "value", "split", "source")


@dataclass(frozen=True)
class Published:
    task: str  # the lm-eval task whose test split it was measured on
    model: str
    metric: str  # the finbench metric of that task with the published definition and scale
    value: float
    split: str
    source: str  # the citation


def load(path: Path = FILE) -> list[Published]:
    """Every entry of a reference file (default: the package's published.yaml); DataError names a bad entry."""
    try:
        raw = yamlfile.load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"{path}: unreadable reference file ({exc})") from None
    if not isinstance(raw, list):
        raise DataError(f"{path}: must be a YAML list of {{{', '.join(FIELDS)}}} entries")
    out = []
    for i, e in enumerate(raw):
        if not isinstance(e, dict) or set(e) != set(FIELDS):
            raise DataError(f"{path}: entry {i} must have exactly the fields {', '.join(FIELDS)}")
        value = e["value"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise DataError(f"{path}: entry {i} ({e['model']} on {e['task']}): value must be a number, got {value!r}")
        if not all(isinstance(e[k], str) and e[k] for k in FIELDS if k != "value"):
            raise DataError(f"{path}: entry {i}: {', '.join(k for k in FIELDS if k != 'value')} must be non-empty text")
        out.append(Published(e["task"], e["model"], e["metric"], float(value), e["split"], e["source"]))
    return out


@dataclass
class Versus:
    """A run's own value of a published number's metric, recomputed with its CI, against that number."""

    value: float
    lo: float
    hi: float
    n: int
    verdict: str  # "above" / "below" (the 95 % CI excludes the published value) / "CI includes it"


def versus(ref: Published, items: results.Items, n_boot: int = results.N_BOOT, seed: int = results.SEED) -> Versus:
    """Recompute `items` (the run's per-sample items of ref.metric) with a bootstrap CI and place it against ref."""
    boot = results.draws(items.items, items.fn, n_boot, results.task_seed(items.task, seed))
    lo, hi = stats.percentile_ci(boot)
    return place(ref, float(items.fn(items.items)), lo, hi, len(items.items))


def place(ref: Published, value: float, lo: float, hi: float, n: int) -> Versus:
    """A value with its 95 % CI (a run's, or a configuration's over seeds) against the published number."""
    verdict = "above" if lo > ref.value else "below" if hi < ref.value else "CI includes it"
    return Versus(value, lo, hi, n, verdict)
