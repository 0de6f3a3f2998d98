"""Unpaired sampling: reproducible from the seed, resumable from its state, independent of decoding threads;
`training.preprocess` by name."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cddgan.data.manifest import read_manifest
from cddgan.data.synthetic import make_synthetic
from cddgan.data.unpaired import DEFAULT_PREPROCESS, PREPROCESS, ImageSource, UnpairedSampler, loaded_size
from cddgan.errors import ConfigError, ImageError
from cddgan.io import read_image


def sampler(manifest, **kwargs):
    options = {"crop": 16, "batch_size": 2, "seed": 5, "cache": False, **kwargs}
    return UnpairedSampler(read_manifest(manifest), **options)


def test_batches_are_in_range_with_the_crop_shape(tiny_synthetic):
    hazy, clear = sampler(tiny_synthetic).next()
    assert hazy.shape == clear.shape == (2, 3, 16, 16)
    assert float(hazy.min()) >= -1 and float(hazy.max()) <= 1
    assert not torch.equal(hazy, clear)


def test_same_seed_same_batches_and_decoding_threads_change_nothing(tiny_synthetic):
    plain, threaded, cached = (
        sampler(tiny_synthetic),
        sampler(tiny_synthetic, workers=3),
        sampler(tiny_synthetic, cache=True),
    )
    for _ in range(4):
        a, b, c = plain.next(), threaded.next(), cached.next()
        assert all(torch.equal(x, y) and torch.equal(x, z) for x, y, z in zip(a, b, c, strict=True))
    other = sampler(tiny_synthetic, seed=6).next()
    assert not torch.equal(other[0], plain.next()[0])


def test_state_round_trip_resumes_the_stream(tiny_synthetic):
    first = sampler(tiny_synthetic)
    first.next()
    state = first.state_dict()
    expected = first.next()
    second = sampler(tiny_synthetic, seed=99)
    second.load_state_dict(state)
    got = second.next()
    assert all(torch.equal(x, y) for x, y in zip(expected, got, strict=True))


# ---------------------------------------------------------------- training.preprocess


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    """Training images of 40 x 52 (height x width): the choices differ only on non-square images."""
    params = {"seed": 4, "size": [40, 52], "n_train_clear": 3, "n_train_hazy": 3, "n_test": 0, "n_val": 0}
    return make_synthetic("wide", params, tmp_path_factory.mktemp("wide"))


def source(manifest, **kwargs):
    paths = read_manifest(manifest).query("split == 'train' and domain == 'hazy'")["path"].tolist()
    options = {"load_size": None, "crop": 24, "cache": False, **kwargs}
    return ImageSource(paths, **options), paths


def test_the_default_choice_is_the_scaling_it_always_was(wide):
    default, paths = source(wide, load_size=48)
    named, _ = source(wide, load_size=48, preprocess="scale_shortside_and_crop")
    for index, path in enumerate(paths):
        # the code before `preprocess` existed, verbatim
        image = torch.from_numpy(np.rint(read_image(path) * 255.0).astype(np.uint8)).permute(2, 0, 1)
        h, w = image.shape[1:]
        scale = 48 / min(h, w)
        size = (max(48, round(h * scale)), max(48, round(w * scale)))
        before = F.interpolate(image[None].float(), size=size, mode="bicubic", align_corners=False)
        before = before.clamp(0, 255).round().to(torch.uint8)[0]
        assert torch.equal(default.get(index), before) and torch.equal(named.get(index), before)
        assert tuple(before.shape[1:]) == (48, 62)
    a, b = sampler(wide, crop=24, load_size=48), sampler(wide, crop=24, load_size=48, preprocess=DEFAULT_PREPROCESS)
    for _ in range(3):
        assert all(torch.equal(x, y) for x, y in zip(a.next(), b.next(), strict=True))


@pytest.mark.parametrize(
    ("preprocess", "shape"),
    [("scale_shortside_and_crop", (48, 62)), ("resize_and_crop", (48, 48)), ("scale_width_and_crop", (36, 48)),
     ("crop", (40, 52))],
)  # fmt: skip
def test_each_choice_resizes_as_named(wide, preprocess, shape):
    images, _ = source(wide, load_size=48, preprocess=preprocess)
    assert tuple(images.get(0).shape) == (3, *shape)
    batch = sampler(wide, crop=24, load_size=48, preprocess=preprocess).next()
    assert batch[0].shape == (2, 3, 24, 24)


def test_scale_width_keeps_at_least_the_crop_in_height(wide):
    images, _ = source(wide, load_size=26, crop=24, preprocess="scale_width_and_crop")
    assert tuple(images.get(0).shape[1:]) == (24, 26)  # 26 * 40 / 52 = 20 px, raised to the crop as the reference does
    assert loaded_size(40, 26, 26, 24, "scale_width_and_crop") == (40, 26)  # width already right: untouched


def test_resize_and_crop_resamples_like_pil_bicubic(wide):
    from PIL import Image

    images, paths = source(wide, load_size=32, preprocess="resize_and_crop")
    ours = images.get(0).permute(1, 2, 0).numpy().astype(np.int16)
    with Image.open(paths[0]) as img:
        reference = np.asarray(img.convert("RGB").resize((32, 32), Image.Resampling.BICUBIC), dtype=np.int16)
    assert np.abs(ours - reference).max() <= 2


def test_without_load_size_every_choice_only_crops(wide):
    batches = [sampler(wide, crop=24, preprocess=p) for p in PREPROCESS]
    for _ in range(3):
        first, *others = (s.next() for s in batches)
        for other in others:
            assert all(torch.equal(x, y) for x, y in zip(first, other, strict=True))


def test_the_size_check_follows_the_choice(wide):
    # 40 x 52 images and a 48 px crop: too small unless the choice resizes them
    with pytest.raises(ImageError, match=r"3 of 3 hazy training images are smaller than the crop 48.*preprocess"):
        sampler(wide, crop=48, load_size=64, preprocess="crop")
    for preprocess in ("scale_shortside_and_crop", "resize_and_crop", "scale_width_and_crop"):
        assert sampler(wide, crop=48, load_size=64, preprocess=preprocess).next()[0].shape == (2, 3, 48, 48)
    with pytest.raises(ConfigError, match=r"training\.load_size: 32 is smaller than training\.crop 48"):
        sampler(wide, crop=48, load_size=32, preprocess="resize_and_crop")
    with pytest.raises(ConfigError, match=r"training\.preprocess: expected one of"):
        sampler(wide, crop=24, preprocess="resize")


def test_the_cache_estimate_follows_the_choice(wide):
    paths = read_manifest(wide).query("split == 'train'")["path"].tolist()
    estimate = UnpairedSampler._estimate_bytes
    assert estimate(paths, None) == estimate(paths, 64, 24, "crop") == 6 * 40 * 52 * 3
    assert estimate(paths, 64, 24, "resize_and_crop") == 6 * 64 * 64 * 3
    assert estimate(paths, 64, 24, "scale_width_and_crop") == 6 * 49 * 64 * 3
