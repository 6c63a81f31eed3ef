from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from detector import display
from detector.analysis import analyze_image
from detector.errors import DetectorError
from detector.evaluation.run_metrics import confident_calls, mistakes
from detector.evaluation.runs import RunsDatabaseError, RunStore
from detector.imageio import IMAGE_SUFFIXES, decode_image, load_image
from pages.common import require_app_navigation, samples_dir, sidebar_detector
from xai import FAKE, cached_explain
from xai.gradcam import layer_choices
from xai.layers import activation_maps, depth_note, explorer_default
from xai.overlay import colorize, render
from xai.quality import (
    SANITY_CRITERION,
    SANITY_MAX_SIMILARITY,
    agreement_matrix,
    curve_area,
    deletion_curve,
    insertion_curve,
    randomised_copy,
    rank_similarity,
    sanity_outcome,
)

require_app_navigation()

st.title("Instructor mode")
st.caption("The same face explained layer by layer and method by method, with numbers that say how far each map can be trusted.")
detector = sidebar_detector()

# ---- pick a face ------------------------------------------------------------------------------------
sources = {p.name: p for p in sorted(samples_dir().glob("*")) if p.suffix.lower() in IMAGE_SUFFIXES}
options = list(sources)
if "analysis" in st.session_state:
    options.insert(0, "last analysed image")
choice = st.selectbox("Picture", options)
try:
    image = st.session_state["analysis"].image if choice == "last analysed image" else load_image(sources[choice])
except DetectorError as exc:
    st.error(str(exc))
    st.stop()
# The same analysis as the image page (without its stability check): faces, and the class each map explains.
analysis = analyze_image(detector, image, choice, stability=False)
if not analysis.faces:
    st.warning("No face in this picture; pick another.")
    st.stop()
face_number = st.selectbox("Face", [f.index + 1 for f in analysis.faces])
face, predicted = analysis.faces[face_number - 1].result, analysis.faces[face_number - 1].explains
st.write(f"Face #{face_number}: **{face.label}**, P(fake) {display.format_probability(face.p_fake)}. Maps explain the predicted class, '{'fake' if predicted == FAKE else 'real'}'.")

layers_tab, quality_tab, gallery_tab = st.tabs(["Layer explorer", "Explanation quality", "Gallery"])

with layers_tab:
    layers = list(layer_choices(detector.model))
    layer = st.select_slider("Layer (shallow → deep)", layers, value=explorer_default(layers))
    count = st.slider("Channels shown", 4, 32, 12, 4)
    maps, channels, grid = activation_maps(detector.model, face.crop, layer, count)
    st.info(f"{layer}: {grid[0]}×{grid[1]} positions per channel. {depth_note(layer, layers)}")
    left, right = st.columns([1, 3])
    cam = cached_explain(detector.model, face.crop, "Grad-CAM", target=predicted, layer=layer)
    left.image(face.crop, caption="Face crop", width="stretch")
    left.image(render(face.crop, cam, 0.5), caption=f"Grad-CAM at {layer}", width="stretch")
    columns = right.columns(4)
    for n, (activation, channel) in enumerate(zip(maps, channels)):
        columns[n % 4].image(colorize(activation), caption=f"channel {channel}", width="stretch")
    st.caption("Channels are ranked by their mean activation on this face; each map is scaled to its own range.")

DELETION_NOTE = (
    "Why deletion curves climb back up at the end: removed pixels are replaced by a blurred copy of the face, so near "
    "the right edge the model is looking at an almost fully blurred face, and this model scores heavy blur as 'fake' "
    "whatever the face (bundled faces scored 0.32-0.71 sharp and 0.68-0.71 blurred; smoothed skin is one of the "
    "traces generators leave). The rise says nothing about the map; compare the methods on "
    "the left half of the curve, where the most important pixels go first."
)
FAMILIES = {"Grad-CAM": {}, "LIME": {}, "Saliency": {"method": "SmoothGrad"}, "SHAP": {}}

with quality_tab:
    st.markdown(
        "**Deletion**: remove the pixels a map calls most important first (replaced by a blurred face) and watch the "
        "score for the explained class fall: a faithful map makes it fall fast (low area). **Insertion** reveals them "
        "first (high area is good). **Sanity check** (Adebayo et al. 2018): re-initialise every weight; a map that "
        "barely changes was explaining the picture, not the model."
    )
    if st.button("Compute quality numbers", key="quality"):
        explanations, randomised = {}, {}
        with st.status("Computing…", expanded=True) as status:
            scrambled = randomised_copy(detector.model, seed=0)
            for family, params in FAMILIES.items():
                status.write(f"{family}: map on the trained and on the randomised model")
                explanations[family] = cached_explain(detector.model, face.crop, family, target=predicted, **params)
                randomised[family] = cached_explain(scrambled, face.crop, family, target=predicted, **params)
            status.update(label="Deletion and insertion curves…")
            deletion, insertion = go.Figure(), go.Figure()
            rows = []
            for family, explanation in explanations.items():
                x, y = deletion_curve(detector.model, face.crop, explanation.heatmap, predicted)
                xi, yi = insertion_curve(detector.model, face.crop, explanation.heatmap, predicted)
                deletion_area, insertion_area = curve_area(x, y), curve_area(xi, yi)
                deletion.add_scatter(x=x, y=y, name=f"{family} (AUC {deletion_area:.3f})")
                insertion.add_scatter(x=xi, y=yi, name=f"{family} (AUC {insertion_area:.3f})")
                rows.append({"method": explanation.method, "deletion AUC (lower is better)": round(deletion_area, 4),
                             "insertion AUC (higher is better)": round(insertion_area, 4),
                             "similarity after randomisation (Spearman)": round(similarity := rank_similarity(explanation.heatmap, randomised[family].heatmap), 3),
                             f"sanity check (< {SANITY_MAX_SIMILARITY})": sanity_outcome(similarity),
                             "seconds": round(explanation.seconds, 2)})
            status.update(label="Done", state="complete")
        deletion.update_layout(title="Deletion", xaxis_title="fraction of pixels removed", yaxis_title="P(explained class)", height=360)
        insertion.update_layout(title="Insertion", xaxis_title="fraction of pixels revealed", yaxis_title="P(explained class)", height=360)
        c1, c2 = st.columns(2)
        c1.plotly_chart(deletion, width="stretch")
        c2.plotly_chart(insertion, width="stretch")
        st.caption(DELETION_NOTE)
        st.dataframe(rows, hide_index=True, width="stretch")
        st.caption(f"**Sanity check criterion.** {SANITY_CRITERION}")
        st.subheader("Sanity check: trained model (top) vs randomised weights (bottom)")
        top, bottom = st.columns(len(FAMILIES)), st.columns(len(FAMILIES))
        for column, family in zip(top, FAMILIES):
            column.image(render(face.crop, explanations[family], 0.5), caption=family, width="stretch")
        for column, family in zip(bottom, FAMILIES):
            similarity = rank_similarity(explanations[family].heatmap, randomised[family].heatmap)
            column.image(render(face.crop, randomised[family], 0.5),
                         caption=f"randomised · Spearman {similarity:.2f} · {sanity_outcome(similarity)}", width="stretch")
        st.subheader("Do the methods agree? (Spearman rank correlation of the maps)")
        matrix = agreement_matrix({f: e.heatmap for f, e in explanations.items()})
        figure = go.Figure(go.Heatmap(z=matrix.values, x=list(matrix.columns), y=list(matrix.index), zmin=-1, zmax=1,
                                      colorscale="RdBu", text=matrix.round(2).values, texttemplate="%{text}"))
        figure.update_layout(height=360)
        st.plotly_chart(figure, width="stretch")

with gallery_tab:
    st.markdown("The most confident right and wrong calls, each with LIME and Grad-CAM.")
    try:
        runs = [r for r in RunStore().list()]
    except RunsDatabaseError as exc:
        runs = []
        st.warning(f"Runs database unavailable: {exc}")
    store_runs = {f"{r['data']} · {r['model_name']} {r['model_version']} · {r['id']}": r["id"] for r in runs}
    picked = st.selectbox("Evaluation run", ["bundled samples"] + list(store_runs))
    per_group = st.slider("Faces per group", 1, 4, 2)
    if st.button("Build gallery", key="gallery"):
        groups: dict[str, list] = {}
        if picked == "bundled samples":
            groups["bundled samples"] = [(name, path) for name, path in sources.items()]
        else:
            run = RunStore().get(store_runs[picked])
            threshold = run.threshold
            groups = {"confidently right: fake": confident_calls(run, threshold, "tp"),
                      "confidently right: real": confident_calls(run, threshold, "tn"),
                      "wrong: real called fake": mistakes(run, threshold, "fp"), "wrong: fake called real": mistakes(run, threshold, "fn")}
            groups = {k: [(Path(r["path"]).name, Path(r["path"])) for r in v if Path(r["path"]).is_file()][:per_group] for k, v in groups.items()}
            if not any(groups.values()):
                st.info("This run's image files are not on this machine; showing the bundled samples instead.")
                groups = {"bundled samples": [(name, path) for name, path in sources.items()]}
        progress = st.progress(0.0)
        total = sum(len(v) for v in groups.values()) or 1
        done = 0
        for title, items in groups.items():
            st.subheader(title)
            for name, path in items:
                done += 1
                progress.progress(done / total, text=f"{done}/{total}: {name}")
                try:
                    found = analyze_image(detector, decode_image(Path(path).read_bytes(), name), name, stability=False)
                except DetectorError as exc:
                    st.warning(f"{name}: {exc}")
                    continue
                if not found.faces:
                    st.write(f"{name}: no face found")
                    continue
                most = found.headline_face
                top, target = most.result, most.explains
                c1, c2, c3 = st.columns(3)
                c1.image(top.crop, caption=f"{name} · P(fake) {display.format_probability(top.p_fake)}", width="stretch")
                c2.image(render(top.crop, cached_explain(detector.model, top.crop, "LIME", target=target), 0.6), caption="LIME", width="stretch")
                c3.image(render(top.crop, cached_explain(detector.model, top.crop, "Grad-CAM", target=target), 0.5), caption="Grad-CAM", width="stretch")
        progress.empty()
