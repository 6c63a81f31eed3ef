"""Where the app's peak memory comes from: RSS sampled every 2 ms around each step of one picture's work.

    python -m benchmarks.bench_memory_steps              the shipped model, 3 rounds per mode
    python -m benchmarks.bench_memory_steps --model DIR  another checkpoint (saved as memory_steps_<version>.json)
    [--rounds N]

One Detector does what the image page does for a picture: the checked analysis, then the four maps with
the page's default settings. Each step's cost is its peak RSS above the RSS it started from (the buffers
it needs at once), its RSS left afterwards and its seconds. Two modes, in one process: `stand-ins` (as the
app runs: saliency and SHAP differentiate the folded model, LIME's faces are scored by ONNX Runtime; see
detector.scoring.register_stand_ins) and `model as loaded` (the stand-ins unregistered: every explainer
runs the torch model it is given, as before). The process's own peak (ru_maxrss) is not per step, so it is
not reported here; benchmarks.bench_memory measures the app's.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time

import numpy as np

from benchmarks.common import current_rss_mb, report, sample_face

# The image page's defaults (each explainer's `settings`; LIME and SHAP share the superpixel widget).
PAGE_MAPS = {"Grad-CAM": {}, "LIME": {"samples": 48, "segments": 40}, "Saliency": {"method": "SmoothGrad"},
             "SHAP": {"samples": 16, "segments": 40}}


class RssSampler:
    """The highest RSS seen since the last `start`, read from /proc every `every_s` by a daemon thread."""

    def __init__(self, every_s: float = 0.002) -> None:
        self.every_s, self.peak, self.running = every_s, 0.0, True
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while self.running:
            self.peak = max(self.peak, current_rss_mb())
            time.sleep(self.every_s)

    def start(self) -> float:
        self.peak = now = current_rss_mb()
        return now

    def step(self, fn) -> dict:
        """Run fn(); its peak above the starting RSS, the RSS it left, and its seconds."""
        before = self.start()
        started = time.perf_counter()
        fn()
        seconds = time.perf_counter() - started
        time.sleep(5 * self.every_s)  # let the sampler see the end of the step
        return {"peak_over_start_mb": self.peak - before, "left_mb": current_rss_mb() - before, "seconds": seconds}


def one_round(detector, sampler: RssSampler, picture) -> dict:
    from detector.analysis import analyze_image
    from xai import make_explainer

    steps, holder = {}, {}
    steps["checked analysis"] = sampler.step(lambda: holder.update(result=analyze_image(detector, picture, "photo.jpg")))
    crop = np.asarray(holder["result"].faces[0].result.crop)
    for family, params in PAGE_MAPS.items():
        steps[family] = sampler.step(lambda f=family, p=params: make_explainer(f, **p).explain(detector.model, crop, 1))
    return steps


def measure(checkpoint: str | None = None, rounds: int = 3) -> dict:
    from detector import scoring
    from detector.inference import Detector

    detector = Detector(checkpoint)
    detector.warm_up()
    sampler, face = RssSampler(), sample_face()
    stand_ins = scoring._STAND_INS[detector.model]
    modes: dict[str, list[dict]] = {"model as loaded": [], "stand-ins": []}
    for index in range(rounds):
        for mode in modes:  # modes in turn each round, so neither gets all the warm (or fragmented) rounds
            if mode == "stand-ins":
                scoring._STAND_INS[detector.model] = stand_ins
            else:
                scoring._STAND_INS.pop(detector.model, None)
            modes[mode].append(one_round(detector, sampler, face.rotate(index * 3 - 30)))
    scoring._STAND_INS[detector.model] = stand_ins
    sampler.running = False
    summary = {mode: {step: {key: statistics.median(r[step][key] for r in runs) for key in runs[0][step]}
                      for step in runs[0]} for mode, runs in modes.items()}
    return {"model": f"{detector.config.name} {detector.config.version}", "input_px": detector.config.input_size,
            "rounds": rounds, "median": summary, "runs": modes}


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    checkpoint = argv[argv.index("--model") + 1] if "--model" in argv else None
    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else 3
    data = measure(checkpoint, rounds)
    rows = [("model", f"{data['model']}, {data['input_px']} px", "")]
    for mode, steps in data["median"].items():
        rows += [(f"{mode}: {step} peak / left (MB), s",
                  f"+{v['peak_over_start_mb']:.0f} / {v['left_mb']:+.0f}", f"{v['seconds']:.2f} s") for step, v in steps.items()]
    name = "memory_steps" if checkpoint is None else f"memory_steps_{data['model'].split()[-1]}"
    return report(name, rows, data)


if __name__ == "__main__":
    main()
