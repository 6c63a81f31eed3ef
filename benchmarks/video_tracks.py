"""Tracking measured on composed clips: does one person stay one track, and do two people stay apart?

    python -m benchmarks.video_tracks [--data ../shared/data] [--split val] [--clips 30] [--out FILE]

The shared data holds no videos, so clips (640x360, 10 fps, MPEG-4, read back through the app's video path at
its default 1 frame per second) are composed from real portraits of the validation split:
- walk: one person crossing the picture at 0.5-2.2 face sizes per second over one background (one shot, 3 s);
- cut, new wall: two different people, 3 s each, the second appearing 1-2.5 face sizes from where the first
  was, on another background (a shot change the colour test should see);
- cut, same wall: the same, on the same background (the hard case: an interview cut within one set).
Every clip is linked three ways from the same detections: as shipped (detector.video), with the reach growing
with time but no shot test, and the linker before session 21 (reach 1.5 face sizes, no shot test). Reported per
kind: tracks per person (1 is right; more is one person split) and the share of clips where one track holds
both people (0 is right). A proxy: pasted pictures move rigidly, real people turn, blink and leave the frame.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

import detector.video as video
from benchmarks.video_clips import SIZE, mp4_bytes
from detector.imageio import list_images, load_image
from detector.training.compose import background

SETS = ("real_faces_300w_portraits", "stylegan1_ffhq", "stylegan2_unsplash")
FPS = 10.0
KINDS = ("walk", "cut, new wall", "cut, same wall")
# name -> detector.video constants to use; "as shipped" changes nothing
SETTINGS = {
    "as shipped": {},
    "no face match": {"FACE_MATCH_CORRELATION": -2.0},
    "reach only, no shot test, no face match": {"SHOT_CHANGE_CORRELATION": -2.0, "FACE_MATCH_CORRELATION": -2.0},
    "before session 21": {"SHOT_CHANGE_CORRELATION": -2.0, "FACE_MATCH_CORRELATION": -2.0, "FACE_SPEED": 0.0,
                          "MAX_SIZE_RATIO": 1e9},
}


def paste(wall: np.ndarray, picture: np.ndarray, x: float) -> np.ndarray:
    frame = wall.copy()
    h, w = picture.shape[:2]
    x = int(np.clip(x, 0, SIZE[0] - w))
    frame[110 : 110 + h, x : x + w] = picture
    return frame


def compose(kind: str, first: np.ndarray, second: np.ndarray, others: list[np.ndarray], rng: np.random.Generator) -> tuple[list, float]:
    """(frames, the time the second person appears; inf for a walk). Pictures are 140 px tall (face boxes ~100 px)."""
    first, second = (cv2.resize(p, (140, 140), interpolation=cv2.INTER_AREA) for p in (first, second))
    face = 100.0  # about the side of the box MTCNN finds on a 140 px portrait (measured steps: see largest_step_face_sizes)
    wall = background(SIZE[1], SIZE[0], rng, others)
    if kind == "walk":
        speed = rng.uniform(0.5, 2.2) * face  # px per second
        frames = [paste(wall, first, 10 + speed * i / FPS) for i in range(int(3 * FPS))]
        return frames, float("inf")
    start = rng.uniform(200, 300)
    other_wall = background(SIZE[1], SIZE[0], rng, others) if kind == "cut, new wall" else wall
    jump = rng.uniform(1.0, 2.5) * face * rng.choice([-1, 1])
    frames = [paste(wall, first, start) for _ in range(int(3 * FPS))]
    frames += [paste(other_wall, second, start + jump) for _ in range(int(3 * FPS))]
    return frames, 3.0


@contextmanager
def linker(setting: dict):
    saved = {k: getattr(video, k) for k in setting}
    for k, v in setting.items():
        setattr(video, k, v)
    try:
        yield
    finally:
        for k, v in saved.items():
            setattr(video, k, v)


def relink(frames: list, second_at: float) -> dict:
    """Shots and tracks again from the clip's sampled frames under the linker's current constants."""
    histograms = [video.colour_histogram(f.thumbnail) for f in frames]
    shot = 0
    for i, frame in enumerate(frames):
        shot += i > 0 and video.shot_changed(histograms[i - 1], histograms[i])
        frame.shot = shot
    tracks, next_id = [], 1
    for frame in frames:
        next_id = video.link_tracks(tracks, frame, next_id)
    people_in = [{int(frames[i].time >= second_at) for i in t.frames} for t in tracks]
    people = set().union(*people_in) if people_in else set()
    # how far the detected face moved between sampled frames, in face sizes (a walk's speed as the linker saw it)
    faces = [f.faces[0].box for f in frames if len(f.faces) == 1]
    steps = [np.hypot((b[0] + b[2] - a[0] - a[2]) / 2, (b[1] + b[3] - a[1] - a[3]) / 2) / max(a[2] - a[0], a[3] - a[1], b[2] - b[0], b[3] - b[1])
             for a, b in zip(faces, faces[1:])]
    return {"people": len(people), "tracks": len(tracks), "merged": any(len(p) > 1 for p in people_in),
            "largest_step_face_sizes": round(float(max(steps)), 3) if steps else None}


def crowd_seconds(faces: int = 30, frames: int = 8) -> float:
    """Seconds to link a crowd (faces moving one face size per sampled frame, so every pair within reach needs the
    face match) over `frames` sampled frames: the linker's own cost, no decoding or model."""
    from detector.faces import Face
    from detector.inference import FaceResult

    rng = np.random.default_rng(0)
    crops = [Image.fromarray(rng.integers(0, 256, (288, 288, 3), dtype=np.uint8)) for _ in range(faces)]

    def sampled(i: int) -> video.SampledFrame:
        boxes = [(60.0 * (k % 10 + i), 60.0 * (k // 10)) for k in range(faces)]
        return video.SampledFrame(i, float(i), None, 1.0, [
            FaceResult(k, Face(box=(x, y, x + 50, y + 50), prob=0.99, landmarks=None, crop_box=(0, 0, 8, 8)), crops[k], 0.0, 0.5, "uncertain")
            for k, (x, y) in enumerate(boxes)])

    clip = [sampled(i) for i in range(frames)]
    start, tracks, next_id = time.perf_counter(), [], 1
    for frame in clip:
        next_id = video.link_tracks(tracks, frame, next_id)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--split", default="val")
    parser.add_argument("--clips", type=int, default=30, help="clips per kind")
    parser.add_argument("--model", type=Path)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/video_tracks.json"))
    args = parser.parse_args(argv)
    folders = [args.data / s / args.split for s in SETS]
    files = [path for f in folders if f.is_dir() for path, label in list_images(f) if label == 0]
    if len(files) < 2 * args.clips:
        print(f"error: {args.data} has {len(files)} real {args.split} portraits in {', '.join(SETS)}; need {2 * args.clips}", file=sys.stderr)
        return 2
    from detector.inference import Detector

    detector = Detector(args.model) if args.model else Detector()
    rng = np.random.default_rng(0)
    chosen = [files[i] for i in rng.choice(len(files), 2 * args.clips, replace=False)]
    pictures = [np.asarray(load_image(f).convert("RGB")) for f in chosen]
    rows = {name: {kind: [] for kind in KINDS} for name in SETTINGS}
    with tempfile.TemporaryDirectory() as folder:
        for kind in KINDS:
            for c in range(args.clips):
                first, second = pictures[2 * c], pictures[2 * c + 1]
                frames, second_at = compose(kind, first, second, pictures, rng)
                result = video.analyze_video(detector, mp4_bytes(frames, Path(folder) / f"c{c}.mp4", FPS), f"c{c}.mp4")
                for name, setting in SETTINGS.items():
                    with linker(setting):
                        rows[name][kind].append(relink(result.frames, second_at))
    summary = {name: {kind: {
        "clips": len(r), "tracks_per_person": float(np.mean([x["tracks"] / max(1, x["people"]) for x in r])),
        "clips_with_two_people_in_one_track": float(np.mean([x["merged"] for x in r])),
    } for kind, r in by_kind.items()} for name, by_kind in rows.items()}
    for name, by_kind in summary.items():
        print(name)
        for kind, s in by_kind.items():
            print(f"  {kind}: {s['tracks_per_person']:.2f} tracks per person, two people in one track in "
                  f"{s['clips_with_two_people_in_one_track']:.0%} of {s['clips']} clips")
    crowd = crowd_seconds()
    print(f"linking 30 faces over 8 sampled frames: {crowd:.2f} s")
    args.out.write_text(json.dumps({"split": args.split, "fps_sampled": video.DEFAULT_SAMPLE_FPS, "summary": summary,
                                    "crowd_link_seconds_30_faces_8_frames": round(crowd, 3), "clips": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
