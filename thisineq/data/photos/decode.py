"""Opening photos safely (truncated, bombs, empty files, not images) and decoding them to square uint8 RGB."""

from __future__ import annotations

import io
import os
import stat
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from thisineq.errors import ConfigError, ThisIneqError

# Images above this many pixels are refused as decompression bombs. 100 MP is above any
# phone or DSLR photo (a 108 MP phone sensor bins to 12 MP by default) and keeps one decode
# under ~400 MB of memory. PIL refuses on its own, earlier, if Image.MAX_IMAGE_PIXELS is
# lowered below half of this (PIL raises at 2 x MAX_IMAGE_PIXELS).
MAX_PIXELS: int = 100_000_000

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_PIXELS = 40_000_000  # decoded at full size (PNG, WebP, …), an upload costs ~3 bytes per pixel and more

# What PIL raises on corrupt data, besides its own UnidentifiedImageError at open.
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    struct.error,
    zlib.error,
    Image.DecompressionBombError,
)


class PhotoReadError(ThisIneqError, ValueError):
    """One photo cannot be read; `reason` says why in words (truncated, not an image, ...)."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        super().__init__(f"cannot read photo {path}: {reason}")
        self.path = str(path)
        self.reason = reason

    def __reduce__(self):
        return (type(self), (self.path, self.reason))


def load_photo(path: str | os.PathLike, size: int) -> np.ndarray:
    """Decode one photo to a square RGB array the way a person would see it.

    Honours EXIF orientation, takes the first frame of animations, composites
    transparency on white, scales 16-bit grey to 8 bits, centre-crops the long side and
    resizes with Lanczos (JPEGs much larger than `size` are first reduced by libjpeg's
    DCT scaling, which is fast and loses nothing at the final size).

    Args:
        path: image file (JPEG, PNG, WebP, GIF, TIFF, BMP, ... anything PIL opens).
        size: side of the output in pixels.

    Returns:
        uint8 array, shape (size, size, 3).

    Raises:
        PhotoReadError: missing, empty, not an image, truncated or corrupt, or above
            MAX_PIXELS (decompression bomb).
    """
    if size < 1:
        raise ConfigError(f"size must be a positive number of pixels, got {size}")
    path = Path(path)
    return _decode_square(lambda: open_image(path), path, size)


def _decode_square(opener, name, size: int) -> np.ndarray:
    """Open (via `opener()`), decode and square an image, every failure as a PhotoReadError."""
    with warnings.catch_warnings():
        # MAX_PIXELS is the documented limit; PIL's own warning (at ~89 MP) would be noise.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with opener() as im:
            try:
                return _square_rgb(im, size)
            except PhotoReadError:
                raise
            except _DECODE_ERRORS as exc:
                raise PhotoReadError(name, _decode_reason(exc)) from exc


def open_image(path: Path) -> Image.Image:
    """Open an image lazily (header only); raise PhotoReadError with the reason if it cannot be."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise PhotoReadError(path, "file not found") from None
    except OSError as exc:
        raise PhotoReadError(path, f"cannot access file: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise PhotoReadError(path, "not a regular file (a folder?)")
    if st.st_size == 0:
        raise PhotoReadError(path, "empty file (0 bytes)")
    return _open_checked(path, path)


def _open_checked(source, name, max_decoded_pixels: int | None = None) -> Image.Image:
    """Image.open on a path or file object, with every failure and the pixel limits as PhotoReadError.

    `max_decoded_pixels` bounds formats decoded at full size (all but JPEG, which is decoded at a
    reduced scale): it keeps an upload's memory bounded.
    """
    try:
        im = Image.open(source)
    except Image.DecompressionBombError as exc:
        raise PhotoReadError(name, f"decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        reason = _unidentified_reason(source) if isinstance(source, Path) else "not an image format PIL recognises"
        raise PhotoReadError(name, reason) from None
    except PermissionError as exc:
        raise PhotoReadError(name, f"cannot read file: {exc.strerror or exc}") from None
    except _DECODE_ERRORS as exc:
        raise PhotoReadError(name, f"corrupt image header: {exc}") from None
    problem = _pixel_problem(im, max_decoded_pixels)
    if problem:
        im.close()
        raise PhotoReadError(name, problem)
    return im


def _pixel_problem(im: Image.Image, max_decoded_pixels: int | None) -> str:
    """Why an opened image has too many or no pixels to decode ('' when it is fine)."""
    width, height = im.size
    megapixels = width * height / 1e6
    if width * height > MAX_PIXELS:
        return (
            f"decompression bomb: {width}x{height} = {megapixels:.0f} megapixels "
            f"exceeds the {MAX_PIXELS / 1e6:.0f}-megapixel limit"
        )
    if width == 0 or height == 0:
        return f"image has no pixels ({width}x{height})"
    if max_decoded_pixels is not None and im.format != "JPEG" and width * height > max_decoded_pixels:
        return (
            f"{width}x{height} = {megapixels:.0f} megapixels is over the {max_decoded_pixels / 1e6:.0f}-megapixel "
            f"limit for {im.format or 'this format'} uploads (JPEGs may be larger)"
        )
    return ""


def load_photo_bytes(
    data: bytes, size: int, *, name: str = "upload", max_bytes: int = MAX_UPLOAD_BYTES, max_pixels: int = MAX_UPLOAD_PIXELS
) -> np.ndarray:
    """`load_photo` for bytes held in memory (an upload): never touches the disk.

    Raises:
        PhotoReadError: empty, over `max_bytes`, not an image, truncated or corrupt, or a
            decompression bomb — the reason in words.
    """
    if not data:
        raise PhotoReadError(name, "empty file (0 bytes)")
    if len(data) > max_bytes:
        raise PhotoReadError(name, f"{len(data) / 2**20:.1f} MB is over the {max_bytes / 2**20:.0f} MB limit")
    return _decode_square(lambda: _open_checked(io.BytesIO(data), name, max_pixels), name, size)


def _unidentified_reason(path: Path) -> str:
    """Why PIL did not recognise a file, with its first bytes (often tellingly text)."""
    with open(path, "rb") as handle:
        start = handle.read(24)
    if path.suffix.lower() in (".heic", ".heif", ".avif"):
        return f"{path.suffix} is not supported here; convert the photos to JPEG"
    if start.startswith(b"version https://git-lfs"):
        return "a Git LFS pointer, not the image (run `git lfs pull`)"
    return f"not an image format PIL recognises (file starts with {start!r})"


def _decode_reason(exc: BaseException) -> str:
    """A short reason for a decode failure, naming truncation plainly."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, Image.DecompressionBombError):
        return f"decompression bomb: {message}"
    if "truncated" in message.lower():
        return f"truncated file: {message}"
    return f"corrupt image data: {message}"


def _square_rgb(im: Image.Image, size: int) -> np.ndarray:
    """Orient, convert, centre-crop and resize an opened image; (size, size, 3) uint8."""
    # Twice the target keeps the final Lanczos step doing real anti-aliasing work.
    im.draft(None, (2 * size, 2 * size))
    ImageOps.exif_transpose(im, in_place=True)
    rgb = _to_rgb(im)
    width, height = rgb.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    # Crop before resizing: resize(box=...) lets the filter reach past the box, bleeding
    # the cropped-away border into the edge pixels.
    square = rgb.crop((left, top, left + side, top + side)) if width != height else rgb
    out = square.resize((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return np.array(out, dtype=np.uint8).reshape(size, size, 3)


def _to_rgb(im: Image.Image) -> Image.Image:
    """Any PIL mode to RGB: alpha over white, high-bit-depth grey scaled (not clipped)."""
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return Image.fromarray(_grey_to_uint8(im), "L").convert("RGB")
    if _has_alpha(im):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im if im.mode == "RGB" else im.convert("RGB")


def _has_alpha(im: Image.Image) -> bool:
    """Whether an image carries transparency: an alpha band or a transparent colour."""
    return "A" in im.getbands() or "a" in im.mode or "transparency" in im.info


def _grey_to_uint8(im: Image.Image) -> np.ndarray:
    """16/32-bit integer grey as 16-bit data scaled to 0-255; float grey as 0-1 (or 0-255 if larger)."""
    values = np.asarray(im).astype(np.float64)
    if im.mode == "F":
        finite_max = np.nanmax(values) if values.size else 0.0
        scaled = values * 255.0 if finite_max <= 1.0 else values
    else:
        scaled = values / 257.0  # 65535 -> 255 exactly
    return np.rint(np.clip(np.nan_to_num(scaled), 0, 255)).astype(np.uint8)


def check_decodes(path: Path) -> None:
    """Decode a photo at reduced scale (a JPEG at 1/8, which is cheap); raise PhotoReadError if that fails."""
    with open_image(path) as im:
        try:
            im.draft(None, (max(1, im.width // 8), max(1, im.height // 8)))
            im.load()
        except _DECODE_ERRORS as exc:
            raise PhotoReadError(path, _decode_reason(exc)) from exc
