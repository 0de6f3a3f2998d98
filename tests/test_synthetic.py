"""The synthetic haze benchmark: determinism, layout, the scattering model, depth and config errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import minimum_filter

from cddgan.config.datasets import expand_shifts
from cddgan.data.manifest import counts, read_manifest, sidecar_path, val_pairs
from cddgan.data.manifest import test_pairs as pairs_of
from cddgan.data.scenes import render_scene
from cddgan.data.synthetic import (
    DEFAULTS,
    add_haze,
    image_rngs,
    jpeg_roundtrip,
    knob_rng,
    make_synthetic,
    validate_params,
)
from cddgan.errors import ConfigError, DatasetError
from cddgan.io import read_image

REPO = Path(__file__).resolve().parents[1]

SMALL = {
    "seed": 7,
    "size": [32, 40],
    "n_train_clear": 3,
    "n_train_hazy": 3,
    "n_test": 2,
    "n_val": 2,
    "beta": [0.9, 1.4],
    "airlight": [0.75, 0.95],
    "depth_range": [0.1, 2.0],
}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synthetic("syn", SMALL, tmp_path_factory.mktemp("syn") / "data")


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def read_depth(path: str, scale: float) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img).astype(np.float64) / scale


def test_same_seed_gives_identical_files(small: Path, tmp_path: Path) -> None:
    again = make_synthetic("syn", SMALL, tmp_path / "again")
    first, second = files_under(small.parent), files_under(again.parent)
    assert sorted(first) == sorted(second)
    assert len(first) == 3 + 3 + 2 * 3 + 2 * 3 + 2  # train, test and val images and depth maps, manifest.csv, .json
    for name in first:
        assert first[name] == second[name], name


def test_different_seed_changes_every_image(small: Path, tmp_path: Path) -> None:
    other = make_synthetic("syn", {**SMALL, "seed": 8}, tmp_path / "other")
    first, second = files_under(small.parent), files_under(other.parent)
    images = [n for n in first if n.endswith(".png")]
    assert images
    for name in images:
        assert first[name] != second[name], name


def test_changing_n_test_keeps_training_images(small: Path, tmp_path: Path) -> None:
    fewer = make_synthetic("syn", {**SMALL, "n_test": 1}, tmp_path / "fewer")
    first, second = files_under(small.parent), files_under(fewer.parent)
    shared = [n for n in second if n.startswith(("train", "test")) and n.endswith(".png")]
    assert any(n.startswith("train") for n in shared) and "test/hazy/test_00000.png" in shared
    for name in shared:
        assert first[name] == second[name], name


def test_regenerating_smaller_removes_stale_files(tmp_path: Path) -> None:
    params = {**SMALL, "size": 16, "n_test": 2}
    make_synthetic("syn", params, tmp_path)
    assert (tmp_path / "test" / "hazy" / "test_00001.png").is_file()
    manifest = make_synthetic("syn", {**params, "n_test": 1}, tmp_path)
    assert not (tmp_path / "test" / "hazy" / "test_00001.png").exists()
    assert not (tmp_path / "test" / "depth" / "test_00001.png").exists()
    assert counts(read_manifest(manifest))["test/hazy"] == 1


def test_manifest_counts_layout_and_pairs(small: Path) -> None:
    frame = read_manifest(small)
    assert counts(frame) == {
        "train/hazy": 3, "train/clear": 3, "test/hazy": 2, "test/clear": 2, "val/hazy": 2, "val/clear": 2
    }  # fmt: skip
    assert set(frame["dataset"]) == {"syn"}
    for _, row in frame.iterrows():
        path = Path(row["path"])
        assert path.is_file()
        assert path.parent == small.parent / row["split"] / row["domain"]
        assert read_image(path).shape == (32, 40, 3)
    train, test = frame[frame["split"] == "train"], frame[frame["split"] == "test"]
    assert set(train["pair_id"]) == {""}
    hazy_pairs = set(test.loc[test["domain"] == "hazy", "pair_id"])
    clear_pairs = set(test.loc[test["domain"] == "clear", "pair_id"])
    assert hazy_pairs == clear_pairs == set(test["scene_id"])
    assert len(hazy_pairs) == 2
    hazy = frame[frame["domain"] == "hazy"]
    clear = frame[frame["domain"] == "clear"]
    assert (hazy["beta"] != "").all() and (hazy["airlight"] != "").all()
    assert (clear["beta"] == "").all() and (clear["airlight"] == "").all()
    meta = json.loads(sidecar_path(small).read_text())
    assert meta["adapter"] == "synthetic" and meta["layout"] == "generated"
    assert meta["params"]["seed"] == 7 and meta["params"]["size"] == [32, 40]
    assert meta["counts"]["train/clear"] == 3


def test_scene_sets_are_disjoint(small: Path) -> None:
    frame = read_manifest(small)
    train_clear = set(frame.query("split == 'train' and domain == 'clear'")["scene_id"])
    train_hazy = set(frame.query("split == 'train' and domain == 'hazy'")["scene_id"])
    test = set(frame.query("split == 'test'")["scene_id"])
    assert len(train_clear) == 3 and len(train_hazy) == 3 and len(test) == 2
    assert not (train_clear & train_hazy) and not (train_clear & test) and not (train_hazy & test)
    # Not only the names: no training clear image shows a test scene.
    test_images = [read_image(p) for p in frame.query("split == 'test' and domain == 'clear'")["path"]]
    for path in frame.query("split == 'train' and domain == 'clear'")["path"]:
        image = read_image(path)
        assert all(np.abs(image - other).mean() > 0.02 for other in test_images)


def test_saved_test_pairs_follow_the_scattering_model(small: Path) -> None:
    frame = read_manifest(small)
    scale = json.loads(sidecar_path(small).read_text())["depth_scale"]
    test = frame[frame["split"] == "test"]
    clear_by_pair = test[test["domain"] == "clear"].set_index("pair_id")
    for _, row in test[test["domain"] == "hazy"].iterrows():
        clear = read_image(clear_by_pair.loc[row["pair_id"], "path"]).astype(np.float64)
        depth = read_depth(row["depth"], scale)
        beta, airlight = float(row["beta"]), float(row["airlight"])
        t = np.exp(-beta * depth)[..., None]
        expected = clear * t + airlight * (1.0 - t)
        hazy = read_image(row["path"]).astype(np.float64)
        # The clear image and the hazy one were each rounded to 8 bits: at most half a level each.
        assert np.abs(hazy - expected).max() <= 1.0 / 255.0 + 1e-6
        # And the haze is real: far pixels moved towards the airlight.
        assert np.abs(hazy - clear).max() > 0.1


def test_haze_parameters_lie_in_their_ranges(small: Path) -> None:
    frame = read_manifest(small)
    hazy = frame[frame["domain"] == "hazy"]
    betas, airlights = hazy["beta"].astype(float), hazy["airlight"].astype(float)
    assert betas.between(0.9, 1.4).all() and airlights.between(0.75, 0.95).all()
    assert betas.nunique() == len(hazy) and airlights.nunique() == len(hazy)


def test_saved_depth_is_within_range_and_sky_is_farthest(small: Path) -> None:
    frame = read_manifest(small)
    scale = json.loads(sidecar_path(small).read_text())["depth_scale"]
    quantum = 1.0 / scale
    for path in frame.loc[frame["domain"] == "hazy", "depth"]:
        if not path:
            continue
        depth = read_depth(path, scale)
        assert depth.shape == (32, 40)
        assert depth.min() >= 0.1 - quantum and depth.max() <= 2.0 + quantum
        sky = np.abs(depth - 2.0) <= quantum
        assert sky.any() and not sky[-1].any()  # sky exists and never reaches the bottom row
        assert sky[0].mean() > 0.3  # the top row is mostly sky


@pytest.mark.parametrize("seed", range(6))
def test_render_scene_depth_and_colour(seed: int) -> None:
    rng, _ = image_rngs(seed, "test", 0)
    clear, depth = render_scene(rng, 24, 36, depth_range=(0.1, 2.0))
    assert clear.shape == (24, 36, 3) and depth.shape == (24, 36)
    assert clear.dtype == np.float32 and depth.dtype == np.float32
    assert clear.min() >= 0.0 and clear.max() <= 1.0
    assert depth.min() >= 0.1 and depth.max() == np.float32(2.0)
    sky = depth == np.float32(2.0)  # the sky sits exactly at the far limit; everything else is nearer
    assert 0.05 < sky.mean() < 0.8
    rows = np.broadcast_to(np.arange(24)[:, None], sky.shape)
    assert rows[sky].mean() < rows[~sky].mean()  # the sky is above the land
    assert sky[0].mean() > 0.3 and not sky[-1].any()
    assert depth[-1].mean() < 0.5 * depth[0].mean()  # the ground comes near at the bottom


def test_scenes_are_varied_and_keep_a_dark_channel() -> None:
    """Outside the sky, real outdoor images have dark pixels in every 15x15 patch (He et al.'s prior)."""
    medians, means = [], []
    for seed in range(8):
        rng, _ = image_rngs(seed, "train_clear", 0)
        clear, depth = render_scene(rng, 64, 64)
        dark = minimum_filter(clear.min(axis=2), size=15)
        medians.append(np.median(dark[depth < 0.9]))
        means.append(clear.mean(axis=(0, 1)))
    assert np.median(medians) < 0.25
    assert np.std(np.asarray(means), axis=0).min() > 0.02  # colours differ between scenes


def test_homogeneous_haze_has_constant_beta_and_leaves_rng_alone() -> None:
    gen = np.random.default_rng(0)
    clear = gen.uniform(0, 1, (12, 10, 3)).astype(np.float32)
    depth = gen.uniform(0.05, 1.0, (12, 10)).astype(np.float32)
    rng = np.random.default_rng(1)
    state = rng.bit_generator.state
    hazy, t = add_haze(clear, depth, 1.3, 0.8, 0.0, rng)
    assert rng.bit_generator.state == state
    np.testing.assert_allclose(-np.log(t) / depth, 1.3, rtol=1e-5)
    expected = clear * np.exp(-1.3 * depth)[..., None] + 0.8 * (1.0 - np.exp(-1.3 * depth)[..., None])
    np.testing.assert_allclose(hazy, expected, atol=1e-6)


def test_nonhomogeneous_haze_varies_beta_within_its_amplitude() -> None:
    clear = np.full((48, 48, 3), 0.2, np.float32)
    depth = np.full((48, 48), 0.5, np.float32)
    hazy, t = add_haze(clear, depth, 1.0, 0.9, 0.5, np.random.default_rng(3))
    beta_map = -np.log(t.astype(np.float64)) / 0.5
    assert beta_map.min() == pytest.approx(0.5, abs=1e-4)  # beta * (1 - amp)
    assert beta_map.max() == pytest.approx(1.5, abs=1e-4)  # beta * (1 + amp)
    assert beta_map.std() > 0.05
    expected = np.broadcast_to(0.2 * t[..., None] + 0.9 * (1.0 - t[..., None]), hazy.shape)
    np.testing.assert_allclose(hazy, expected, atol=1e-6)


def test_nonhomogeneous_dataset_departs_from_the_homogeneous_model(tmp_path: Path) -> None:
    params = {**SMALL, "n_train_clear": 1, "n_train_hazy": 1, "n_test": 1, "nonhomogeneous": 0.6}
    manifest = make_synthetic("syn", params, tmp_path)
    frame = read_manifest(manifest)
    scale = json.loads(sidecar_path(manifest).read_text())["depth_scale"]
    row = frame.query("split == 'test' and domain == 'hazy'").iloc[0]
    clear = read_image(frame.query("split == 'test' and domain == 'clear'").iloc[0]["path"])
    t = np.exp(-float(row["beta"]) * read_depth(row["depth"], scale))[..., None]
    homogeneous = clear * t + float(row["airlight"]) * (1.0 - t)
    assert np.abs(read_image(row["path"]) - homogeneous).max() > 5.0 / 255.0


def test_defaults_and_ignored_keys() -> None:
    spec = {"adapter": "synthetic", "protocol": "x", "limit": 5, "beta": 1.2, "shift_of": "base"}
    resolved = validate_params("syn", spec)
    assert resolved["beta"] == [1.2, 1.2]
    assert resolved["size"] == [DEFAULTS["size"], DEFAULTS["size"]]
    for key in ("seed", "n_train_clear", "n_train_hazy", "n_test", "airlight", "depth_range", "format", "n_val",
                "airlight_tint", "depth_model", "noise", "jpeg_quality"):
        assert resolved[key] == DEFAULTS[key]
    assert set(resolved) == set(DEFAULTS)


BAD = [
    ("colour", "red"),
    ("size", -4),
    ("size", 8),
    ("size", [32, -1]),
    ("size", [32]),
    ("size", "big"),
    ("n_test", -1),
    ("n_train_clear", 2.5),
    ("n_train_hazy", True),
    ("seed", -1),
    ("seed", 1.5),
    ("beta", [2.0, 1.0]),
    ("beta", "thick"),
    ("beta", [1.0, float("nan")]),
    ("airlight", [0.9, 0.5]),
    ("airlight", [0.5, 1.5]),
    ("depth_range", [1.0, 0.5]),
    ("depth_range", 0.5),
    ("nonhomogeneous", 1.0),
    ("nonhomogeneous", -0.1),
    ("format", "gif"),
    ("format", 3),
    ("n_val", -1),
    ("n_train_clear", -1),
    ("airlight_tint", 1.0),
    ("airlight_tint", -0.1),
    ("airlight_tint", "blue"),
    ("depth_model", "flat"),
    ("noise", -0.01),
    ("noise", 2.0),
    ("jpeg_quality", 0),
    ("jpeg_quality", 101),
    ("jpeg_quality", 50.5),
    ("jpeg_quality", True),
]


@pytest.mark.parametrize(("key", "value"), BAD, ids=[f"{k}={v!r}" for k, v in BAD])
def test_bad_params_raise_config_error_naming_the_key(key: str, value: object, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"datasets.syn.{key}")) as info:
        make_synthetic("syn", {**SMALL, key: value}, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # validated before anything is written
    if key == "colour":
        assert "n_train_hazy" in str(info.value) and "depth_range" in str(info.value)


# ---------------------------------------------------------------------------------- the validation split


def test_val_split_is_paired_and_disjoint_from_training_and_test(small: Path) -> None:
    frame = read_manifest(small)
    pairs = val_pairs(frame)
    assert list(pairs["image_id"]) == ["val_00000", "val_00001"]
    assert all(Path(p).parent == small.parent / "val" / "hazy" for p in pairs["path"])
    assert all(Path(p).parent == small.parent / "val" / "clear" for p in pairs["clear_path"])
    assert (pairs["depth"] != "").all() and (pairs["beta"] != "").all()
    assert list(pairs_of(frame)["image_id"]) == ["test_00000", "test_00001"]  # test_pairs: test only
    val = set(frame.loc[frame["split"] == "val", "scene_id"])
    assert val.isdisjoint(set(frame.loc[frame["split"] != "val", "scene_id"]))
    others = [read_image(p) for p in frame.loc[frame["split"] != "val", "path"]]
    for path in pairs["clear_path"]:  # not only the names: no val scene is a training or test scene
        assert all(np.abs(read_image(path) - other).mean() > 0.02 for other in others)
    meta = json.loads(sidecar_path(small).read_text())
    assert meta["val"]["pairs"] == 2 and meta["counts"]["val/clear"] == 2


def test_adding_val_scenes_leaves_the_default_configs_training_and_test_images_byte_identical(tmp_path) -> None:
    """The default config's dataset (fewer images: every image has its own stream, so the counts do not
    matter) with n_val 0 and 16: the training and test files are the same bytes."""
    import yaml

    spec = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["datasets"]["synthetic"]
    spec = {**spec, "n_train_clear": 3, "n_train_hazy": 3, "n_test": 3}
    without = make_synthetic("synthetic", {**spec, "n_val": 0}, tmp_path / "without")
    with_val = make_synthetic("synthetic", {**spec, "n_val": 16}, tmp_path / "with")
    first, second = files_under(without.parent), files_under(with_val.parent)
    shared = sorted(n for n in first if n.startswith(("train/", "test/")))
    assert len(shared) == 3 + 3 + 3 * 3 and sorted(n for n in second if n.startswith(("train/", "test/"))) == shared
    for name in shared:
        assert first[name] == second[name], name
    assert sum(n.startswith("val/") for n in second) == 16 * 3
    rows = lambda m: [line for line in m.read_text().splitlines() if ",val," not in line]  # noqa: E731
    assert rows(without) == rows(with_val)


def test_fewer_val_scenes_remove_stale_val_files(tmp_path: Path) -> None:
    params = {**SMALL, "size": 16, "n_train_clear": 1, "n_train_hazy": 1, "n_test": 0, "n_val": 2}
    make_synthetic("syn", params, tmp_path)
    assert (tmp_path / "val" / "depth" / "val_00001.png").is_file()
    manifest = make_synthetic("syn", {**params, "n_val": 0}, tmp_path)
    assert not list((tmp_path / "val").rglob("*.png"))
    assert counts(read_manifest(manifest))["val/hazy"] == 0


# ---------------------------------------------------------------------------- shifted test sets and knobs


def shifted(base: dict, **own) -> dict[str, dict]:
    """The resolved specs of `base` and of a shift of it with the keys `own`, as the config resolves them."""
    return expand_shifts({"base": {"adapter": "synthetic", **base},
                          "shift": {"adapter": "synthetic", "shift_of": "base", **own}})


@pytest.fixture(scope="module")
def base_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synthetic("base", {**SMALL, "n_test": 3}, tmp_path_factory.mktemp("base"))


def test_a_shift_shows_its_bases_test_scenes_and_no_training_images(base_set: Path, tmp_path: Path) -> None:
    spec = shifted({**SMALL, "n_test": 3}, beta=[2.5, 3.0], airlight_tint=0.2, depth_model="ramp", noise=0.02,
                   jpeg_quality=30)["shift"]
    assert spec["shift_of"] == "base"
    manifest = make_synthetic("shift", spec, tmp_path)
    frame, base = read_manifest(manifest), read_manifest(base_set)
    assert counts(frame) == {"train/hazy": 0, "train/clear": 0, "test/hazy": 3, "test/clear": 3, "val/hazy": 0,
                             "val/clear": 0}
    mine, theirs = pairs_of(frame), pairs_of(base)
    assert list(mine["image_id"]) == list(theirs["image_id"])
    for a, b in zip(mine["clear_path"], theirs["clear_path"], strict=True):
        assert Path(a).read_bytes() == Path(b).read_bytes()  # the same clear test image, pixel for pixel
    for a, b in zip(mine["path"], theirs["path"], strict=True):
        assert Path(a).read_bytes() != Path(b).read_bytes()  # under other haze
    meta = json.loads(sidecar_path(manifest).read_text())
    assert meta["shift_of"] == "base" and meta["degradations"]["jpeg_quality"] == 30
    assert set(meta["airlight_rgb"]) == {f"test/test_0000{i}" for i in range(3)}
    with pytest.raises(DatasetError, match=r"training split needs hazy and clear images, found 0 hazy and 0 clear"):
        from cddgan.data.unpaired import UnpairedSampler

        UnpairedSampler(frame, crop=16, manifest_path=manifest)


@pytest.mark.parametrize(
    "knobs", [{"airlight_tint": 0.3}, {"noise": 0.05}, {"jpeg_quality": 20}, {"depth_model": "ramp"},
              {"airlight_tint": 0.3, "noise": 0.05, "jpeg_quality": 20, "depth_model": "ramp"}],
    ids=["tint", "noise", "jpeg", "ramp", "all"],
)  # fmt: skip
def test_knobs_leave_the_beta_and_airlight_draws_and_the_scenes_alone(base_set: Path, tmp_path: Path, knobs) -> None:
    manifest = make_synthetic("shift", shifted({**SMALL, "n_test": 3}, **knobs)["shift"], tmp_path)
    mine, theirs = pairs_of(read_manifest(manifest)), pairs_of(read_manifest(base_set))
    for column in ("beta", "airlight", "image_id"):
        assert list(mine[column]) == list(theirs[column]), column
    for a, b in zip(mine["clear_path"], theirs["clear_path"], strict=True):
        assert Path(a).read_bytes() == Path(b).read_bytes()
    changed = [np.abs(read_image(a) - read_image(b)).max() for a, b in zip(mine["path"], theirs["path"],
                                                                             strict=True)]
    assert min(changed) > 1.5 / 255.0


def test_defaults_of_the_knobs_are_byte_identical(base_set: Path, tmp_path: Path) -> None:
    off = {"airlight_tint": 0, "noise": 0.0, "jpeg_quality": None, "depth_model": "scene"}
    manifest = make_synthetic("base", {**SMALL, "n_test": 3, **off}, tmp_path)
    first, second = files_under(base_set.parent), files_under(manifest.parent)
    images = [n for n in first if n.endswith(".png")]
    assert images and all(first[n] == second[n] for n in images)


def test_tinted_airlight_follows_the_scattering_model_per_channel(tmp_path: Path) -> None:
    manifest = make_synthetic("tint", {**SMALL, "n_val": 0, "airlight_tint": 0.25}, tmp_path)
    frame = read_manifest(manifest)
    meta = json.loads(sidecar_path(manifest).read_text())
    for _, row in pairs_of(frame).iterrows():
        light = np.asarray(meta["airlight_rgb"][f"test/{row['image_id']}"])
        grey = float(row["airlight"])
        assert np.all(np.abs(light / grey - 1.0) <= 0.25 + 1e-5) and np.ptp(light) > 0
        t = np.exp(-float(row["beta"]) * read_depth(row["depth"], meta["depth_scale"]))[..., None]
        expected = np.clip(read_image(row["clear_path"]) * t + light * (1.0 - t), 0.0, 1.0)
        assert np.abs(read_image(row["path"]) - expected).max() <= 1.0 / 255.0 + 1e-5


def test_ramp_depth_ignores_the_scene(tmp_path: Path) -> None:
    manifest = make_synthetic("ramp", {**SMALL, "n_val": 0, "depth_model": "ramp"}, tmp_path)
    frame = read_manifest(manifest)
    scale = json.loads(sidecar_path(manifest).read_text())["depth_scale"]
    quantum = 1.0 / scale
    for path in frame.loc[frame["domain"] == "hazy", "depth"]:
        if not path:
            continue
        depth = read_depth(path, scale)
        assert np.ptp(depth, axis=1).max() == 0  # one depth per row
        assert abs(depth[0, 0] - 2.0) <= quantum and abs(depth[-1, 0] - 0.1) <= quantum
        assert np.all(np.diff(depth[:, 0]) < 0)


def test_noise_and_jpeg_are_applied_in_that_order_to_the_hazy_image(tmp_path: Path) -> None:
    plain = read_manifest(make_synthetic("n", {**SMALL, "n_val": 0, "noise": 0.04}, tmp_path / "noise"))
    both = read_manifest(make_synthetic("j", {**SMALL, "n_val": 0, "noise": 0.04, "jpeg_quality": 25},
                                        tmp_path / "jpeg"))
    clean = read_manifest(make_synthetic("c", {**SMALL, "n_val": 0}, tmp_path / "clean"))
    for a, b, c in zip(pairs_of(plain)["path"], pairs_of(both)["path"], pairs_of(clean)["path"], strict=True):
        noisy = read_image(a)
        assert Path(b).suffix == ".png"  # stored lossless
        np.testing.assert_array_equal(read_image(b), jpeg_roundtrip(noisy, 25))
        residual = (noisy - read_image(c))[(read_image(c) > 0.2) & (read_image(c) < 0.8)]
        assert 0.03 < residual.std() < 0.05


def test_knob_streams_are_spawned_from_the_haze_stream() -> None:
    haze = np.random.SeedSequence([4, 2, 7]).spawn(2)[1]
    children = haze.spawn(2)
    for k, knob in enumerate(("airlight_tint", "noise")):
        expected = np.random.default_rng(children[k]).random(4)
        np.testing.assert_array_equal(knob_rng(4, "test", 7, knob).random(4), expected)
    _, haze_rng = image_rngs(4, "test", 7)
    assert not np.array_equal(haze_rng.random(4), knob_rng(4, "test", 7, "noise").random(4))


def test_test_only_generation_writes_no_training_folders(tmp_path: Path) -> None:
    manifest = make_synthetic("t", {**SMALL, "n_train_clear": 0, "n_train_hazy": 0, "n_val": 0}, tmp_path)
    assert not (tmp_path / "train").exists() and counts(read_manifest(manifest))["test/hazy"] == 2
