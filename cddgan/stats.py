"""The statistics behind every interval, test and verdict of the report: pure functions of arrays.

numpy draws the resamples, scipy.stats runs the tests and the t distribution, statsmodels corrects for
multiplicity and solves for power; nothing here knows about runs, files or tables (`cddgan.report.comparisons`
feeds it). docs/statistics.md explains each number a reader sees, and why it is computed this way.

Scores have two levels of variation: training seeds, and test images. A score matrix is
`values[seed, image]` (NaN where an image has no score); its point estimate is the mean over seeds of the
per-seed means over images, the number the tables print. Every seed is scored on the same test images
(seeds and images are crossed, not nested), which decides how the bootstrap draws images: once per
resample for all its seeds (`bootstrap_means`).
"""

from __future__ import annotations

import gc
import hashlib
import math
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestIndPower, TTestPower

ALPHA = 0.05
LEVEL = 0.95
RESAMPLES = 2000
POWER = 0.8
MAX_SEEDS = 1000  # beyond this, "more than 1,000 seeds" says all there is to say
CONVERGENCE_TAIL = 0.3  # the last 30 % of the evaluations decide the convergence verdict
MIN_EVALUATIONS = 3
_MAX_CELLS = 4_000_000  # resampled values held at once (32 MB of float64)


def rng_for(key: str) -> np.random.Generator:
    """A numpy Generator seeded from a stable hash (SHA-256) of `key`, e.g. "experiment/dataset/run/metric":
    the same results give the same interval in every process and on every machine."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _matrix(values: np.ndarray) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.size == 0:
        raise ValueError(f"expected a non-empty (seeds, images) matrix, got shape {x.shape}")
    return np.where(np.isfinite(x), x, np.nan)


def two_level_mean(values: np.ndarray) -> float:
    """The mean over seeds of the per-seed means over images (NaN entries left out)."""
    x = _matrix(values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a seed without any score
        return float(np.nanmean(np.nanmean(x, axis=1)))


def bootstrap_means(values: np.ndarray, rng: np.random.Generator, resamples: int = RESAMPLES) -> np.ndarray:
    """Hierarchical bootstrap of the two-level mean: each resample draws the seeds with replacement and the
    test images with replacement, and takes the mean over the drawn seeds of each one's mean over the drawn
    images. Vectorised in chunks of at most a few million values; returns `resamples` means.

    The images are drawn once per resample and shared by its drawn seeds, because every seed is scored on
    the same test images: an image that is hard for one seed is hard for all, and drawing images afresh for
    each seed (the nested scheme, right when each seed has images of its own) would average that shared
    difficulty away and make the interval too narrow (docs/statistics.md shows by how much). With one seed
    the seed level is constant and this is the ordinary bootstrap over images."""
    x = _matrix(values)
    seeds, images = x.shape
    flat = x.ravel()
    missing = bool(np.isnan(flat).any())
    out = np.empty(resamples)
    chunk = max(1, _MAX_CELLS // (seeds * images))
    for start in range(0, resamples, chunk):
        count = min(chunk, resamples - start)
        drawn_seeds = rng.integers(0, seeds, size=(count, seeds, 1))
        drawn_images = rng.integers(0, images, size=(count, 1, images))
        drawn = flat[drawn_seeds * images + drawn_images]  # (count, seeds, images)
        if missing:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a resample that drew only missing images
                out[start : start + count] = np.nanmean(np.nanmean(drawn, axis=2), axis=1)
        else:
            out[start : start + count] = drawn.mean(axis=(1, 2))
    return out


def percentile_interval(draws: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The percentile interval of bootstrap draws (NaN draws left out)."""
    finite = draws[np.isfinite(draws)]
    if finite.size == 0:
        return math.nan, math.nan
    tail = (1 - level) / 2
    low, high = np.quantile(finite, [tail, 1 - tail])
    return float(low), float(high)


def mean_interval(values: np.ndarray, key: str, resamples: int = RESAMPLES) -> tuple[float, float]:
    """The 95 % hierarchical-bootstrap percentile interval of the two-level mean, seeded by `key`."""
    return percentile_interval(bootstrap_means(values, rng_for(key), resamples))


def wilcoxon_p(differences: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank test (Wilcoxon 1945; scipy.stats.wilcoxon, its defaults: exact for up to
    50 non-zero differences without ties, else the normal approximation; zero differences dropped) of the
    per-image differences. 1.0 when every difference is zero (no evidence of any difference); NaN without data."""
    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return math.nan
    if not np.any(d != 0):
        return 1.0
    return float(scipy.stats.wilcoxon(d).pvalue)


def holm(p_values: np.ndarray, alpha: float = ALPHA) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979; statsmodels' multipletests); NaN stays NaN and is not
    counted in the family."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    if finite.any():
        # statsmodels' Holm branch ends with gc.collect(), which walks every object of the process (0.05-0.1 s
        # a call in an aggregate job or a test run); frozen objects are skipped, so only this call's are seen.
        gc.freeze()
        try:
            out[finite] = multipletests(p[finite], alpha=alpha, method="holm")[1]
        finally:
            gc.unfreeze()
    return out


def probability_of_improvement(differences: np.ndarray, higher_is_better: bool | None) -> float:
    """The chance that a random (seed, image) pair is better under the first run than under the second, ties
    counting half, in the metric's direction (as rliable reports for RL benchmarks, Agarwal et al., NeurIPS
    2021, here on paired scores). NaN for a metric whose direction is unknown."""
    d = np.asarray(differences, dtype=float).ravel()
    d = d[np.isfinite(d)]
    if higher_is_better is None or d.size == 0:
        return math.nan
    if not higher_is_better:
        d = -d
    return float(np.mean(d > 0) + 0.5 * np.mean(d == 0))


@dataclass(frozen=True)
class SeedsNeeded:
    """How many seeds per run would detect a difference: `seeds` (NaN when it cannot be estimated, inf when
    there is nothing to detect or more than `MAX_SEEDS` would be needed) and a sentence saying so."""

    seeds: float
    note: str


def seeds_needed(
    difference: float, spread_run: float, seeds_run: int, spread_ref: float, seeds_ref: int,
    ref_fixed: bool = False, alpha: float = ALPHA, power: float = POWER,
) -> SeedsNeeded:
    """Seeds per run that detect `difference` (between run means) with `power` at two-sided `alpha`, given the
    observed seed-to-seed standard deviations of the per-seed means.

    Two trained runs: a two-sample t-test (statsmodels' TTestIndPower) with Cohen's d = |difference| / pooled
    standard deviation sqrt((sd_run² + sd_ref²) / 2). A fixed reference (training-free, one deterministic
    score): a one-sample t-test of the run's seeds against it (TTestPower), d = |difference| / sd_run. A
    trained run with one seed has no spread to go by: that is said instead of a number."""
    if not math.isfinite(difference):
        return SeedsNeeded(math.nan, "no difference to compare")
    if seeds_run < 2 or (not ref_fixed and seeds_ref < 2):
        return SeedsNeeded(math.nan, "one seed: the seed-to-seed spread cannot be estimated, so neither can "
                                     "the seeds needed; train at least 2 (better 3 or more)")
    spread = spread_run if ref_fixed else math.sqrt((spread_run**2 + spread_ref**2) / 2)
    if difference == 0:
        return SeedsNeeded(math.inf, "no difference to detect")
    have = min(seeds_run, seeds_run if ref_fixed else seeds_ref)
    rough = f"; spread from {have} seeds, a rough guide" if have < 5 else ""
    if not math.isfinite(spread) or spread == 0:
        return SeedsNeeded(2.0, f"the seeds agree exactly{rough}")
    effect = abs(difference) / spread
    seeds = _smallest_n(effect, ref_fixed, alpha, power)
    if not math.isfinite(seeds):
        return SeedsNeeded(math.inf, f"more than {MAX_SEEDS:,} seeds{rough}")
    verdict = "enough" if have >= seeds else "too few to conclude"
    unit = "seeds of the trained run" if ref_fixed else "seeds per run"
    return SeedsNeeded(seeds, f"{unit}; {have} trained: {verdict}{rough}")


def _smallest_n(effect: float, one_sample: bool, alpha: float, power: float) -> float:
    """The smallest n in 2..MAX_SEEDS whose t-test power (statsmodels) reaches `power`, inf if none does.

    Power is evaluated on every candidate rather than solved for (statsmodels' root finder fails for large
    effects), as the upper rejection region of the two-sided test (alternative "larger" at alpha / 2): where
    the power reaches 80 % the lower region adds under 1e-6 (the same n as the two-sided power wherever
    statsmodels evaluates both), and its far noncentral-t tail is where scipy returns NaN."""
    candidates = np.arange(2, MAX_SEEDS + 1)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if one_sample:
            powers = TTestPower().power(effect_size=effect, nobs=candidates, alpha=alpha / 2, alternative="larger")
        else:
            powers = TTestIndPower().power(effect_size=effect, nobs1=candidates, alpha=alpha / 2, ratio=1.0,
                                           alternative="larger")
    reached = np.flatnonzero(np.asarray(powers) >= power)
    return float(candidates[reached[0]]) if reached.size else math.inf


@dataclass(frozen=True)
class Trend:
    """OLS slope of a metric on the iteration, its 95 % interval, the points used, and the verdict."""

    slope: float
    low: float
    high: float
    points: int
    first: float  # the window's first and last iteration
    last: float
    verdict: str


def trend(iterations: np.ndarray, values: np.ndarray) -> Trend:
    """The convergence verdict from the last part of a validation curve (every seed's points together).

    The window is the last `CONVERGENCE_TAIL` (30 %) of the distinct evaluated iterations, at least
    `MIN_EVALUATIONS` (3) of them; scipy.stats.linregress fits value = a + b * iteration over the window's
    points, and b ± t(0.975, n - 2) * stderr is its 95 % interval: "still improving" when the interval lies
    above 0, "getting worse" below, "plateaued" when it contains 0; "too few evaluations" with fewer than 3."""
    x = np.asarray(iterations, dtype=float)
    y = np.asarray(values, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    distinct = np.unique(x)
    if distinct.size < MIN_EVALUATIONS:
        return Trend(math.nan, math.nan, math.nan, int(x.size), math.nan, math.nan, "too few evaluations")
    tail = min(distinct.size, max(MIN_EVALUATIONS, math.ceil(CONVERGENCE_TAIL * distinct.size)))
    window = distinct[-tail:]
    inside = x >= window[0]
    x, y = x[inside], y[inside]
    fit = scipy.stats.linregress(x, y)
    half = float(scipy.stats.t.ppf(0.5 + LEVEL / 2, x.size - 2) * fit.stderr)
    low, high = fit.slope - half, fit.slope + half
    verdict = "still improving" if low > 0 else "getting worse" if high < 0 else "plateaued"
    return Trend(float(fit.slope), float(low), float(high), int(x.size), float(window[0]), float(window[-1]),
                 verdict)
