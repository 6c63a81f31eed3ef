"""Clip verdicts measured: frame scores -> one score per clip, under several rules, on composed clips.

    python -m benchmarks.video_clips [--model DIR] [--data ../shared/data] [--split val|test] [--per-class 20]

The shared data holds no videos, so clips are composed from labelled pictures (real or fake): the
picture drifts and slowly zooms over a moving background in a 640x360 frame for 3 s at 10 fps,
written as MPEG-4 and read back through the app's own video path (`detector.video.analyze_video`:
PyAV decoding, sampling, MTCNN, tracks). A clip's label is its picture's label. This measures the
aggregation and the video path's re-encoding and resampling, not temporal artefacts (a still
picture has none): results on real videos may differ, and the README says so.

Rules compared (on the most suspicious track's frame probabilities): mean, median, the DFDC
winner's confident-frames rule, the mean of the top quarter of frames, and the share of frames at
or above the threshold. Choose a rule on `--split val`, report it on `--split test`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from sklearn.metrics import roc_auc_score

from detector.imageio import list_images, load_image
from detector.training.compose import background
from detector.training.sources import pick
from detector.video import confident_frames_score

SETS = ("dfdc", "inswapper_faceswap", "stylegan2_unsplash")
SIZE = (640, 360)


def rules(p_fake_per_frame: np.ndarray, threshold: float) -> dict[str, float]:
    p = np.sort(np.asarray(p_fake_per_frame, dtype=float))[::-1]
    return {
        "mean": float(p.mean()),
        "median": float(np.median(p)),
        "confident_frames": confident_frames_score(p),
        "top_quarter_mean": float(p[: max(1, len(p) // 4)].mean()),
        "share_above_threshold": float((p >= threshold).mean()),
    }


def compose_clip(picture: np.ndarray, seed: int, folder: Path, seconds: float = 3.0, fps: float = 10.0) -> bytes:
    """A picture drifting and zooming over a moving background, as MPEG-4 bytes."""
    return mp4_bytes(compose_frames(lambda i: picture, seed, seconds, fps), folder / f"clip{seed}.mp4", fps)


def compose_frames(picture_at: Callable[[int], np.ndarray], seed: int, seconds: float = 3.0, fps: float = 10.0,
                   height_share: tuple[float, float] = (0.55, 0.8)) -> list[np.ndarray]:
    """RGB frames of SIZE: frame i shows `picture_at(i)` drifting and zooming over a moving background (the
    path and background come from `seed` alone, so every picture_at gets the same motion). The picture's height
    is drawn between `height_share` times the frame's."""
    rng = np.random.default_rng(seed)
    width, height = SIZE
    back = background(height * 2, width * 2, rng, [])
    side = int(rng.uniform(*height_share) * height)
    start, end = rng.uniform(0, 1, 2), rng.uniform(0, 1, 2)
    frames = []
    n = int(seconds * fps)
    for i in range(n):
        picture = picture_at(i)
        t = i / max(1, n - 1)
        zoom = 1.0 + 0.15 * t
        h = int(side * zoom)
        w = int(h * picture.shape[1] / picture.shape[0])
        frame = back[int(t * height * 0.3) : int(t * height * 0.3) + height, int(t * width * 0.3) : int(t * width * 0.3) + width].copy()
        x, y = (start + (end - start) * t) * (width - w, height - h)
        x, y = int(max(0, x)), int(max(0, y))
        patch = cv2.resize(picture, (w, h), interpolation=cv2.INTER_AREA)[: height - y, : width - x]
        frame[y : y + patch.shape[0], x : x + patch.shape[1]] = patch
        frames.append(frame)
    return frames


def mp4_bytes(frames: list[np.ndarray], path: Path, fps: float) -> bytes:
    """RGB frames of SIZE as MPEG-4 bytes (OpenCV writes only to a file: `path` is used and removed)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, SIZE)
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    data = path.read_bytes()
    path.unlink()
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    parser.add_argument("--split", default="test", choices=("val", "test"))
    parser.add_argument("--per-class", type=int, default=20, help="clips per class and set")
    parser.add_argument("--out", type=Path, help="write the per-clip scores and the summary as JSON here")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"error: {args.data} is not a folder (the shared face data)", file=sys.stderr)
        return 2
    from detector.inference import Detector
    from detector.video import analyze_video

    detector = Detector(args.model)
    threshold = detector.config.threshold
    clips = []
    with tempfile.TemporaryDirectory() as folder:
        for set_name in SETS:
            items = list_images(args.data / set_name / args.split)
            for label in (0, 1):
                for path, _ in pick([it for it in items if it[1] == label], args.per_class, seed=1):
                    data = compose_clip(np.asarray(load_image(path)), seed=zlib.crc32(f'{set_name}/{path.name}'.encode()), folder=Path(folder))
                    result = analyze_video(detector, data, name=path.name, sample_fps=4.0, max_frames=12)
                    track = result.worst_track
                    clip = {"set": set_name, "file": path.name, "label": label, "frames": len(result.frames)}
                    if track is not None:
                        clip.update(probabilities=[round(float(p), 4) for p in track.p_fake_per_frame], **rules(track.p_fake_per_frame, threshold))
                    clips.append(clip)
    scored = [c for c in clips if "mean" in c]
    labels = np.array([c["label"] for c in scored])
    summary = {"split": args.split, "clips": len(clips), "unscored": len(clips) - len(scored), "threshold": threshold, "rules": {}}
    for rule in ("mean", "median", "confident_frames", "top_quarter_mean", "share_above_threshold"):
        scores = np.array([c[rule] for c in scored])
        cut = 0.5 if rule == "share_above_threshold" else threshold
        summary["rules"][rule] = {
            "auc": round(float(roc_auc_score(labels, scores)), 4),
            "recall": round(float((scores[labels == 1] >= cut).mean()), 4),
            "specificity": round(float((scores[labels == 0] < cut).mean()), 4),
            "per_set_auc": {s: round(float(roc_auc_score(labels[m], scores[m])), 4) for s in SETS
                            if len(set(labels[m := np.array([c["set"] == s for c in scored])])) == 2},
        }
    print(json.dumps(summary, indent=1))
    if args.out:
        args.out.write_text(json.dumps({"summary": summary, "clips": clips}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
