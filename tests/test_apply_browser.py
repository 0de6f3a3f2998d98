"""`cddgan apply --compare`'s page in Debian's chromium (file://, no network), driven like the report's
(tests/test_report_browser.py): every image decodes, nothing is requested from outside the folder, no
script error, and every before/after slider follows a click and the arrow keys."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_report_browser import assert_stayed_offline, check_slider, offline_page

from cddgan.cli import main

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def photos(folder: Path) -> list[Path]:
    """Three inputs that exercise the page: a name with a space, a grey one in a sub-folder, an RGBA one."""
    rng = np.random.default_rng(0)
    (folder / "trip").mkdir(parents=True)
    colour = (np.clip(0.6 + 0.2 * rng.standard_normal((48, 64, 3)), 0, 1) * 255).astype(np.uint8)
    Image.fromarray(colour).save(folder / "hazy view.jpg")
    Image.fromarray(colour[..., 0]).save(folder / "trip" / "grey.png")
    alpha = np.linspace(0, 255, 48 * 64).reshape(48, 64, 1).astype(np.uint8)
    Image.fromarray(np.concatenate([colour, alpha], axis=2), "RGBA").save(folder / "trip" / "cutout.png")
    return [folder / "hazy view.jpg", folder / "trip" / "grey.png", folder / "trip" / "cutout.png"]


def test_the_compare_page_works_offline_in_chromium(tmp_path):
    photos(tmp_path / "photos")
    out = tmp_path / "out"
    args = ["apply", "dcp", str(tmp_path / "photos"), "--recursive", "--out", str(out), "--compare", "--quiet"]
    assert main(args) == 0
    moved = tmp_path / "moved"  # the folder is self-contained: it still works after a move
    shutil.move(out, moved)

    with offline_page(moved / "compare.html") as (page, seen):
        page.evaluate("Promise.all(Array.from(document.images).map(i => i.decode().catch(() => null)))")
        images = page.evaluate(
            "Array.from(document.images).map(i => ({src: i.src, ok: i.complete && i.naturalWidth > 0}))"
        )
        first = check_slider(page)  # the report's own check: click, handle, clip, arrow key
        sliders = page.locator(".ba-slider")
        positions = []
        for i in range(sliders.count()):
            slider = sliders.nth(i)
            slider.scroll_into_view_if_needed()
            box = slider.bounding_box()
            page.mouse.click(box["x"] + 0.7 * box["width"], box["y"] + 0.5 * box["height"])
            positions.append(float(slider.get_attribute("data-position")))

    assert_stayed_offline(seen)
    assert len(images) == 6 and all(image["ok"] for image in images), images  # before + after, 3 photos
    assert any("hazy%20view.png" in image["src"] for image in images)
    assert first["start"] == 50 and len(positions) == 3 and all(abs(p - 70) < 5 for p in positions), positions
