"""finbench.stats: bootstrap confidence intervals and paired deltas."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from finbench import metrics as M
from finbench import stats as S


def mean(items):
    return float(np.mean(items))


def bernoulli(n, p=0.7, seed=1):
    return [float(x) for x in (np.random.default_rng(seed).random(n) < p)]


def test_defaults_documented():
    assert (S.N_BOOT, S.ALPHA, S.SEED) == (1000, 0.05, 0)


def test_ci_contains_point_and_is_ordered():
    values = bernoulli(200)
    point, lo, hi = S.bootstrap_ci(values, mean)
    assert point == pytest.approx(np.mean(values))
    assert lo <= point <= hi
    assert lo < hi
    point2, lo2, hi2 = S.bootstrap_mean_ci(values)
    assert point2 == pytest.approx(point)
    assert lo2 <= point2 <= hi2


def test_deterministic_for_seed_and_seed_matters():
    values = bernoulli(150)
    assert S.bootstrap_ci(values, mean, seed=3) == S.bootstrap_ci(values, mean, seed=3)
    assert S.bootstrap_mean_ci(values, seed=3) == S.bootstrap_mean_ci(values, seed=3)
    assert S.bootstrap_mean_ci(values, seed=3) != S.bootstrap_mean_ci(values, seed=4)


def test_fast_path_equals_generic_path():
    # same seed -> same resample indices -> identical intervals
    values = bernoulli(120)
    generic = S.bootstrap_ci(values, mean, n_boot=300, seed=7)
    fast = S.bootstrap_mean_ci(values, n_boot=300, seed=7)
    assert fast == pytest.approx(generic)


def test_fast_path_chunking_is_consistent(monkeypatch):
    values = bernoulli(101)
    generic = S.bootstrap_ci(values, mean, n_boot=50, seed=2)
    monkeypatch.setattr(S, "_CELLS_PER_CHUNK", 7 * 101)  # forces 8 chunks (7 rows each, last 1)
    assert S.bootstrap_ci(values, mean, n_boot=50, seed=2) == pytest.approx(S.bootstrap_mean_ci(values, 50, seed=2))
    assert len(list(S._index_chunks(101, 50, 2))) == 8
    assert sum(c.shape[0] for c in S._index_chunks(101, 50, 2)) == 50
    # width is in the same ballpark whatever the chunking
    _, lo, hi = generic
    _, lo2, hi2 = S.bootstrap_mean_ci(values, 50, seed=2)
    assert abs((hi - lo) - (hi2 - lo2)) < 0.1


def test_interval_narrows_with_n():
    _, lo_small, hi_small = S.bootstrap_mean_ci(bernoulli(50))
    _, lo_big, hi_big = S.bootstrap_mean_ci(bernoulli(5000))
    assert (hi_big - lo_big) < (hi_small - lo_small) / 4  # ~ 1/sqrt(100) = 1/10 the width


def test_alpha_controls_width():
    values = bernoulli(300)
    _, lo90, hi90 = S.bootstrap_mean_ci(values, alpha=0.10)
    _, lo99, hi99 = S.bootstrap_mean_ci(values, alpha=0.01)
    assert hi99 - lo99 > hi90 - lo90


def test_constant_values_degenerate_interval():
    assert S.bootstrap_mean_ci([1.0] * 20) == (1.0, 1.0, 1.0)
    assert S.bootstrap_ci([0.0] * 20, mean) == (0.0, 0.0, 0.0)


def test_empty_is_nan_no_crash():
    for result in (
        S.bootstrap_ci([], mean),
        S.bootstrap_mean_ci([]),
        S.paired_bootstrap_delta([], [], mean),
        S.paired_bootstrap_mean_delta([], []),
    ):
        assert len(result) == 3 and all(math.isnan(x) for x in result)


def test_bad_arguments():
    with pytest.raises(ValueError):
        S.bootstrap_mean_ci([1.0, None])
    with pytest.raises(ValueError):
        S.bootstrap_ci([1.0], mean, n_boot=0)
    with pytest.raises(ValueError):
        S.bootstrap_ci([1.0], mean, alpha=1.5)


def test_bootstrap_with_a_corpus_metric_and_json_items():
    labels = ["negative", "neutral", "positive"]
    base = [("positive", "positive"), ("neutral", "neutral"), ("negative", "positive"), ("positive", None)] * 25
    items = json.loads(json.dumps(base))

    def metric(xs):
        return M.macro_f1(xs, labels)

    point, lo, hi = S.bootstrap_ci(items, metric, n_boot=50)
    assert point == pytest.approx(M.macro_f1(base, labels))
    assert lo <= point <= hi


def test_nan_resamples_are_ignored():
    # metric undefined (nan) on resamples without any 1: those resamples are skipped, the rest still give an interval
    def first_one_mean(xs):
        return float(np.mean(xs)) if 1.0 in xs else float("nan")

    values = [0.0] * 9 + [1.0]
    point, lo, hi = S.bootstrap_ci(values, first_one_mean, n_boot=200)
    assert point == pytest.approx(0.1)
    assert 0 < lo <= hi
    always_nan = S.bootstrap_ci([1.0, 2.0], lambda xs: float("nan"), n_boot=20)
    assert all(math.isnan(x) for x in always_nan)


def test_paired_identical_systems_zero():
    values = bernoulli(100)
    assert S.paired_bootstrap_delta(values, list(values), mean, n_boot=50) == (0.0, 0.0, 0.0)
    assert S.paired_bootstrap_mean_delta(values, list(values)) == (0.0, 0.0, 0.0)
    items = [("positive", "positive"), ("neutral", None), ("negative", "neutral")] * 10
    assert S.paired_bootstrap_delta(items, items, M.accuracy, n_boot=50) == (0.0, 0.0, 0.0)


def test_paired_delta_sign_and_interval():
    a = [1.0] * 30
    b = [0.0] * 30
    assert S.paired_bootstrap_delta(a, b, mean) == (1.0, 1.0, 1.0)
    a = bernoulli(400, p=0.8, seed=5)
    b = bernoulli(400, p=0.5, seed=6)
    delta, lo, hi = S.paired_bootstrap_delta(a, b, mean, n_boot=500)
    assert delta == pytest.approx(np.mean(a) - np.mean(b))
    assert 0 < lo <= delta <= hi
    assert S.paired_bootstrap_mean_delta(a, b, n_boot=500) == pytest.approx((delta, lo, hi))


def test_paired_uses_same_indices():
    # b is a shifted copy of a: every resample's delta is exactly the shift, which independent resampling would break
    a = bernoulli(80)
    b = [x - 0.25 for x in a]
    delta, lo, hi = S.paired_bootstrap_delta(a, b, mean, n_boot=200)
    assert (delta, lo, hi) == pytest.approx((0.25, 0.25, 0.25))


def test_paired_length_mismatch_raises():
    with pytest.raises(ValueError):
        S.paired_bootstrap_delta([1.0, 0.0], [1.0], mean)
    with pytest.raises(ValueError):
        S.paired_bootstrap_mean_delta([1.0, 0.0], [1.0])


def test_bootstrap_distribution_and_percentile_ci():
    values = bernoulli(60)
    boot = S.bootstrap_distribution(values, mean, n_boot=250, seed=4)
    assert boot.shape == (250,)
    assert S.percentile_ci(boot) == pytest.approx(S.bootstrap_ci(values, mean, n_boot=250, seed=4)[1:])
    assert np.array_equal(boot, S.bootstrap_distribution(values, mean, n_boot=250, seed=4))
    empty = S.bootstrap_distribution([], mean, n_boot=5)
    assert empty.shape == (5,) and np.isnan(empty).all()
    assert all(math.isnan(x) for x in S.percentile_ci(empty))
    # percentiles: 2.5% and 97.5% of 0..100 -> 2.5 and 97.5 (numpy linear interpolation)
    assert S.percentile_ci(np.arange(101.0)) == pytest.approx((2.5, 97.5))
    assert S.percentile_ci([1.0, float("nan"), 3.0], alpha=0.5) == pytest.approx((1.5, 2.5))


def test_resample_seeds_is_the_two_level_bootstrap_written_as_a_loop():
    """Draw b: resample the S seeds with replacement (default_rng(seed)), average their document draw b."""
    rng = np.random.default_rng(3)
    draws = rng.random((4, 500))
    got = S.resample_seeds(draws, seed=7)
    k = np.random.default_rng(7).integers(0, 4, (500, 4))
    want = [np.mean([draws[k[b, j], b] for j in range(4)]) for b in range(500)]
    assert got == pytest.approx(want, abs=1e-12)
    assert np.array_equal(S.resample_seeds(draws[:1], seed=7), draws[0])  # one seed: the document bootstrap itself
    with pytest.raises(ValueError, match="seeds, draws"):
        S.resample_seeds(draws[0])


def test_resample_seeds_adds_seed_variance_to_document_variance():
    """Seeds that agree on every document leave the document CI as it is; seeds that disagree widen it; documents
    that do not vary leave only the seed spread (every 3-seed mean lies in [min, max] of the seeds)."""
    docs = S.bootstrap_mean_distribution(bernoulli(300), 2000, 0)
    same = S.resample_seeds(np.stack([docs, docs, docs]), seed=1)
    assert np.allclose(same, docs)
    apart = S.resample_seeds(np.stack([docs - 0.1, docs, docs + 0.1]), seed=1)
    width = np.subtract(*S.percentile_ci(apart)[::-1])
    assert width > np.subtract(*S.percentile_ci(docs)[::-1]) + 0.02
    seeds_only = S.resample_seeds(np.array([[0.6] * 2000, [0.7] * 2000, [0.8] * 2000]), seed=1)
    assert seeds_only.min() >= 0.6 - 1e-12 and seeds_only.max() <= 0.8 + 1e-12
    assert len(np.unique(np.round(seeds_only, 9))) == 7  # the means of the 3-seed multisets: 0.6, 0.633, ..., 0.8
