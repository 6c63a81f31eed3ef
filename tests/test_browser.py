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
def server():
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
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
            page.goto(f"{server}/metrics", wait_until="domcontentloaded")
            page.locator("h1", has_text="Metrics").wait_for(timeout=120_000)
            nav = page.locator("[data-testid=stSidebarNav]")
            nav.get_by_text("Instructor mode").wait_for(timeout=60_000)  # app.py's titles, not file names
            assert "common" not in nav.inner_text() and page.url.endswith("/metrics")
            assert page.locator("[data-testid=stException]").count() == 0
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
