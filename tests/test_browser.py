"""The real thing: `streamlit run app.py` served on localhost, driven by Debian's Chromium.

Needs /usr/bin/chromium (`.ci/run` installs it with apt-get); skips with that reason otherwise.
The screenshot is kept in runs/screenshots/ for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLES

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]
SCREENSHOTS = ROOT / "runs" / "screenshots"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed (apt-get install chromium)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    # Its own runs database: the evaluation test stores a run, which must not land in the developer's runs/.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "DFX_RUNS_DB": str(tmp_path_factory.mktemp("browser_runs") / "runs.sqlite")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address", "127.0.0.1",
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not start within 120 s")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_deep_link_as_a_fresh_servers_first_request(server):
    """Defined first so its request is the server's first: Streamlit's legacy pages/ mode must not show."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page()
            page.goto(f"{server}/about", wait_until="domcontentloaded")
            page.locator("h1", has_text="About the model").wait_for(timeout=120_000)
            nav = page.locator("[data-testid=stSidebarNav]")
            nav.get_by_text("Instructor mode").wait_for(timeout=60_000)  # app.py's titles, not file names
            assert "common" not in nav.inner_text() and page.url.endswith("/about")
            assert page.get_by_text("Page not found").count() == 0  # /about on about_model.py showed it
            assert page.locator("[data-testid=stException]").count() == 0
        finally:
            browser.close()


def test_a_fresh_servers_first_model_page_says_the_model_is_loading(server):
    """Second, so no earlier test has loaded the model: the main area used to stay blank for ~8 s."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page()
            page.goto(f"{server}/analyze_image", wait_until="domcontentloaded")
            page.get_by_text("Loading the model").wait_for(timeout=120_000)
            page.get_by_text("Upload a photo").first.wait_for(timeout=180_000)
            assert page.get_by_text("Loading the model").count() == 0  # gone once the page is ready
        finally:
            browser.close()


def test_phone_width_face_table_fits_and_one_face_is_explained(server):
    """390 px: the face table used to be cut off and two explained faces made ~8,000 px of scrolling."""
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=1)
            page.goto(f"{server}/analyze_image", wait_until="domcontentloaded")
            page.get_by_text("Upload a photo").first.wait_for(timeout=180_000)
            page.locator("button", has_text="two faces").click()
            page.get_by_text("Most suspicious face").wait_for(timeout=180_000)
            page.locator("[data-testid=stExpander] summary", has_text="How to read these maps").wait_for(timeout=180_000)
            page.wait_for_timeout(1500)
            table = page.locator("[data-testid=stTable]").first
            widths = table.evaluate("t => [t.scrollWidth, t.clientWidth, t.getBoundingClientRect().right]")
            assert widths[0] <= widths[1] + 1 and widths[2] <= 390, f"face table wider than the phone: {widths}"
            with page.expect_download(timeout=120_000) as download:  # built on click, not on every rerun
                page.get_by_role("button", name="Report (PDF)").first.click()
            assert Path(download.value.path()).read_bytes().startswith(b"%PDF")
            assert page.locator("h3", has_text="Face #").count() == 1  # the most suspicious face only
            height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
            page.screenshot(path=str(SCREENSHOTS / "analyze_image_390.png"), full_page=True)
            assert height < 6000, f"{height} px of scrolling at 390 px"
            assert page.locator("[data-testid=stException]").count() == 0
        finally:
            browser.close()


def test_an_evaluation_survives_a_click_elsewhere_and_its_message_stays(server, tmp_path, astronaut):
    """The form used to stop silently when the page reran mid-evaluation (issue 19: 38 of 80 images, nothing stored)."""
    from playwright.sync_api import sync_playwright

    from tests.conftest import face_folder

    folder = face_folder(tmp_path / "browser_set", astronaut, n=4)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{server}/metrics", wait_until="domcontentloaded")
            page.get_by_text("Run a new evaluation").wait_for(timeout=120_000)
            page.get_by_label("Folder on this server").fill(str(folder))
            page.get_by_role("button", name="Evaluate").click()
            page.get_by_text("Evaluating browser_set").wait_for(timeout=60_000)
            page.get_by_role("slider").first.press("ArrowRight")  # another interaction: a new script run starts
            page.get_by_text("stored (browser_set").wait_for(timeout=180_000)
            page.wait_for_timeout(5000)
            assert page.get_by_text("stored (browser_set").count() == 1  # still there, not gone after 2 s
        finally:
            browser.close()


def test_upload_in_a_real_browser(server):
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1300})
            page.goto(server, wait_until="domcontentloaded")
            nav = page.locator("[data-testid=stSidebarNav]")
            nav.get_by_text("Analyze image").click(timeout=120_000)
            page.get_by_text("Upload a photo").first.wait_for(timeout=120_000)
            assert "common" not in nav.inner_text()  # helpers in pages/ are not pages
            page.locator("input[type=file]").first.set_input_files(str(SAMPLES / "astronaut_selfblended.jpg"))
            page.get_by_text("Most suspicious face").wait_for(timeout=180_000)
            for method in ("Grad-CAM", "LIME", "SmoothGrad", "SHAP"):
                page.locator("strong", has_text=method).first.wait_for(timeout=180_000)
            page.wait_for_timeout(1500)
            assert page.locator("[data-testid=stException]").count() == 0
            assert page.locator("img").count() >= 10
            page.screenshot(path=str(SCREENSHOTS / "analyze_image.png"), full_page=True)
        finally:
            browser.close()
    assert (SCREENSHOTS / "analyze_image.png").stat().st_size > 50_000


def test_video_page_in_a_real_browser(server, tmp_path):
    """Issue 15: the video page draws one VideoAnalysis; its verdicts, maps and report download work in Chromium."""
    from playwright.sync_api import sync_playwright

    from tests import videos

    clip = videos.two_people(tmp_path / "two_people.mp4")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1300}, accept_downloads=True)
            page.goto(f"{server}/analyze_video", wait_until="domcontentloaded")
            page.get_by_text("Upload a video").first.wait_for(timeout=120_000)
            page.locator("input[type=file]").first.set_input_files(str(clip))
            page.get_by_text("Video verdict (most suspicious person)").wait_for(timeout=180_000)
            page.get_by_text("Save a report").wait_for(timeout=180_000)
            page.wait_for_timeout(1500)
            assert page.locator("[data-testid=stException]").count() == 0
            text = page.locator("[data-testid=stMain]").inner_text()
            assert "Track 1" in text and "Track 2" in text and "What the file says about itself" in text
            assert "re-scored under re-compression, resizing and re-framing" in text  # issue 16: the tracks' stability check
            assert page.locator("img").count() >= 6  # three Grad-CAM frames per track
            page.locator("[data-testid=stExpander] summary", has_text="Sampled frames of track").first.click()
            page.wait_for_timeout(1500)
            # Streamlit scrolls inside its main block, so a full-page shot needs a window as tall as that block.
            height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
            page.set_viewport_size({"width": 1500, "height": min(height + 40, 12_000)})
            page.wait_for_timeout(1000)
            page.screenshot(path=str(SCREENSHOTS / "analyze_video.png"), full_page=True)
            with page.expect_download(timeout=120_000) as download:
                page.get_by_role("button", name="Report (PDF)").click()
            pdf = SCREENSHOTS / "analyze_video_report.pdf"
            download.value.save_as(str(pdf))
        finally:
            browser.close()
    assert (SCREENSHOTS / "analyze_video.png").stat().st_size > 50_000
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 20_000


def inotify_watches(pid: int) -> int:
    """Inotify watches held by a process (Linux: one 'inotify wd:' line per watch in /proc/PID/fdinfo)."""
    count = 0
    for info in Path(f"/proc/{pid}/fdinfo").glob("*"):
        try:
            count += sum(line.startswith("inotify wd:") for line in info.read_text().splitlines())
        except OSError:
            pass
    return count


@pytest.mark.skipif(not Path("/proc/self/fdinfo").is_dir(), reason="counts inotify watches through Linux's /proc")
def test_server_watches_no_files(server):
    """.streamlit/config.toml turns the watcher off: it watched the whole folder, .venv included, and overflowed."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page()
            page.goto(server, wait_until="domcontentloaded")
            page.locator("h1").first.wait_for(timeout=120_000)
        finally:
            browser.close()
    port = server.rsplit(":", 1)[1]
    pids = [int(d.name) for d in Path("/proc").iterdir() if d.name.isdigit() and _cmdline_has(d, ["streamlit", "--server.port", port])]
    assert pids, "the test server's process was not found"
    assert [inotify_watches(pid) for pid in pids] == [0] * len(pids)


def _cmdline_has(proc: Path, words: list[str]) -> bool:
    try:
        argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return False
    return all(w in argv for w in words[1:]) and any(words[0] in a for a in argv)
