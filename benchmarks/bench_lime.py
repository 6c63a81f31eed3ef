"""Our LIME vs the lime package's defaults on the same faces: speed and deletion-AUC faithfulness.

    python -m benchmarks.bench_lime [--faces 3]    targets: >= 20x faster, deletion AUC no worse

Defaults = lime_image.LimeImageExplainer().explain_instance(face, fn, top_labels=None, labels=(1,),
num_samples=1000, batch_size=10) with its own quickshift segmentation. Lower deletion AUC is better.
"""

import argparse
import time

import numpy as np

from benchmarks.common import report


def faces(detector, count: int):
    from PIL import Image

    from benchmarks.common import ROOT

    pictures = [ROOT / "assets" / "samples" / n for n in ("astronaut.jpg", "astronaut_selfblended.jpg", "two_faces.jpg")]
    crops = []
    for path in pictures:
        crops += [f.crop for f in detector.analyze(Image.open(path).convert("RGB")).faces]
    return crops[:count]


def lime_defaults_map(model, face: np.ndarray) -> tuple[np.ndarray, float]:
    from lime import lime_image

    from xai.base import probabilities, signed_map

    lime_image.tqdm = lambda iterable, *a, **k: iterable
    start = time.perf_counter()

    def classify(batch):
        fake = probabilities(model, np.clip(batch, 0, 255).astype(np.uint8), batch_size=10)
        return np.stack([1 - fake, fake], axis=1)

    result = lime_image.LimeImageExplainer(random_state=0).explain_instance(
        face, classify, labels=(1,), top_labels=None, num_samples=1000, batch_size=10, random_seed=0)
    weights = np.zeros(int(result.segments.max()) + 1)
    for segment, weight in result.local_exp[1]:
        weights[segment] = weight
    signed = signed_map(weights[result.segments])
    return (signed + 1) / 2, time.perf_counter() - start


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--faces", type=int, default=3)
    args = parser.parse_args(argv)
    from detector.inference import Detector
    from xai import FAKE, make_explainer
    from xai.quality import deletion_auc

    detector = Detector()
    variants = [(150, 40), (100, 30), (60, 20)]  # (samples, superpixels); the app's default is the first
    per_face = []
    for face in faces(detector, args.faces):
        array = np.asarray(face)
        theirs_map, theirs_s = lime_defaults_map(detector.model, array)
        row = {"defaults_s": theirs_s, "defaults_deletion_auc": deletion_auc(detector.model, array, theirs_map)}
        for samples, segments in variants:
            ours = make_explainer("LIME", samples=samples, segments=segments).explain(detector.model, array, FAKE)
            row[f"ours_{samples}_{segments}_s"] = ours.seconds
            row[f"ours_{samples}_{segments}_deletion_auc"] = deletion_auc(detector.model, array, ours.heatmap)
        per_face.append(row)
    mean = {k: float(np.mean([r[k] for r in per_face])) for k in per_face[0]}
    rows = [("faces", str(len(per_face)), ""),
            ("lime defaults (s/face)", f"{mean['defaults_s']:.1f}", "1000 samples, batch 10, quickshift"),
            ("deletion AUC defaults", f"{mean['defaults_deletion_auc']:.4f}", "lower is better")]
    speedups = {}
    for samples, segments in variants:
        key = f"ours_{samples}_{segments}"
        speedups[key] = mean["defaults_s"] / mean[f"{key}_s"]
        rows += [(f"ours {samples} samples / {segments} SLIC (s)", f"{mean[key + '_s']:.2f}", f"speed-up {speedups[key]:.1f}x (target >= 20x)"),
                 ("  deletion AUC", f"{mean[key + '_deletion_auc']:.4f}", "target: no worse than defaults")]
    return report("lime", rows, {"per_face": per_face, "mean": mean, "speedups": speedups})


if __name__ == "__main__":
    main()
