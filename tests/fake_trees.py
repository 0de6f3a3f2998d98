"""Tiny fake copies of the public dehazing datasets, with the file and folder names they are distributed with.

Every function takes a root folder, writes a few 8x6 images under it and returns the root to point a
dataset spec at. Image content is random but fixed by the file's name, so two calls give equal files.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = (16, 12)  # width, height: small enough that a whole tree is written in milliseconds, and scorable

I_HAZE_FOLDER = "# I-HAZY NTIRE 2018"
O_HAZE_FOLDER = "# O-HAZY NTIRE 2018"


def pixels(name: str, size: tuple[int, int] = SIZE) -> np.ndarray:
    """The uint8 HxWx3 content written for a file called `name` (a function of the name only)."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    return rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)


def save(
    path: Path, size: tuple[int, int] = SIZE, mode: str = "RGB", array: np.ndarray | None = None
) -> Path:
    """Write one image (format from the suffix, any case) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = pixels(path.name, size) if array is None else array
    image = Image.fromarray(data).convert(mode)
    fmt = "JPEG" if path.suffix.lower() in (".jpg", ".jpeg") else "PNG"
    image.save(path, format=fmt, quality=95)
    return path


def bordered(name: str, size: tuple[int, int] = SIZE, border: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(full image with a white border, its centre): SOTS-indoor's ground truth around its hazy size."""
    centre = pixels(name, size)
    full = np.full((size[1] + 2 * border, size[0] + 2 * border, 3), 255, dtype=np.uint8)
    full[border : border + size[1], border : border + size[0]] = centre
    return full, centre


def its_third(scene: int, index: int) -> str:
    """The undocumented third field of a fake ITS name, formatted like the real ones."""
    return f"{0.7 + 0.03 * ((scene * 7 + index) % 10):.5f}"


def make_its(root: Path, n_scenes: int = 3, per_scene: int = 2, clear_name: str = "clear") -> Path:
    """RESIDE ITS: `hazy/<id>_<index>_<x>.png` -> `clear/<id>.png`, ids 1..n."""
    for scene in range(1, n_scenes + 1):
        save(root / clear_name / f"{scene}.png")
        for index in range(1, per_scene + 1):
            save(root / "hazy" / f"{scene}_{index}_{its_third(scene, index)}.png")
    return root


def ots_params(index: int) -> tuple[float, float]:
    """(airlight, beta) of a fake OTS hazy image, from the values OTS uses."""
    return (0.8, 0.9, 1.0)[index % 3], (0.04, 0.08, 0.12, 0.16, 0.2)[index % 5]


def make_ots(
    root: Path, n_scenes: int = 3, per_scene: int = 2, hazy_name: str = "hazy", nested: bool = False
) -> Path:
    """RESIDE OTS: `hazy/0005_0.8_0.04.jpg` (id_A_beta) -> `clear/0005.jpg`; `nested` puts hazy in part1/."""
    for scene in range(1, n_scenes + 1):
        sid = f"{scene:04d}"
        save(root / "clear" / f"{sid}.jpg")
        for index in range(per_scene):
            airlight, beta = ots_params(index)
            folder = root / hazy_name / ("part1" if nested else "")
            save(folder / f"{sid}_{airlight}_{beta}.jpg")
    return root


def make_sots_indoor(
    root: Path, n: int = 2, per_gt: int = 2, border: bool = True, gt_name: str = "gt", first: int = 1400
) -> Path:
    """SOTS-indoor: `hazy/1400_1.png` -> `gt/1400.png`; with `border` the GT is 10x8 with a white frame."""
    for gid in range(first, first + n):
        full, _ = bordered(f"{gid}.png") if border else (pixels(f"{gid}.png"), None)
        save(root / gt_name / f"{gid}.png", array=full)
        for index in range(1, per_gt + 1):
            save(root / "hazy" / f"{gid}_{index}.png")
    return root


def make_sots_outdoor(root: Path, n: int = 2, per_gt: int = 1, gt_name: str = "gt") -> Path:
    """SOTS-outdoor: `hazy/0001_0.8_0.2.jpg` (id_A_beta) -> `gt/0001.png`."""
    for gid in range(1, n + 1):
        sid = f"{gid:04d}"
        save(root / gt_name / f"{sid}.png")
        for index in range(per_gt):
            airlight, beta = ots_params(index)
            save(root / "hazy" / f"{sid}_{airlight}_{beta}.jpg")
    return root


def make_hsts(root: Path, n: int = 2, n_real: int = 2) -> Path:
    """HSTS: `synthetic/synthetic/*.jpg` + `synthetic/original/*.jpg` (same names), `real-world/*.jpg`."""
    for i in range(n):
        name = f"{586 + i * 37:04d}.jpg"
        save(root / "synthetic" / "synthetic" / name)
        save(root / "synthetic" / "original" / name)
    for i in range(n_real):
        save(root / "real-world" / f"{i + 1}.jpg")
    return root


def make_rtts(root: Path, n: int = 3, suffix: str = ".png") -> Path:
    """RTTS: VOC layout, `JPEGImages/AM_Bing_211.png` with `Annotations/AM_Bing_211.xml`."""
    for i in range(n):
        stem = f"AM_Bing_{211 + i}"
        save(root / "JPEGImages" / f"{stem}{suffix}")
        (root / "Annotations").mkdir(parents=True, exist_ok=True)
        (root / "Annotations" / f"{stem}.xml").write_text("<annotation></annotation>\n")
    return root


def _ntire(folder: Path, n: int, tag: str, suffix: str, hazy: str, gt: str, flat: bool) -> None:
    middle = f"_{tag}" if tag else ""
    for i in range(1, n + 1):
        save(folder / ("" if flat else hazy) / f"{i:02d}{middle}_hazy{suffix}")
        save(folder / ("" if flat else gt) / f"{i:02d}{middle}_GT{suffix}")


def make_i_haze(root: Path, n: int = 2, parent: bool = True, suffix: str = ".jpg", gt: str = "GT") -> Path:
    """I-HAZE: `# I-HAZY NTIRE 2018/hazy/01_indoor_hazy.jpg` + `GT/01_indoor_GT.jpg`.

    With `parent` the returned root holds the `#` folder; otherwise the root is that folder itself.
    """
    folder = root / I_HAZE_FOLDER if parent else root
    _ntire(folder, n, "indoor", suffix, "hazy", gt, flat=False)
    return root


def make_o_haze(root: Path, n: int = 2, parent: bool = True, suffix: str = ".JPG") -> Path:
    """O-HAZE: `# O-HAZY NTIRE 2018/hazy/01_outdoor_hazy.JPG` + `GT/01_outdoor_GT.JPG`."""
    folder = root / O_HAZE_FOLDER if parent else root
    _ntire(folder, n, "outdoor", suffix, "hazy", "GT", flat=False)
    return root


def make_nh_haze(root: Path, n: int = 2, flat: bool = True) -> Path:
    """NH-HAZE: `01_hazy.png` + `01_GT.png`, flat (default) or in `hazy/` + `GT/`."""
    _ntire(root, n, "", ".png", "hazy", "GT", flat=flat)
    return root


def make_dense_haze(root: Path, n: int = 2, flat: bool = False) -> Path:
    """Dense-Haze: `hazy/01_hazy.png` + `GT/01_GT.png` (flat on request)."""
    _ntire(root, n, "", ".png", "hazy", "GT", flat=flat)
    return root


def make_paired_folders(root: Path, n: int = 2, hazy_suffix: str = "") -> Path:
    """Two folders `hazy/` and `clear/`; a hazy stem is its clear stem + `hazy_suffix` (e.g. '_0.8_0.2')."""
    for i in range(1, n + 1):
        save(root / "clear" / f"{i:04d}.png")
        save(root / "hazy" / f"{i:04d}{hazy_suffix}.png")
    return root


def make_unpaired_folders(root: Path, n_hazy: int = 3, n_clear: int = 2) -> Path:
    """Two unrelated folders `hazy/` and `clear/` with different names on each side."""
    for i in range(n_hazy):
        save(root / "hazy" / f"h{i}.jpg")
    for i in range(n_clear):
        save(root / "clear" / f"c{i}.png")
    return root
