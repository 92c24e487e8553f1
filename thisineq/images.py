"""Images between their two forms: uint8 pixels (storage, display) and floats in [-1, 1] (the networks), and grids of them."""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont


def from_uint8(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 pixels in any layout → float32 in [-1, 1], same layout."""
    return pixels.float() / 127.5 - 1


def to_uint8_tensor(images: torch.Tensor) -> torch.Tensor:
    """Floats in [-1, 1] in any layout → uint8 pixels, same layout (clamped, rounded)."""
    return ((images.detach().clamp(-1, 1) + 1) * 127.5).round().byte()


def to_tensor(photos: np.ndarray) -> torch.Tensor:
    """uint8 photos (B, H, W, 3) or (H, W, 3) → floats in [-1, 1], (B, 3, H, W)."""
    photos = np.asarray(photos)
    if photos.ndim == 3:
        photos = photos[None]
    if photos.ndim != 4 or photos.shape[-1] != 3 or photos.dtype != np.uint8:
        raise ValueError(f"photos must be uint8 (B, H, W, 3), got {photos.dtype} {photos.shape}")
    return from_uint8(torch.from_numpy(np.ascontiguousarray(photos)).permute(0, 3, 1, 2))


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Images in [-1, 1], (B, 3, H, W) or (3, H, W) → uint8 (B, H, W, 3) or (H, W, 3)."""
    return to_uint8_tensor(images).movedim(-3, -1).cpu().numpy()


LABEL_SIZE = 14  # label text height in pixels: readable beside 128-pixel tiles


@functools.cache
def label_font(size: int = LABEL_SIZE) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans, which matplotlib ships (so every install has it, with σ and the rest of Greek); PIL's own font otherwise."""
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    return ImageFont.truetype(str(path), size) if path.is_file() else ImageFont.load_default(size)


def image_grid(
    images: torch.Tensor,
    columns: int | None = None,
    *,
    row_labels: list[str] | None = None,
    column_labels: list[str] | None = None,
    scale: int = 1,
) -> Image.Image:
    """One picture of many images in [-1, 1], enlarged by whole pixels (crisp, not blurred).

    images: (N, 3, H, W), laid out `columns` wide (default: all in one row), or (rows, cols, 3, H, W)
    laid out as given. With labels, a white margin carries them (`label_font`) and the tiles
    are padded apart; without, tiles touch.
    """
    if images.ndim == 5:
        rows, columns = images.shape[:2]
        images = images.flatten(0, 1)
    else:
        columns = columns or len(images)
        rows = math.ceil(len(images) / columns)
    labelled = row_labels is not None or column_labels is not None
    h, w = images.shape[-2] * scale, images.shape[-1] * scale
    pad = 4 if labelled else 0
    font = label_font()
    widest = max((font.getlength(label) for label in row_labels or []), default=0)
    left = max(60, math.ceil(widest) + 16) if row_labels is not None else 0
    top = LABEL_SIZE + 12 if column_labels is not None else 0
    canvas = Image.new("RGB", (left + columns * (w + pad), top + rows * (h + pad)), "white")
    draw = ImageDraw.Draw(canvas)
    for c, label in enumerate(column_labels or []):
        draw.text((left + c * (w + pad) + w // 2, top // 2), label, fill="black", font=font, anchor="mm")
    for r, label in enumerate(row_labels or []):
        draw.text((8, top + r * (h + pad) + h // 2), label, fill="black", font=font, anchor="lm")
    for k, pixels in enumerate(to_uint8(images)):
        tile = Image.fromarray(pixels).resize((w, h), Image.Resampling.NEAREST) if scale != 1 else Image.fromarray(pixels)
        canvas.paste(tile, (left + (k % columns) * (w + pad), top + (k // columns) * (h + pad)))
    return canvas
