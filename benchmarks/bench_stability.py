"""Cost of the stability check for one face: an analysis with the check vs a plain analysis.

    python -m benchmarks.bench_stability          target: <= 2x a plain analysis

The photo: 1920x1080, one face (the astronaut portrait on a wider canvas; face box about 185x240 px,
crop 309 px), as JPEG bytes. Two pairs are timed:
- app: what the image page and `predict` run, `analyze_image_bytes(data, stability=False)` (type
  check, decode, SHA-256, face detection, one forward pass) vs the same with `stability=True` (plus
  11 changed copies of the face, built and scored in one batch);
- model: `Detector.analyze(decoded picture)` vs that plus `check_faces` (no decoding).
Each pair is timed as the code was before (the model as loaded, every crop of a call in one pass)
and as the app runs now (batch norm folded into the convolutions, detector.model.folded_for_inference,
and passes of detector.inference.CPU_BATCH crops), all in the same process, interleaved round by round, so a busy machine slows every variant alike: read the
ratios of medians, not the milliseconds.
"""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Callable

from benchmarks.common import photo_1080p, report


def jpeg(image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def variants(detector, photo, data: bytes, rules) -> dict[str, Callable[[], object]]:
    from detector.analysis import analyze_image_bytes
    from detector.stability import check_faces

    def model_checked():
        found = detector.analyze(photo)
        return check_faces(detector, photo, found.faces, rules)

    return {
        "app plain": lambda: analyze_image_bytes(detector, data, "photo.jpg", stability=False),
        "app checked": lambda: analyze_image_bytes(detector, data, "photo.jpg", stability=True, rules=rules),
        "model plain": lambda: detector.analyze(photo),
        "model checked": model_checked,
    }


def use(detector, scorer: tuple) -> None:
    """Make the detector score with (model, crops per pass)."""
    import detector.inference as inference

    detector.scorer, inference.CPU_BATCH = scorer


def time_rounds(detector, scorers: dict, tasks: dict, rounds: int) -> dict[str, list[float]]:
    """Seconds per (scorer, task), interleaved round by round."""
    times = {f"{s} / {t}": [] for s in scorers for t in tasks}
    for _ in range(rounds):
        for scorer_name, scorer in scorers.items():
            use(detector, scorer)
            for task_name, task in tasks.items():
                start = time.perf_counter()
                task()
                times[f"{scorer_name} / {task_name}"].append(time.perf_counter() - start)
    return times


def main(rounds: int = 10) -> dict:
    from detector.inference import CPU_BATCH, Detector
    from detector.stability import PERTURBATIONS, AbstainRules, perturbed_crops

    detector = Detector()
    photo = photo_1080p()
    data = jpeg(photo)
    rules = AbstainRules.for_checkpoint(detector.checkpoint)
    faces = detector.analyze(photo).faces
    assert len(faces) == 1
    scorers = {"before": (detector.model, None), "after": (detector.scorer, CPU_BATCH)}
    tasks = variants(detector, photo, data, rules)
    for scorer in scorers.values():  # warm-up of every batch shape
        use(detector, scorer)
        for task in tasks.values():
            task()
    start = time.perf_counter()
    for _ in range(rounds):
        perturbed_crops(photo, faces[0].face, detector.config.input_size, detector.config.crop_margin)
    build_ms = (time.perf_counter() - start) / rounds * 1000
    times = time_rounds(detector, scorers, tasks, rounds)
    use(detector, scorers["after"])
    median = {k: statistics.median(v) for k, v in times.items()}
    ratios = {f"{s} / {pair}": median[f"{s} / {pair} checked"] / median[f"{s} / {pair} plain"] for s in scorers for pair in ("app", "model")}
    rows = [(key, f"{value * 1000:.0f} ms", "") for key, value in median.items()]
    rows.append(("building the 11 copies", f"{build_ms:.0f} ms", "PIL, from the face's window"))
    rows += [(f"ratio {key}", f"{value:.2f}x", "target <= 2x: " + ("met" if value <= 2 else "NOT met")) for key, value in ratios.items()]
    return report("stability", rows, {
        "rounds": rounds, "photo": "1920x1080 JPEG q90, one face (box ~185x240 px, crop 309 px)",
        "perturbations": list(PERTURBATIONS), "seconds": times, "median_s": median, "build_copies_ms": build_ms,
        "ratio_of_medians": ratios,
    })


if __name__ == "__main__":
    main()
