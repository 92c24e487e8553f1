"""Factor fidelity: does the generator make the synthetic city's visual factors as often, and as jointly, as the photos show them?

The oracle (`known_answer.oracle`) reads every true visual factor off an image. Reading generated
samples and real photos with the same oracle compares like with like: its errors fall on both
sides. Per factor, the 1-Wasserstein distance between the two distributions in units of the photos'
standard deviation; for the factors jointly, the difference of their correlation matrices; for the
layout, the shares of building types (from the density read, with the renderer's own thresholds).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import wasserstein_distance

from thisineq.data.synth.render import BUILDING_TYPES
from thisineq.known_answer.oracle import FACTORS


def building_types(density: np.ndarray) -> np.ndarray:
    """The renderer's building type for each density in [0, 1] (its thresholds, without its random jitter)."""
    index = np.clip((np.asarray(density) * len(BUILDING_TYPES)).astype(int), 0, len(BUILDING_TYPES) - 1)
    return np.asarray(BUILDING_TYPES)[index]


def type_shares(density: np.ndarray) -> dict[str, float]:
    """Share of each building type among the images whose densities are given."""
    types = building_types(density)
    return {name: float((types == name).mean()) for name in BUILDING_TYPES}


def factor_fidelity(photo_factors: np.ndarray, sample_factors: np.ndarray) -> dict:
    """Compare factors read off photos and off generated samples, (n, len(FACTORS)) each.

    Returns: {"wasserstein": {factor: W1 / photos' sd}, "wasserstein_max", "correlation_gap" (largest
    absolute difference between the two correlation matrices), "type_shares": {"photos", "samples"},
    "type_share_gap" (largest absolute difference, in shares)}.
    """
    photos, samples = np.asarray(photo_factors, np.float64), np.asarray(sample_factors, np.float64)
    if photos.shape[1:] != (len(FACTORS),) or samples.shape[1:] != (len(FACTORS),):
        raise ValueError(f"factor tables need {len(FACTORS)} columns ({', '.join(FACTORS)})")
    spread = photos.std(0)
    distances = {
        name: float(wasserstein_distance(photos[:, k], samples[:, k]) / spread[k]) if spread[k] > 0 else float("nan")
        for k, name in enumerate(FACTORS)
    }
    density = FACTORS.index("density")
    shares = {"photos": type_shares(photos[:, density]), "samples": type_shares(samples[:, density])}
    return {
        "wasserstein": distances,
        "wasserstein_max": float(np.nanmax(list(distances.values()))),
        "correlation_gap": float(np.nanmax(np.abs(np.corrcoef(photos, rowvar=False) - np.corrcoef(samples, rowvar=False)))),
        "type_shares": shares,
        "type_share_gap": max(abs(shares["photos"][t] - shares["samples"][t]) for t in BUILDING_TYPES),
    }
