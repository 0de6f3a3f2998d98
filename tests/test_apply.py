"""`cddgan apply`: any photo in (size, mode, bit depth, orientation), a PNG of the same size out; inputs
never overwritten; bad files named and skipped with exit status 1; tiles that agree with the whole image.

`identity` (training-free, returns its input) makes the image plumbing exact to check: what goes in must
come out, sample for sample. A tiny CUT generator saved with the model-file API stands for a trained model.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from cddgan.apply import apply, gather
from cddgan.cli import main
from cddgan.dehaze import dehaze_image
from cddgan.imagefile import encode_png16, read_photo, upright, write_png
from cddgan.methods.registry import build_method
from cddgan.modelfile import describe, write_model
from cddgan.tiling import dehaze_any, fixed_norm_stats, ramp, starts, thumbnail

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CPU = torch.device("cpu")
TINY_CUT = {"method": "cut", "settings": {"ngf": 8, "n_blocks": 1, "ndf": 8, "netF_nc": 16, "num_patches": 16}}


def tiny_model(path, seed=0, **payload):
    """A model.pt of a tiny CUT (random weights) written with the model-file API, as training writes it."""
    torch.manual_seed(seed)
    spec = {"experiment": "e", "run": "cut-tiny", "seed": seed, "plugins": [], "training": {}, **TINY_CUT}
    method = build_method(spec, CPU)
    about = {"dataset": "tiny", "protocol": "rgb", "config_digest": "0123abcd"}
    write_model(path, spec, {}, 10, method.state_dict(), description=describe(spec, method, about), **payload)
    return path


@pytest.fixture(scope="module")
def trained_cut(tmp_path_factory, tiny_synthetic):
    """A tiny CUT trained for 100 iterations (3 s): smooth like a trained generator, unlike random weights,
    whose outputs are flat (CUT's init) or chaotic (torch's default init)."""
    from cddgan.config.defaults import TRAINING_DEFAULTS
    from cddgan.training.loop import Trainer

    out = tmp_path_factory.mktemp("trained_cut")
    training = {**TRAINING_DEFAULTS, "iterations": 100, "batch_size": 1, "crop": 32, "load_size": None,
                "checkpoint_every": 1000, "log_every": 50, "device": "cpu", "threads": 1, "eval_every": 0, "lr": 2e-3}
    spec = {"experiment": "e", "run": "cut-tiny", "seed": 0, "training": training, "plugins": [], **TINY_CUT}
    Trainer(spec, tiny_synthetic, out / "ckpt", log=lambda _: None, progress=False).run(out / "model.pt", out / "l.csv")
    from cddgan.modelfile import method_from_payload, read_model

    return method_from_payload(read_model(out / "model.pt"), out / "model.pt", CPU)


def scene(height, width, seed=0):
    """A smooth hazy-looking RGB image in [0, 1] (sky, a ridge, texture) of any size."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    ridge = (y > height * (0.5 + 0.1 * np.sin(x / max(width, 1) * 6))).astype(np.float32)
    base = np.stack([0.7 - 0.3 * ridge, 0.75 - 0.2 * ridge, 0.8 - 0.35 * ridge], axis=2)
    return np.clip(base + 0.05 * rng.standard_normal((height, width, 3)), 0, 1).astype(np.float32)


def save_u8(path, array, mode=None, **kwargs):
    Image.fromarray((np.clip(array, 0, 1) * 255).round().astype(np.uint8), mode).save(path, **kwargs)
    return path


def run(*args):
    return main(["apply", *map(str, args), "--quiet"])


def psnr(a, b):
    return 10 * np.log10(1 / max(float(np.mean((np.asarray(a, np.float64) - b) ** 2)), 1e-20))


# ---- sizes and tiles ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("height", "width"), [(1, 1), (3, 7), (769, 1023)])
def test_any_size_comes_back_the_same_size(tmp_path, height, width):
    model = tiny_model(tmp_path / "model.pt")
    photo = save_u8(tmp_path / "photo.png", scene(height, width))
    assert run(model, photo, "--out", tmp_path / "out") == 0
    assert run(model, photo, "--out", tmp_path / "tiled", "--max-pixels", "40000", "--overlap", "32") == 0
    assert run("dcp", photo, "--out", tmp_path / "dcp") == 0
    for folder in ("out", "tiled", "dcp"):
        with Image.open(tmp_path / folder / "photo.png") as out:
            assert out.size == (width, height) and out.mode == "RGB"


def test_tiles_match_the_whole_image(trained_cut):
    """On an image small enough for both (150x203, not a multiple of 4): tiles normalised with the whole
    image's statistics (--tile; the image fits --max-pixels) match it to a hundredth at worst (measured:
    73-78 dB, at most 0.003); tiles normalised with a thumbnail's (--max-pixels below the image: the
    thumbnail has a third of its pixels) match it closely (measured 35-38 dB)."""
    image = scene(150, 203, seed=1)
    whole = dehaze_image(trained_cut, image, CPU)
    assert whole.std() > 0.1  # a real picture, not a flat grey that any tiling would match
    tiled = dehaze_any(trained_cut, image, CPU, max_pixels=10**6, tile=96, overlap=48)
    thumb = dehaze_any(trained_cut, image, CPU, max_pixels=100 * 100, overlap=48)
    assert tiled.shape == thumb.shape == image.shape
    assert np.abs(tiled - whole).max() < 0.01 and psnr(tiled, whole) > 65
    assert psnr(thumb, whole) > 30


def test_a_training_free_method_is_not_tiled(tmp_path):
    """DCP estimates the airlight over the whole image: tiles would disagree, so it always runs whole."""
    dcp = build_method({"method": "dcp", "settings": {}}, CPU)
    image = scene(90, 120)
    assert np.array_equal(dehaze_any(dcp, image, CPU, max_pixels=32 * 32, tile=32), dehaze_image(dcp, image, CPU))


def test_tile_layout_covers_the_image_and_blends():
    assert starts(100, 100, 16) == [0] and starts(100, 64, 16) == [0, 36]
    assert starts(200, 64, 16) == [0, 48, 96, 136]
    weights = ramp(64, 16, before=True, after=False)
    assert weights[0] < 0.01 and weights[-1] == 1 and np.all(np.diff(weights) >= 0)
    # two neighbours' ramps over an overlap of exactly `overlap` pixels sum to 1
    rising, falling = ramp(64, 16, True, False)[:16], ramp(64, 16, False, True)[-16:]
    assert np.allclose(rising + falling, 1, atol=2e-3)


def test_norm_statistics_are_restored_after_tiling(trained_cut):
    image = scene(40, 40)
    before = dehaze_image(trained_cut, image, CPU)
    with fixed_norm_stats(trained_cut) as norms:
        dehaze_image(trained_cut, thumbnail(image, 20 * 20), CPU)
        norms.replay()
        assert not np.array_equal(dehaze_image(trained_cut, image, CPU), before)  # the thumbnail's statistics
    assert np.array_equal(dehaze_image(trained_cut, image, CPU), before)


# ---- modes, bit depths, orientation -------------------------------------------------------------------
def test_16_bit_in_gives_16_bit_out(tmp_path):
    rng = np.random.default_rng(0)
    samples = rng.integers(0, 65536, (21, 13, 3), dtype=np.uint16)
    write_png(tmp_path / "deep.png", samples)
    assert run("identity", tmp_path / "deep.png", "--out", tmp_path / "out") == 0
    out = read_photo(tmp_path / "out" / "deep.png")
    assert out.bits == 16 and not out.grey
    assert np.array_equal(np.rint(out.rgb * 65535).astype(np.uint16), samples)  # every one of the 16 bits kept


def test_the_16_bit_png_writer_agrees_with_an_independent_decoder(tmp_path):
    """encode_png16 read back by Pillow (high bytes) and, where available, torchvision's 16-bit decoder."""
    rng = np.random.default_rng(1)
    for channels in (1, 2, 3, 4):
        samples = rng.integers(0, 65536, (9, 11, channels), dtype=np.uint16)
        data = encode_png16(samples)
        (tmp_path / f"c{channels}.png").write_bytes(data)
        photo = read_photo(tmp_path / f"c{channels}.png")
        colour = samples[..., :1] if channels in (1, 2) else samples[..., :3]
        assert np.array_equal(np.rint(photo.rgb * 65535).astype(np.uint16)[..., : colour.shape[2]], colour)
        if channels in (2, 4):
            assert np.array_equal(np.rint(photo.alpha * 65535).astype(np.uint16), samples[..., -1])
    io = pytest.importorskip("torchvision.io")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchvision's image codecs are deprecated (torchcodec); fine for a check
        decoded = io.decode_png(torch.frombuffer(bytearray(encode_png16(samples)), dtype=torch.uint8))
    assert np.array_equal(decoded.permute(1, 2, 0).numpy().astype(np.uint16), samples)


def test_16_bit_tiff_is_read_at_16_bits(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    samples = np.random.default_rng(2).integers(0, 65536, (8, 10, 3), dtype=np.uint16)
    for compression in (None, "zlib"):
        tifffile.imwrite(tmp_path / "deep.tif", samples, photometric="rgb", compression=compression)
        photo = read_photo(tmp_path / "deep.tif")
        assert photo.bits == 16 and np.array_equal(np.rint(photo.rgb * 65535).astype(np.uint16), samples)


def test_grey_in_grey_out(tmp_path):
    grey = scene(30, 40)[..., 0]
    save_u8(tmp_path / "grey.png", grey, "L")
    grey16 = (grey * 65535).astype(np.uint16)
    write_png(tmp_path / "grey16.png", grey16)
    assert run("identity", tmp_path / "grey.png", tmp_path / "grey16.png", "--out", tmp_path / "id") == 0
    assert run("dcp", tmp_path / "grey.png", "--out", tmp_path / "dcp") == 0
    with Image.open(tmp_path / "id" / "grey.png") as out, Image.open(tmp_path / "grey.png") as source:
        assert out.mode == "L" and np.array_equal(np.asarray(out), np.asarray(source))
    with Image.open(tmp_path / "dcp" / "grey.png") as out:
        assert out.mode == "L" and out.size == (40, 30)
    deep = read_photo(tmp_path / "id" / "grey16.png")
    assert deep.grey and deep.bits == 16 and np.array_equal(np.rint(deep.rgb[..., 0] * 65535).astype(np.uint16), grey16)


def test_rgba_keeps_its_alpha(tmp_path):
    rgb = scene(24, 32)
    alpha = np.linspace(0, 1, 24 * 32, dtype=np.float32).reshape(24, 32)  # every level from clear to opaque
    save_u8(tmp_path / "cutout.png", np.dstack([rgb, alpha]), "RGBA")
    assert run("identity", tmp_path / "cutout.png", "--out", tmp_path / "id") == 0
    assert run("dcp", tmp_path / "cutout.png", "--out", tmp_path / "dcp") == 0
    with Image.open(tmp_path / "cutout.png") as source, Image.open(tmp_path / "id" / "cutout.png") as out:
        assert out.mode == "RGBA" and np.array_equal(np.asarray(out), np.asarray(source))
    with Image.open(tmp_path / "cutout.png") as source, Image.open(tmp_path / "dcp" / "cutout.png") as out:
        assert out.mode == "RGBA" and np.array_equal(np.asarray(out)[..., 3], np.asarray(source)[..., 3])


def test_a_palette_image_becomes_rgb(tmp_path):
    save_u8(tmp_path / "rgb.png", scene(20, 30))
    with Image.open(tmp_path / "rgb.png") as img:
        img.convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(tmp_path / "palette.png")
    assert run("identity", tmp_path / "palette.png", "--out", tmp_path / "out") == 0
    with Image.open(tmp_path / "palette.png") as source, Image.open(tmp_path / "out" / "palette.png") as out:
        assert source.mode == "P" and out.mode == "RGB"
        assert np.array_equal(np.asarray(out), np.asarray(source.convert("RGB")))


def test_an_exif_rotated_jpeg_comes_out_upright(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90 degrees clockwise to view
    save_u8(tmp_path / "phone.jpg", scene(20, 36), exif=exif.tobytes(), quality=95)
    assert run("identity", tmp_path / "phone.jpg", "--out", tmp_path / "out") == 0
    with Image.open(tmp_path / "phone.jpg") as source, Image.open(tmp_path / "out" / "phone.png") as out:
        assert out.size == (20, 36)  # upright: portrait
        assert np.array_equal(np.asarray(out), np.asarray(ImageOps.exif_transpose(source).convert("RGB")))
        assert out.getexif().get(0x0112) is None  # stored upright, nothing left to rotate


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillow(orientation):
    array = (np.arange(5 * 7 * 3) % 251).reshape(5, 7, 3).astype(np.uint8)
    image = Image.fromarray(array)
    image.getexif()[0x0112] = orientation
    expected = np.asarray(ImageOps.exif_transpose(image))
    from cddgan.imagefile import Photo

    got = upright(Photo(array.astype(np.float32) / 255), orientation).rgb
    assert np.array_equal(np.rint(got * 255).astype(np.uint8), expected)


# ---- inputs, outputs, failures --------------------------------------------------------------------------
def test_a_truncated_file_among_good_ones_is_named_and_the_rest_are_written(tmp_path, capsys):
    for name in ("a", "c"):
        save_u8(tmp_path / f"{name}.jpg", scene(16, 16))
    data = (tmp_path / "a.jpg").read_bytes()
    (tmp_path / "b.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "notes.txt").write_text("not an image")
    code = run("dcp", tmp_path / "a.jpg", tmp_path / "b.jpg", tmp_path / "notes.txt", tmp_path / "c.jpg",
               "--out", tmp_path / "out")
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "c.png"]
    assert "written 2, skipped 0, failed 2" in err
    assert f"failed: {tmp_path / 'b.jpg'}: cannot decode it" in err and "truncated" in err
    assert f"failed: {tmp_path / 'notes.txt'}: not an image" in err


def test_an_output_onto_an_input_is_refused(tmp_path, capsys):
    save_u8(tmp_path / "a.png", scene(8, 8))
    before = (tmp_path / "a.png").read_bytes()
    assert run("dcp", tmp_path / "a.png", "--out", tmp_path) == 1
    err = capsys.readouterr().err
    assert "would write onto input files" in err and "--suffix" in err and "Traceback" not in err
    assert (tmp_path / "a.png").read_bytes() == before
    assert run("dcp", tmp_path / "a.png", "--out", tmp_path, "--suffix", "_dehazed") == 0
    assert (tmp_path / "a_dehazed.png").is_file()


def test_an_existing_output_is_skipped_unless_overwrite(tmp_path, capsys):
    save_u8(tmp_path / "a.png", scene(8, 8))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.png").write_bytes(b"mine")
    assert run("dcp", tmp_path / "a.png", "--out", tmp_path / "out") == 0
    err = capsys.readouterr().err
    assert "skipped 1" in err and str(tmp_path / "out" / "a.png") in err and "--overwrite" in err
    assert (tmp_path / "out" / "a.png").read_bytes() == b"mine"
    assert run("dcp", tmp_path / "a.png", "--out", tmp_path / "out", "--overwrite") == 0
    with Image.open(tmp_path / "out" / "a.png") as out:
        assert out.size == (8, 8)


def test_a_folder_with_recursive_keeps_its_structure(tmp_path):
    photos = tmp_path / "photos"
    (photos / "trip" / "day1").mkdir(parents=True)
    (photos / ".thumbs").mkdir()
    save_u8(photos / "top.jpg", scene(8, 8))
    save_u8(photos / "trip" / "day1" / "lake.png", scene(8, 8))
    save_u8(photos / ".thumbs" / "hidden.png", scene(8, 8))
    (photos / "trip" / "readme.md").write_text("notes")
    assert run("dcp", photos, "--out", tmp_path / "flat") == 0
    assert sorted(p.name for p in (tmp_path / "flat").rglob("*.png")) == ["top.png"]
    assert run("dcp", photos, "--recursive", "--out", tmp_path / "deep", "--suffix", "_d") == 0
    written = sorted(p.relative_to(tmp_path / "deep").as_posix() for p in (tmp_path / "deep").rglob("*.png"))
    assert written == ["top_d.png", "trip/day1/lake_d.png"]


def test_outputs_inside_the_input_folder_are_not_read_again(tmp_path, monkeypatch):
    save_u8(tmp_path / "a.png", scene(8, 8))
    assert run("dcp", tmp_path, "--out", tmp_path / "dehazed") == 0
    assert run("dcp", tmp_path, "--recursive", "--out", tmp_path / "dehazed", "--overwrite") == 0
    monkeypatch.chdir(tmp_path)
    assert run("dcp", "**/*.png", "--out", "dehazed", "--overwrite") == 0
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.png")) == ["a.png", "dehazed/a.png"]
    # --out the input folder itself: its files are the inputs, and a suffix keeps them apart
    assert run("dcp", tmp_path, "--out", tmp_path, "--suffix", "_d") == 0
    assert (tmp_path / "a_d.png").is_file()


def test_a_quoted_glob_is_expanded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "shots" / "b").mkdir(parents=True)
    save_u8(tmp_path / "shots" / "one.jpg", scene(8, 8))
    save_u8(tmp_path / "shots" / "b" / "two.jpg", scene(8, 8))
    save_u8(tmp_path / "shots" / "b" / "skip.png", scene(8, 8))
    assert run("dcp", "shots/**/*.jpg", "--out", "out") == 0
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png")) == [
        "b/two.png", "one.png"]
    assert run("dcp", "shots/*.gif", "--out", "none") == 1


def test_two_inputs_with_one_output_name_fail_the_second(tmp_path, capsys):
    save_u8(tmp_path / "a.jpg", scene(8, 8))
    save_u8(tmp_path / "a.png", scene(8, 8))
    assert run("dcp", tmp_path / "a.jpg", tmp_path / "a.png", "--out", tmp_path / "out") == 1
    assert "is also" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a.png"]


def test_gather_names_missing_inputs_and_empty_folders(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    jobs, failed, ignored = gather([str(tmp_path / "nope.png"), str(tmp_path / "empty")], tmp_path / "out")
    assert not jobs and ignored == 0
    assert failed == [(str(tmp_path / "nope.png"), "no such file or folder"),
                      (str(tmp_path / "empty"), "no images in this folder; add --recursive for its sub-folders")]


# ---- methods and models ---------------------------------------------------------------------------------
def test_training_free_settings_with_set(tmp_path, capsys):
    save_u8(tmp_path / "a.png", scene(32, 32))
    assert run("dcp", tmp_path / "a.png", "--out", tmp_path / "default") == 0
    settings = ("--set", "omega=0.5", "--set", "refine=false")
    assert run("dcp", tmp_path / "a.png", "--out", tmp_path / "light", *settings) == 0
    with Image.open(tmp_path / "default" / "a.png") as a, Image.open(tmp_path / "light" / "a.png") as b:
        assert not np.array_equal(np.asarray(a), np.asarray(b))
    assert run("dcp", tmp_path / "a.png", "--out", tmp_path / "bad", "--set", "omegaa=0.5") == 1
    assert "unknown setting" in capsys.readouterr().err


def test_a_trainable_method_name_asks_for_its_model_file(tmp_path, capsys):
    save_u8(tmp_path / "a.png", scene(8, 8))
    assert run("cut", tmp_path / "a.png", "--out", tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert "needs training" in err and "model.pt" in err and "dcp" in err
    assert run("no-such-method", tmp_path / "a.png", "--out", tmp_path / "out") == 1
    assert "unknown method" in capsys.readouterr().err


def test_a_failed_runs_model_file_says_what_to_do(tmp_path, capsys):
    spec = {"experiment": "e", "run": "r", "seed": 0, "plugins": [], "training": {}, **TINY_CUT}
    write_model(tmp_path / "failed.pt", spec, {}, 3, None, failed="diverged: loss G became NaN")
    save_u8(tmp_path / "a.png", scene(8, 8))
    assert run(tmp_path / "failed.pt", tmp_path / "a.png", "--out", tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert "FAILED (diverged: loss G became NaN)" in err and "Retrain" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "a.png").exists()


def test_a_model_file_needs_no_config(tmp_path, monkeypatch):
    """Everything apply needs is in model.pt: it runs from an empty folder with no config in sight."""
    model = tiny_model(tmp_path / "model.pt")
    work = tmp_path / "elsewhere"
    work.mkdir()
    monkeypatch.chdir(work)
    save_u8(work / "a.png", scene(20, 24))
    outcome = apply(str(model), ["a.png"], "out", progress=False)
    assert [job.rel.as_posix() for job in outcome.written] == ["a.png"] and not outcome.failed


def test_the_compare_page_is_self_contained(tmp_path):
    save_u8(tmp_path / "a b.png", scene(16, 20))
    save_u8(tmp_path / "c.jpg", scene(12, 12))
    assert run("dcp", tmp_path / "a b.png", tmp_path / "c.jpg", "--out", tmp_path / "out", "--compare") == 0
    out = tmp_path / "out"
    html = (out / "compare.html").read_text()
    for asset in ("compare/static/report.css", "compare/static/report.js", "compare/before/a b.png",
                  "compare/before/c.png", "a b.png", "c.png"):
        assert (out / asset).is_file(), asset
    assert 'src="a%20b.png"' in html and 'src="compare/before/a%20b.png"' in html
    assert html.count('class="ba-slider"') == 2 and "http" not in html
    from cddgan.comparepage import REPORT_DIR

    assert (out / "compare/static/report.js").read_bytes() == (REPORT_DIR / "static/report.js").read_bytes()


def test_the_documented_apply_and_info_commands_run(tmp_path, monkeypatch, capsys):
    """Every `cddgan apply` and `cddgan info` command of docs/apply.md and README.md, run in order in a folder
    laid out as they assume: a model file at the default config's path, photo.jpg, photos/ with a sub-folder,
    scans/ with a 16-bit image above the documented --max-pixels."""
    from doc_commands import documented_commands

    commands = [c for c in documented_commands()
                if c.source in ("docs/apply.md", "README.md") and len(c.words) > 2 and c.words[1] in ("apply", "info")]
    assert len(commands) >= 9
    monkeypatch.chdir(tmp_path)
    model = tmp_path / "results" / "runs" / "synthetic" / "cddgan" / "seed0" / "model.pt"
    model.parent.mkdir(parents=True)
    tiny_model(model)
    save_u8(tmp_path / "photo.jpg", scene(30, 40))
    (tmp_path / "photos" / "trip").mkdir(parents=True)
    save_u8(tmp_path / "photos" / "a.jpg", scene(24, 20))
    save_u8(tmp_path / "photos" / "trip" / "b.jpg", scene(20, 24))
    (tmp_path / "scans").mkdir()
    write_png(tmp_path / "scans" / "scan.png", (scene(500, 600) * 65535).astype(np.uint16))
    for command in commands:
        assert main([*command.words[1:], *(["--quiet"] if command.words[1] == "apply" else [])]) == 0, command
        assert "written 0" not in capsys.readouterr().err, command
    assert (tmp_path / "dehazed" / "trip" / "b.png").is_file() and (tmp_path / "dehazed" / "compare.html").is_file()
    assert read_photo(tmp_path / "scans-dehazed" / "scan.png").bits == 16
    assert sorted(p.name for p in (tmp_path / "dcp").rglob("*.png")) == ["a_dcp.png", "b_dcp.png", "photo.png"]
