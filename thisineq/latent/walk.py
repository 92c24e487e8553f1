"""Walks perpendicular to deprivation boundaries: latent edits, walk matrices and 2-D projections.

A step α is measured in standard deviations of the latents along the boundary's normal, so that
"+2" means the same for every domain: as far as a photo two standard deviations more privileged
than average sits from the mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from PIL import Image, ImageDraw, ImageFont

from thisineq.latent.boundaries import conditional_normal
from thisineq.models.stylegan2 import Generator, broadcast


@dataclass(frozen=True)
class Direction:
    """A unit normal in latent space and the latents' spread along it."""

    name: str  # e.g. "income"
    normal: np.ndarray  # (style_dim,), unit length, from deprived to privileged
    sigma: float  # standard deviation of the latents along `normal`

    @classmethod
    def from_latents(cls, name: str, normal: np.ndarray, latents: np.ndarray) -> Direction:
        """σ measured from latents (n, style_dim) — w, or ws averaged over layers."""
        normal = np.asarray(normal, np.float64) / np.linalg.norm(normal)
        return cls(name, normal, float(np.std(np.asarray(latents) @ normal)))


@torch.no_grad()
def sample_w(generator: Generator, n: int = 10000, seed: int = 0, batch: int = 2500) -> np.ndarray:
    """n samples (n, style_dim) of the generator's W: mapped N(0, I) codes, untruncated."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, generator.style_dim, generator=g)
    return torch.cat([generator.mapping(chunk) for chunk in z.split(batch)]).double().numpy()


@torch.no_grad()
def image_change(
    generator: Generator, direction: Direction, alpha: float = 3.0, n: int = 16, seed: int = 0, layers=None
) -> float:
    """How visible a walk is: the mean absolute pixel change, as a share of the pixel range, when n random
    images (untruncated, the stored noise) are moved by α·σ along the direction."""
    g = torch.Generator().manual_seed(seed)
    ws = broadcast(generator.mapping(torch.randn(n, generator.style_dim, generator=g)), generator.num_ws)
    before = generator.synthesis(ws)
    after = generator.synthesis(edit(ws, [(direction, alpha)], layers))
    return float((after - before).abs().mean() / 2)


PRINCIPAL = "principal/"  # normals-archive prefix of the boundaries fitted on W's principal axes


def boundary_directions(
    normals, method: str, domains=None, *, conditional: bool = False, principal: bool = False
) -> dict[str, Direction]:
    """The directions to walk a latent of `method` along, from a normals archive (`method/domain`, `method/domain/sigma`).

    `domains` picks and orders them (default: every domain the archive has for the method). The hybrid
    refines e4e codes, so it walks along e4e's boundaries. With `conditional`, each normal is made
    orthogonal to the others' (InterFaceGAN's conditional manipulation). With `principal`, the
    boundaries fitted on W's first principal axes (`principal/method/domain`) are used instead: they
    separate the classes less well, and their walks change the image more.
    """
    bounded = "e4e" if method == "hybrid" else method
    prefix = f"{PRINCIPAL if principal else ''}{bounded}/"
    available = [key[len(prefix) :] for key in normals if key.startswith(prefix) and "/" not in key[len(prefix) :]]
    chosen = [d for d in (domains if domains is not None else available) if d in available]
    directions = {
        d: Direction(d, np.asarray(normals[prefix + d], np.float64), float(normals[f"{prefix}{d}/sigma"])) for d in chosen
    }
    return conditional_directions(directions) if conditional else directions


def bounded_methods(normals) -> list[str]:
    """The inversion methods with (full-space) boundaries in a normals archive, sorted."""
    return sorted({key.split("/")[0] for key in normals if not key.startswith(PRINCIPAL)})


def has_principal(normals, method: str) -> bool:
    """Whether the archive holds boundaries on W's principal axes for `method` (the hybrid: e4e's)."""
    return bool(boundary_directions(normals, method, principal=True))


def conditional_directions(directions: dict[str, Direction]) -> dict[str, Direction]:
    """Each direction's normal made orthogonal to all the others' (their σ kept)."""
    if len(directions) < 2:
        return dict(directions)
    return {
        d: Direction(d, conditional_normal(v.normal, [o.normal for k, o in directions.items() if k != d]), v.sigma)
        for d, v in directions.items()
    }


def edit(ws: torch.Tensor, moves: list[tuple[Direction, float]], layers: tuple[int, int] | None = None) -> torch.Tensor:
    """Move ws (B, num_ws, D) by Σ α·σ·n over (direction, α) pairs, on layers [first, last) or all."""
    if ws.ndim != 3:
        raise ValueError(f"ws must be (B, num_ws, style_dim), got {tuple(ws.shape)}")
    offset = torch.zeros(ws.shape[-1], dtype=ws.dtype, device=ws.device)
    for direction, alpha in moves:
        if direction.normal.shape != (ws.shape[-1],):
            raise ValueError(f"{direction.name}'s normal has {direction.normal.shape[0]} dimensions, the latents {ws.shape[-1]}")
        offset = offset + torch.as_tensor(direction.normal * direction.sigma * alpha, dtype=ws.dtype, device=ws.device)
    mask = torch.zeros(ws.shape[1], 1, dtype=ws.dtype, device=ws.device)
    first, last = layers if layers is not None else (0, ws.shape[1])
    mask[first:last] = 1
    return ws + mask * offset


@torch.no_grad()
def walk_matrix(generator: Generator, ws: torch.Tensor, directions: list[Direction], steps: list[float], layers=None, noise=None):
    """Images and latents of a walk: rows are directions, columns steps. ws (num_ws, D) → (rows, cols, 3, H, W), (rows, cols, num_ws, D)."""
    rows_images, rows_latents = [], []
    for direction in directions:
        edited = torch.cat([edit(ws[None], [(direction, alpha)], layers) for alpha in steps])
        rows_images.append(generator.synthesis(edited, noise=noise))
        rows_latents.append(edited)
    return torch.stack(rows_images), torch.stack(rows_latents)


def grid_image(images: torch.Tensor, row_labels: list[str], column_labels: list[str], scale: int = 2) -> Image.Image:
    """A labelled grid PNG of (rows, cols, 3, H, W) images in [-1, 1], up-scaled without blur."""
    rows, cols, _, height, width = images.shape
    h, w = height * scale, width * scale
    font = ImageFont.load_default()
    left, top, pad = max(60, 7 * max(map(len, row_labels), default=0) + 12), 22, 4
    canvas = Image.new("RGB", (left + cols * (w + pad), top + rows * (h + pad)), "white")
    draw = ImageDraw.Draw(canvas)
    pixels = ((images.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 1, 3, 4, 2).cpu().numpy()
    for c, label in enumerate(column_labels):
        draw.text((left + c * (w + pad) + w // 2 - 3 * len(label), 5), label, fill="black", font=font)
    for r, label in enumerate(row_labels):
        draw.text((5, top + r * (h + pad) + h // 2 - 6), label, fill="black", font=font)
        for c in range(cols):
            tile = Image.fromarray(pixels[r, c]).resize((w, h), Image.Resampling.NEAREST)
            canvas.paste(tile, (left + c * (w + pad), top + r * (h + pad)))
    return canvas


@torch.no_grad()
def walk_grid(
    generator: Generator, sources: dict[str, torch.Tensor], directions: list[Direction], steps: list[float], layers=None
) -> tuple[Image.Image, np.ndarray]:
    """The walk matrix of several source latents: one row per (source, direction), one column per step.

    `sources` maps a label to ws (num_ws, D). Returns the labelled PNG-ready grid and the latents
    (sources, directions, steps, num_ws, D) as float32.
    """
    if not sources or not directions or not len(steps):
        raise ValueError("a walk matrix needs at least one source, one direction and one step")
    images, latents, labels = [], [], []
    for label, ws in sources.items():
        rows_images, rows_latents = walk_matrix(generator, ws, directions, list(steps), layers)
        images.append(rows_images)
        latents.append(rows_latents)
        labels += [f"{label} · {d.name}" if len(sources) > 1 else d.name for d in directions]
    grid = grid_image(torch.cat(images), labels, step_labels(list(steps)))
    return grid, torch.stack(latents).numpy().astype(np.float32)


def step_labels(steps: list[float]) -> list[str]:
    """Column labels in standard deviations ("sd": PIL's built-in font has no σ)."""
    return [f"{s:+.1f} sd" if s else "0" for s in steps]


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


def projection_table(latents: np.ndarray, labels: pd.Series, method: str = "pca") -> pd.DataFrame:
    """x, y and class label per photo: the data of the latent-space scatter plot."""
    xy = projection_2d(latents, method)
    return pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "label": labels.to_numpy()}, index=labels.index)
