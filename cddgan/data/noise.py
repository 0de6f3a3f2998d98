"""Value noise for the procedural scenes: fractal 2-D noise (textures, clouds, haze density), 1-D noise
(mountain silhouettes) and noise at perspective coordinates (ground textures).

Every function draws from the `rng` it is given, in a fixed order, so a scene's stream decides its noise.
"""

from __future__ import annotations

import numpy as np


def _smoothstep(f: np.ndarray) -> np.ndarray:
    return f * f * (3.0 - 2.0 * f)


def _lerp_matrix(n: int, cells: float, rng: np.random.Generator) -> np.ndarray:
    """(n, m) matrix that interpolates m lattice values onto n pixel centres with a smoothstep kernel.

    Value noise on a lattice is separable, so a whole 2-D octave is ``My @ grid @ Mx.T``: two small matrix
    products instead of a per-pixel loop.
    """
    pos = (np.arange(n) + 0.5) / n * cells + rng.uniform(0.0, 1.0)
    i0 = np.floor(pos).astype(np.int64)
    s = _smoothstep(pos - i0).astype(np.float32)
    mat = np.zeros((n, int(i0.max()) + 2), np.float32)
    rows = np.arange(n)
    mat[rows, i0] = 1.0 - s
    mat[rows, i0 + 1] = s
    return mat


def fractal_noise(
    rng: np.random.Generator,
    height: int,
    width: int,
    cells: tuple[float, float] = (4.0, 4.0),
    octaves: int = 4,
    persistence: float = 0.5,
) -> np.ndarray:
    """Multi-octave value noise, HxW float32 with values in [-1, 1] (typical std about 0.3).

    `cells` is the lattice size of the first octave along (y, x); each octave doubles it.
    """
    total = np.zeros((height, width), np.float32)
    amp, norm = 1.0, 0.0
    for octave in range(octaves):
        scale = 2.0**octave
        my = _lerp_matrix(height, cells[0] * scale, rng)
        mx = _lerp_matrix(width, cells[1] * scale, rng)
        grid = rng.uniform(-1.0, 1.0, (my.shape[1], mx.shape[1])).astype(np.float32)
        total += amp * (my @ grid @ mx.T)
        norm += amp
        amp *= persistence
    return total / norm


def fractal_noise_1d(
    rng: np.random.Generator, n: int, cells: float = 4.0, octaves: int = 5, persistence: float = 0.5
) -> np.ndarray:
    """Multi-octave 1-D value noise of length n in [-1, 1]: mountain silhouettes."""
    total = np.zeros(n, np.float32)
    amp, norm = 1.0, 0.0
    for octave in range(octaves):
        mat = _lerp_matrix(n, cells * 2.0**octave, rng)
        total += amp * (mat @ rng.uniform(-1.0, 1.0, mat.shape[1]).astype(np.float32))
        norm += amp
        amp *= persistence
    return total / norm


def noise_at(
    rng: np.random.Generator, u: np.ndarray, v: np.ndarray, octaves: int = 4, persistence: float = 0.5
) -> np.ndarray:
    """Value noise at lattice coordinates u (HxW) and v (Hx1, one value per row): perspective ground textures.

    Because v is constant along a row, each octave interpolates whole lattice rows first and then gathers
    once along u. The lattice is periodic (64 cells); the repeat is far below the haze and never visible.
    """
    period = 64
    total = np.zeros(u.shape, np.float32)
    rows = np.arange(u.shape[0])[:, None]
    amp, norm = 1.0, 0.0
    for octave in range(octaves):
        grid = rng.uniform(-1.0, 1.0, (period, period)).astype(np.float32)
        scale = 2.0**octave
        uu = u * scale + rng.uniform(0.0, period)
        vv = v * scale + rng.uniform(0.0, period)
        iv = np.floor(vv)
        fv = _smoothstep(vv - iv)
        iv = iv.astype(np.int64) % period
        lattice = grid[iv[:, 0]] * (1.0 - fv) + grid[(iv[:, 0] + 1) % period] * fv  # (H, period)
        iu = np.floor(uu)
        fu = _smoothstep(uu - iu)
        iu = iu.astype(np.int64) % period
        total += amp * (lattice[rows, iu] * (1.0 - fu) + lattice[rows, (iu + 1) % period] * fu)
        norm += amp
        amp *= persistence
    return total / norm


def stretch(noise: np.ndarray) -> np.ndarray:
    """Rescale an array affinely to span exactly [-1, 1] (a constant array becomes zeros)."""
    lo, hi = float(noise.min()), float(noise.max())
    if hi - lo < 1e-12:
        return np.zeros_like(noise)
    return (2.0 * (noise - lo) / (hi - lo) - 1.0).astype(noise.dtype)
