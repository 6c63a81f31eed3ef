"""Does the model catch face swaps whose face was rendered at a swap model's resolution?

    python -m benchmarks.swap_render --sources cache/sources_test [--root ../shared/data] [--model DIR]
                                     [--per-set 60] [--out benchmarks/results/swap_render.json]
    python -m benchmarks.swap_render --compare REF.json CAND.json [--ways sharp sbi]   # paired, same pictures

Face-swap apps render the face they paste at a fixed size (inswapper: 128 px crops, the DeepFakes
family 64-256 px), so on a large face the swapped inside is softer than the picture around it. This
benchmark makes swaps between different real people of one split (`--sources`, a folder written by
`detector.training.sources` for that split, with `detector.training.mesh`'s outlines where present),
each target swapped four ways with the same donor: the donor's face at its own resolution (`sharp`),
rendered 128 px and 64 px wide (`render128`, `render64`), and a self-blend of the target (`sbi`). Each
picture goes through the app's path (MTCNN, crop, model); reported per way: ROC AUC against the same
targets left real, and the share of swaps at or above the model's threshold. Swaps are seeded by the
picture's path, so two runs make the same pictures.

A proxy, and said to be one: the swaps come from the project's own generator (the model trains on
`sharp`-like swaps and self-blends), on unseen people. It tells whether the model still finds a swap
once the face's detail no longer gives it away, not how it does on any public face-swap set.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.metrics import roc_auc_score

from detector.training.reframed import SourceBank
from detector.training.swaps import classical_swap, self_blend

WAYS = ("sharp", "render128", "render64", "sbi")


def seed_of(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("/".join(parts).encode()).digest()[:8], "little")


def targets(bank: SourceBank, per_set: int) -> list[int]:
    """Up to `per_set` real pictures with landmarks from each set, in a seeded order."""
    chosen = []
    by_set: dict[str, list[int]] = {}
    for index in bank.reals_with_points:
        by_set.setdefault(bank.pictures[index].dataset, []).append(index)
    for name in sorted(by_set):
        indices = sorted(by_set[name], key=lambda i: seed_of(bank.pictures[i].file))
        chosen += indices[:per_set]
    return chosen


def swapped(bank: SourceBank, target: int, image: np.ndarray, donor: int, donor_image: np.ndarray, way: str,
            draw: str | None = None) -> np.ndarray:
    """Picture `target` (decoded: `image`) with its face swapped `way`; `donor_image` is picture `donor` decoded.
    The generator's random draws are seeded by the picture and way, and by `draw` when given (a video frame's)."""
    picture = bank.pictures[target]
    face = picture.faces[0]
    rng = np.random.default_rng(seed_of(picture.file, way, *([draw] if draw is not None else [])))
    if way == "sbi":
        return self_blend(image, face["box"], np.array(face["landmarks"]), picture.outline, rng)
    render = {"sharp": (0.0, (128,)), "render128": (1.0, (128,)), "render64": (1.0, (64,))}[way]
    donor_face = bank.pictures[donor].faces[0]
    return classical_swap(image, face["box"], np.array(face["landmarks"]), picture.outline, donor_image,
                          np.array(donor_face["landmarks"]), rng, render_p=render[0], render_sizes=render[1])


def top_score(detector, image: np.ndarray) -> float | None:
    """The picture's headline P(fake) on the app's path: its most suspicious face (None when none is found)."""
    return detector.analyze(Image.fromarray(image)).p_fake


def measure(detector, bank: SourceBank, per_set: int) -> dict:
    chosen = targets(bank, per_set)
    # Each target's donor is the next target in the seeded list: another picture, almost always another person
    # (DFDC's videos repeat some actors).
    donors = {t: chosen[(i + 1) % len(chosen)] for i, t in enumerate(chosen)}
    rows = []
    for target in chosen:
        picture = bank.pictures[target]
        box = picture.faces[0]["box"]
        image, donor_image = bank.image(target), bank.image(donors[target])  # decoded once for all five scores
        row = {"file": picture.file, "set": picture.dataset, "face_px": round(float(box[2] - box[0]), 1),
               "real": top_score(detector, image)}
        for way in WAYS:
            row[way] = top_score(detector, swapped(bank, target, image, donors[target], donor_image, way))
        rows.append(row)
    threshold = detector.config.threshold
    result = {"pictures": len(rows), "threshold": threshold, "ways": {}, "by_set": {}, "rows": rows}
    for way in WAYS:
        result["ways"][way] = summary(rows, way, threshold)
    for name in sorted({r["set"] for r in rows}):
        subset = [r for r in rows if r["set"] == name]
        result["by_set"][name] = {way: summary(subset, way, threshold) for way in WAYS}
    large = [r for r in rows if r["face_px"] >= 200]
    result["faces_200px_or_more"] = {way: summary(large, way, threshold) for way in WAYS}
    return result


def summary(rows: list[dict], way: str, threshold: float) -> dict:
    pairs = [(r["real"], r[way]) for r in rows if r["real"] is not None and r[way] is not None]
    if len(pairs) < 2:
        return {"n": len(pairs), "auc": None, "swaps_at_threshold": None}
    reals, fakes = np.array(pairs).T
    return {"n": len(pairs), "auc": round(auc(reals, fakes), 4),
            "swaps_at_threshold": round(float(np.mean(fakes >= threshold)), 4),
            "reals_at_threshold": round(float(np.mean(reals >= threshold)), 4)}


def auc(reals: np.ndarray, fakes: np.ndarray) -> float:
    return float(roc_auc_score(np.r_[np.zeros(len(reals)), np.ones(len(fakes))], np.r_[reals, fakes]))


def compare(ref: dict, cand: dict, ways: tuple[str, ...], n_boot: int = 1000, seed: int = 0) -> dict:
    """The candidate's mean AUC over `ways` minus the reference's, on the pictures both scored (each picture
    keeps its real and swapped scores together), with a 95 % paired bootstrap interval over pictures."""
    keys = ("real", *ways)
    cand_rows = {r["file"]: r for r in cand["rows"]}
    pairs = [(r, cand_rows[r["file"]]) for r in ref["rows"]
             if r["file"] in cand_rows and all(r[k] is not None and cand_rows[r["file"]][k] is not None for k in keys)]
    if len(pairs) < 10:
        raise ValueError(f"only {len(pairs)} pictures scored by both runs")
    a = {k: np.array([p[0][k] for p in pairs]) for k in keys}
    b = {k: np.array([p[1][k] for p in pairs]) for k in keys}

    def difference(index: np.ndarray) -> float:
        return float(np.mean([auc(b["real"][index], b[w][index]) - auc(a["real"][index], a[w][index]) for w in ways]))

    return {"pictures": len(pairs), "ways": list(ways), "ref_model": ref.get("model"), "cand_model": cand.get("model"),
            "ref_auc": {w: round(auc(a["real"], a[w]), 4) for w in ways}, "cand_auc": {w: round(auc(b["real"], b[w]), 4) for w in ways},
            **paired_bootstrap(difference, len(pairs), n_boot, seed)}


def paired_bootstrap(difference, n: int, n_boot: int = 1000, seed: int = 0) -> dict:
    """`difference(index)` on all n pictures and its 95 % bootstrap interval, pictures resampled with replacement
    (each keeps everything scored of it together)."""
    rng = np.random.default_rng(seed)
    boots = [difference(rng.integers(n, size=n)) for _ in range(n_boot)]
    return {"difference": round(difference(np.arange(n)), 4),
            "low": round(float(np.percentile(boots, 2.5)), 4), "high": round(float(np.percentile(boots, 97.5)), 4)}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--compare"]:
        return main_compare(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=Path, required=True, help="a detector.training.sources folder of one split")
    parser.add_argument("--root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--split", default="test")
    parser.add_argument("--model", default="assets/models/dfx-lite0")
    parser.add_argument("--per-set", type=int, default=60)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/swap_render.json"))
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
    result = {"model": detector.config.version, "split": args.split, **measure(detector, bank, args.per_set)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    for way, row in result["ways"].items():
        print(f"{way:10s} AUC {row['auc']}  swaps at threshold {row['swaps_at_threshold']}  (n={row['n']})")
    return 0


def main_compare(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.swap_render --compare", description=compare.__doc__.split(":")[0])
    parser.add_argument("reference", type=Path)
    parser.add_argument("candidate", type=Path)
    parser.add_argument("--ways", nargs="+", default=["sharp", "sbi"], choices=WAYS)
    parser.add_argument("--boot", type=int, default=1000)
    args = parser.parse_args(argv)
    try:
        ref, cand = (json.loads(path.read_text()) for path in (args.reference, args.candidate))
        result = compare(ref, cand, tuple(args.ways), args.boot)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: cannot compare {args.reference} and {args.candidate}: {exc!r}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
