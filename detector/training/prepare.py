"""Run face detection once per training image and cache the crops.

    python -m detector.training.prepare ../shared/data --out cache/crops [--size 224] [--workers 2]

For every `<root>/<dataset>/<split>/<real|fake>/*` image this applies the same FaceFinder and
crop policy as the app (largest face; the face-crop fallback for pictures with no detected
face) and stores, per dataset and split, one uint8 array `crops.npy` of shape (N, S, S, 3) and
`index.json` with each crop's source file, label (real=0, fake=1), landmarks in crop
coordinates and fallback flag.
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


def _init_worker(size: int) -> None:
    import torch

    from detector.faces import FaceFinder

    torch.set_num_threads(1)
    global _finder
    _finder = FaceFinder(device="cpu")
    _finder.size = size


def _crop_one(path: Path):
    from detector.errors import InputError
    from detector.faces import crop_face, landmarks_in_crop
    from detector.imageio import load_image

    try:
        image = load_image(path)
    except InputError as exc:
        return None, str(exc)
    faces = _finder.find(image)
    if not faces:
        return None, "no face"
    face = faces[0]
    crop = np.asarray(crop_face(image, face.crop_box, _finder.size), dtype=np.uint8)
    landmarks = landmarks_in_crop(face.landmarks, face.crop_box, _finder.size)
    meta = {
        "fallback": face.fallback,
        "n_faces": len(faces),
        "landmarks": None if landmarks is None else np.round(landmarks, 2).tolist(),
    }
    return crop, meta


def prepare_split(split_dir: Path, out_dir: Path, size: int, pool) -> dict:
    items = list_images(split_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    crops = np.lib.format.open_memmap(out_dir / "crops.tmp.npy", mode="w+", dtype=np.uint8, shape=(len(items), size, size, 3))
    records, skipped = [], []
    start = time.time()
    for (path, label), (crop, meta) in zip(items, pool.imap(_crop_one, [p for p, _ in items], chunksize=8)):
        if crop is None:
            skipped.append({"file": str(path), "reason": meta})
            continue
        crops[len(records)] = crop
        records.append({"file": str(path), "label": label, **meta})
    crops.flush()
    del crops
    final = np.lib.format.open_memmap(out_dir / "crops.npy", mode="w+", dtype=np.uint8, shape=(len(records), size, size, 3))
    final[:] = np.load(out_dir / "crops.tmp.npy", mmap_mode="r")[: len(records)]
    final.flush()
    (out_dir / "crops.tmp.npy").unlink()
    summary = {
        "split_dir": str(split_dir),
        "size": size,
        "n": len(records),
        "skipped": skipped,
        "fallbacks": sum(r["fallback"] for r in records),
        "seconds": round(time.time() - start, 1),
    }
    (out_dir / "index.json").write_text(json.dumps({"summary": summary, "records": records}))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="folder of ImageFolder datasets")
    parser.add_argument("--out", type=Path, default=Path("cache/crops"))
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--datasets", nargs="*", help="only these dataset names")
    parser.add_argument("--splits", nargs="*", default=["train", "val", "test"])
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        print(f"error: {args.root} is not a folder", file=sys.stderr)
        return 2
    datasets = sorted(p for p in args.root.iterdir() if p.is_dir() and (not args.datasets or p.name in args.datasets))
    with mp.get_context("spawn").Pool(args.workers, initializer=_init_worker, initargs=(args.size,)) as pool:
        for dataset in datasets:
            for split in args.splits:
                split_dir = dataset / split
                out_dir = args.out / dataset.name / split
                if not split_dir.is_dir() or (out_dir / "index.json").is_file():
                    continue
                summary = prepare_split(split_dir, out_dir, args.size, pool)
                print(
                    f"{dataset.name}/{split}: {summary['n']} crops, {summary['fallbacks']} fallbacks, "
                    f"{len(summary['skipped'])} skipped, {summary['seconds']} s",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
