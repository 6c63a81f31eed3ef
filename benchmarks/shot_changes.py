"""How well the video path tells a shot change from a camera moving within one shot (detector.video.shot_changed).

    python -m benchmarks.shot_changes [--data ../shared/data] [--split val] [--per-set 150] [--out FILE]

The shared data holds no videos, so both cases are made from real pictures: a *pan* is two windows of
the same picture (80 % of it, the second shifted by a fifth of its width and a tenth of its height), a
*cut* is a picture and the next one of the same set (the hard case: two portraits of one kind, as in an
interview cut between two people). Reported per set: the share of pans taken for a shot change (the
video path then links faces only where their boxes overlap) and the share of cuts missed (faces may then
continue another person's track when they sit within reach). A proxy for real footage, and said to be one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from detector.video import SHOT_CHANGE_CORRELATION, colour_histogram, shot_changed

SETS = ("real_faces_300w_portraits", "stylegan1_ffhq", "stylegan2_unsplash", "dfdc")


def pan(image: Image.Image) -> tuple[Image.Image, Image.Image]:
    width, height = image.size
    return (image.crop((0, 0, int(width * 0.8), int(height * 0.8))),
            image.crop((int(width * 0.2), int(height * 0.1), width, int(height * 0.9))))


def changed(a: Image.Image, b: Image.Image) -> bool:
    return shot_changed(colour_histogram(a), colour_histogram(b))


def measure(folder: Path, per_set: int) -> dict:
    files = sorted(folder.glob("*.jpg"))[:per_set]
    pictures = [Image.open(f).convert("RGB") for f in files]
    pans = [changed(*pan(p)) for p in pictures]
    cuts = [changed(p, pictures[(i + 1) % len(pictures)]) for i, p in enumerate(pictures)]
    return {"pictures": len(pictures), "pans_taken_for_cuts": float(np.mean(pans)), "cuts_missed": float(1 - np.mean(cuts))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--split", default="val")
    parser.add_argument("--per-set", type=int, default=150)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/shot_changes.json"))
    args = parser.parse_args(argv)
    folders = {s: args.data / s / args.split / "real" for s in SETS}
    missing = [str(f) for f in folders.values() if not any(f.glob("*.jpg"))]
    if missing:
        print(f"error: no pictures in {', '.join(missing)}", file=sys.stderr)
        return 2
    result = {"split": args.split, "correlation_below": SHOT_CHANGE_CORRELATION,
              "sets": {s: measure(f, args.per_set) for s, f in folders.items()}}
    for name, row in result["sets"].items():
        print(f"{name}: {row['pictures']} pictures, pans taken for cuts {row['pans_taken_for_cuts']:.1%}, cuts missed {row['cuts_missed']:.1%}")
    args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
