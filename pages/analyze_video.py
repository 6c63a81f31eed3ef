import hashlib
import json
import time

import plotly.graph_objects as go
import streamlit as st

from detector import display
from detector.analysis import VideoAnalysis, analyze_video_file
from detector.errors import InputError
from detector.limits import MAX_VIDEO_SECONDS
from detector.reporting.draw import draw_tracks, track_colour_name, track_hex
from detector.reporting.report import to_html, to_pdf, video_report
from detector.video import CONFIDENT_FAKE, CONFIDENT_REAL, DEFAULT_MAX_FRAMES
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

key = (hashlib.sha256(data).hexdigest(), str(detector.checkpoint), sample_fps, max_frames)
if st.session_state.get("video_key") != key:
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
        # Type check, sampling, faces, tracks, verdicts and provenance: the same call as predict --json.
        analysis = analyze_video_file(detector, data, name, sample_fps=sample_fps, max_frames=max_frames, provenance=True,
                                      progress=progress, should_stop=lambda: st.session_state.get("video_stopped") == key)
    except InputError as exc:
        st.error(f"This file cannot be analysed: {exc}")
        st.stop()
    finally:
        bar.empty()
        stop_slot.empty()
    st.session_state["video_key"], st.session_state["video_analysis"] = key, analysis
analysis: VideoAnalysis = st.session_state["video_analysis"]
result = analysis.result

info = result.info
st.write(f"**{name}** · {info.width}×{info.height} · {info.duration:.1f} s at {info.fps:.1f} fps · "
         f"{len(result.frames)} frames sampled · analysed in {result.seconds:.1f} s")
provenance_panel(analysis.provenance)
for note in analysis.notes:
    st.warning(note)
if not analysis.tracks:
    st.stop()

worst = analysis.worst
headline = f"P(fake) {display.format_probability(worst.p_fake)}" if worst.judged else "; ".join(worst.reasons) + ": no track could be judged"
st.markdown(f"**Video verdict (most suspicious person): {worst.words()}** · track {worst.id}, {headline}")
st.caption(analysis.what_this_means)
st.caption(
    "Each track's P(fake) uses the DFDC winner's *confident frames* rule: if many frames are confidently fake "
    f"(> {CONFIDENT_FAKE:g}) it is their mean, if nearly all are confidently real (< {CONFIDENT_REAL:g}) theirs, else the plain mean (also shown). "
    f"Can't tell {config.band_words()}. A 'real' verdict is not proof. "
    "Stability check: the frames that decide each track's score are re-scored under re-compression, resizing and "
    f"re-framing; a track is *can't tell* when its verdict flips under {analysis.rules.video_tolerance_words()}."
)
rows = [{"track": t.id, "colour": track_colour_name(t.id), "frames": len(t.p_fake_per_frame), "verdict": t.words(),
         "P(fake) confident frames": display.format_probability(t.p_fake), "P(fake) mean": display.format_probability(t.p_fake_mean),
         "range over frames": display.format_range(t.low, t.high),
         "under re-compression, resizing, re-framing": t.stability.short() if t.stability is not None else "not checked"}
        for t in analysis.tracks]
st.dataframe(rows, hide_index=True, width="stretch")

timeline = go.Figure()
for track in analysis.tracks:
    timeline.add_scatter(x=analysis.frame_times(track), y=track.p_fake_per_frame, mode="lines+markers",
                         name=f"track {track.id} ({track_colour_name(track.id)})", line_color=track_hex(track.id))
timeline.add_hline(y=config.threshold, line_dash="dash", annotation_text="threshold")
for cut in result.shot_changes:
    # the label sits above the plot, where no track's markers are
    timeline.add_vline(x=cut, line_dash="dot", line_color="grey", annotation_text="cut", annotation_position="top",
                       annotation_yshift=12)
timeline.update_layout(title="P(fake) per sampled frame", xaxis_title="time (s)", yaxis_title="P(fake)", yaxis_range=[0, 1], height=360)
st.plotly_chart(timeline, width="stretch")
if result.shot_changes:
    st.caption(display.shot_changes_words(result.shot_changes))
st.download_button("Results JSON", lambda: json.dumps({"model": analysis.model, **analysis.to_dict()}, indent=1),
                   file_name=f"{name}.video.json", mime="application/json")

report_maps: dict[int, list] = {}
shown_explanations = []
for track in analysis.by_suspicion():
    st.markdown(f"### <span style='color:{track_hex(track.id)}'>■</span> Track {track.id} ({track_colour_name(track.id)} box): "
                f"{track.words()} · most suspicious frames with Grad-CAM", unsafe_allow_html=True)
    if track.reasons:
        st.caption(f"{track.words()}: {'; '.join(track.reasons)}")
    for column, frame in zip(st.columns(3), track.suspicious):
        explanation = cached_explain(detector.model, frame.face.crop, "Grad-CAM", target=frame.explains)
        shown_explanations.append(explanation)
        overlay = render(frame.face.crop, explanation, opacity)
        report_maps.setdefault(track.id, []).append((f"t={frame.time:.1f}s P(fake) {display.format_probability(frame.face.p_fake)}", overlay))
        column.image(overlay, caption=f"t = {frame.time:.1f} s · P(fake) {display.format_probability(frame.face.p_fake)}", width="stretch")
    with st.expander(f"Sampled frames of track {track.id} (every person boxed in their track's colour)"):
        columns = st.columns(4)
        for n, frame_index in enumerate(track.track.frames[:16]):
            frame = result.frames[frame_index]
            columns[n % 4].image(draw_tracks(frame, result.tracks), caption=f"{frame.time:.1f} s", width="stretch")

st.header("Save a report")
# Built when clicked, not on every rerun, from the same analysis the page shows.
legend = legend_entries(shown_explanations)
r1, r2 = st.columns(2)
r1.download_button("Report (HTML)", lambda: to_html(video_report(analysis, report_maps, legend)), file_name=f"{name}.report.html", mime="text/html")
r2.download_button("Report (PDF)", lambda: to_pdf(video_report(analysis, report_maps, legend)), file_name=f"{name}.report.pdf", mime="application/pdf")
