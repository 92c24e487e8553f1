"""Pixel-level reconstruction metrics: MSE, PSNR and SSIM, per image, for images in [-1, 1]."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean squared error on the [0, 1] scale, (B,)."""
    return ((a - b) / 2).square().mean(dim=(1, 2, 3))


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB on the [0, 1] scale, (B,); identical images give +inf."""
    return -10 * torch.log10(mse(a, b))


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    t = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-(t**2) / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(a: torch.Tensor, b: torch.Tensor, window: int = 11) -> torch.Tensor:
    """Structural similarity (Wang et al. 2004; Gaussian window σ = 1.5, valid region), (B,)."""
    x, y = (a + 1) / 2, (b + 1) / 2
    channels = x.shape[1]
    kernel = _gaussian_window(min(window, x.shape[-1])).to(x).expand(channels, 1, -1, -1)

    def blur(t):
        return F.conv2d(t, kernel, groups=channels)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x.square()
    var_y = blur(y * y) - mu_y.square()
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    value = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x.square() + mu_y.square() + c1) * (var_x + var_y + c2))
    return value.mean(dim=(1, 2, 3))
