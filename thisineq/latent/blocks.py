"""Spatial blocks: neighbouring LSOAs grouped together, so that cross-validation can hold out whole patches of a city.

Neighbouring areas look alike (the same streets, the same era of housing), so folds that hold out
single LSOAs still let a boundary learn an area from the ones next to it. Folds that hold out
blocks of neighbouring areas measure how a boundary does on a part of the city it has not seen.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans

from thisineq.errors import ConfigError


def spatial_blocks(centroids: pd.DataFrame, n_blocks: int, seed: int = 0) -> pd.Series:
    """A block id per LSOA: k-means on the areas' centroids, so each block is a compact patch of neighbours.

    Args:
        centroids: one row per area, index `lsoa_code`, columns `x` and `y` in metres (a projected
            coordinate system such as the British National Grid, where distances are true).
        n_blocks: how many blocks, from 2 to the number of areas.

    Returns:
        Block ids 0 … n_blocks − 1 (int), index `lsoa_code`, named "block".
    """
    missing = sorted({"x", "y"} - set(centroids.columns))
    if missing:
        raise ConfigError(f"spatial blocks need the areas' centroids in columns x and y (metres); missing {missing}")
    if centroids.index.has_duplicates:
        raise ConfigError("spatial blocks need one centroid per area, but some LSOA codes appear twice")
    points = centroids[["x", "y"]].to_numpy(np.float64)  # (n_areas, 2)
    if not np.isfinite(points).all():
        raise ConfigError(f"{int((~np.isfinite(points)).any(axis=1).sum())} areas have no centroid: spatial blocks need all")
    if not 2 <= n_blocks <= len(points):
        raise ConfigError(f"the number of spatial blocks must be from 2 to the number of areas ({len(points)}), got {n_blocks}")
    labels = KMeans(n_clusters=n_blocks, n_init=10, random_state=seed).fit_predict(points)
    return pd.Series(labels, index=centroids.index, name="block")


def photo_blocks(areas, blocks: pd.Series) -> np.ndarray:
    """Each photo's block (n,), from its LSOA code (areas (n,)) and a block per area (see `spatial_blocks`)."""
    found = blocks.reindex(np.asarray(areas))
    if found.isna().any():
        unknown = pd.unique(np.asarray(areas)[found.isna().to_numpy()])
        raise ConfigError(
            f"{len(unknown)} areas photographed have no spatial block (e.g. {unknown[0]}): "
            "make the blocks from the centroids of every area photographed"
        )
    return found.to_numpy()
