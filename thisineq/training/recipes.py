"""Named GAN training recipes: the settings that differ from `GANTrainConfig`'s defaults, in one place.

The pipeline, the recipe comparison and the CLI take a recipe by name, so a result always says which
settings made it. Architecture, dataset, seed and length are the caller's.
"""

from __future__ import annotations

from thisineq.errors import ConfigError
from thisineq.training.gan import GANTrainConfig

RECIPES: dict[str, dict] = {
    # StyleGAN2-ADA's small-data recipe (logistic loss, R1, path length, DiffAugment): what trained the 2025 demo.
    "stylegan2": {},
    # The same, with G's and D's forward passes under bfloat16 autocast where the machine computes bfloat16
    # natively (AVX512-BF16/AMX CPUs, recent GPUs; 1.35–1.5× there), float32 elsewhere (emulated bf16 is slower).
    "stylegan2-bf16": {"precision": "auto"},
    # Projected GAN: frozen EfficientNet-Lite0 features at 128 px, random projections, patch heads, hinge loss, no R1.
    "projected": {"discriminator": "projected", "precision": "auto", "lr": 0.002},
    # Both side by side (Kumari et al. 2022): StyleGAN2's recipe plus the projected heads' hinge loss.
    "stylegan2+projected": {"discriminator": "stylegan2+projected", "precision": "auto"},
}


def recipe_config(name: str, **settings) -> GANTrainConfig:
    """The recipe `name` with `settings` (dataset, run_dir, model, steps…; a setting given here wins over the recipe's)."""
    if name not in RECIPES:
        raise ConfigError(f"unknown GAN recipe {name!r}; choose from {', '.join(RECIPES)}")
    return GANTrainConfig(**{**RECIPES[name], **settings})
