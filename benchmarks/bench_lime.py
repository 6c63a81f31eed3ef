"""Our LIME vs the lime package's defaults on the same faces: speed and deletion-AUC faithfulness.

    python -m benchmarks.bench_lime [--per-set 2] [--data ../shared/data]
    targets: >= 20x faster than the defaults, deletion AUC no worse (lower is better)

Defaults = lime_image.LimeImageExplainer().explain_instance(face, fn, top_labels=None, labels=(1,),
num_samples=1000, batch_size=10): its own quickshift segmentation, hidden regions in their mean
colour. Both call the same classifier function (xai.base.p_fake_of_crops, the model as the app runs
it), so the speed-up is LIME's own cost, not a faster model.

Faces: the bundled samples, plus, where ../shared/data exists, the first `--per-set` faces of each
test set's fake/ and real/ folders. As in the app, each map explains the class the model predicted,
and its deletion AUC is measured for that class.
"""

import argparse
import time
from pathlib import Path

import numpy as np

from benchmarks.common import ROOT, report

VARIANTS = {  # name -> LimeExplainer parameters; the first is the app's default
    "ours": {},
    "ours_paired": {"design": "paired"},
    "ours_random_masks": {"design": "random"},
    "ours_mean_hide": {"hide": "mean"},
    "ours_64_samples": {"samples": 64},
}


def faces(detector, data: Path, per_set: int) -> list[tuple[str, np.ndarray]]:
    from PIL import Image

    out = []
    for name in ("astronaut.jpg", "astronaut_selfblended.jpg", "two_faces.jpg"):
        out += [(name, np.asarray(f.crop)) for f in detector.analyze(Image.open(ROOT / "assets" / "samples" / name).convert("RGB")).faces]
    for folder in sorted(data.glob("*/test/*")) if data.is_dir() else []:
        for path in sorted(folder.iterdir())[:per_set]:
            result = detector.analyze(Image.open(path).convert("RGB"))
            out += [(f"{folder.parts[-3]}/{folder.name}/{path.name}", np.asarray(result.faces[0].crop))] if result.faces else []
    return out


def lime_defaults_map(model, face: np.ndarray, target: int) -> tuple[np.ndarray, float]:
    from lime import lime_image

    from xai.base import p_fake_of_crops, signed_map

    lime_image.tqdm = lambda iterable, *a, **k: iterable  # lime 0.2.0.1 prints a bar per call otherwise
    start = time.perf_counter()

    def classify(batch):
        fake = p_fake_of_crops(model, np.clip(batch, 0, 255).astype(np.uint8), batch_size=10)
        return np.stack([1 - fake, fake], axis=1)

    result = lime_image.LimeImageExplainer(random_state=0).explain_instance(
        face, classify, labels=(target,), top_labels=None, num_samples=1000, batch_size=10, random_seed=0)
    weights = np.zeros(int(result.segments.max()) + 1)
    for segment, weight in result.local_exp[target]:
        weights[segment] = weight
    return (signed_map(weights[result.segments]) + 1) / 2, time.perf_counter() - start


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--per-set", type=int, default=2, help="faces per shared test folder (real/, fake/)")
    args = parser.parse_args(argv)
    from detector.inference import Detector
    from xai import make_explainer
    from xai.base import p_fake_of_crops
    from xai.quality import deletion_auc

    detector = Detector()
    detector.warm_up()
    per_face = []
    for name, face in faces(detector, args.data, args.per_set):
        target = detector.config.explained_class(float(p_fake_of_crops(detector.model, face[None])[0]))
        row = {"face": name, "target": target}
        for key, params in VARIANTS.items():
            ours = make_explainer("LIME", **params).explain(detector.model, face, target)
            row[f"{key}_s"] = ours.seconds
            row[f"{key}_deletion_auc"] = deletion_auc(detector.model, face, ours.heatmap, target)
        theirs_map, row["defaults_s"] = lime_defaults_map(detector.model, face, target)
        row["defaults_deletion_auc"] = deletion_auc(detector.model, face, theirs_map, target)
        per_face.append(row)
        print(row, flush=True)
    mean = {k: float(np.mean([r[k] for r in per_face])) for k in per_face[0] if k not in ("face", "target")}
    rows = [("faces", str(len(per_face)), ""),
            ("lime defaults (s/face)", f"{mean['defaults_s']:.1f}", "1000 samples, batch 10, quickshift, mean-colour hide"),
            ("  deletion AUC", f"{mean['defaults_deletion_auc']:.4f}", "lower is better")]
    speedups, wins = {}, {}
    for key, params in VARIANTS.items():
        speedups[key] = mean["defaults_s"] / mean[f"{key}_s"]
        wins[key] = int(sum(r[f"{key}_deletion_auc"] <= r["defaults_deletion_auc"] for r in per_face))
        described = ", ".join(f"{k}={v}" for k, v in make_explainer("LIME", **params).params.items() if k in ("samples", "segments", "hide", "design"))
        rows += [(f"{key} (s)", f"{mean[key + '_s']:.2f}",
                  f"speed-up {speedups[key]:.1f}x (target >= 20x); {described}"),
                 ("  deletion AUC", f"{mean[key + '_deletion_auc']:.4f}",
                  f"no worse than defaults on {wins[key]}/{len(per_face)} faces")]
    return report("lime", rows, {"per_face": per_face, "mean": mean, "speedups": speedups, "faces_no_worse": wins})


if __name__ == "__main__":
    main()
