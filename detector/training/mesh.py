"""Dense face outlines for the real training faces (MediaPipe Face Mesh), for landmark-accurate swap masks.

    /path/to/mesh-venv/bin/python -m detector.training.mesh cache/sources   (see scripts/setup_mesh_venv.sh)

MTCNN's five points only say where the eyes, nose and mouth are; a face swap's blending boundary
follows the face outline (jaw, cheeks, forehead). Self-blending (Shiohara & Yamasaki 2022) and the
classical swaps use the convex hull of the face outline for their masks. MediaPipe's Face Mesh (468
points; its model ships inside the `mediapipe==0.10.14` wheel) gives that outline. It needs numpy<2,
so it runs once, at training-data preparation time, from a venv of its own; the app never imports it.
This module therefore imports nothing from the project.

Reads `<sources>/sources.json` (detector.training.sources) and writes `<sources>/mesh.json`:
{file: [[x, y], ...]}, the 36 face-oval points in picture coordinates, for each real picture whose
largest face the mesh finds.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image


def face_oval(mesh, image: np.ndarray, box: list[float], oval: list[int]) -> list[list[float]] | None:
    """Run the mesh on a square around the face (faces fill it like the mesh's training crops)."""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1) * 1.8
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left, top = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    right, bottom = int(min(width, cx + side / 2)), int(min(height, cy + side / 2))
    patch = np.ascontiguousarray(image[top:bottom, left:right])
    if patch.shape[0] < 16 or patch.shape[1] < 16:
        return None
    result = mesh.process(patch)
    if not result.multi_face_landmarks:
        return None
    points = result.multi_face_landmarks[0].landmark
    ph, pw = patch.shape[:2]
    return [[round(points[i].x * pw + left, 1), round(points[i].y * ph + top, 1)] for i in oval]


def main(argv: list[str] | None = None) -> int:
    import mediapipe as mp

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or not (Path(argv[0]) / "sources.json").is_file():
        print("usage: python -m detector.training.mesh SOURCES_DIR (holding sources.json)", file=sys.stderr)
        return 2
    folder = Path(argv[0])
    sources = json.loads((folder / "sources.json").read_text())
    root = Path(sources["root"])
    oval = sorted({i for edge in mp.solutions.face_mesh.FACEMESH_FACE_OVAL for i in edge})
    out, started = {}, time.time()
    reals = [r for r in sources["records"] if r["label"] == 0]
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1) as mesh:
        for n, record in enumerate(reals):
            image = np.asarray(Image.open(root / record["file"]).convert("RGB"))
            points = face_oval(mesh, image, record["faces"][0]["box"], oval)
            if points is not None:
                out[record["file"]] = points
            if n % 1000 == 0:
                print(f"{n}/{len(reals)}, {len(out)} outlines, {time.time() - started:.0f} s", flush=True)
    (folder / "mesh.json").write_text(json.dumps(out))
    print(f"{len(out)} of {len(reals)} real pictures with a face outline, {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
