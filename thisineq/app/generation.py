"""Pure helpers behind the image pages: latents from seeds, edits, crisp display images, URL numbers and seeds."""

from __future__ import annotations

import base64
import io

import numpy as np
import torch
from PIL import Image

from thisineq.images import to_uint8
from thisineq.latent.normals import Direction
from thisineq.latent.walk import edit
from thisineq.models.stylegan2 import Generator, sample_ws


def seed_ws(generator: Generator, seed: int, truncation_psi: float = 1.0) -> torch.Tensor:
    """The ws (1, num_ws, D) of a seed: the same seed always gives the same image."""
    with torch.inference_mode():
        return sample_ws(generator, 1, int(seed), truncation_psi=truncation_psi)


def ws_tensor(ws: np.ndarray) -> torch.Tensor:
    """A stored ws (num_ws, D) as the batch of one (1, num_ws, D), float32, that the generator takes."""
    return torch.from_numpy(np.asarray(ws, np.float32))[None]


@torch.inference_mode()
def render(generator: Generator, ws: torch.Tensor, moves: list[tuple[Direction, float]] = ()) -> torch.Tensor:
    """The image (1, 3, size, size) in [-1, 1] of ws (1, num_ws, D) after the given moves: what the bands' discriminator
    reads, and `to_uint8` shows."""
    return generator.synthesis(edit(ws, list(moves)) if moves else ws)


def synthesise(generator: Generator, ws: torch.Tensor, moves: list[tuple[Direction, float]] = ()) -> np.ndarray:
    """The uint8 image (size, size, 3) of ws (1, num_ws, D) after the given moves."""
    return to_uint8(render(generator, ws, moves)[0])


def png_data_url(pixels: np.ndarray) -> str:
    """A uint8 image (H, W, 3) as an inline PNG URL, sent at its own size for the browser to scale crisply (see CRISP_CSS).

    Inline, a new image reaches the screen with the script's own message instead of a second
    request for a media file: the slider's latency on a busy machine.
    """
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# Inline PNGs are small images shown large: scale them by whole pixels, not with a blur.
CRISP_CSS = '<style>img[src^="data:image/png"] { image-rendering: pixelated; }</style>'


DISPLAY_SIDE = 256  # downloads and previews are enlarged by whole pixels to at least this side


def upscale(pixels: np.ndarray, scale: int | None = None) -> Image.Image:
    """A uint8 image (H, W, 3) enlarged by whole pixels (crisp, not blurred) for display: by `scale`, or by what brings
    its longer side to DISPLAY_SIDE (a 64-px image ×4; a 256-px or larger one as it is)."""
    picture = Image.fromarray(np.ascontiguousarray(pixels))
    scale = scale or max(1, DISPLAY_SIDE // max(picture.width, picture.height))
    return picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST)


def parse_number(text, default: float, low: float, high: float, *, whole: bool = False) -> float:
    """A number from a URL parameter, clamped to [low, high]; the default for anything that is not a finite number."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return default
    if not np.isfinite(value):
        return default
    value = min(max(value, low), high)
    return int(value) if whole else value


def parse_seeds(text: str) -> list[int]:
    """'1, 2 7' → [1, 2, 7]; anything that is not a whole number is reported, not guessed."""
    seeds = []
    for token in text.replace(",", " ").split():
        if not token.isdigit():
            raise ValueError(f"{token!r} is not a seed (a whole number ≥ 0)")
        seeds.append(int(token))
    return seeds


def walk_params(moves: list[tuple[Direction, float]]) -> dict[str, float]:
    """The URL parameters of a walk: each domain's slider value, by domain."""
    return {direction.name: alpha for direction, alpha in moves}


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array))
    return buffer.getvalue()


def drift(
    tick: int, domains: list[str], period: int = 24, amplitude: float = 2.5, step: float = 0.25
) -> tuple[int, dict[str, float]]:
    """Where an untouched kiosk is at a tick: (how many images it has moved on, slider values).

    One domain at a time walks a full sine cycle (deprived and privileged and back) over `period`
    ticks while the others rest at 0; after every domain has walked, the next image comes.
    Values are rounded to the sliders' step.
    """
    if not domains:
        return tick // period, {}
    cycle, phase = divmod(tick, period)
    image, walking = divmod(cycle, len(domains))
    alpha = round(amplitude * np.sin(2 * np.pi * phase / period) / step) * step
    return image, {name: (float(alpha) if i == walking else 0.0) for i, name in enumerate(domains)}
