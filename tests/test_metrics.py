"""Metrics against hand computations, independent libraries and published test data; protocol handling."""

from __future__ import annotations

import importlib
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.metrics import structural_similarity

from cddgan import metrics
from cddgan.errors import ConfigError, ImageError
from cddgan.io import write_image
from cddgan.metrics import (
    METRIC_INFO,
    PROTOCOLS,
    PSNR_CAP_DB,
    Protocol,
    crop_border,
    evaluate_pairs,
    full_reference,
    metric_columns,
    no_reference,
    optional_metrics,
    rgb_to_y,
)

RGB_NODS = PROTOCOLS["rgb-nods"]


def pair(seed: int = 0, size: tuple[int, int] = (48, 40), noise: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    gt = rng.random((*size, 3))
    pred = np.clip(gt + noise * rng.standard_normal(gt.shape), 0, 1)
    return pred, gt


def textured(seed: int, size: int = 64) -> np.ndarray:
    """Random colour blocks of 4x4 px: texture with edges, and flat inside each block."""
    rng = np.random.default_rng(seed)
    blocks = rng.random((size // 4, size // 4, 3))
    return np.repeat(np.repeat(blocks, 4, axis=0), 4, axis=1)


# --------------------------------------------------------------------------------------------- PSNR


def test_psnr_is_ten_log_inverse_mse() -> None:
    pred, gt = pair()
    mse = np.mean((pred - gt) ** 2)
    assert full_reference(pred, gt, RGB_NODS)["psnr"] == pytest.approx(10 * math.log10(1 / mse), abs=1e-4)


def test_psnr_on_y_uses_bt601_luma() -> None:
    pred, gt = pair(1)
    luma = [16 + 65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2] for x in (pred, gt)]
    mse = np.mean(((luma[0] - luma[1]) / 255) ** 2)
    assert full_reference(pred, gt, PROTOCOLS["y"])["psnr"] == pytest.approx(10 * math.log10(1 / mse), abs=1e-4)


def test_identical_images_hit_the_documented_psnr_cap() -> None:
    _, gt = pair()
    scores = full_reference(gt, gt, RGB_NODS)
    assert scores["psnr"] == pytest.approx(PSNR_CAP_DB, abs=1e-6)
    assert scores["ssim"] == pytest.approx(1.0, abs=1e-6)
    assert scores["ciede2000"] == 0.0


def test_y_channel_of_known_colours() -> None:
    colours = np.array([[[1.0, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0], [1, 1, 1], [0.2, 0.4, 0.6]]])
    by_hand = [16 + 65.481, 16 + 128.553, 16 + 24.966, 16, 16 + 65.481 + 128.553 + 24.966]
    by_hand.append(16 + 0.2 * 65.481 + 0.4 * 128.553 + 0.6 * 24.966)
    np.testing.assert_allclose(rgb_to_y(colours)[0, :, 0] * 255, by_hand, atol=1e-9)
    assert rgb_to_y(colours).shape == (1, 6, 1)


# --------------------------------------------------------------------------------------------- SSIM


def test_ssim_without_downsampling_matches_skimage() -> None:
    # piq convolves in "valid" mode; skimage filters the padded image and then drops (win - 1) / 2 = 5 px per
    # side before averaging, so both average the same window positions: they agree to ~1e-7 (float32; 6e-9 to
    # 1.3e-7 over seeds 0-4), closer than the 2e-6 that skimage's default sample covariance would shift it here.
    pred, gt = pair(2, size=(64, 52), noise=0.1)
    reference = structural_similarity(
        pred, gt, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=2
    )
    assert full_reference(pred, gt, RGB_NODS)["ssim"] == pytest.approx(reference, abs=1e-6)


def test_ssim_y_protocol_matches_skimage_on_luma() -> None:
    pred, gt = pair(3, size=(40, 40), noise=0.1)
    reference = structural_similarity(
        rgb_to_y(pred)[..., 0],
        rgb_to_y(gt)[..., 0],
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=1,
    )
    assert full_reference(pred, gt, PROTOCOLS["y"])["ssim"] == pytest.approx(reference, abs=1e-5)


def test_downsampling_protocol_differs_on_large_images() -> None:
    # At 512 px piq average-pools by round(512 / 256) = 2 first: same as skimage on the 2x2-pooled images.
    # Pixel noise on a blocky image: pooling halves the noise, so the two protocols must disagree.
    gt = textured(4, size=512)
    pred = np.clip(gt + 0.1 * np.random.default_rng(4).standard_normal(gt.shape), 0, 1)
    full = full_reference(pred, gt, RGB_NODS)["ssim"]
    down = full_reference(pred, gt, PROTOCOLS["rgb"])["ssim"]
    assert abs(full - down) > 0.05

    def pool(x: np.ndarray) -> np.ndarray:
        return x.reshape(256, 2, 256, 2, 3).mean(axis=(1, 3))

    reference = structural_similarity(
        pool(pred), pool(gt), gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1,
        channel_axis=2,
    )
    assert down == pytest.approx(reference, abs=1e-5)


# --------------------------------------------------------------------------------------------- CIEDE2000

# Sharma, Wu & Dalal (2005), "The CIEDE2000 color-difference formula: implementation notes, supplementary test
# data, and mathematical observations", Table 1: L1 a1 b1, L2 a2 b2, published dE00 (4 decimals).
SHARMA = [
    (50.0000, 2.6772, -79.7751, 50.0000, 0.0000, -82.7485, 2.0425),
    (50.0000, 3.1571, -77.2803, 50.0000, 0.0000, -82.7485, 2.8615),
    (50.0000, 2.8361, -74.0200, 50.0000, 0.0000, -82.7485, 3.4412),
    (50.0000, -1.3802, -84.2814, 50.0000, 0.0000, -82.7485, 1.0000),
    (50.0000, 0.0000, 0.0000, 50.0000, -1.0000, 2.0000, 2.3669),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0009, 7.1792),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0011, 7.2195),
    (50.0000, -0.0010, 2.4900, 50.0000, 0.0009, -2.4900, 4.8045),
    (50.0000, -0.0010, 2.4900, 50.0000, 0.0011, -2.4900, 4.7461),
    (50.0000, 2.5000, 0.0000, 50.0000, 0.0000, -2.5000, 4.3065),
    (50.0000, 2.5000, 0.0000, 73.0000, 25.0000, -18.0000, 27.1492),
    (50.0000, 2.5000, 0.0000, 56.0000, -27.0000, -3.0000, 31.9030),
    (50.0000, 2.5000, 0.0000, 50.0000, 3.1736, 0.5854, 1.0000),
    (60.2574, -34.0099, 36.2677, 60.4626, -34.1751, 39.4387, 1.2644),
    (22.7233, 20.0904, -46.6940, 23.0331, 14.9730, -42.5619, 2.0373),
    (90.9257, -0.5406, -0.9208, 88.6381, -0.8985, -0.7239, 1.5381),
    (2.0776, 0.0795, -1.1350, 0.9033, -0.0636, -0.5514, 0.9082),
]


def ciede2000_by_hand(lab1: tuple[float, ...], lab2: tuple[float, ...]) -> float:
    """The CIEDE2000 formula written out step by step (kL = kC = kH = 1), scalar maths only."""
    (l1, a1, b1), (l2, a2, b2) = lab1, lab2
    c_mean = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(c_mean**7 / (c_mean**7 + 25**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p = math.degrees(math.atan2(b1, a1p)) % 360 if (a1p or b1) else 0.0
    h2p = math.degrees(math.atan2(b2, a2p)) % 360 if (a2p or b2) else 0.0
    d_l, d_c = l2 - l1, c2p - c1p
    if c1p * c2p == 0:
        d_h = 0.0
    else:
        d_h = h2p - h1p
        d_h = d_h - 360 if d_h > 180 else d_h + 360 if d_h < -180 else d_h
    d_big_h = 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(d_h / 2))
    l_bar, c_bar = (l1 + l2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        h_bar = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        h_bar = (h1p + h2p) / 2
    elif h1p + h2p < 360:
        h_bar = (h1p + h2p + 360) / 2
    else:
        h_bar = (h1p + h2p - 360) / 2
    t = (
        1
        - 0.17 * math.cos(math.radians(h_bar - 30))
        + 0.24 * math.cos(math.radians(2 * h_bar))
        + 0.32 * math.cos(math.radians(3 * h_bar + 6))
        - 0.20 * math.cos(math.radians(4 * h_bar - 63))
    )
    d_theta = 30 * math.exp(-(((h_bar - 275) / 25) ** 2))
    r_c = 2 * math.sqrt(c_bar**7 / (c_bar**7 + 25**7))
    s_l = 1 + 0.015 * (l_bar - 50) ** 2 / math.sqrt(20 + (l_bar - 50) ** 2)
    s_c = 1 + 0.045 * c_bar
    s_h = 1 + 0.015 * c_bar * t
    r_t = -math.sin(math.radians(2 * d_theta)) * r_c
    return math.sqrt(
        (d_l / s_l) ** 2 + (d_c / s_c) ** 2 + (d_big_h / s_h) ** 2 + r_t * (d_c / s_c) * (d_big_h / s_h)
    )


def srgb_to_lab_by_hand(rgb: tuple[float, float, float]) -> tuple[float, float, float]:
    """sRGB (IEC 61966-2-1) -> XYZ -> CIELAB under D65 (2 degree observer), scalar maths only."""
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    matrix = [(0.412453, 0.357580, 0.180423), (0.212671, 0.715160, 0.072169), (0.019334, 0.119193, 0.950227)]
    x, y, z = (sum(m * c for m, c in zip(row, linear, strict=True)) for row in matrix)

    def f(t: float) -> float:
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29

    fx, fy, fz = f(x / 0.95047), f(y / 1.0), f(z / 1.08883)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


@pytest.mark.parametrize("row", SHARMA, ids=[f"sharma{i}" for i in range(len(SHARMA))])
def test_ciede2000_formula_and_skimage_reproduce_sharma(row: tuple[float, ...]) -> None:
    lab1, lab2, published = row[:3], row[3:6], row[6]
    assert ciede2000_by_hand(lab1, lab2) == pytest.approx(published, abs=1e-4)
    assert float(deltaE_ciede2000(np.array(lab1), np.array(lab2))) == pytest.approx(published, abs=1e-4)


def test_rgb_to_lab_of_pure_colours() -> None:
    # Widely tabulated sRGB/D65 values (e.g. Lindbloom's calculator), two decimals.
    known = {
        (1.0, 0.0, 0.0): (53.24, 80.09, 67.20),
        (0.0, 1.0, 0.0): (87.73, -86.18, 83.18),
        (0.0, 0.0, 1.0): (32.30, 79.19, -107.86),
        (1.0, 1.0, 1.0): (100.0, 0.0, 0.0),
        (0.0, 0.0, 0.0): (0.0, 0.0, 0.0),
    }
    for rgb, lab in known.items():
        np.testing.assert_allclose(rgb2lab(np.array([[rgb]]))[0, 0], lab, atol=0.01)
        np.testing.assert_allclose(srgb_to_lab_by_hand(rgb), lab, atol=0.01)


@pytest.mark.parametrize(
    "colours",
    [((1.0, 0.0, 0.0), (0.9, 0.1, 0.05)), ((0.2, 0.4, 0.6), (0.25, 0.35, 0.6)), ((0.5, 0.5, 0.5), (0.6, 0.6, 0.6))],
)
def test_ciede2000_of_uniform_patches_matches_hand_computation(colours: tuple) -> None:
    first, second = (np.broadcast_to(np.array(c), (16, 20, 3)).copy() for c in colours)
    expected = ciede2000_by_hand(srgb_to_lab_by_hand(colours[0]), srgb_to_lab_by_hand(colours[1]))
    assert full_reference(first, second, RGB_NODS)["ciede2000"] == pytest.approx(expected, abs=1e-3)
    # The colour protocol changes PSNR/SSIM only, never CIEDE2000.
    assert full_reference(first, second, PROTOCOLS["y"])["ciede2000"] == pytest.approx(expected, abs=1e-3)


# --------------------------------------------------------------------------------------------- crop


def test_crop_removes_exactly_crop_pixels() -> None:
    image = np.zeros((30, 40, 3))
    assert crop_border(image, 3).shape == (24, 34, 3)
    pred, gt = pair(5, size=(40, 40))
    damaged = pred.copy()
    damaged[:3], damaged[-3:], damaged[:, :3], damaged[:, -3:] = 1.0, 0.0, 1.0, 0.0
    exact = full_reference(damaged, pred, Protocol(crop=3))
    assert exact["psnr"] == pytest.approx(PSNR_CAP_DB) and exact["ciede2000"] == 0.0
    assert full_reference(damaged, pred, Protocol(crop=2))["psnr"] < 30
    interior = full_reference(pred[3:-3, 3:-3], gt[3:-3, 3:-3], RGB_NODS)
    assert full_reference(pred, gt, Protocol(ssim_downsample=False, crop=3)) == pytest.approx(interior)


def test_crop_too_large_is_an_image_error() -> None:
    pred, gt = pair(size=(20, 20))
    with pytest.raises(ImageError, match="too small"):
        full_reference(pred, gt, Protocol(crop=10))
    with pytest.raises(ImageError, match="11x11"):
        full_reference(pred, gt, Protocol(crop=5))


# --------------------------------------------------------------------------------------------- protocol


def test_protocol_names_and_config() -> None:
    assert PROTOCOLS["rgb"].name == "rgb-ds-crop0"
    assert PROTOCOLS["y"].name == "y-nods-crop0"
    assert Protocol.from_config(None) == PROTOCOLS["rgb"]
    assert Protocol.from_config("rgb-nods") == PROTOCOLS["rgb-nods"]
    assert Protocol.from_config("y-ds-crop10") == Protocol("y", True, 10)
    assert Protocol.from_config({"color": "y", "crop": 4}) == Protocol("y", True, 4)
    for protocol in (*PROTOCOLS.values(), Protocol("y", True, 7)):
        assert Protocol.from_config(protocol.name) == protocol
    text = Protocol("y", False, 6).describe()
    assert "Y channel" in text and "no downsampling" in text and "crop 6 px" in text
    assert "MATLAB-style downsampling" in PROTOCOLS["rgb"].describe()


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("lab", "unknown protocol"),
        ({"colour": "y"}, "colour"),
        ({"color": "ycbcr"}, "color"),
        ({"ssim_downsample": 1}, "ssim_downsample"),
        ({"crop": -1}, "crop"),
        ({"crop": True}, "crop"),
        (3, "protocol: expected"),
    ],
)
def test_bad_protocol_config_names_the_key(value: object, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        Protocol.from_config(value)


def test_metric_info_directions() -> None:
    directions = {name: info.higher_is_better for name, info in METRIC_INFO.items()}
    assert directions["psnr"] and directions["ssim"]
    assert not directions["ciede2000"] and not directions["fade"]


# --------------------------------------------------------------------------------------------- bad input


def test_shape_and_range_errors() -> None:
    pred, gt = pair(size=(32, 32))
    with pytest.raises(ImageError, match=r"ground truth is 32x33"):
        full_reference(pred, np.zeros((33, 32, 3)), RGB_NODS)
    with pytest.raises(ImageError, match=r"\[0, 1\]"):
        full_reference(pred * 2, gt, RGB_NODS)
    with pytest.raises(ImageError, match="HxWx3"):
        full_reference(pred[..., 0], gt[..., 0], RGB_NODS)


def test_evaluate_names_both_files_on_size_mismatch(tmp_path: Path) -> None:
    write_image(tmp_path / "pred.png", np.zeros((20, 24, 3)))
    write_image(tmp_path / "gt.png", np.zeros((20, 30, 3)))
    with pytest.raises(ImageError) as info:
        evaluate_pairs([("a", str(tmp_path / "pred.png"), str(tmp_path / "gt.png"))], RGB_NODS, progress=False)
    message = str(info.value)
    assert "pred.png" in message and "gt.png" in message and "24x20" in message and "30x20" in message


def test_evaluate_names_an_unreadable_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png at all")
    write_image(tmp_path / "gt.png", np.zeros((20, 20, 3)))
    with pytest.raises(ImageError, match=r"broken\.png"):
        evaluate_pairs([("a", str(broken), str(tmp_path / "gt.png"))], RGB_NODS, progress=False)
    with pytest.raises(ImageError, match=r"missing\.png"):
        evaluate_pairs([("a", str(tmp_path / "gt.png"), str(tmp_path / "missing.png"))], RGB_NODS, progress=False)


# --------------------------------------------------------------------------------------------- evaluate + FADE


def test_fade_rises_with_haze_and_is_nan_where_undefined() -> None:
    clear = textured(0)
    light, dense = (clear * (1 - k) + 0.9 * k for k in (0.3, 0.7))
    scores = [no_reference(x, RGB_NODS)["fade"] for x in (clear, light, dense)]
    assert scores[0] < scores[1] < scores[2]
    assert math.isnan(no_reference(clear[:12, :12], RGB_NODS)["fade"])
    assert math.isnan(no_reference(clear, Protocol(crop=25))["fade"])


def test_evaluate_pairs_rows_match_direct_scores(tmp_path: Path) -> None:
    clear, hazy = textured(1), textured(1) * 0.5 + 0.45
    write_image(tmp_path / "gt.png", clear)
    write_image(tmp_path / "pred.png", hazy)
    pred_path, gt_path = str(tmp_path / "pred.png"), str(tmp_path / "gt.png")
    pairs = [("with-gt", pred_path, gt_path), ("no-gt", pred_path, ""), ("nan-gt", pred_path, math.nan)]
    frame = evaluate_pairs(pairs, PROTOCOLS["y"], progress=False)
    assert list(frame.columns) == ["image_id", "protocol", "psnr", "ssim", "ciede2000", "fade"]
    assert list(frame["image_id"]) == ["with-gt", "no-gt", "nan-gt"] and set(frame["protocol"]) == {"y-nods-crop0"}
    # The stored PNGs are 8-bit: score the quantised arrays directly and compare.
    quantised = [np.round(x * 255) / 255 for x in (hazy, clear)]
    direct = full_reference(*quantised, PROTOCOLS["y"]) | no_reference(quantised[0], PROTOCOLS["y"])
    for key, value in direct.items():
        assert frame.loc[0, key] == pytest.approx(value, abs=1e-5)
    assert frame.loc[1:, ["psnr", "ssim", "ciede2000"]].isna().all().all()
    assert frame.loc[1:, "fade"].tolist() == pytest.approx([frame.loc[0, "fade"]] * 2)
    empty = evaluate_pairs([], RGB_NODS, progress=False)
    assert isinstance(empty, pd.DataFrame) and len(empty) == 0 and "psnr" in empty.columns


# --------------------------------------------------------------------------------------------- optional metrics


def test_optional_metrics_are_skipped_without_weights() -> None:
    available = optional_metrics({})
    assert available.runnable == {}
    assert "lpips: skipped, no local weights file configured under metrics.weights.lpips" in available.messages()[1]
    assert set(available.skipped) == {"brisque", "lpips", "fid"}


def test_optional_metrics_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="lpisp"):
        optional_metrics({"lpisp": "x.pt"})
    with pytest.raises(ConfigError, match=r"metrics\.weights\.brisque.*nowhere\.pt"):
        optional_metrics({"brisque": str(tmp_path / "nowhere.pt")})
    (tmp_path / "lpips.pt").write_bytes(b"x")
    half = optional_metrics({"lpips": str(tmp_path / "lpips.pt")})
    assert "lpips" not in half.runnable and "metrics.weights.vgg16" in half.skipped["lpips"]


def test_brisque_with_local_weights_matches_piq(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gen = torch.Generator().manual_seed(0)
    sv_coef, sv = torch.randn(5, generator=gen, dtype=torch.float64), torch.rand(5, 36, generator=gen).double()
    torch.save((sv_coef, sv), tmp_path / "brisque.pt")
    image = textured(2, size=48)
    write_image(tmp_path / "img.png", image)
    frame = evaluate_pairs(
        [("a", str(tmp_path / "img.png"), "")], RGB_NODS, progress=False, weights={"brisque": tmp_path / "brisque.pt"}
    )
    assert list(frame.columns) == ["image_id", "protocol", *metric_columns({"brisque": tmp_path / "brisque.pt"})]
    assert list(frame.columns)[-1] == "brisque"
    # piq's own BRISQUE, fed the same file instead of its download.
    piq_brisque = importlib.import_module("piq.brisque")  # `piq.brisque` the attribute is the function
    monkeypatch.setattr(piq_brisque, "load_url", lambda *a, **k: (sv_coef.clone(), sv.clone()))
    stored = np.round(image * 255) / 255
    expected = float(piq_brisque.brisque(torch.from_numpy(stored.transpose(2, 0, 1).copy())[None]))
    assert frame.loc[0, "brisque"] == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_lpips_with_local_weights(tmp_path: Path) -> None:
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(0)
    features = make_layers(cfgs["D"])
    torch.save(features.state_dict(), tmp_path / "vgg.pt")
    channels = (64, 128, 256, 512, 512)
    # Weight only the first LPIPS layer (relu1_2, index 3), so the expected value is one explicit sum.
    weights = [torch.ones(1, c, 1, 1) if i == 0 else torch.zeros(1, c, 1, 1) for i, c in enumerate(channels)]
    torch.save(weights, tmp_path / "lpips.pt")
    scorer = metrics._Lpips(tmp_path / "vgg.pt", tmp_path / "lpips.pt")
    pred, gt = pair(6, size=(32, 32), noise=0.2)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        feats = []
        for image in (pred, gt):
            x = (torch.from_numpy(image.transpose(2, 0, 1).copy()).float()[None] - mean) / std
            f = features[:4](x)
            feats.append(f / (f.norm(dim=1, keepdim=True) + 1e-10))
        expected = float(((feats[0] - feats[1]) ** 2).sum(dim=1).mean())
    assert scorer(pred, gt) == pytest.approx(expected, rel=1e-4)
    assert scorer(gt, gt) == 0.0
