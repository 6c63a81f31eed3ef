"""The journalist's report: HTML that parses, a PDF with pages, the hash, every face, the caveats."""

import hashlib
from html.parser import HTMLParser

import pypdfium2

from detector import display
from detector.analysis import analyze_image_bytes, analyze_video_file
from detector.reporting.report import CAVEATS, image_report, to_html, to_pdf, video_report
from detector.stability import AbstainRules
from tests import videos
from tests.conftest import ROOT, SAMPLES
from xai import FAKE, make_explainer
from xai.overlay import render


class Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text, self.stack = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in ("img", "meta", "br"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"unbalanced </{tag}>"
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def build_image_report(detector):
    data = (SAMPLES / "two_faces.jpg").read_bytes()
    analysis = analyze_image_bytes(detector, data, "two_faces.jpg", stability=False)
    result = analysis.result
    maps = {f.index: [("Grad-CAM", render(f.crop, make_explainer("Grad-CAM").explain(detector.model, f.crop, FAKE)))] for f in result.faces}
    return data, result, image_report(analysis, maps)


def test_html_report_parses_and_says_everything(detector):
    data, result, report = build_image_report(detector)
    page = to_html(report)
    parser = Collector()
    parser.feed(page)
    parser.close()
    assert parser.stack == ["html"] or parser.stack == []
    text = " ".join(parser.text)
    assert hashlib.sha256(data).hexdigest() in text
    assert len(result.faces) == 2
    for face in result.faces:
        assert f"Face #{face.index + 1}" in text and display.format_probability(face.p_fake, 3) in text
    for caveat in CAVEATS:
        assert caveat in text
    assert parser.tags.count("img") >= 1 + 2 * 2  # overview + crop and map per face
    assert "http://" not in page and "https://" not in page  # self-contained: nothing fetched


def test_report_carries_the_stability_check_and_verdict_words(detector):
    data = (SAMPLES / "two_faces.jpg").read_bytes()
    analysis = analyze_image_bytes(detector, data, "two_faces.jpg", rules=AbstainRules())
    result, checks = analysis.result, analysis.checks
    report = image_report(analysis)
    page = to_html(report)
    for face, check in zip(result.faces, checks):
        rows = report.faces[face.index].rows
        assert rows["Verdict"].startswith(check.words()) and "P(fake)" in rows["Verdict"]
        assert display.format_range(check.low, check.high, 3) in rows["Under re-compression, resizing, re-framing"]
    assert report.caveats[0] == display.what_this_means(detector.config.training)
    assert "not trained on" in page
    face_text = " ".join(v for section in report.faces for v in section.rows.values()) + report.summary
    assert "1.000" not in face_text and "0.000" not in face_text
    assert "What this means" in " ".join(t for t in to_pdf_text(report))


def to_pdf_text(report) -> list[str]:
    pdf = pypdfium2.PdfDocument(to_pdf(report))
    return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]


def test_pdf_report_has_pages_and_renders(detector):
    _, result, report = build_image_report(detector)
    pdf_bytes = to_pdf(report)
    assert pdf_bytes.startswith(b"%PDF")
    pdf = pypdfium2.PdfDocument(pdf_bytes)
    assert len(pdf) >= 1
    text = " ".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    assert report.file_rows["SHA-256"] in text.replace("\r", "").replace("\n", "")
    assert "Face #1" in text and "Face #2" in text and "not proof" in text
    out = ROOT / "runs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    for i in range(len(pdf)):
        bitmap = pdf[i].render(scale=1.2).to_pil()
        assert bitmap.size[0] > 500
        bitmap.save(out / f"report_page{i + 1}.png")


def test_video_report(detector, tmp_path):
    data = videos.two_people(tmp_path / "two.mp4").read_bytes()
    analysis = analyze_video_file(detector, data, "two.mp4", max_frames=3, rules=AbstainRules())
    report = video_report(analysis)
    page = to_html(report)
    assert hashlib.sha256(data).hexdigest() in page and "Track 1" in page and "Track 2" in page
    assert report.file_rows["Size"] == f"{len(data):,} bytes" and report.file_rows["EXIF"] == "n/a (video)"
    for track in analysis.tracks:  # each track's section says what the analysis says
        rows = report.faces[[t.id for t in analysis.by_suspicion()].index(track.id)].rows
        assert rows["Verdict"] == track.words() and rows["P(fake), confident frames"] == display.format_probability(track.p_fake, 3)
        assert len(rows["Frames"].split(", ")) == 3
    assert to_pdf(report).startswith(b"%PDF")


def test_report_cites_the_analysis_not_a_recomputation(detector, tmp_path):
    """The report reads the analysis' verdicts: a track judged too small by the rules is too small in the report."""
    data = videos.two_people(tmp_path / "two.mp4").read_bytes()
    strict = analyze_video_file(detector, data, "two.mp4", max_frames=2, rules=AbstainRules(min_face_px=10_000))
    report = video_report(strict)
    assert report.caveats[0] == strict.what_this_means and display.NO_VIDEO_FRAMES in report.caveats[0]
    assert all(t.verdict == display.TOO_SMALL for t in strict.tracks)
    assert all(section.rows["Verdict"] == display.verdict_words(display.TOO_SMALL) for section in report.faces)
    assert display.verdict_words(display.TOO_SMALL) in report.summary


def test_pdf_keeps_each_face_header_with_its_pictures_and_has_a_colour_legend():
    """Issue 19: a page break split a face's header from its crop; the maps had no colour legend."""
    import re

    import pypdfium2.raw as pdfium_c
    from PIL import Image

    from detector.reporting.report import FaceSection, Report

    tile = Image.new("RGB", (64, 64), (200, 120, 90))
    rows = {f"row {i}": "a value long enough to wrap onto a second line in the PDF's table column " * 2 for i in range(4)}
    faces = [FaceSection(f"Face #{n}", rows, [("face crop", tile)] + [(f"map {m}", tile) for m in range(4)]) for n in range(1, 8)]
    legend = [("Grad-CAM and saliency: 0 (least) to 1 (most looked at)", Image.new("RGB", (448, 40), (0, 0, 255)))]
    report = Report("Deepfake check: many.jpg", {"SHA-256": "0" * 64}, {"Model": "m"}, [], "7 faces.", tile, faces, legend=legend)
    pdf = pypdfium2.PdfDocument(to_pdf(report))
    assert len(pdf) >= 3
    for i in range(len(pdf)):
        page = pdf[i]
        titles = re.findall(r"Face #\d", page.get_textpage().get_text_range())
        images = len(list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE])))
        assert images >= 5 * len(titles), f"page {i + 1}: {titles} with only {images} pictures"
    text = " ".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    assert "Map colours" in text and "most looked at" in text
    assert "Map colours" in to_html(report)


def test_no_training_data_is_hard_coded_in_the_caveats():
    # What a model learned from comes from its config.json (display.what_this_means), never from a fixed list.
    for name in ("DFDC", "StyleGAN", "Stable Diffusion"):
        assert not any(name in caveat for caveat in CAVEATS), name
