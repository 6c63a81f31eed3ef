"""Numbers and figures for stored evaluation runs: all computed by scikit-learn from the scores.

Pure functions of a Run (no Streamlit), so the metrics page and the tests share them.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    auc,
    average_precision_score,
    brier_score_loss,
    classification_report,
    confusion_matrix,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from detector import display
from detector.config import PROJECT_ROOT
from detector.evaluation.evaluate import compute_metrics, expected_calibration_error
from detector.evaluation.runs import Run
from detector.stability import model_id

LABEL_NAMES = ["real", "fake"]


def scored(run: Run) -> tuple[np.ndarray, np.ndarray]:
    """(labels, scores) of the images that got a score."""
    rows = [s for s in run.scores if s.get("score") is not None]
    return np.array([r["label"] for r in rows], dtype=int), np.array([r["score"] for r in rows], dtype=float)


def two_class_scores(runs: dict[str, Run]):
    """(name, labels, scores) of the runs that hold both classes: ROC, PR and AUC need both."""
    for name, run in runs.items():
        labels, scores = scored(run)
        if len(np.unique(labels)) == 2:
            yield name, labels, scores


def metrics_at(run: Run, threshold: float) -> dict:
    labels, scores = scored(run)
    return compute_metrics(labels, scores, threshold)


def _bootstrap_indices(n: int, labels: np.ndarray, n_boot: int, seed: int):
    """Resamples (with replacement) that still hold both classes, so AUC is defined on each."""
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        index = rng.integers(0, n, n)
        if labels[index].min() != labels[index].max():
            yield index


def _percentile_interval(values: list[float], level: float) -> tuple[float, float]:
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def auc_interval(run: Run, n_boot: int = 500, seed: int = 0, level: float = 0.95) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the run's ROC AUC over its images; None for a one-class run."""
    labels, scores = scored(run)
    if len(np.unique(labels)) < 2:
        return None
    aucs = [roc_auc_score(labels[i], scores[i]) for i in _bootstrap_indices(len(labels), labels, n_boot, seed)]
    return _percentile_interval(aucs, level)


def _paired_scores(run_a: Run, run_b: Run) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, scores of a, scores of b) on the images both runs scored."""
    a = {s["path"]: s for s in run_a.scores if s.get("score") is not None}
    b = {s["path"]: s for s in run_b.scores if s.get("score") is not None}
    paths = sorted(set(a) & set(b))
    if any(a[p]["label"] != b[p]["label"] for p in paths):
        raise ValueError(f"the two runs of {run_a.data} label the same image differently")
    labels = np.array([a[p]["label"] for p in paths], dtype=int)
    if len(np.unique(labels)) < 2:
        raise ValueError(f"the images both runs of {run_a.data} scored hold a single class: AUC is undefined")
    return labels, np.array([a[p]["score"] for p in paths], dtype=float), np.array([b[p]["score"] for p in paths], dtype=float)


def paired_auc_difference(run_a: Run, run_b: Run, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """AUC(b) - AUC(a) on the images both runs scored, with a paired bootstrap interval.

    Pairing (the same resampled images for both models) is what makes a small difference on a few
    hundred images testable at all: most of the sampling noise is shared by the two models.
    """
    labels, score_a, score_b = _paired_scores(run_a, run_b)
    diffs = [roc_auc_score(labels[i], score_b[i]) - roc_auc_score(labels[i], score_a[i])
             for i in _bootstrap_indices(len(labels), labels, n_boot, seed)]
    low, high = _percentile_interval(diffs, level)
    auc_a, auc_b = roc_auc_score(labels, score_a), roc_auc_score(labels, score_b)
    return {"n": len(labels), "auc_a": float(auc_a), "auc_b": float(auc_b), "difference": float(auc_b - auc_a),
            "low": low, "high": high, "level": level}


def paired_mean_auc_difference(pairs: list[tuple[Run, Run]], n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict:
    """Mean over several image sets of AUC(b) - AUC(a), with a paired bootstrap interval.

    Each set is resampled on its own (its images, the same for both models) and the mean of the per-set
    differences taken per resample, as a rule over "the mean AUC of 7 sets" reads it: a set of 5 fakes
    swings that mean as much as a set of 60 does, and the interval shows it."""
    paired = [_paired_scores(a, b) for a, b in pairs]
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(n_boot):
        per_set = []
        for labels, score_a, score_b in paired:
            i = rng.integers(0, len(labels), len(labels))
            while labels[i].min() == labels[i].max():  # both classes, so AUC is defined
                i = rng.integers(0, len(labels), len(labels))
            per_set.append(roc_auc_score(labels[i], score_b[i]) - roc_auc_score(labels[i], score_a[i]))
        diffs.append(np.mean(per_set))
    low, high = _percentile_interval(diffs, level)
    auc_a = float(np.mean([roc_auc_score(labels, score_a) for labels, score_a, _ in paired]))
    auc_b = float(np.mean([roc_auc_score(labels, score_b) for labels, _, score_b in paired]))
    return {"sets": len(paired), "n": int(sum(len(labels) for labels, _, _ in paired)), "auc_a": auc_a, "auc_b": auc_b,
            "difference": auc_b - auc_a, "low": low, "high": high, "level": level}


def metrics_table(run: Run, threshold: float, interval: tuple[float, float] | None = None) -> pd.DataFrame:
    """Metrics at `threshold`; `interval` is `auc_interval(run)`, which the caller computes once per
    run because it does not depend on the threshold and costs ~1.5 s on 3,000 images."""
    m = metrics_at(run, threshold)
    keys = ["accuracy", "precision", "recall", "f1", "specificity", "auc", "average_precision", "log_loss", "eer"]
    rows = [(k, m[k]) for k in keys]
    if interval:
        # the metric column is numeric; the interval goes in as its two ends
        rows.insert(keys.index("auc") + 1, ("auc 95% CI low (bootstrap)", interval[0]))
        rows.insert(keys.index("auc") + 2, ("auc 95% CI high (bootstrap)", interval[1]))
    for key in ("time_mean_s", "time_p95_s", "peak_rss_mb", "n_unscored", "n_fallback"):
        if key in run.metrics:
            rows.append((key, run.metrics[key]))
    return pd.DataFrame(rows, columns=["metric", "value"])


def report_frame(run: Run, threshold: float) -> pd.DataFrame:
    labels, scores = scored(run)
    report = classification_report(labels, (scores >= threshold).astype(int), labels=[0, 1], target_names=LABEL_NAMES,
                                   output_dict=True, zero_division=0)
    return pd.DataFrame(report).T.round(4)


def uncalibrated(run: Run) -> Run | None:
    """The same run scored before temperature scaling, when the run stored those scores."""
    rows = [s for s in run.scores if s.get("score") is not None]
    if not rows or any(s.get("score_uncalibrated") is None for s in rows):
        return None
    return Run(model_name=run.model_name, model_version=run.model_version, data=run.data, threshold=0.5, metrics={},
               scores=[{**s, "score": s["score_uncalibrated"]} for s in rows], id=run.id + "-raw")


def calibration(run: Run, bins: int = 10) -> dict:
    labels, scores = scored(run)
    fraction, mean_score = calibration_curve(labels, scores, n_bins=bins, strategy="uniform")
    return {
        "fraction_fake": fraction,
        "mean_score": mean_score,
        "ece": expected_calibration_error(labels, scores, bins),
        "brier": float(brier_score_loss(labels, scores)),
    }


# ---- figures -------------------------------------------------------------------------------------
def confusion_figure(run: Run, threshold: float, normalised: bool) -> go.Figure:
    labels, scores = scored(run)
    matrix = confusion_matrix(labels, (scores >= threshold).astype(int), labels=[0, 1],
                              normalize="true" if normalised else None)
    text = [[f"{v:.1%}" if normalised else f"{int(v)}" for v in row] for row in matrix]
    fig = go.Figure(go.Heatmap(z=matrix, x=["pred real", "pred fake"], y=["true real", "true fake"], text=text,
                               texttemplate="%{text}", colorscale="Blues", showscale=False))
    fig.update_layout(title=f"Confusion matrix at {threshold:.2f}" + (" (row-normalised)" if normalised else ""),
                      yaxis_autorange="reversed", height=340, margin=dict(t=50, b=20))
    return fig


def histogram_figure(run: Run, threshold: float) -> go.Figure:
    labels, scores = scored(run)
    fig = go.Figure()
    for value, name, colour in ((0, "real", "#2ca02c"), (1, "fake", "#d62728")):
        fig.add_histogram(x=scores[labels == value], name=name, marker_color=colour, opacity=0.6, xbins=dict(start=0, end=1, size=0.025))
    fig.add_vline(x=threshold, line_dash="dash", annotation_text=f"threshold {threshold:.2f}")
    fig.update_layout(barmode="overlay", title="P(fake) per class", xaxis_title="P(fake)", yaxis_title="images", height=340)
    return fig


LEGEND_LINE_CHARS = 40  # about 300 px of 11 px text: what a 390 px phone leaves a chart


def wrap_legend_name(name: str, width: int = LEGEND_LINE_CHARS) -> str:
    """A legend name broken into lines of at most `width` characters (plotly's <br>): plotly never wraps
    legend text, and at 390 px the long sd21 run names ran off the chart's right edge."""
    return "<br>".join(textwrap.wrap(name, width, break_long_words=False, break_on_hyphens=False)) or name


def legend_below(fig: go.Figure, row_px: int = 22) -> go.Figure:
    """Legend under the plot, one run per row, the figure taller by that much: with 8 long run names the
    legend used to cover the curves and leave ~100 px of chart (issue 19). The toolbar goes vertical on the
    right so that it no longer covers the title on a phone."""
    rows = 0
    for trace in fig.data:
        if trace.showlegend is not False:
            trace.name = wrap_legend_name(trace.name or "")
            rows += trace.name.count("<br>") + 1
    fig.update_layout(
        height=(fig.layout.height or 420) + row_px * rows,
        # Below the x-axis title; plotly reserves the legend's height out of the figure's, hence the taller figure.
        legend=dict(orientation="h", yanchor="top", y=-0.18, x=0, xanchor="left", font=dict(size=11),
                    entrywidth=1.0, entrywidthmode="fraction"),
        margin=dict(l=50, r=40, t=50, b=40), modebar=dict(orientation="v"),
    )
    return fig


def calibration_note(ece_before: float, ece_after: float) -> str | None:
    """A sentence when temperature scaling made this set's calibration worse (None when it helped)."""
    if ece_after <= ece_before:
        return None
    return (f"On this set temperature scaling made calibration worse (ECE {ece_before:.3f} before, {ece_after:.3f} "
            "after). The temperature is one number fitted on the validation sets of all training sources together; "
            "for this kind of fake the raw scores happened to be closer to the observed rates.")


def calibration_figure(runs: dict[str, Run], bins: int = 10) -> go.Figure:
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="grey"), name="perfect")
    for name, run in runs.items():
        c = calibration(run, bins)
        fig.add_scatter(x=c["mean_score"], y=c["fraction_fake"], mode="lines+markers",
                        name=f"{name} (ECE {c['ece']:.3f}, Brier {c['brier']:.3f})")
    fig.update_layout(title="Reliability diagram", xaxis_title="mean P(fake) in bin", yaxis_title="fraction fake", height=380)
    return legend_below(fig)


def roc_figure(runs: dict[str, Run]) -> go.Figure:
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="grey"), name="chance")
    for name, labels, scores in two_class_scores(runs):
        fpr, tpr, _ = roc_curve(labels, scores)
        fig.add_scatter(x=fpr, y=tpr, mode="lines", name=f"{name} (AUC {auc(fpr, tpr):.3f})")
    fig.update_layout(title="ROC", xaxis_title="false positive rate", yaxis_title="true positive rate", height=420)
    return legend_below(fig)


def pr_figure(runs: dict[str, Run]) -> go.Figure:
    fig = go.Figure()
    for name, labels, scores in two_class_scores(runs):
        precision, recall, _ = precision_recall_curve(labels, scores)
        fig.add_scatter(x=recall, y=precision, mode="lines", name=f"{name} (AP {average_precision_score(labels, scores):.3f})")
    fig.update_layout(title="Precision-recall", xaxis_title="recall", yaxis_title="precision", height=420)
    return legend_below(fig)


def generalisation_frame(runs: list[Run]) -> pd.DataFrame:
    """Model x data set, cell = ROC AUC (the newest run of each pair)."""
    ordered = {(f"{r.model_name} {r.model_version}", r.data): r for r in sorted(runs, key=lambda r: r.created)}
    rows = {key: roc_auc_score(labels, scores) for key, labels, scores in two_class_scores(ordered)}
    if not rows:
        return pd.DataFrame()
    series = pd.Series(rows)
    return series.unstack()


def generalisation_figure(frame: pd.DataFrame) -> go.Figure:
    fig = go.Figure(go.Heatmap(z=frame.values, x=list(frame.columns), y=list(frame.index), zmin=0.5, zmax=1.0,
                               colorscale="RdYlGn", text=[[f"{v:.3f}" if v == v else "" for v in row] for row in frame.values],
                               texttemplate="%{text}", colorbar=dict(title="AUC")))
    fig.update_layout(title=wrap_legend_name("Generalisation: ROC AUC per model and data set"), height=120 + 60 * len(frame.index))
    return fig


def training_histories(run: Run) -> dict[str, pd.DataFrame]:
    """Per-epoch histories saved beside the run's model, if that folder is on this machine: history.json
    ("training"), and one history_<arm>.json per arm for a model made from several runs (a weight mix
    of a CPU and a GPU arm, a two-stage fine-tune). A folder counts only while it still holds the run's model:
    when a new default ships, the old one moves to `<name>-<version>` and its runs' recorded path names the new one."""
    models = PROJECT_ROOT / "assets" / "models"
    folders = [PROJECT_ROOT / run.model_path] if run.model_path else []
    folders += [models / run.model_name, *sorted(models.glob(f"{run.model_name}-*"))]
    for folder in folders:
        files = sorted(folder.glob("history*.json")) if folder.is_dir() and holds_model(folder, run) else []
        if files:
            return {_arm_name(f.stem): pd.read_json(f) for f in files}
    return {}


def holds_model(folder: Path, run: Run) -> bool:
    """Whether the folder's config names the run's model and version (a folder without a readable one, or a run
    without a version, cannot tell otherwise and counts)."""
    current = model_id(folder)
    return not run.model_version or not current or current == f"{run.model_name} {run.model_version}"


def _arm_name(stem: str) -> str:
    return stem.removeprefix("history").lstrip("_") or "training"


def history_metrics(histories: dict[str, pd.DataFrame]) -> list[str]:
    """The metrics (loss, accuracy, auc) at least one history has a train or validation column for."""
    return [m for m in ("loss", "accuracy", "auc") if any(f"{split}_{m}" in h for h in histories.values() for split in ("train", "val"))]


def history_figure(histories: dict[str, pd.DataFrame], metric: str) -> go.Figure:
    fig = go.Figure()
    for arm, history in histories.items():
        for split in ("train", "val"):
            column = f"{split}_{metric}"
            if column in history:
                name = split if len(histories) == 1 else f"{arm} · {split}"
                fig.add_scatter(x=history["epoch"], y=history[column], mode="lines+markers", name=name)
    fig.update_layout(title=f"{metric} per epoch", xaxis_title="epoch", height=320)
    return fig


# kind -> (true label, called fake?)
CALL_KINDS = {"tp": (1, True), "tn": (0, False), "fp": (0, True), "fn": (1, False)}


def confident_calls(run: Run, threshold: float, kind: str, k: int | None = None) -> list[dict]:
    """Scored images of one kind ('tp', 'tn', 'fp', 'fn'), most confident first (highest score for
    a 'fake' call, lowest for a 'real' one); at most k."""
    label, called_fake = CALL_KINDS[kind]
    rows = [s for s in run.scores if s.get("score") is not None and s["label"] == label and (s["score"] >= threshold) == called_fake]
    rows.sort(key=lambda r: -r["score"] if called_fake else r["score"])
    return rows if k is None else rows[:k]


def mistakes(run: Run, threshold: float, kind: str, k: int = 8) -> list[dict]:
    """The k most confident false positives ('fp') or false negatives ('fn')."""
    return confident_calls(run, threshold, "fp" if kind == "fp" else "fn", k)


def scores_frame(run: Run) -> pd.DataFrame:
    return pd.DataFrame(run.scores)


# The robustness suite's conditions (benchmarks/robustness.py), in its order; h264_crfN: one frame of an H.264 video
# at CRF N (FaceForensics++ ships c23 and c40).
CONDITION_ORDER = ("plain", "jpeg60", "half", "up175", "canvas", "post", "group", "h264_crf23", "h264_crf40")


def set_label(info: dict) -> str:
    """A robustness run's set as a row label; runs on the validation split (model selection) say so."""
    return info["set"] + (" (val)" if info.get("split", "test") != "test" else "")


def condition_frame(summaries: list[dict]) -> pd.DataFrame:
    """Robustness suite runs (RunStore.list() rows with info.condition): rows 'set · model version',
    columns conditions in the suite's order, cell = ROC AUC (two-class runs only)."""
    cells = {}
    for row in sorted(summaries, key=lambda r: r["created"]):
        info, auc = row.get("info") or {}, row["metrics"].get("auc")
        # A checked run (the stability check on) has the plain run's scores: only its verdicts differ.
        if info.get("condition") and info.get("set") and auc is not None and not info.get("checked"):
            cells[(f"{set_label(info)} · {row['model_version']}", info["condition"])] = float(auc)
    if not cells:
        return pd.DataFrame()
    frame = pd.Series(cells).unstack()
    return frame[[c for c in CONDITION_ORDER if c in frame.columns]].sort_index()


def false_alarm_frame(summaries: list[dict]) -> pd.DataFrame:
    """Reals-only robustness runs (composed real group scenes): the share of real faces with P(fake) at or
    above the threshold ("called fake"), at or above the verdict's upper edge ("likely manipulated"), and
    for runs made with the stability check, the share whose final verdict is "likely manipulated"."""
    rows = []
    for row in sorted(summaries, key=lambda r: r["created"]):
        info, metrics = row.get("info") or {}, row["metrics"]
        if info.get("condition") and metrics.get("n") and metrics.get("n_fake") == 0 and "specificity" in metrics:
            condition = info["condition"] + (" · checked" if info.get("checked") else "")
            rows.append({"set": set_label(info), "condition": condition, "model": row["model_version"],
                         "real faces scored": metrics["n"], "not found": metrics.get("n_unscored", 0),
                         "called fake": 1.0 - float(metrics["specificity"]),
                         # runs made before the band could be asymmetric did not store it
                         "likely manipulated": info.get("reals_likely_manipulated"),
                         # the final verdict as the pages show it (only runs made with --checked have it)
                         "likely manipulated after the check": info.get("reals_final_likely_manipulated")})
    frame = pd.DataFrame(rows)
    for column in ("likely manipulated", "likely manipulated after the check"):
        if column in frame:  # None (not stored) becomes NaN, which the page prints as "–"
            frame[column] = pd.to_numeric(frame[column])
    return frame


def condition_figure(frame: pd.DataFrame) -> go.Figure:
    fig = go.Figure(go.Heatmap(z=frame.values, x=list(frame.columns), y=list(frame.index), zmin=0.5, zmax=1.0,
                               colorscale="RdYlGn", text=[[f"{v:.3f}" if v == v else "" for v in row] for row in frame.values],
                               texttemplate="%{text}", colorbar=dict(title="AUC")))
    # Wrapped: at 390 px the one-line title ran off the chart (plotly does not wrap titles either).
    fig.update_layout(title=wrap_legend_name("Robustness: ROC AUC per data set and model (rows) under each reframing (columns)"),
                      height=160 + 28 * len(frame.index), yaxis=dict(autorange="reversed"))
    return fig


SWAP_PROXY_WAYS = {"sharp": "classical swap", "render128": "rendered 128 px", "render64": "rendered 64 px", "sbi": "self-blended"}


def swap_proxy_frame(folder: Path = PROJECT_ROOT / "benchmarks" / "results") -> pd.DataFrame:
    """One row per way of each stored `benchmarks.swap_render` result (`swap_render_*.json`): the model, the
    split, how many pictures, the way, its AUC and the share of its swaps at or above the model's threshold
    (long, not wide, so the table fits a phone). Unreadable files are left out (the page shows what it can)."""
    rows = []
    for path in sorted(folder.glob("swap_render_*.json")):
        try:
            result = json.loads(path.read_text())
            rows += [{"model": result["model"], "split": result["split"], "pictures": result["pictures"], "swap": name,
                      "AUC": result["ways"][way]["auc"], "caught": result["ways"][way]["swaps_at_threshold"]}
                     for way, name in SWAP_PROXY_WAYS.items()]
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return pd.DataFrame(rows)


VIDEO_SWAP_CLIPS = {"real": "real (left as it is)", "sharp": "classical swap", "sbi": "self-blended"}
VERDICTS_GIVEN = (display.LIKELY_MANIPULATED, display.NO_SIGN_FOUND, display.CANT_TELL)


def video_swap_frame(folder: Path = PROJECT_ROOT / "benchmarks" / "results") -> pd.DataFrame:
    """One row per CRF and kind of clip of each stored `benchmarks.video_swaps` result (`video_swaps_*.json`): the
    model and split, the CRF, which clips, how many, the app's clip AUC against the real clips (none for the real
    clips themselves) and the share of clips the video page calls likely manipulated, can't tell, or does not judge
    (too small, blurred, unclear or no face); the rest are "no sign found". Unreadable files are left out."""
    rows = []
    for path in sorted(folder.glob("video_swaps_*.json")):
        try:
            result = json.loads(path.read_text())
            for crf, by_clip in result["summary"].items():
                for clip, name in VIDEO_SWAP_CLIPS.items():
                    part, shares = by_clip[clip], by_clip[clip]["verdicts"]
                    rows.append({"model": f"{result['model']} · {result['split']}", "CRF": int(crf), "clips": name, "n": part["clips"],
                                 "AUC": part.get("app_auc"), "likely manipulated": shares.get(display.LIKELY_MANIPULATED, 0.0),
                                 "can't tell": shares.get(display.CANT_TELL, 0.0),
                                 "not judged": sum(v for k, v in shares.items() if k not in VERDICTS_GIVEN)})
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
    return pd.DataFrame(rows)
