"""Uploaded bytes: every hostile kind of file gets a reason in words; good ones become square RGB."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from thisineq.data.photos import PhotoReadError, load_photo_bytes


def encoded(image: Image.Image, fmt: str, **kw) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kw)
    return buffer.getvalue()


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares a huge image: a decompression bomb."""
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "data,reason",
    [
        (b"", "empty"),
        (b"<html>not an image</html>", "not an image"),
        (png_header_claiming(40000, 40000), "decompression bomb"),
        (b"x" * (21 * 2**20), "over the 20 MB limit"),
    ],
)
def test_hostile_bytes_are_refused_with_a_reason(data, reason):
    with pytest.raises(PhotoReadError, match=reason):
        load_photo_bytes(data, 64)


def test_uploads_decoded_at_full_size_are_bounded_in_pixels_but_jpegs_are_not():
    big_png = png_header_claiming(8000, 6000)  # 48 MP, under the bomb limit
    with pytest.raises(PhotoReadError, match="48 megapixels is over the 40-megapixel limit for PNG"):
        load_photo_bytes(big_png, 64)
    jpeg = encoded(Image.new("RGB", (8000, 6000), (10, 120, 200)), "JPEG", quality=30)  # decoded at 1/8 scale
    assert load_photo_bytes(jpeg, 64)[0, 0].tolist() == pytest.approx([10, 120, 200], abs=4)


def test_truncated_jpeg_is_refused():
    data = encoded(Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 300, 3), dtype=np.uint8)), "JPEG")
    with pytest.raises(PhotoReadError, match="truncated|corrupt"):
        load_photo_bytes(data[: len(data) // 3], 64)


def test_awkward_but_valid_images_are_read():
    rgb = Image.new("RGB", (120, 80), (200, 30, 30))
    cases = {
        "cmyk": encoded(rgb.convert("CMYK"), "JPEG"),
        "grey16": encoded(Image.fromarray(np.full((80, 120), 40000, np.uint16)), "PNG"),
        "alpha": encoded(Image.new("RGBA", (80, 80), (0, 0, 0, 0)), "PNG"),
        "animated": encoded(rgb, "GIF", save_all=True, append_images=[Image.new("RGB", (120, 80), (0, 0, 255))]),
        "webp": encoded(rgb, "WEBP"),
    }
    out = {name: load_photo_bytes(data, 64) for name, data in cases.items()}
    assert all(image.shape == (64, 64, 3) and image.dtype == np.uint8 for image in out.values())
    assert out["alpha"].min() == 255  # transparent pixels become white
    assert 150 < out["grey16"].mean() < 160  # 40000/65535 of full scale, not clipped to 255
    assert out["animated"][..., 0].mean() > 150  # the first frame (red), not the second


def test_optimisers_budget_their_steps_by_what_they_start_from():
    from thisineq.app import upload

    # The projector starts from the average latent; the hybrid refines an encoder's code, briefly.
    assert upload.step_budget("projector", 250) == {"projector_steps": 250}
    assert upload.step_budget("hybrid", 250) == {"hybrid_steps": 250}
    assert upload.default_steps("projector") > upload.default_steps("hybrid")
    assert {upload.default_steps(m) for m in ("projector", "hybrid")} <= set(upload.OPTIMISATION_STEPS)
