"""cddgan.stats against known values: scipy's own Wilcoxon results, statsmodels' Holm and power, bootstraps
whose distribution can be computed exactly, OLS intervals against statsmodels', and a coverage simulation."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import scipy.stats
import statsmodels.api as sm
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestIndPower, TTestPower

from cddgan import stats

# --------------------------------------------------------------------------------------------- the bootstrap


def test_the_generator_is_seeded_by_a_stable_hash_of_the_key():
    draws = stats.rng_for("synthetic/sots/cut/psnr").integers(0, 1 << 30, size=5)
    assert (stats.rng_for("synthetic/sots/cut/psnr").integers(0, 1 << 30, size=5) == draws).all()
    assert not (stats.rng_for("synthetic/sots/cut/ssim").integers(0, 1 << 30, size=5) == draws).all()
    matrix = np.arange(12.0).reshape(3, 4)
    assert stats.mean_interval(matrix, "k") == stats.mean_interval(matrix.copy(), "k")


def test_one_seed_two_images_has_the_exactly_known_bootstrap_distribution():
    """Drawing 2 of [0, 1] with replacement: mean 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4."""
    draws = stats.bootstrap_means(np.array([[0.0, 1.0]]), np.random.default_rng(0), resamples=20_000)
    values, counts = np.unique(draws, return_counts=True)
    assert values.tolist() == [0.0, 0.5, 1.0]
    assert counts / counts.sum() == pytest.approx([0.25, 0.5, 0.25], abs=0.015)
    assert stats.percentile_interval(draws) == (0.0, 1.0)


def test_seeds_are_resampled_as_whole_seeds():
    """Two seeds, each constant over its images: resamples give a, (a + b) / 2 or b, never anything else."""
    matrix = np.array([[1.0] * 5, [3.0] * 5])
    draws = stats.bootstrap_means(matrix, np.random.default_rng(1), resamples=8000)
    values, counts = np.unique(draws, return_counts=True)
    assert values.tolist() == [1.0, 2.0, 3.0]
    assert counts / counts.sum() == pytest.approx([0.25, 0.5, 0.25], abs=0.02)
    assert stats.mean_interval(matrix, "two seeds") == (1.0, 3.0)
    assert stats.mean_interval(np.full((3, 7), 4.5), "constant") == (4.5, 4.5)


def test_images_are_drawn_once_for_all_seeds_of_a_resample():
    """Every seed scores the same images: a resample that draws image 0 for one seed draws it for all. With
    seed rows that differ only by a constant, every resample's mean is the image draw's mean plus the seeds'
    offset, so the spread equals that of one seed's image bootstrap shifted, not shrunk by the seed count."""
    images = np.array([0.0, 10.0])
    matrix = np.vstack([images, images])  # two identical seeds
    draws = stats.bootstrap_means(matrix, np.random.default_rng(2), resamples=4000)
    assert set(np.unique(draws)) == {0.0, 5.0, 10.0}  # nested draws would also give 2.5 and 7.5


def test_the_point_estimate_and_missing_scores():
    matrix = np.array([[1.0, 2.0, np.nan], [4.0, np.inf, 6.0]])  # non-finite values are left out
    assert stats.two_level_mean(matrix) == pytest.approx((1.5 + 5.0) / 2)
    draws = stats.bootstrap_means(matrix, np.random.default_rng(3), resamples=500)
    assert np.isfinite(draws).mean() > 0.9
    low, high = stats.percentile_interval(draws)
    assert 1.0 <= low <= high <= 6.0
    with pytest.raises(ValueError, match="matrix"):
        stats.bootstrap_means(np.empty((0, 3)), np.random.default_rng(0))


def test_chunks_change_nothing_but_memory(monkeypatch):
    matrix = np.random.default_rng(4).normal(size=(3, 40))
    whole = stats.bootstrap_means(matrix, np.random.default_rng(5), resamples=300)
    monkeypatch.setattr(stats, "_MAX_CELLS", 1000)  # 8 resamples per chunk
    chunked = stats.bootstrap_means(matrix, np.random.default_rng(5), resamples=300)
    assert chunked.shape == whole.shape == (300,)
    assert chunked.mean() == pytest.approx(whole.mean(), abs=0.05)


def test_the_interval_covers_the_true_mean_at_about_its_nominal_rate():
    """200 simulated benchmarks of 10 seeds x 30 images, seeds and images crossed as in the harness (every
    seed scores the same images): score = 5 + seed effect + image effect + noise. The 95 % interval must
    cover 5 in 88 to 99 % of them."""
    rng = np.random.default_rng(2024)
    covered = 0
    for index in range(200):
        scores = (5 + 0.2 * rng.normal(size=(10, 1)) + 0.5 * rng.normal(size=(1, 30))
                  + 0.5 * rng.normal(size=(10, 30)))
        low, high = stats.mean_interval(scores, f"simulation/{index}", resamples=1000)
        covered += low <= 5 <= high
    assert 0.88 <= covered / 200 <= 0.99


def test_a_paper_sized_table_takes_a_few_seconds():
    """3 seeds x 500 images x 10 runs x 4 metrics: 40 intervals of 2,000 resamples."""
    matrices = np.random.default_rng(6).normal(size=(40, 3, 500))
    start = time.perf_counter()
    for index, matrix in enumerate(matrices):
        stats.mean_interval(matrix, f"cell/{index}")
    assert time.perf_counter() - start < 20  # about 1 s on one free core


# --------------------------------------------------------------------------------------------- tests


def test_wilcoxon_agrees_with_scipy_on_fixed_data():
    # Fisher's data as in scipy.stats.wilcoxon's documentation: exact two-sided p = 0.041259765625.
    d = np.array([6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75], dtype=float)
    assert stats.wilcoxon_p(d) == pytest.approx(0.041259765625, rel=1e-12)
    assert stats.wilcoxon_p(d) == scipy.stats.wilcoxon(d).pvalue
    ties = np.array([0.5, 0.5, 1.0, -0.25, 0.0, 2.0, 1.5, 0.5, -1.0, 3.0] * 8)  # normal approximation
    assert stats.wilcoxon_p(ties) == pytest.approx(scipy.stats.wilcoxon(ties).pvalue)
    assert stats.wilcoxon_p(np.zeros(5)) == 1.0
    assert math.isnan(stats.wilcoxon_p(np.array([np.nan])))


def test_holm_agrees_with_statsmodels_and_by_hand():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # By hand: sorted 0.005 x 4, 0.01 x 3, 0.03 x 2, 0.04 x 1, made monotone: 0.02, 0.03, 0.06, 0.06.
    assert stats.holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm(p) == pytest.approx(multipletests(p, method="holm")[1])
    with_nan = stats.holm(np.array([0.01, np.nan, 0.04]))
    assert math.isnan(with_nan[1]) and with_nan[[0, 2]] == pytest.approx([0.02, 0.04])  # a family of two


def test_probability_of_improvement():
    d = np.array([[1.0, -1.0], [0.0, 2.0]])
    assert stats.probability_of_improvement(d, True) == 0.625  # 2 wins and a tie (half) in 4
    assert stats.probability_of_improvement(d, False) == 0.375
    assert math.isnan(stats.probability_of_improvement(d, None))


# --------------------------------------------------------------------------------------------- power


def test_seeds_needed_agrees_with_statsmodels_power():
    # Cohen's d = 1: two-sample 16.7 -> 17 seeds per run, one-sample 9.9 -> 10.
    two = stats.seeds_needed(1.0, 1.0, 3, 1.0, 3)
    assert two.seeds == math.ceil(TTestIndPower().solve_power(1.0, alpha=0.05, power=0.8)) == 17
    assert two.note.startswith("seeds per run; 3 trained: too few to conclude")
    one = stats.seeds_needed(-0.5, 0.5, 12, math.nan, 1, ref_fixed=True)
    assert one.seeds == math.ceil(TTestPower().solve_power(1.0, alpha=0.05, power=0.8)) == 10
    assert "12 trained: enough" in one.note
    pooled = stats.seeds_needed(0.3, 0.3, 2, 0.5, 2)  # pooled sd sqrt((0.09 + 0.25) / 2)
    effect = 0.3 / math.sqrt(0.17)
    assert pooled.seeds == math.ceil(TTestIndPower().solve_power(effect, alpha=0.05, power=0.8))


def test_seeds_needed_says_when_it_cannot_say():
    single = stats.seeds_needed(0.4, math.nan, 1, 0.2, 3)
    assert math.isnan(single.seeds) and "cannot be estimated" in single.note
    assert math.isinf(stats.seeds_needed(0.0, 0.2, 3, 0.2, 3).seeds)
    assert stats.seeds_needed(50.0, 0.1, 3, 0.1, 3).seeds == 2  # statsmodels' root finder fails here
    assert stats.seeds_needed(1.0, 0.0, 3, 0.0, 3).seeds == 2
    tiny = stats.seeds_needed(0.001, 1.0, 3, 1.0, 3)
    assert math.isinf(tiny.seeds) and "more than 1,000" in tiny.note


# --------------------------------------------------------------------------------------------- convergence


def test_the_trend_interval_agrees_with_statsmodels_ols():
    rng = np.random.default_rng(7)
    iterations = np.repeat(np.arange(0, 10_000, 500), 2)  # 20 evaluations, 2 seeds
    psnr = 20 + 1e-4 * iterations + rng.normal(0, 0.2, size=iterations.size)
    fit = stats.trend(iterations, psnr)
    window = iterations >= 7000  # the last 30 % of 20 evaluations: 6 of them
    assert (fit.first, fit.last, fit.points) == (7000, 9500, 12)
    ols = sm.OLS(psnr[window], sm.add_constant(iterations[window].astype(float))).fit()
    low, high = ols.conf_int(0.05)[1]
    assert (fit.slope, fit.low, fit.high) == pytest.approx((ols.params[1], low, high))


@pytest.mark.parametrize(("slope", "verdict"), [(1e-3, "still improving"), (0.0, "plateaued"),
                                                (-1e-3, "getting worse")])
def test_the_convergence_verdict(slope, verdict):
    x = np.arange(0, 2000, 100, dtype=float)
    noise = np.tile([0.01, -0.01], 10)
    assert stats.trend(x, 20 + slope * x + noise).verdict == verdict


def test_too_few_evaluations():
    assert stats.trend(np.array([0.0, 100.0, 0.0, 100.0]), np.array([1.0, 2.0, 1.0, 2.0])).verdict == \
        "too few evaluations"
    assert stats.trend(np.array([0.0, 50.0, 100.0]), np.array([1.0, 2.0, 3.0])).verdict == "still improving"
