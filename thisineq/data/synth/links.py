"""The documented links from an area's hidden deprivation variables to each photo's visual factors.

This mapping is a design choice for validating the method — a known answer that the GAN, the
inversions and the boundaries must recover — and not a claim about what deprived places look
like. Each of income, health and education drives two factors of its own, and some factors are
shared. Every link is noisy (a photo is one view of one street), so that deprived and privileged
areas overlap visually, as they do in real photos. Part of that noise may be shared by all the
photos of an area (`area_style`), as a street's building age or palette is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from thisineq.data.synth.render import LINKED_FACTORS, SceneFactors

# Weight of each domain's *privilege* (minus its deprivation variable) on each factor. A factor
# whose high end goes with deprivation (density, litter, graffiti) has negative weights.
LINKS: dict[str, dict[str, float]] = {
    # income's own factors
    "car_value": {"income": 0.8},
    "facade_render": {"income": 0.7, "education": 0.2},
    # health's own factors
    "greenery": {"health": 0.7, "living_environment": 0.25},
    "front_garden": {"health": 0.65, "income": 0.2},
    # education's own factors
    "window_size": {"education": 0.8},
    "ornament": {"education": 0.65, "income": 0.2},
    # shared factors
    "density": {"income": -0.45, "barriers": -0.4, "employment": -0.2},
    "upkeep": {"income": 0.35, "living_environment": 0.45, "health": 0.25},
    "litter": {"crime": -0.45, "living_environment": -0.4, "health": -0.3},
    "graffiti": {"crime": -0.8},
}
# Per-photo noise, relative to the unit-variance area signal: how much one view departs from
# what its area predicts. Chosen so that the true factors of one photo separate deciles 1–3 from
# 8–10 with an F1 near 0.85, leaving room below for what a GAN and an inversion lose.
PHOTO_NOISE = 2.0
GRAFFITI_THRESHOLD = 0.65  # most streets have none: only the top third of the scale shows any


def factor_table(
    deprivation: pd.DataFrame, photo_area: np.ndarray, seed: int, noise: float = PHOTO_NOISE, area_style: float = 0.0
) -> pd.DataFrame:
    """Visual factors of every photo from its area's hidden variables.

    Args:
        deprivation: one row per area (index lsoa_code), a column per domain, higher = more
            deprived, standardised.
        photo_area: the lsoa_code of each photo, (n_photos,).
        seed: seeds every draw. Each factor has its own stream, drawn photo by photo, so the
            first k photos of a larger city are exactly those of a k-photo city.
        noise: standard deviation of the per-photo departure from the area's signal.
        area_style: share (0–1) of that departure's variance that every photo of the same area
            shares (and of the facade hue's): a street's building age, tree policy, palette.
    Returns:
        A DataFrame (n_photos rows) with one column per `SceneFactors` field.
    """
    rows = deprivation.loc[photo_area]
    n = len(rows)
    area = deprivation.index.get_indexer(photo_area)  # (n_photos,) row of each photo's area
    table = {}
    for k, factor in enumerate(LINKED_FACTORS):
        weights = LINKS[factor]
        signal = sum(-w * rows[domain].to_numpy() for domain, w in weights.items())
        spread = np.sqrt(sum(w * w for w in weights.values()) + noise**2)
        own = np.random.default_rng([seed, k]).normal(0, noise, n)
        shared = area_draws(len(deprivation), seed, 200 + k, noise)[area]
        table[factor] = norm.cdf((signal + shared_departure(own, shared, area_style)) / spread)
    table["graffiti"] = np.clip((table["graffiti"] - GRAFFITI_THRESHOLD) / (1 - GRAFFITI_THRESHOLD), 0, 1)
    table.update(nuisance_factors(n, seed))
    table["hue"] = area_palette(table["hue"], area_draws(len(deprivation), seed, 300)[area], area_style)
    return pd.DataFrame(table)[[name for name in SceneFactors.__dataclass_fields__]]


def area_draws(n_areas: int, seed: int, stream: int, scale: float = 1.0) -> np.ndarray:
    """One normal draw per area, (n_areas,), in the areas' order: the same whatever the number of photos."""
    return np.random.default_rng([seed, stream]).normal(0, scale, n_areas)


def shared_departure(own: np.ndarray, shared: np.ndarray, share: float) -> np.ndarray:
    """√share·shared + √(1−share)·own: the same variance as either, `share` of it common to an area.

    Keeping the variance keeps every factor's marginal distribution and its link to the area
    variables; only how the departure clusters by area changes. At share 0 it is `own` exactly.
    """
    return np.sqrt(share) * shared + np.sqrt(1 - share) * own


def area_palette(hue: np.ndarray, shared: np.ndarray, share: float) -> np.ndarray:
    """Uniform hues (n,) with `share` of their normal score's variance common to an area; still uniform."""
    if share == 0:
        return hue  # exactly the independent draws, as a city built before area_style has them
    score = norm.ppf(np.clip(hue, 1e-12, 1 - 1e-12))
    return norm.cdf(shared_departure(score, shared, share))


def nuisance_factors(n: int, seed: int) -> dict[str, np.ndarray]:
    """Lighting, weather, camera and colour: independent of every area variable."""

    def stream(k: int) -> np.random.Generator:
        return np.random.default_rng([seed, 100 + k])

    return {
        "sun": stream(0).uniform(0, 1, n),
        "overcast": stream(1).beta(1.5, 1.5, n),
        "fog": stream(2).uniform(0, 1, n) ** 4 * 0.8,
        "yaw": stream(3).uniform(-1, 1, n),
        "hue": stream(4).uniform(0, 1, n),
        "car_count": stream(5).integers(0, 4, n),
        "detail_seed": stream(6).integers(0, 2**31 - 1, n),
    }


def scene(row: dict) -> SceneFactors:
    """One photo's factors as a SceneFactors (row: a mapping with every field)."""
    return SceneFactors(
        **{
            name: (int(row[name]) if name in ("car_count", "detail_seed") else float(row[name]))
            for name in SceneFactors.__dataclass_fields__
        }
    )


def links_markdown() -> str:
    """The link table as Markdown, for the dataset card."""
    lines = ["| factor | driven by (weight on privilege) |", "|---|---|"]
    for factor in LINKED_FACTORS:
        drivers = ", ".join(f"{d} {w:+.2f}" for d, w in LINKS[factor].items())
        lines.append(f"| `{factor}` | {drivers} |")
    return "\n".join(lines)
