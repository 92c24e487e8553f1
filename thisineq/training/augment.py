"""Differentiable augmentation (DiffAugment): the same random colour, shift and cutout for D's real and fake inputs.

Applied to every image the discriminator sees, it keeps D from memorising a small training set;
being differentiable, the generator's gradient flows through it. Policies as in Zhao et al. 2020,
"Differentiable Augmentation for Data-Efficient GAN Training".
"""

from __future__ import annotations

import torch

from thisineq.errors import ConfigError


def adjust_colour(x: torch.Tensor) -> torch.Tensor:
    """Random brightness (±0.5), saturation (×0–2) and contrast (×0.5–1.5) per sample; x in [-1, 1]."""
    batch = x.shape[0]
    x = x + (torch.rand(batch, 1, 1, 1, device=x.device) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (torch.rand(batch, 1, 1, 1, device=x.device) * 2) + mean
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (torch.rand(batch, 1, 1, 1, device=x.device) + 0.5) + mean


def translate(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each sample by up to `ratio` of its size, filling with zeros."""
    batch, _, height, width = x.shape
    max_dy, max_dx = int(height * ratio + 0.5), int(width * ratio + 0.5)
    dy = torch.randint(-max_dy, max_dy + 1, (batch, 1, 1), device=x.device)
    dx = torch.randint(-max_dx, max_dx + 1, (batch, 1, 1), device=x.device)
    rows = torch.arange(height, device=x.device)[None, :, None] - dy  # (B, H, 1)
    cols = torch.arange(width, device=x.device)[None, None, :] - dx  # (B, 1, W)
    valid = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)  # (B, H, W)
    index = rows.clamp(0, height - 1) * width + cols.clamp(0, width - 1)  # (B, H, W)
    flat = x.flatten(2).gather(2, index.flatten(1)[:, None, :].expand(-1, x.shape[1], -1))
    return flat.view_as(x) * valid[:, None].to(x.dtype)


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero one random square of `ratio` × the image size in each sample."""
    batch, _, height, width = x.shape
    cut_h, cut_w = int(height * ratio + 0.5), int(width * ratio + 0.5)
    top = torch.randint(0, height + 1 - cut_h % 2, (batch, 1, 1), device=x.device) - cut_h // 2
    left = torch.randint(0, width + 1 - cut_w % 2, (batch, 1, 1), device=x.device) - cut_w // 2
    rows = torch.arange(height, device=x.device)[None, :, None]
    cols = torch.arange(width, device=x.device)[None, None, :]
    inside = (rows >= top) & (rows < top + cut_h) & (cols >= left) & (cols < left + cut_w)
    return x * (~inside)[:, None].to(x.dtype)


POLICIES = {"color": adjust_colour, "translation": translate, "cutout": cutout}


def diff_augment(x: torch.Tensor, policy: str = "color,translation,cutout") -> torch.Tensor:
    """Apply each comma-separated policy in turn; an empty policy returns x."""
    for name in filter(None, (p.strip() for p in policy.split(","))):
        if name not in POLICIES:
            raise ConfigError(f"unknown augmentation {name!r}; choose from {', '.join(POLICIES)}")
        x = POLICIES[name](x)
    return x
