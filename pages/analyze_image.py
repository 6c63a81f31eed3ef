import hashlib
import json
import time

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from detector import display
from detector.analysis import ImageAnalysis, analyze_image_bytes, is_video
from detector.errors import InputError
from detector.imageio import IMAGE_SUFFIXES
from detector.reporting.draw import draw_faces
from detector.reporting.report import image_report, to_html, to_pdf
from pages.common import explainer_widgets, provenance_panel, require_app_navigation, samples_dir, sidebar_detector
from xai import FAKE, TYPICAL_MAP_SECONDS, cached_explain
from xai.overlay import colorbar, colorbar_labels, legend_entries, png_bytes, render

require_app_navigation()


def offer_report(slot, report, name: str, maps_pending: bool) -> None:
    """The report's two download buttons in `slot`, replacing what was there."""
    with slot.container():
        st.subheader("Save a report")
        st.caption(("Ready now with the verdicts; the maps below are added to it as soon as they are drawn. " if maps_pending
                    else "With the verdicts and the maps shown below. ")
                   + "An HTML file and a PDF with the file's SHA-256, every face, its verdict, the model's measured "
                   "accuracy and the caveats. Built on this machine; nothing is sent anywhere.")
        r1, r2 = st.columns(2)
        suffix = "-verdicts" if maps_pending else ""
        # Built when clicked, not on every rerun (about 1-3 s each on a laptop CPU).
        r1.download_button("Report (HTML)", lambda: to_html(report), file_name=f"{name}.report.html", mime="text/html", key=f"html{suffix}")
        r2.download_button("Report (PDF)", lambda: to_pdf(report), file_name=f"{name}.report.pdf", mime="application/pdf", key=f"pdf{suffix}")


st.title("Analyze an image")
detector = sidebar_detector()
config = detector.config

with st.sidebar:
    st.subheader("Explanations")
    st.caption("The defaults suit most pictures; change these only to compare methods.")
    opacity = st.slider("Overlay opacity", 0.0, 1.0, 0.5, 0.05, help="How strongly the colours cover the face: 0 shows only the face.")
    explain_other = st.toggle("Explain the other class", help="By default each map shows what made the model give its answer. Switch on to see what spoke for the other answer.")
    # Each explainer describes its own settings (xai/settings.py): one widget per setting, same order.
    families = explainer_widgets(detector.model)

# ---- input: upload or one-click sample -------------------------------------------------------
# No `type=` filter: Streamlit would raise on a wrong extension from deep inside session state;
# our own check below answers with a clear message instead.
uploaded = st.file_uploader("Upload a photo (jpg, jpeg, png, webp, bmp)")
samples = sorted(p for p in samples_dir().glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
st.caption("…or try a bundled sample:")
columns = st.columns(len(samples) or 1)
for column, path in zip(columns, samples):
    if column.button(path.stem.replace("_", " "), key=f"sample-{path.name}", width="stretch"):
        st.session_state["sample"] = path.name
if uploaded is not None:
    st.session_state.pop("sample", None)
    st.session_state.pop("opened_image", None)
    name, data = uploaded.name, uploaded.getvalue()
elif "sample" in st.session_state:
    name = st.session_state["sample"]
    data = (samples_dir() / name).read_bytes()
elif "opened_image" in st.session_state:  # a file opened from the Batch page's table
    name, data = st.session_state["opened_image"]
else:
    st.info("Upload a photo (jpg, png, webp, bmp) or pick a sample to begin.")
    st.stop()

# ---- detection: once per picture and model; widgets that only change explanations reuse it --
try:
    if is_video(name):
        st.error(f"{name} is a video. Videos are checked on the *Analyze video* page (frames sampled, one track per person).")
        st.page_link("pages/analyze_video.py", label="Open Analyze video", icon=":material/movie:")
        st.stop()
    digest = hashlib.sha256(data).hexdigest()
    key = ("analysis", digest, str(detector.checkpoint))
    if st.session_state.get("analysis_key") != key:
        with st.spinner("Finding and scoring faces, then re-scoring each under re-compression, resizing and re-framing…"):
            # Type check, decoding, faces, verdicts and the stability check: the same call as predict --json.
            analysis = analyze_image_bytes(detector, data, name, provenance=True)
        # The instructor page offers this picture too ("last analysed image").
        st.session_state["analysis_key"], st.session_state["analysis"] = key, analysis
    analysis: ImageAnalysis = st.session_state["analysis"]
    image, result, checks = analysis.image, analysis.result, analysis.checks
except InputError as exc:
    st.error(f"This file cannot be analysed: {exc}")
    st.stop()

def stability_strip(faces, checks, config) -> go.Figure:
    """One row per face: its changed copies' P(fake) as dots, the original as a diamond, the threshold line."""
    figure = go.Figure()
    for face, check in zip(faces, checks):
        # A face whose staged check stopped after its first stage says so on its row: fewer dots, not fewer changes hidden.
        row = f"face {face.index + 1}" + (f" ({check.copies_scored} of {check.copies_total})" if check.stopped_early else "")
        names = list(check.p_fake_by_change)
        figure.add_scatter(x=[check.p_fake_by_change[n] for n in names], y=[row] * len(names), mode="markers",
                           text=[f"{n}: P(fake) {display.format_probability(check.p_fake_by_change[n])}" for n in names],
                           marker={"size": 9, "color": "rgba(80,80,80,0.55)"}, hovertemplate="%{text}<extra></extra>", showlegend=False)
        figure.add_scatter(x=[face.p_fake], y=[row], mode="markers", marker={"size": 13, "symbol": "diamond", "color": "black"},
                           text=[f"as uploaded: P(fake) {display.format_probability(face.p_fake)}"],
                           hovertemplate="%{text}<extra></extra>", showlegend=False)
    low, high = config.band()
    figure.add_vrect(x0=low, x1=high, fillcolor="orange", opacity=0.12, line_width=0)
    figure.add_vline(x=config.threshold, line_dash="dash", annotation_text="threshold")
    figure.update_layout(height=90 + 40 * len(faces), margin={"l": 10, "r": 10, "t": 30, "b": 30},
                         xaxis={"range": [0, 1], "title": "P(fake)"}, yaxis={"autorange": "reversed"})
    return figure


# ---- what the file says about itself, then the verdicts ----------------------------------------
provenance_panel(analysis.provenance)
left, right = st.columns([3, 2])
verdicts = [c.verdict for c in checks]
left.image(draw_faces(image, result.faces, verdicts), caption=f"{name} · {image.width}×{image.height}", width="stretch")
with right:
    for note in result.notes:
        st.warning(note)
    if result.faces:
        worst = analysis.headline_face  # the report's headline too: a face too small to judge never leads
        st.markdown(f"**Most suspicious face: #{worst.index + 1}** · {worst.stability.line()}")
    st.caption(display.what_this_means(config.training))
    st.caption(
        f"P(fake) is the model's calibrated probability that the face is fake: *likely manipulated* at or above "
        f"{config.band()[1]:.2f}, *no sign of manipulation found* at or below {config.band()[0]:.2f}, *can't tell* in between "
        f"(threshold {config.threshold:.2f}) or when the verdict flips once the face is re-compressed, resized, re-framed or mirrored (the range). "
        f"{analysis.rules.summary()} Detection {result.seconds_detect * 1000:.0f} ms, classification {result.seconds_classify * 1000:.0f} ms."
    )
# Full width below the picture: in the narrow right column the last columns were cut off (issue 19).
rows = [
    {"face #": f.index + 1, "verdict": c.words(), "P(fake)": display.format_probability(f.p_fake),
     "range under changes": c.range_cell(),
     "face size (px)": round(c.face_px), "face detector sure": display.format_probability(f.face.prob, 3),
     "whole picture used (no face found)": "yes" if f.face.fallback else "no"}
    for f, c in zip(result.faces, checks)
]
table = pd.DataFrame(rows)
if rows:
    # The short table wraps its text, so it fits a 390 px phone; every column is in the expander below.
    st.table(table[["face #", "verdict", "P(fake)", "range under changes"]].set_index("face #"))
    with st.expander("All columns (face size, face detector, whole picture used)"):
        st.dataframe(table, hide_index=True, width="stretch", column_config={
            "verdict": st.column_config.TextColumn(width="medium"),
            "range under changes": st.column_config.TextColumn(help="P(fake) across re-compressed, resized, re-framed and mirrored copies"),
            "face detector sure": st.column_config.TextColumn(help="How sure the face finder is that this box is a face"),
        })
    with st.expander("How stable is each verdict? P(fake) of every changed copy", expanded=len(rows) <= 3):
        st.plotly_chart(stability_strip(result.faces, checks, config), width="stretch")
        st.caption("Each dot is the face re-scored after one change (JPEG 90/70/50, rescaled 0.5x/0.75x/1.5x, crop shifted "
                   "±8 %, tighter and looser crop, mirrored); the diamond is the picture as uploaded. Dots on both sides "
                   f"of the threshold line mean the verdict does not hold: more than {analysis.rules.max_disagree} across it "
                   "and the face is *can't tell*.")
    export = [{**f.to_dict(), "stability": c.to_dict()} for f, c in zip(result.faces, checks)]
    c1, c2 = st.columns(2)
    c1.download_button("Results JSON", json.dumps({"file": name, "sha256": digest, "model": f"{config.name} {config.version}", "faces": export, "provenance": analysis.provenance.to_dict()}, indent=1), file_name=f"{name}.faces.json", mime="application/json")
    c2.download_button("Results CSV", table.to_csv(index=False), file_name=f"{name}.faces.csv", mime="text/csv")

if not result.faces:
    st.stop()

# ---- explanations: the most suspicious face first, the others on request ------------------------
order = [f.result for f in analysis.by_suspicion()]  # the headline face first, as the report
report_slot = st.empty()  # the report is offered now, with verdicts only, and again once the maps exist
offer_report(report_slot, image_report(analysis), name, maps_pending=True)

st.header("Why: what the model looked at")
chosen = st.multiselect(
    "Explain faces", [f.index + 1 for f in order], default=[order[0].index + 1],
    help="The most suspicious face is explained first. Add other faces here; each takes a few seconds more.")
seconds_per_map = st.session_state.setdefault("seconds_per_map", dict(TYPICAL_MAP_SECONDS))
report_maps: dict[int, list] = {}
shown_explanations = []
for face in [f for f in order if f.index + 1 in chosen]:
    target = analysis.faces[face.index].target(other=explain_other)
    st.subheader(f"Face #{face.index + 1}: {checks[face.index].words()} (P(fake) {display.format_probability(face.p_fake)}) · maps explain '{'fake' if target == FAKE else 'real'}'")
    explanations, fresh, started = {}, False, time.perf_counter()
    eta = sum(seconds_per_map.get(family, 1.0) for family in families)
    with st.status(f"Explaining face #{face.index + 1}: about {eta:.0f} s…", expanded=False) as status:
        for done, (family, params) in enumerate(families.items()):
            left_s = sum(seconds_per_map.get(f, 1.0) for f in list(families)[done:])
            status.update(label=f"Face #{face.index + 1}: {family} ({done + 1}/{len(families)}), about {left_s:.0f} s left…")
            call_started = time.perf_counter()
            explanations[family] = cached_explain(detector.model, face.crop, family, target=target, **params)
            if time.perf_counter() - call_started > 0.5 * explanations[family].seconds:  # computed now, not cached
                fresh = True
                seconds_per_map[family] = explanations[family].seconds
        took = time.perf_counter() - started
        status.update(label=(f"Face #{face.index + 1}: explained in {took:.1f} s" if fresh else
                             f"Face #{face.index + 1}: maps from earlier in this session (shown at once)"), state="complete")
    shown_explanations += explanations.values()
    panels = st.columns(1 + len(explanations))
    panels[0].image(face.crop, caption="Face crop (model input)", width="stretch")
    panels[0].caption("The square crop the model judged.")
    for panel, (family, explanation) in zip(panels[1:], explanations.items()):
        overlay = render(face.crop, explanation, opacity)
        report_maps.setdefault(face.index, []).append((explanation.method, overlay))
        panel.image(overlay, caption=explanation.method, width="stretch")
        panel.image(colorbar(explanation), width="stretch")
        low, high = colorbar_labels(explanation)
        panel.caption(f"**{explanation.method}** · {low} … {high}")
        panel.download_button(  # a callable: the PNG is encoded when clicked, not on every rerun
            "PNG", lambda overlay=overlay: png_bytes(overlay), file_name=f"face{face.index + 1}_{family.lower().replace(' ', '_')}.png",
            mime="image/png", key=f"dl-{face.index}-{family}",
        )
    with st.expander("How to read these maps"):  # one block instead of a paragraph under every map: less scrolling on a phone
        for explanation in explanations.values():
            st.caption(f"**{explanation.method}**: {explanation.how_to_read}")

if report_maps:
    offer_report(report_slot, image_report(analysis, report_maps, legend_entries(shown_explanations)), name, maps_pending=False)
