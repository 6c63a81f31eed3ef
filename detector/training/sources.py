"""Find every face in the training pictures once, so training can reframe them like the app does.

    python -m detector.training.sources ../shared/data --out cache/sources [--max-per-class dfdc=4000]

Training composes each picture into larger scenes (canvases, post mock-ups, grids) and then cuts
the face out with the app's crop policy (detector.faces.square_crop_box). Running MTCNN on every
composed scene would cost more than the training itself on a CPU, so MTCNN runs once per source
picture here and the composer maps the box through its own geometry (the composer jitters the box
by MTCNN's own box-to-box spread). The robustness suite checks the result with the real detector.

Writes `<out>/sources.json`: for every picture its path (relative to the data root), data set,
split, label (real 0, fake 1), size and faces (box, probability, five landmarks, fallback flag).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np

from detector.imageio import list_images

_finder = None


def sources_problem(sources: Path, root: Path | None = None) -> str | None:
    """Why the training CLIs cannot read this source bank (one error line), or None when they can."""
    if not (sources / "sources.json").is_file():
        return f"{sources / 'sources.json'} is missing: run python -m detector.training.sources DATA --out {sources} first"
    if root is not None and not root.is_dir():
        return f"data root {root} is not a folder (--root: the folder the sources' paths are relative to)"
    return None


def _init_worker() -> None:
    import torch

    from detector.faces import FaceFinder

    torch.set_num_threads(1)
    global _finder
    _finder = FaceFinder(device="cpu")


def _detect(path: Path) -> dict | None:
    from detector.errors import InputError
    from detector.imageio import load_image

    try:
        image = load_image(path)
    except InputError:
        return None
    faces = [
        {
            "box": [round(v, 1) for v in face.box],
            "prob": round(face.prob, 4),
            "landmarks": None if face.landmarks is None else np.round(face.landmarks, 1).tolist(),
            "fallback": face.fallback,
        }
        for face in _finder.find(image)
    ]
    return {"size": list(image.size), "faces": faces}


def pick(items: list, limit: int, seed: int) -> list:
    """A seeded subset of at most `limit` items, in their original order."""
    if limit <= 0 or len(items) <= limit:
        return items
    keep = np.sort(np.random.default_rng(seed).choice(len(items), limit, replace=False))
    return [items[i] for i in keep]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--out", type=Path, default=Path("cache/sources"))
    parser.add_argument("--splits", nargs="*", default=["train", "val"])
    parser.add_argument("--max-per-class", nargs="*", default=[], metavar="SET=N", help="cap per data set and class")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        print(f"error: {args.root} is not a folder", file=sys.stderr)
        return 2
    caps = {k: int(v) for k, _, v in (item.partition("=") for item in args.max_per_class)}
    jobs = []
    for dataset in sorted(p for p in args.root.iterdir() if p.is_dir()):
        for split in args.splits:
            items = list_images(dataset / split) if (dataset / split).is_dir() else []
            for label in (0, 1):
                chosen = pick([p for p, lab in items if lab == label], caps.get(dataset.name, 0), args.seed)
                jobs += [(p, dataset.name, split, label) for p in chosen]
    args.out.mkdir(parents=True, exist_ok=True)
    records, started = [], time.time()
    with mp.get_context("spawn").Pool(args.workers, initializer=_init_worker) as pool:
        for n, ((path, dataset, split, label), found) in enumerate(zip(jobs, pool.imap(_detect, [j[0] for j in jobs], chunksize=16))):
            if found is not None and found["faces"]:
                records.append({"file": str(path.relative_to(args.root)), "dataset": dataset, "split": split, "label": label, **found})
            if n % 500 == 0:
                print(f"{n}/{len(jobs)} pictures, {time.time() - started:.0f} s", flush=True)
    (args.out / "sources.json").write_text(json.dumps({"root": str(args.root), "records": records}))
    print(f"{len(records)} of {len(jobs)} pictures with a face, {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
