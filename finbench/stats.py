"""Percentile-bootstrap confidence intervals (and paired deltas) over per-sample items or scores, and the seed level
of a two-level (training seeds, then test documents) bootstrap."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

__all__ = [
    "N_BOOT",
    "ALPHA",
    "SEED",
    "bootstrap_distribution",
    "bootstrap_counts",
    "percentile_ci",
    "bootstrap_ci",
    "bootstrap_mean_ci",
    "bootstrap_mean_distribution",
    "paired_bootstrap_delta",
    "paired_bootstrap_mean_delta",
    "resample_seeds",
]

# Defaults: 1000 resamples, 95% interval, seed 0 (numpy default_rng). With the same seed, n and n_boot, every
# function here draws the SAME resample indices, so e.g. bootstrap_ci(items, mean) == bootstrap_mean_ci(values).
N_BOOT = 1000
ALPHA = 0.05
SEED = 0

_NAN3 = (float("nan"), float("nan"), float("nan"))
_CELLS_PER_CHUNK = 2_000_000  # bound the (rows x n) index matrix to ~16 MB whatever n is


def _index_chunks(n: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Resample indices, shape (rows, n) per chunk, n_boot rows in all, from default_rng(seed)."""
    if n * n_boot <= min(_CACHED_CELLS, _CELLS_PER_CHUNK):
        yield _single_chunk(n, n_boot, seed)
        return
    rng = np.random.default_rng(seed)
    rows = max(1, _CELLS_PER_CHUNK // max(n, 1))
    done = 0
    while done < n_boot:
        k = min(rows, n_boot - done)
        yield rng.integers(0, n, (k, n))
        done += k


_CACHED_CELLS = 250_000  # small index matrices (2 MB) are kept: a leaderboard redraws the same (n, seed) per run


@lru_cache(maxsize=32)
def _single_chunk(n: int, n_boot: int, seed: int) -> np.ndarray:
    idx = np.random.default_rng(seed).integers(0, n, (n_boot, n))
    idx.flags.writeable = False
    return idx


def percentile_ci(boot: Sequence[float] | np.ndarray, alpha: float = ALPHA) -> tuple[float, float]:
    """(lo, hi): the alpha/2 and 1 - alpha/2 percentiles of a bootstrap distribution; nan draws (resamples on which
    the metric is undefined) are ignored; (nan, nan) if no draw is finite."""
    stats = np.asarray(boot, dtype=float).ravel()
    stats = stats[np.isfinite(stats)]
    if stats.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.percentile(stats, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(lo), float(hi)


def _check(n_boot: int, alpha: float) -> None:
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


def bootstrap_distribution(
    items: Sequence[Any], metric_fn: Callable[[list[Any]], float], n_boot: int = N_BOOT, seed: int = SEED
) -> np.ndarray:
    """The n_boot bootstrap draws metric_fn(resample), shape (n_boot,), resampling items with replacement with
    indices from numpy default_rng(seed) (draw i uses the i-th index row, as in every function here). A draw on
    which the metric is undefined may be nan. Empty items -> n_boot nans."""
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    items = list(items)
    n = len(items)
    if n == 0:
        return np.full(n_boot, np.nan)
    return np.array(
        [float(metric_fn([items[i] for i in row])) for chunk in _index_chunks(n, n_boot, seed) for row in chunk],
        dtype=float,
    )


def bootstrap_counts(
    codes: Sequence[int] | np.ndarray, n_codes: int, n_boot: int = N_BOOT, seed: int = SEED
) -> np.ndarray:
    """Per resample, how often each code 0..n_codes-1 occurs: shape (n_boot, n_codes), from the same resample
    indices as bootstrap_distribution (so a metric of these counts equals that metric of the resampled items)."""
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    codes = np.asarray(codes, dtype=np.int64)
    if codes.size == 0:
        return np.zeros((n_boot, n_codes), dtype=np.int64)
    out = []
    for chunk in _index_chunks(codes.size, n_boot, seed):
        offsets = np.arange(chunk.shape[0])[:, None] * n_codes
        out.append(
            np.bincount((codes[chunk] + offsets).ravel(), minlength=chunk.shape[0] * n_codes).reshape(
                chunk.shape[0], n_codes
            )
        )
    return np.concatenate(out)


def bootstrap_ci(
    items: Sequence[Any],
    metric_fn: Callable[[list[Any]], float],
    n_boot: int = N_BOOT,
    alpha: float = ALPHA,
    seed: int = SEED,
) -> tuple[float, float, float]:
    """(point, lo, hi): point = metric_fn(items); [lo, hi] the percentile-bootstrap (1 - alpha) interval from
    n_boot resamples of the items with replacement (indices from numpy default_rng(seed)). Defaults: 1000
    resamples, alpha 0.05 (95%), seed 0. Resamples on which the metric is nan are ignored. Empty items ->
    (nan, nan, nan)."""
    _check(n_boot, alpha)
    items = list(items)
    if not items:
        return _NAN3
    point = float(metric_fn(items))
    lo, hi = percentile_ci(bootstrap_distribution(items, metric_fn, n_boot, seed), alpha)
    return point, lo, hi


def _values(values: Sequence[Any]) -> np.ndarray:
    arr = np.asarray(list(values), dtype=float)
    if arr.ndim != 1:
        raise ValueError("expected a flat sequence of per-sample scores")
    if not np.all(np.isfinite(arr)):
        raise ValueError("per-sample scores must be finite numbers (score a missing prediction as 0, not None)")
    return arr


def bootstrap_mean_ci(
    values: Sequence[float], n_boot: int = N_BOOT, alpha: float = ALPHA, seed: int = SEED
) -> tuple[float, float, float]:
    """Fast path of bootstrap_ci for a metric that is the mean of per-sample scores (0/1 correctness, F1 per doc):
    one (n_boot x n) index-matrix op, chunked to bound memory. Same defaults and same resamples as bootstrap_ci.
    Empty values -> (nan, nan, nan)."""
    _check(n_boot, alpha)
    arr = _values(values)
    if arr.size == 0:
        return _NAN3
    lo, hi = percentile_ci(bootstrap_mean_distribution(arr, n_boot, seed), alpha)
    return float(arr.mean()), lo, hi


def bootstrap_mean_distribution(values: Sequence[float], n_boot: int = N_BOOT, seed: int = SEED) -> np.ndarray:
    """The n_boot resample means of per-sample scores (the draws of bootstrap_distribution(values, mean)), in one
    chunked index-matrix op. Empty values -> n_boot nans."""
    arr = _values(values)
    if arr.size == 0:
        return np.full(n_boot, np.nan)
    return np.concatenate([arr[idx].mean(axis=1) for idx in _index_chunks(arr.size, n_boot, seed)])


def paired_bootstrap_delta(
    a_items: Sequence[Any],
    b_items: Sequence[Any],
    metric_fn: Callable[[list[Any]], float],
    n_boot: int = N_BOOT,
    alpha: float = ALPHA,
    seed: int = SEED,
) -> tuple[float, float, float]:
    """(delta, lo, hi) with delta = metric_fn(a) - metric_fn(b), two systems scored on the same samples: a_items[i]
    and b_items[i] must be the same sample (align by sample id first). Each resample uses the SAME indices for both
    systems. Raises ValueError if the lengths differ. Empty -> (nan, nan, nan). Defaults as bootstrap_ci."""
    _check(n_boot, alpha)
    a_items, b_items = list(a_items), list(b_items)
    if len(a_items) != len(b_items):
        raise ValueError(f"paired bootstrap needs aligned items: {len(a_items)} vs {len(b_items)}")
    n = len(a_items)
    if n == 0:
        return _NAN3
    delta = float(metric_fn(a_items)) - float(metric_fn(b_items))
    stats = [
        float(metric_fn([a_items[i] for i in row])) - float(metric_fn([b_items[i] for i in row]))
        for chunk in _index_chunks(n, n_boot, seed)
        for row in chunk
    ]
    lo, hi = percentile_ci(np.array(stats), alpha)
    return delta, lo, hi


def paired_bootstrap_mean_delta(
    a_values: Sequence[float], b_values: Sequence[float], n_boot: int = N_BOOT, alpha: float = ALPHA, seed: int = SEED
) -> tuple[float, float, float]:
    """Fast path of paired_bootstrap_delta for mean-of-per-sample-score metrics (same indices, same resamples)."""
    _check(n_boot, alpha)
    a, b = _values(a_values), _values(b_values)
    if a.size != b.size:
        raise ValueError(f"paired bootstrap needs aligned values: {a.size} vs {b.size}")
    if a.size == 0:
        return _NAN3
    diff = a - b
    lo, hi = percentile_ci(bootstrap_mean_distribution(diff, n_boot, seed), alpha)
    return float(diff.mean()), lo, hi


def resample_seeds(draws: np.ndarray, seed: int = SEED) -> np.ndarray:
    """The outer level of a two-level (seeds, then documents) bootstrap, vectorised.

    `draws` has shape (S, B): row s holds the B document-level bootstrap draws of the metric for training seed s,
    every row drawn with the SAME document resample indices (draw b resamples the same documents in every seed and
    every configuration: finbench.results.task_seed). Draw b of the two-level bootstrap resamples S seeds with
    replacement (indices from default_rng(seed), independent of the document draws) and averages their draw b:
    out[b] = mean_j draws[K[b, j], b]. Its spread combines test-document resampling (the columns) and seed variance
    (the rows); with S = 1 it is the document bootstrap itself. nan document draws stay nan (ignored by
    percentile_ci). Returns shape (B,)."""
    d = np.asarray(draws, dtype=float)
    if d.ndim != 2 or d.shape[0] < 1:
        raise ValueError(f"expected (seeds, draws) document-level bootstrap draws, got shape {d.shape}")
    n_seeds, n_boot = d.shape
    if n_seeds == 1:
        return d[0].copy()
    k = np.random.default_rng(seed).integers(0, n_seeds, (n_boot, n_seeds))
    return d[k, np.arange(n_boot)[:, None]].mean(axis=1)
