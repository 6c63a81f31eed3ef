"""Cost of the stability check for one face: analysis + check vs a plain analysis (same 1080p photo).

    python -m benchmarks.bench_stability          target: <= 2x a plain analysis

Both are timed in the same process, interleaved round by round, so a busy machine slows both alike;
the ratio of medians is the number to read.
"""

import time

from benchmarks.common import photo_1080p, report


def main(rounds: int = 10) -> dict:
    import statistics

    from detector.inference import Detector
    from detector.stability import PERTURBATIONS, AbstainRules, check_faces

    detector = Detector()
    photo = photo_1080p()
    rules = AbstainRules.for_checkpoint(detector.checkpoint)
    result = detector.analyze(photo)
    assert len(result.faces) == 1
    check_faces(detector, photo, result.faces, rules)  # warm-up of the 12-crop batch shape
    plain, checked, check_only = [], [], []
    for _ in range(rounds):
        start = time.perf_counter()
        detector.analyze(photo)
        plain.append(time.perf_counter() - start)
        start = time.perf_counter()
        found = detector.analyze(photo)
        middle = time.perf_counter()
        check_faces(detector, photo, found.faces, rules)
        checked.append(time.perf_counter() - start)
        check_only.append(time.perf_counter() - middle)
    ratio = statistics.median(checked) / statistics.median(plain)
    rows = [
        ("plain analysis, 1 face (ms)", f"{statistics.median(plain) * 1000:.0f}", ""),
        ("analysis + stability check (ms)", f"{statistics.median(checked) * 1000:.0f}", f"{len(PERTURBATIONS)} copies, one batch"),
        ("  of which the check (ms)", f"{statistics.median(check_only) * 1000:.0f}", ""),
        ("ratio", f"{ratio:.2f}x", "target <= 2x: " + ("met" if ratio <= 2 else "NOT met")),
    ]
    return report("stability", rows, {
        "rounds": rounds, "perturbations": list(PERTURBATIONS),
        "plain_s": plain, "checked_s": checked, "check_only_s": check_only, "ratio_of_medians": ratio,
    })


if __name__ == "__main__":
    main()
