import json
import time
from pathlib import Path

import pandas as pd
import streamlit as st

from detector import display
from detector.checkpoint import list_checkpoints
from detector.errors import DetectorError
from detector.evaluation import run_metrics as rm
from detector.evaluation.runs import RunsDatabaseError, RunStore
from detector.stability import AbstainRules, evidence_tables
from pages.common import require_app_navigation

# Misclassified faces in rows of at most 6 of 150 px: eight 200 px columns ran past a 1400 px window, and on a
# phone the columns stack, where full-width faces made ~8,000 px of scrolling.
FACES_PER_ROW, FACE_WIDTH = 6, 150
ROW_PX = 35  # a dataframe row's height, header included: tables sized to show every row

require_app_navigation()


@st.cache_data(max_entries=64, show_spinner=False)
def auc_interval_of(run_id: str, _run):
    """Bootstrap AUC interval, once per stored run (runs never change after they are stored)."""
    return rm.auc_interval(_run)


st.title("Metrics")
st.caption(
    "Every number here is recomputed by scikit-learn from the per-image scores stored with each evaluation run. "
    "These are results on these test sets, not on the world: real-world media differ."
)

try:
    store = RunStore()
    runs_list = store.list()
except RunsDatabaseError as exc:
    st.error(f"The runs database cannot be used: {exc}. Move the file away or set DFX_RUNS_DB to another path.")
    st.stop()

if not runs_list:
    st.info("No evaluation runs stored yet. Run one below, or `python -m detector.evaluation.evaluate PATH`.")
else:
    overview = pd.DataFrame(
        [{"id": r["id"], "model": f"{r['model_name']} {r['model_version']}", "data": r["data"], "date": r["created"],
          "n": r["n"], "AUC": r["metrics"].get("auc"), "accuracy": r["metrics"].get("accuracy")} for r in runs_list]
    )
    st.dataframe(overview, hide_index=True, width="stretch")
    labels = {r["id"]: f"{r['data']} · {r['model_name']} {r['model_version']} · {r['created'][:16]} · {r['id']}" for r in runs_list}
    # The robustness suite's many runs (data "<set>/test @ <condition>") have their own matrix below.
    plain_runs = [r["id"] for r in runs_list if not (r.get("info") or {}).get("condition")] or list(labels)
    selected = st.multiselect("Runs", list(labels), default=plain_runs[:8], format_func=labels.get)
    if not selected:
        st.info("Select one or more runs.")
    else:
        try:
            runs = {rid: store.get(rid) for rid in selected}
        except RunsDatabaseError as exc:
            st.error(str(exc))
            st.stop()
        primary_id = st.selectbox("Run in detail", selected, format_func=labels.get)
        run = runs[primary_id]
        threshold = st.slider("Decision threshold", 0.0, 1.0, float(round(run.threshold, 2)), 0.01,
                              help="Everything below is recomputed at this threshold.")
        labels_arr, _ = rm.scored(run)
        if len(set(labels_arr.tolist())) < 2:
            st.warning("This run has a single class: AUC, ROC and EER are undefined for it.")
        c1, c2 = st.columns(2)
        c1.subheader("Metrics")
        c1.dataframe(rm.metrics_table(run, threshold, auc_interval_of(primary_id, run)), hide_index=True, width="stretch")
        c2.subheader("Classification report")
        c2.dataframe(rm.report_frame(run, threshold), width="stretch")
        c3, c4 = st.columns(2)
        c3.plotly_chart(rm.confusion_figure(run, threshold, normalised=False), width="stretch")
        c4.plotly_chart(rm.confusion_figure(run, threshold, normalised=True), width="stretch")
        c5, c6 = st.columns(2)
        c5.plotly_chart(rm.histogram_figure(run, threshold), width="stretch")
        calibration = rm.calibration(run)
        raw = rm.uncalibrated(run)
        curves = {"after temperature scaling": run} if raw is not None else {run.data: run}
        if raw is not None:
            curves = {"before calibration": raw, **curves}
        c6.plotly_chart(rm.calibration_figure(curves), width="stretch")
        c6.caption(f"ECE {calibration['ece']:.4f} · Brier {calibration['brier']:.4f} (10 equal-width bins)"
                   + ("" if raw is None else f"; before calibration ECE {rm.calibration(raw)['ece']:.4f}") + ".")
        if raw is not None and (note := rm.calibration_note(rm.calibration(raw)["ece"], calibration["ece"])):
            c6.warning(note, icon=":material/info:")

        st.header("Across runs")
        named = {f"{r.data} · {r.model_version}": r for r in runs.values()}
        c7, c8 = st.columns(2)
        c7.plotly_chart(rm.roc_figure(named), width="stretch")
        c8.plotly_chart(rm.pr_figure(named), width="stretch")
        frame = rm.generalisation_frame(list(runs.values()))
        if not frame.empty:
            st.plotly_chart(rm.generalisation_figure(frame), width="stretch")

        st.header("Training curves of this run's model")
        histories = rm.training_histories(run)
        metrics = rm.history_metrics(histories)
        if not metrics:
            st.info("No training history is stored beside this run's model on this machine.")
        else:
            for column, metric in zip(st.columns(len(metrics)), metrics):
                column.plotly_chart(rm.history_figure(histories, metric), width="stretch")

        st.header("Misclassified examples")
        for kind, title in (("fp", "False positives (real called fake)"), ("fn", "False negatives (fake called real)")):
            st.subheader(title)
            wrong = rm.mistakes(run, threshold, kind)
            present = [w for w in wrong if Path(w["path"]).is_file()]
            if not wrong:
                st.write("None at this threshold.")
            elif not present:
                st.info(f"{len(wrong)} shown in the scores, but their image files are not on this machine.")
            else:
                for start in range(0, len(present), FACES_PER_ROW):
                    for column, item in zip(st.columns(FACES_PER_ROW), present[start : start + FACES_PER_ROW]):
                        column.image(item["path"], caption=f"P(fake) {display.format_probability(item['score'])}", width=FACE_WIDTH)

        st.header("Export")
        e1, e2 = st.columns(2)
        e1.download_button("Run as JSON", json.dumps(run.to_dict(), indent=1), file_name=f"run_{run.id}.json", mime="application/json")
        e2.download_button("Per-image scores CSV", rm.scores_frame(run).to_csv(index=False), file_name=f"run_{run.id}_scores.csv", mime="text/csv")

if runs_list:
    conditions = rm.condition_frame(runs_list)
    if not conditions.empty:
        st.header("Robustness: the same test pictures reframed")
        st.caption(
            "Each shared test set as it is, re-compressed (JPEG 60), at half size, upscaled 1.75x, pasted on a 1280x720 canvas, "
            "inside a social-media post screenshot, and composed into group scenes; every picture goes through the app's own "
            "face finder and crop (`python -m benchmarks.robustness`). A robust model keeps each row's colour across it."
        )
        st.plotly_chart(rm.condition_figure(conditions), width="stretch")
        alarms = rm.false_alarm_frame(runs_list)
        if not alarms.empty:
            st.caption("Real faces only (group scenes composed from every set's real test pictures): the share with P(fake) at or "
                       "above the threshold (*called fake*) and the share the app calls *likely manipulated* (at or above the "
                       "verdict's upper edge; empty for runs stored before it was recorded), and after the stability check the "
                       "pages run (a face whose re-scored copies disagree is *can't tell* instead; runs made with `--checked`).")
            # As text: Streamlit draws an empty number cell as "None" whatever the Styler says.
            shares = ("called fake", "likely manipulated", "likely manipulated after the check")
            st.dataframe(alarms.assign(**{c: alarms[c].map(display.format_share) for c in shares}), hide_index=True, width="stretch")

proxy, video_swaps = rm.swap_proxy_frame(), rm.video_swap_frame()
if not (proxy.empty and video_swaps.empty):
    st.header("Face swaps between people no model saw")
if not proxy.empty:
    st.caption(
        "Real test pictures given another test person's face by the project's own generators, four ways: a classical swap "
        "(aligned, colour-matched, blended), the same with the pasted face rendered 128 or 64 px wide as swap apps render "
        "faces, and a self-blend of the face with an altered copy of itself; each read through the app's path. AUC against "
        "the same pictures left real; *caught*: swaps at or above the threshold. A proxy, not a public face-swap set "
        "(`python -m benchmarks.swap_render`)."
    )
    st.dataframe(proxy.assign(AUC=proxy["AUC"].map(display.format_auc), caught=proxy["caught"].map(display.format_share)),
                 hide_index=True, width="stretch")
if not video_swaps.empty:
    st.subheader("The same swaps as compressed videos")
    st.caption(
        "Each picture moving for 3 s, left real, with a classical swap or self-blended, the swap drawn anew in every frame as "
        "a face-swap video is made; encoded in H.264 at CRF 23 and 40 (how FaceForensics++ shares its videos) and read as the "
        "video page reads an upload, stability check included. AUC of the video's P(fake) against the real clips; then the "
        "share of clips per final verdict (the rest: no sign found). A proxy (`python -m benchmarks.video_swaps`)."
    )
    shares = ("likely manipulated", "can't tell", "not judged")
    st.dataframe(video_swaps.assign(AUC=video_swaps["AUC"].map(display.format_auc),
                                    **{c: video_swaps[c].map(display.format_share) for c in shares}),
                 hide_index=True, width="stretch", height=ROW_PX * (len(video_swaps) + 1) + 3)  # every row, no inner scroll

st.header("When the app does not judge a face")
for folder in list_checkpoints():
    rules = AbstainRules.for_checkpoint(folder)
    tables = evidence_tables(rules)
    st.subheader(folder.name)
    if not rules.measured:
        st.write("Not measured for this model: only the stability check applies (measure it: `python -m scripts.measure_abstain all --model MODEL_FOLDER --write`).")
        continue
    st.caption(f"{rules.summary()} How: {rules.source}.")
    s1, s2 = st.columns([1, 4])
    s1.dataframe(tables["size"], hide_index=True, width="stretch")
    s2.dataframe(tables["selective"], hide_index=True, width="stretch")

st.header("Run a new evaluation")
with st.form("new-eval"):
    folder = st.text_input("Folder on this server (with real/ and fake/, or a data set root)", value="")
    split = st.text_input("Split (optional, e.g. test)", value="")
    reals = st.text_input("Reals to pair with a fakes-only set (optional)", value="")
    limit = st.number_input("At most N images per class (0 = all)", min_value=0, value=50, step=10)
    submitted = st.form_submit_button("Evaluate")
if submitted:
    from detector.evaluation.evaluate import EvaluationJob, select_items
    from pages.common import sidebar_detector

    try:
        items, name = select_items(Path(folder).expanduser(), split or None, Path(reals) if reals else None, int(limit) or None)
    except (DetectorError, OSError) as exc:
        st.error(f"Evaluation not started: {exc}")
    else:
        info = {"split": split or None, "limit": int(limit) or None, "source": "metrics page"}
        st.session_state["eval_job"] = EvaluationJob(sidebar_detector(), items, name, info, store).start()
        st.session_state.pop("eval_seen", None)


@st.fragment(run_every=1.0)
def evaluation_status() -> None:
    """Progress of the background evaluation; once it ends, its outcome stays until dismissed."""
    job = st.session_state.get("eval_job")
    if job is None:
        return
    if not job.finished:
        st.progress(job.done / max(1, job.total), text=f"Evaluating {job.data_name}: {job.done}/{job.total} images · "
                    f"{time.time() - job.started:.0f} s. It keeps running if you use the rest of the page meanwhile.")
        return
    if not st.session_state.get("eval_seen"):
        st.session_state["eval_seen"] = True
        st.rerun()  # the whole page, so the new run appears in the lists above
    if job.error:
        st.error(f"The evaluation of {job.data_name} stopped after {job.done} of {job.total} images: {job.error}. Nothing was stored.")
    else:
        auc = job.metrics.get("auc")
        st.success(f"Run {job.run_id} stored ({job.data_name}, {job.total} images in {job.seconds:.0f} s"
                   + (f", {job.n_unscored} without a score (no face or unreadable)" if job.n_unscored else "")
                   + f"): AUC {'undefined (one class)' if auc is None else f'{auc:.3f}'}, accuracy {job.metrics['accuracy']:.3f}. "
                   "It is listed at the top of this page.")
    if st.button("Dismiss", key="eval-dismiss"):
        st.session_state.pop("eval_job", None)
        st.rerun()


evaluation_status()
