"""Videos made by the tests with OpenCV from the bundled samples (never downloaded)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from tests.conftest import SAMPLES


def _bgr(image: Image.Image) -> np.ndarray:
    return cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2BGR)


def write_video(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    assert writer.isOpened(), "OpenCV cannot write mp4v here"
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


# The astronaut's head cut to this many pixels makes MTCNN find a face of about 111 px: above the shipped model's
# measured size limit (96 px for 2.4.0), so its tracks get verdicts. At 200 px it was 91 px.
FACE_SIDE = 240


def moving_face(path: Path, seconds: float = 4.0, fps: float = 10.0, size=(640, 360)) -> Path:
    """One face (about 111 px) drifting left to right over a grey background."""
    face = Image.open(SAMPLES / "astronaut.jpg").crop((120, 0, 360, 240)).resize((FACE_SIDE, FACE_SIDE))
    frames = []
    n = int(seconds * fps)
    for i in range(n):
        canvas = Image.new("RGB", size, (90, 90, 90))
        canvas.paste(face, (int(20 + (size[0] - FACE_SIDE - 40) * i / max(1, n - 1)), 60))
        frames.append(_bgr(canvas))
    return write_video(path, frames, fps)


def interview_cut(path: Path, seconds: float = 4.0, fps: float = 10.0) -> Path:
    """Two shots: a face on a blue wall, then after a cut at half time the other face (the self-blended one)
    on a beige wall, 1.7 face sizes to the right, as in an interview cut between two people."""
    first = Image.open(SAMPLES / "astronaut.jpg").crop((120, 0, 360, 240)).resize((FACE_SIDE, FACE_SIDE))
    second = Image.open(SAMPLES / "astronaut_selfblended.jpg").crop((120, 0, 360, 240)).resize((FACE_SIDE, FACE_SIDE))
    frames = []
    for i in range(int(seconds * fps)):
        after = i >= seconds * fps / 2
        canvas = Image.new("RGB", (800, 360), (205, 185, 150) if after else (40, 70, 140))
        canvas.paste(second if after else first, (int(40 + 1.7 * 113) if after else 40, 60))
        frames.append(_bgr(canvas))
    return write_video(path, frames, fps)


def two_people(path: Path, seconds: float = 3.0, fps: float = 10.0) -> Path:
    """The real and the self-blended astronaut, standing still side by side; faces of about 111 px (FACE_SIDE)."""
    real = Image.open(SAMPLES / "astronaut.jpg").crop((120, 0, 360, 240)).resize((FACE_SIDE, FACE_SIDE))
    fake = Image.open(SAMPLES / "astronaut_selfblended.jpg").crop((120, 0, 360, 240)).resize((FACE_SIDE, FACE_SIDE))
    canvas = Image.new("RGB", (640, 360), (60, 60, 60))
    canvas.paste(real, (40, 60))
    canvas.paste(fake, (360, 60))
    return write_video(path, [_bgr(canvas)] * int(seconds * fps), fps)


def no_face(path: Path, seconds: float = 2.0, fps: float = 10.0) -> Path:
    rocket = Image.open(SAMPLES / "rocket_no_face.jpg").resize((640, 360))
    return write_video(path, [_bgr(rocket)] * int(seconds * fps), fps)


def one_frame(path: Path) -> Path:
    face = Image.open(SAMPLES / "astronaut.jpg").resize((512, 512))
    return write_video(path, [_bgr(face)], 25.0)
