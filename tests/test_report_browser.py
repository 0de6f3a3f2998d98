"""Open the built report in Debian's chromium (file://, no network) and check that it works as a page.

`check_report_in_browser` can be pointed at any report folder (e.g. the smoke DAG's), so the workflow
tests reuse it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from report_fixtures import DATASETS, EXPERIMENT, FAILED_RUN, make_results

from cddgan.report import build_report, load_published

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]

pytestmark = pytest.mark.browser


@contextmanager
def offline_page(path: Path) -> Iterator[tuple[Any, dict[str, list]]]:
    """`path` opened over file:// in Debian's chromium (the test is skipped without it or playwright), with
    every console message, page error, failed request and request recorded in the dict it yields."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing; install Debian's chromium (`apt-get install -y chromium`)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the python package `playwright` is not installed")
    seen: dict[str, list] = {"console": [], "page_errors": [], "failed": [], "requests": []}
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: seen["console"].append((m.type, m.text)))
            page.on("pageerror", lambda e: seen["page_errors"].append(str(e)))
            page.on("requestfailed", lambda r: seen["failed"].append((r.url, r.failure)))
            page.on("request", lambda r: seen["requests"].append(r.url))
            page.goto(Path(path).resolve().as_uri(), wait_until="load")
            yield page, seen
        finally:
            browser.close()


def assert_stayed_offline(seen: Mapping[str, list]) -> None:
    """No script error, no console error, no failed request, and nothing requested outside the folder."""
    assert not seen["page_errors"], f"JavaScript errors: {seen['page_errors']}"
    errors = [text for kind, text in seen["console"] if kind == "error"]
    assert not errors, f"console errors: {errors}"
    assert not seen["failed"], f"failed requests: {seen['failed']}"
    outside = [url for url in seen["requests"] if not url.startswith(("file://", "data:"))]
    assert not outside, f"the page requested something outside its folder: {outside}"


def _numbers(texts: Sequence[str | None]) -> list[float | None]:
    return [None if t in (None, "") else float(t) for t in texts]


def check_report_in_browser(
    index_path: Path, expected_rows: Mapping[str, int | Sequence[str]], screenshot: Path | None = None
) -> dict:
    """Load `index_path` via file:// and assert that the page is sound.

    `expected_rows` maps a table's HTML id to its number of data rows or to the exact set of row keys (the
    `data-row` attributes: run names, `published-<n>`). Checks: no failed request and no request leaving
    file://, no console error or page error, every <img> decoded, the expected rows, clicking a numeric
    column header reorders that table (and a second click reverses it), the before/after slider moves.
    Returns what it saw (console messages, requests) for further assertions.
    """
    with offline_page(index_path) as (page, seen):
        # Lazy images below the fold: scroll through the page so that every one is requested.
        page.evaluate("""async () => {
            for (let y = 0; y < document.body.scrollHeight; y += 600) {
                window.scrollTo(0, y); await new Promise(r => setTimeout(r, 20));
            }
            await Promise.all(Array.from(document.images).map(i => i.decode().catch(() => null)));
            window.scrollTo(0, 0);
        }""")
        broken = page.evaluate(
            "Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
        )
        image_count = page.evaluate("document.images.length")
        for table_id, expected in expected_rows.items():
            keys = page.eval_on_selector_all(
                f"table#{table_id} tbody tr:not(.group-head)", "rows => rows.map(r => r.dataset.row)"
            )
            if isinstance(expected, int):
                assert len(keys) == expected, f"table {table_id}: {len(keys)} rows, expected {expected}: {keys}"
            else:
                assert sorted(keys) == sorted(expected), f"table {table_id}: rows {keys}, expected {expected}"
        _check_sorting(page)
        slider = check_slider(page)
        if screenshot is not None:
            page.screenshot(path=str(screenshot), full_page=True)

    assert_stayed_offline(seen)
    assert image_count > 0, "the report shows no images"
    assert not broken, f"images that did not decode: {broken}"
    return {"console": seen["console"], "requests": seen["requests"], "images": image_count, "slider": slider}


def _check_sorting(page) -> None:
    """In the first sortable table, click the numeric column with the most distinct values (a metric rather
    than the seed count): rows must come out descending, missing values last; a second click ascending."""
    for table_id in page.eval_on_selector_all("table.sortable", "ts => ts.map(t => t.id)"):
        headers = page.locator(f"table#{table_id} thead th")

        def column(index: int, table_id: str = table_id) -> list[float | None]:
            selector = f"table#{table_id} tbody:first-of-type tr:not(.group-head) td:nth-child({index + 1})"
            return _numbers(page.eval_on_selector_all(selector, "cs => cs.map(c => c.dataset.sort ?? null)"))

        numeric = [i for i in range(headers.count()) if headers.nth(i).get_attribute("data-type") == "num"]
        distinct = {i: len({v for v in column(i) if v is not None}) for i in numeric}
        if not distinct or max(distinct.values()) < 2:
            continue
        index = max(numeric, key=lambda i: distinct[i])
        before = column(index)
        values = [v for v in before if v is not None]
        button = headers.nth(index).locator("button")
        button.click()
        first = column(index)
        n = len(values)
        assert first[:n] == sorted(values, reverse=True), f"{table_id} column {index}: {first} is not descending"
        assert first[n:] == [None] * (len(first) - n), f"{table_id}: rows without a value are not last: {first}"
        assert headers.nth(index).get_attribute("aria-sort") == "descending"
        button.click()
        second = column(index)
        assert second[:n] == sorted(values), f"{table_id} column {index}: second click gave {second}"
        assert first != second, "clicking the header again did not reorder the rows"
        return
    raise AssertionError("no sortable table with two different numbers in a column")


def check_slider(page) -> dict:
    """The first before/after slider follows a click (handle and clip too) and the arrow keys."""
    sliders = page.locator(".ba-slider")
    if sliders.count() == 0:
        return {}
    slider = sliders.first
    slider.scroll_into_view_if_needed()
    start = float(slider.get_attribute("data-position"))
    box = slider.bounding_box()
    page.mouse.click(box["x"] + 0.2 * box["width"], box["y"] + 0.5 * box["height"])
    moved = float(slider.get_attribute("data-position"))
    assert abs(moved - 20) < 5, f"the slider did not follow the click: {start} -> {moved}"
    handle_left = slider.locator(".ba-handle").evaluate("h => h.style.left")
    clip = slider.locator(".ba-before").evaluate("i => i.style.clipPath")
    assert handle_left == f"{moved:g}%", handle_left
    assert f"{100 - moved:g}%" in clip, clip
    slider.locator(".ba-range").press("ArrowRight")
    assert float(slider.get_attribute("data-position")) > moved, "the arrow key did not move the slider"
    return {"start": start, "after_click": moved}


def fixture_expected_rows(config: Mapping) -> dict[str, list[str] | int]:
    """Row keys of the fixture report's tables."""
    main = ["identity", "dcp", FAILED_RUN, "cut", "cddgan"]
    metrics = ("psnr", "ssim", "ciede2000")
    expected: dict[str, list[str] | int] = {
        f"main-{EXPERIMENT}-synthetic": main,
        f"comparisons-main-{EXPERIMENT}-synthetic": [f"{r}-{m}" for r in ("dcp", "cut") for m in metrics],
        f"ablation-negatives-{EXPERIMENT}-{DATASETS[0]}": ["cddgan", "cddgan-no-neggen", "cddgan-k64"],
        f"comparisons-negatives-{EXPERIMENT}-{DATASETS[0]}": [
            f"{r}-{m}" for r in ("cddgan-no-neggen", "cddgan-k64") for m in metrics],
        f"robustness-{EXPERIMENT}": 2 * 6,  # PSNR and SSIM of the 6 runs with results
        f"convergence-{EXPERIMENT}": [r for r, spec in config["runs"].items() if spec["trainable"]],
        "machines": 2,
        f"efficiency-{EXPERIMENT}": 7,
        "datasets": list(DATASETS),
    }
    # sots-indoor also lists the published rows for that test set (keys: row numbers in the file).
    published = load_published(config["published"])
    keys = [f"published-{i}" for i in published.index[published["dataset"] == "sots-indoor"]]
    assert keys, "config/published.yaml has no sots-indoor rows"
    expected[f"main-{EXPERIMENT}-sots-indoor"] = main + keys
    return expected


def check_grid_fits(index_path: Path, width: int = 1400) -> dict:
    """At a `width` px wide window, no visual comparison grid widens the page: each grid's box stays inside the
    viewport, and a grid wider than its box scrolls sideways inside it (its last column reachable)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="the python package `playwright` is not installed")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(Path(index_path).resolve().as_uri(), wait_until="load")
            boxes = page.eval_on_selector_all(".grid-scroll", """boxes => boxes.map(box => {
                const r = box.getBoundingClientRect();
                const overflow = getComputedStyle(box).overflowX;
                box.scrollLeft = box.scrollWidth;  // scroll to the last column
                const last = box.querySelector("thead th:last-child").getBoundingClientRect();
                return {right: r.right, columns: box.querySelectorAll("thead th").length - 1,
                        scrollWidth: box.scrollWidth, clientWidth: box.clientWidth, overflow: overflow,
                        lastRight: last.right, boxRight: r.right};
            })""")
            page_width = page.evaluate("document.documentElement.scrollWidth")
        finally:
            browser.close()
    assert boxes, "the report has no visual comparison grid"
    assert page_width <= width, f"the page is {page_width} px wide in a {width} px window"
    for box in boxes:
        assert box["right"] <= width, f"a grid's box ends at {box['right']} px, past the {width} px window"
        if box["scrollWidth"] > box["clientWidth"]:
            assert box["overflow"] in ("auto", "scroll"), box
            assert box["lastRight"] <= box["boxRight"] + 1, f"the last column stays out of reach: {box}"
    return {"boxes": boxes, "page_width": page_width}


def test_a_wide_visual_grid_stays_inside_the_page(tmp_path: Path) -> None:
    """Eight columns (the hazy input, six methods, the ground truth) at 1,400 px: the grid scrolls inside its
    own box instead of running off the page (it used to cut its last column)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing; install Debian's chromium (`apt-get install -y chromium`)")
    config, results = make_results(tmp_path)
    config["main_runs"] = [*config["main_runs"], "cddgan-k64", "cddgan-no-neggen"]
    index = build_report(config, results, tmp_path / "report")
    seen = check_grid_fits(index, 1400)
    assert {box["columns"] for box in seen["boxes"]} == {8}
    assert any(box["scrollWidth"] > box["clientWidth"] for box in seen["boxes"])  # so the scrolling is tested


def test_fixture_report_in_browser(tmp_path: Path) -> None:
    config, results = make_results(tmp_path)
    index = build_report(config, results, tmp_path / "report")
    seen = check_report_in_browser(index, fixture_expected_rows(config), screenshot=tmp_path / "report.png")
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert seen["images"] >= 10


@pytest.mark.slow
def test_smoke_dag_report_in_browser(smoke_run: Path, tmp_path: Path) -> None:
    """The report the real smoke DAG produced passes the same browser checks."""
    runs = ["identity", "dcp", "cyclegan", "cut"]
    check_report_in_browser(
        smoke_run / "reports" / "index.html",
        {"main-synthetic-synthetic": runs, "efficiency-synthetic": len(runs)},
        screenshot=tmp_path / "smoke-report.png",
    )
