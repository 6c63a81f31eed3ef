"""Reframe a training picture the way the app will meet it, then cut the face out with the app's crop.

A journalist's upload is rarely a tight face crop: it is a photo with a face somewhere in it, a
screenshot of a social-media post, a grid of several pictures, something resized and re-compressed
on the way. The detector learnt the framing of its training sets instead (DFDC crops are the whole
picture, so the app's crop of them is the whole picture; the crop of the same face pasted into a
larger picture has a border of whatever surrounds it). Every training picture, real or fake, goes
through the same random reframing here:

    plain       the picture as it is
    canvas      pasted onto a larger flat / gradient / noise / photographic background
    post        inside a social-media post mock-up (header, avatar, text lines, buttons)
    screenshot  a post mock-up inside a phone screenshot (status and navigation bars)
    grid        one cell of a grid of several pictures
    group       a small picture among 2-5 others scattered on a large background (a group photo, a
                collage): faces of roughly 60-200 px, the size range where real faces were most often
                called fake in composed group scenes

at a random scale (0.3-3x, a random resampling filter) and with a JPEG re-compression of the
whole composed picture; then the face box (mapped through the same geometry and jittered by about
MTCNN's own box spread) goes through `detector.faces.square_crop_box` and `crop_face`, exactly the
app's crop policy. Only the face's own label counts; the surroundings are label-free context.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction

import cv2
import numpy as np
from PIL import Image

from detector.faces import CROP_MARGIN, crop_face, square_crop_box

cv2.setNumThreads(1)

FRAMINGS = ("plain", "canvas", "post", "screenshot", "grid", "group")
DEFAULT_FRAMING_WEIGHTS = {"plain": 0.3, "canvas": 0.25, "post": 0.15, "screenshot": 0.1, "grid": 0.2}
RESAMPLERS = (cv2.INTER_NEAREST, cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_AREA, cv2.INTER_LANCZOS4)
MAX_CANVAS_SIDE = 1600
MIN_FACE_SIDE = 40  # smaller faces are not worth a training sample (and the app may not judge them)
# CRF range of the training's video frames: from what a phone or platform keeps (18) to FaceForensics++'s c40.
VIDEO_CRF = (18, 40)


def parse_shares(items: list[str]) -> dict[str, float]:
    """["dfdc=0.5", "stylegan1_ffhq=0.25"] -> {"dfdc": 0.5, "stylegan1_ffhq": 0.25}: a trainer's --shares or
    --framings. Here rather than in train.py so the reframed trainer needs no tqdm (the GPU device's path)."""
    shares = {}
    for item in items:
        name, _, value = item.partition("=")
        shares[name] = float(value)
    return shares


def framing_weights(named: dict[str, float]) -> dict[str, float]:
    """The default framing weights with the named ones replaced (a trainer's --framings); an unknown framing is
    a ValueError, so a typo cannot silently train or measure on the defaults."""
    unknown = set(named) - set(FRAMINGS)
    if unknown:
        raise ValueError(f"unknown framing(s) {sorted(unknown)}; known: {', '.join(FRAMINGS)}")
    return {**DEFAULT_FRAMING_WEIGHTS, **named}


@dataclass
class Framed:
    """A composed picture and where the face of interest ended up in it."""

    picture: np.ndarray  # (H, W, 3) uint8 RGB
    box: tuple[float, float, float, float]  # x1, y1, x2, y2
    framing: str


def _resize(image: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
    height, width = image.shape[:2]
    size = (max(8, int(round(width * scale))), max(8, int(round(height * scale))))
    return cv2.resize(image, size, interpolation=RESAMPLERS[int(rng.integers(len(RESAMPLERS)))])


def background(height: int, width: int, rng: np.random.Generator, others: list[np.ndarray]) -> np.ndarray:
    """A flat, gradient, noise or photographic (another picture, blown up and blurred) background."""
    kind = rng.choice(["flat", "gradient", "noise", "photo"], p=[0.25, 0.2, 0.25, 0.3])
    if kind == "photo" and others:
        other = others[int(rng.integers(len(others)))]
        y0, x0 = int(rng.integers(0, max(1, other.shape[0] // 3))), int(rng.integers(0, max(1, other.shape[1] // 3)))
        patch = other[y0 : y0 + max(8, other.shape[0] // 2), x0 : x0 + max(8, other.shape[1] // 2)]
        out = cv2.resize(patch, (width, height), interpolation=cv2.INTER_LINEAR)
        return cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 6.0))
    colour = rng.integers(0, 256, size=3).astype(np.float32)
    if kind == "flat":
        return np.full((height, width, 3), colour, dtype=np.uint8)
    if kind == "gradient":
        other = rng.integers(0, 256, size=3).astype(np.float32)
        t = np.linspace(0, 1, width if rng.random() < 0.5 else height, dtype=np.float32)
        ramp = colour + (other - colour) * t[:, None]
        out = np.broadcast_to(ramp[None] if len(t) == width else ramp[:, None], (height, width, 3))
        return np.ascontiguousarray(out).astype(np.uint8)
    # Noise at a random grain: fine sensor noise up to blotchy texture.
    grain = float(rng.choice([1, 4, 16, 48]))
    small = rng.normal(0, 1, (max(1, int(height / grain)), max(1, int(width / grain)), 3)).astype(np.float32)
    field = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(colour + field * rng.uniform(10, 60), 0, 255).astype(np.uint8)


def _text_lines(canvas: np.ndarray, x: int, y: int, width: int, lines: int, rng: np.random.Generator, ink: tuple) -> int:
    """Grey text-like lines (real glyphs from OpenCV's Hershey font); returns the y after them."""
    scale = rng.uniform(0.4, 0.8)
    step = int(28 * scale) + 6
    for _ in range(lines):
        chars = int(width / (14 * scale) * rng.uniform(0.4, 1.0))
        text = "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz     .,#@")) for _ in range(max(3, chars)))
        cv2.putText(canvas, text, (x, y + step), cv2.FONT_HERSHEY_SIMPLEX, scale, ink, 1, cv2.LINE_AA)
        y += step
    return y + 4


def post(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, tuple[int, int]]:
    """A social-media post card around the picture; returns the card and the picture's offset in it."""
    height, width = image.shape[:2]
    dark = rng.random() < 0.3
    paper = (21, 24, 28) if dark else (255, 255, 255)
    ink = (200, 200, 200) if dark else (40, 40, 40)
    pad = int(rng.integers(0, 24))
    header = int(rng.integers(40, 90))
    footer = int(rng.integers(40, 140))
    card = np.full((header + height + footer, width + 2 * pad, 3), paper, dtype=np.uint8)
    radius = header // 3
    avatar = tuple(int(v) for v in rng.integers(0, 256, size=3))
    cv2.circle(card, (pad + radius + 6, header // 2), radius, avatar, -1, cv2.LINE_AA)
    _text_lines(card, pad + 2 * radius + 14, header // 2 - 24, max(40, width // 2), 2, rng, ink)
    card[header : header + height, pad : pad + width] = image
    y = header + height + 4
    for i in range(4):  # like / comment / share buttons
        cv2.circle(card, (pad + 20 + i * 50, y + 14), 9, ink, 1, cv2.LINE_AA)
    _text_lines(card, pad + 8, y + 24, width - 16, int(rng.integers(1, 4)), rng, ink)
    return card, (pad, header)


def screenshot(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, tuple[int, int]]:
    """The post inside a phone screen: status bar on top, navigation bar below, feed around it."""
    card, (px, py) = post(image, rng)
    height, width = card.shape[:2]
    top, bottom = int(rng.integers(24, 70)), int(rng.integers(30, 90))
    above, below = int(rng.integers(0, height // 2 + 1)), int(rng.integers(0, height // 2 + 1))
    screen = np.full((top + above + height + below + bottom, width, 3), card[0, 0], dtype=np.uint8)
    bar = tuple(int(v) for v in rng.integers(0, 256, size=3))
    screen[:top] = bar
    screen[-bottom:] = bar
    _text_lines(screen, 10, top + 4, width - 20, max(1, above // 30), rng, (120, 120, 120))
    screen[top + above : top + above + height] = card
    return screen, (px, top + above + py)


def frame(
    image: np.ndarray,
    box: tuple[float, float, float, float],
    rng: np.random.Generator,
    others: list[np.ndarray],
    framing: str | None = None,
    weights: dict[str, float] | None = None,
) -> Framed:
    """Reframe one picture (see module doc); `others` give grid neighbours and photo backgrounds."""
    weights = weights or DEFAULT_FRAMING_WEIGHTS
    if framing is None:
        names = list(weights)
        p = np.array([weights[n] for n in names], dtype=np.float64)
        framing = str(rng.choice(names, p=p / p.sum()))
    face_side = max(box[2] - box[0], box[3] - box[1], 1.0)
    low = max(0.3, MIN_FACE_SIDE / face_side)
    high = max(low, min(3.0, MAX_CANVAS_SIDE / 2.5 / max(image.shape[:2])))
    scale = float(np.exp(rng.uniform(np.log(low), np.log(high)))) if rng.random() < 0.7 else 1.0
    if framing == "group":  # pictures 150-360 px wide, as a group photo or collage holds them
        scale = rng.uniform(150, 360) / image.shape[1]
    scale = min(max(scale, low), max(high, low))
    picture = _resize(image, scale, rng) if abs(scale - 1.0) > 1e-3 else image
    sy, sx = picture.shape[0] / image.shape[0], picture.shape[1] / image.shape[1]
    box = (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)
    if framing == "plain":
        return Framed(picture, box, framing)
    if framing in ("post", "screenshot"):
        composed, (ox, oy) = (post if framing == "post" else screenshot)(picture, rng)
    elif framing == "grid":
        composed, (ox, oy) = _grid(picture, rng, others)
    elif framing == "group":
        composed, (ox, oy) = _group(picture, rng, others)
    else:
        height, width = picture.shape[:2]
        canvas_h = int(min(MAX_CANVAS_SIDE, height * rng.uniform(1.2, 3.5)))
        canvas_w = int(min(MAX_CANVAS_SIDE, width * rng.uniform(1.2, 3.5)))
        canvas_h, canvas_w = max(canvas_h, height), max(canvas_w, width)
        composed = background(canvas_h, canvas_w, rng, others)
        ox, oy = int(rng.integers(0, canvas_w - width + 1)), int(rng.integers(0, canvas_h - height + 1))
        composed[oy : oy + height, ox : ox + width] = picture
    return Framed(composed, (box[0] + ox, box[1] + oy, box[2] + ox, box[3] + oy), framing)


def _grid(picture: np.ndarray, rng: np.random.Generator, others: list[np.ndarray]) -> tuple[np.ndarray, tuple[int, int]]:
    """A rows x cols grid with the picture in one cell; neighbours are other pictures cut to the cell."""
    rows, cols = [(1, 2), (2, 1), (2, 2), (1, 3), (3, 3), (2, 3)][int(rng.integers(6))]
    cell_h, cell_w = picture.shape[:2]
    gap = int(rng.integers(0, 12))
    paper = tuple(int(v) for v in rng.integers(0, 256, size=3))
    grid = np.full((rows * cell_h + (rows + 1) * gap, cols * cell_w + (cols + 1) * gap, 3), paper, dtype=np.uint8)
    target = int(rng.integers(rows * cols))
    offset = (0, 0)
    for cell in range(rows * cols):
        x, y = gap + (cell % cols) * (cell_w + gap), gap + (cell // cols) * (cell_h + gap)
        if cell == target:
            grid[y : y + cell_h, x : x + cell_w] = picture
            offset = (x, y)
        elif others:
            other = others[int(rng.integers(len(others)))]
            grid[y : y + cell_h, x : x + cell_w] = cv2.resize(other, (cell_w, cell_h), interpolation=cv2.INTER_AREA)
    return grid, offset


def _group(picture: np.ndarray, rng: np.random.Generator, others: list[np.ndarray]) -> tuple[np.ndarray, tuple[int, int]]:
    """The picture at a random place on a large background, with 2-5 other pictures (each 150-360 px wide,
    maybe mirrored) scattered around it without overlapping."""
    height, width = picture.shape[:2]
    canvas_h = int(min(MAX_CANVAS_SIDE, max(height + 20, rng.uniform(700, 1100))))
    canvas_w = int(min(MAX_CANVAS_SIDE, max(width + 20, rng.uniform(1100, 1600))))
    canvas = background(canvas_h, canvas_w, rng, others)
    ox, oy = int(rng.integers(0, canvas_w - width + 1)), int(rng.integers(0, canvas_h - height + 1))
    canvas[oy : oy + height, ox : ox + width] = picture
    taken = [(ox, oy, ox + width, oy + height)]
    for _ in range(int(rng.integers(2, 6)) if others else 0):
        other = others[int(rng.integers(len(others)))]
        other = other[:, ::-1] if rng.random() < 0.5 else other
        w = int(rng.uniform(150, 360))
        h = max(8, round(other.shape[0] * w / other.shape[1]))
        if h >= canvas_h or w >= canvas_w:
            continue
        for _ in range(20):
            x, y = int(rng.integers(0, canvas_w - w + 1)), int(rng.integers(0, canvas_h - h + 1))
            if all(x + w <= a or x >= c or y + h <= b or y >= d for a, b, c, d in taken):
                canvas[y : y + h, x : x + w] = cv2.resize(other, (w, h), interpolation=cv2.INTER_AREA)
                taken.append((x, y, x + w, y + h))
                break
    return canvas, (ox, oy)


def jitter_box(box: tuple[float, float, float, float], rng: np.random.Generator, spread: float = 0.04) -> tuple[float, ...]:
    """Move and resize a face box by about the spread of MTCNN's boxes for one face across framings."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    dx, dy = rng.normal(0, spread, 2) * (w, h)
    grow = float(np.exp(rng.normal(0, spread)))
    cx, cy = (x1 + x2) / 2 + dx, (y1 + y2) / 2 + dy
    return (cx - w * grow / 2, cy - h * grow / 2, cx + w * grow / 2, cy + h * grow / 2)


def jpeg_bytes_roundtrip(picture: np.ndarray, quality: int) -> np.ndarray:
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(picture, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def h264_roundtrip(picture: np.ndarray, crf: int, preset: str = "medium") -> np.ndarray:
    """The picture as one frame of an H.264 video (h264_bytes), decoded back to RGB: what every frame of a real
    video went through, and what JPEG alone does not teach (FaceForensics++ ships its videos at CRF 23 and 40).
    Odd sides lose their last row or column (4:2:0)."""
    import av

    height, width = picture.shape[0] // 2 * 2, picture.shape[1] // 2 * 2
    if height < 2 or width < 2:
        raise ValueError(f"a {picture.shape[1]}x{picture.shape[0]} picture is too small for a video frame")
    with av.open(io.BytesIO(h264_bytes([picture[:height, :width]], 25, crf, preset))) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24")


def h264_bytes(frames: list[np.ndarray], fps: float, crf: int, preset: str = "medium") -> bytes:
    """RGB frames (even sides, all one size) as an H.264 MP4 in memory: libx264 at `crf`, 4:2:0, one thread so
    the bytes are the same every run."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(int(crf)), "preset": preset, "threads": "1"}
        for picture in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def app_crop(
    picture: np.ndarray, box: tuple[float, ...], size: int, margin: float = CROP_MARGIN, rng: np.random.Generator | None = None
) -> np.ndarray:
    """The app's crop of a face in a composed picture (box jittered when an rng is given)."""
    if rng is not None:
        box = jitter_box(box, rng)
    height, width = picture.shape[:2]
    box = (max(0.0, box[0]), max(0.0, box[1]), min(float(width), box[2]), min(float(height), box[3]))
    crop_box = square_crop_box(box, (width, height), margin)
    return np.array(crop_face(Image.fromarray(picture), crop_box, size), dtype=np.uint8)


def video_frame_drawn(rng: np.random.Generator, video_p: float) -> bool:
    """Whether a sample becomes a video frame: one draw when video_p > 0, none otherwise."""
    return video_p > 0 and bool(rng.random() < video_p)


def reframed_crop(
    image: np.ndarray,
    box: tuple[float, float, float, float],
    rng: np.random.Generator,
    size: int,
    others: list[np.ndarray],
    margin: float = CROP_MARGIN,
    jpeg_p: float = 0.6,
    weights: dict[str, float] | None = None,
    video_p: float = 0.0,
    video: bool | None = None,
) -> tuple[np.ndarray, str]:
    """Maybe make the picture a video frame (H.264 at CRF VIDEO_CRF, with probability `video_p`), reframe, maybe
    re-compress the whole composed picture, then crop like the app. Returns (crop, framing). With video_p 0 no random
    number is drawn for it, so the streams of earlier recipes stay what they were. A caller that must know whether
    the sample became a frame draws it itself (`video_frame_drawn`) and passes `video`."""
    if video is None:
        video = video_frame_drawn(rng, video_p)
    if video:
        image = h264_roundtrip(image, int(rng.integers(VIDEO_CRF[0], VIDEO_CRF[1] + 1)))
    framed = frame(image, box, rng, others, weights=weights)
    picture = framed.picture
    if rng.random() < jpeg_p:
        picture = jpeg_bytes_roundtrip(picture, int(rng.integers(40, 96)))
    return app_crop(picture, framed.box, size, margin, rng), framed.framing
