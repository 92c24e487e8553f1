"""Side-by-side comparison of the inversion methods: fidelity, speed, latent recovery and editability.

Per method, on photos held out from encoder training:

- reconstruction: pixel MSE, PSNR, SSIM and LPIPS of the batch inversions (`errors.csv`);
- speed: median seconds to invert one photo at batch 1 on this machine, as the app does;
- latent recovery, on GAN samples whose latents are known: the squared error of the recovered
  ws relative to the samples' own spread around `w_avg` (0: exact; 1: no better than `w_avg`),
  and the LPIPS of the regenerated sample;
- editability, on edited inversions (each photo walked ±`edit_sigma` along a deprivation
  boundary): how atypical the edited codes are for the mapping network's W distribution
  (mean squared Mahalanobis distance per layer and dimension; GAN samples score ≈ 1), the
  discriminator's realism logit of the edited images when a discriminator is at hand, and the
  latent editing consistency of e4e (LEC: invert the edited image again, undo the edit, measure
  the distance to the original code; reported absolute and relative to the edit's length).

This module sits downstream of the boundaries (it edits along them); it reads inversions and
boundaries, never writes them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from thisineq.config import option
from thisineq.images import to_tensor
from thisineq.invert import methods
from thisineq.invert.api import InversionModels, invert, invert_image
from thisineq.latent.normals import Direction
from thisineq.latent.walk import edit
from thisineq.models.stylegan2 import Discriminator, broadcast, sample_w, sample_ws

RECONSTRUCTION = ("mse", "psnr", "ssim", "lpips")
COLUMNS = (
    "method",
    "photos",
    *RECONSTRUCTION,
    "seconds_per_photo",
    "photos_per_second",
    "latent_error",
    "code_atypicality",
    "sample_lpips",
    "edit_atypicality",
    "edit_realism",
    "lec",
    "lec_relative",
)


@dataclass(frozen=True)
class ComparisonConfig:
    """How many photos and samples each score of the comparison is measured on."""

    timing_photos: int = option(3, "photos timed one at a time per method")
    recovery_samples: int = option(16, "GAN samples for latent recovery")
    edit_photos: int = option(16, "held-out photos edited for editability and LEC")
    edit_sigma: float = option(2.0, "edit length, in σ of the generator's W along the boundary")
    throughput_batch: int = option(32, "photos inverted at once for an encoder's throughput")
    projector_steps: int = option(1000, "optimisation steps of the projector")
    hybrid_steps: int = option(100, "optimisation steps refining an encoder's code (the hybrid)")
    w_prior: float = option(0.0, "weight of the projector's prior holding w near W (0: StyleGAN2-ADA's projector)")
    seed: int = option(0, "seed of the GAN samples and the W distribution")


def reconstruction_summary(errors: pd.DataFrame) -> dict[str, float]:
    """Mean of each reconstruction error over the given photos (infinite PSNRs are capped at 100 dB)."""
    summary = {"photos": int(len(errors))}
    for column in RECONSTRUCTION:
        values = errors[column].to_numpy(float)
        if column == "psnr":
            values = np.minimum(values, 100.0)
        summary[column] = float(np.mean(values)) if len(values) else float("nan")
    return summary


def photos_per_second(models: InversionModels, method: str, photos: np.ndarray, *, batch: int = 32, **kw) -> float:
    """Throughput of a batch of `batch` uint8 photos (N, size, size, 3) inverted at once (the photos repeated if fewer)."""
    chunk = to_tensor(np.resize(photos, (batch, *photos.shape[1:])))
    invert(chunk[:2], method, models, **kw)  # warm-up: first calls allocate
    start = time.perf_counter()
    invert(chunk, method, models, **kw)
    return batch / (time.perf_counter() - start)


def seconds_per_photo(models: InversionModels, method: str, photos: np.ndarray, *, repeats: int = 1, **kw) -> float:
    """Median wall time of `invert_image` on each uint8 photo (size, size, 3), one at a time."""
    times = []
    for photo in photos:
        for _ in range(repeats):
            start = time.perf_counter()
            invert_image(photo, method, models, **kw)
            times.append(time.perf_counter() - start)
    return float(np.median(times))


class WDistribution:
    """A Gaussian fitted to the mapping network's w, to score how typical a latent code is."""

    def __init__(self, generator, n: int = 10000, seed: int = 0):
        w = sample_w(generator, n, seed).double()
        self.mean_ = w.mean(0)
        covariance = torch.cov(w.T) + 1e-6 * torch.eye(w.shape[1], dtype=w.dtype)
        self.precision_ = torch.linalg.inv(covariance)

    def atypicality(self, ws: torch.Tensor) -> torch.Tensor:
        """Mean over layers of the squared Mahalanobis distance per dimension, (B,); w samples average 1."""
        centred = ws.double() - self.mean_
        distance = torch.einsum("bld,de,ble->bl", centred, self.precision_, centred)
        return (distance / ws.shape[-1]).mean(dim=1).float()


def latent_recovery(models: InversionModels, method: str, n: int, seed: int = 0, **kw) -> dict[str, float]:
    """Invert n GAN samples (ψ = 1, stored noise) and compare the recovered ws with the true ones."""
    generator = models.generator
    ws_true = sample_ws(generator, n, seed)
    with torch.no_grad():
        samples = generator.synthesis(ws_true)
    result = invert(samples, method, models, **kw)
    spread = (ws_true - generator.w_avg).square().sum(dim=(1, 2))
    error = (result.ws - ws_true).square().sum(dim=(1, 2)) / spread
    summary = {"latent_error": float(error.mean())}
    if models.perceptual is not None:
        with torch.no_grad():
            summary["sample_lpips"] = float(models.perceptual(result.reconstruction, samples).mean())
    return summary


def edit_moves(directions: list[Direction], n: int, sigma: float) -> list[tuple[Direction, float]]:
    """One move per photo: cycling through the directions, alternating towards privilege and deprivation."""
    if not directions:
        raise ValueError("editability needs at least one boundary direction")
    return [(directions[i % len(directions)], sigma if (i // len(directions)) % 2 == 0 else -sigma) for i in range(n)]


def editability(
    models: InversionModels,
    method: str,
    ws: torch.Tensor,
    directions: list[Direction],
    *,
    sigma: float = 2.0,
    w_distribution: WDistribution,
    discriminator: Discriminator | None = None,
    **kw,
) -> dict[str, float]:
    """Edit each inversion ws[i] along one boundary, score the result, re-invert and undo the edit (LEC)."""
    moves = edit_moves(directions, len(ws), sigma)
    edited = torch.cat([edit(ws[i : i + 1], [move]) for i, move in enumerate(moves)])
    with torch.no_grad():
        images = models.generator.synthesis(edited)
        realism = float(discriminator(images).mean()) if discriminator is not None else float("nan")
    again = invert(images, method, models, **kw).ws
    undone = torch.cat([edit(again[i : i + 1], [(d, -alpha)]) for i, (d, alpha) in enumerate(moves)])
    residual = (undone - ws).norm(dim=-1).mean(dim=1)  # L2 per layer, averaged over layers
    lengths = torch.tensor([abs(alpha) * d.sigma for d, alpha in moves], dtype=residual.dtype)
    return {
        "edit_atypicality": float(w_distribution.atypicality(edited).mean()),
        "edit_realism": realism,
        "lec": float(residual.mean()),
        "lec_relative": float((residual / lengths).mean()),
    }


def compare_methods(
    models: InversionModels,
    errors: dict[str, pd.DataFrame],
    photos: dict[str, np.ndarray],
    latents: dict[str, np.ndarray],
    directions: dict[str, list[Direction]],
    config: ComparisonConfig = ComparisonConfig(),
    *,
    discriminator: Discriminator | None = None,
    log=lambda message: None,
) -> pd.DataFrame:
    """The comparison table, one row per method.

    Args:
        models: generator, encoders and perceptual distance (the methods compared are those in `errors`).
        errors: per method, the per-photo reconstruction errors of held-out photos.
        photos: per method, uint8 held-out photos (N, size, size, 3) in the order of `latents`.
        latents: per method, their inverted ws (N, num_ws, style_dim).
        directions: per method, the boundary directions to edit along.
    """
    w_distribution = WDistribution(models.generator, seed=config.seed)
    if discriminator is not None:
        discriminator = discriminator.eval().requires_grad_(False)
    scoring = {"config": config, "w_distribution": w_distribution, "discriminator": discriminator, "log": log}
    rows = [_method_row(models, m, errors[m], photos[m], latents[m], directions.get(m, []), **scoring) for m in errors]
    return pd.DataFrame(rows).reindex(columns=list(COLUMNS))


def _method_row(
    models: InversionModels,
    method: str,
    errors: pd.DataFrame,
    photos: np.ndarray,
    latents: np.ndarray,
    directions: list[Direction],
    *,
    config: ComparisonConfig,
    w_distribution: WDistribution,
    discriminator: Discriminator | None,
    log: Callable[[str], None],
) -> dict:
    """One method's row of the comparison table (its editability scores left out where it has no boundary)."""
    log(f"  comparing {method}")
    kw = {"projector_steps": config.projector_steps, "hybrid_steps": config.hybrid_steps, "w_prior": config.w_prior}
    optimises = methods.method(method).optimises
    repeats = 1 if optimises else 5  # an encoder takes milliseconds: time it more often
    row = {"method": method, **reconstruction_summary(errors)}
    row["seconds_per_photo"] = seconds_per_photo(models, method, photos[: config.timing_photos], repeats=repeats, **kw)
    if not optimises:  # an optimiser's batch costs as many steps: its throughput says nothing new
        row["photos_per_second"] = photos_per_second(models, method, photos, batch=config.throughput_batch, **kw)
    row |= latent_recovery(models, method, config.recovery_samples, config.seed, **kw)
    # Median over the held-out photos' codes; GAN samples score about 1 (`reference_scores`).
    row["code_atypicality"] = float(w_distribution.atypicality(torch.from_numpy(np.asarray(latents, np.float32))).median())
    if not directions:
        log(f"  {method}: no boundary to edit along; its editability scores are left empty")
        return row
    ws = torch.from_numpy(np.asarray(latents[: config.edit_photos], np.float32))
    edits = {"sigma": config.edit_sigma, "w_distribution": w_distribution, "discriminator": discriminator}
    return row | editability(models, method, ws, directions, **edits, **kw)


def reference_scores(
    models: InversionModels, photos: np.ndarray, discriminator: Discriminator | None, n: int = 256, seed: int = 0
) -> dict:
    """What the editability scores look like for unedited GAN samples and real photos (for reading the table)."""
    generator = models.generator
    ws = sample_ws(generator, n, seed + 1)
    with torch.no_grad():
        scores = {"sample_atypicality": float(WDistribution(generator, seed=seed).atypicality(ws).mean())}
        if models.perceptual is not None:  # no inversion at all: every photo reconstructed as w_avg's image
            average = generator.synthesis(broadcast(generator.w_avg[None], generator.num_ws)).expand(len(photos), -1, -1, -1)
            scores["w_avg_lpips"] = float(models.perceptual(average, to_tensor(photos)).mean())
        if discriminator is not None:
            discriminator = discriminator.eval()
            scores["sample_realism"] = float(discriminator(generator.synthesis(ws)).mean())
            scores["photo_realism"] = float(discriminator(to_tensor(photos)).mean())
    return scores
