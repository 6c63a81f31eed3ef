"""The Streamlit app, driven headless with AppTest."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import SAMPLES

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 300


def page(name: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.switch_page(f"pages/{name}.py")
    return at


def test_home_and_about_render():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert "Deepfake face check" in at.title[0].value
    at.switch_page("pages/about.py").run()
    assert not at.exception and at.title[0].value == "About the model"


def test_every_page_s_url_is_its_file_name():
    """A fresh server's first request runs Streamlit's legacy pages/ mode, which finds a deep link only by file
    name; a url_path that differs from it (about_model.py at /about) landed on Home behind "Page not found"."""
    import ast

    calls = [node for node in ast.walk(ast.parse((ROOT / "app.py").read_text(encoding="utf-8")))
             if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "Page"]
    assert len(calls) == len([p for p in (ROOT / "pages").glob("*.py") if p.stem not in ("common", "__init__")])
    for call in calls:
        path = Path(call.args[0].value)
        keywords = {k.arg: k.value.value for k in call.keywords}
        assert path.parent.name == "pages" and (ROOT / path).is_file()
        assert keywords.get("url_path", path.stem) == path.stem or keywords.get("default"), keywords


def test_upload_shows_faces_verdict_and_four_maps():
    at = page("analyze_image").run()
    assert not at.exception
    at.file_uploader[0].set_value(("astronaut.jpg", (SAMPLES / "astronaut.jpg").read_bytes(), "image/jpeg")).run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert list(table["face #"]) == [1] and table["verdict"][0] in (
        "likely manipulated", "no sign of manipulation found", "can't tell", "too small to judge")
    assert "range under changes" in table.columns
    assert list(at.table[0].value.columns) == ["verdict", "P(fake)", "range under changes"]  # fits a phone
    assert not at.metric  # no metric widget: its delta arrow would style a probability as a gain or loss
    markdown = " ".join(m.value for m in at.markdown)
    assert "Most suspicious face: #1" in markdown and "P(fake)" in markdown
    captions = " ".join(c.value for c in at.caption)
    assert "What this means" in captions and "not trained on" in captions
    for text in [markdown, captions, *table["P(fake)"]]:
        assert "1.00" not in text and "0.00" not in text
    for method in ("**Grad-CAM**", "**LIME**", "**SmoothGrad**", "**SHAP**"):
        assert method in captions
    assert len(at.get("image")) >= 1 + 1 + 2 * 4  # boxes, crop, four overlays with colour bars
    assert len(at.get("download_button")) >= 2 + 4


def test_wrong_file_type_is_a_clear_error_and_the_page_recovers():
    at = page("analyze_image").run()
    at.file_uploader[0].set_value(("notes.txt", b"not an image", "text/plain")).run()
    assert not at.exception
    assert any("cannot be analysed" in e.value for e in at.error)
    at.file_uploader[0].set_value(("broken.jpg", b"\xff\xd8\xff\xe0 truncated", "image/jpeg")).run()
    assert not at.exception and any("corrupt" in e.value or "not an image" in e.value for e in at.error)
    at.file_uploader[0].set_value(("astronaut.jpg", (SAMPLES / "astronaut.jpg").read_bytes(), "image/jpeg")).run()
    assert not at.exception and not at.error
    assert len(at.dataframe) == 1


@pytest.mark.parametrize("sample", ["rocket_no_face.jpg"])
def test_sample_button_and_no_face(sample):
    at = page("analyze_image").run()
    button = next(b for b in at.button if b.key == f"sample-{sample}")
    button.click().run()
    assert not at.exception
    assert any("No face" in w.value for w in at.warning)


def test_a_video_on_the_image_page_points_to_the_video_page():
    at = page("analyze_image").run()
    at.file_uploader[0].set_value(("clip.mp4", b"\x00\x00\x00\x18ftypmp42", "video/mp4")).run()
    assert not at.exception
    assert any("Analyze video" in e.value for e in at.error)
    assert [link.proto.label for link in at.get("page_link")] == ["Open Analyze video"]


def test_most_suspicious_face_explained_first_report_at_once_and_cached_maps_say_so():
    """Issue 19: two faces were explained automatically, the report waited, and cached maps claimed '110 s'."""
    at = page("analyze_image").run()
    next(b for b in at.button if b.key == "sample-two_faces.jpg").click().run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert len(table) == 2
    worst = max(range(2), key=lambda i: float(str(table["P(fake)"][i]).strip("<> ")))
    subheaders = [h.value for h in at.subheader if h.value.startswith("Face #")]
    assert len(subheaders) == 1 and subheaders[0].startswith(f"Face #{worst + 1}:")
    assert at.multiselect[0].value == [worst + 1] and sorted(at.multiselect[0].options) == ["1", "2"]
    labels = [d.proto.label for d in at.get("download_button")]
    assert "Report (PDF)" in labels and "Report (HTML)" in labels
    statuses = [s.label for s in at.status]
    assert any("explained in" in s for s in statuses), statuses
    at.run()  # same picture, same settings: maps come from the cache
    statuses = [s.label for s in at.status]
    assert any("from earlier" in s for s in statuses) and not any("explained in" in s for s in statuses), statuses


def test_the_page_s_most_suspicious_face_is_the_report_s_headline(monkeypatch, shipped_detector):
    """Issue 15: the page named the highest P(fake) even when that face was too small to judge, while the
    report led with a judged face. Here the top face of two_faces.jpg is made too small to judge."""
    import detector.stability as stability
    from detector.imageio import decode_image
    from detector.reporting.report import image_report

    faces = shipped_detector.analyze(decode_image((SAMPLES / "two_faces.jpg").read_bytes())).faces
    top = max(faces, key=lambda f: f.p_fake)
    other = next(f for f in faces if f is not top)
    top_px = stability.face_size(top.face)
    monkeypatch.setattr(stability, "too_small", lambda face_px, rules: face_px == top_px)  # the two faces differ by 0.1 px
    at = page("analyze_image").run()
    next(b for b in at.button if b.key == "sample-two_faces.jpg").click().run()
    assert not at.exception, at.exception
    analysis = at.session_state["analysis"]
    assert analysis.faces[top.index].verdict == "too_small" and analysis.headline_face.index == other.index
    headline = next(m.value for m in at.markdown if m.value.startswith("**Most suspicious face"))
    assert headline.startswith(f"**Most suspicious face: #{other.index + 1}**")
    assert f"Most suspicious: face #{other.index + 1}:" in image_report(analysis).summary
    assert at.multiselect[0].value == [other.index + 1]  # explained first, as the report leads with it


def test_a_rerun_builds_no_report(monkeypatch):
    """The report buttons hold callables: the HTML and the PDF are built when clicked, not on every rerun."""
    from detector.reporting import report

    built = []
    monkeypatch.setattr(report, "to_pdf", lambda *a, **k: built.append("pdf") or b"")
    monkeypatch.setattr(report, "to_html", lambda *a, **k: built.append("html") or "")
    at = page("analyze_image").run()
    at.file_uploader[0].set_value(("astronaut.jpg", (SAMPLES / "astronaut.jpg").read_bytes(), "image/jpeg")).run()
    at.run()
    assert not at.exception, at.exception
    assert {"Report (PDF)", "Report (HTML)"} <= {d.proto.label for d in at.get("download_button")}
    assert built == [], f"built on a rerun: {built}"


def test_the_instructor_page_takes_the_image_page_s_analysis():
    """The image page hands over an ImageAnalysis (not a bare tuple); the instructor page offers its picture."""
    from detector.analysis import ImageAnalysis

    at = page("analyze_image").run()
    at.file_uploader[0].set_value(("astronaut.jpg", (SAMPLES / "astronaut.jpg").read_bytes(), "image/jpeg")).run()
    assert not at.exception, at.exception
    analysis = at.session_state["analysis"]
    assert isinstance(analysis, ImageAnalysis) and analysis.faces and analysis.checks[0] is not None
    at.switch_page("pages/instructor.py").run()
    assert not at.exception, at.exception
    picker = at.selectbox[0] if at.selectbox[0].label == "Picture" else next(s for s in at.selectbox if s.label == "Picture")
    assert picker.value == "last analysed image"
