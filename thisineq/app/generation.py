"""Pure helpers behind the generator page: latents from seeds, edits, and crisp display images."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from thisineq.models.stylegan2 import Generator, broadcast
from thisineq.walk import Direction, edit


def seed_ws(generator: Generator, seed: int, truncation_psi: float = 1.0) -> torch.Tensor:
    """The ws (1, num_ws, D) of a seed: the same seed always gives the same image."""
    z = torch.randn(1, generator.style_dim, generator=torch.Generator().manual_seed(int(seed)))
    with torch.inference_mode():
        return broadcast(generator.mapping(z, truncation_psi), generator.num_ws).clone()


@torch.inference_mode()
def render_ws(generator: Generator, ws: torch.Tensor, moves: list[tuple[Direction, float]] = (), scale: int = 4) -> Image.Image:
    """Synthesise ws (1, num_ws, D) after the given moves; up-scaled without blur for display."""
    image = generator.synthesis(edit(ws, list(moves)) if moves else ws)[0]
    pixels = ((image.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    picture = Image.fromarray(np.ascontiguousarray(pixels))
    return picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST)


def directions_from(normals: dict[str, np.ndarray], method: str) -> dict[str, Direction]:
    """The plain boundary directions of one inversion method from a normals archive (see the pipeline)."""
    prefix = f"{method}/"
    found = {}
    for key, value in normals.items():
        parts = key.split("/")
        if key.startswith(prefix) and len(parts) == 2:
            found[parts[1]] = Direction(parts[1], np.asarray(value, np.float64), float(normals[f"{key}/sigma"]))
    return found
