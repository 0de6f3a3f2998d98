"""Dataset adapters on tiny fabricated trees with the real file and folder names."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import fake_trees as ft
import numpy as np
import pandas as pd
import pytest

from cddgan.data.adapters import ADAPTERS, COMMON_KEYS, build_manifest
from cddgan.data.adapters.scan import natural_sorted
from cddgan.data.manifest import read_manifest, val_pairs
from cddgan.data.manifest import test_pairs as pairs_of
from cddgan.errors import ConfigError, DatasetError, ImageError
from cddgan.io import read_image


def build(tmp_path: Path, adapter: str, root: Path, name: str = "ds", **spec) -> tuple[pd.DataFrame, dict]:
    """Build a manifest into tmp_path/out/<name> and read back the CSV (absolute paths) and the sidecar."""
    path = build_manifest(name, {"adapter": adapter, "root": str(root), **spec}, tmp_path / "out" / name)
    assert path == tmp_path / "out" / name / "manifest.csv"
    return read_manifest(path), json.loads(path.with_suffix(".json").read_text())


def rows(frame: pd.DataFrame, split: str, domain: str) -> pd.DataFrame:
    return frame[(frame["split"] == split) & (frame["domain"] == domain)]


def first_field(path: str) -> str:
    """The scene id a RESIDE file name encodes, computed here independently of the adapter."""
    return Path(path).stem.split("_")[0]


# ---------------------------------------------------------------- RESIDE ITS / OTS: unpaired protocol


def test_its_split_is_scene_disjoint_and_counts_add_up(tmp_path):
    root = ft.make_its(tmp_path / "ITS", n_scenes=6, per_scene=3)
    frame, meta = build(tmp_path, "reside-its", root)
    clear, hazy = rows(frame, "train", "clear"), rows(frame, "train", "hazy")
    clear_scenes = {Path(p).stem for p in clear["path"]}
    hazy_scenes = {first_field(p) for p in hazy["path"]}
    assert clear_scenes.isdisjoint(hazy_scenes)
    assert clear_scenes | hazy_scenes == {str(i) for i in range(1, 7)}
    # 6 scenes at clear_fraction 0.5: 3 clear images, the other 3 scenes' 3 hazy versions each
    assert (len(clear), len(hazy)) == (3, 9)
    assert (frame["pair_id"] == "").all() and (frame["split"] == "train").all()
    assert list(hazy["scene_id"]) == [first_field(p) for p in hazy["path"]]
    assert meta["layout"] == "hazy/+clear/"
    proto = meta["unpaired"]
    assert (proto["scenes"], proto["clear_used"], proto["hazy_used"]) == (6, 3, 9)
    assert meta["counts"]["train/clear"] == 3 and meta["counts"]["train/hazy"] == 9
    # ITS names do not say which haze parameter their third field is: nothing is recorded
    assert (frame["beta"] == "").all() and (frame["airlight"] == "").all()


def test_its_caps_fraction_and_per_scene(tmp_path):
    root = ft.make_its(tmp_path / "ITS", n_scenes=10, per_scene=4)
    frame, meta = build(
        tmp_path, "reside-its", root, clear_fraction=0.3, hazy_per_scene=2, n_clear=2, n_hazy=5, seed=3
    )
    clear, hazy = rows(frame, "train", "clear"), rows(frame, "train", "hazy")
    assert (len(clear), len(hazy)) == (2, 5)
    per_scene = hazy["path"].map(first_field).value_counts()
    assert per_scene.max() <= 2
    proto = meta["unpaired"]
    assert (proto["clear_scenes"], proto["hazy_scenes"]) == (3, 7)
    assert (proto["clear_available"], proto["hazy_available"]) == (3, 14)
    assert {Path(p).stem for p in clear["path"]}.isdisjoint(set(hazy["path"].map(first_field)))


def test_its_seed_determinism(tmp_path):
    root = ft.make_its(tmp_path / "ITS", n_scenes=8, per_scene=2)

    def csv(seed: int, tag: str) -> str:
        spec = {"adapter": "reside-its", "root": str(root), "seed": seed}
        return build_manifest("its", spec, tmp_path / tag).read_text()

    assert csv(0, "a") == csv(0, "b")
    assert len({csv(s, f"s{s}") for s in range(5)}) > 1


def test_its_cap_changes_leave_the_other_side_alone(tmp_path):
    root = ft.make_its(tmp_path / "ITS", n_scenes=8, per_scene=2)
    one, _ = build(tmp_path, "reside-its", root, name="one", n_clear=2)
    two, _ = build(tmp_path, "reside-its", root, name="two", n_clear=3)
    assert list(rows(one, "train", "hazy")["image_id"]) == list(rows(two, "train", "hazy")["image_id"])


def test_its_cap_above_available_warns(tmp_path):
    root = ft.make_its(tmp_path / "ITS", n_scenes=4, per_scene=1)
    with pytest.warns(UserWarning, match="n_clear=50"):
        frame, meta = build(tmp_path, "reside-its", root, n_clear=50)
    assert len(rows(frame, "train", "clear")) == 2
    assert any("n_clear=50" in w for w in meta["warnings"])


def test_its_gt_variant(tmp_path):
    root = ft.make_its(tmp_path / "ITS", n_scenes=2, per_scene=1, clear_name="gt")
    _, meta = build(tmp_path, "reside-its", root)
    assert meta["layout"] == "hazy/+gt/"


def test_ots_parses_airlight_and_beta_from_names(tmp_path):
    root = ft.make_ots(tmp_path / "OTS", n_scenes=4, per_scene=3, hazy_name="haze", nested=True)
    frame, meta = build(tmp_path, "reside-ots", root)
    hazy = rows(frame, "train", "hazy")
    assert len(hazy) == 6 and meta["layout"].startswith("haze/+clear/")
    expected = {f"{ft.ots_params(i)[0]}_{ft.ots_params(i)[1]}": ft.ots_params(i) for i in range(3)}
    for _, r in hazy.iterrows():
        airlight, beta = expected[r["image_id"].split("_", 1)[1]]
        assert float(r["airlight"]) == airlight and float(r["beta"]) == beta
    assert (rows(frame, "train", "clear")["beta"] == "").all()


def test_its_orphans_are_named(tmp_path):
    root = ft.make_its(tmp_path / "ITS", n_scenes=3, per_scene=1)
    ft.save(root / "hazy" / "99_1_0.81234.png")
    (root / "clear" / "2.png").unlink()
    with pytest.raises(DatasetError) as info:
        build(tmp_path, "reside-its", root)
    message = str(info.value)
    assert "99_1_0.81234.png" in message and "2_1_" in message  # both hazy images without a clear one
    assert "2 hazy image(s)" in message and "ground-truth image(s) have no hazy" not in message


def test_unpaired_needs_two_scenes(tmp_path):
    root = ft.make_its(tmp_path / "ITS", n_scenes=1, per_scene=2)
    with pytest.raises(DatasetError, match="at least 2"):
        build(tmp_path, "reside-its", root)


@pytest.mark.parametrize(
    ("key", "value"),
    [("n_clear", 0), ("n_hazy", -1), ("hazy_per_scene", 1.5), ("clear_fraction", 1.0), ("seed", "x")],
)
def test_its_bad_protocol_values_name_the_key(tmp_path, key, value):
    root = ft.make_its(tmp_path / "ITS", n_scenes=2, per_scene=1)
    with pytest.raises(ConfigError, match=rf"datasets\.its\.{key}"):
        build(tmp_path, "reside-its", root, name="its", **{key: value})


# ---------------------------------------------------------------- the val split: carved out of training scenes


def scenes_of(frame: pd.DataFrame, split: str) -> set[str]:
    """The RESIDE scenes a split's images show, from the file names (not the adapter's scene_id)."""
    return {first_field(p) for p in frame.loc[frame["split"] == split, "path"]}


def test_its_val_split_is_paired_scene_disjoint_and_left_out_of_training(tmp_path):
    root = ft.make_its(tmp_path / "ITS", n_scenes=40, per_scene=3)
    frame, meta = build(tmp_path, "reside-its", root, val_fraction=0.1)
    pairs = val_pairs(frame)
    assert len(pairs) == 4 and len(rows(frame, "val", "clear")) == 4  # floor(0.1 * 40) scenes, one hazy each
    assert all(first_field(h) == Path(c).stem for h, c in zip(pairs["path"], pairs["clear_path"], strict=True))
    val, train = scenes_of(frame, "val"), scenes_of(frame, "train")
    assert len(val) == 4 and val.isdisjoint(train) and val | train == {str(i) for i in range(1, 41)}
    # the val scenes' other hazy versions are in neither split
    assert len(rows(frame, "train", "hazy")) + len(rows(frame, "train", "clear")) * 3 == 36 * 3
    assert meta["unpaired"]["scenes"] == 36 and len(pairs_of(frame)) == 0
    record = meta["val"]
    assert record["pairs"] == 4 and sorted(record["scenes"]) == sorted(val) and record["val_seed"] == 0
    assert record["removed_from_training"] == {"clear": 4, "hazy": 12} and record["scenes_available"] == 40
    assert record["counts"] == {"val/hazy": 4, "val/clear": 4} and meta["counts"]["val/hazy"] == 4


def test_val_scenes_follow_val_seed_not_the_unpaired_seed(tmp_path):
    root = ft.make_its(tmp_path / "ITS", n_scenes=40, per_scene=2)
    a, _ = build(tmp_path, "reside-its", root, name="a", val_fraction=0.2)
    b, _ = build(tmp_path, "reside-its", root, name="b", val_fraction=0.2, seed=5)
    c, _ = build(tmp_path, "reside-its", root, name="c", val_fraction=0.2, val_seed=1)
    again, _ = build(tmp_path, "reside-its", root, name="again", val_fraction=0.2)
    assert scenes_of(a, "val") == scenes_of(b, "val") == scenes_of(again, "val") != scenes_of(c, "val")
    assert list(val_pairs(a)["path"]) == list(val_pairs(again)["path"])
    assert scenes_of(c, "val").isdisjoint(scenes_of(c, "train"))


def test_val_max_caps_and_zero_switches_it_off(tmp_path):
    root = ft.make_its(tmp_path / "ITS", n_scenes=40, per_scene=1)
    capped, meta = build(tmp_path, "reside-its", root, name="capped", val_fraction=0.5, val_max=3)
    assert len(val_pairs(capped)) == 3 and meta["val"]["val_max"] == 3
    for key in ("val_fraction", "val_max"):
        off, meta = build(tmp_path, "reside-its", root, name=key, **{key: 0})
        assert (off["split"] == "train").all() and meta["val"]["pairs"] == 0
        assert meta["val"]["reason"] == f"switched off (datasets.{key}.{key}: 0)"
        assert meta["unpaired"]["scenes"] == 40


def test_small_training_sets_get_no_val_split_and_the_sidecar_says_why(tmp_path):
    root = ft.make_its(tmp_path / "ITS", n_scenes=10, per_scene=1)  # 5% of 10 scenes: none
    frame, meta = build(tmp_path, "reside-its", root)
    assert len(val_pairs(frame)) == 0 and "rounds down to none" in meta["val"]["reason"]
    # the unpaired split needs 2 scenes: a val split never takes them
    root = ft.make_its(tmp_path / "ITS3", n_scenes=3, per_scene=1)
    frame, meta = build(tmp_path, "reside-its", root, name="three", val_fraction=0.9)
    assert meta["val"]["pairs"] == 1 and meta["unpaired"]["scenes"] == 2


def test_ots_val_rows_keep_their_haze_parameters(tmp_path):
    root = ft.make_ots(tmp_path / "OTS", n_scenes=20, per_scene=3)
    frame, _ = build(tmp_path, "reside-ots", root, val_fraction=0.1)
    hazy = rows(frame, "val", "hazy")
    assert len(hazy) == 2 and (hazy["beta"] != "").all() and (hazy["airlight"] != "").all()
    assert (rows(frame, "val", "clear")["beta"] == "").all()


def test_paired_training_folders_carve_val_pairs_one_hazy_per_scene(tmp_path):
    root = tmp_path / "pf"
    for i in range(1, 21):
        ft.save(root / "clear" / f"{i:04d}.png")
        for a in (0.8, 0.9):
            ft.save(root / "hazy" / f"{i:04d}_{a}.png")
    frame, meta = build(tmp_path, "paired-folders", root, split="train", pair_regex=r"(\d+)", val_fraction=0.1)
    pairs = val_pairs(frame)
    assert len(pairs) == 2 and pairs["pair_id"].is_unique
    assert all(Path(h).stem.split("_")[0] == Path(c).stem for h, c in zip(pairs["path"], pairs["clear_path"],
                                                                        strict=True))
    train_ids = set(frame.loc[frame["split"] == "train", "pair_id"])
    assert len(train_ids) == 18 and train_ids.isdisjoint(set(pairs["pair_id"]))
    assert meta["val"]["removed_from_training"] == {"clear": 2, "hazy": 4}


def test_test_only_sets_have_no_val_split(tmp_path):
    root = ft.make_sots_outdoor(tmp_path / "SOTS", n=30)
    frame, meta = build(tmp_path, "sots-outdoor", root, val_fraction=0.5)
    assert (frame["split"] == "test").all() and len(pairs_of(frame)) == 30
    assert meta["val"]["pairs"] == 0 and meta["val"]["reason"].startswith("test-only dataset")


def test_limit_cuts_the_val_split_like_the_test_split(tmp_path):
    root = ft.make_its(tmp_path / "ITS", n_scenes=40, per_scene=1)
    frame, meta = build(tmp_path, "reside-its", root, val_fraction=0.25, limit=3)
    assert len(val_pairs(frame)) == 3 and meta["available"]["val/hazy"] == 10


@pytest.mark.parametrize(
    ("key", "value"),
    [("val_fraction", 1.0), ("val_fraction", -0.1), ("val_fraction", "5%"), ("val_fraction", True),
     ("val_max", -1), ("val_max", 2.5), ("val_seed", -1), ("val_seed", "x")],
)  # fmt: skip
def test_bad_val_values_name_the_key(tmp_path, key, value):
    root = ft.make_its(tmp_path / "ITS", n_scenes=2, per_scene=1)
    with pytest.raises(ConfigError, match=rf"datasets\.its\.{key}"):
        build(tmp_path, "reside-its", root, name="its", **{key: value})


# ---------------------------------------------------------------- SOTS


def test_sots_indoor_crops_bordered_gt_to_the_centre(tmp_path):
    root = ft.make_sots_indoor(tmp_path / "SOTS", n=2, per_gt=2, border=True)
    frame, meta = build(tmp_path, "sots-indoor", root)
    clear = rows(frame, "test", "clear")
    assert len(clear) == 2 and len(rows(frame, "test", "hazy")) == 4
    for _, r in clear.iterrows():
        assert Path(r["path"]).parent == tmp_path / "out" / "ds" / "gt_cropped"
        _, centre = ft.bordered(f"{r['image_id']}.png")
        np.testing.assert_array_equal(np.rint(read_image(r["path"]) * 255).astype(np.uint8), centre)
    assert meta["gt_cropped"]["count"] == 2 and meta["gt_cropped"]["sizes"] == {"18x14->16x12": 2}
    # the originals are untouched
    assert read_image(root / "gt" / "1400.png").shape == (14, 18, 3)
    pairs = pairs_of(frame)
    assert sorted(pairs["pair_id"]) == ["1400", "1400", "1401", "1401"]
    assert all(Path(c).stem == p for c, p in zip(pairs["clear_path"], pairs["pair_id"], strict=True))


def test_sots_indoor_without_border_keeps_the_original_gt(tmp_path):
    root = ft.make_sots_indoor(tmp_path / "SOTS", n=1, per_gt=1, border=False, gt_name="clear")
    frame, meta = build(tmp_path, "sots-indoor", root)
    assert meta["layout"] == "hazy/+clear/" and meta["gt_cropped"]["count"] == 0
    assert rows(frame, "test", "clear")["path"].iloc[0] == str(root / "clear" / "1400.png")


@pytest.mark.parametrize("gt_name", ["gt", "clear"])
def test_sots_outdoor_pairs_and_haze_params(tmp_path, gt_name):
    root = ft.make_sots_outdoor(tmp_path / "SOTS", n=3, per_gt=2, gt_name=gt_name)
    frame, meta = build(tmp_path, "sots-outdoor", root)
    assert meta["layout"] == f"hazy/+{gt_name}/"
    pairs = pairs_of(frame)
    assert len(pairs) == 6
    for hazy, clear in zip(pairs["path"], pairs["clear_path"], strict=True):
        assert first_field(hazy) == Path(clear).stem
    first = pairs[pairs["image_id"] == "0001_0.8_0.04"].iloc[0]
    assert (float(first["airlight"]), float(first["beta"])) == (0.8, 0.04)


@pytest.mark.parametrize("copy", ["1400_1 (1).png", "1401_1-Copy.png", "1400_2 copy.png"])
def test_sots_copies_of_hazy_files_are_refused_not_scored_twice(tmp_path, copy):
    root = ft.make_sots_indoor(tmp_path / "SOTS", n=2, per_gt=2, border=False)
    shutil.copy(root / "hazy" / "1400_1.png", root / "hazy" / copy)
    with pytest.raises(DatasetError, match=r"1 hazy file\(s\) do not follow the RESIDE naming \(hazy/1400_1.png"):
        build(tmp_path, "sots-indoor", root)


def test_limit_takes_the_first_pairs_in_natural_order(tmp_path):
    root = ft.make_sots_indoor(tmp_path / "SOTS", n=12, per_gt=1, border=False, first=1)
    frame, meta = build(tmp_path, "sots-indoor", root, limit=3)
    assert list(rows(frame, "test", "hazy")["pair_id"]) == ["1", "2", "3"]  # not 1, 10, 11
    assert sorted(rows(frame, "test", "clear")["pair_id"]) == ["1", "2", "3"]
    assert meta["limit"] == 3 and meta["available"]["test/hazy"] == 12


def test_natural_sort():
    names = ["10_1.png", "2_1.png", "1_10.png", "1_2.png", "01_1.png"]
    assert [p.name for p in natural_sorted(Path(n) for n in names)] == [
        "01_1.png",
        "1_2.png",
        "1_10.png",
        "2_1.png",
        "10_1.png",
    ]


# ---------------------------------------------------------------- HSTS, RTTS


def test_hsts_synthetic_pairs_by_name(tmp_path):
    root = ft.make_hsts(tmp_path / "HSTS", n=3, n_real=2)
    frame, meta = build(tmp_path, "hsts", root)
    pairs = pairs_of(frame)
    assert len(pairs) == 3 and meta["layout"] == "synthetic/{synthetic,original}/"
    for h, c in zip(pairs["path"], pairs["clear_path"], strict=True):
        assert Path(h).parent.name == "synthetic" and Path(c).parent.name == "original"
        assert Path(h).name == Path(c).name


def test_hsts_root_may_be_the_outer_synthetic_folder(tmp_path):
    root = ft.make_hsts(tmp_path / "HSTS", n=2, n_real=0)
    frame, meta = build(tmp_path, "hsts", root / "synthetic")
    assert meta["layout"] == "{synthetic,original}/" and len(pairs_of(frame)) == 2


def test_hsts_real_subset_has_no_ground_truth(tmp_path):
    root = ft.make_hsts(tmp_path / "HSTS", n=2, n_real=3)
    frame, _ = build(tmp_path, "hsts", root, subset="real")
    assert len(frame) == 3 and (frame["domain"] == "hazy").all() and (frame["pair_id"] == "").all()
    assert all(Path(p).parent.name == "real-world" for p in frame["path"])
    with pytest.raises(ConfigError, match=r"datasets\.ds\.subset"):
        build(tmp_path, "hsts", root, subset="both")


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_rtts_reads_jpegimages(tmp_path, suffix):
    root = ft.make_rtts(tmp_path / "RTTS", n=3, suffix=suffix)
    frame, meta = build(tmp_path, "rtts", root)
    assert meta["layout"] == "JPEGImages/"
    assert list(frame["image_id"]) == ["AM_Bing_211", "AM_Bing_212", "AM_Bing_213"]
    assert (frame["split"] == "test").all() and (frame["pair_id"] == "").all()


# ---------------------------------------------------------------- NTIRE sets


@pytest.mark.parametrize("parent", [True, False])
def test_i_haze_with_or_without_the_hash_folder(tmp_path, parent):
    root = ft.make_i_haze(tmp_path / "I-HAZE", n=3, parent=parent, gt="gt")
    frame, meta = build(tmp_path, "i-haze", root)
    prefix = f"{ft.I_HAZE_FOLDER}/" if parent else ""
    assert meta["layout"] == f"{prefix}hazy/+gt/"
    pairs = pairs_of(frame)
    assert list(pairs["pair_id"]) == ["01", "02", "03"]
    assert [Path(c).name for c in pairs["clear_path"]] == [f"0{i}_indoor_GT.jpg" for i in (1, 2, 3)]


def test_o_haze_upper_case_suffix(tmp_path):
    root = ft.make_o_haze(tmp_path / "O-HAZE", n=2, suffix=".JPG")
    frame, meta = build(tmp_path, "o-haze", root)
    assert meta["layout"] == f"{ft.O_HAZE_FOLDER}/hazy/+GT/"
    assert all(p.endswith(".JPG") for p in frame["path"]) and len(pairs_of(frame)) == 2


NH_DENSE = [("nh-haze", ft.make_nh_haze), ("dense-haze", ft.make_dense_haze)]


@pytest.mark.parametrize(("adapter", "make"), NH_DENSE)
@pytest.mark.parametrize("flat", [True, False])
def test_nh_and_dense_haze_flat_or_split(tmp_path, adapter, make, flat):
    root = make(tmp_path / "set", n=3, flat=flat)
    frame, meta = build(tmp_path, adapter, root)
    assert meta["layout"] == ("flat" if flat else "hazy/+GT/")
    pairs = pairs_of(frame)
    assert list(pairs["image_id"]) == ["01_hazy", "02_hazy", "03_hazy"]
    assert [Path(c).name for c in pairs["clear_path"]] == ["01_GT.png", "02_GT.png", "03_GT.png"]


def test_ntire_misnamed_file_is_named(tmp_path):
    root = ft.make_dense_haze(tmp_path / "DH", n=2)
    ft.save(root / "hazy" / "extra.png")
    with pytest.raises(DatasetError, match=r"extra\.png"):
        build(tmp_path, "dense-haze", root)


# ---------------------------------------------------------------- test_max_side: large test images


def large_o_haze(root: Path, sizes: list[tuple[int, int]]) -> Path:
    """O-HAZE with one pair per entry of `sizes` (width, height), lossless so the pixels are known exactly."""
    folder = root / ft.O_HAZE_FOLDER
    for i, size in enumerate(sizes, start=1):
        ft.save(folder / "hazy" / f"{i:02d}_outdoor_hazy.png", size=size)
        ft.save(folder / "GT" / f"{i:02d}_outdoor_GT.png", size=size)
    return root


def test_test_max_side_shrinks_both_sides_of_a_pair_like_pil_bicubic(tmp_path):
    from PIL import Image

    root = large_o_haze(tmp_path / "O-HAZE", [(60, 40), (41, 29), (20, 12)])
    frame, meta = build(tmp_path, "o-haze", root, test_max_side=20)
    pairs = pairs_of(frame)
    expected = {"01": (20, 13), "02": (20, 14), "03": (20, 12)}  # 40 * 20/60 = 13.3; 29 * 20/41 = 14.1
    for _, pair in pairs.iterrows():
        width, height = expected[pair["pair_id"]]
        for key in ("path", "clear_path"):
            assert read_image(pair[key]).shape == (height, width, 3)
        if pair["pair_id"] == "03":  # already fits: the original is used, not a copy
            assert Path(pair["path"]).parent == root / ft.O_HAZE_FOLDER / "hazy"
            continue
        assert Path(pair["path"]).parent == tmp_path / "out" / "ds" / "test_resized" / "hazy"
        assert Path(pair["clear_path"]).parent == tmp_path / "out" / "ds" / "test_resized" / "clear"
        # PIL's antialiased bicubic reduction is the reference the filter is meant to follow
        original = Image.open(root / ft.O_HAZE_FOLDER / "GT" / f"{pair['pair_id']}_outdoor_GT.png")
        reference = np.asarray(original.resize((width, height), Image.Resampling.BICUBIC), dtype=np.int16)
        ours = np.rint(read_image(pair["clear_path"]) * 255).astype(np.int16)
        assert np.abs(ours - reference).max() <= 2
    assert meta["test_resized"]["count"] == 4 and meta["test_resized"]["max_side"] == 20
    assert meta["test_resized"]["sizes"] == {"60x40->20x13": 2, "41x29->20x14": 2}
    # the originals are untouched
    assert read_image(root / ft.O_HAZE_FOLDER / "hazy" / "01_outdoor_hazy.png").shape == (40, 60, 3)


def test_test_max_side_leaves_training_images_and_null_alone(tmp_path):
    root = ft.make_paired_folders(tmp_path / "set", n=2)
    frame, meta = build(tmp_path, "paired-folders", root, test_max_side=None)
    assert "test_resized" not in meta
    big = tmp_path / "big"
    for name in ("a", "b"):
        ft.save(big / "hazy" / f"{name}.png", size=(64, 48))
        ft.save(big / "clear" / f"{name}.png", size=(64, 48))
    frame, meta = build(tmp_path, "unpaired-folders", big, name="train", test_max_side=16)
    assert (frame["split"] == "train").all() and meta["test_resized"]["count"] == 0
    assert all(Path(p).parent.parent == big for p in frame["path"])


def test_test_max_side_that_leaves_pairs_unscorable_is_named(tmp_path):
    root = large_o_haze(tmp_path / "O-HAZE", [(41, 17)])  # 17 * 20/41 = 8 px high: below SSIM's window
    with pytest.raises(DatasetError, match=r"too small to score.*20x8.*raise datasets\.ds\.test_max_side"):
        build(tmp_path, "o-haze", root, test_max_side=20)


def test_test_max_side_hint_only_for_pairs_it_shrank(tmp_path):
    root = large_o_haze(tmp_path / "O-HAZE", [(12, 9)])  # too small already, not shrunk by a 64 px limit
    with pytest.raises(DatasetError, match=r"too small to score") as info:
        build(tmp_path, "o-haze", root, test_max_side=64)
    assert str(info.value).endswith("remove them, or lower the crop")


def test_rebuilding_with_another_test_max_side_leaves_no_stale_copies(tmp_path):
    root = large_o_haze(tmp_path / "O-HAZE", [(60, 40), (40, 30)])
    build(tmp_path, "o-haze", root, test_max_side=32)
    folder = tmp_path / "out" / "ds" / "test_resized"
    assert len(list(folder.rglob("*.png"))) == 4
    frame, _ = build(tmp_path, "o-haze", root, test_max_side=50)  # only the 60x40 pair is still too large
    assert sorted(p.name for p in folder.rglob("*.png")) == ["01_outdoor_GT.png", "01_outdoor_hazy.png"]
    assert all(Path(p).exists() for p in frame["path"])
    build(tmp_path, "o-haze", root, test_max_side=None)
    assert not folder.exists()


@pytest.mark.parametrize("value", [8, 0, "1024", True, 15.5])
def test_bad_test_max_side_names_the_key(tmp_path, value):
    root = large_o_haze(tmp_path / "O-HAZE", [(20, 12)])
    with pytest.raises(ConfigError, match=r"datasets\.ds\.test_max_side: expected an integer >= 16"):
        build(tmp_path, "o-haze", root, test_max_side=value)


def test_synthetic_datasets_refuse_test_max_side(tmp_path):
    with pytest.raises(ConfigError, match=r"datasets\.syn\.test_max_side: unknown parameter.*size"):
        build_manifest("syn", {"adapter": "synthetic", "test_max_side": 64}, tmp_path / "out")


# ---------------------------------------------------------------- folders


def test_paired_folders_by_stem_and_train_split(tmp_path):
    root = ft.make_paired_folders(tmp_path / "pf", n=3)
    frame, meta = build(tmp_path, "paired-folders", root, split="train")
    assert (frame["split"] == "train").all() and meta["pairing"] == "stem"
    hazy = rows(frame, "train", "hazy")
    assert list(hazy["pair_id"]) == ["0001", "0002", "0003"]


def test_paired_folders_by_regex_with_absolute_dirs(tmp_path):
    root = ft.make_paired_folders(tmp_path / "pf", n=2, hazy_suffix="_0.8_0.2")
    frame, _ = build(
        tmp_path,
        "paired-folders",
        tmp_path,
        hazy_dir=str(root / "hazy"),
        clear_dir="pf/clear",
        pair_regex=r"(\d+)",
    )
    pairs = pairs_of(frame)
    assert [Path(c).stem for c in pairs["clear_path"]] == ["0001", "0002"]
    assert list(pairs["image_id"]) == ["0001_0.8_0.2", "0002_0.8_0.2"]


@pytest.mark.parametrize("regex", ["(", r"\d+"])
def test_paired_folders_bad_regex(tmp_path, regex):
    root = ft.make_paired_folders(tmp_path / "pf", n=1)
    with pytest.raises(ConfigError, match=r"datasets\.ds\.pair_regex"):
        build(tmp_path, "paired-folders", root, pair_regex=regex)


def test_paired_folders_regex_not_matching_names_them(tmp_path):
    root = ft.make_paired_folders(tmp_path / "pf", n=1)
    with pytest.raises(DatasetError, match=r"0001\.png"):
        build(tmp_path, "paired-folders", root, pair_regex=r"x(\d+)")


def test_paired_folders_missing_dir_names_the_key(tmp_path):
    root = ft.make_paired_folders(tmp_path / "pf", n=1)
    with pytest.raises(DatasetError, match=r"datasets\.ds\.clear_dir"):
        build(tmp_path, "paired-folders", root, clear_dir="nope")


def test_unpaired_folders(tmp_path):
    root = ft.make_unpaired_folders(tmp_path / "uf", n_hazy=3, n_clear=2)
    frame, meta = build(tmp_path, "unpaired-folders", root)
    assert meta["counts"] == {
        "train/hazy": 3, "train/clear": 2, "test/hazy": 0, "test/clear": 0, "val/hazy": 0, "val/clear": 0
    }  # fmt: skip
    # no ground truth: a val split could not be scored, and the sidecar says so
    assert meta["val"]["pairs"] == 0 and "no ground truth" in meta["val"]["reason"]
    assert (frame["pair_id"] == "").all()


def test_synthetic_delegates(tmp_path, monkeypatch):
    import cddgan.data.synthetic as synthetic

    seen = {}

    def fake(name, params, out_dir):
        seen.update(name=name, params=dict(params), out_dir=out_dir)
        return out_dir / "manifest.csv"

    monkeypatch.setattr(synthetic, "make_synthetic", fake)
    spec = {"adapter": "synthetic", "size": 16, "protocol": "rgb"}
    assert build_manifest("syn", spec, tmp_path) == tmp_path / "manifest.csv"
    assert seen == {"name": "syn", "params": spec, "out_dir": tmp_path}


# ---------------------------------------------------------------- errors


def test_missing_root(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DatasetError, match=rf"datasets\.ds\.root: {missing} does not exist; point it at"):
        build(tmp_path, "sots-indoor", missing)
    with pytest.raises(ConfigError, match=r"datasets\.ds\.root: required"):
        build_manifest("ds", {"adapter": "rtts"}, tmp_path / "out")


def test_unknown_layout_lists_expected_and_found(tmp_path):
    root = tmp_path / "odd"
    (root / "images").mkdir(parents=True)
    (root / "readme.txt").write_text("x")
    with pytest.raises(DatasetError) as info:
        build(tmp_path, "sots-outdoor", root)
    message = str(info.value)
    assert "hazy/" in message and "gt/" in message  # expected
    assert "images/" in message and "readme.txt" in message  # found


def test_unknown_layout_ntire_and_rtts(tmp_path):
    root = tmp_path / "odd"
    (root / "pictures").mkdir(parents=True)
    for adapter in ("i-haze", "rtts"):
        with pytest.raises(DatasetError, match="pictures/"):
            build(tmp_path, adapter, root)


def test_o_haze_without_gt_shows_the_archive_folder_it_looked_into(tmp_path):
    root = ft.make_o_haze(tmp_path / "O-HAZE", n=2, parent=True)
    inner = next(p for p in root.iterdir() if p.is_dir())
    shutil.rmtree(next(p for p in inner.iterdir() if p.name.lower() == "gt"))
    with pytest.raises(DatasetError) as info:
        build(tmp_path, "o-haze", root)
    message = str(info.value)
    assert "'# O-HAZY NTIRE 2018'" in message and "I-HAZY" not in message
    assert f"in {inner.name}/: hazy/" in message  # GT/ is what is missing there


@pytest.mark.parametrize(("size", "refused"), [((10, 9), True), ((11, 10), True), ((11, 11), False)])
def test_test_pairs_too_small_to_score_are_refused_by_make_data(tmp_path, size, refused):
    """Found at scoring instead, after every method had dehazed them. The other pairs are 16x12."""
    root = ft.make_sots_outdoor(tmp_path / "SOTS", n=2)
    ft.save(root / "hazy" / "0003_0.8_0.2.jpg", size=size)
    ft.save(root / "gt" / "0003.png", size=size)
    if not refused:
        build(tmp_path, "sots-outdoor", root)
        return
    with pytest.raises(DatasetError, match=rf"1 test pair\(s\) are too small to score: .*0003_0.8_0.2.jpg is "
                       rf"{size[0]}x{size[1]}\. After the protocol's 0 px crop \(datasets.ds.protocol\)"):
        build(tmp_path, "sots-outdoor", root)


def test_the_protocol_crop_counts_against_the_scorable_size(tmp_path):
    root = ft.make_sots_outdoor(tmp_path / "SOTS", n=2)  # 16x12: 10 px high after a 1 px crop
    build(tmp_path, "sots-outdoor", root, protocol="rgb-ds-crop0")
    with pytest.raises(DatasetError, match=r"2 test pair\(s\) are too small.*1 px crop"):
        build(tmp_path, "sots-outdoor", root, protocol={"crop": 1})


def test_orphans_on_both_sides_are_named_with_counts(tmp_path):
    root = ft.make_sots_outdoor(tmp_path / "SOTS", n=2)
    ft.save(root / "hazy" / "0099_0.8_0.2.jpg")
    ft.save(root / "hazy" / "0098_0.8_0.2.jpg")
    ft.save(root / "gt" / "0077.png")
    with pytest.raises(DatasetError) as info:
        build(tmp_path, "sots-outdoor", root)
    message = str(info.value)
    assert "2 hazy image(s) have no ground truth" in message
    assert "0098_0.8_0.2.jpg" in message and "0099_0.8_0.2.jpg" in message
    assert "1 ground-truth image(s) have no hazy image" in message and "0077.png" in message


def test_orphan_list_is_capped_at_ten(tmp_path):
    root = ft.make_nh_haze(tmp_path / "NH", n=1)
    for i in range(2, 15):
        ft.save(root / f"{i:02d}_hazy.png")
    with pytest.raises(DatasetError, match=r"13 hazy image\(s\).*\(\+3 more\)"):
        build(tmp_path, "nh-haze", root)


def test_truncated_image_is_named_in_full_mode_only(tmp_path):
    root = ft.make_rtts(tmp_path / "RTTS", n=2)
    bad = root / "JPEGImages" / "AM_Bing_212.png"
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=r"AM_Bing_212\.png"):
        build(tmp_path, "rtts", root)
    _, meta = build(tmp_path, "rtts", root, verify="header")
    assert meta["verify"] == "header"


def test_empty_image_is_named(tmp_path):
    root = ft.make_rtts(tmp_path / "RTTS", n=2)
    (root / "JPEGImages" / "AM_Bing_211.png").write_bytes(b"")
    with pytest.raises(ImageError, match=r"AM_Bing_211\.png.*empty"):
        build(tmp_path, "rtts", root, verify="header")


def test_size_mismatch_names_both_files(tmp_path):
    root = ft.make_sots_outdoor(tmp_path / "SOTS", n=2)
    ft.save(root / "gt" / "0002.png", size=(17, 12))
    with pytest.raises(DatasetError) as info:
        build(tmp_path, "sots-outdoor", root)
    message = str(info.value)
    assert "0002_0.8_0.04.jpg is 16x12" in message and "0002.png is 17x12" in message
    assert "0001" not in message


def test_sots_indoor_gt_smaller_than_hazy_is_a_mismatch(tmp_path):
    root = ft.make_sots_indoor(tmp_path / "SOTS", n=1, per_gt=1, border=False)
    ft.save(root / "gt" / "1400.png", size=(7, 6))
    with pytest.raises(DatasetError, match=r"1400\.png is 7x6"):
        build(tmp_path, "sots-indoor", root)


def test_unknown_spec_key_is_named_with_the_allowed_keys(tmp_path):
    root = ft.make_its(tmp_path / "ITS", n_scenes=2, per_scene=1)
    with pytest.raises(ConfigError) as info:
        build(tmp_path, "reside-its", root, name="its", n_clean=3)
    message = str(info.value)
    assert message.startswith("datasets.its.n_clean")
    for key in ("n_clear", "n_hazy", "clear_fraction", "hazy_per_scene", "seed", *COMMON_KEYS):
        assert key in message
    # a key allowed for one adapter is unknown to another
    with pytest.raises(ConfigError, match=r"datasets\.ds\.subset"):
        build(tmp_path, "rtts", ft.make_rtts(tmp_path / "RTTS"), subset="real")


def test_unknown_adapter_and_bad_common_values(tmp_path):
    with pytest.raises(ConfigError, match=r"datasets\.ds\.adapter: 'reside'.*sots-indoor"):
        build_manifest("ds", {"adapter": "reside", "root": str(tmp_path)}, tmp_path / "out")
    root = ft.make_rtts(tmp_path / "RTTS")
    with pytest.raises(ConfigError, match=r"datasets\.ds\.verify"):
        build(tmp_path, "rtts", root, verify="quick")
    with pytest.raises(ConfigError, match=r"datasets\.ds\.limit"):
        build(tmp_path, "rtts", root, limit=0)


@pytest.mark.parametrize("mode", ["L", "RGBA"])
def test_grayscale_and_rgba_warn_but_pass(tmp_path, mode):
    root = ft.make_nh_haze(tmp_path / "NH", n=2)
    ft.save(root / "02_hazy.png", mode=mode)
    with pytest.warns(UserWarning, match=r"02_hazy\.png"):
        frame, meta = build(tmp_path, "nh-haze", root)
    assert len(frame) == 4
    assert len(meta["warnings"]) == 1 and "02_hazy.png" in meta["warnings"][0]


def test_clean_tree_gives_no_warning(tmp_path):
    root = ft.make_nh_haze(tmp_path / "NH", n=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, meta = build(tmp_path, "nh-haze", root)
    assert meta["warnings"] == []


def test_registry_documents_every_adapter():
    expected = {
        "reside-its", "reside-ots", "sots-indoor", "sots-outdoor", "hsts", "rtts", "i-haze", "o-haze",
        "nh-haze", "dense-haze", "paired-folders", "unpaired-folders", "synthetic",
    }  # fmt: skip
    assert set(ADAPTERS) == expected
    assert all(a.doc for a in ADAPTERS.values())
