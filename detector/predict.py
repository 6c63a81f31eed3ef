"""Score the faces in image files.

    python -m detector.predict FILE... [--model DIR] [--json]

Each bad file (empty, truncated, not an image, a decompression bomb, an unsupported type)
gets one line on stderr and the others are still processed; the exit code is 1 when any file
failed, 0 otherwise. `--json` prints one JSON list on the last line of stdout:
[{"file": ..., "faces": [{"box", "p_fake", "label", "fallback", ...}], "p_fake": max}].
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from detector.errors import DetectorError, InputError
from detector.imageio import IMAGE_SUFFIXES, load_image


def predict_file(detector, path: Path) -> dict:
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise InputError(f"{path.name}: unsupported file type '{path.suffix or 'none'}' (use {', '.join(IMAGE_SUFFIXES)})")
    image = load_image(path)
    result = detector.analyze(image)
    return {
        "file": str(path),
        "width": image.width,
        "height": image.height,
        "faces": [f.to_dict() for f in result.faces],
        "p_fake": result.p_fake,
        "notes": result.notes,
        "seconds": round(result.seconds, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Score the faces in image files.")
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--model", type=Path, help="checkpoint folder (default: the shipped model)")
    parser.add_argument("--json", action="store_true", help="one JSON list on the last line of stdout")
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
            result = predict_file(detector, path)
        except DetectorError as exc:
            failed += 1
            message = str(exc)
            print(f"error: {message if path.name in message else f'{path.name}: {message}'}", file=sys.stderr)
            continue
        results.append(result)
        if not args.json:
            faces = result["faces"]
            print(f"{path}: {len(faces)} face(s)" + "".join(
                f"\n  face {f['face']}: P(fake)={f['p_fake']:.3f} {f['label']}{' (no face detected: whole picture used)' if f['fallback'] else ''}"
                for f in faces
            ))
    if args.json:
        print(json.dumps(results))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
