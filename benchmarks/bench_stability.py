"""Cost of the stability check for one face: an analysis with the check vs a plain analysis.

    python -m benchmarks.bench_stability          target: <= 2x a plain analysis (idle, then next to a busy core)
    python -m benchmarks.bench_stability --copies-graph cache/copies.int8.onnx   also with the copies scored in int8
    python -m benchmarks.bench_stability --staged   the app's scorer, copies built while scored or first: a face that stops after
                                                    the first stage, faces that need both, a face-filling picture
    python -m benchmarks.bench_stability video    what the check adds to a clip (no target in the issue)

The photo: 1920x1080, one face (the astronaut portrait on a wider canvas; face box about 185x240 px,
crop 309 px), as JPEG bytes. Three pairs are timed:
- app: what the image page and `predict` run, `analyze_image_bytes(data, stability=False)` (type
  check, decode, SHA-256, face detection, one forward pass) vs the same with `stability=True` (plus
  11 changed copies of the face, built and scored in the same call as the face's crop);
- model: `Detector.analyze(decoded picture)` vs `stability.analyze_checked` (no decoding);
- model, copies apart: `Detector.analyze` then `check_faces` (the face's crop in a pass of its own,
  then its copies: how the app ran before 2026-11-26).
Each is timed with several scorers in the same process, interleaved round by round, so a busy
machine slows every variant alike (read the ratios of medians, not the milliseconds): the folded
torch model in passes of 8 crops (what the app ran before ONNX Runtime), and ONNX Runtime
(detector/runtime.py): a call's crops cut into single-threaded runs of RUN_CROPS (what the app runs)
or 6 that the free cores take in turn; and runs of at most 8 whose layers are shared by intra-op threads,
sleeping between runs or spinning (ONNX Runtime's default). With `--copies-graph` (an 8-bit graph from
`scripts.quantize_copies --out`), or when the model folder holds an adopted one, the app's scorer is also
timed with the check's copies scored by it (the faces stay fp32).
With `--staged` the app's scorer (runs of RUN_CROPS = 1 crop, 'SAME' padding fixed in the graph, the check's copies
built by the scoring cores while they score others), the same with the copies built before scoring (session 12), and
the app's scorer before session 12 (timm's size-dependent padding, runs of 2) are timed on: the app
path, whose JPEG-decoded face needs both stages of the model's staged rule (AbstainRules.first_stage); the model path,
whose undecoded face stops after the first stage, and the same with the second stage forced; and a face-filling
picture (the photo's 309 px face crop, as the data sets hold faces), with and without reusing the copies whose
input is pixel-identical to the face's crop (detector.stability.reused_inputs).
The whole set is timed twice in one run: on an idle machine, then while a child process spins on one
core (as benchmarks/bench_busy.py does; the thread policy of detector/threads.py adapts to it).
"""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import interleaved, moving_face_clip, photo_1080p, report


def jpeg(image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def without_reuse(task: Callable[[], object]) -> Callable[[], object]:
    """`task` with every copy scored even where its input equals the face's crop (the check before reuse)."""
    import detector.stability as stability

    def run():
        saved, stability.reused_inputs = stability.reused_inputs, lambda window, names: {}
        try:
            return task()
        finally:
            stability.reused_inputs = saved

    return run


def staged_variants(detector, photo, data: bytes, rules, filling) -> dict[str, Callable[[], object]]:
    """The checked tasks under the shipped (staged) rule, with both stages forced, and on a face-filling picture
    with and without reusing the copies whose input is the face's own crop."""
    from dataclasses import asdict

    from detector.analysis import analyze_image_bytes
    from detector.stability import AbstainRules, analyze_checked

    class BothStages(AbstainRules):
        def rest_needed(self, verdict, flipped) -> bool:  # every face as if its first stage flipped once
            return True

    both = BothStages(**asdict(rules))
    return {
        "app plain": lambda: analyze_image_bytes(detector, data, "photo.jpg", stability=False),
        "app checked": lambda: analyze_image_bytes(detector, data, "photo.jpg", stability=True, rules=rules),
        "model plain": lambda: detector.analyze(photo),
        "model checked": lambda: analyze_checked(detector, photo, rules),
        "model checked, both stages": lambda: analyze_checked(detector, photo, both),
        "filling plain": lambda: detector.analyze(filling),
        "filling checked": lambda: analyze_checked(detector, filling, rules),
        "filling checked, no reuse": without_reuse(lambda: analyze_checked(detector, filling, rules)),
    }


def variants(detector, photo, data: bytes, rules) -> dict[str, Callable[[], object]]:
    from detector.analysis import analyze_image_bytes
    from detector.stability import analyze_checked, check_faces

    def model_checked_apart():  # the face's crop in a pass of its own, then its copies (the code before 2026-11-26)
        found = detector.analyze(photo)
        return check_faces(detector, photo, found.faces, rules)

    return {
        "app plain": lambda: analyze_image_bytes(detector, data, "photo.jpg", stability=False),
        "app checked": lambda: analyze_image_bytes(detector, data, "photo.jpg", stability=True, rules=rules),
        "model plain": lambda: detector.analyze(photo),
        "model checked": lambda: analyze_checked(detector, photo, rules),
        "model checked apart": model_checked_apart,
    }


def use(detector, scorer: tuple) -> None:
    """Make the detector score with (ONNX Runtime scorer or None for torch, crops per pass, the copies' own
    scorer or None: like the faces[, False: the check's copies built before scoring even where the scorer could
    build them while it scores others (Detector.scores_as_built)])."""
    import detector.inference as inference

    detector.runtime, inference.CPU_BATCH, detector.copies_runtime = scorer[:3]
    detector.__dict__.pop("scores_as_built", None)
    if len(scorer) > 3 and not scorer[3]:
        detector.scores_as_built = lambda: False


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


PAIRS = {"app": ("app plain", "app checked"), "model": ("model plain", "model checked"),
         "model, copies apart": ("model plain", "model checked apart")}
STAGED_PAIRS = {"app (JPEG: needs both stages)": ("app plain", "app checked"),
                "model (stops after the first stage)": ("model plain", "model checked"),
                "model, both stages forced": ("model plain", "model checked, both stages"),
                "face-filling picture": ("filling plain", "filling checked"),
                "face-filling picture, no reuse": ("filling plain", "filling checked, no reuse")}


def measure(detector, scorers: dict, tasks: dict, rounds: int, pairs: dict = PAIRS) -> dict:
    """One timing of every (scorer, task), with the ratios of medians."""
    times = time_rounds(detector, scorers, tasks, rounds)
    median = {k: statistics.median(v) for k, v in times.items()}
    ratios = {f"{s} / {name}": median[f"{s} / {checked}"] / median[f"{s} / {plain}"] for s in scorers for name, (plain, checked) in pairs.items()}
    return {"seconds": times, "median_s": median, "ratio_of_medians": ratios}


def copies_scorers(detector, onnx, graph_file: Path | None) -> dict:
    """The app's scorer with the check's copies in int8: the model folder's adopted graph, and/or `graph_file`."""
    from detector.runtime import OnnxScorer

    found = {}
    if detector.copies_runtime is not None:
        found[f"onnx, runs of {onnx.run_crops}, int8 copies (shipped)"] = (onnx, 8, detector.copies_runtime)
    if graph_file is not None:
        found[f"onnx, runs of {onnx.run_crops}, int8 copies ({graph_file.name})"] = (onnx, 8, OnnxScorer(graph_file.read_bytes(), onnx.lock))
    return found


def main(rounds: int = 10, copies_graph: Path | None = None, staged: bool = False) -> dict:
    from benchmarks.bench_busy import with_busy_core
    from detector.analysis import analyze_image_bytes
    from detector.inference import CPU_BATCH, Detector
    from detector.stability import PERTURBATIONS, AbstainRules, analyze_checked, perturbed_crops
    from detector.threads import watched_busy_elsewhere

    detector = Detector()
    photo = photo_1080p()
    data = jpeg(photo)
    rules = AbstainRules.for_checkpoint(detector.checkpoint)
    faces = detector.analyze(photo).faces
    assert len(faces) == 1
    onnx = detector.cpu_runtime()
    assert onnx is not None, f"ONNX Runtime is not in use: {detector.scorer_note}"
    from detector.runtime import OnnxScorer

    assert onnx.parallel, "the app's scorer splits crops over the cores"
    shared = OnnxScorer(onnx._graph, onnx.lock, parallel=False)  # the same graph, threads sharing each layer
    spinning = OnnxScorer(onnx._graph, onnx.lock, parallel=False, spin=True)  # and ONNX Runtime's default wait
    sixes = OnnxScorer(onnx._graph, onnx.lock, run_crops=6)  # the same graph, bigger runs
    scorers = {"torch, passes of 8": (None, 8, None), f"onnx, runs of {onnx.run_crops} over the cores": (onnx, 8, None),
               **copies_scorers(detector, onnx, copies_graph),
               "onnx, runs of 6 over the cores": (sixes, 8, None), "onnx, threads share layers, runs of 8": (shared, 8, None),
               "onnx, threads share layers, spinning, runs of 8": (spinning, 8, None)}
    shipped_copies = detector.copies_runtime
    assert CPU_BATCH == 8, "the app's CPU_BATCH must be the one timed as the app's scorer"
    tasks, pairs = variants(detector, photo, data, rules), PAIRS
    filling = photo.crop(faces[0].face.crop_box)  # the face filling its picture, as in the data sets' face crops
    if staged:
        from detector.runtime import export_graph

        # What the app ran before session 12: timm's size-dependent padding in the graph, runs of 2.
        before = OnnxScorer(export_graph(detector.scorer, detector.config.input_size, static_padding=False), onnx.lock, run_crops=2)
        scorers = {f"onnx, runs of {onnx.run_crops}, copies built while scored (shipped)": (onnx, 8, shipped_copies),
                   f"onnx, runs of {onnx.run_crops}, copies built first (session 12)": (onnx, 8, shipped_copies, False),
                   "onnx, dynamic padding, runs of 2 (before session 12)": (before, 8, shipped_copies)}
        tasks, pairs = staged_variants(detector, photo, data, rules, filling), STAGED_PAIRS
    for scorer in scorers.values():  # warm-up of every batch shape
        use(detector, scorer)
        for task in tasks.values():
            task()
    start = time.perf_counter()
    for _ in range(rounds):
        perturbed_crops(photo, faces[0].face, detector.config.input_size, detector.config.crop_margin)
    build_ms = (time.perf_counter() - start) / rounds * 1000
    first, _ = rules.stages()
    start = time.perf_counter()
    for _ in range(rounds):
        perturbed_crops(photo, faces[0].face, detector.config.input_size, detector.config.crop_margin, first)
    build_first_ms = (time.perf_counter() - start) / rounds * 1000
    idle = measure(detector, scorers, tasks, rounds, pairs)
    busy = with_busy_core(lambda: {**measure(detector, scorers, tasks, rounds, pairs), "busy_elsewhere_cores": watched_busy_elsewhere()})
    use(detector, (onnx, CPU_BATCH, shipped_copies))
    rows = [(f"{key} ({load})", f"{value * 1000:.0f} ms", "") for load, run in (("idle", idle), ("busy core", busy))
            for key, value in run["median_s"].items()]
    rows.append(("building the 11 copies (idle)", f"{build_ms:.0f} ms", "PIL, from the face's window"))
    rows.append((f"building the first stage's {len(first)} copies (idle)", f"{build_first_ms:.0f} ms", ", ".join(first)))
    rows += [(f"ratio {key} ({load})", f"{value:.2f}x", "target <= 2x: " + ("met" if value <= 2 else "NOT met"))
             for load, run in (("idle", idle), ("busy core", busy)) for key, value in run["ratio_of_medians"].items()]
    return report("stability_staged" if staged else "stability", rows, {
        "rounds": rounds, "photo": "1920x1080 JPEG q90, one face (box ~185x240 px, crop 309 px)",
        "perturbations": list(PERTURBATIONS), "scorer_note": detector.scorer_note, "copies_note": detector.copies_note,
        "copies_graph": str(copies_graph) if copies_graph else None, "build_copies_ms": build_ms, "build_first_stage_ms": build_first_ms,
        # How many copies the staged check scored for the face: the undecoded picture (model tasks) and the JPEG (app tasks)
        # can differ (the JPEG moves the face's score).
        "first_stage": list(rules.stages()[0]), "copies_scored_for_this_face": analyze_checked(detector, photo, rules).checks[0].copies_scored,
        "copies_scored_app_face": analyze_image_bytes(detector, data, "photo.jpg", rules=rules).checks[0].copies_scored,
        "filling_picture": f"{filling.width}x{filling.height}, the photo's face crop", **filling_facts(detector, filling, rules),
        "idle": idle, "busy_core": busy,
    })


def filling_facts(detector, filling, rules) -> dict:
    """How the face-filling picture's check went: copies scored, and which of them took the face's own score."""
    from detector.stability import analyze_checked, face_window, reused_inputs

    checked = analyze_checked(detector, filling, rules)
    window = face_window(filling, checked.result.faces[0].face, detector.config.crop_margin)
    return {"filling_faces": len(checked.result.faces), "filling_copies_scored": checked.checks[0].copies_scored,
            "filling_reused": reused_inputs(window, list(checked.checks[0].p_fake_by_change))}


def talking_head(path, seconds: int, fps: int = 25):
    """A 1280x720 clip of one person filling a third of the frame (face box about 200 px), drifting slowly."""
    return moving_face_clip(path, seconds, face_side=600, top=60, x_span=200, period=200, fps=fps)


def video(rounds: int = 3, seconds: int = 20) -> dict:
    """A 20 s 1280x720 clip of one person (talking_head), sampled at 1 fps: the video page's analysis
    without and with the tracks' stability check, interleaved."""
    import tempfile
    from pathlib import Path

    from detector.analysis import analyze_video_file
    from detector.inference import Detector
    from detector.stability import TRACK_FRAMES

    detector = Detector()
    with tempfile.TemporaryDirectory() as folder:
        data = talking_head(Path(folder) / "clip.mp4", seconds).read_bytes()
    run = {flag: (lambda flag=flag: analyze_video_file(detector, data, "clip.mp4", stability=flag)) for flag in (False, True)}
    analysis = run[True]()  # warm-up; its tracks say how many frames the check re-scores
    times = interleaved(run, rounds)
    plain, checked = statistics.median(times[False]), statistics.median(times[True])
    rescored = sum(len(t.stability.frames_checked) for t in analysis.tracks if t.stability is not None)
    rows = [("clip", f"{seconds} s", f"1280x720, {len(analysis.frames)} frames sampled, {len(analysis.tracks)} track(s)"),
            ("analysis without the check", f"{plain:.2f} s", ""), ("with the check", f"{checked:.2f} s", ""),
            ("added per clip", f"{checked - plain:.2f} s", f"{rescored} frames x 11 copies re-scored (at most {TRACK_FRAMES} per track)"),
            ("ratio", f"{checked / plain:.2f}x", "")]
    return report("stability_video", rows, {"rounds": rounds, "seconds_clip": seconds, "frames": len(analysis.frames),
                                            "tracks": len(analysis.tracks), "frames_rescored": rescored, "plain_s": times[False],
                                            "checked_s": times[True], "ratio_of_medians": checked / plain})


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="?", choices=("photo", "video"), default="photo")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--copies-graph", type=Path, help="an int8 copies graph to time too (scripts.quantize_copies --out)")
    parser.add_argument("--staged", action="store_true", help="the app's scorer only: staged check vs 11 in one pass vs both stages")
    args = parser.parse_args()
    video() if args.what == "video" else main(args.rounds, args.copies_graph, args.staged)
