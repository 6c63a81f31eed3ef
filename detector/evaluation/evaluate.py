"""Evaluate a checkpoint on a labelled folder with the app's own face pipeline, and store the run.

    python -m detector.evaluation.evaluate PATH [--split test] [--reals DIR] [--model DIR] [--limit N] [--json] [--engine ray]

PATH is a folder with `real/` and `fake/`, or a dataset root with `<split>/real|fake`. A set
with fakes only (sd21_faces) needs `--reals DIR` (a folder of real images, or a dataset root
whose same split is used): the run's data name says which reals were used. An image's score is
its most suspicious face; pictures where no face was found are kept in the run (score empty)
and counted, never silently dropped. Metrics come from scikit-learn. Images are scored by the batch
scan's worker (detector.scan.ScanWorker): in this process by default, or on Ray Data with
`--engine ray` (the same actor pool as `python -m detector.scan`), so there is one batch engine.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

from detector.config import PROJECT_ROOT
from detector.errors import DetectorError
from detector.evaluation.runs import Run, RunStore
from detector.imageio import list_images
from detector.scoring import calibrated_probability


def expected_calibration_error(labels: np.ndarray, scores: np.ndarray, bins: int = 10) -> float:
    """ECE over equal-width bins: sum_b (n_b / n) * |mean(label) - mean(score)|."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(scores, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        in_bin = index == b
        if in_bin.any():
            ece += in_bin.mean() * abs(labels[in_bin].mean() - scores[in_bin].mean())
    return float(ece)

def equal_error_rate(labels: np.ndarray, scores: np.ndarray) -> float:
    """The error rate where false positive and false negative rates meet, from sklearn's ROC."""
    fpr, tpr, _ = roc_curve(labels, scores)
    fnr = 1.0 - tpr
    index = int(np.nanargmin(np.abs(fnr - fpr)))
    return float((fpr[index] + fnr[index]) / 2.0)


def compute_metrics(labels, scores, threshold: float) -> dict:
    """All headline metrics for scores = P(fake) against labels (1 = fake), at a threshold."""
    labels = np.asarray(labels, dtype=int)
    scores = np.asarray(scores, dtype=float)
    predicted = (scores >= threshold).astype(int)
    both = len(np.unique(labels)) == 2
    tn, fp, fn, tp = confusion_matrix(labels, predicted, labels=[0, 1]).ravel()
    return {
        "n": int(len(labels)),
        "n_real": int((labels == 0).sum()),
        "n_fake": int((labels == 1).sum()),
        "threshold": float(threshold),
        "accuracy": float(accuracy_score(labels, predicted)),
        "precision": float(precision_score(labels, predicted, zero_division=0)),
        "recall": float(recall_score(labels, predicted, zero_division=0)),
        "f1": float(f1_score(labels, predicted, zero_division=0)),
        "specificity": float(recall_score(labels, predicted, pos_label=0, zero_division=0)),
        "auc": float(roc_auc_score(labels, scores)) if both else None,
        "average_precision": float(average_precision_score(labels, scores)) if both else None,
        "log_loss": float(log_loss(labels, np.clip(scores, 1e-7, 1 - 1e-7), labels=[0, 1])),
        "eer": equal_error_rate(labels, scores) if both else None,
        "confusion_matrix": [[int(tn), int(fp)], [int(fn), int(tp)]],
    }


def resolve_items(path: Path, split: str | None) -> list[tuple[Path, int]]:
    folder = path / split if split else path
    if not folder.is_dir():
        raise DetectorError(f"{folder} is not a folder")
    items = list_images(folder)
    if not items:
        raise DetectorError(f"{folder} has no images in real/ or fake/")
    return items


def subsample(items: list[tuple[Path, int]], limit: int | None, seed: int = 0) -> list[tuple[Path, int]]:
    """At most `limit` images per class, drawn with a fixed seed."""
    if not limit:
        return items
    rng = np.random.default_rng(seed)
    out = []
    for label in (0, 1):
        group = [it for it in items if it[1] == label]
        if len(group) > limit:
            group = [group[i] for i in sorted(rng.choice(len(group), limit, replace=False))]
        out += group
    return out


def select_items(path: Path, split: str | None = None, reals: Path | None = None, limit: int | None = None) -> tuple[list[tuple[Path, int]], str]:
    """The (image, label) list to evaluate and the data name stored with the run.

    A fakes-only set is paired with the reals of `reals` (its same split when it has one)."""
    items = resolve_items(path, split)
    name = "/".join(p for p in (path.name, split) if p)
    if reals:
        reals_dir = reals / split if split and (reals / split).is_dir() else reals
        items = [it for it in items if it[1] == 1] + [it for it in resolve_items(reals_dir, None) if it[1] == 0]
        name += f" + reals of {reals.name}" + (f"/{split}" if split else "")
    items = subsample(items, limit)
    if len({label for _, label in items}) < 2:
        raise DetectorError(f"{name} has only one class; pair it with a folder of real faces (--reals DIR)")
    return items, name


def score_images(detector, items: list[tuple[Path, int]], progress: Callable[[int, int], None] | None = None) -> list[dict]:
    """Run the batch scan's worker (the app's pipeline) on every image in this process; one record
    per image (errors recorded, not raised). `scan_records` is the same on Ray."""
    from detector.scan import ScanWorker

    worker = ScanWorker(detector=detector, provenance=False)
    records = []
    for done, (path, label) in enumerate(items, start=1):
        records.append(image_record(worker.scan_file(str(path), int(label)), str(path), int(label)))
        if progress:
            progress(done, len(items))
    return records


def scan_records(items: list[tuple[Path, int]], options, checkpoint: Path | None = None, progress: bool = False) -> list[dict]:
    """score_images on the batch engine (detector.scan on Ray Data), in the order of `items`."""
    import tempfile

    from detector.scan import read_results, scan

    with tempfile.TemporaryDirectory(prefix="dfx-eval-") as out:
        scan([{"file": str(p), "label": int(label)} for p, label in items], out, options, checkpoint=checkpoint,
             provenance=False, progress=progress)
        frame = read_results(out, ["file", "status", "p_fake", "logit", "fallback", "error", "seconds"])
    frame = frame.astype(object).where(frame.notna(), None)
    by_file = {name: group.to_dict("records") for name, group in frame.groupby("file", sort=False)}
    return [image_record(by_file.get(str(p), [{"status": "error", "error": "not scanned"}]), str(p), int(label))
            for p, label in items]


def image_record(rows: list[dict], path: str, label: int) -> dict:
    """An evaluation record from one file's scan rows: the image's score is its most suspicious face."""
    record = {"path": path, "label": label, "score": None, "n_faces": 0, "fallback": False,
              "seconds": round(float(rows[0].get("seconds") or 0.0), 4), "error": None}
    faces = [r for r in rows if r["status"] == "face"]
    if faces:
        record.update(
            score=float(max(r["p_fake"] for r in faces)),
            # The same face's score before temperature scaling, for before/after reliability diagrams.
            score_uncalibrated=float(calibrated_probability(max(r["logit"] for r in faces))),
            n_faces=len(faces),
            fallback=any(bool(r["fallback"]) for r in faces),
        )
    else:
        record["error"] = "no face found" if rows[0]["status"] == "no_face" else rows[0].get("error")
    return record


def build_run(detector, data_name: str, records: list[dict], info: dict | None = None) -> Run:
    scored = [r for r in records if r["score"] is not None]
    if not scored:
        raise DetectorError("no image in this set could be scored")
    labels = [r["label"] for r in scored]
    scores = [r["score"] for r in scored]
    metrics = compute_metrics(labels, scores, detector.config.threshold)
    seconds = np.array([r["seconds"] for r in scored])
    metrics.update(
        n_images=len(records),
        n_unscored=len(records) - len(scored),
        n_fallback=int(sum(r["fallback"] for r in scored)),
        time_mean_s=float(seconds.mean()),
        time_p95_s=float(np.percentile(seconds, 95)),
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    )
    if detector.device.type == "cuda":
        import torch

        metrics["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return Run(
        model_name=detector.config.name,
        model_version=detector.config.version,
        model_path=_portable(detector.checkpoint),
        data=data_name,
        threshold=detector.config.threshold,
        metrics=metrics,
        scores=records,
        info={"device": str(detector.device), **(info or {})},
    )


class EvaluationJob:
    """One evaluation in a background thread, so it outlives the page run that started it.

    The metrics page's form used to score inside the script run: any click elsewhere on the page (the
    threshold slider, the sidebar) or a dropped browser connection starts a new run, which abandoned the
    evaluation silently (issue 19: stopped at 38 of 80 images, nothing stored, no message). Here the
    thread always ends in exactly one of: `run_id` set (stored) or `error` set (why not).
    """

    def __init__(self, detector, items: list[tuple[Path, int]], data_name: str, info: dict, store) -> None:
        import threading

        self.detector, self.items, self.data_name, self.info, self.store = detector, items, data_name, info, store
        self.done, self.total = 0, len(items)
        self.run_id: str | None = None
        self.metrics: dict = {}
        self.n_unscored = 0
        self.error: str | None = None
        self.started = time.time()
        self.seconds = 0.0
        self._thread = threading.Thread(target=self._work, name=f"evaluate {data_name}", daemon=True)

    def start(self) -> EvaluationJob:
        self._thread.start()
        return self

    @property
    def finished(self) -> bool:
        return self.run_id is not None or self.error is not None

    def _progress(self, done: int, total: int) -> None:
        self.done = done

    def _work(self) -> None:
        try:
            records = score_images(self.detector, self.items, self._progress)
            run = build_run(self.detector, self.data_name, records, self.info)
            self.store.add(run)
            self.metrics, self.n_unscored = run.metrics, sum(r["score"] is None for r in records)
            self.run_id = run.id
        except Exception as exc:  # noqa: BLE001  any failure must reach the page as a message, never vanish
            self.error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, DetectorError) else str(exc)
        finally:
            self.seconds = time.time() - self.started


def _portable(path) -> str:
    """A model path relative to the project when it lies inside it, so shipped runs work in any clone."""
    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Evaluate a checkpoint on a labelled image folder.")
    parser.add_argument("path", type=Path)
    parser.add_argument("--split", help="use PATH/<split>/real|fake")
    parser.add_argument("--reals", type=Path, help="real images to pair with a fakes-only set")
    parser.add_argument("--name", help="data name stored with the run (default: from the path)")
    parser.add_argument("--model", type=Path, help="checkpoint folder (default: the shipped model)")
    parser.add_argument("--limit", type=int, help="at most N images per class (fixed seed)")
    parser.add_argument("--db", type=Path, help="runs database (default: env DFX_RUNS_DB or runs/runs.sqlite)")
    parser.add_argument("--export", type=Path, help="also write the run as JSON here")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON on the last line")
    parser.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="local: the scan worker in this process (default); ray: detector.scan's Ray Data actor pool")
    parser.add_argument("--actors", type=int, help="--engine ray: actors, each with one Detector")
    parser.add_argument("--address", help="--engine ray: an existing cluster ('auto' or ray://host:port)")
    args = parser.parse_args(argv)
    try:
        items, name = select_items(args.path, args.split, args.reals, args.limit)
        name = args.name or name
        from detector.inference import Detector

        detector = Detector(args.model)
        start = time.time()
        if args.engine == "ray":
            from detector.scan import EngineOptions

            options = EngineOptions(engine="ray", actors=args.actors, address=args.address)
            records = scan_records(items, options, args.model, progress=not args.json)
        else:
            bar = None
            if not args.json:
                from tqdm import tqdm

                bar = tqdm(total=len(items), unit="img", file=sys.stderr)
            records = score_images(detector, items, (lambda d, t: bar.update(1)) if bar else None)
            if bar:
                bar.close()
        run = build_run(detector, name, records, {"split": args.split, "limit": args.limit, "wall_s": round(time.time() - start, 1)})
        store = RunStore(args.db)
        store.add(run)
        if args.export:
            store.export_json(run.id, args.export)
    except DetectorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    summary = {k: v for k, v in run.metrics.items() if k != "confusion_matrix"}
    if args.json:
        print(json.dumps({"run_id": run.id, "data": name, **run.metrics}))
    else:
        print(f"run {run.id} stored in {store.path}")
        for key, value in summary.items():
            print(f"  {key:>18}: {value:.4f}" if isinstance(value, float) else f"  {key:>18}: {value}")
        print(f"  confusion [[tn fp] [fn tp]]: {run.metrics['confusion_matrix']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
