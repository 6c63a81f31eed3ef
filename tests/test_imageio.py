import io

import numpy as np
import pytest
from PIL import Image

from detector.errors import InputError
from detector.imageio import decode_image, load_image
from detector.limits import MAX_IMAGE_PIXELS
from tests.conftest import jpeg_bytes


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (60, 30), "red")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when displayed
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    decoded = decode_image(buffer.getvalue())
    assert decoded.size == (30, 60)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "L", "P", "CMYK", "I;16", "I", "F"])
def test_every_mode_becomes_rgb(mode):
    array = (np.linspace(0, 1, 64 * 64).reshape(64, 64) * 200).astype(np.uint8)
    image = Image.fromarray(array, "L").convert(mode) if mode not in ("I;16",) else Image.fromarray(array.astype(np.uint16) * 256)
    buffer = io.BytesIO()
    fmt = {"CMYK": "JPEG", "F": "TIFF", "I": "TIFF"}.get(mode, "PNG")
    image.save(buffer, fmt)
    decoded = decode_image(buffer.getvalue(), f"{mode}.img")
    assert decoded.mode == "RGB" and decoded.size == (64, 64)
    # the picture's content survives the conversion: dark top-left, bright bottom-right
    gray = np.asarray(decoded.convert("L"), dtype=float)
    assert gray[-1, -1] > gray[0, 0] + 50


def test_sixteen_bit_keeps_its_range():
    ramp = (np.arange(256, dtype=np.uint16) * 257).reshape(16, 16).repeat(4, 0).repeat(4, 1)
    decoded = decode_image(png_bytes(Image.fromarray(ramp)))
    values = np.asarray(decoded)[..., 0]
    assert values.min() == 0 and values.max() == 255


def test_transparent_png_is_composited_on_white():
    image = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    assert np.asarray(decode_image(png_bytes(image))).min() == 255


def test_bad_inputs_give_clear_messages():
    good = jpeg_bytes(Image.new("RGB", (100, 100), "gray"))
    with pytest.raises(InputError, match="empty"):
        decode_image(b"")
    with pytest.raises(InputError, match="corrupt or truncated|not an image"):
        decode_image(good[: len(good) // 2])
    with pytest.raises(InputError, match="not an image format"):
        decode_image(b"PK\x03\x04" + bytes(200), "archive.jpg")
    with pytest.raises(InputError, match="too small"):
        decode_image(png_bytes(Image.new("RGB", (8, 8))))


def test_decompression_bomb_is_refused_before_decoding():
    # A valid PNG header that declares 60000 x 60000 pixels, with almost no data behind it.
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0))
    bomb = b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b"")
    with pytest.raises(InputError, match="megapixels|MP"):
        decode_image(bomb, "bomb.png")
    assert 60000 * 60000 > MAX_IMAGE_PIXELS


def test_load_image_refuses_empty_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        load_image(path)
