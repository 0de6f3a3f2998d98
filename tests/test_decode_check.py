"""make_data decodes every image once, in parallel, cached while the files are unchanged, names every bad
file in one error before any training starts, and sums up what it converts in one line on stderr."""

from __future__ import annotations

import json
import os
from pathlib import Path

import fake_trees as ft
import numpy as np
import pytest
from PIL import Image, ImageFile

from cddgan.data.adapters import build_manifest
from cddgan.data.adapters.decode import BAD_LIST_NAME, CACHE_NAME, BadImages, inspect_images
from cddgan.data.manifest import read_manifest
from cddgan.errors import DatasetError, ImageError


def build(tmp_path: Path, root: Path, adapter: str = "rtts", **spec) -> tuple[Path, dict]:
    path = build_manifest("ds", {"adapter": adapter, "root": str(root), **spec}, tmp_path / "out")
    return path, json.loads(path.with_suffix(".json").read_text())


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.fixture
def decodes(monkeypatch) -> list[str]:
    """Records every image whose pixels are decoded (header reads do not decode)."""
    seen: list[str] = []
    load = ImageFile.ImageFile.load

    def counting(self, *args, **kwargs):
        seen.append(getattr(self, "filename", "?"))
        return load(self, *args, **kwargs)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting)
    return seen


def test_every_bad_file_is_named_in_one_error_before_anything_is_written(tmp_path):
    root = ft.make_rtts(tmp_path / "RTTS", n=8)
    folder = root / "JPEGImages"
    for stem in ("AM_Bing_212", "AM_Bing_215", "AM_Bing_218"):
        truncate(folder / f"{stem}.png")
    (folder / "AM_Bing_213.png").write_bytes(b"")
    (folder / "AM_Bing_214.png").write_text("not an image\n")
    with pytest.raises(BadImages) as info:
        build(tmp_path, root)
    assert isinstance(info.value, DatasetError) and isinstance(info.value, ImageError)
    message = str(info.value)
    assert message.startswith("5 of 8 images cannot be read")
    for stem in ("212", "213", "214", "215", "218"):
        assert f"AM_Bing_{stem}.png" in message
    assert "AM_Bing_211.png" not in message and "empty (0 bytes)" in message
    listed = (tmp_path / "out" / BAD_LIST_NAME).read_text().splitlines()
    assert len(listed) == 5 and str(tmp_path / "out" / BAD_LIST_NAME) in message
    assert not (tmp_path / "out" / "manifest.csv").exists()
    # fixed: the list goes away with the next build
    for stem in ("212", "213", "214", "215", "218"):
        ft.save(folder / f"AM_Bing_{stem}.png")
    build(tmp_path, root)
    assert not (tmp_path / "out" / BAD_LIST_NAME).exists()


def test_large_sets_are_decoded_too_with_a_progress_bar(tmp_path, capfd):
    """Up to now sets of more than 2,000 images were checked by their headers only."""
    root = tmp_path / "RTTS"
    first = ft.save(root / "JPEGImages" / "AM_Bing_0.png")
    for i in range(1, 2001):
        os.link(first, root / "JPEGImages" / f"AM_Bing_{i}.png")
    truncate(ft.save(root / "JPEGImages" / "AM_Bing_2001.png"))
    with pytest.raises(BadImages, match=r"(?s)1 of 2002 images cannot be read.*AM_Bing_2001\.png"):
        build(tmp_path, root)
    assert "decode 2002 images" in capfd.readouterr().err


def test_an_unchanged_set_is_not_decoded_again(tmp_path, decodes, capfd):
    root = ft.make_rtts(tmp_path / "RTTS", n=3)
    _, meta = build(tmp_path, root)
    assert meta["verify"] == "full" and meta["decoded"] == "all" and len(decodes) == 3
    assert (tmp_path / "out" / CACHE_NAME).is_file()
    decodes.clear()
    _, meta = build(tmp_path, root, protocol="y")  # another key, the same files
    assert meta["decoded"] == "cached" and decodes == []
    assert "3 images checked (decoded before, unchanged since)" in capfd.readouterr().err
    # an image changed since: the whole set is decoded again, and a truncation is found
    truncate(root / "JPEGImages" / "AM_Bing_212.png")
    with pytest.raises(BadImages, match=r"AM_Bing_212\.png"):
        build(tmp_path, root)
    ft.save(root / "JPEGImages" / "AM_Bing_212.png")
    _, meta = build(tmp_path, root)
    assert meta["decoded"] == "all" and len(decodes) >= 3


def test_verify_header_opts_out_of_decoding(tmp_path, decodes):
    root = ft.make_rtts(tmp_path / "RTTS", n=3)
    truncate(root / "JPEGImages" / "AM_Bing_212.png")
    _, meta = build(tmp_path, root, verify="header")
    assert meta["verify"] == "header" and meta["decoded"] == "headers only" and decodes == []
    assert not (tmp_path / "out" / CACHE_NAME).exists()


def test_parallel_reading_names_bad_files_in_the_order_given(tmp_path):
    paths = [ft.save(tmp_path / f"{i:02d}.png") for i in range(20)]
    for i in (3, 11, 17):
        truncate(paths[i])
    messages = []
    for workers in (1, 6):
        with pytest.raises(BadImages) as info:
            inspect_images(paths, "full", None, progress=False, workers=workers)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    assert [line.split(":")[0].strip() for line in messages[0].splitlines()[1:]] == [str(paths[i]) for i in (3, 11, 17)]
    found = inspect_images([p for i, p in enumerate(paths) if i not in (3, 11, 17)], "full", None, workers=4)
    assert set(found.sizes.values()) == {ft.SIZE}


def conversion_tree(root: Path) -> Path:
    """An NH-HAZE tree whose hazy images are stored in the modes read_image converts, 12 of them grayscale."""
    ft.make_nh_haze(root, n=16)
    for i in range(1, 13):
        ft.save(root / f"{i:02d}_hazy.png", mode="L")
    ft.save(root / "13_hazy.png", mode="RGBA")
    ft.save(root / "14_hazy.png", mode="P")
    gray16 = (ft.pixels("15_hazy.png")[..., 0].astype(np.uint16) * 257)
    Image.fromarray(gray16).save(root / "15_hazy.png")
    return root


def test_conversions_are_summed_up_in_one_line_and_listed_in_full(tmp_path, capfd):
    root = conversion_tree(tmp_path / "NH")
    with pytest.warns(UserWarning):
        path, meta = build(tmp_path, root, adapter="nh-haze", test_max_side=16)
    record = meta["conversions"]
    assert record["counts"] == {"grayscale": 12, "16-bit": 1, "alpha": 1, "palette": 1}
    assert len(record["files"]["grayscale"]) == 12 and "01_hazy.png" in record["files"]["grayscale"]
    assert "(+3 more)" in meta["warnings"][0]  # the warning names 10 of the 13; the sidecar every one
    lines = [line for line in capfd.readouterr().err.splitlines() if line.startswith("make_data ds:")]
    assert len(lines) == 1
    assert ("32 images checked (every pixel decoded); converted to RGB on reading: 12 grayscale, 1 16-bit, "
            "1 alpha, 1 palette") in lines[0]
    assert len(read_manifest(path)) == 32


def test_a_clean_set_says_so_in_one_line(tmp_path, capfd):
    root = ft.make_nh_haze(tmp_path / "NH", n=2)
    _, meta = build(tmp_path, root, adapter="nh-haze")
    assert meta["conversions"]["counts"] == {}
    err = capfd.readouterr().err.strip().splitlines()
    assert err == ["make_data ds: 4 images checked (every pixel decoded); no conversions"]


def test_the_line_counts_shrunk_test_images_and_cropped_ground_truth(tmp_path, capfd):
    root = tmp_path / "NH"
    for i in (1, 2):
        ft.save(root / f"{i:02d}_hazy.png", size=(40, 30))
        ft.save(root / f"{i:02d}_GT.png", size=(40, 30))
    build(tmp_path, root, adapter="nh-haze", test_max_side=24)
    line = capfd.readouterr().err.strip().splitlines()[-1]
    assert line == ("make_data ds: 4 images checked (every pixel decoded); no conversions; 4 test images shrunk to "
                    "test_max_side 24 (every file in manifest.json: conversions, test_resized, gt_cropped)")
    sots = ft.make_sots_indoor(tmp_path / "SOTS", n=2, per_gt=1, border=True)
    build_manifest("sots", {"adapter": "sots-indoor", "root": str(sots)}, tmp_path / "sots")
    assert "2 ground-truth images centre-cropped to their hazy size" in capfd.readouterr().err
