"""Robustness suite: every shared test set under the reframings a journalist's upload goes through.

    python -m benchmarks.robustness [--model DIR] [--data ../shared/data] [--sets dfdc ...]
        [--conditions plain jpeg60 ...] [--limit 150] [--export-dir assets/runs/robustness]

Conditions (each picture generated deterministically from its file name by project code):

    plain    the test picture as it is
    jpeg60   re-compressed at JPEG quality 60
    half     downscaled to half size (area filter)
    up175    upscaled 1.75x (bicubic)
    canvas   pasted at 25-50 % of the width of a 1280x720 flat / gradient / noise / photo background
    post     inside a social-media-post mock-up inside a phone screenshot
    group    3-6 pictures of the set (both classes mixed) scattered on a 1600x900 background, faces
             meant to be at least 80 px; every placed face is scored on its own (a record per face, with
             its size); the real faces' false-alarm share counts only faces of at least 80 px

Every condition goes through the app's own path (`Detector.analyze`: MTCNN on the whole picture,
the crop policy, the classifier); with `--checked`, through what the pages run (`analyze_image` with the
stability check: each face's final verdict, "can't tell" and "too small to judge" included, is stored
beside its score, and the real faces' share of each final verdict is stored with the run), is stored as an evaluation run (data "<set>/test @ <condition>",
info.condition) and shows on the metrics page as a model x condition matrix. One-class sets are
paired with the 200 real test portraits of `real_faces_300w_portraits`; `real_groups` is the group
condition made only of real faces from every set (the "real group photo" false-alarm check).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from detector.display import LIKELY_MANIPULATED, format_share
from detector.errors import DetectorError
from detector.evaluation.run_metrics import CONDITION_ORDER
from detector.imageio import list_images, load_image
from detector.stability import AbstainRules, face_size
from detector.training.compose import background, h264_roundtrip, screenshot
from detector.training.sources import pick

CONDITIONS = CONDITION_ORDER  # the metrics page draws them in this order
TWO_CLASS = ("dfdc", "stylegan1_ffhq", "stylegan2_unsplash", "inswapper_faceswap")
ONE_CLASS = ("sd21_faces", "sfhq_t2i_tiles", "t2i_people_scenes")
REALS = "real_faces_300w_portraits"
GROUP_MIN_FACE = 80


def seed_of(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:8], "little")


def test_items(data: Path, name: str, limit: int, split: str = "test") -> list[tuple[Path, int]]:
    """A split of a set (at most `limit` per class, seeded); one-class sets get the shared reals."""
    items = list_images(data / name / split)
    if name in ONE_CLASS:
        items = [it for it in items if it[1] == 1] + [it for it in list_images(data / REALS / split) if it[1] == 0]
    if name == "real_groups":
        items = [it for s in (*TWO_CLASS, REALS) for it in list_images(data / s / split) if it[1] == 0]
    out = []
    for label in (0, 1):
        out += pick([it for it in items if it[1] == label], limit, seed=0)
    return out


def reframe(image: Image.Image, condition: str, key: str) -> Image.Image:
    """One test picture under a single-picture condition (deterministic per file and condition)."""
    rng = np.random.default_rng(seed_of(key, condition))
    if condition == "plain":
        return image
    if condition == "jpeg60":
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=60)
        return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    if condition == "half":
        return image.resize((max(1, image.width // 2), max(1, image.height // 2)), Image.BOX)
    if condition == "up175":
        return image.resize((round(image.width * 1.75), round(image.height * 1.75)), Image.BICUBIC)
    if condition.startswith("h264_crf"):
        return Image.fromarray(h264_roundtrip(np.asarray(image), int(condition.removeprefix("h264_crf"))))
    array = np.asarray(image)
    if condition == "canvas":
        width = int(1280 * rng.uniform(0.25, 0.5))
        height = max(1, round(array.shape[0] * width / array.shape[1]))
        if height > 700:
            width, height = max(1, round(width * 700 / height)), 700
        picture = cv2.resize(array, (width, height), interpolation=cv2.INTER_AREA if width < array.shape[1] else cv2.INTER_CUBIC)
        canvas = background(720, 1280, rng, [array])
        x, y = int(rng.integers(0, 1280 - width + 1)), int(rng.integers(0, 720 - height + 1))
        canvas[y : y + height, x : x + width] = picture
        return Image.fromarray(canvas)
    if condition == "post":
        screen, _ = screenshot(array, rng)
        return Image.fromarray(screen)
    raise ValueError(f"unknown condition {condition}")


def group_scenes(items: list[tuple[Path, int]], seed: str) -> list[tuple[Image.Image, list[tuple[tuple[int, int, int, int], int, str]]]]:
    """Scenes of 3-6 pictures each; returns (scene, [(rect, label, path)]) with non-overlapping rects."""
    rng = np.random.default_rng(seed_of(seed, "group"))
    order = rng.permutation(len(items))
    scenes, start = [], 0
    while start < len(order):
        count = int(rng.integers(3, 7))
        chosen = [items[i] for i in order[start : start + count]]
        start += count
        canvas = background(900, 1600, rng, [])
        placed: list[tuple[tuple[int, int, int, int], int, str]] = []
        for path, label in chosen:
            picture = np.asarray(load_image(path))
            # Pictures 150-300 px wide: their faces stay >= GROUP_MIN_FACE px (portrait sets' faces fill ~half).
            width = int(rng.uniform(170, 300))
            height = max(1, round(picture.shape[0] * width / picture.shape[1]))
            for _ in range(30):
                x, y = int(rng.integers(0, 1600 - width)), int(rng.integers(0, max(1, 900 - height)))
                rect = (x, y, x + width, y + height)
                if all(rect[2] <= r[0] or rect[0] >= r[2] or rect[3] <= r[1] or rect[1] >= r[3] for r, _, _ in placed):
                    canvas[y : y + height, x : x + width] = cv2.resize(picture, (width, height), interpolation=cv2.INTER_AREA)[: 900 - y]
                    placed.append((rect, label, str(path)))
                    break
        scenes.append((Image.fromarray(canvas), placed))
    return scenes


def analyze(detector, image: Image.Image, rules=None):
    """(ImageResult, each face's final verdict or None): the plain path, or with `rules` (the checkpoint's
    detector.stability.AbstainRules) what the pages run, the stability check included."""
    if rules is None:
        return detector.analyze(image), None
    from detector.analysis import analyze_image

    analysis = analyze_image(detector, image, "robustness", stability=True, rules=rules)
    return analysis.result, analysis.verdicts


def score_pictures(detector, items, condition: str, data: Path, rules=None) -> list[dict]:
    records = []
    for path, label in items:
        record = {"path": str(Path(path).relative_to(data)), "label": int(label), "score": None, "n_faces": 0, "fallback": False, "seconds": 0.0, "error": None}
        try:
            result, verdicts = analyze(detector, reframe(load_image(path), condition, record["path"]), rules)
            record.update(score=result.p_fake, n_faces=len(result.faces), fallback=any(f.face.fallback for f in result.faces), seconds=round(result.seconds, 4))
            if result.p_fake is not None:
                top = max(range(len(result.faces)), key=lambda i: result.faces[i].p_fake)  # the face the score comes from
                record["score_uncalibrated"] = float(1 / (1 + np.exp(-result.faces[top].logit)))
                record["turn"] = rounded(result.faces[top].face.turn)
                record["face_px"] = round(face_size(result.faces[top]), 1)
                if verdicts is not None:
                    record["verdict"] = verdicts[top]
            else:
                record["error"] = "no face found"
        except DetectorError as exc:
            record["error"] = str(exc)
        records.append(record)
    return records


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def layout_seed(set_name: str, layout: int) -> str:
    """The seed of a set's group scenes; layout 0 is the suite's own (what every stored group run used)."""
    return set_name if layout == 0 else f"{set_name}#layout{layout}"


def score_groups(detector, items, set_name: str, data: Path, layout: int = 0, rules=None) -> list[dict]:
    """A record per placed face: the largest detected face whose centre lies inside its picture, with its
    size `face_px` (longest side of the detector box, as the app's size limit measures it). Every found face
    is scored, so the AUC cells stay comparable with the stored runs; the false-alarm share counts only
    faces of at least GROUP_MIN_FACE px (`verdict_shares`), the size issue 14's target is stated for."""
    records = []
    for scene_index, (scene, placed) in enumerate(group_scenes(items, layout_seed(set_name, layout))):
        result, verdicts = analyze(detector, scene, rules)
        for rect, label, path in placed:
            record = {"path": f"scene{scene_index}:{Path(path).relative_to(data)}", "label": label, "score": None,
                      "n_faces": 0, "fallback": False, "seconds": round(result.seconds / max(1, len(placed)), 4), "error": None}
            inside = [f for f in result.faces if rect[0] <= (f.box[0] + f.box[2]) / 2 <= rect[2] and rect[1] <= (f.box[1] + f.box[3]) / 2 <= rect[3]]
            if inside:
                face = max(inside, key=lambda f: f.box[2] - f.box[0])
                record.update(score=face.p_fake, n_faces=len(inside), face_px=round(face_size(face), 1),
                              score_uncalibrated=float(1 / (1 + np.exp(-face.logit))), turn=rounded(face.face.turn))
                if verdicts is not None:
                    record["verdict"] = verdicts[result.faces.index(face)]
            else:
                record["error"] = "no face found"
            records.append(record)
    return records


def verdict_shares(records: list[dict], fake_cut: float) -> dict:
    """The verdict's upper edge ("likely manipulated" at or above it; the band may be asymmetric) and the share
    of scored real faces that reach it: the false alarms a reader sees, beside P(fake) >= threshold. In group
    scenes only faces of at least GROUP_MIN_FACE px count (records without a size: single pictures)."""
    counted = [r for r in records if r["label"] == 0 and r["score"] is not None and r.get("face_px", GROUP_MIN_FACE) >= GROUP_MIN_FACE]
    shares = {"fake_cut": round(fake_cut, 4), "reals_likely_manipulated": share_at_or_above([r["score"] for r in counted], fake_cut),
              "reals_counted": len(counted)}
    if counted and all("verdict" in r for r in counted):
        # What the pages show after the stability check: a face whose copies disagree is "can't tell", not a false alarm.
        verdicts = [r["verdict"] for r in counted]
        shares["reals_final_verdicts"] = {v: round(verdicts.count(v) / len(verdicts), 4) for v in sorted(set(verdicts))}
        shares["reals_final_likely_manipulated"] = verdicts.count(LIKELY_MANIPULATED) / len(verdicts)
    fakes = [r["verdict"] for r in records if r["label"] == 1 and "verdict" in r]
    if fakes:  # what the check costs: fakes it turns into "can't tell"
        shares["fakes_final_verdicts"] = {v: round(fakes.count(v) / len(fakes), 4) for v in sorted(set(fakes))}
    return shares


def share_at_or_above(scores, cut: float) -> float | None:
    """The share of scores at or above a cut (None for no scores)."""
    return float(np.mean(np.asarray(scores) >= cut)) if len(scores) else None


def markdown_table(folders: list[Path]) -> str:
    """AUC per set and condition from exported runs (one folder per model), as a README table."""
    rows: dict[tuple[str, str], dict[str, str]] = {}
    alarms = []
    for folder in folders:
        for path in sorted(folder.glob("*.json")):
            run = json.loads(path.read_text())
            info, m = run["info"], run["metrics"]
            if m.get("auc") is None:
                checked = " · checked" if info.get("checked") else ""
                alarms.append(f"| {info['set']} @ {info['condition']}{checked} | {run['model_version']} | {m['n']} | {m.get('n_unscored', 0)} | "
                              f"{format_share(1 - m['specificity'])} | {format_share(info.get('reals_likely_manipulated'))} | "
                              f"{format_share(info.get('reals_final_likely_manipulated'))} |")
                continue
            if info.get("checked"):
                continue  # the same scores as the plain run: its AUC cell is already there
            rows.setdefault((info["set"], run["model_version"]), {})[info["condition"]] = f"{m['auc']:.3f}"
    lines = ["| set | model | " + " | ".join(CONDITIONS) + " |", "|---|---|" + "---|" * len(CONDITIONS)]
    lines += [f"| {s} | {v} | " + " | ".join(cells.get(c, "–") for c in CONDITIONS) + " |" for (s, v), cells in sorted(rows.items())]
    if alarms:
        lines += ["", "| real faces only | model | faces | not found | P(fake) ≥ threshold | likely manipulated | likely manipulated after the check |",
                  "|---|---|---|---|---|---|---|", *alarms]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", nargs="+", type=Path, metavar="DIR", help="only print a markdown table of exported runs")
    parser.add_argument("--model", type=Path, help="checkpoint folder (default: the shipped model)")
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    parser.add_argument("--sets", nargs="*", default=[*TWO_CLASS, *ONE_CLASS, "real_groups"])
    parser.add_argument("--conditions", nargs="*", default=list(CONDITIONS))
    parser.add_argument("--limit", type=int, default=150, help="at most N pictures per class and set (seeded)")
    parser.add_argument("--db", type=Path, help="runs database (default: env DFX_RUNS_DB or runs/runs.sqlite)")
    parser.add_argument("--export-dir", type=Path, help="also write each run as JSON here")
    parser.add_argument("--split", default="test", choices=("test", "val"),
                        help="val: the same conditions on the validation split, to compare candidate models without "
                             "looking at test (runs named '<set>/val @ <condition>')")
    parser.add_argument("--checked", action="store_true",
                        help="analyse as the pages do (with the stability check) and store each face's final verdict; "
                             "runs are named '... · checked' (same scores, so the AUC matrix keeps the plain runs)")
    args = parser.parse_args(argv)
    if args.table:
        print(markdown_table(args.table))
        return 0
    if not args.data.is_dir():
        print(f"error: {args.data} is not a folder (the shared face data)", file=sys.stderr)
        return 2
    unknown = set(args.conditions) - set(CONDITIONS)
    if unknown:
        print(f"error: unknown condition(s) {sorted(unknown)}; choose from {CONDITIONS}", file=sys.stderr)
        return 2
    from detector.evaluation.evaluate import build_run
    from detector.evaluation.runs import RunStore
    from detector.inference import Detector

    detector = Detector(args.model)
    # --checked: the checkpoint's abstain rules, loaded once (as every page and a batch scan use them)
    rules = AbstainRules.for_checkpoint(detector.checkpoint) if args.checked else None
    store = RunStore(args.db)
    summary = {}
    for set_name in args.sets:
        items = test_items(args.data, set_name, args.limit, args.split)
        conditions = ["group"] if set_name == "real_groups" else args.conditions
        for condition in conditions:
            if condition not in args.conditions:
                continue
            start = time.time()
            if condition == "group":
                records = score_groups(detector, items, set_name, args.data, rules=rules)
            else:
                records = score_pictures(detector, items, condition, args.data, rules=rules)
            suffix = " · checked" if args.checked else ""
            run = build_run(detector, f"{set_name}/{args.split} @ {condition}{suffix}", records,
                            {"condition": condition, "set": set_name, "split": args.split, "limit": args.limit, "wall_s": round(time.time() - start, 1),
                             "checked": args.checked, **verdict_shares(records, detector.config.band()[1])})
            store.add(run)
            if args.export_dir:
                args.export_dir.mkdir(parents=True, exist_ok=True)
                split = "" if args.split == "test" else f"_{args.split}"
                name = f"{run.model_name}_{run.model_version}_{set_name}{split}_{condition}{'_checked' if args.checked else ''}.json"
                store.export_json(run.id, args.export_dir / name)
            m = run.metrics
            summary[f"{set_name} @ {condition}"] = {k: m.get(k) for k in ("auc", "recall", "specificity", "n", "n_unscored")}
            auc = "  -  " if m.get("auc") is None else f"{m['auc']:.3f}"
            print(f"{set_name:>20} @ {condition:<7} AUC {auc}  recall {m['recall']:.3f}  specificity {m['specificity']:.3f}"
                  f"  n {m['n']}  unscored {m['n_unscored']}  {time.time() - start:.0f} s", flush=True)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
