"""A hostile corpus, generated (never downloaded): every way a file can be wrong."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from fractions import Fraction

import av
import numpy as np
from PIL import Image, PngImagePlugin

from tests.conftest import SAMPLES


def _save(image: Image.Image, fmt: str, **kw) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kw)
    return buffer.getvalue()


def png_bomb(width: int = 60000, height: int = 60000) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b"")


def bad_images() -> dict[str, bytes]:
    """name -> bytes for files that must be refused with a clear message."""
    astronaut = Image.open(SAMPLES / "astronaut.jpg").convert("RGB")
    jpeg = (SAMPLES / "astronaut.jpg").read_bytes()
    png = _save(astronaut, "PNG")
    webp = _save(astronaut, "WEBP", quality=80)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("photo.jpg", jpeg)
    rng = np.random.default_rng(7)
    return {
        "zero.jpg": b"",
        "truncated.jpg": jpeg[: len(jpeg) // 4],
        "truncated.png": png[: len(png) // 3],
        "truncated.webp": webp[: len(webp) // 3],
        "random.jpg": rng.bytes(4096),
        "random.png": rng.bytes(4096),
        "bomb.png": png_bomb(),
        "tiny.png": _save(Image.new("RGB", (8, 8), "white"), "PNG"),
        "zip.jpg": archive.getvalue(),
        "too_many_pixels.png": _save(Image.new("L", (8000, 6000)), "PNG"),  # 48 MP, over the 40 MP limit
    }


def odd_but_valid_images() -> dict[str, bytes]:
    """name -> bytes for unusual files that must be analysed normally."""
    astronaut = Image.open(SAMPLES / "astronaut.jpg").convert("RGB")
    frames = [astronaut, astronaut.rotate(5), astronaut.rotate(-5)]
    animated_webp = io.BytesIO()
    frames[0].save(animated_webp, "WEBP", save_all=True, append_images=frames[1:], duration=100)
    exif = Image.Exif()
    exif[0x0112] = 8  # stored rotated: displays upright only if EXIF is applied
    rotated = io.BytesIO()
    astronaut.rotate(-90, expand=True).save(rotated, "JPEG", exif=exif)
    sixteen = (np.asarray(astronaut.convert("L"), dtype=np.uint16) * 257)
    return {
        "cmyk.jpg": _save(astronaut.convert("CMYK"), "JPEG"),
        "sixteen_bit.png": _save(Image.fromarray(sixteen), "PNG"),
        "rgba.png": _save(astronaut.convert("RGBA"), "PNG"),
        "animated.webp": animated_webp.getvalue(),
        "exif_rotated.jpg": rotated.getvalue(),
        "huge_valid.jpg": _save(astronaut.resize((6000, 6000)), "JPEG", quality=70),  # 36 MP
    }


def _write_mkv(rate, pts_step_ms: int, frames: int = 3) -> bytes:
    buffer = io.BytesIO()
    container = av.open(buffer, "w", format="matroska")
    stream = container.add_stream("mjpeg", rate=rate)
    stream.width, stream.height, stream.pix_fmt = 64, 64, "yuvj420p"
    stream.time_base = Fraction(1, 1000)
    for i in range(frames):
        frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 40 * i, np.uint8), format="rgb24")
        frame.pts, frame.time_base = i * pts_step_ms, Fraction(1, 1000)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return buffer.getvalue()


def bad_videos(valid_mp4: bytes) -> dict[str, bytes]:
    rng = np.random.default_rng(11)
    return {
        "zero.mp4": b"",
        "random.mp4": rng.bytes(8192),
        "random.webm": rng.bytes(8192),
        "corrupt_stream.mp4": valid_mp4[:48] + rng.bytes(len(valid_mp4) - 48),
        "truncated.mp4": valid_mp4[: len(valid_mp4) // 10],
        "absurd_fps.mkv": _write_mkv(Fraction(100000), 1),
        "ten_hours.mkv": _write_mkv(25, 5 * 3600 * 1000),
        "image_named.mp4": (SAMPLES / "astronaut.jpg").read_bytes(),
    }


def _app_segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def hostile_metadata_images() -> dict[str, bytes]:
    """name -> bytes for good pictures carrying bad metadata: provenance gives a line, the faces still run."""
    from tests import c2pa_files

    jpeg = (SAMPLES / "astronaut.jpg").read_bytes()
    astronaut = Image.open(SAMPLES / "astronaut.jpg").convert("RGB")
    # IFD0 claims 0xFFFF entries at an offset past the end: a classic broken EXIF block.
    broken_exif = _app_segment(0xE1, b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + b"\xff\xff" + b"\x01" * 40)
    xmp_prefix = '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    huge_xmp = xmp_prefix + "<rdf:Description " + 'a:b="x" ' * 400_000 + "/></rdf:RDF></x:xmpmeta>"  # 3.2 MB
    plain_text, zipped_text = PngImagePlugin.PngInfo(), PngImagePlugin.PngInfo()
    plain_text.add_itxt("XML:com.adobe.xmp", huge_xmp, zip=False)
    zipped_text.add_itxt("XML:com.adobe.xmp", huge_xmp, zip=True)  # over Pillow's 1 MB text limit once inflated
    entity_bomb = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
        + xmp_prefix + "<rdf:Description>&d;&d;&d;&d;</rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    return {
        "malformed_manifest.jpg": c2pa_files.malformed_manifest(c2pa_files.sign_jpeg(jpeg)),
        "broken_exif.jpg": jpeg[:2] + broken_exif + jpeg[2:],
        "huge_xmp.png": _save(astronaut, "PNG", pnginfo=plain_text),
        "huge_xmp_zipped.png": _save(astronaut, "PNG", pnginfo=zipped_text),
        "xmp_entity_bomb.jpg": _save(astronaut, "JPEG", xmp=entity_bomb.encode()),
        "c2pa_marker_garbage.jpg": jpeg[:2] + _app_segment(0xEB, b"JP\x00\x00" + b"jumbc2pa" + bytes(range(256)) * 4) + jpeg[2:],
    }
