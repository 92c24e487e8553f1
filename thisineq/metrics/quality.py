"""GAN quality where no discriminator looks: VGG16 features, Fréchet/kernel distances with their floor, precision and recall.

A projected discriminator trains G to match EfficientNet-Lite0 features — the very space the
project's FD is computed in — so that FD can no longer judge it (Kynkäänniemi et al. 2023 show the
same for ImageNet features in FID). The second space here is VGG16's convolutions from the LPIPS
weights the project converts (`thisineq.metrics.lpips`): no discriminator of this project sees it.

Distances between finite samples are biased upwards, so every distance is reported beside its
floor: the same distance between two disjoint halves of the real photos, of the same size.
Precision and recall follow Kynkäänniemi et al. 2019: each set's manifold is the union of balls
around its points reaching their k-th nearest neighbour; precision is the share of generated images
inside the real manifold, recall the share of real images inside the generated one.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from thisineq.metrics.fid import FeatureStats, diversity, frechet_distance, kernel_distance
from thisineq.metrics.lpips import LPIPS

VGG_LAYERS = (3, 4)  # LPIPS's blocks ending at relu4_3 and relu5_3 (512 channels each)
STATISTICS = {"mean": lambda x: x.mean(dim=(2, 3)), "std": lambda x: x.std(dim=(2, 3))}  # per channel, over space


class VGGFeatures(nn.Module):
    """Images in [-1, 1] (B, 3, H, W) → VGG16 features: per channel of some of LPIPS's blocks, statistics over space.

    The default, (B, 1024): relu4_3 and relu5_3, each averaged over space. `layers` picks other blocks
    (0 relu1_2 … 4 relu5_3) and `statistics` adds the spatial standard deviation ("mean", "std"): the
    early blocks' means and spreads are texture statistics (Gatys et al. 2015), which keep small marks
    that the deep blocks' averages wash out. `bands` > 1 takes the statistics over that many horizontal
    strips instead of the whole image: a street photo is sky above facades above pavement, and a mark
    on a wall reads differently from one on the ground. Only the blocks up to the deepest one asked for
    are run. Images are resized to `input_size` first, so that sets of any resolution share one space
    (64: the demo's resolution, and a quarter of the cost of 128 on a CPU).
    """

    def __init__(
        self,
        input_size: int = 64,
        weights=None,
        *,
        layers: tuple[int, ...] = VGG_LAYERS,
        statistics=("mean",),
        bands: int = 1,
    ):
        super().__init__()
        unknown = set(statistics) - set(STATISTICS)
        if unknown or not statistics or not layers or not set(layers) <= set(range(5)):
            raise ValueError(f"layers must be of 0…4 and statistics of {tuple(STATISTICS)}, got {layers} and {statistics}")
        if not 1 <= bands <= input_size // 2 ** max(layers):
            raise ValueError(f"bands must be 1 to the deepest block's height ({input_size // 2 ** max(layers)}), got {bands}")
        lpips = LPIPS("vgg", weights=weights)
        self.blocks = lpips.features[: max(layers) + 1]
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))
        self.input_size, self.layers, self.statistics, self.bands = input_size, tuple(layers), tuple(statistics), bands
        self.eval().requires_grad_(False)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(images.float(), size=self.input_size, mode="bilinear", align_corners=False, antialias=True)
        x = (x - self.shift) / self.scale
        pooled = []
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in self.layers:
                pooled += [STATISTICS[name](strip) for strip in x.tensor_split(self.bands, dim=2) for name in self.statistics]
        return torch.cat(pooled, dim=1)


def features_of(network: nn.Module, images: torch.Tensor, batch: int = 100) -> np.ndarray:
    """Features of many images in batches, (N, D) float64."""
    return np.concatenate([network(images[i : i + batch]).double().numpy() for i in range(0, len(images), batch)])


# --- precision and recall -------------------------------------------------------------------------


def _kth_neighbour_radii(x: torch.Tensor, k: int, block: int = 1024) -> torch.Tensor:
    """Per point, the distance to its k-th nearest other point of the same set."""
    radii = []
    for i in range(0, len(x), block):
        d = torch.cdist(x[i : i + block], x)
        radii.append(d.kthvalue(k + 1, dim=1).values)  # +1: the point itself, at distance 0
    return torch.cat(radii)


def _share_inside(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, block: int = 1024) -> float:
    """Share of `points` inside at least one ball (centre, radius)."""
    inside = [(torch.cdist(points[i : i + block], centres) <= radii[None, :]).any(dim=1) for i in range(0, len(points), block)]
    return float(torch.cat(inside).double().mean())


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) of `fake` against `real`, features (N, D).

    Returns: {"precision": share of fakes on the real manifold, "recall": share of reals on the fake manifold}.
    """
    if min(len(real), len(fake)) <= k:
        raise ValueError(
            f"precision and recall with k={k} need more than {k} points in each set, got {len(real)} and {len(fake)}"
        )
    r, f = torch.as_tensor(np.asarray(real, np.float64)), torch.as_tensor(np.asarray(fake, np.float64))
    return {
        "precision": _share_inside(f, r, _kth_neighbour_radii(r, k)),
        "recall": _share_inside(r, f, _kth_neighbour_radii(f, k)),
    }


# --- one feature space, every measure -------------------------------------------------------------


class RealReference:
    """The reference half of the photos in one feature space, with what every comparison against it reuses.

    reference, other_real: features of two disjoint halves of the photos. The other half's scores
    are the floor (what a perfect generator would get at this sample size); they, the reference's
    statistics, its k-NN radii and its diversity are computed once, not for every generator.
    """

    def __init__(self, reference: np.ndarray, other_real: np.ndarray, *, seed: int = 0, k: int = 3):
        self.reference = np.asarray(reference, np.float64)
        self.stats = FeatureStats.of(self.reference)
        self.diversity = diversity(self.reference, seed=seed)
        self.seed, self.k = seed, k
        self.subset = min(500, len(self.reference), len(other_real))
        self._tensor = torch.as_tensor(self.reference)
        self._radii = _kth_neighbour_radii(self._tensor, k)
        floor = self._compare(other_real)
        self.floor = {name: floor[name] for name in ("fd", "kd", "precision", "recall")}

    def scores(self, fake: np.ndarray, *, prefix: str) -> dict:
        """FD, KD, precision, recall and diversity ratio of `fake` (as many as the reference holds), with the floor."""
        scores = self._compare(fake) | {f"{name}_floor": value for name, value in self.floor.items()}
        order = ("fd", "fd_floor", "kd", "kd_floor", "precision", "recall", "precision_floor", "recall_floor", "diversity_ratio")
        return {f"{prefix}_{name}": scores[name] for name in order}

    def _compare(self, features: np.ndarray) -> dict:
        if len(features) <= self.k:
            raise ValueError(f"precision and recall with k={self.k} need more than {self.k} points, got {len(features)}")
        features = np.asarray(features, np.float64)
        f = torch.as_tensor(features)
        return {
            "fd": frechet_distance(FeatureStats.of(features), self.stats),
            "kd": kernel_distance(features, self.reference, subset_size=min(self.subset, len(features)), seed=self.seed),
            "precision": _share_inside(f, self._tensor, self._radii),
            "recall": _share_inside(self._tensor, f, _kth_neighbour_radii(f, self.k)),
            "diversity_ratio": diversity(features, seed=self.seed) / self.diversity,
        }


def distribution_scores(reference: np.ndarray, other_real: np.ndarray, fake: np.ndarray, *, prefix: str, seed: int = 0) -> dict:
    """`RealReference(reference, other_real).scores(fake)`: one comparison, its floor beside it."""
    return RealReference(reference, other_real, seed=seed).scores(fake, prefix=prefix)
