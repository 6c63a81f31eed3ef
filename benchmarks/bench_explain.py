"""Explanation cost on one face: Grad-CAM / forward pass, and all four maps together.

    python -m benchmarks.bench_explain          targets: Grad-CAM <= 3x a forward pass; four maps <= 3 s
    python -m benchmarks.bench_explain --json   one JSON line, nothing saved (benchmarks/bench_busy.py reads it)
    python -m benchmarks.bench_explain --model DIR   another checkpoint (saved as explain_<version>.json)
"""

import json
import sys

import torch

from benchmarks.common import machine, report, sample_face, timed


def measure(checkpoint: str | None = None) -> dict:
    """Forward pass and each default map on the sample face (medians in seconds)."""
    from detector.inference import Detector
    from xai import FAKE, make_explainer

    detector = Detector(checkpoint)
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
    return {"model": f"{detector.config.name} {detector.config.version}", "input_px": detector.config.input_size,
            "forward": bare, "methods": per_method, "vanilla_gradient": vanilla,
            "gradcam_to_forward": per_method["Grad-CAM"]["median_s"] / bare["median_s"], "four_maps_s": total}


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    checkpoint = argv[argv.index("--model") + 1] if "--model" in argv else None
    data = measure(checkpoint)
    if "--json" in argv:
        print(json.dumps({"machine": machine(), **data}, default=float))
        return data
    rows = [("forward pass (ms)", f"{data['forward']['median_s'] * 1000:.1f}", "")]
    rows += [(f"{name} (s)", f"{v['median_s']:.2f}", "") for name, v in data["methods"].items()]
    rows += [("vanilla gradient (s)", f"{data['vanilla_gradient']['median_s']:.2f}", ""),
             ("Grad-CAM / forward", f"{data['gradcam_to_forward']:.1f}x", "target <= 3x"),
             ("all four maps (s)", f"{data['four_maps_s']:.2f}", "target <= 3 s")]
    rows.insert(0, ("model", f"{data['model']}, {data['input_px']} px", ""))
    return report("explain" if checkpoint is None else f"explain_{data['model'].split()[-1]}", rows, data)


if __name__ == "__main__":
    main()
