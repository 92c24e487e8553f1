"""Train/val/test splits that keep every group of photos (an LSOA) on one side."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from thisineq.errors import ConfigError

SPLITS: tuple[str, str, str] = ("train", "val", "test")


def split_by_group(groups: pd.Series, *, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> pd.Series:
    """Assign photos to train/val/test so that each group (e.g. LSOA) lies on one side.

    Groups are ordered by sha256 of f"{seed}:{group}" and filled into the splits by
    cumulative photo count (a group goes where its middle photo falls), so the result
    depends only on the multiset of groups and the seed, not on row order.

    Args:
        groups: the group of each photo, n values; NaN is refused.
        fractions: (train, val, test) shares of photos, non-negative, summing to 1.
        seed: changes which groups land where.

    Returns:
        "train" | "val" | "test" per photo, n values aligned to `groups.index`, named "split".
    """
    bounds = _split_bounds(fractions)
    missing = int(groups.isna().sum())
    if missing:
        raise ConfigError(f"{missing} of {len(groups)} photos have no group (NaN); assign or drop them before splitting")
    counts = groups.value_counts(sort=False)
    order = sorted(counts.index, key=lambda g: (_stable_key(seed, g), str(g)))
    total = float(counts.sum())
    assignment: dict[object, str] = {}
    seen = 0
    for group in order:
        n = int(counts[group])
        middle = (seen + n / 2) / total
        assignment[group] = SPLITS[int(np.searchsorted(bounds, middle, side="right"))]
        seen += n
    return pd.Series([assignment[g] for g in groups], index=groups.index, name="split", dtype=object)


def _split_bounds(fractions: Sequence[float]) -> np.ndarray:
    """Cumulative train and train+val shares, after checking the three fractions."""
    values = np.asarray(list(fractions), dtype=float)
    if values.shape != (3,) or not np.all(np.isfinite(values)) or np.any(values < 0) or abs(values.sum() - 1) > 1e-6:
        raise ConfigError(f"fractions must be three non-negative numbers (train, val, test) summing to 1; got {tuple(fractions)}")
    return np.cumsum(values)[:2]


def _stable_key(seed: int, group: object) -> str:
    """A hash of seed and group that is the same in every process (unlike hash())."""
    return hashlib.sha256(f"{seed}:{group}".encode()).hexdigest()
