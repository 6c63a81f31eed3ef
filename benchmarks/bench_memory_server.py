"""Peak RSS of the real app process (`streamlit run app.py`) driven by Chromium: after loading and
after 20 uploads, each explained with all four maps.

    python -m benchmarks.bench_memory_server     target: <= 1.5 GB; needs /usr/bin/chromium
"""

import io
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.common import ROOT, report, sample_face

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MB, from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def main() -> dict:
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true"],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p, tempfile.TemporaryDirectory() as folder:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/analyze_image")
            page.get_by_text("Upload a photo").first.wait_for(timeout=120_000)
            loaded = rss_mb(server.pid)
            started = time.perf_counter()
            face = sample_face()
            for i in range(20):
                path = Path(folder) / f"photo{i}.jpg"
                buffer = io.BytesIO()
                face.rotate(i * 3 - 30).save(buffer, "JPEG", quality=90)
                path.write_bytes(buffer.getvalue())
                page.locator("input[type=file]").first.set_input_files(str(path))
                # The last upload's "explained in" stays on screen until this run replaces it, so
                # first wait for this run's LIME step (seconds long), then for its end.
                page.get_by_text(re.compile(r"LIME \(2/4\)")).first.wait_for(timeout=180_000)
                page.get_by_text("explained in").first.wait_for(timeout=180_000)
                page.get_by_text("Report (PDF)").first.wait_for(timeout=60_000)
            after = rss_mb(server.pid)
            seconds = time.perf_counter() - started
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    rows = [("RSS after loading (MB)", f"{loaded[0]:.0f}", "streamlit server process"),
            ("RSS after 20 analyses (MB)", f"{after[0]:.0f}", f"each with all four maps and the report; {seconds:.0f} s in all"),
            ("peak RSS (MB)", f"{after[1]:.0f}", "target <= 1536 MB")]
    return report("memory_server", rows, {"rss_loaded_mb": loaded[0], "rss_after_20_mb": after[0], "peak_rss_mb": after[1], "seconds_20_analyses": seconds})


if __name__ == "__main__":
    main()
