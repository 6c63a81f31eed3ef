"""Decode untrusted image bytes into a plain 8-bit RGB picture, or refuse clearly."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from detector.errors import InputError
from detector.limits import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, MIN_IMAGE_SIDE

# PIL warns at this many pixels and raises at twice as many; we refuse at the limit itself.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
# Decoded by detector.video (PyAV); listed here so checking a file name never loads PyAV.
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_image_bytes(path: str | Path) -> bytes:
    """Read a file with the size limit applied before the whole file is in memory."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read {path.name}: {exc.strerror or exc}") from None
    if size == 0:
        raise InputError(f"{path.name} is empty (0 bytes)")
    if size > MAX_IMAGE_BYTES:
        raise InputError(
            f"{path.name} is {size / 2**20:.0f} MB; images over {MAX_IMAGE_BYTES // 2**20} MB are refused"
        )
    return path.read_bytes()


def decode_image(data: bytes, name: str = "image") -> Image.Image:
    """Decode bytes to an RGB PIL image with EXIF orientation applied.

    Raises InputError with a one-line reason for anything that is not a usable picture.
    """
    if not data:
        raise InputError(f"{name} is empty (0 bytes)")
    if len(data) > MAX_IMAGE_BYTES:
        raise InputError(f"{name} is larger than {MAX_IMAGE_BYTES // 2**20} MB")
    try:
        return _decode(data, name)
    except InputError:
        stripped = without_png_text(data)
        if stripped == data:
            raise
    # Huge or hostile PNG text chunks (e.g. megabytes of XMP) make Pillow refuse the whole file;
    # the pixels are fine, so the faces are analysed without them (provenance reports the XMP).
    return _decode(stripped, name)


def exif_summary(data: bytes) -> str:
    """A few EXIF fields worth citing (camera, date, software, whether GPS is present)."""
    try:
        exif = Image.open(io.BytesIO(data)).getexif()
    except Exception:  # any unreadable header: the report says so instead of failing
        return "none readable"
    if not exif:
        return "none"
    names = {ExifTags.TAGS.get(k, str(k)): v for k, v in exif.items()}
    wanted = ["Make", "Model", "DateTime", "Software", "Orientation"]
    parts = [f"{k}: {str(names[k]).strip()}" for k in wanted if k in names]
    if 0x8825 in exif:
        parts.append("GPS data present")
    return "; ".join(parts) or f"{len(exif)} tags, none of camera/date/software"


def without_png_text(data: bytes) -> bytes:
    """The same PNG with its tEXt/zTXt/iTXt chunks removed; other bytes are returned unchanged."""
    if not data.startswith(PNG_SIGNATURE):
        return data
    out, position = [PNG_SIGNATURE], len(PNG_SIGNATURE)
    while position + 8 <= len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        end = position + 12 + length
        if end > len(data):
            out.append(data[position:])  # truncated: let the decoder judge it
            break
        if kind not in (b"tEXt", b"zTXt", b"iTXt"):
            out.append(data[position:end])
        position = end
    return b"".join(out)


def _decode(data: bytes, name: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            _check_size(image, name)
            image.load()
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(
            f"{name} declares more than {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels and was refused"
        ) from None
    except UnidentifiedImageError:
        raise InputError(f"{name} is not an image format we can read (jpg, png, webp, bmp)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError(f"{name} is corrupt or truncated ({_short(exc)})") from None
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)  # animated GIF/WebP: analyse the first frame only
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block must not make a good picture unreadable
        pass
    return to_rgb(image)


def load_image(path: str | Path) -> Image.Image:
    """Read and decode an image file from disk (see decode_image)."""
    path = Path(path)
    return decode_image(read_image_bytes(path), path.name)


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode (RGBA, LA, P, L, I;16, I, F, CMYK, YCbCr) to 8-bit RGB."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        gray = np.clip(array / top * 255.0, 0, 255).astype(np.uint8)
        return Image.fromarray(gray, "L").convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        # Transparent areas become white, the way a browser shows them.
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _check_size(image: Image.Image, name: str) -> None:
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise InputError(
            f"{name} is {width}x{height} ({width * height / 1e6:.0f} MP); "
            f"images over {MAX_IMAGE_PIXELS / 1e6:.0f} MP are refused"
        )
    if min(width, height) < MIN_IMAGE_SIDE:
        raise InputError(f"{name} is only {width}x{height} pixels; too small to hold a face")


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:120]


# Label convention of every labelled folder (../shared/data): by folder name, real = 0, fake = 1.
LABELS = {"real": 0, "fake": 1}


def list_images(split_dir: Path) -> list[tuple[Path, int]]:
    """(path, label) for an ImageFolder split, labels by folder name, never by sort order."""
    items = []
    for name, label in LABELS.items():
        folder = split_dir / name
        if folder.is_dir():
            items += [(p, label) for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
    return items
