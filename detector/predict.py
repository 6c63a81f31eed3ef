"""Score the faces in image and video files.

    python -m detector.predict FILE... [--model DIR] [--json] [--fps 1] [--max-frames 32]

Each bad file (empty, truncated, not an image, a decompression bomb, an unsupported type)
gets one line on stderr and the others are still processed; the exit code is 1 when any file
failed, 0 otherwise. `--json` prints one JSON list on the last line of stdout:
[{"file": ..., "faces": [{"box", "p_fake", "label", "fallback", "verdict", "verdict_words", "stability", ...}],
"p_fake", "verdict", "verdict_words" (the headline face's: the most suspicious judged one, as the page leads
with it), "what_this_means": ...}]; "stability" holds the face's P(fake) range under re-compression,
resizing and re-framing and why a verdict was withheld (`--no-stability` skips the check: then
"verdict" is the model's band alone). A video's object has the same keys (each face with its
"frame" and "time") plus "tracks", each with its "stability": the track's P(fake) range when its
deciding frames are re-scored under the same changes, and whether its verdict flips; its top-level "verdict"
is the headline track's (that check included) and "label" only the model's band on its score. Every object has "provenance": what the
file says about itself (C2PA Content Credentials, EXIF/XMP; see detector/provenance.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from detector.errors import DetectorError
from detector.imageio import read_image_bytes


def predict_file(detector, path: Path, sample_fps: float = 1.0, max_frames: int = 32, stability: bool = True) -> dict:
    """One file's JSON object: detector.analysis.ImageAnalysis.to_dict() or VideoAnalysis.to_dict()."""
    from detector.analysis import analyze_image_bytes, analyze_video_file, file_kind

    if file_kind(path.name) == "video":
        # From the path: the frames are decoded one at a time, never the whole video in memory.
        analysis = analyze_video_file(detector, path, path.name, sample_fps=sample_fps, max_frames=max_frames, provenance=True,
                                      stability=stability)
    else:
        analysis = analyze_image_bytes(detector, read_image_bytes(path), path.name, stability=stability, provenance=True)
    return analysis.to_dict(file=str(path))


def spread(face: dict) -> str:
    """' (range 0.41–0.88 across 11 changes)' for the text output; '' without a stability check."""
    from detector.display import format_range

    check = face.get("stability")
    if not check:
        return ""
    scored, total = len(check["perturbations"]), check.get("copies_total", len(check["perturbations"]))
    staged = f" of {total} changes; staged check: the others only when one of these flips the verdict" if scored < total else " changes"
    return f" (range {format_range(check['p_fake_low'], check['p_fake_high'])} across {scored}{staged})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Score the faces in image files.")
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--model", type=Path, help="checkpoint folder (default: the shipped model)")
    parser.add_argument("--json", action="store_true", help="one JSON list on the last line of stdout")
    parser.add_argument("--fps", type=float, default=1.0, help="video: frames sampled per second")
    parser.add_argument("--max-frames", type=int, default=32, help="video: at most this many sampled frames")
    parser.add_argument("--no-stability", action="store_true", help="skip the per-face stability check (about half the time)")
    args = parser.parse_args(argv)
    try:
        from detector.inference import Detector

        detector = Detector(args.model)
    except DetectorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    results, failed = [], 0
    for path in args.files:
        try:
            result = predict_file(detector, path, args.fps, args.max_frames, not args.no_stability)
        except DetectorError as exc:
            failed += 1
            message = str(exc)
            print(f"error: {message if path.name in message else f'{path.name}: {message}'}", file=sys.stderr)
            continue
        results.append(result)
        if not args.json:
            print(f"{path}: provenance: {result['provenance']['headline']}")
        if not args.json and result["kind"] == "video":
            print(video_lines(path, result))
        elif not args.json:
            faces = result["faces"]
            # The picture's verdict first (its headline face's, as the page leads with it), then each face.
            lead = "" if result["verdict"] is None else f": {result['verdict_words']}" + (
                f" (face {result['headline_face']})" if result["headline_face"] else "")
            print(f"{path}: {len(faces)} face(s){lead}" + "".join(
                f"\n  face {f['face']}: {f['verdict_words']} · P(fake) {f['p_fake_text']}{spread(f)}"
                f"{' (no face detected: whole picture used)' if f['fallback'] else ''}"
                for f in faces
            ))
    if args.json:
        print(json.dumps(results))
    return 1 if failed else 0


def video_lines(path: Path, result: dict) -> str:
    """The video's verdict in words (the one the page leads with, its stability check included), then one
    line per track; a track not judged says why instead of a score."""
    from detector.display import NOT_JUDGED, format_probability

    head = f"{path}: {len(result['tracks'])} track(s) over {result['frames_sampled']} frames: "
    if result["verdict"] is None:
        return head + "no face found"
    head += result["verdict_words"] + (f" · P(fake) {format_probability(result['p_fake'])}" if result["p_fake"] is not None else "")
    return head + "".join(
        f"\n  track {t['track']}: {t['verdict_words']} · "
        + ("; ".join(t["reasons"]) if t["verdict"] in NOT_JUDGED else f"P(fake) {format_probability(t['p_fake'])}")
        for t in result["tracks"]
    )


if __name__ == "__main__":
    raise SystemExit(main())
