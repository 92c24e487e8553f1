"""Walks perpendicular to deprivation boundaries: latent edits, walk matrices and 2-D projections.

A step α is measured in σ, the standard deviation of the generator's W along the boundary's normal
(`Direction.sigma`), so that "+2" is the same move for every domain and every inversion method.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from thisineq.images import image_grid, to_uint8
from thisineq.latent.normals import Direction
from thisineq.models.stylegan2 import Generator, sample_ws


@torch.no_grad()
def image_change(
    generator: Generator, direction: Direction, alpha: float = 3.0, n: int = 16, seed: int = 0, layers=None
) -> float:
    """How visible a walk is: the mean absolute pixel change, as a share of the pixel range, when n random
    images (untruncated, the stored noise) are moved by α·σ along the direction."""
    ws = sample_ws(generator, n, seed)
    before = generator.synthesis(ws)
    after = generator.synthesis(edit(ws, [(direction, alpha)], layers))
    return float((after - before).abs().mean() / 2)


def edit(ws: torch.Tensor, moves: list[tuple[Direction, float]], layers: tuple[int, int] | None = None) -> torch.Tensor:
    """Move ws (B, num_ws, D) by Σ α·σ·n over (direction, α) pairs, on layers [first, last) or all.

    A normal is (D,), the same move on every layer, or (num_ws·D,), a move per layer (a W+ boundary).
    """
    if ws.ndim != 3:
        raise ValueError(f"ws must be (B, num_ws, style_dim), got {tuple(ws.shape)}")
    num_ws, dim = ws.shape[1:]
    offset = torch.zeros(num_ws, dim, dtype=ws.dtype, device=ws.device)
    for direction, alpha in moves:
        if direction.normal.size not in (dim, num_ws * dim):
            raise ValueError(
                f"{direction.name}'s normal has {direction.normal.size} dimensions; the latents {dim} (or {num_ws}×{dim} per layer)"
            )
        move = direction.normal.reshape(-1, dim) * direction.sigma * alpha  # (1, D) for W, (num_ws, D) per layer
        offset = offset + torch.as_tensor(move, dtype=ws.dtype, device=ws.device)
    mask = torch.zeros(num_ws, 1, dtype=ws.dtype, device=ws.device)
    first, last = layers if layers is not None else (0, num_ws)
    mask[first:last] = 1
    return ws + mask * offset


@torch.no_grad()
def walk_matrix(generator: Generator, ws: torch.Tensor, directions: list[Direction], steps: list[float], layers=None, noise=None):
    """Images and latents of a walk: rows are directions, columns steps. ws (num_ws, D) → (rows, cols, 3, H, W), (rows, cols, num_ws, D).

    noise: the source's own noise maps (each (1, 1, r, r), e.g. the projector's optimised ones), kept
    at every step; None: the generator's stored noise.
    """
    rows_images, rows_latents = [], []
    if noise is not None:
        noise = [n.expand(len(steps), *n.shape[1:]) for n in noise]
    for direction in directions:
        edited = torch.cat([edit(ws[None], [(direction, alpha)], layers) for alpha in steps])
        rows_images.append(generator.synthesis(edited, noise=noise))
        rows_latents.append(edited)
    return torch.stack(rows_images), torch.stack(rows_latents)


@torch.no_grad()
def walk_grid(
    generator: Generator,
    sources: dict[str, torch.Tensor],
    directions: list[Direction],
    steps: list[float],
    layers=None,
    noises: dict[str, list[torch.Tensor]] | None = None,
) -> tuple[Image.Image, np.ndarray]:
    """The walk matrix of several source latents: one row per (source, direction), one column per step.

    `sources` maps a label to ws (num_ws, D); `noises` optionally a label to that source's own noise
    maps (see `walk_matrix`). Returns the labelled PNG-ready grid and the latents
    (sources, directions, steps, num_ws, D) as float32.
    """
    if not sources or not directions or not len(steps):
        raise ValueError("a walk matrix needs at least one source, one direction and one step")
    images, latents, labels = [], [], []
    for label, ws in sources.items():
        noise = (noises or {}).get(label)
        rows_images, rows_latents = walk_matrix(generator, ws, directions, list(steps), layers, noise)
        images.append(rows_images)
        latents.append(rows_latents)
        labels += [f"{label} · {d.name}" if len(sources) > 1 else d.name for d in directions]
    tiles = torch.cat(images)
    scale = max(1, 128 // tiles.shape[-1])  # a 64-px image's tile is doubled; a 256-px or larger one kept as it is
    grid = image_grid(tiles, row_labels=labels, column_labels=step_labels(list(steps)), scale=scale)
    return grid, torch.stack(latents).numpy().astype(np.float32)


@torch.inference_mode()
def walk_tiles(generator: Generator, latents: np.ndarray, batch: int = 32) -> np.ndarray:
    """A walk matrix's images from its latents (sources, directions, steps, num_ws, D): uint8 (rows, steps, H, W, 3)."""
    sources, directions, steps = latents.shape[:3]
    tiles = to_uint8(synthesise_latents(generator, latents, batch))
    return tiles.reshape(sources * directions, steps, *tiles.shape[1:])


@torch.inference_mode()
def synthesise_latents(generator: Generator, latents: np.ndarray, batch: int = 32) -> torch.Tensor:
    """Images in [-1, 1] (N, 3, H, W) of latents (…, num_ws, D) in any leading shape (a walk matrix's), in batches."""
    flat = torch.from_numpy(np.asarray(latents, np.float32).reshape(-1, *np.shape(latents)[-2:]))
    return torch.cat([generator.synthesis(flat[i : i + batch]) for i in range(0, len(flat), batch)])


def step_labels(steps: list[float]) -> list[str]:
    """Column labels in σ, the unit of the sliders (the spread of the generator's W along the direction)."""
    return [f"{s:+.1f}σ" if s else "0" for s in steps]


def projection_2d(latents: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """Latents (n, d) → 2-D coordinates (n, 2) by PCA or t-SNE, for plots."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(latents)
    if method == "tsne":
        perplexity = min(30.0, max(2.0, (len(latents) - 1) / 3))
        return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(latents)
    raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}")
