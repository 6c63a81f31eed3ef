import base64

import streamlit as st

from detector import display
from detector.errors import DetectorError
from detector.scan import MAX_APP_FILES, batch_folders, kind_of, scan_in_app
from pages.common import require_app_navigation, sidebar_detector

require_app_navigation()

st.title("Batch scan")
detector = sidebar_detector()
st.caption(
    f"Up to {MAX_APP_FILES} images or videos at once, scanned on this server with the loaded model; uploads stay in "
    "memory. For thousands of files, or a Ray cluster, use `python -m detector.scan FOLDER --out RESULTS` (resumable)."
)

folders = batch_folders()
sources = ["Upload files"] + (["Folder on this server"] if folders else [])
source = st.radio("Scan", sources, horizontal=True, key="batch_source")
uploads, folder = None, None
if source == "Upload files":
    files = st.file_uploader("Images and videos", accept_multiple_files=True, key="batch_files")
    uploads = [(f.name, f.getvalue()) for f in files or []]
else:
    # The browser picks one of the configured folders by position; it never sends a path.
    folder = st.selectbox("Folder (allowed in DFX_BATCH_FOLDERS)", folders, format_func=str, key="batch_folder")

if st.button("Scan", type="primary", disabled=source == "Upload files" and not uploads, key="batch_scan"):
    bar = st.progress(0.0, text="Scanning…")
    try:
        result = scan_in_app(detector, uploads=uploads, folder=folder,
                             on_progress=lambda done, total: bar.progress(done / total, text=f"{done} / {total} files"))
    except DetectorError as exc:
        bar.empty()
        st.error(str(exc))
        st.stop()
    bar.empty()
    st.session_state["batch_result"] = result

result = st.session_state.get("batch_result")
if result is None:
    st.info("Choose files (or an allowed folder) and press Scan.")
    st.stop()

faces, failures, faceless = result.faces(), result.failures(), result.no_face()
files = result.rows["file"].nunique()
st.write(f"**{files}** files: **{len(faces)}** faces, {len(faceless)} files without a face, {len(failures)} failed.")

# ---- filters and the table of most suspicious faces -----------------------------------------------
left, middle, right = st.columns([2, 2, 3])
verdicts = sorted(faces["verdict_words"].dropna().unique())
chosen = left.multiselect("Verdict", verdicts, default=verdicts, key="batch_verdicts")
minimum = middle.slider("P(fake) at least", 0.0, 1.0, 0.0, 0.05, key="batch_min")
text = right.text_input("File name contains", key="batch_text")
shown = faces[faces["verdict_words"].isin(chosen) & (faces["p_fake"] >= minimum)]
if text:
    shown = shown[shown["file"].str.contains(text, case=False, regex=False)]
shown = shown.reset_index(drop=True)
table = shown.assign(
    thumbnail=[f"data:image/jpeg;base64,{base64.b64encode(t).decode()}" if t is not None else None for t in shown["thumbnail"]],
    p_fake_text=[display.format_probability(p) for p in shown["p_fake"]],  # never "1.00" / "0.00"
)[["thumbnail", "file", "face", "p_fake_text", "p_fake", "verdict_words", "face_prob", "fallback", "too_small", "provenance_summary", "sha256"]]
st.caption("Click a row to open that file's full analysis. Column headers sort; P(fake) is the model's calibrated probability.")
event = st.dataframe(
    table, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
    key=f"batch_table{st.session_state.get('batch_opened', 0)}",
    column_config={
        "thumbnail": st.column_config.ImageColumn("face", width="small"),
        "face": st.column_config.NumberColumn("face #"),
        "p_fake_text": st.column_config.TextColumn("P(fake)"),
        # The bar carries no number of its own: a printf format would round 0.996 to "1.00".
        "p_fake": st.column_config.ProgressColumn("", min_value=0.0, max_value=1.0, format=" "),
        "verdict_words": st.column_config.TextColumn("verdict"),
        "face_prob": st.column_config.NumberColumn("detector confidence", format="%.3f"),
        "fallback": st.column_config.CheckboxColumn("no face detected"),
        "too_small": st.column_config.CheckboxColumn("small face"),
        "provenance_summary": st.column_config.TextColumn("provenance", width="medium"),
    },
)
rows = event.selection.rows if event else []
if rows:
    name = shown.loc[rows[0], "file"]
    st.session_state["batch_opened"] = st.session_state.get("batch_opened", 0) + 1  # a fresh table (no selection) on return
    try:
        opened = (name.rsplit("/", 1)[-1].rpartition("::")[2], result.file_bytes(name))
    except DetectorError as exc:
        st.error(str(exc))
        st.stop()
    kind = kind_of(name) or "image"
    st.session_state[f"opened_{kind}"] = opened
    st.session_state.pop("sample", None)
    st.switch_page(f"pages/analyze_{kind}.py")

if len(failures):
    st.subheader("Files that could not be analysed")
    st.dataframe(failures, hide_index=True, width="stretch")
if faceless:
    with st.expander(f"{len(faceless)} files without a face"):
        st.write("\n".join(f"- {f}" for f in faceless))

c1, c2 = st.columns(2)
c1.download_button("Results (Parquet)", result.parquet_bytes(), file_name="batch_results.parquet", mime="application/octet-stream")
c2.download_button("Results (CSV)", result.csv_text(), file_name="batch_results.csv", mime="text/csv")
