import hashlib
import json
import time

import plotly.graph_objects as go
import streamlit as st

from detector import display
from detector.errors import InputError
from detector.limits import MAX_VIDEO_SECONDS
from detector.reporting.draw import draw_tracks, track_colour_name, track_hex
from detector.reporting.report import to_html, to_pdf, video_report
from detector.stability import AbstainRules, track_verdict
from detector.video import DEFAULT_MAX_FRAMES, VIDEO_SUFFIXES, analyze_video, video_to_dict
from pages.common import provenance_panel, require_app_navigation, sidebar_detector
from xai import cached_explain
from xai.overlay import legend_entries, render

require_app_navigation()

st.title("Analyze a video")
detector = sidebar_detector()
config = detector.config

with st.sidebar:
    st.subheader("Sampling")
    sample_fps = st.slider("Frames per second sampled", 0.25, 4.0, 1.0, 0.25)
    max_frames = st.slider("At most this many frames", 4, 64, DEFAULT_MAX_FRAMES, 4)
    opacity = st.slider("Grad-CAM opacity", 0.0, 1.0, 0.5, 0.05)

st.caption(
    f"mp4, mov, avi, mkv or webm, up to {MAX_VIDEO_SECONDS // 60} min and 4K. The video is decoded in memory, "
    "never written to disk. Frames are sampled evenly; faces are linked into one track per person."
)
uploaded = st.file_uploader("Upload a video (mp4, mov, avi, mkv, webm)", key="video")
if uploaded is not None:
    st.session_state.pop("opened_video", None)
    name, data = uploaded.name, uploaded.getvalue()
elif "opened_video" in st.session_state:  # a file opened from the Batch page's table
    name, data = st.session_state["opened_video"]
else:
    st.info("Upload a video to begin.")
    st.stop()

suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
key = (hashlib.sha256(data).hexdigest(), str(detector.checkpoint), sample_fps, max_frames)
if st.session_state.get("video_key") != key:
    if suffix not in VIDEO_SUFFIXES:
        st.error(f"This file cannot be analysed: '{suffix or 'no extension'}' is not a supported video type ({', '.join(VIDEO_SUFFIXES)}).")
        st.stop()
    if st.session_state.get("video_stopped") == key:
        st.warning("The analysis was stopped.")
        if st.button("Analyse again"):
            st.session_state.pop("video_stopped")
            st.rerun()
        st.stop()
    # Clicking Stop reruns the page, which interrupts the analysis below at its next progress update.
    stop_slot = st.empty()
    stop_slot.button("Stop", on_click=lambda: st.session_state.update(video_stopped=key), key="stop-video")
    bar = st.progress(0.0, text="Opening the video…")
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        elapsed = time.perf_counter() - started
        eta = elapsed / done * (total - done)
        bar.progress(done / total, text=f"Frame {done}/{total} · {elapsed:.0f} s elapsed · about {eta:.0f} s left")

    try:
        result = analyze_video(detector, data, name, sample_fps=sample_fps, max_frames=max_frames, progress=progress,
                               should_stop=lambda: st.session_state.get("video_stopped") == key)
    except InputError as exc:
        bar.empty()
        stop_slot.empty()
        st.error(f"This file cannot be analysed: {exc}")
        st.stop()
    bar.empty()
    stop_slot.empty()
    st.session_state["video_key"], st.session_state["video_result"] = key, result
result = st.session_state["video_result"]

info = result.info
st.write(f"**{name}** · {info.width}×{info.height} · {info.duration:.1f} s at {info.fps:.1f} fps · "
         f"{len(result.frames)} frames sampled · analysed in {result.seconds:.1f} s")
provenance = provenance_panel(name, data, key[0])
for note in result.notes:
    st.warning(note)
if not result.tracks:
    st.stop()

worst = result.worst_track
rules = AbstainRules.for_checkpoint(detector.checkpoint)


def words(track) -> str:
    return display.verdict_words(track_verdict(track, config, rules)[0])


st.markdown(f"**Video verdict (most suspicious person): {words(worst)}** · track {worst.id}, P(fake) {display.format_probability(worst.score)}")
st.caption(display.what_this_means(config.training))
st.caption(
    "Each track's P(fake) uses the DFDC winner's *confident frames* rule: if many frames are confidently fake "
    "(> 0.8) it is their mean, if nearly all are confidently real (< 0.2) theirs, else the plain mean (also shown). "
    f"Threshold {config.threshold:.2f}, uncertain within ±{config.uncertain_margin:.2f}. A 'real' verdict is not proof."
)
rows = [{"track": t.id, "colour": track_colour_name(t.id), "frames": len(t.frames), "verdict": words(t), "P(fake) confident frames": display.format_probability(t.score),
         "P(fake) mean": display.format_probability(t.mean),
         "range over frames": display.format_range(min(t.probabilities), max(t.probabilities))} for t in result.tracks]
st.dataframe(rows, hide_index=True, width="stretch")

timeline = go.Figure()
for track in result.tracks:
    timeline.add_scatter(x=[result.frames[i].time for i in track.frames], y=track.probabilities, mode="lines+markers",
                         name=f"track {track.id} ({track_colour_name(track.id)})", line_color=track_hex(track.id))
timeline.add_hline(y=config.threshold, line_dash="dash", annotation_text="threshold")
timeline.update_layout(title="P(fake) per sampled frame", xaxis_title="time (s)", yaxis_title="P(fake)", yaxis_range=[0, 1], height=360)
st.plotly_chart(timeline, width="stretch")
st.download_button("Results JSON", json.dumps({"file": name, "model": f"{config.name} {config.version}", **video_to_dict(result, config), "provenance": provenance.to_dict()}, indent=1),
                   file_name=f"{name}.video.json", mime="application/json")

report_maps: dict[int, list] = {}
shown_explanations = []
for track in sorted(result.tracks, key=lambda t: -t.score):
    st.markdown(f"### <span style='color:{track_hex(track.id)}'>■</span> Track {track.id} ({track_colour_name(track.id)} box): "
                f"{words(track)} · most suspicious frames with Grad-CAM", unsafe_allow_html=True)
    columns = st.columns(3)
    for column, position in zip(columns, track.most_suspicious(3)):
        face = track.faces[position]
        frame = result.frames[track.frames[position]]
        target = config.explained_class(face.p_fake)
        explanation = cached_explain(detector.model, face.crop, "Grad-CAM", target=target)
        shown_explanations.append(explanation)
        overlay = render(face.crop, explanation, opacity)
        report_maps.setdefault(track.id, []).append((f"t={frame.time:.1f}s P(fake) {display.format_probability(face.p_fake)}", overlay))
        column.image(overlay, caption=f"t = {frame.time:.1f} s · P(fake) {display.format_probability(face.p_fake)}", width="stretch")
    with st.expander(f"Sampled frames of track {track.id} (every person boxed in their track's colour)"):
        columns = st.columns(4)
        for n, frame_index in enumerate(track.frames[:16]):
            frame = result.frames[frame_index]
            columns[n % 4].image(draw_tracks(frame, result.tracks), caption=f"{frame.time:.1f} s", width="stretch")

st.header("Save a report")
report = video_report(name, data, result, config, report_maps, rules)
report.legend = legend_entries(shown_explanations)
report.provenance = provenance
r1, r2 = st.columns(2)
r1.download_button("Report (HTML)", lambda: to_html(report), file_name=f"{name}.report.html", mime="text/html")
r2.download_button("Report (PDF)", lambda: to_pdf(report), file_name=f"{name}.report.pdf", mime="application/pdf")
