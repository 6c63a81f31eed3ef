"""Every page, whole (full-page screenshots), on a desktop and on a 390 px phone, in Debian's Chromium.

Looks for what a screenshot of the first screen hides: an error further down, content wider than the
screen (cut off on a phone), a chart legend cut at its edge. The screenshots are kept in
runs/screenshots/pages/ for a person to look at. Skips where Chromium is not installed.
"""

from __future__ import annotations

import pytest

from tests import videos
from tests.conftest import SAMPLES
from tests.test_browser import CHROMIUM, FLAGS, SCREENSHOTS, pytestmark, server  # noqa: F401 - fixture and skip mark

WIDTHS = {"desktop": {"width": 1400, "height": 900}, "phone": {"width": 390, "height": 844}}
SLOW = 240_000  # ms: model loading and four maps on a busy 2-core machine


def open_home(page, url: str, tmp_path) -> None:
    page.goto(url, wait_until="domcontentloaded")
    page.locator("h1", has_text="Deepfake face check").wait_for(timeout=SLOW)


def open_image(page, url: str, tmp_path) -> None:
    page.goto(f"{url}/analyze_image", wait_until="domcontentloaded")
    page.get_by_text("Upload a photo").first.wait_for(timeout=SLOW)
    page.locator("input[type=file]").first.set_input_files(str(SAMPLES / "astronaut.jpg"))
    page.get_by_text("Most suspicious face").wait_for(timeout=SLOW)
    page.locator("[data-testid=stExpander] summary", has_text="How to read these maps").wait_for(timeout=SLOW)


def open_video(page, url: str, tmp_path) -> None:
    clip = videos.moving_face(tmp_path / "clip.mp4", seconds=3.0)
    page.goto(f"{url}/analyze_video", wait_until="domcontentloaded")
    page.get_by_text("Upload a video").first.wait_for(timeout=SLOW)
    page.locator("input[type=file]").first.set_input_files(str(clip))
    page.locator("h2", has_text="Save a report").wait_for(timeout=SLOW)


def open_video_cut(page, url: str, tmp_path) -> None:
    """Two people either side of a cut: two tracks, the cut on the timeline and said under it."""
    clip = videos.interview_cut(tmp_path / "cut.mp4")
    page.goto(f"{url}/analyze_video", wait_until="domcontentloaded")
    page.get_by_text("Upload a video").first.wait_for(timeout=SLOW)
    page.locator("input[type=file]").first.set_input_files(str(clip))
    page.locator("h2", has_text="Save a report").wait_for(timeout=SLOW)
    page.get_by_text("Shot changes (cuts) seen at 2.5 s").wait_for(timeout=SLOW)
    page.locator("h3", has_text="Track 2").wait_for(timeout=SLOW)


def open_batch(page, url: str, tmp_path) -> None:
    page.goto(f"{url}/batch", wait_until="domcontentloaded")
    page.locator("h1", has_text="Batch scan").wait_for(timeout=SLOW)
    files = [str(SAMPLES / n) for n in ("astronaut.jpg", "two_faces.jpg", "rocket_no_face.jpg")]
    page.locator("input[type=file]").first.set_input_files(files)
    page.get_by_role("button", name="Scan", exact=True).click(timeout=60_000)
    page.get_by_text("files without a face").first.wait_for(timeout=SLOW)


def open_metrics(page, url: str, tmp_path) -> None:
    page.goto(f"{url}/metrics", wait_until="domcontentloaded")
    page.locator("h2", has_text="Run a new evaluation").wait_for(timeout=SLOW)


def open_instructor(page, url: str, tmp_path) -> None:
    page.goto(f"{url}/instructor", wait_until="domcontentloaded")
    page.get_by_text("Channels are ranked").wait_for(timeout=SLOW)


def open_about(page, url: str, tmp_path) -> None:
    page.goto(f"{url}/about", wait_until="domcontentloaded")
    page.locator("h1", has_text="About the model").wait_for(timeout=SLOW)


PAGES = {"home": open_home, "analyze_image": open_image, "analyze_video": open_video,
         "analyze_video_cut": open_video_cut, "batch": open_batch,
         "metrics": open_metrics, "instructor": open_instructor, "about": open_about}

# Elements wider than the main column that the page itself scrolls or clips on purpose are not "cut":
# data grids scroll inside their own frame. Everything else must fit the screen.
OVERFLOW = """() => {
  const main = document.querySelector('[data-testid=stMain]');
  const limit = main.getBoundingClientRect().right + 1;
  const wide = [];
  for (const el of main.querySelectorAll('h1,h2,h3,p,li,table,img,[data-testid=stPlotlyChart],[data-testid=stImage]')) {
    if (el.closest('[data-testid=stDataFrame]')) continue;
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > limit) wide.push(`${el.tagName}.${el.dataset.testid || ''} right=${Math.round(r.right)}`);
  }
  return {scroll: document.documentElement.scrollWidth, wide: wide.slice(0, 8)};
}"""

# Plotly legend entries whose text is wider than the chart they belong to (the legend is then cut).
CUT_LEGENDS = """() => {
  const cut = [];
  for (const chart of document.querySelectorAll('.js-plotly-plot')) {
    const right = chart.getBoundingClientRect().right + 1;
    for (const text of chart.querySelectorAll('.legendtext')) {
      const r = text.getBoundingClientRect();
      if (r.width > 0 && r.right > right) cut.push(text.textContent);
    }
  }
  return cut;
}"""


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("name", list(PAGES))
def test_whole_page(server, tmp_path, name, width):  # noqa: F811 - the fixture imported above
    from playwright.sync_api import sync_playwright

    out = SCREENSHOTS / "pages"
    out.mkdir(parents=True, exist_ok=True)
    viewport = WIDTHS[width]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport=viewport, device_scale_factor=1)
            PAGES[name](page, server, tmp_path)
            page.wait_for_timeout(2500)  # charts and images finish drawing
            # Streamlit scrolls inside its main area, not the document, so a "full page" screenshot would stop
            # at the first screen: make the window as tall as the page instead (at most 16,000 px).
            height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
            page.set_viewport_size({"width": viewport["width"], "height": min(16_000, max(viewport["height"], height + 40))})
            page.wait_for_timeout(2000)  # charts redraw at the new size
            page.screenshot(path=str(out / f"{name}_{width}.png"), full_page=True)
            assert page.locator("[data-testid=stException]").count() == 0
            overflow = page.evaluate(OVERFLOW)
            assert overflow["scroll"] <= viewport["width"] and not overflow["wide"], f"{name} wider than the screen: {overflow}"
            assert page.evaluate(CUT_LEGENDS) == [], f"{name}: legend entries cut at the chart's edge"
        finally:
            browser.close()
