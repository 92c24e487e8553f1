"""A photo uploaded by a visitor: checked in plain words, decoded once to a bounded working copy, cropped as they choose.

`read_upload` refuses what cannot be a usable street photo — with a reason a visitor understands,
not a library's wording — and notes what can be used but deserves a warning. `crop_box` and
`crop_square` turn the visitor's crop (zoom and position) into the generator's square input.
Nothing here touches the disk.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from thisineq.data.photos.decode import _DECODE_ERRORS, MAX_PIXELS, MAX_UPLOAD_BYTES, MAX_UPLOAD_PIXELS, PhotoReadError, _to_rgb

WORKING_SIDE = 1024  # the decoded copy's long side: ample for cropping to any generator size up to 512
MIN_SIDE = 32  # a shorter side below this holds too little to invert
MAX_ASPECT = 4.0  # longer than 4:1 is a strip, not a street view
WIDE_ASPECT = 2.0  # from here the square crop keeps half the photo or less: say so
READABLE = "JPEG, PNG, WebP, GIF, BMP or TIFF"


class UploadRefused(PhotoReadError):
    """An upload that cannot be used; `reason` is a sentence for the visitor."""


@dataclass(frozen=True)
class UploadedPhoto:
    """A checked upload: its oriented RGB working copy and what the visitor should know about it."""

    name: str
    image: np.ndarray  # (H, W, 3) uint8, long side at most WORKING_SIDE, EXIF orientation applied
    original_size: tuple[int, int]  # (width, height) as uploaded, after orientation
    notes: tuple[str, ...]  # warnings: usable, but the result may suffer


def read_upload(
    data: bytes, name: str, generator_size: int, *, max_bytes: int = MAX_UPLOAD_BYTES, max_pixels: int = MAX_UPLOAD_PIXELS
) -> UploadedPhoto:
    """Check and decode an upload; raise UploadRefused with the reason in plain words."""
    if not data:
        raise UploadRefused(name, "the file is empty (0 bytes)")
    if len(data) > max_bytes:
        raise UploadRefused(name, f"the file is {len(data) / 2**20:.1f} MB; uploads can be at most {max_bytes / 2**20:.0f} MB")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limits below are the documented ones
        try:
            im = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            raise UploadRefused(name, _unreadable_format(data)) from None
        except Image.DecompressionBombError:
            raise UploadRefused(name, f"the image is too large to open safely (over {MAX_PIXELS / 1e6:.0f} megapixels)") from None
        except _DECODE_ERRORS:
            raise UploadRefused(name, "the image's header is damaged, so it cannot be opened") from None
        with im:
            width, height = im.size
            _check_shape(name, im.format, width, height, max_pixels)
            try:
                im.draft("RGB", (WORKING_SIDE, WORKING_SIDE))  # JPEG: decode at a reduced scale, cheaply
                drafted = im.size
                oriented = ImageOps.exif_transpose(im)
                turned = oriented.size != drafted  # a quarter turn swaps the sides
                rgb = _to_rgb(oriented)
                rgb.thumbnail((WORKING_SIDE, WORKING_SIDE), Image.Resampling.LANCZOS)
            except _DECODE_ERRORS as exc:
                raise UploadRefused(name, _decode_problem(exc)) from None
    original = (height, width) if turned else (width, height)
    return UploadedPhoto(name, np.asarray(rgb, dtype=np.uint8).copy(), original, _notes(*original, generator_size))


def _check_shape(name: str, image_format: str | None, width: int, height: int, max_pixels: int) -> None:
    """Refuse images with too many pixels to decode, too few to invert, or the shape of a strip."""
    megapixels = width * height / 1e6
    limit = MAX_PIXELS if image_format == "JPEG" else max_pixels  # JPEGs decode at a reduced scale
    if width * height > limit:
        raise UploadRefused(
            name,
            f"at {width}×{height} pixels ({megapixels:.0f} megapixels) the image is too large to open safely; "
            f"the limit is {limit / 1e6:.0f} megapixels" + ("" if image_format == "JPEG" else " (JPEGs may be larger)"),
        )
    if min(width, height) < MIN_SIDE:
        raise UploadRefused(
            name, f"the image is only {width}×{height} pixels; a photo needs at least {MIN_SIDE} pixels on its shorter side"
        )
    if max(width, height) / min(width, height) > MAX_ASPECT:
        raise UploadRefused(
            name,
            f"the image is {width}×{height} pixels, {max(width, height) / min(width, height):.0f} times longer than it is "
            f"wide — a strip, not a street view; crop it to at most {MAX_ASPECT:.0f}:1 first",
        )


def _notes(width: int, height: int, generator_size: int) -> tuple[str, ...]:
    """What a visitor should know about a usable upload."""
    notes = []
    if min(width, height) < generator_size:
        notes.append(
            f"The photo is small ({width}×{height} pixels): it is enlarged to the generator's {generator_size} pixels, "
            "so its inversion will be blurrier than it need be."
        )
    aspect = max(width, height) / min(width, height)
    if aspect >= WIDE_ASPECT:
        notes.append(
            f"The photo is {aspect:.1f} times longer than it is wide: a square crop keeps at most "
            f"{100 / aspect:.0f}% of it. Choose what to keep with the crop controls."
        )
    return tuple(notes)


def _unreadable_format(data: bytes) -> str:
    """Why an upload is not an image this app can read, naming the format where it can be recognised."""
    start = data[:512].lstrip().lower()
    if start.startswith((b"<svg", b"<?xml")) and b"<svg" in data[:4096].lower():
        return f"it is an SVG drawing, not a photo; upload a {READABLE} image"
    if data[4:8] == b"ftyp" and data[8:12].lower() in (b"heic", b"heix", b"mif1", b"msf1", b"heis", b"hevc", b"avif"):
        return (
            "it is a HEIC or AVIF photo (what phones often save), which cannot be read here; "
            "save or export it as JPEG and upload that"
        )
    if start.startswith((b"<!doctype html", b"<html")):
        return f"it is a web page, not an image; upload a {READABLE} image"
    if data[:4] == b"%PDF":
        return f"it is a PDF document, not an image; upload a {READABLE} image"
    return f"it is not an image this app can read; upload a {READABLE} image"


def _decode_problem(exc: BaseException) -> str:
    if isinstance(exc, Image.DecompressionBombError):
        return f"the image is too large to open safely (over {MAX_PIXELS / 1e6:.0f} megapixels)"
    if "truncated" in str(exc).lower():
        return "the file is incomplete — it ends before the image does (an interrupted download or copy?)"
    return "the image data is damaged and cannot be decoded"


# --- the visitor's crop ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Crop:
    """A square crop: `zoom` 1 is the largest square that fits, 2 half its side; `x`, `y` place it (0: left/top, 1: right/bottom)."""

    zoom: float = 1.0
    x: float = 0.5
    y: float = 0.5


def crop_box(width: int, height: int, crop: Crop) -> tuple[int, int, int]:
    """(left, top, side) in pixels of `crop` on a width × height image; values out of range are clamped."""
    zoom = min(max(float(crop.zoom), 1.0), float(min(width, height)))
    side = max(1, round(min(width, height) / zoom))
    x, y = (min(max(float(v), 0.0), 1.0) for v in (crop.x, crop.y))
    return round((width - side) * x), round((height - side) * y), side


def crop_square(image: np.ndarray, crop: Crop, size: int) -> np.ndarray:
    """The crop of an (H, W, 3) uint8 image, resized to (size, size, 3) with Lanczos."""
    left, top, side = crop_box(image.shape[1], image.shape[0], crop)
    square = Image.fromarray(image[top : top + side, left : left + side])
    return np.asarray(square.resize((size, size), Image.Resampling.LANCZOS), dtype=np.uint8).copy()
