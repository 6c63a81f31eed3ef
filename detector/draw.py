"""Numbered face boxes over a picture, coloured by verdict."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

VERDICT_COLOURS = {"fake": (220, 40, 40), "real": (30, 160, 60), "uncertain": (240, 160, 0)}


def draw_faces(image: Image.Image, faces, verdicts: list[str] | None = None) -> Image.Image:
    """A copy of the picture with box i+1 drawn round each FaceResult.

    With `verdicts` (detector.display codes, one per face) boxes take the final verdict's colour:
    grey for a face not judged (too small, too blurred); else the model's band label's colour."""
    from detector.display import VERDICT_COLOURS as FINAL_COLOURS

    out = image.copy()
    draw = ImageDraw.Draw(out)
    width = max(2, round(max(image.size) / 300))
    font_size = max(14, round(max(image.size) / 30))
    try:
        font = ImageFont.load_default(size=font_size)
    except TypeError:  # Pillow < 10.1 has no sized default font
        font = ImageFont.load_default()
    for n, result in enumerate(faces):
        if verdicts is not None:
            colour = FINAL_COLOURS.get(verdicts[n], (255, 255, 255))
        else:
            colour = VERDICT_COLOURS.get(result.label, (255, 255, 255))
        x1, y1, x2, y2 = result.face.box
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=width)
        label = f"{result.index + 1}"
        text_box = draw.textbbox((x1, y1), label, font=font)
        pad = width
        top = max(0, y1 - (text_box[3] - text_box[1]) - 2 * pad)
        draw.rectangle((x1, top, x1 + (text_box[2] - text_box[0]) + 2 * pad, top + (text_box[3] - text_box[1]) + 2 * pad), fill=colour)
        draw.text((x1 + pad, top + pad - (text_box[1] - y1)), label, fill=(255, 255, 255), font=font)
    return out
