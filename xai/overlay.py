"""One renderer for every explanation: a heat map (or a signed red/green map) over the face."""

from __future__ import annotations

import io

import numpy as np
from matplotlib import colormaps
from PIL import Image, ImageDraw, ImageFont
from skimage.segmentation import mark_boundaries

from xai.base import Explanation

HEAT_CMAP = "jet"
SIGNED_CMAP = "RdYlGn_r"  # +1 (fake) red, -1 (real) green


def render(face: Image.Image | np.ndarray, explanation: Explanation, opacity: float = 0.5) -> Image.Image:
    """The face with the explanation's map blended over it, at the face's size."""
    base = np.asarray(face.convert("RGB") if isinstance(face, Image.Image) else face, dtype=np.float32) / 255.0
    if explanation.signed is not None:
        values = explanation.signed
        colours = colormaps[SIGNED_CMAP]((values + 1.0) / 2.0)[..., :3]
        alpha = opacity * np.abs(values)[..., None]  # neutral regions stay see-through
    else:
        colours = colormaps[HEAT_CMAP](explanation.heatmap)[..., :3]
        alpha = opacity
    out = base * (1.0 - alpha) + colours * alpha
    if explanation.segments is not None:
        out = mark_boundaries(out, explanation.segments, color=(1, 1, 1), mode="inner")
    return Image.fromarray(np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8))


def colorbar_ticks(explanation: Explanation) -> list[tuple[float, str]]:
    """(position 0..1 along the bar, label): the map's values, relative to its strongest point."""
    if explanation.signed is not None:
        return [(0.0, "-1 real"), (0.25, "-0.5"), (0.5, "0"), (0.75, "+0.5"), (1.0, "+1 fake")]
    return [(0.0, "0"), (0.25, "0.25"), (0.5, "0.5"), (0.75, "0.75"), (1.0, "1")]


def colorbar(explanation: Explanation, width: int = 448, height: int = 18, numbers: bool = True) -> Image.Image:
    """A horizontal colour bar matching render(): 0 -> 1 (share of the map's maximum), or -1 real .. +1 fake,
    with those numbers printed under it (drawn at twice the on-screen size, so they stay sharp)."""
    ramp = np.linspace(0.0, 1.0, width)[None, :].repeat(height, axis=0)
    cmap = colormaps[SIGNED_CMAP if explanation.signed is not None else HEAT_CMAP]
    bar = Image.fromarray((cmap(ramp)[..., :3] * 255).astype(np.uint8))
    if not numbers:
        return bar
    font = ImageFont.load_default(size=max(10, height))
    out = Image.new("RGB", (width, height + 6 + max(10, height) + 4), "white")
    out.paste(bar, (0, 0))
    draw = ImageDraw.Draw(out)
    for position, label in colorbar_ticks(explanation):
        x = round(position * (width - 1))
        draw.line([(x, height), (x, height + 4)], fill="black", width=2)
        text_width = draw.textlength(label, font=font)
        left = min(max(0, x - text_width / 2), width - text_width)  # end labels stay inside the picture
        draw.text((left, height + 5), label, fill="black", font=font)
    return out


def legend_entries(explanations) -> list[tuple[str, Image.Image]]:
    """One (which maps and how to read them, colour bar with numbers) per colour scale used by these explanations."""
    heat = [e for e in explanations if e.signed is None]
    signed = [e for e in explanations if e.signed is not None]
    entries = []
    if heat:
        names = ", ".join(dict.fromkeys(e.method for e in heat))
        entries.append((f"{names}: 0 = least weight in the model's answer, 1 = most (relative to the map's own maximum).", colorbar(heat[0])))
    if signed:
        names = ", ".join(dict.fromkeys(e.method for e in signed))
        entries.append((f"{names}: -1 = strongest push towards 'real' (green), +1 = strongest push towards 'fake' (red); "
                        "colourless patches barely mattered.", colorbar(signed[0])))
    return entries


def colorbar_labels(explanation: Explanation) -> tuple[str, str]:
    return ("← real", "fake →") if explanation.signed is not None else ("least", "most looked at")


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def colorize(values: np.ndarray, cmap: str = "viridis") -> Image.Image:
    """A [0, 1] map as an RGB picture."""
    return Image.fromarray((colormaps[cmap](np.clip(values, 0, 1))[..., :3] * 255).astype(np.uint8))
