"""Explanation cost on one face: Grad-CAM / forward pass, and all four maps together.

    python -m benchmarks.bench_explain          targets: Grad-CAM <= 3x a forward pass; four maps <= 3 s
"""

import torch

from benchmarks.common import report, sample_face, timed


def main() -> dict:
    from detector.inference import Detector
    from xai import FAKE, make_explainer

    detector = Detector()
    detector.warm_up()
    face = detector.analyze(sample_face()).faces[0].crop
    pixels = detector.to_tensor([face])

    def forward():
        with torch.inference_mode():
            detector.model(pixels)

    bare = timed(forward, repeat=20)
    defaults = {"Grad-CAM": {}, "LIME": {}, "Saliency": {"method": "SmoothGrad"}, "SHAP": {}}
    # More repeats for the cheap methods: their medians are what the ratio target reads.
    per_method = {name: timed(lambda n=name, p=params: make_explainer(n, **p).explain(detector.model, face, FAKE),
                              repeat=15 if name == "Grad-CAM" else 3)
                  for name, params in defaults.items()}
    vanilla = timed(lambda: make_explainer("Saliency", method="Vanilla gradient").explain(detector.model, face, FAKE), repeat=5)
    total = sum(v["median_s"] for v in per_method.values())
    cam_ratio = per_method["Grad-CAM"]["median_s"] / bare["median_s"]
    rows = [("forward pass (ms)", f"{bare['median_s'] * 1000:.1f}", "")]
    rows += [(f"{name} (s)", f"{v['median_s']:.2f}", "") for name, v in per_method.items()]
    rows += [("vanilla gradient (s)", f"{vanilla['median_s']:.2f}", ""),
             ("Grad-CAM / forward", f"{cam_ratio:.1f}x", "target <= 3x"),
             ("all four maps (s)", f"{total:.2f}", "target <= 3 s")]
    return report("explain", rows, {"forward": bare, "methods": per_method, "vanilla_gradient": vanilla,
                                    "gradcam_to_forward": cam_ratio, "four_maps_s": total})


if __name__ == "__main__":
    main()
