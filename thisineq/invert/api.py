"""One entry point for inverting photos with any of the methods, for the app and for batch jobs.

The methods are those of `thisineq.invert.methods`: an encoder's pass or passes (fast), the
StyleGAN2-ADA projector's optimisation in W (slow, reports progress and can be stopped), or an
encoder's code refined by a short projector run in W+ (the projector's quality at a fraction of its time).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from thisineq.errors import ConfigError
from thisineq.images import to_tensor
from thisineq.invert import methods
from thisineq.invert.methods import Method
from thisineq.invert.project import ProgressCallback, project
from thisineq.models.stylegan2 import Generator, load_generator


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
                    raise ConfigError(f"{path} holds a {kind} encoder, not {expected}")
                models.encoders[kind] = encoder
        if lpips_net:
            from thisineq.metrics.lpips import LPIPS

            models.perceptual = LPIPS(lpips_net)
        return models

    def can_run(self, method: Method) -> bool:
        """Whether these models hold what `method` needs: its encoder, and a perceptual distance if it optimises."""
        has_encoder = method.encoder is None or method.encoder in self.encoders
        return has_encoder and (self.perceptual is not None or not method.optimises)

    def available(self) -> tuple[str, ...]:
        """The methods these models can run, in the registry's order."""
        return tuple(name for name, spec in methods.METHODS.items() if self.can_run(spec))


@dataclass
class Inversion:
    """Latents and reconstructions of B photos by one method."""

    method: str
    ws: torch.Tensor  # (B, num_ws, style_dim)
    reconstruction: torch.Tensor  # (B, 3, size, size) in [-1, 1]
    seconds: float  # wall time for the batch
    steps: int = 0  # optimisation steps, for the methods that optimise
    noise: list[torch.Tensor] | None = None  # the projector's optimised noise maps; None: the stored ones


def invert(
    photos: torch.Tensor,
    method: str,
    models: InversionModels,
    *,
    projector_steps: int = 1000,
    hybrid_steps: int = 100,
    restyle_iterations: int = 5,
    w_prior: float = 0.0,
    progress: ProgressCallback | None = None,
) -> Inversion:
    """Invert photos in [-1, 1], (B, 3, size, size), with one method.

    w_prior: the projector's prior on w (`thisineq.invert.project.project`); 0, StyleGAN2-ADA's projector."""
    from thisineq.models.encoders import encode_and_generate

    spec = methods.method(method)
    if not models.can_run(spec):
        raise ConfigError(f"{method} is not available: these models offer {', '.join(models.available()) or 'nothing'}")
    generator = models.generator
    start = time.perf_counter()
    steps, noise = 0, None
    if not spec.optimises:
        ws, images = encode_and_generate(models.encoders[spec.encoder], spec.encoder, generator, photos, restyle_iterations)
    else:
        w_init = encode_and_generate(models.encoders[spec.encoder], spec.encoder, generator, photos)[0] if spec.encoder else None
        settings = _projector_settings(spec, projector_steps, hybrid_steps, w_prior)
        result = project(generator, photos, perceptual=models.perceptual, progress=progress, w_init=w_init, **settings)
        ws, steps, noise = result.ws, result.steps, result.noise
        with torch.no_grad():
            images = generator.synthesis(ws, noise=noise)
    seconds = time.perf_counter() - start
    return Inversion(method=method, ws=ws.detach(), reconstruction=images.detach(), seconds=seconds, steps=steps, noise=noise)


def _projector_settings(spec: Method, projector_steps: int, hybrid_steps: int, w_prior: float) -> dict:
    """The projector from w_avg searches W boldly (StyleGAN2-ADA's settings, with the prior if asked for); from an
    encoder's code it refines in W+, gently."""
    if spec.encoder is None:
        return {
            "num_steps": projector_steps,
            "space": "w",
            "initial_learning_rate": 0.1,
            "initial_noise_factor": 0.05,
            "w_prior": w_prior,
        }
    return {"num_steps": hybrid_steps, "space": "w+", "initial_learning_rate": 0.01, "initial_noise_factor": 0.0}


def invert_image(
    image: np.ndarray, method: str, models: InversionModels, *, progress: ProgressCallback | None = None, **kw
) -> Inversion:
    """Invert one uint8 photo (size, size, 3), already cropped to the generator's size."""
    size = models.generator.config.size
    if np.asarray(image).shape[:2] != (size, size):
        raise ConfigError(f"the photo must be {size}×{size} (crop and resize it first), got {np.asarray(image).shape[:2]}")
    with torch.inference_mode(not methods.method(method).optimises):
        return invert(to_tensor(image), method, models, progress=progress, **kw)
