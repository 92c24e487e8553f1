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
    assert upload.step_budget("projector", 250) == {"projector_steps": 250, "w_prior": 0.0}
    assert upload.step_budget("projector", 250, 0.01) == {"projector_steps": 250, "w_prior": 0.01}
    assert upload.step_budget("hybrid", 250) == {"hybrid_steps": 250}
    assert upload.default_steps("projector") > upload.default_steps("hybrid")
    assert {upload.default_steps(m) for m in ("projector", "hybrid")} <= set(upload.OPTIMISATION_STEPS)


def test_an_upload_is_projected_with_the_prior_its_sets_projector_used(tmp_path):
    import json

    from thisineq.app import upload

    assert upload.recorded_prior(tmp_path / "nothing") == 0.0  # no projector inversions: StyleGAN2-ADA's projector
    (tmp_path / "inversion.json").write_text(json.dumps({"method": "projector", "settings": {"w_prior": 0.01}}))
    assert upload.recorded_prior(tmp_path) == 0.01
    (tmp_path / "inversion.json").write_text(json.dumps({"method": "projector", "settings": {"projector_steps": 500}}))
    assert upload.recorded_prior(tmp_path) == 0.0  # written before the prior existed
    (tmp_path / "inversion.json").write_text("{not json")
    assert upload.recorded_prior(tmp_path) == 0.0


# --- the app's checks: plain words, a working copy, the visitor's crop ---------------------------------


def png(width: int, height: int, colour=(90, 120, 150)) -> bytes:
    return encoded(Image.new("RGB", (width, height), colour), "PNG")


@pytest.mark.parametrize(
    "data,words",
    [
        (b"", "empty"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>', "SVG drawing"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64, "HEIC"),
        (b"<!DOCTYPE html><html><body>hi</body></html>", "web page"),
        (b"%PDF-1.7\n" + b"\x00" * 64, "PDF"),
        (bytes(range(256)) * 4, "not an image this app can read"),
        (png_header_claiming(40000, 40000), "too large to open safely"),
        (png_header_claiming(8000, 6000), "48 megapixels"),
        (b"x" * (21 * 2**20), "at most 20 MB"),
        (png(1, 1), "only 1×1 pixels"),
        (png(4000, 3), "only 4000×3 pixels"),
        (png(4000, 200), "a strip, not a street view"),
    ],
)
def test_refused_uploads_say_why_in_plain_words(data, words):
    from thisineq.data.photos.upload import UploadRefused, read_upload

    with pytest.raises(UploadRefused) as refused:
        read_upload(data, "upload", 64)
    assert words in refused.value.reason
    assert "PIL" not in refused.value.reason and "DOS" not in refused.value.reason


def test_a_truncated_upload_is_called_incomplete_or_damaged():
    from thisineq.data.photos.upload import UploadRefused, read_upload

    noise = np.random.default_rng(0).integers(0, 255, (300, 300, 3), dtype=np.uint8)
    data = encoded(Image.fromarray(noise), "PNG")
    with pytest.raises(UploadRefused, match="incomplete|damaged"):
        read_upload(data[: len(data) // 2], "cut.png", 64)


def test_usable_uploads_come_with_notes_where_the_result_may_suffer():
    from thisineq.data.photos.upload import WORKING_SIDE, read_upload

    assert read_upload(png(400, 300), "fine.png", 64).notes == ()
    small = read_upload(png(48, 40), "small.png", 64)
    assert len(small.notes) == 1 and "enlarged" in small.notes[0] and small.image.shape == (40, 48, 3)
    wide = read_upload(png(900, 300), "wide.png", 64)
    assert len(wide.notes) == 1 and "33%" in wide.notes[0]
    big = read_upload(encoded(Image.new("RGB", (4000, 3000)), "JPEG"), "big.jpg", 64)
    assert max(big.image.shape[:2]) <= WORKING_SIDE and big.original_size == (4000, 3000)
    for animated in ("GIF", "BMP", "TIFF", "WEBP"):  # what PIL reads, the app reads
        assert read_upload(encoded(Image.new("RGB", (80, 60)), animated), f"x.{animated}", 64).image.shape == (60, 80, 3)


def test_an_upload_is_turned_the_way_its_camera_said():
    from thisineq.data.photos.upload import read_upload

    image = Image.new("RGB", (300, 200), (200, 0, 0))
    exif = image.getexif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    upright = read_upload(encoded(image, "JPEG", exif=exif), "phone.jpg", 64)
    assert upright.original_size == (200, 300) and upright.image.shape == (300, 200, 3)


def test_the_crop_box_places_a_zoomed_square_and_clamps_what_is_out_of_range():
    from thisineq.data.photos.upload import Crop, crop_box, crop_square

    assert crop_box(300, 200, Crop()) == (50, 0, 200)  # the largest square, centred
    assert crop_box(300, 200, Crop(zoom=2, x=0, y=1)) == (0, 100, 100)
    assert crop_box(300, 200, Crop(zoom=0.1, x=7, y=-3)) == (100, 0, 200)
    assert crop_box(300, 200, Crop(zoom=1e9))[2] == 1
    halves = np.zeros((100, 200, 3), np.uint8)
    halves[:, :100] = (255, 0, 0)
    halves[:, 100:] = (0, 0, 255)
    left, right = crop_square(halves, Crop(x=0), 32), crop_square(halves, Crop(x=1), 32)
    assert left.shape == (32, 32, 3) and left[..., 0].mean() > 250 and right[..., 2].mean() > 250


def test_the_preview_frames_the_crop_and_dims_the_rest_and_enlarges_a_small_photo():
    from thisineq.app.upload import PREVIEW_SIDE, framed
    from thisineq.data.photos.upload import Crop

    grey = np.full((64, 128, 3), 200, np.uint8)  # a 2:1 photo, the crop on its left half
    preview = np.asarray(framed(grey, Crop(x=0)))
    assert max(preview.shape[:2]) >= PREVIEW_SIDE // 2  # enlarged by whole pixels
    side = preview.shape[0]
    assert (preview[side // 2, side // 2] == 200).all()  # inside the crop: untouched
    assert preview[side // 2, side + side // 2].mean() < 150  # outside: dimmed
    assert (preview[0, side // 2] == 255).all()  # the frame's top edge
