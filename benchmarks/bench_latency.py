"""Verdict latency for a 1080p photo with one face (warm), vs one bare forward pass.

    python -m benchmarks.bench_latency          target: <= 250 ms on a 2-core laptop CPU
"""

import torch

from benchmarks.common import photo_1080p, report, timed


def main() -> dict:
    from detector.inference import Detector

    detector = Detector()
    photo = photo_1080p()
    result = detector.analyze(photo)
    assert len(result.faces) == 1
    crop = result.faces[0].crop
    pixels = detector.to_tensor([crop])

    def forward():
        with torch.inference_mode():
            detector.model(pixels)

    def detect_only():
        detector.face_finder.find(photo)

    verdict = timed(lambda: detector.analyze(photo), repeat=10)
    bare = timed(forward, repeat=20)
    detect = timed(detect_only, repeat=10)
    ratio = verdict["median_s"] / bare["median_s"]
    rows = [
        ("verdict 1080p, 1 face (ms)", f"{verdict['median_s'] * 1000:.0f}", "target <= 250 ms"),
        ("  of which face detection (ms)", f"{detect['median_s'] * 1000:.0f}", ""),
        ("bare forward pass (ms)", f"{bare['median_s'] * 1000:.1f}", ""),
        ("verdict / forward", f"{ratio:.1f}x", ""),
    ]
    return report("latency", rows, {"verdict": verdict, "forward": bare, "detection": detect, "ratio_verdict_to_forward": ratio})


if __name__ == "__main__":
    main()
