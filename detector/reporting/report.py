"""A report a journalist can save and cite: self-contained HTML, and a PDF with the same content.

Both are built in memory from one `Report` object; images are embedded (base64 in the HTML),
nothing is fetched and nothing is sent anywhere.
"""

from __future__ import annotations

import base64
import html
import io
import time
from dataclasses import dataclass, field

from PIL import Image

from detector import display
from detector.analysis import FaceAnalysis, ImageAnalysis, TrackAnalysis, VideoAnalysis
from detector.config import ModelConfig
from detector.imageio import exif_summary  # noqa: F401  (detector.reporting.report.exif_summary, its old home)
from detector.provenance import Provenance
from detector.reporting.draw import draw_faces, draw_tracks, track_colour_name

# What the model was trained on is not listed here: each report opens with its analysis's display.what_this_means line,
# read from the checkpoint, so a model trained on other data never gets this model's list.
CAVEATS = [
    "P(fake) is the model's calibrated probability that a face is fake, measured on the test sets listed above. "
    "It is evidence to weigh, not a finding of fact.",
    "A 'real' verdict is not proof that a face is authentic: the model can miss manipulations it was never trained on.",
    "Accuracy on these research test sets is not accuracy on press photos or social-media video: heavy compression, "
    "resizing, filters and screenshots all change the score.",
    "Heat maps show what influenced this model, not where a manipulation is; different methods can disagree.",
    "'Uncertain' means the score lies in the band around the threshold where validation accuracy was too low to call.",
]


@dataclass
class FaceSection:
    title: str
    rows: dict[str, str]
    images: list[tuple[str, Image.Image]]  # (caption, picture)


PROVENANCE_TITLE = "What the file says about itself (Content Credentials and metadata)"


@dataclass
class Report:
    title: str
    file_rows: dict[str, str]
    model_rows: dict[str, str]
    test_rows: list[dict[str, str]]
    summary: str
    overview: Image.Image | None
    faces: list[FaceSection] = field(default_factory=list)
    caveats: list[str] = field(default_factory=lambda: list(CAVEATS))
    # How to read the maps' colours: (which maps, colour bar with its numbers), e.g. from xai.overlay.colorbar.
    legend: list[tuple[str, Image.Image]] = field(default_factory=list)
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))
    provenance: Provenance | None = None  # what the file says about itself (C2PA, EXIF, XMP)


def file_rows(name: str, sha256: str, size_bytes: int, dimensions: str, kind: str, exif: str = "n/a (video)") -> dict[str, str]:
    return {
        "File name": name,
        "SHA-256": sha256,
        "Size": f"{size_bytes:,} bytes",
        "Kind": kind,
        "Dimensions": dimensions,
        "EXIF": exif,
    }


def model_rows(config: ModelConfig) -> tuple[dict[str, str], list[dict[str, str]]]:
    rows = {
        "Model": f"{config.name} {config.version} ({config.architecture}, {config.input_size} px)",
        "Decision threshold": f"{config.threshold:.3f} (can't tell {config.band_words()})",
        "Calibration": f"temperature {config.temperature:.3f} fitted on validation data",
    }
    tests = []
    for data_name, metrics in (config.metrics.get("test") or {}).items():
        tests.append({"test set": data_name, **{k: f"{metrics[k]:.3f}" for k in ("auc", "accuracy", "precision", "recall") if metrics.get(k) is not None},
                      "n": str(metrics.get("n", ""))})
    return rows, tests


Maps = dict[int, list[tuple[str, Image.Image]]]
Legend = list[tuple[str, Image.Image]]


def image_report(analysis: ImageAnalysis, maps: Maps | None = None, legend: Legend | None = None) -> Report:
    """The report of a picture's analysis (detector.analysis.ImageAnalysis), as the image page shows it.

    maps: face index -> [(method caption, overlay image)]; legend: how to read the maps' colours
    (e.g. xai.overlay.legend_entries)."""
    maps = maps or {}
    faces = [FaceSection(f"Face #{face.index + 1}", face_rows(face), [("face crop", face.result.crop)] + maps.get(face.index, []))
             for face in analysis.faces]
    worst = analysis.headline_face
    summary = ("No face was found." if worst is None else
               f"{len(analysis.faces)} face(s). Most suspicious: face #{worst.index + 1}: {face_line(worst)}.")
    image = analysis.image
    rows = file_rows(analysis.name, analysis.sha256, analysis.size_bytes, f"{image.width} x {image.height}", "image", analysis.exif)
    overview = draw_faces(image, analysis.result.faces, analysis.verdicts)
    return _report(analysis.name, rows, analysis.config, summary, overview, faces, legend, analysis.provenance,
                   analysis.what_this_means)


def face_line(face: FaceAnalysis) -> str:
    """The face's verdict in words with its P(fake) (and its range under changes when checked)."""
    if face.stability is not None:
        return face.stability.line()
    return display.verdict_line(face.verdict, face.result.p_fake, digits=3)


def face_rows(face: FaceAnalysis) -> dict[str, str]:
    result, check = face.result, face.stability
    x1, y1, x2, y2 = result.box
    return {
        "Verdict": face_line(face),
        "P(fake), calibrated": display.format_probability(result.p_fake, 3),
        **({"Under re-compression, resizing, re-framing": stability_row(check)} if check else {}),
        "Box (x1, y1, x2, y2)": f"{x1:.0f}, {y1:.0f}, {x2:.0f}, {y2:.0f}",
        "Face detector confidence": f"{result.face.prob:.4f}",
        "Face found by": "whole picture used (no face detected)" if result.face.fallback else "MTCNN",
    }


def stability_row(check) -> str:
    """The face's P(fake) range over its perturbed copies, and which ones flip the verdict."""
    spread = f"P(fake) {display.format_range(check.low, check.high, 3)} across {len(check.p_fake_by_change)} copies"
    holds = f"; the verdict flips under {', '.join(check.flipped)}" if check.flipped else "; the verdict holds"
    return spread + holds + (f" ({check.copies_note()})" if check.stopped_early else "")


def video_report(analysis: VideoAnalysis, maps: Maps | None = None, legend: Legend | None = None) -> Report:
    """The report of a video's analysis (detector.analysis.VideoAnalysis), as the video page shows it.

    maps: track id -> [(caption, overlay image)] for its most suspicious frames."""
    maps = maps or {}
    result, worst = analysis.result, analysis.worst
    summary = "No face was found in the sampled frames." if worst is None else (
        f"{len(analysis.tracks)} person track(s) over {len(result.frames)} sampled frames. Most suspicious: track {worst.id}, "
        + (f"{worst.words()} (P(fake) {display.format_probability(worst.p_fake, 3)}, confident-frames rule; "
           f"mean {display.format_probability(worst.p_fake_mean, 3)})." if worst.judged else
           f"{worst.line()}: no track could be judged, so the video has no P(fake)."))
    if worst is not None and result.shot_changes:
        summary += " " + display.shot_changes_words(result.shot_changes)
    faces = [FaceSection(f"Track {track.id} ({track_colour_name(track.id)} box)", track_rows(analysis, track), maps.get(track.id, []))
             for track in analysis.by_suspicion()]
    info = result.info
    dims = f"{info.width} x {info.height}, {info.duration:.1f} s at {info.fps:.2f} fps"
    # The frame where most tracks are visible, each box numbered and in its track's colour.
    shown = analysis.overview_frame()
    overview = draw_tracks(shown, result.tracks) if shown is not None else None
    rows = file_rows(analysis.name, analysis.sha256, analysis.size_bytes, dims, "video")
    return _report(analysis.name, rows, analysis.config, summary, overview, faces, legend, analysis.provenance,
                   analysis.what_this_means)


def track_rows(analysis: VideoAnalysis, track: TrackAnalysis) -> dict[str, str]:
    frames = zip(analysis.frame_times(track), track.p_fake_per_frame)
    return {
        "Verdict": track.words(),
        "P(fake), confident frames": display.format_probability(track.p_fake, 3),
        "P(fake), mean of frames": display.format_probability(track.p_fake_mean, 3),
        **({"Under re-compression, resizing, re-framing": track.stability.summary()} if track.stability is not None else {}),
        "Frames": ", ".join(f"{time:.1f}s={display.format_probability(p)}" for time, p in frames),
    }


def _report(name: str, rows: dict[str, str], config: ModelConfig, summary: str, overview: Image.Image | None,
            faces: list[FaceSection], legend: Legend | None, provenance: Provenance | None, what_this_means: str) -> Report:
    mrows, tests = model_rows(config)
    report = Report(f"Deepfake check: {name}", rows, mrows, tests, summary, overview, faces,
                    legend=list(legend or []), provenance=provenance)
    report.caveats.insert(0, what_this_means)  # the analysis's own line (a video's says more)
    return report


# ---- HTML ------------------------------------------------------------------------------------------
def _png_data_uri(image: Image.Image, max_side: int = 640) -> str:
    image = image.convert("RGB")
    if max(image.size) > max_side:
        image = image.copy()
        image.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _table(rows: dict[str, str]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows.items())
    return f"<table>{body}</table>"


def to_html(report: Report) -> str:
    e = html.escape
    tests = ""
    if report.test_rows:
        keys = list(report.test_rows[0])
        head = "".join(f"<th>{e(k)}</th>" for k in keys)
        body = "".join("<tr>" + "".join(f"<td>{e(r.get(k, ''))}</td>" for k in keys) + "</tr>" for r in report.test_rows)
        tests = f"<h3>Measured on the test sets</h3><table><tr>{head}</tr>{body}</table>"
    faces = ""
    for face in report.faces:
        figures = "".join(f'<figure><img src="{_png_data_uri(img, 320)}" alt="{e(cap)}"><figcaption>{e(cap)}</figcaption></figure>' for cap, img in face.images)
        faces += f'<section class="face"><h3>{e(face.title)}</h3>{_table(face.rows)}<div class="maps">{figures}</div></section>'
    overview = f'<img class="overview" src="{_png_data_uri(report.overview, 900)}" alt="analysed picture">' if report.overview else ""
    caveats = "".join(f"<li>{e(c)}</li>" for c in report.caveats)
    legend = "".join(f'<figure class="legend"><img src="{_png_data_uri(bar, 900)}" alt="colour bar"><figcaption>{e(text)}</figcaption></figure>'
                     for text, bar in report.legend)
    legend = f"<h3>Map colours</h3>{legend}" if legend else ""
    provenance = ""
    if report.provenance is not None:
        lines = "".join(f"<li>{e(line)}</li>" for line in report.provenance.lines())
        provenance = (f'<h2>{PROVENANCE_TITLE}</h2><p class="provenance {e(report.provenance.tone)}">'
                      f"{e(report.provenance.headline)}</p><ul>{lines}</ul>")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(report.title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 980px; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; margin: .5em 0 1em; }} th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: left; font-size: 14px; }}
th {{ background: #f4f4f4; }} .maps {{ display: flex; flex-wrap: wrap; gap: 8px; }} figure {{ margin: 0; width: 180px; }}
figure img {{ width: 180px; }} figure.legend img {{ width: 360px; }} figcaption {{ font-size: 12px; color: #555; }} .overview {{ max-width: 100%; }}
.summary {{ font-size: 18px; font-weight: 600; }} .caveats li {{ margin-bottom: .4em; }}
.provenance {{ font-weight: 600; padding: 6px 10px; border-left: 5px solid #888; background: #f4f4f4; }}
.provenance.alert, .provenance.strong {{ border-color: #c62828; background: #fdecea; }} .provenance.caution {{ border-color: #e6a100; background: #fff6e0; }}
</style></head><body>
<h1>{e(report.title)}</h1>
<p>Generated {e(report.created)} by the open deepfake face check. Everything was computed on the analyst's machine; nothing was uploaded.</p>
<p class="summary">{e(report.summary)}</p>
{provenance}
<h2>File</h2>{_table(report.file_rows)}
{overview}
<h2>Model</h2>{_table(report.model_rows)}{tests}
<h2>Faces</h2>{legend}{faces or "<p>No face.</p>"}
<h2>What this does and does not mean</h2><ul class="caveats">{caveats}</ul>
</body></html>
"""


# ---- PDF -------------------------------------------------------------------------------------------
def _latin1(text: str) -> str:
    """fpdf2's core fonts are Latin-1: replace what they cannot draw."""
    return text.replace("±", "+/-").replace("–", "-").replace("·", "-").replace("×", "x").replace("→", "->").replace("…", "...").encode("latin-1", "replace").decode("latin-1")


def to_pdf(report: Report) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def heading(text: str, size: int = 14) -> None:
        pdf.set_font("Helvetica", "B", size)
        pdf.multi_cell(width, 8, _latin1(text), new_x="LMARGIN", new_y="NEXT")

    def text(value: str, size: int = 10, style: str = "") -> None:
        pdf.set_font("Helvetica", style, size)
        pdf.multi_cell(width, 5, _latin1(value), new_x="LMARGIN", new_y="NEXT")

    def rows(table: dict[str, str]) -> None:
        for key, value in table.items():
            pdf.set_font("Helvetica", "B", 9)
            if pdf.get_string_width(_latin1(key)) > 46:  # a long name on its own line, not under its value
                pdf.multi_cell(width, 5, _latin1(key), new_x="LMARGIN", new_y="NEXT")
                pdf.set_x(pdf.l_margin + 48)
            else:
                pdf.cell(48, 5, _latin1(key))
            pdf.set_font("Helvetica", "", 9)
            pdf.multi_cell(width - 48, 5, _latin1(value), new_x="LMARGIN", new_y="NEXT")

    def rows_height(table: dict[str, str]) -> float:
        pdf.set_font("Helvetica", "", 9)
        lines = sum(max(1, len(pdf.multi_cell(width - 48, 5, _latin1(v), dry_run=True, output="LINES"))) for v in table.values())
        pdf.set_font("Helvetica", "B", 9)
        return 5 * (lines + sum(pdf.get_string_width(_latin1(k)) > 46 for k in table))

    def picture(image: Image.Image, w: float) -> None:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, "PNG")
        buffer.seek(0)
        pdf.image(buffer, w=w)

    heading(report.title, 16)
    text(f"Generated {report.created}. Computed on the analyst's machine; nothing was uploaded.", 9)
    pdf.ln(2)
    text(report.summary, 11, "B")
    pdf.ln(2)
    if report.provenance is not None:
        heading(PROVENANCE_TITLE, 12)
        text(report.provenance.headline, 10, "B")
        for line in report.provenance.lines():
            text("- " + line, 9)
        pdf.ln(2)
    heading("File", 12)
    rows(report.file_rows)
    if report.overview is not None:
        picture(report.overview, min(width, 120))
    heading("Model", 12)
    rows(report.model_rows)
    for test in report.test_rows:
        text(", ".join(f"{k}: {v}" for k, v in test.items()), 9)
    if report.legend:
        pdf.ln(2)
        heading("Map colours", 12)
        for label, bar in report.legend:
            text(label, 8)
            picture(bar, 90)
    size = (width - 4 * 3) / 5
    for face in report.faces:
        # The header, the rows and the pictures go on one page: a page break used to split a face's title from its crop.
        needed = 3 + 8 + rows_height(face.rows) + (size + 8 if face.images else 0)
        if pdf.get_y() + needed > pdf.h - pdf.b_margin:
            pdf.add_page()
        pdf.ln(3)
        heading(face.title, 12)
        rows(face.rows)
        x0, y0 = pdf.l_margin, pdf.get_y() + 1
        if face.images and y0 + size + 8 > pdf.h - pdf.b_margin:  # rows longer than a page: pictures on the next
            pdf.add_page()
            y0 = pdf.get_y()
        for n, (caption, image) in enumerate(face.images[:5]):
            buffer = io.BytesIO()
            image.convert("RGB").save(buffer, "PNG")
            buffer.seek(0)
            pdf.image(buffer, x=x0 + n * (size + 3), y=y0, w=size, h=size)
            pdf.set_xy(x0 + n * (size + 3), y0 + size + 0.5)
            pdf.set_font("Helvetica", "", 7)
            pdf.cell(size, 4, _latin1(caption[:40]))
        pdf.set_xy(pdf.l_margin, y0 + (size + 6 if face.images else 0))
    pdf.ln(3)
    heading("What this does and does not mean", 12)
    for caveat in report.caveats:
        text("- " + caveat, 9)
    return bytes(pdf.output())
