"""The shared test sets every shipped model is scored on, with the app's own pipeline.

Used by the evaluation benchmark (benchmarks.eval_model: numbers only) and by shipping
(scripts.ship_model: the same runs, exported as reference runs and written into config.json).

Targets for the shipped model (issue 14): no in-domain set (dfdc, the StyleGAN splits) below ROC AUC 0.93,
inswapper_faceswap/test >= 0.95.
sd21_faces has fakes only; it is scored against the reals of both StyleGAN test splits (FFHQ and
Unsplash portraits), and the run's data name says so.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from detector.config import PROJECT_ROOT
from detector.evaluation.evaluate import build_run, resolve_items, score_images, subsample
from detector.evaluation.runs import Run

DATA = PROJECT_ROOT.parent / "shared" / "data"
TARGETS = {"dfdc/test": 0.93, "stylegan1_ffhq/test": 0.93, "stylegan2_unsplash/test": 0.93, "inswapper_faceswap/test": 0.95}
SUMMARY_KEYS = ("auc", "accuracy", "precision", "recall", "f1", "specificity", "average_precision",
                "log_loss", "eer", "n", "n_fallback", "n_unscored", "time_mean_s", "time_p95_s")


def test_sets(limit: int | None, data: Path = DATA) -> dict[str, list]:
    """Data name -> (path, label) items, paths relative to the project root (run from there)."""

    def rel(items):  # relative paths, so a fresh clone beside shared/ finds the files of a shipped run
        return [(Path("..") / p.relative_to(PROJECT_ROOT.parent), label) for p, label in items]

    sets = {}
    for name in ("dfdc", "stylegan1_ffhq", "stylegan2_unsplash"):
        if (data / name / "test").is_dir():
            sets[f"{name}/test"] = rel(subsample(resolve_items(data / name, "test"), limit))
    if (data / "sd21_faces" / "test").is_dir():
        fakes = resolve_items(data / "sd21_faces", "test")
        reals = [it for n in ("stylegan1_ffhq", "stylegan2_unsplash") for it in resolve_items(data / n, "test") if it[1] == 0]
        sets["sd21_faces/test + reals of stylegan1_ffhq/test and stylegan2_unsplash/test"] = rel(subsample(fakes + reals, limit))
    if (data / "inswapper_faceswap" / "test").is_dir():
        sets["inswapper_faceswap/test"] = rel(subsample(resolve_items(data / "inswapper_faceswap", "test"), limit))
    # The newer one-class sets against real portraits of similar framing (a set of reals only).
    portraits = data / "real_faces_300w_portraits" / "test"
    for name in ("sfhq_t2i_tiles", "t2i_people_scenes"):
        if (data / name / "test").is_dir() and portraits.is_dir():
            items = resolve_items(data / name, "test") + resolve_items(portraits.parent, "test")
            sets[f"{name}/test + reals of real_faces_300w_portraits/test"] = rel(subsample(items, limit))
    return sets


def run_suite(detector, limit: int | None = None) -> Iterator[tuple[str, Run]]:
    """(data name, run) for each shared test set; the caller stores, exports or reports them."""
    for name, items in test_sets(limit).items():
        start = time.time()
        records = score_images(detector, items)
        yield name, build_run(detector, name, records, {"split": "test", "limit": limit, "wall_s": round(time.time() - start, 1)})


def summary(run: Run) -> dict:
    """The headline numbers of a run, as written into a shipped model's config.json."""
    return {k: run.metrics.get(k) for k in SUMMARY_KEYS}
