"""Numbered face boxes over a picture, coloured by verdict."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

VERDICT_COLOURS = {"fake": (220, 40, 40), "real": (30, 160, 60), "uncertain": (240, 160, 0)}

# One colour per video track (person), from the Okabe-Ito colour-blind-safe palette, ordered so that
# the first tracks are far apart in hue (issue 19: two tracks were drawn in two similar blues).
TRACK_PALETTE = [("blue", (0, 114, 178)), ("orange", (230, 159, 0)), ("pink", (204, 121, 167)),
                 ("black", (0, 0, 0)), ("green", (0, 158, 115)), ("red", (213, 94, 0)), ("sky blue", (86, 180, 233)),
                 ("yellow", (240, 228, 66))]


def track_colour(track_id: int) -> tuple[int, int, int]:
    """Track ids start at 1; they cycle through the palette beyond its 8 colours."""
    return TRACK_PALETTE[(track_id - 1) % len(TRACK_PALETTE)][1]


def track_colour_name(track_id: int) -> str:
    return TRACK_PALETTE[(track_id - 1) % len(TRACK_PALETTE)][0]


def track_hex(track_id: int) -> str:
    return "#{:02x}{:02x}{:02x}".format(*track_colour(track_id))


def draw_tracks(frame, tracks) -> Image.Image:
    """A sampled frame's thumbnail with each track's box in this frame, numbered and in the track's colour."""
    boxes = []
    for track in tracks:
        if frame.index in track.frames:
            face = track.faces[track.frames.index(frame.index)]
            boxes.append((tuple(v * frame.scale for v in face.box), str(track.id), track_colour(track.id)))
    return draw_boxes(frame.thumbnail, boxes)


def draw_boxes(image: Image.Image, boxes: list[tuple[tuple[float, float, float, float], str, tuple[int, int, int]]]) -> Image.Image:
    """A copy of the picture with each (box, label, colour): an outline and the label on a filled tab above it."""
    out = image.convert("RGB") if image.mode != "RGB" else image.copy()
    draw = ImageDraw.Draw(out)
    width = max(2, round(max(image.size) / 300))
    font_size = max(14, round(max(image.size) / 30))
    try:
        font = ImageFont.load_default(size=font_size)
    except TypeError:  # Pillow < 10.1 has no sized default font
        font = ImageFont.load_default()
    for (x1, y1, x2, y2), label, colour in boxes:
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=width)
        text_box = draw.textbbox((x1, y1), label, font=font)
        pad = width
        top = max(0, y1 - (text_box[3] - text_box[1]) - 2 * pad)
        draw.rectangle((x1, top, x1 + (text_box[2] - text_box[0]) + 2 * pad, top + (text_box[3] - text_box[1]) + 2 * pad), fill=colour)
        text_colour = (0, 0, 0) if sum(colour) > 500 else (255, 255, 255)  # dark digits on yellow
        draw.text((x1 + pad, top + pad - (text_box[1] - y1)), label, fill=text_colour, font=font)
    return out


def draw_faces(image: Image.Image, faces, verdicts: list[str] | None = None) -> Image.Image:
    """A copy of the picture with box i+1 drawn round each FaceResult.

    With `verdicts` (detector.display codes, one per face) boxes take the final verdict's colour:
    grey for a face not judged (too small, too blurred); else the model's band label's colour."""
    from detector.display import VERDICT_COLOURS as FINAL_COLOURS

    boxes = []
    for n, result in enumerate(faces):
        if verdicts is not None:
            colour = FINAL_COLOURS.get(verdicts[n], (255, 255, 255))
        else:
            colour = VERDICT_COLOURS.get(result.label, (255, 255, 255))
        boxes.append((result.box, f"{result.index + 1}", colour))
    return draw_boxes(image, boxes)
