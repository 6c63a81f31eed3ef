"""Pack the training pictures into chunks that fit a lent GPU machine's transfer limit (64 MiB a call).

    python -m scripts.pack_gpu_data --sources cache/sources --root ../shared/data --out .gpu

Writes .gpu/q0 (first chunk + sources/mesh metadata), .gpu/q1, .gpu/q2 (the rest). Every training
picture goes; validation keeps every picture of the small sets and a seeded 600 real + 600 fake of
DFDC's (the trainer scores 150 per stream, so the rest would only cost transfer). Each chunk is
carried by one `run` call on the warm machine and copied into /root/dfx/data there; the first call
gathers metadata and the facenet-pytorch wheel (see scripts/train_2_2.sh).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
import sys
from pathlib import Path

MiB = 2**20


def pick(records: list[dict], dfdc_val_per_class: int, seed: int) -> list[str]:
    """Every training picture, the small sets' validation pictures and a sample of DFDC's, shuffled."""
    rng = random.Random(seed)
    files, dfdc_val = [], {0: [], 1: []}
    for r in records:
        if r["split"] == "train" or (r["split"] == "val" and r["dataset"] != "dfdc"):
            files.append(r["file"])
        elif r["split"] == "val":
            dfdc_val[r["label"]].append(r["file"])
    for label in (0, 1):
        files += rng.sample(dfdc_val[label], min(dfdc_val_per_class, len(dfdc_val[label])))
    files = sorted(set(files))
    rng.shuffle(files)
    return files


def chunk(files: list[str], sizes: list[int], caps: list[int]) -> list[list[str]]:
    """Fill chunks in order up to their caps (bytes); the last chunk takes the rest."""
    chunks: list[list[str]] = [[] for _ in caps]
    index, used = 0, 0
    for name, size in zip(files, sizes):
        if used + size > caps[index] and index < len(caps) - 1:
            index, used = index + 1, 0
        chunks[index].append(name)
        used += size
    return chunks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=Path, default=Path("cache/sources"))
    parser.add_argument("--root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path(".gpu"))
    # The first chunk also carries ~3.5 MB of metadata and the wheel; the last one the start weights (~14 MB).
    parser.add_argument("--caps-mib", nargs="+", type=int, default=[44, 52, 45])
    parser.add_argument("--dfdc-val-per-class", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sources = args.sources / "sources.json"
    if not sources.is_file():
        print(f"error: {sources} not found (run detector.training.sources first)", file=sys.stderr)
        return 2
    files = pick(json.loads(sources.read_text())["records"], args.dfdc_val_per_class, args.seed)
    sizes = [(args.root / f).stat().st_size for f in files]
    chunks = chunk(files, sizes, [c * MiB for c in args.caps_mib])
    if sum(sizes[files.index(f)] for f in chunks[-1]) > args.caps_mib[-1] * MiB:
        print("error: the pictures do not fit the chunks; add a cap", file=sys.stderr)
        return 2
    for number, names in enumerate(chunks):
        for name in names:
            target = args.out / f"q{number}" / "data" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(args.root / name, target)
        print(f"q{number}: {len(names)} pictures")
    meta = args.out / "q0" / "meta"
    meta.mkdir(parents=True, exist_ok=True)
    for name in ("sources.json", "mesh.json"):
        with open(args.sources / name, "rb") as source, gzip.open(meta / f"{name}.gz", "wb") as target:
            shutil.copyfileobj(source, target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
