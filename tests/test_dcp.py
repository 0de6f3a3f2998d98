"""DCP and identity: recovery on a scene synthesised with the haze model, batch independence, edge cases."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from baselines.dcp import (
    DarkChannelPrior,
    box_mean,
    effective_radius,
    estimate_airlight,
    estimate_transmission,
    min_filter,
)
from baselines.identity import Identity
from cddgan.errors import ConfigError
from cddgan.methods import method_class

AIRLIGHT = (0.85, 0.9, 0.95)


def hazy_scene(seed: int = 0, size: int = 96) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A textured clear image J (random 3x3-px colour blocks), three constant-depth regions, known A and t."""
    gen = torch.Generator().manual_seed(seed)
    clear = F.interpolate(torch.rand(1, 3, size // 3, size // 3, generator=gen), scale_factor=3, mode="nearest")
    trans = torch.full((1, 1, size, size), 0.8)
    trans[..., size // 2 :] = 0.5
    trans[..., : size // 4, :] = 0.05  # far away: the "sky" where the airlight shows
    airlight = torch.tensor(AIRLIGHT).view(1, 3, 1, 1)
    return clear * trans + airlight * (1 - trans), clear, trans


def psnr(x: torch.Tensor, y: torch.Tensor) -> float:
    return float(-10 * torch.log10(((x - y) ** 2).mean()))


@pytest.mark.parametrize("mode", ["brightest", "mean"])
def test_airlight_is_recovered(mode: str) -> None:
    hazy, _, _ = hazy_scene()
    estimate = estimate_airlight(hazy, 15, 0.001, mode).flatten()
    assert torch.allclose(estimate, torch.tensor(AIRLIGHT), atol=0.05), estimate


def test_raw_transmission_matches_truth_inside_regions() -> None:
    hazy, _, trans = hazy_scene()
    estimate = estimate_transmission(hazy, torch.tensor(AIRLIGHT).view(1, 3, 1, 1), 15, 0.95)
    # Inside a constant-t region (> patch/2 px from its edges) dark(I/A) = 1 - t + t * dark(J/A), so
    # t~ = t + 0.05 (1 - t) - 0.95 t dark(J/A): never above that bound, and below it only by the texture's
    # darkest value per 15x15 window (75 random colour values: a few hundredths at most).
    expected = trans + 0.05 * (1 - trans)
    for rows, cols in ((slice(40, 88), slice(8, 40)), (slice(40, 88), slice(56, 88))):
        gap = expected[..., rows, cols] - estimate[..., rows, cols]
        assert gap.min() > -1e-5
        assert gap.max() < 0.06


@pytest.mark.parametrize("refine", [True, False])
def test_dehazing_brings_the_image_closer_to_the_clear_one(refine: bool) -> None:
    hazy, clear, _ = hazy_scene()
    out = DarkChannelPrior({"refine": refine}).dehaze(hazy)
    assert out.shape == hazy.shape
    assert psnr(out, clear) > psnr(hazy, clear) + 1.5


def test_batch_elements_are_independent() -> None:
    scenes = torch.cat([hazy_scene(seed)[0] for seed in range(3)])
    scenes[1] = scenes[1] * 0.5  # a darker scene, so its airlight differs from the others
    method = DarkChannelPrior()
    batched = method.dehaze(scenes)
    single = torch.cat([method.dehaze(scenes[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(batched, single, atol=1e-6, rtol=0)


def test_output_in_range_and_flat_images_give_no_nan() -> None:
    method = DarkChannelPrior()
    noisy = torch.rand(2, 3, 40, 56, generator=torch.Generator().manual_seed(1))
    for image in (noisy, torch.ones(1, 3, 32, 32), torch.zeros(1, 3, 32, 32), torch.full((1, 3, 20, 20), 0.3)):
        out = method.dehaze(image)
        assert torch.isfinite(out).all()
        assert out.min() >= 0 and out.max() <= 1
    # White stays white and black stays black: there is nothing to remove from them.
    assert torch.equal(method.dehaze(torch.ones(1, 3, 32, 32)), torch.ones(1, 3, 32, 32))
    assert torch.equal(method.dehaze(torch.zeros(1, 3, 32, 32)), torch.zeros(1, 3, 32, 32))


def test_min_filter_against_explicit_windows() -> None:
    x = torch.rand(1, 1, 9, 11, generator=torch.Generator().manual_seed(2))
    out = min_filter(x, 5)
    for i in range(9):
        for j in range(11):
            window = x[0, 0, max(0, i - 2) : i + 3, max(0, j - 2) : j + 3]
            assert out[0, 0, i, j] == window.min()


@pytest.mark.parametrize("radius", [1, 4, 12])
def test_box_mean_against_explicit_windows(radius: int) -> None:
    x = torch.rand(2, 1, 13, 17, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    out = box_mean(x, radius)
    for i in (0, 5, 12):
        for j in (0, 8, 16):
            window = x[:, 0, max(0, i - radius) : i + radius + 1, max(0, j - radius) : j + radius + 1]
            torch.testing.assert_close(out[:, 0, i, j], window.mean(dim=(1, 2)))


def test_radius_is_clipped_only_for_small_images() -> None:
    assert effective_radius(40, 600, 400) == 40
    assert effective_radius(40, 160, 900) == 40
    assert effective_radius(40, 64, 64) == 16
    assert effective_radius(40, 3, 3) == 1


@pytest.mark.parametrize(
    "settings", [{"patch": 14}, {"patch": 0}, {"omega": 1.5}, {"t0": 0}, {"airlight": "max"}, {"eps": -1}]
)
def test_bad_settings_name_the_key(settings: dict) -> None:
    with pytest.raises(ConfigError, match=next(iter(settings))):
        DarkChannelPrior(settings)


def test_registry_and_identity() -> None:
    assert method_class("dcp") is DarkChannelPrior
    assert method_class("identity") is Identity
    hazy = torch.rand(2, 3, 8, 8)
    assert torch.equal(Identity().dehaze(hazy), hazy)
