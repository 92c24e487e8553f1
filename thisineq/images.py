"""Images between their two forms: uint8 pixels (storage, display) and floats in [-1, 1] (the networks), and grids of them."""

from __future__ import annotations

import math

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
    laid out as given. With labels, a white margin carries them (PIL's built-in font) and the tiles
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
    left = max(60, 7 * max(map(len, row_labels), default=0) + 12) if row_labels is not None else 0
    top = 22 if column_labels is not None else 0
    canvas = Image.new("RGB", (left + columns * (w + pad), top + rows * (h + pad)), "white")
    draw, font = ImageDraw.Draw(canvas), ImageFont.load_default()
    for c, label in enumerate(column_labels or []):
        draw.text((left + c * (w + pad) + w // 2 - 3 * len(label), 5), label, fill="black", font=font)
    for r, label in enumerate(row_labels or []):
        draw.text((5, top + r * (h + pad) + h // 2 - 6), label, fill="black", font=font)
    for k, pixels in enumerate(to_uint8(images)):
        tile = Image.fromarray(pixels).resize((w, h), Image.Resampling.NEAREST) if scale != 1 else Image.fromarray(pixels)
        canvas.paste(tile, (left + (k % columns) * (w + pad), top + (k // columns) * (h + pad)))
    return canvas
