"""Peak RSS of the app after loading and after 20 analyses (the real page code, via AppTest).

    python -m benchmarks.bench_memory            target: <= 1.5 GB
"""

import io

from benchmarks.common import ROOT, current_rss_mb, peak_rss_mb, report, sample_face


def main() -> dict:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.switch_page("pages/analyze_image.py").run()
    loaded = current_rss_mb()
    face = sample_face()
    for i in range(20):
        buffer = io.BytesIO()
        face.rotate(i * 3 - 30).save(buffer, "JPEG", quality=90)
        at.file_uploader[0].set_value((f"photo{i}.jpg", buffer.getvalue(), "image/jpeg")).run()
        assert not at.exception, at.exception
    after = current_rss_mb()
    rows = [("RSS after loading (MB)", f"{loaded:.0f}", ""),
            ("RSS after 20 analyses (MB)", f"{after:.0f}", "each with all four maps"),
            ("peak RSS (MB)", f"{peak_rss_mb():.0f}", "target <= 1536 MB")]
    return report("memory", rows, {"rss_loaded_mb": loaded, "rss_after_20_mb": after, "peak_rss_mb": peak_rss_mb()})


if __name__ == "__main__":
    main()
