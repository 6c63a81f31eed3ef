import hashlib
import json

import pandas as pd
import streamlit as st

from detector import display
from detector.draw import draw_faces
from detector.errors import InputError
from detector.imageio import IMAGE_SUFFIXES, decode_image
from detector.report import image_report, to_html, to_pdf
from detector.stability import analyze_checked
from pages.common import require_app_navigation, samples_dir, sidebar_detector
from xai import FAKE, REAL, cached_explain
from xai.gradcam import FAST_CAM_METHODS, layer_choices
from xai.lime_explainer import DESIGNS, HIDE_MODES, LimeExplainer
from xai.overlay import colorbar, colorbar_labels, png_bytes, render
from xai.saliency import SALIENCY_METHODS

require_app_navigation()

LIME_DEFAULTS = LimeExplainer().params
HIDE_LABELS = {"blur": "a blurred copy (faster, default)", "mean": "its mean colour (lime's default)"}
DESIGN_LABELS = {"orthogonal": "orthogonal (Hadamard, default)", "paired": "random + complements", "random": "random (lime's own)"}

st.title("Analyze an image")
detector = sidebar_detector()
config = detector.config

with st.sidebar:
    st.subheader("Explanations")
    opacity = st.slider("Overlay opacity", 0.0, 1.0, 0.5, 0.05)
    explain_other = st.toggle("Explain the other class", help="By default each map explains the class the model predicted.")
    cam_method = st.selectbox("Grad-CAM method", FAST_CAM_METHODS)
    layers = list(layer_choices(detector.model))
    cam_layer = st.selectbox("Grad-CAM layer", layers, index=len(layers) - 1, help="Early layers see edges and texture; the last ones see face parts.")
    lime_samples = st.slider("LIME samples", 16, 1000, LIME_DEFAULTS["samples"], 8)
    lime_segments = st.slider("LIME / SHAP superpixels", 10, 150, LIME_DEFAULTS["segments"], 5)
    lime_hide = st.selectbox("LIME hides a region with", HIDE_MODES, format_func=HIDE_LABELS.get,
                             help="A blurred face keeps the sample looking like a face; lime's default fills each region with its mean colour.")
    lime_design = st.selectbox("LIME picks which regions to hide by", DESIGNS, format_func=DESIGN_LABELS.get,
                               help="An orthogonal design hides every region in half the samples and every pair in a quarter, "
                                    "so fewer samples separate the regions' effects than with coin flips.")
    saliency_method = st.selectbox("Saliency method", SALIENCY_METHODS, index=1)
    shap_samples = st.slider("SHAP samples", 4, 64, 16, 4)

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
    name, data = uploaded.name, uploaded.getvalue()
elif "sample" in st.session_state:
    name = st.session_state["sample"]
    data = (samples_dir() / name).read_bytes()
else:
    st.info("Upload a photo (jpg, png, webp, bmp) or pick a sample to begin.")
    st.stop()

# ---- detection: once per picture and model; widgets that only change explanations reuse it --
suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
try:
    if suffix not in IMAGE_SUFFIXES:
        raise InputError(f"{name}: '{suffix or 'no extension'}' is not a supported image type ({', '.join(IMAGE_SUFFIXES)})")
    digest = hashlib.sha256(data).hexdigest()
    key = ("analysis", digest, str(detector.checkpoint))
    if st.session_state.get("analysis_key") != key:
        image = decode_image(data, name)
        with st.spinner("Finding and scoring faces, then re-scoring each under re-compression, resizing and re-framing…"):
            checked = analyze_checked(detector, image)
        st.session_state["analysis_key"], st.session_state["analysis"] = key, (image, checked)
    image, checked = st.session_state["analysis"]
    result, checks = checked.result, checked.checks
except InputError as exc:
    st.error(f"This file cannot be analysed: {exc}")
    st.stop()

# ---- verdicts ---------------------------------------------------------------------------------
left, right = st.columns([3, 2])
verdicts = [c.verdict for c in checks]
left.image(draw_faces(image, result.faces, verdicts), caption=f"{name} · {image.width}×{image.height}", width="stretch")
with right:
    for note in result.notes:
        st.warning(note)
    if result.faces:
        worst = checked.most_suspicious
        st.markdown(f"**Most suspicious face: #{worst + 1}** · {checks[worst].line()}")
    rows = [
        {"face #": f.index + 1, "verdict": c.words(), "P(fake)": display.format_probability(f.p_fake),
         "range under changes": display.format_range(c.low, c.high) if c.judged else "–",
         "face px": round(c.face_px), "detector confidence": display.format_probability(f.face.prob, 3),
         "no face detected (whole picture)": f.face.fallback}
        for f, c in zip(result.faces, checks)
    ]
    table = pd.DataFrame(rows)
    if rows:
        st.dataframe(table, hide_index=True, width="stretch")
    st.caption(display.what_this_means(config.training))
    st.caption(
        f"P(fake) is the model's calibrated probability that the face is fake: *likely manipulated* at or above "
        f"{config.threshold:.2f}, *no sign of manipulation found* below, *can't tell* within ±{config.uncertain_margin:.2f} of it "
        f"or when the verdict flips once the face is re-compressed, resized, re-framed or mirrored (the range). "
        f"{checked.rules.source.capitalize()}. Detection {result.seconds_detect * 1000:.0f} ms, classification {result.seconds_classify * 1000:.0f} ms."
    )
    if rows:
        export = [{**f.to_dict(), "stability": c.to_dict()} for f, c in zip(result.faces, checks)]
        c1, c2 = st.columns(2)
        c1.download_button("Results JSON", json.dumps({"file": name, "sha256": digest, "model": f"{config.name} {config.version}", "faces": export}, indent=1), file_name=f"{name}.faces.json", mime="application/json")
        c2.download_button("Results CSV", table.to_csv(index=False), file_name=f"{name}.faces.csv", mime="text/csv")

if not result.faces:
    st.stop()

# ---- explanations -------------------------------------------------------------------------------
st.header("Why: explanations per face")
choices = [f.index + 1 for f in result.faces]
chosen = st.multiselect("Explain faces", choices, default=choices[:2])
families = {
    "Grad-CAM": {"method": cam_method, "layer": cam_layer},
    "LIME": {"samples": lime_samples, "segments": lime_segments, "hide": lime_hide, "design": lime_design},
    "Saliency": {"method": saliency_method},
    "SHAP": {"samples": shap_samples, "segments": lime_segments},
}
report_maps: dict[int, list] = {}
for face in [f for f in result.faces if f.index + 1 in chosen]:
    predicted = FAKE if face.p_fake >= config.threshold else REAL
    target = 1 - predicted if explain_other else predicted
    st.subheader(f"Face #{face.index + 1}: {checks[face.index].words()} (P(fake) {display.format_probability(face.p_fake)}) · maps explain '{'fake' if target == FAKE else 'real'}'")
    explanations = {}
    with st.status(f"Explaining face #{face.index + 1}…", expanded=False) as status:
        for done, (family, params) in enumerate(families.items()):
            status.update(label=f"Face #{face.index + 1}: {family} ({done + 1}/{len(families)})…")
            explanations[family] = cached_explain(detector.model, face.crop, family, target=target, **params)
        status.update(label=f"Face #{face.index + 1}: explained in {sum(e.seconds for e in explanations.values()):.1f} s", state="complete")
    panels = st.columns(1 + len(explanations))
    panels[0].image(face.crop, caption="Face crop (model input)", width="stretch")
    panels[0].caption("The square crop the model classified.")
    for panel, (family, explanation) in zip(panels[1:], explanations.items()):
        overlay = render(face.crop, explanation, opacity)
        report_maps.setdefault(face.index, []).append((explanation.method, overlay))
        panel.image(overlay, caption=f"{explanation.method} · {explanation.seconds:.1f} s", width="stretch")
        panel.image(colorbar(explanation), width="stretch")
        low, high = colorbar_labels(explanation)
        panel.caption(f"**{explanation.method}** ({low} … {high}): {explanation.how_to_read}")
        panel.download_button(
            "PNG", png_bytes(overlay), file_name=f"face{face.index + 1}_{family.lower().replace(' ', '_')}.png",
            mime="image/png", key=f"dl-{face.index}-{family}",
        )

st.header("Save a report")
st.caption("A self-contained HTML file and a PDF with the file's SHA-256, every face, its verdict and maps, the model's "
           "measured accuracy and the caveats. Built on this machine; nothing is sent anywhere.")
report = image_report(name, data, image, result, config, report_maps, draw_faces(image, result.faces, verdicts), checks)
r1, r2 = st.columns(2)
r1.download_button("Report (HTML)", to_html(report), file_name=f"{name}.report.html", mime="text/html")
r2.download_button("Report (PDF)", to_pdf(report), file_name=f"{name}.report.pdf", mime="application/pdf")
