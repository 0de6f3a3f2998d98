"""Bad images through every real entry point: each is handled (converted, with a warning naming the file) or
stopped with an `ImageError` naming the file, never a traceback from deep inside PIL or torch."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageFile

from cddgan.data.adapters import build_manifest
from cddgan.data.manifest import COLUMNS, read_manifest
from cddgan.data.manifest import test_pairs as pairs_of
from cddgan.data.unpaired import UnpairedSampler
from cddgan.errors import ImageError
from cddgan.evaluate import evaluate_outputs
from cddgan.io import read_image, write_image

REPO = Path(__file__).resolve().parents[1]
SIDE = 40
RNG = np.random.default_rng(7)
RGB = (RNG.random((SIDE, SIDE, 3)) * 255).astype(np.uint8)
GRAY16 = RNG.integers(0, 65536, size=(SIDE, SIDE)).astype(np.uint16)
GRAY16[0, :4] = [0, 1, 257, 65535]  # values 8 bits cannot tell apart from their neighbours

# Inputs that must be refused with a message naming the file, and inputs that are converted with a warning.
REFUSED = ["truncated-png", "truncated-jpeg", "zero-byte", "text-named-png", "huge-header"]
CONVERTED = ["grayscale", "rgba", "16-bit"]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def huge_png_header(width: int = 30000, height: int = 30000) -> bytes:
    """A valid PNG signature and header that claims width x height RGB pixels, with almost no data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + _png_chunk(b"IEND", b"")
    )


def make(kind: str, folder: Path, stem: str = "img") -> Path:
    """Write one input of the given kind into folder; returns its path (the suffix depends on the kind)."""
    folder.mkdir(parents=True, exist_ok=True)
    if kind in ("good", "truncated-png"):
        path = folder / f"{stem}.png"
        Image.fromarray(RGB).save(path)
        if kind == "truncated-png":
            data = path.read_bytes()
            path.write_bytes(data[: len(data) // 2])
    elif kind == "truncated-jpeg":
        path = folder / f"{stem}.jpg"
        Image.fromarray(RGB).save(path, quality=95)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "zero-byte":
        path = folder / f"{stem}.png"
        path.write_bytes(b"")
    elif kind == "png-named-jpg":
        path = folder / f"{stem}.jpg"
        Image.fromarray(RGB).save(path, format="PNG")
    elif kind == "text-named-png":
        path = folder / f"{stem}.png"
        path.write_text("this is not an image\n")
    elif kind == "huge-header":
        path = folder / f"{stem}.png"
        path.write_bytes(huge_png_header())
    elif kind == "grayscale":
        path = folder / f"{stem}.png"
        Image.fromarray(RGB[..., 0]).save(path)
    elif kind == "rgba":
        path = folder / f"{stem}.png"
        alpha = np.full((SIDE, SIDE, 1), 77, np.uint8)
        Image.fromarray(np.concatenate([RGB, alpha], axis=2)).save(path)
    elif kind == "16-bit":
        path = folder / f"{stem}.png"
        Image.fromarray(GRAY16).save(path)
    elif kind == "small":
        path = folder / f"{stem}.png"
        Image.fromarray(RGB[:12, :20]).save(path)
    else:
        raise ValueError(kind)
    return path


def expected(kind: str) -> np.ndarray:
    """What a converted input must read as, computed here from the source arrays (float32 HxWx3)."""
    if kind in ("good", "png-named-jpg", "rgba"):
        return RGB.astype(np.float32) / 255.0
    if kind == "grayscale":
        return np.repeat(RGB[..., :1].astype(np.float32) / 255.0, 3, axis=2)
    if kind == "16-bit":
        return np.repeat((GRAY16.astype(np.float64) / 65535.0).astype(np.float32)[..., None], 3, axis=2)
    raise ValueError(kind)


@pytest.fixture
def no_decoding(monkeypatch):
    """Fail the test if any image's pixel data is decoded (a huge header must be refused before that)."""

    def load(self, *args, **kwargs):
        raise AssertionError(f"{getattr(self, 'filename', '?')}: pixel data was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


# ---------------------------------------------------------------- cddgan.io.read_image


@pytest.mark.parametrize("kind", REFUSED)
def test_read_image_refuses_and_names_the_file(tmp_path, kind, request):
    if kind == "huge-header":
        request.getfixturevalue("no_decoding")
    path = make(kind, tmp_path)
    with pytest.raises(ImageError) as info:
        read_image(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("kind", CONVERTED)
def test_read_image_converts_with_a_warning_naming_the_file(tmp_path, kind):
    path = make(kind, tmp_path)
    with pytest.warns(UserWarning, match=str(path)):
        image = read_image(path)
    assert image.dtype == np.float32 and image.shape == (SIDE, SIDE, 3)
    np.testing.assert_array_equal(image, expected(kind))


def test_16_bit_keeps_its_precision(tmp_path):
    path = make("16-bit", tmp_path)
    with pytest.warns(UserWarning):
        image = read_image(path)
    # 0, 1/65535 and 257/65535 would collapse onto 0, 0 and 1/255 in 8 bits.
    assert image[0, 0, 0] == 0.0 and 0.0 < image[0, 1, 0] < image[0, 2, 0] < 1.0 / 255.0 + 1e-9
    assert image[0, 3, 0] == 1.0


def test_16_bit_rgb_is_read_to_8_bit_precision(tmp_path):
    """PIL reduces 48-bit RGB PNGs to 8 bits per channel on open: the values stay within one 8-bit step."""
    rgb16 = (RNG.random((8, 8, 3)) * 65535).astype(np.uint16)
    rows = b"".join(b"\0" + row.astype(">u2").tobytes() for row in rgb16)
    header = struct.pack(">IIBBBBB", 8, 8, 16, 2, 0, 0, 0)
    path = tmp_path / "rgb16.png"
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(rows))
        + _png_chunk(b"IEND", b"")
    )
    image = read_image(path)
    assert image.shape == (8, 8, 3)
    np.testing.assert_allclose(image, rgb16 / 65535.0, atol=1.0 / 255.0)


def test_png_named_jpg_is_read_by_content_without_warning(tmp_path):
    path = make("png-named-jpg", tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = read_image(path)
    np.testing.assert_array_equal(image, expected("png-named-jpg"))  # lossless: it was never a JPEG


# ---------------------------------------------------------------- the unpaired training sampler


def manifest_frame(hazy: list[Path], clear: list[Path]) -> pd.DataFrame:
    rows = [
        {"dataset": "d", "split": "train", "domain": domain, "image_id": p.stem + domain, "path": str(p)}
        for domain, paths in (("hazy", hazy), ("clear", clear))
        for p in paths
    ]
    frame = pd.DataFrame(rows)
    for column in COLUMNS:
        if column not in frame:
            frame[column] = ""
    return frame[COLUMNS]


@pytest.mark.parametrize("kind", REFUSED)
def test_sampler_names_a_broken_training_image(tmp_path, kind):
    bad = make(kind, tmp_path / "hazy")
    good = make("good", tmp_path / "clear")
    # cache "auto" first peeks at the first file's header to size the cache: that must not crash either.
    sampler = UnpairedSampler(manifest_frame([bad], [good]), crop=16, cache="auto", seed=0)
    with pytest.raises(ImageError) as info:
        sampler.next()
    assert str(bad) in str(info.value)


def test_sampler_refuses_images_smaller_than_the_crop_before_the_first_draw(tmp_path):
    # found only when drawn, a small image would stop the run at the same iteration on every resume
    smalls = [make("small", tmp_path / "hazy", f"small{i}") for i in range(12)]
    goods = [make("good", tmp_path / "hazy", f"good{i}") for i in range(3)]
    clear = make("good", tmp_path / "clear")
    with pytest.raises(ImageError, match=r"12 of 15 hazy training images are smaller than the crop 32") as info:
        UnpairedSampler(manifest_frame([*goods, *smalls], [clear]), crop=32, cache=False, seed=0)
    message = str(info.value)
    assert f"{smalls[0]} (20x12)" in message and "and 2 more" in message and "training.load_size" in message
    assert not any(str(g) in message for g in goods)


def test_a_truncated_training_image_says_how_to_find_the_others(tmp_path):
    bad = make("truncated-png", tmp_path / "hazy")
    sampler = UnpairedSampler(manifest_frame([bad], [make("good", tmp_path / "clear")]), crop=16, cache=False)
    with pytest.raises(ImageError, match=r"truncated.*verify: full to list every such file"):
        sampler.next()


def test_sampler_upscales_a_small_image_with_load_size(tmp_path):
    small = make("small", tmp_path / "hazy")
    good = make("good", tmp_path / "clear")
    sampler = UnpairedSampler(manifest_frame([small], [good]), crop=32, load_size=32, cache=False, seed=0)
    hazy, clear = sampler.next()
    assert hazy.shape == clear.shape == (1, 3, 32, 32)


@pytest.mark.parametrize("kind", CONVERTED)
def test_sampler_trains_on_converted_images(tmp_path, kind):
    path = make(kind, tmp_path / "hazy")
    good = make("good", tmp_path / "clear")
    sampler = UnpairedSampler(manifest_frame([path], [good]), crop=SIDE, flip=False, cache=True, seed=0)
    with pytest.warns(UserWarning, match=str(path)):
        hazy, _ = sampler.next()
    # crop == image size and no flip: the batch is the whole image, rounded to uint8 by the cache, in [-1, 1]
    want = np.rint(expected(kind) * 255.0) / 127.5 - 1.0
    np.testing.assert_allclose(hazy[0].permute(1, 2, 0).numpy(), want, atol=1e-6)


# ---------------------------------------------------------------- the paired-folders dataset adapter


def paired_tree(root: Path, kind: str) -> Path:
    """root/hazy/{a.*, b.png} and root/clear/{a.png, b.png}; hazy 'a' is of the given kind."""
    bad = make(kind, root / "hazy", "a")
    make("good", root / "hazy", "b")
    make("good", root / "clear", "a")
    make("good", root / "clear", "b")
    return bad


def build(root: Path, out: Path) -> Path:
    return build_manifest("ds", {"adapter": "paired-folders", "root": str(root)}, out)


@pytest.mark.parametrize("kind", REFUSED)
def test_adapter_refuses_and_names_the_file(tmp_path, kind):
    bad = paired_tree(tmp_path / "root", kind)
    with pytest.raises(ImageError) as info:
        build(tmp_path / "root", tmp_path / "out")
    assert str(bad.resolve()) in str(info.value)
    assert not (tmp_path / "out" / "manifest.csv").exists()


@pytest.mark.parametrize("kind", CONVERTED)
def test_adapter_warns_about_converted_images_and_they_read_as_rgb(tmp_path, kind):
    bad = paired_tree(tmp_path / "root", kind)
    with pytest.warns(UserWarning, match=r"hazy/a\.png"):
        path = build(tmp_path / "root", tmp_path / "out")
    frame = read_manifest(path)
    row = frame[(frame["domain"] == "hazy") & (frame["image_id"] == "a")]
    assert Path(row["path"].item()) == bad.resolve()
    with pytest.warns(UserWarning):
        np.testing.assert_array_equal(read_image(row["path"].item()), expected(kind))


def test_adapter_accepts_a_png_named_jpg(tmp_path):
    bad = paired_tree(tmp_path / "root", "png-named-jpg")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = read_manifest(build(tmp_path / "root", tmp_path / "out"))
    hazy = frame[(frame["domain"] == "hazy") & (frame["image_id"] == "a")]
    assert Path(hazy["path"].item()) == bad.resolve()


# ---------------------------------------------------------------- cddgan evaluate: a bad output file


def outputs_for(manifest: Path, folder: Path) -> list[str]:
    """A complete output folder (each hazy test image written as its own 'dehazed' output); returns the ids."""
    pairs = pairs_of(read_manifest(manifest))
    for row in pairs.itertuples(index=False):
        write_image(folder / f"{row.image_id}.png", read_image(row.path))
    return list(pairs["image_id"])


def evaluate(manifest: Path, outputs: Path, out: Path) -> pd.DataFrame:
    ids = {"experiment": "e", "dataset": "d", "run": "r", "seed": 0}
    return evaluate_outputs(manifest, outputs, "rgb", out, ids, progress=False)


@pytest.mark.parametrize("kind", [k for k in REFUSED if k != "truncated-jpeg"])
def test_evaluate_names_a_bad_output(tmp_path, tiny_synthetic, kind):
    ids = outputs_for(tiny_synthetic, tmp_path / "outputs")
    target = tmp_path / "outputs" / f"{ids[1]}.png"
    shutil.copyfile(make(kind, tmp_path / "bad"), target)
    with pytest.raises(ImageError) as info:
        evaluate(tiny_synthetic, tmp_path / "outputs", tmp_path / "metrics.csv")
    assert str(target) in str(info.value)
    assert not (tmp_path / "metrics.csv").exists()


def test_evaluate_names_an_output_of_the_wrong_size(tmp_path, tiny_synthetic):
    ids = outputs_for(tiny_synthetic, tmp_path / "outputs")
    target = tmp_path / "outputs" / f"{ids[0]}.png"
    write_image(target, np.zeros((12, 20, 3), np.float32))
    with pytest.raises(ImageError, match=r"is 20x12 px but its ground truth") as info:
        evaluate(tiny_synthetic, tmp_path / "outputs", tmp_path / "metrics.csv")
    assert str(target) in str(info.value)


def test_evaluate_scores_a_grayscale_output_with_a_warning(tmp_path, tiny_synthetic):
    ids = outputs_for(tiny_synthetic, tmp_path / "outputs")
    target = tmp_path / "outputs" / f"{ids[2]}.png"
    Image.fromarray(np.rint(read_image(target)[..., 0] * 255).astype(np.uint8)).save(target)
    with pytest.warns(UserWarning, match=str(target)):
        frame = evaluate(tiny_synthetic, tmp_path / "outputs", tmp_path / "metrics.csv")
    assert list(frame["image_id"]) == ids and frame["psnr"].notna().all()


def test_evaluate_command_line_reports_a_truncated_output_without_traceback(tmp_path, tiny_synthetic):
    ids = outputs_for(tiny_synthetic, tmp_path / "outputs")
    target = tmp_path / "outputs" / f"{ids[0]}.png"
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    out = tmp_path / "metrics.csv"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-m", "cddgan", "evaluate", "--manifest", str(tiny_synthetic), "--outputs",
         str(tmp_path / "outputs"), "--protocol", "rgb", "--experiment", "e", "--dataset", "d", "--run", "r",
         "--seed", "0", "--out", str(out), "--quiet"],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )
    assert result.returncode == 1
    assert str(target) in result.stderr and "truncated" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()
