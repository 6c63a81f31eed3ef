"""Face-swap videos in H.264: the app's video path on swaps between people no model saw, at shared videos' compression.

    python -m benchmarks.video_swaps --sources cache/sources_test [--root ../shared/data] [--split test]
                                     [--model DIR] [--per-set 12] [--crf 23 40] [--picture-height 0.55 0.8]
                                     [--swap-draw frame|clip]
                                     [--out benchmarks/results/video_swaps.json]
    python -m benchmarks.video_swaps --rules RESULT.json confident_frames top_quarter_mean   # paired, same clips

The held-out face-swap videos are compressed H.264 (FaceForensics++ ships CRF 23 and 40 copies), and a face-swap
video is made frame by frame. `benchmarks.video_clips` moves a still picture in MPEG-4 and holds no face swaps
between people; this benchmark does. For each real picture with landmarks (`benchmarks.swap_render.targets`, a
`detector.training.sources` folder of one split), three clips that move the same way
(`benchmarks.video_clips.compose_frames`: the picture drifts and zooms over a moving background, 3 s at 10 fps,
640x360): the picture left `real`, its face swapped with the next target's (`sharp`, the classical swap) and
self-blended (`sbi`). The swap is drawn again in every frame (its own mask deformation, blend ratio and colour
draws, seeded by picture, way and frame), so its boundary flickers as a frame-by-frame swap's does; with
`--swap-draw clip` it is drawn once (`benchmarks.swap_render`'s picture) and only moves. Each clip is
encoded with libx264 at every `--crf` and read as the video page reads an upload (`analyze_video_file`: 4 frames a
second, 12 at most, MTCNN, tracks, the model's abstain limits and the tracks' stability check).

Reported per CRF and way: the clip AUC against the real clips at that CRF for the app's score (the headline track's
confident-frames P(fake), clips with no judged track set aside and counted) and, on the model's view (the most
suspicious track, judged or not), for each frame rule of `benchmarks.video_clips.rules`; and the share of clips per
final verdict (likely manipulated, no sign found, can't tell, not judged, no face). A proxy: the project's own
swap generators on unseen people, not any public face-swap video.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.swap_render import auc, paired_bootstrap, seed_of, swapped, targets
from benchmarks.video_clips import compose_frames, rules
from detector import display
from detector.stability import AbstainRules, face_size
from detector.training.compose import h264_bytes
from detector.training.reframed import SourceBank

WAYS = ("real", "sharp", "sbi")
FPS, SAMPLE_FPS, MAX_FRAMES = 10.0, 4.0, 12  # benchmarks.video_clips' clips and sampling
RULES = ("mean", "median", "confident_frames", "top_quarter_mean")
NO_FACE = "no_face"


@dataclass(frozen=True)
class ClipMaking:
    """How the clips are made: the moving picture's height (drawn between these shares of the frame's), and
    whether a swap is drawn anew in every frame (as a face-swap video is made) or once for the whole clip."""

    height_share: tuple[float, float] = (0.55, 0.8)
    per_frame: bool = True


def clip_frames(bank: SourceBank, target: int, donor: int, way: str, images: dict[int, np.ndarray],
                making: ClipMaking = ClipMaking()) -> list[np.ndarray]:
    """The frames of one clip: the target picture as it is (`real`) or swapped `way`."""
    image = images[target]
    if way == "real":
        picture_at = lambda i: image  # noqa: E731
    elif making.per_frame:
        picture_at = lambda i: swapped(bank, target, image, donor, images[donor], way, draw=f"frame{i}")  # noqa: E731
    else:
        once = swapped(bank, target, image, donor, images[donor], way)  # benchmarks.swap_render's picture
        picture_at = lambda i: once  # noqa: E731
    return compose_frames(picture_at, seed=seed_of(bank.pictures[target].file, "motion") % 2**32, fps=FPS,
                          height_share=making.height_share)


def clip_record(detector, rules_, data: bytes, name: str, threshold: float) -> dict:
    """A clip as the video page judges it: final verdict and P(fake) of its headline track, and the model's view."""
    from detector.analysis import analyze_video_file

    analysis = analyze_video_file(detector, data, name, sample_fps=SAMPLE_FPS, max_frames=MAX_FRAMES, rules=rules_)
    lead, worst = analysis.worst, analysis.result.worst_track
    record = {"verdict": lead.verdict if lead is not None else NO_FACE, "p_fake": analysis.p_fake,
              "frames": len(analysis.frames), "tracks": len(analysis.tracks)}
    if worst is not None:
        p = worst.p_fake_per_frame
        record.update(model_view={rule: value for rule, value in rules(p, threshold).items() if rule in RULES},
                      median_face_px=round(statistics.median(face_size(f.face) for f in worst.faces), 1),
                      p_fake_per_frame=[round(float(x), 4) for x in p])
    return record


def measure(detector, bank: SourceBank, per_set: int, crfs: list[int], making: ClipMaking = ClipMaking()) -> list[dict]:
    """One record per target, kind of clip and CRF (clip_record), with the target's file and set."""
    rules_ = AbstainRules.for_checkpoint(detector.checkpoint)
    threshold = detector.config.threshold
    chosen = targets(bank, per_set)
    donors = {t: chosen[(i + 1) % len(chosen)] for i, t in enumerate(chosen)}  # as benchmarks.swap_render pairs them
    rows = []
    for n, target in enumerate(chosen, 1):
        picture = bank.pictures[target]
        images = {target: bank.image(target), donors[target]: bank.image(donors[target])}
        for way in WAYS:
            frames = clip_frames(bank, target, donors[target], way, images, making)
            for crf in crfs:
                record = clip_record(detector, rules_, h264_bytes(frames, FPS, crf), f"{Path(picture.file).stem}.mp4", threshold)
                rows.append({"file": picture.file, "set": picture.dataset, "way": way, "crf": crf, **record})
        print(f"{n}/{len(chosen)} targets", file=sys.stderr, flush=True)
    return rows


def summarise(rows: list[dict], crfs: list[int]) -> dict:
    """Per CRF and swap way: AUCs against that CRF's real clips, and the share of clips per verdict (reals too)."""
    out = {}
    for crf in crfs:
        at = [r for r in rows if r["crf"] == crf]
        reals = {r["file"]: r for r in at if r["way"] == "real"}
        out[str(crf)] = {"real": {"clips": len(reals), "verdicts": verdict_shares(list(reals.values()))}}
        for way in WAYS[1:]:
            swaps = [r for r in at if r["way"] == way and r["file"] in reals]
            pairs = [(reals[r["file"]], r) for r in swaps]
            out[str(crf)][way] = {"clips": len(swaps), "verdicts": verdict_shares(swaps), **app_auc(pairs),
                                  "model_view_auc": {rule: pair_auc(pairs, lambda r, rule=rule: (r.get("model_view") or {}).get(rule))
                                                     for rule in RULES}}
    return out


def app_auc(pairs: list[tuple[dict, dict]]) -> dict:
    """AUC of the app's clip P(fake) where both the real and the swapped clip got one (a judged track)."""
    judged = [(a, b) for a, b in pairs if a["p_fake"] is not None and b["p_fake"] is not None]
    return {"app_auc": pair_auc(judged, lambda r: r["p_fake"]), "app_pairs": len(judged)}


def pair_auc(pairs: list[tuple[dict, dict]], score) -> float | None:
    """AUC of `score(clip)` over (real, swapped) clip pairs where both have a score; None under two pairs."""
    scored = [(score(a), score(b)) for a, b in pairs if score(a) is not None and score(b) is not None]
    if len(scored) < 2:
        return None
    reals, fakes = np.array(scored).T
    return round(auc(reals, fakes), 4)


def verdict_shares(rows: list[dict]) -> dict[str, float]:
    counts = Counter(r["verdict"] for r in rows)
    order = (display.LIKELY_MANIPULATED, display.NO_SIGN_FOUND, display.CANT_TELL, *display.NOT_JUDGED, NO_FACE)
    return {code: round(counts[code] / len(rows), 4) for code in order if counts[code]} if rows else {}


def rule_difference(result: dict, reference: str, candidate: str, n_boot: int = 1000, seed: int = 0) -> dict:
    """Mean over CRFs and swap ways of the model-view clip AUC under rule `candidate` minus under `reference`,
    with a 95 % bootstrap interval over pictures (each keeps its real and swapped clips at every CRF together)."""
    cells = [(crf, way) for crf in result["crf"] for way in WAYS[1:]]
    by_file: dict[str, dict] = {}
    for r in result["rows"]:
        if "p_fake_per_frame" in r:
            by_file.setdefault(r["file"], {})[(r["crf"], r["way"])] = np.array(r["p_fake_per_frame"])
    files = sorted(f for f, clips in by_file.items() if all((crf, w) in clips for crf in result["crf"] for w in WAYS))
    if len(files) < 10:
        raise ValueError(f"only {len(files)} pictures have every clip scored")
    threshold = result["threshold"]
    score = {(f, cell, rule): rules(by_file[f][cell], threshold)[rule]
             for f in files for crf in result["crf"] for cell in ((crf, w) for w in WAYS) for rule in (reference, candidate)}

    def mean_auc(rule: str, index: np.ndarray) -> float:
        chosen = [files[i] for i in index]
        return float(np.mean([auc(np.array([score[f, (crf, "real"), rule] for f in chosen]),
                                  np.array([score[f, (crf, way), rule] for f in chosen])) for crf, way in cells]))

    everything = np.arange(len(files))
    return {"pictures": len(files), "reference": reference, "candidate": candidate,
            "reference_auc": round(mean_auc(reference, everything), 4), "candidate_auc": round(mean_auc(candidate, everything), 4),
            **paired_bootstrap(lambda index: mean_auc(candidate, index) - mean_auc(reference, index), len(files), n_boot, seed)}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--rules"]:
        return main_rules(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=Path, required=True, help="a detector.training.sources folder of one split")
    parser.add_argument("--root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--split", default="test")
    parser.add_argument("--model", default="assets/models/dfx-lite0")
    parser.add_argument("--per-set", type=int, default=12)
    parser.add_argument("--crf", type=int, nargs="+", default=[23, 40])
    parser.add_argument("--picture-height", type=float, nargs=2, default=[0.55, 0.8], metavar=("LOW", "HIGH"),
                        help="the moving picture's height, drawn between these shares of the 360 px frame's")
    parser.add_argument("--swap-draw", choices=("frame", "clip"), default="frame",
                        help="draw a swap anew in every frame (default) or once for the whole clip")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/video_swaps.json"))
    args = parser.parse_args(argv)
    if not (args.sources / "sources.json").is_file():
        print(f"error: no sources.json in {args.sources} (python -m detector.training.sources)", file=sys.stderr)
        return 2
    bank = SourceBank(args.sources, args.root, args.split)
    if len(bank.reals_with_points) < 2:
        print(f"error: fewer than two real {args.split} pictures with landmarks in {args.sources}", file=sys.stderr)
        return 2
    from detector.inference import Detector

    detector = Detector(args.model)
    start = time.perf_counter()
    making = ClipMaking(tuple(args.picture_height), args.swap_draw == "frame")
    rows = measure(detector, bank, args.per_set, args.crf, making)
    result = {"model": detector.config.version, "split": args.split, "per_set": args.per_set, "crf": args.crf,
              "picture_height": args.picture_height, "swap_draw": args.swap_draw,
              "threshold": detector.config.threshold, "seconds": round(time.perf_counter() - start, 1),
              "summary": summarise(rows, args.crf), "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result["summary"], indent=1))
    return 0


def main_rules(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.video_swaps --rules", description=rule_difference.__doc__.split(",")[0])
    parser.add_argument("result", type=Path)
    parser.add_argument("reference", choices=RULES)
    parser.add_argument("candidate", choices=RULES)
    parser.add_argument("--boot", type=int, default=1000)
    args = parser.parse_args(argv)
    try:
        difference = rule_difference(json.loads(args.result.read_text()), args.reference, args.candidate, args.boot)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: cannot compare the rules on {args.result}: {exc!r}", file=sys.stderr)
        return 2
    print(json.dumps(difference))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
