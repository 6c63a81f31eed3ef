"""Measure when a model should not judge a face, and write its abstain.json (issue 16).

The whole measurement for one model folder, in one command (about 8-9 min on a 2-core CPU):

    python -m scripts.measure_abstain all --model assets/models/dfx-lite0 --data ../shared/data --write

It runs the three steps below with the sample sizes the README quotes, stores each step's JSON under
--results (default benchmarks/results/), and writes abstain.json into the model folder. The steps:

    # 1. AUC against face size (24..128 px), blur and detector confidence, on validation sets:
    python -m scripts.measure_abstain size --data ../shared/data --split val --per-class 40 --out benchmarks/results/abstain_size.json
    # 2. per-face records (original picture + a 'post screenshot' copy) for selective prediction:
    python -m scripts.measure_abstain faces --data ../shared/data --split val --per-class 20 --out benchmarks/results/abstain_faces_val.json
    python -m scripts.measure_abstain faces --data ../shared/data --split test --per-class 20 --out benchmarks/results/abstain_faces_test.json
    # 2b. real and fake faces as found and shrunk to 200 ... 64 px, on validation (false alarms by size):
    python -m scripts.measure_abstain sizes --data ../shared/data --split val --per-class 120 --out benchmarks/results/abstain_sizes_val.json
    # 3. choose the limits (size from steps 1 and 2b, blur from step 1, the flip tolerance on validation) and report test;
    #    it refuses a size sweep, face records or clips for choosing that were not measured on validation:
    python -m scripts.measure_abstain choose --size benchmarks/results/abstain_size.json \
        --val benchmarks/results/abstain_faces_val.json --test benchmarks/results/abstain_faces_test.json \
        --sizes-val benchmarks/results/abstain_sizes_val.json --write
Samples are drawn with a fixed seed from the two-class sets (dfdc, stylegan1_ffhq, stylegan2_unsplash).

A model that would replace the shipped one is read against it (session 20): sweep the same sample with both models,
then `choose` reads the candidate's false alarms at each size against the shipped model's on the same faces (at the
threshold and the likely-manipulated cut), never below the shipped model's own size limit. More samples (a fresh one
with --skip) can only raise the limit:

    python -m scripts.measure_abstain all --videos --model CANDIDATE --against-shipped --write   # all of it, in one command
    # or by hand:
    python -m scripts.measure_abstain sizes --model CANDIDATE --split val --sets dfdc --per-class 400 --skip 120 --out cand_fresh.json
    python -m scripts.measure_abstain choose --model CANDIDATE ... --sizes-val cand_first.json cand_fresh.json \
        --sizes-shipped shipped_first.json shipped_fresh.json [--shipped assets/models/dfx-lite0]

Videos (the tolerance of a video track's stability check, `max_disagree_video`): clips composed from the
shared pictures as benchmarks/video_clips.py composes them (dfdc, inswapper_faceswap, stylegan2_unsplash;
a picture drifting over a moving background, MPEG-4, 4 frames a second, 12 at most), each also as a
"re-shared" copy (half size, encoded once more), through the app's video path with the tracks' check:

    python -m scripts.measure_abstain videos --data ../shared/data --split val --per-class 10 --out benchmarks/results/abstain_videos_val.json
    python -m scripts.measure_abstain videos --data ../shared/data --split test --per-class 10 --out benchmarks/results/abstain_videos_test.json
    # then `choose` with --videos-val/--videos-test as well (the photo limits are chosen as before);
    # or all of it: `all --videos` (about 10 minutes more than `all`)
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from sklearn.metrics import roc_auc_score

from detector.stability import PERTURBATIONS, RULES_FILE, AbstainRules, check_faces, face_size, judge, sharpness

SETS = ("dfdc", "stylegan1_ffhq", "stylegan2_unsplash")
SIZES = (24, 32, 48, 64, 96, 128)
BLURS = (1.0, 2.0, 3.0, 4.0)  # Gaussian sigma on the 224-px model input
AUC_DROP = 0.05  # a face size is usable while its mean AUC is within this of the AUC at 128 px
PROB_CUTS = (0.95, 0.99, 0.999)  # detector-confidence floors tried (MTCNN itself keeps >= 0.90)
WRONG_COST = 2.0  # selective prediction: a wrong verdict costs twice what a right one gains


def sample(data: Path, name: str, split: str, per_class: int, seed: int = 0, skip: int = 0) -> list[tuple[Path, int]]:
    """`per_class` pictures per class in a seeded order; `skip` leaves out that order's first ones, so a fresh sample
    (skip = an earlier sample's `per_class`) shares no picture with the earlier one."""
    rows = []
    for label, folder in ((0, "real"), (1, "fake")):
        files = sorted((data / name / split / folder).glob("*.jpg"))
        random.Random(f"{seed}-{name}-{split}-{folder}").shuffle(files)
        rows += [(f, label) for f in files[skip:skip + per_class]]
    return rows


def scaled_input(region: Image.Image, factor: float, size: int) -> Image.Image:
    """The crop region as if the face were `factor` times its size, then at the model's input size."""
    small = region.resize((max(1, round(region.width * factor)), max(1, round(region.height * factor))), Image.BICUBIC, reducing_gap=3.0)
    return small.resize((size, size), Image.BICUBIC, reducing_gap=3.0)


def auc(labels: list[int], scores: list[float]) -> float | None:
    return float(roc_auc_score(labels, scores)) if len(set(labels)) == 2 else None


def measure_size(detector, data: Path, split: str, per_class: int) -> dict:
    """Per set: AUC at each face size, at each blur level, and by detector-confidence bin."""
    size = detector.config.input_size
    out = {"split": split, "per_class": per_class, "sizes": list(SIZES), "blurs": list(BLURS), "sets": {}}
    for name in SETS:
        rows = sample(data, name, split, per_class)
        labels, native, by_size, by_blur, sharp_blur, face_px, face_prob = [], [], {s: [] for s in SIZES}, {b: [] for b in BLURS}, {b: [] for b in BLURS}, [], []
        for path, label in rows:
            image = Image.open(path).convert("RGB")
            faces = detector.face_finder.find(image)
            if not faces:
                continue
            face = faces[0]
            region = image.crop(face.crop_box)
            px = face_size(face)
            inputs = [region.resize((size, size), Image.BICUBIC, reducing_gap=3.0)]
            # a face can only be made smaller than it is: larger targets reuse the native crop
            inputs += [scaled_input(region, min(1.0, s / px), size) for s in SIZES]
            blurred = [inputs[0].filter(ImageFilter.GaussianBlur(b)) for b in BLURS]
            probs = detector.p_fake_from_logits(detector.classify(inputs + blurred))
            labels.append(label)
            native.append(float(probs[0]))
            for i, s in enumerate(SIZES):
                by_size[s].append(float(probs[1 + i]))
            for i, b in enumerate(BLURS):
                by_blur[b].append(float(probs[1 + len(SIZES) + i]))
                sharp_blur[b].append(sharpness(blurred[i]))
            face_px.append(px)
            face_prob.append(face.prob if not face.fallback else None)
        out["sets"][name] = {
            "n": len(labels),
            "native_face_px_median": float(np.median(face_px)),
            "auc_native": auc(labels, native),
            "auc_by_size": {str(s): auc(labels, by_size[s]) for s in SIZES},
            "share_smaller_than_target": {str(s): float(np.mean(np.array(face_px) < s)) for s in SIZES},
            "auc_by_blur": {str(b): auc(labels, by_blur[b]) for b in BLURS},
            "sharpness_median_by_blur": {str(b): float(np.median(sharp_blur[b])) for b in BLURS},
            "face_prob": [p for p in face_prob],
            "labels": labels,
            "scores": native,
        }
        print(f"{name}: n={len(labels)} native AUC {out['sets'][name]['auc_native']:.3f} "
              f"by size {[round(v, 3) for v in out['sets'][name]['auc_by_size'].values()]} "
              f"by blur {[round(v, 3) for v in out['sets'][name]['auc_by_blur'].values()]}", file=sys.stderr)
    return out


def screenshot_copy(image: Image.Image) -> Image.Image:
    """A 'post screenshot': the picture at half size inside a tall phone-shaped page, JPEG 70."""
    small = image.resize((max(1, image.width // 2), max(1, image.height // 2)), Image.BICUBIC, reducing_gap=3.0)
    page = Image.new("RGB", (image.width, round(image.height * 1.6)), (245, 245, 245))
    draw = ImageDraw.Draw(page)
    draw.rectangle((0, 0, page.width, page.height // 10), fill=(40, 40, 60))
    for y in range(page.height // 10 + 8, page.height // 4, 10):
        draw.rectangle((8, y, page.width - 8, y + 4), fill=(170, 170, 170))
    page.paste(small, ((page.width - small.width) // 2, page.height // 4 + 4))
    from detector.stability import _jpeg

    return _jpeg(70)(page)


def measure_faces(detector, data: Path, split: str, per_class: int) -> dict:
    """One record per picture (and per screenshot copy): its most suspicious face's evidence."""
    records = []
    for name in SETS:
        for path, label in sample(data, name, split, per_class):
            original = Image.open(path).convert("RGB")
            for kind, image in (("original", original), ("screenshot", screenshot_copy(original))):
                result = detector.analyze(image)
                record = {"set": name, "file": path.name, "kind": kind, "label": label, "face": None}
                if result.faces:
                    stability = check_faces(detector, image, result.faces, AbstainRules())
                    worst = max(range(len(result.faces)), key=lambda i: result.faces[i].p_fake)
                    face, stab = result.faces[worst], stability[worst]
                    record["face"] = {
                        "p_fake": face.p_fake, "label": face.label, "copies": stab.p_fake_by_change,
                        "face_px": stab.face_px, "sharpness": stab.sharpness, "face_prob": face.face.prob,
                        "fallback": face.face.fallback,
                    }
                records.append(record)
        print(f"{name} {split}: {sum(r['set'] == name for r in records)} records", file=sys.stderr)
    return {"split": split, "per_class": per_class, "threshold": detector.config.threshold,
            "uncertain_margin": detector.config.uncertain_margin, "records": records}


VIDEO_FPS, VIDEO_FRAMES = 4.0, 12  # benchmarks/video_clips.py's sampling of its 3 s clips


def reshared_copy(clip: bytes, folder: Path) -> bytes:
    """A clip as it comes back from a messenger: every frame at half size, encoded once more (MPEG-4)."""
    import cv2

    source, target = folder / "source.mp4", folder / "reshared.mp4"
    source.write_bytes(clip)
    reader = cv2.VideoCapture(str(source))
    fps = reader.get(cv2.CAP_PROP_FPS) or 10.0
    writer = None
    while True:
        ok, frame = reader.read()
        if not ok:
            break
        small = cv2.resize(frame, (frame.shape[1] // 2, frame.shape[0] // 2), interpolation=cv2.INTER_AREA)
        if writer is None:
            writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), fps, (small.shape[1], small.shape[0]))
        writer.write(small)
    reader.release()
    if writer is not None:
        writer.release()
    data = target.read_bytes() if target.exists() else b""
    source.unlink(missing_ok=True)
    target.unlink(missing_ok=True)
    return data


def video_record(detector, data: bytes, name: str) -> dict | None:
    """The evidence of a clip's headline track (the most suspicious judged one), as the video page judges it:
    its score, band label, median face size and its score under each of the 11 changes; None without a face."""
    import statistics

    from detector.analysis import analyze_video_file

    rules = AbstainRules.for_checkpoint(detector.checkpoint)  # the size limit decides which track is the headline
    analysis = analyze_video_file(detector, data, name, sample_fps=VIDEO_FPS, max_frames=VIDEO_FRAMES, rules=rules)
    lead = analysis.worst
    if lead is None or lead.stability is None:
        return None
    return {"p_fake": lead.p_fake, "label": lead.label, "copies": lead.stability.p_fake_by_change,
            "median_face_px": statistics.median(face_size(f.face) for f in lead.track.faces),
            "frames": len(analysis.frames), "frames_rescored": len(lead.stability.frames_checked)}


def measure_videos(detector, data: Path, split: str, per_class: int) -> dict:
    """One record per composed clip and per re-shared copy of it: its headline track's evidence."""
    import tempfile
    import zlib

    from benchmarks.video_clips import SETS as CLIP_SETS
    from benchmarks.video_clips import compose_clip
    from detector.imageio import list_images, load_image
    from detector.training.sources import pick

    records = []
    with tempfile.TemporaryDirectory() as folder:
        for name in CLIP_SETS:
            items = list_images(data / name / split)
            for label in (0, 1):
                for path, _ in pick([it for it in items if it[1] == label], per_class, seed=1):
                    clip = compose_clip(np.asarray(load_image(path)), seed=zlib.crc32(f"{name}/{path.name}".encode()), folder=Path(folder))
                    for kind, video in (("original", clip), ("reshared", reshared_copy(clip, Path(folder)))):
                        record = {"set": name, "file": path.name, "kind": kind, "label": label,
                                  "track": video_record(detector, video, f"{path.stem}.mp4") if video else None}
                        records.append(record)
            print(f"{name} {split}: {sum(r['set'] == name for r in records)} clip records", file=sys.stderr)
    return {"split": split, "per_class": per_class, "threshold": detector.config.threshold,
            "uncertain_margin": detector.config.uncertain_margin, "sample_fps": VIDEO_FPS, "max_frames": VIDEO_FRAMES,
            "records": records}


def selective_summary(n: int, given: int, correct: int) -> dict:
    """Coverage, accuracy of the verdicts given and utility (right +1, wrong -WRONG_COST, no verdict 0)."""
    return {"n": n, "given": given, "coverage": given / n if n else 0.0,
            "accuracy_given": correct / given if given else None, "utility": (correct - WRONG_COST * (given - correct)) / max(n, 1)}


def per_kind(records: list[dict], kinds: tuple[str, ...], measure) -> dict:
    """measure() over all records and over each kind of copy (photos: original/screenshot; clips: original/reshared)."""
    return {kind: measure([r for r in records if kind in ("all", r["kind"])]) for kind in ("all", *kinds)}


def video_selective(records: list[dict], tolerance: int | None, threshold: float) -> dict:
    """selective() for clips: a verdict for the headline track when it is outside the band (before) and,
    after, also when its verdict flips under at most `tolerance` of the changes (track_verdict's rule)."""
    given = correct = 0
    for r in records:
        t = r["track"]
        if t is None or t["label"] == "uncertain":
            continue
        flips = sum((p >= threshold) != (t["p_fake"] >= threshold) for p in t["copies"].values())
        if tolerance is not None and flips > tolerance:
            continue
        given += 1
        correct += int((t["p_fake"] >= threshold) == bool(r["label"]))
    return selective_summary(len(records), given, correct)


def video_by_kind(records: list[dict], tolerance: int | None, threshold: float) -> dict:
    return per_kind(records, ("original", "reshared"), lambda part: video_selective(part, tolerance, threshold))


def choose_video_tolerance(val: dict, test: dict | None, photo_tolerance: int) -> tuple[int, dict]:
    """The video tolerance with the best utility on validation clips (right +1, wrong -WRONG_COST, no verdict
    0); on a tie the photo's tolerance when it is among the best, else the strictest. With the evidence."""
    threshold = val["threshold"]
    grid = {k: video_selective(val["records"], k, threshold) for k in range(len(PERTURBATIONS) + 1)}
    best_utility = max(v["utility"] for v in grid.values())
    tied = [k for k, v in grid.items() if v["utility"] == best_utility]
    chosen = photo_tolerance if photo_tolerance in tied else min(tied)
    evidence = {"video_flip_tolerance": {str(k): v for k, v in grid.items()}, "video_tied_best": tied,
                "video_photo_tolerance": photo_tolerance,
                "video_photo_tolerance_on_val": grid.get(photo_tolerance),
                "video_val_before": video_by_kind(val["records"], None, threshold),
                "video_val_after": video_by_kind(val["records"], chosen, threshold),
                "video_val_n_per_class_per_set": val["per_class"]}
    if test is not None:
        evidence["video_test_before"] = video_by_kind(test["records"], None, threshold)
        evidence["video_test_after"] = video_by_kind(test["records"], chosen, threshold)
        evidence["video_test_after_photo_tolerance"] = video_by_kind(test["records"], photo_tolerance, threshold)
        evidence["video_test_n_per_class_per_set"] = test["per_class"]
    return chosen, evidence


def mean_auc(size: dict, key: str, levels) -> dict[str, float]:
    """Mean AUC over the sets at each level of a sweep."""
    return {str(level): float(np.mean([s[key][str(level)] for s in size["sets"].values()])) for level in levels}


def choose_min_face_px(size: dict) -> tuple[int | None, dict]:
    """The smallest face size from which on every larger size keeps the mean AUC within AUC_DROP of
    the mean AUC at the largest size of the sweep (all sizes went through the same resampling)."""
    means = mean_auc(size, "auc_by_size", SIZES)
    reference = means[str(max(SIZES))]
    chosen = None
    for s in sorted(SIZES, reverse=True):
        if means[str(s)] < reference - AUC_DROP:
            break
        chosen = s
    native = float(np.mean([s["auc_native"] for s in size["sets"].values()]))
    return chosen, {"native_mean_auc": native, "mean_auc_by_size": means, "size_reference_auc": reference}


def sharpness_candidates(size: dict) -> dict[str, float | None]:
    """Blur floors to try on validation: none, or the median sharpness of each blur level of the sweep."""
    found = {"none": None}
    for b in BLURS:
        found[f"sigma{b:g}"] = float(np.median([s["sharpness_median_by_blur"][str(b)] for s in size["sets"].values()]))
    return found


def face_prob_auc(size: dict) -> dict[str, float | None]:
    """AUC of the detected faces at or above each detector-confidence cut (pooled over sets)."""
    out = {}
    for cut in PROB_CUTS:
        labels, scores = [], []
        for s in size["sets"].values():
            for label, score, prob in zip(s["labels"], s["scores"], s["face_prob"]):
                if prob is not None and prob < cut:
                    labels.append(label)
                    scores.append(score)
        out[f"below {cut}"] = {"n": len(labels), "auc": auc(labels, scores)}
    return out


def selective(records: list[dict], rules: AbstainRules | None, threshold: float) -> dict:
    """Accuracy of the verdicts given and the share of pictures that get one (no face = no verdict)."""
    given = correct = 0
    for r in records:
        f = r["face"]
        if f is None:
            continue
        if rules is None:  # before: only the model's uncertain band
            decisive = f["label"] != "uncertain"
        else:
            verdict = judge(f["p_fake"], f["label"], f["copies"], f["face_px"], f["sharpness"], f["face_prob"],
                            f["fallback"], threshold, rules)[0]
            decisive = verdict in ("likely_manipulated", "no_sign_found")
        if decisive:
            given += 1
            correct += int((f["p_fake"] >= threshold) == bool(r["label"]))
    return selective_summary(len(records), given, correct)


def by_kind(records: list[dict], rules: AbstainRules | None, threshold: float) -> dict:
    return per_kind(records, ("original", "screenshot"), lambda part: selective(part, rules, threshold))


def size_limit_by_false_alarms(sizes_val: list[dict], sizes_shipped: list[dict] | None = None,
                               shipped_min_px: int | None = None) -> tuple[int, dict]:
    """The face size below which real faces get called fake more often, read on each validation size sweep
    (the strictest wins: another sample can only raise the limit). Alone, a sweep reads the model against itself
    as found; with `sizes_shipped` (the shipped model's sweeps of the same samples, in the same order) it reads a
    candidate that would replace the shipped model against it, never below the shipped model's `shipped_min_px`."""
    from benchmarks.false_alarm_study import FACE_SIZES, min_face_px_against_shipped, min_face_px_by_false_alarms

    if sizes_shipped is not None and len(sizes_shipped) != len(sizes_val or []):
        raise ValueError("give one --sizes-shipped sweep for each --sizes-val sweep, of the same sample and in the same order")
    limits, evidence = [], {"samples": []}
    for i, sweep in enumerate(sizes_val):
        self_px, self_evidence = min_face_px_by_false_alarms(sweep["records"])
        sample = {"per_class": sweep.get("per_class"), "skip": sweep.get("skip", 0), "sets": sweep.get("sets"),
                  "against_itself": self_evidence, "size_against_itself": self_px}
        chosen = self_px
        if sizes_shipped is not None:
            chosen, sample["against_shipped"] = min_face_px_against_shipped(sweep["records"], sizes_shipped[i]["records"])
            sample["size_against_shipped"], sample["shipped_model"] = chosen, sizes_shipped[i].get("model")
        # None: even the sweep's largest size raised false alarms; its largest size is then the limit
        limits.append(chosen if chosen is not None else max(FACE_SIZES))
        evidence["samples"].append(sample)
    limit = max(limits + ([shipped_min_px] if shipped_min_px else []))
    evidence.update(reading="against the shipped model" if sizes_shipped is not None else "against itself as found",
                    shipped_min_px=shipped_min_px, size_by_false_alarms=limit)
    return limit, evidence


def choose(size: dict, val: dict, test: dict | None, sizes_val: list[dict] | None = None,
           sizes_shipped: list[dict] | None = None, shipped_min_px: int | None = None) -> tuple[AbstainRules, dict]:
    """Size limit from the AUC-vs-size curve and, with `sizes_val` (validation size sweeps), no smaller than the
    size below which real faces get called fake more often (the stricter of the two; `size_limit_by_false_alarms`);
    blur floor, detector-confidence floor and flip tolerance chosen together on validation pictures (and their
    screenshot copies) by the utility right +1, wrong -WRONG_COST, no verdict 0."""
    threshold = val["threshold"]
    min_px, size_evidence = choose_min_face_px(size)
    if sizes_val or sizes_shipped:  # shipped sweeps without the candidate's are refused there
        strict, size_evidence["size_false_alarms_val"] = size_limit_by_false_alarms(sizes_val, sizes_shipped, shipped_min_px)
        size_evidence["size_by_auc"] = min_px
        min_px = strict if min_px is None else max(min_px, strict)
    sharp_options = sharpness_candidates(size)
    grid = {}
    for sharp_name, sharp in sharp_options.items():
        for prob in (None, *PROB_CUTS):
            for k in range(len(PERTURBATIONS) + 1):
                rules = AbstainRules(min_face_px=min_px, min_sharpness=sharp, min_face_prob=prob, max_disagree=k)
                grid[(sharp_name, prob, k)] = (rules, by_kind(val["records"], rules, threshold)["all"])
    best = max(grid, key=lambda key: (grid[key][1]["utility"], key[0] == "none", key[1] is None, -key[2]))
    rules = grid[best][0]
    rules.measured = True
    evidence = {"auc_drop_allowed": AUC_DROP, "wrong_cost": WRONG_COST, **size_evidence,
                "mean_auc_by_blur": mean_auc(size, "auc_by_blur", BLURS), "sharpness_candidates": sharp_options,
                "auc_by_face_prob": face_prob_auc(size),
                "val_flip_tolerance": {str(k): grid[(best[0], best[1], k)][1] for k in range(len(PERTURBATIONS) + 1)},
                "val_before": by_kind(val["records"], None, threshold), "val_after": by_kind(val["records"], rules, threshold),
                "val_n_per_class_per_set": val["per_class"], "size_n_per_class_per_set": size["per_class"]}
    if test is not None:
        evidence["test_before"] = by_kind(test["records"], None, threshold)
        evidence["test_after"] = by_kind(test["records"], rules, threshold)
        evidence["test_n_per_class_per_set"] = test["per_class"]
    rules.evidence = evidence
    by_false_alarms = ""
    if sizes_val and sizes_shipped is not None:
        by_false_alarms = (f"; no smaller than the smallest size of {len(sizes_val)} validation size sweep(s) at which this model calls no "
                           "more of the same real faces fake than the shipped model, at the threshold and the likely-manipulated cut, "
                           f"nor than the shipped model's {shipped_min_px} px (benchmarks/false_alarm_study.py)")
    elif sizes_val:
        by_false_alarms = ("; no smaller than the smallest validation size sweep's size at which real faces are not called fake "
                           "significantly more often than as found (benchmarks/false_alarm_study.py)")
    rules.source = (f"measured by scripts/measure_abstain.py on {', '.join(SETS)}: the size limit where mean validation AUC falls more "
                    f"than {AUC_DROP} below its value at {max(SIZES)} px{by_false_alarms}; blur, detector-confidence and flip "
                    f"limits chosen on validation pictures and screenshot copies (right +1, wrong -{WRONG_COST:g}, no verdict 0)")
    return rules, evidence


# Sample sizes of the one-command measurement (`all`): pictures (clips) per class and set, per step.
ALL_PER_CLASS = {"size": 40, "val": 20, "test": 20, "sizes_val": 120, "videos_val": 10, "videos_test": 10}


def measure_sizes(detector, data: Path, split: str, per_class: int, sets: tuple[str, ...] | None = None, skip: int = 0) -> dict:
    """Real and fake faces as found and shrunk to 200 ... 64 px (benchmarks/false_alarm_study.py's sweep); `skip`
    draws a sample that shares no picture with one of `skip` per class."""
    from benchmarks.false_alarm_study import SIZE_SETS, size_sweep

    sets = tuple(sets or SIZE_SETS)
    return {"split": split, "per_class": per_class, "skip": skip, "sets": list(sets),
            "records": size_sweep(detector, data, split, sets, per_class, skip=skip)}


def measure(detector, step: str, data: Path, split: str, per_class: int, sets: tuple[str, ...] | None = None, skip: int = 0) -> dict:
    """One measuring step's JSON (size or faces), tagged with the model and the seconds it took; `sets` and `skip`
    apply to the size sweep (`sizes`) only."""
    start = time.perf_counter()
    steps = {"size": lambda: measure_size(detector, data, split, per_class), "faces": lambda: measure_faces(detector, data, split, per_class),
             "videos": lambda: measure_videos(detector, data, split, per_class),
             "sizes": lambda: measure_sizes(detector, data, split, per_class, sets, skip)}
    result = steps[step]()
    result["model"] = f"{detector.config.name} {detector.config.version}"
    result["seconds"] = round(time.perf_counter() - start, 1)
    print(f"{step} {split} done in {result['seconds']} s", file=sys.stderr)
    return result


def save(result: dict, path: Path | None) -> None:
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result))


def staged_check(val: dict, test: dict | None, rules: AbstainRules) -> tuple[list[str] | None, dict]:
    """The staged check's first stage chosen on the validation records (benchmarks/staged_copies.py), or None (all
    11 copies in one pass) when it changes more than 1 final verdict on a split; with its evidence (per-file
    changes left out)."""
    from benchmarks.staged_copies import choose_first_stage  # imports this module: not at the top

    first, evidence = choose_first_stage(val, test, rules)
    for step in evidence["sweep"]:
        for split in ("val", "test"):
            step.get(split, {}).pop("changes", None)
    return (first if evidence["adopted"] else None), evidence


def not_validation(**measurements: dict | None) -> str | None:
    """Why these measurements may not choose limits: one was not taken on the validation split (None when all were).
    A size sweep stored without a split predates the choice and was measured on test."""
    wrong = [f"--{name.replace('_', '-')} ({m.get('split', 'test')})" for name, m in measurements.items()
             if m is not None and m.get("split", "test") != "val"]
    if not wrong:
        return None
    return (f"limits are chosen on validation measurements only, and {', '.join(wrong)} "
            "came from another split: measure them again with --split val")


def choose_and_write(size: dict, val: dict, test: dict | None, folder: Path, write: bool,
                     videos_val: dict | None = None, videos_test: dict | None = None, out: Path | None = None,
                     sizes_val: list[dict] | None = None, sizes_shipped: list[dict] | None = None,
                     shipped_min_px: int | None = None) -> int:
    """Choose the limits (the video tolerance too when validation clips are given), print them with the
    selective-prediction rows, save the choice and its evidence to `out`, and (with `write`) store
    abstain.json in `folder`, refusing measurements of another model version."""
    from detector.stability import model_id, model_input

    sweeps = {f"sizes_val[{i}]": sweep for i, sweep in enumerate(sizes_val or [])}
    sweeps.update({f"sizes_shipped[{i}]": sweep for i, sweep in enumerate(sizes_shipped or [])})
    problem = not_validation(size=size, val=val, videos_val=videos_val, **sweeps)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        rules, evidence = choose(size, val, test, sizes_val, sizes_shipped, shipped_min_px)
    except ValueError as error:  # shipped sweeps of other samples, or not one for each candidate sweep
        print(f"error: {error}", file=sys.stderr)
        return 2
    if videos_val is not None:
        rules.max_disagree_video, video_evidence = choose_video_tolerance(videos_val, videos_test, rules.max_disagree)
        evidence.update(video_evidence)
        rules.source += ("; the video tolerance chosen the same way on composed validation clips and their re-shared "
                         "copies (the headline track's verdict under the 11 changes)")
        for key in ("video_val_before", "video_val_after", "video_test_before", "video_test_after"):
            if key in evidence:
                print(key, {k: (v["coverage"], v["accuracy_given"]) for k, v in evidence[key].items()})
    rules.first_stage, evidence["staged_check"] = staged_check(val, test, rules)
    if rules.first_stage:
        rules.source += (f"; the staged check scores {len(rules.first_stage)} copies first, chosen on validation pictures as the "
                         "fewest that flip every face any copy flips (benchmarks/staged_copies.py)")
    if out:
        save({"rules": {k: v for k, v in json.loads(rules.to_json()).items() if k != "evidence"}, "evidence": evidence,
              "models": sorted({part.get("model") for part in (size, val, test, videos_val, videos_test, *(sizes_val or [])) if part})}, out)
    print(json.dumps({k: v for k, v in json.loads(rules.to_json()).items() if k != "evidence"}, indent=1))
    for key in ("val_before", "val_after", "test_before", "test_after"):
        if key in evidence:
            print(key, {k: (v["coverage"], v["accuracy_given"]) for k, v in evidence[key].items()})
    if not write:
        return 0
    rules.model, rules.model_input = model_id(folder), model_input(folder)
    measured_on = {part.get("model") for part in (size, val, test, videos_val, videos_test, *(sizes_val or [])) if part}
    if measured_on != {rules.model}:
        print(f"error: the measurements are of {sorted(measured_on)}, not {rules.model}", file=sys.stderr)
        return 1
    (folder / RULES_FILE).write_text(rules.to_json() + "\n", encoding="utf-8")
    print(f"wrote {folder / RULES_FILE}")
    return 0


def shipped_size_limit(folder: Path, sweeps: list[dict] | None) -> int | None | str:
    """The shipped model's measured size limit (the floor of a replacement's), None without shipped sweeps, or why
    not: the sweeps must be of the model in `folder`, and it must have measured limits."""
    from detector.stability import model_id

    if not sweeps:
        return None
    shipped = model_id(folder)
    if {sweep.get("model") for sweep in sweeps} != {shipped}:
        return f"--sizes-shipped sweeps are of {sorted({str(s.get('model')) for s in sweeps})}, not of {shipped} in {folder}"
    return shipped_floor(folder)


def shipped_floor(folder: Path) -> int | str:
    """The shipped model's measured size limit (a replacement's floor), or why it has none."""
    rules = AbstainRules.for_checkpoint(folder)
    if not rules.measured:
        return f"{folder} has no measured abstain limits to be the floor"
    return rules.min_face_px


# A replacement's second size-sweep sample: validation faces the first sweep did not use (DFDC is the only validation
# set with enough of them), as in session 20's reading of 2.4.0 against 2.3.0.
FRESH_SWEEP = {"per_class": 400, "sets": ("dfdc",), "skip": ALL_PER_CLASS["sizes_val"]}


def replacement_sweeps(detector, shipped_detector, data: Path, results: Path, first: dict) -> tuple[list[dict], list[dict]]:
    """For a model that would replace the shipped one: a fresh validation sweep beside the `first`, and the shipped
    model's sweeps of both samples (the same faces, in the same order); each saved under `results`."""
    fresh_args = (FRESH_SWEEP["per_class"], FRESH_SWEEP["sets"], FRESH_SWEEP["skip"])
    fresh = measure(detector, "sizes", data, "val", *fresh_args)
    save(fresh, results / "abstain_sizes_val_fresh.json")
    shipped = [measure(shipped_detector, "sizes", data, "val", ALL_PER_CLASS["sizes_val"]),
               measure(shipped_detector, "sizes", data, "val", *fresh_args)]
    save(shipped[0], results / "abstain_sizes_val_shipped.json")
    save(shipped[1], results / "abstain_sizes_val_fresh_shipped.json")
    return [first, fresh], shipped


def run_all(detector, data: Path, results: Path, folder: Path, write: bool, videos: bool = False,
            shipped_detector=None, shipped_min_px: int | None = None) -> int:
    """Every step for one model folder in one process: size, validation and test faces, with `videos` also
    validation and test clips (about 10 more minutes; without them tracks use the photo's tolerance), choose.
    With `shipped_detector` (the model this one would replace) the size sweeps are read against it
    (`replacement_sweeps`, about 3 more minutes), never below its `shipped_min_px`."""
    start = time.perf_counter()
    size = measure(detector, "size", data, "val", ALL_PER_CLASS["size"])
    save(size, results / "abstain_size.json")
    faces, clips = {}, {}
    for split in ("val", "test"):
        faces[split] = measure(detector, "faces", data, split, ALL_PER_CLASS[split])
        save(faces[split], results / f"abstain_faces_{split}.json")
    sizes_val = measure(detector, "sizes", data, "val", ALL_PER_CLASS["sizes_val"])
    save(sizes_val, results / "abstain_sizes_val.json")
    sweeps, shipped_sweeps = [sizes_val], None
    if shipped_detector is not None:
        sweeps, shipped_sweeps = replacement_sweeps(detector, shipped_detector, data, results, sizes_val)
    for split in ("val", "test") if videos else ():
        clips[split] = measure(detector, "videos", data, split, ALL_PER_CLASS[f"videos_{split}"])
        save(clips[split], results / f"abstain_videos_{split}.json")
    code = choose_and_write(size, faces["val"], faces["test"], folder, write, clips.get("val"), clips.get("test"),
                            results / "abstain_choice.json", sweeps, shipped_sweeps, shipped_min_px)
    print(f"all steps done in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return code


def replacement_floor(folder: Path, shipped: Path) -> int | None | str:
    """For `all --against-shipped`: the shipped model's size limit (the floor), or why `folder` cannot be read against it."""
    from detector.stability import model_id

    if model_id(shipped) == model_id(folder):
        return f"{folder} holds the shipped model ({model_id(shipped)}): --against-shipped is for a model that would replace it"
    return shipped_floor(shipped)


def misplaced_options(args: argparse.Namespace) -> str | None:
    """An option given to a step that does not use it (a flag ignored without a word would mislead), or None."""
    if (args.sets or args.skip) and args.step != "sizes":
        return "--sets and --skip apply to the `sizes` step only"
    if args.against_shipped and args.step != "all":
        return "--against-shipped applies to the `all` step only (for `choose`, give --sizes-shipped)"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("all", "size", "faces", "sizes", "videos", "choose"))
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--split", default="val", choices=("val", "test"))
    parser.add_argument("--per-class", type=int, default=50)
    parser.add_argument("--model", type=Path, help="checkpoint folder (default: the shipped model)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--results", type=Path, default=Path("benchmarks/results"), help="all: where each step's JSON goes")
    parser.add_argument("--size", type=Path)
    parser.add_argument("--val", type=Path)
    parser.add_argument("--test", type=Path)
    parser.add_argument("--videos-val", type=Path, help="choose: the `videos --split val` JSON (sets the video tolerance)")
    parser.add_argument("--videos-test", type=Path, help="choose: the `videos --split test` JSON (reported)")
    parser.add_argument("--sizes-val", type=Path, nargs="+", help="choose: `sizes --split val` JSONs (a face size below which "
                        "real faces are called fake more often is too small as well; the strictest sample wins)")
    parser.add_argument("--sizes-shipped", type=Path, nargs="+", help="choose, for a model that would replace the shipped one: "
                        "the shipped model's sweeps of the same samples, in the same order; the candidate is then read against "
                        "them instead of against itself, and never below the shipped model's own size limit")
    parser.add_argument("--shipped", type=Path, help="with --sizes-shipped or --against-shipped: the shipped model's folder "
                        "(default: the default model), whose measured size limit is the floor")
    parser.add_argument("--against-shipped", action="store_true", help="all, for a model that would replace the shipped "
                        "one: sweep a fresh validation sample too, sweep both samples with the shipped model, and read the "
                        "size limit against it (about 3 more minutes)")
    parser.add_argument("--videos", action="store_true", help="all: also measure clips and choose the video tolerance "
                        "(about 10 more minutes; without it tracks use the photo's tolerance)")
    parser.add_argument("--sets", nargs="+", help="sizes: these sets instead of the sweep's seven")
    parser.add_argument("--skip", type=int, default=0, help="sizes: leave out the seeded order's first SKIP pictures per "
                        "class (a fresh sample beside one of SKIP per class)")
    parser.add_argument("--write", action="store_true", help="write abstain.json into the model folder")
    args = parser.parse_args(argv)
    from detector.checkpoint import default_checkpoint

    folder = args.model or default_checkpoint()
    misplaced = misplaced_options(args)
    if misplaced:
        print(f"error: {misplaced}", file=sys.stderr)
        return 2
    if args.step == "choose":
        load = lambda p: json.loads(p.read_text()) if p else None  # noqa: E731
        loads = lambda ps: [load(p) for p in ps] if ps else None  # noqa: E731
        shipped_min_px = shipped_size_limit(args.shipped or default_checkpoint(), loads(args.sizes_shipped))
        if isinstance(shipped_min_px, str):
            print(f"error: {shipped_min_px}", file=sys.stderr)
            return 2
        return choose_and_write(load(args.size), load(args.val), load(args.test), folder, args.write,
                                load(args.videos_val), load(args.videos_test), args.out, loads(args.sizes_val),
                                loads(args.sizes_shipped), shipped_min_px)
    if not args.data.is_dir():
        print(f"error: data folder {args.data} not found", file=sys.stderr)
        return 1
    from detector.inference import Detector

    shipped_detector = floor = None
    if args.step == "all" and args.against_shipped:
        shipped = args.shipped or default_checkpoint()
        floor = replacement_floor(folder, shipped)
        if isinstance(floor, str):
            print(f"error: {floor}", file=sys.stderr)
            return 2
        shipped_detector = Detector(shipped)
    detector = Detector(folder)
    if args.step == "all":
        return run_all(detector, args.data, args.results, folder, args.write, videos=args.videos,
                       shipped_detector=shipped_detector, shipped_min_px=floor)
    save(measure(detector, args.step, args.data, args.split, args.per_class, args.sets, args.skip), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
