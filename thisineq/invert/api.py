"""One entry point for inverting photos with any of the methods, for the app and for batch jobs.

Methods: "e4e" and "restyle" (one or a few encoder passes, fast), "projector" (StyleGAN2-ADA
optimisation, slow, reports progress and can be stopped), and "hybrid" (the e4e code refined
by a short projector run in W+: the projector's quality at a fraction of its time).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from thisineq.invert.project import ProgressCallback, project
from thisineq.models.stylegan2 import Generator, load_generator

METHODS = ("e4e", "restyle", "projector", "hybrid")


@dataclass
class InversionModels:
    """A generator with the encoders and perceptual distance that inversions need (loaded once)."""

    generator: Generator
    encoders: dict[str, torch.nn.Module] = field(default_factory=dict)  # "e4e", "restyle"
    perceptual: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None

    @classmethod
    def load(
        cls,
        generator: str | os.PathLike,
        *,
        e4e: str | os.PathLike | None = None,
        restyle: str | os.PathLike | None = None,
        lpips_net: str | None = "vgg",
    ) -> InversionModels:
        from thisineq.models.encoders import load_encoder

        models = cls(load_generator(generator).requires_grad_(False))
        for expected, path in (("e4e", e4e), ("restyle", restyle)):
            if path is not None:
                kind, encoder, _ = load_encoder(path)
                if kind != expected:
                    raise ValueError(f"{path} holds a {kind} encoder, not {expected}")
                models.encoders[kind] = encoder
        if lpips_net:
            from thisineq.metrics.lpips import LPIPS

            models.perceptual = LPIPS(lpips_net)
        return models

    def available(self) -> tuple[str, ...]:
        """The methods these models can run."""
        methods = [m for m in ("e4e", "restyle") if m in self.encoders]
        if self.perceptual is not None:
            methods.append("projector")
            if "e4e" in self.encoders:
                methods.append("hybrid")
        return tuple(methods)


@dataclass
class Inversion:
    """Latents and reconstructions of B photos by one method."""

    method: str
    ws: torch.Tensor  # (B, num_ws, style_dim)
    reconstruction: torch.Tensor  # (B, 3, size, size) in [-1, 1]
    seconds: float  # wall time for the batch
    steps: int = 0  # optimisation steps (projector, hybrid)
    noise: list[torch.Tensor] | None = None  # the projector's optimised noise maps; None: the stored ones


def to_tensor(photos: np.ndarray) -> torch.Tensor:
    """uint8 photos (B, H, W, 3) or (H, W, 3) → floats in [-1, 1], (B, 3, H, W)."""
    photos = np.asarray(photos)
    if photos.ndim == 3:
        photos = photos[None]
    if photos.ndim != 4 or photos.shape[-1] != 3 or photos.dtype != np.uint8:
        raise ValueError(f"photos must be uint8 (B, H, W, 3), got {photos.dtype} {photos.shape}")
    return torch.from_numpy(np.ascontiguousarray(photos)).permute(0, 3, 1, 2).float() / 127.5 - 1


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Images in [-1, 1], (B, 3, H, W) → uint8 (B, H, W, 3)."""
    return ((images.detach().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def invert(
    photos: torch.Tensor,
    method: str,
    models: InversionModels,
    *,
    projector_steps: int = 1000,
    hybrid_steps: int = 100,
    restyle_iterations: int = 5,
    progress: ProgressCallback | None = None,
) -> Inversion:
    """Invert photos in [-1, 1], (B, 3, size, size), with one method."""
    from thisineq.models.encoders import encode_and_generate

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method not in models.available():
        raise ValueError(f"{method} is not available: these models offer {', '.join(models.available()) or 'nothing'}")
    generator = models.generator
    start = time.perf_counter()
    steps, noise = 0, None
    if method in ("e4e", "restyle"):
        ws, images = encode_and_generate(models.encoders[method], method, generator, photos, restyle_iterations)
    else:
        w_init = None
        if method == "hybrid":
            w_init, _ = encode_and_generate(models.encoders["e4e"], "e4e", generator, photos)
        result = project(
            generator,
            photos,
            perceptual=models.perceptual,
            progress=progress,
            num_steps=projector_steps if method == "projector" else hybrid_steps,
            space="w" if method == "projector" else "w+",
            w_init=w_init,
            initial_learning_rate=0.1 if method == "projector" else 0.01,
            initial_noise_factor=0.05 if method == "projector" else 0.0,
        )
        ws, steps, noise = result.ws, result.steps, result.noise
        with torch.no_grad():
            images = generator.synthesis(ws, noise=noise)
    seconds = time.perf_counter() - start
    return Inversion(method=method, ws=ws.detach(), reconstruction=images.detach(), seconds=seconds, steps=steps, noise=noise)


def invert_image(
    image: np.ndarray, method: str, models: InversionModels, *, progress: ProgressCallback | None = None, **kw
) -> Inversion:
    """Invert one uint8 photo (size, size, 3), already cropped to the generator's size."""
    size = models.generator.config.size
    if np.asarray(image).shape[:2] != (size, size):
        raise ValueError(f"the photo must be {size}×{size} (crop and resize it first), got {np.asarray(image).shape[:2]}")
    with torch.inference_mode(method in ("e4e", "restyle")):
        return invert(to_tensor(image), method, models, progress=progress, **kw)
