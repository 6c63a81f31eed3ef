"""The Batch page in Debian's Chromium: several uploads, the table with thumbnails, a row click.

Skips (with test_browser's reason) where Chromium is not installed; screenshots in runs/screenshots/.
"""

from __future__ import annotations

from tests.conftest import SAMPLES
from tests.test_browser import CHROMIUM, FLAGS, SCREENSHOTS, pytestmark, server  # noqa: F401 - fixture and skip mark


def test_batch_page_in_a_real_browser(server, tmp_path):  # noqa: F811 - the fixture imported above
    from playwright.sync_api import sync_playwright

    broken = tmp_path / "broken.jpg"
    broken.write_bytes((SAMPLES / "astronaut.jpg").read_bytes()[:2000])
    files = [str(SAMPLES / n) for n in ("astronaut.jpg", "two_faces.jpg", "rocket_no_face.jpg")] + [str(broken)]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(f"{server}/batch", wait_until="domcontentloaded")
            page.locator("h1", has_text="Batch scan").wait_for(timeout=120_000)
            page.locator("input[type=file]").first.set_input_files(files)
            page.get_by_role("button", name="Scan", exact=True).click(timeout=60_000)
            page.get_by_text("files without a face").first.wait_for(timeout=180_000)
            page.get_by_text("Files that could not be analysed").wait_for(timeout=60_000)
            page.wait_for_timeout(2000)
            assert page.locator("[data-testid=stException]").count() == 0
            page.screenshot(path=str(SCREENSHOTS / "batch.png"), full_page=True)
            grid = page.locator("[data-testid=stDataFrame]").first.bounding_box()
            # the first data row's selection box: left edge of the grid, below the header row
            page.mouse.click(grid["x"] + 12, grid["y"] + 35 + 18)
            page.locator("h1", has_text="Analyze an image").wait_for(timeout=120_000)
            page.get_by_text("Most suspicious face").wait_for(timeout=180_000)
            page.wait_for_timeout(1500)
            assert page.locator("[data-testid=stException]").count() == 0
            page.screenshot(path=str(SCREENSHOTS / "batch_opened.png"), full_page=False)
        finally:
            browser.close()
