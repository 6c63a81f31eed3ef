"""Where one checked analysis' time goes: each phase of `analyze_checked` on the stability benchmark's photo, timed.

    python -m benchmarks.profile_stability [--rounds 20]     (on a quiet machine: /work/wt/quiet.sh ...)

The photo is bench_stability's 1920x1080 one-face picture after a JPEG round trip (its face needs both stages of the
staged check: all 11 copies). Each phase is timed by wrapping the function that does it (wall time, summed over the
calls of one analysis; phases run inside others and on worker threads overlap, so they do not add up to the total):
face finding, cutting the face's crop, planning and building copies, converting crops to the scorer's input, the
scoring calls, the sharpness measure and the rule. Medians over `rounds` analyses, a plain analysis timed beside each.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Callable

from benchmarks.common import photo_1080p, report

PHASES = {  # (module attribute path, label)
    "face_finder.find": "face finding (MTCNN)",
    "inference.crop_face": "the face's crop",
    "stability.plan_copies": "planning copies (built first: incl. building)",
    "stability._build": "building copies before scoring (threads)",
    "scoring.crop_pixels": "crop -> float input, per crop (as built)",
    "inference.to_input": "crops -> float input, batched (built first)",
    "runtime.OnnxScorer.logits": "scoring, crops built first",
    "runtime.OnnxScorer.logits_as_built": "scoring, crops built while scored",
    "stability.sharpness": "sharpness",
    "stability.judge": "the rule (judge)",
}


def wrap(owner: object, name: str, spent: dict[str, float], label: str) -> Callable[[], None]:
    """Time every call of owner.name into spent[label]; returns the undo."""
    original = getattr(owner, name)

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[label] += time.perf_counter() - start

    setattr(owner, name, timed)
    return lambda: setattr(owner, name, original)


def profile(detector, picture, rounds: int) -> dict:
    """Median wall time per phase of analyze_checked(detector, picture), and of the whole and a plain analysis."""
    import detector.inference as inference
    import detector.runtime as runtime
    import detector.scoring as scoring
    import detector.stability as stability

    owners = {"face_finder": detector.face_finder, "inference": inference, "stability": stability, "scoring": scoring,
              "runtime.OnnxScorer": runtime.OnnxScorer}
    rules = stability.AbstainRules.for_checkpoint(getattr(detector, "checkpoint", None))
    for _ in range(2):  # warm-up
        stability.analyze_checked(detector, picture, rules)
    spent: dict[str, float] = defaultdict(float)
    undo = [wrap(owners[path.rpartition(".")[0]], path.rpartition(".")[2], spent, label) for path, label in PHASES.items()]
    per_phase: dict[str, list[float]] = defaultdict(list)
    totals: dict[str, list[float]] = {"checked": [], "plain": []}
    try:
        for _ in range(rounds):
            spent.clear()
            start = time.perf_counter()
            checked = stability.analyze_checked(detector, picture, rules)
            totals["checked"].append(time.perf_counter() - start)
            for label, seconds in spent.items():
                per_phase[label].append(seconds)
            start = time.perf_counter()
            detector.analyze(picture)
            totals["plain"].append(time.perf_counter() - start)
    finally:
        for step in undo:
            step()
    median = {label: statistics.median(v) for label, v in per_phase.items()}
    return {"copies_scored": checked.checks[0].copies_scored if checked.checks else 0,
            "checked_s": statistics.median(totals["checked"]), "plain_s": statistics.median(totals["plain"]), "phases_s": median}


def main(rounds: int = 20) -> dict:
    from benchmarks.bench_stability import jpeg
    from detector.imageio import decode_image
    from detector.inference import Detector

    detector = Detector()
    picture = decode_image(jpeg(photo_1080p()), "photo.jpg")
    found = profile(detector, picture, rounds)
    rows = [("checked analysis", f"{found['checked_s'] * 1000:.1f} ms", f"{found['copies_scored']} of 11 copies scored"),
            ("plain analysis", f"{found['plain_s'] * 1000:.1f} ms", "")]
    rows += [(label, f"{seconds * 1000:.1f} ms", "") for label, seconds in sorted(found["phases_s"].items(), key=lambda kv: -kv[1])]
    return report("profile_stability", rows, {"rounds": rounds, "scorer_note": detector.scorer_note, **found})


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    main(parser.parse_args().rounds)
