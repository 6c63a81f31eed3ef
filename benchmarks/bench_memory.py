"""Peak RSS of the app after loading and after 20 analyses (the real page code, via AppTest).

    python -m benchmarks.bench_memory            target: <= 1.5 GB
    python -m benchmarks.bench_memory --model dfx-lite0-2.1.0   another shipped model (the sidebar's picker),
                                                 saved as memory_<name>.json; one model per process (peak RSS)
    [--analyses N]                               how many uploads (default 20)
"""

import io
import sys

from benchmarks.common import ROOT, current_rss_mb, peak_rss_mb, report, sample_face


def main(argv: list[str] | None = None) -> dict:
    from streamlit.testing.v1 import AppTest

    argv = sys.argv[1:] if argv is None else argv
    model = argv[argv.index("--model") + 1] if "--model" in argv else None
    analyses = int(argv[argv.index("--analyses") + 1]) if "--analyses" in argv else 20
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.switch_page("pages/analyze_image.py").run()
    if model:
        at.selectbox(key="model_name").set_value(model).run()
        assert not at.exception, at.exception
    shown = next(c.value for c in at.sidebar.caption if " px · " in c.value)  # the model the page says it uses
    loaded = current_rss_mb()
    face = sample_face()
    for i in range(analyses):
        buffer = io.BytesIO()
        face.rotate(i * 3 - 30).save(buffer, "JPEG", quality=90)
        at.file_uploader[0].set_value((f"photo{i}.jpg", buffer.getvalue(), "image/jpeg")).run()
        assert not at.exception, at.exception
    after = current_rss_mb()
    rows = [("RSS after loading (MB)", f"{loaded:.0f}", ""),
            (f"RSS after {analyses} analyses (MB)", f"{after:.0f}", "each with all four maps"),
            ("peak RSS (MB)", f"{peak_rss_mb():.0f}", "target <= 1536 MB")]
    return report("memory" if model is None else f"memory_{model}", rows, {"model": model, "model_shown": shown, "analyses": analyses, "rss_loaded_mb": loaded, "rss_after_20_mb": after, "peak_rss_mb": peak_rss_mb()})


if __name__ == "__main__":
    main()
