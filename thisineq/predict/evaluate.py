"""Cross-validated decile prediction and the paper's LSOA-level measures.

Folds come in two kinds: stratified by decile over locations (Suel et al.'s 5-fold protocol) and
grouped by LSOA, still balanced by decile (no area has photos on both sides, so an area's look
cannot be memorised). Photo
predictions are the expected decile of their location; an LSOA's prediction is the mean over its
photos, compared with its true decile by Kendall's τ, Pearson's r, the share within ±1 decile
(after rounding) and the confusion of extremes (decile 1 predicted as 10 and the reverse).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import clone
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from thisineq.errors import ConfigError
from thisineq.predict.ordinal import N_DECILES, OrdinalDecileRegressor

GROUPINGS = ("stratified", "lsoa")


def location_ids(photos: pd.DataFrame) -> np.ndarray:
    """Photos taken at one point (the same coordinates to ~10 cm) share a location."""
    return (photos["lat"].round(6).astype(str) + "," + photos["lon"].round(6).astype(str)).to_numpy()


def fold_assignments(photos: pd.DataFrame, deciles: np.ndarray, *, grouping: str, folds: int, seed: int) -> np.ndarray:
    """Each photo's test fold, 0…folds−1; a location's photos always share one."""
    if grouping not in GROUPINGS:
        raise ConfigError(f"unknown fold grouping {grouping!r}; choose from {', '.join(GROUPINGS)}")
    fold = np.empty(len(photos), dtype=int)
    if grouping == "lsoa":
        groups = photos["lsoa_code"].to_numpy()
        if len(np.unique(groups)) < folds:
            raise ConfigError(f"{len(np.unique(groups))} LSOAs cannot make {folds} LSOA-grouped folds")
        # Stratified by decile too: with plain GroupKFold a fold can hold mostly one end of the scale, and a model
        # that learned nothing then ranks its areas backwards (the training set's mean is the test set's mirror).
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        for k, (_, test) in enumerate(splitter.split(photos, deciles, groups=groups)):
            fold[test] = k
        return fold
    locations = location_ids(photos)
    unique, first, index = np.unique(locations, return_index=True, return_inverse=True)
    location_deciles = deciles[first]
    smallest = np.bincount(location_deciles)[np.unique(location_deciles)].min()
    splitter = StratifiedKFold(n_splits=min(folds, max(2, smallest)), shuffle=True, random_state=seed)
    location_fold = np.empty(len(unique), dtype=int)
    for k, (_, test) in enumerate(splitter.split(np.zeros(len(unique)), location_deciles)):
        location_fold[test] = k
    return location_fold[index.reshape(-1)]


def out_of_fold_predictions(
    features: np.ndarray,
    photos: pd.DataFrame,
    domain: str,
    *,
    grouping: str = "stratified",
    folds: int = 5,
    seed: int = 0,
    estimator: OrdinalDecileRegressor | None = None,
) -> np.ndarray:
    """Each photo's expected decile of `domain` from a model that never saw its location (or its LSOA)."""
    deciles = photos[f"{domain}_decile"].to_numpy().astype(int)
    fold = fold_assignments(photos, deciles, grouping=grouping, folds=folds, seed=seed)
    locations = location_ids(photos)
    estimator = estimator if estimator is not None else OrdinalDecileRegressor(seed=seed)
    predicted = np.empty(len(photos))
    for k in np.unique(fold):
        train, test = fold != k, fold == k
        model = clone(estimator).fit(features[train], deciles[train], locations[train])
        predicted[test] = model.predict(features[test], locations[test])
    return predicted


@dataclass(frozen=True)
class LSOAMeasures:
    kendall_tau: float
    pearson_r: float
    within_one: float  # share of LSOAs whose rounded prediction is within ±1 decile
    extremes_1_as_10: int  # LSOAs of decile 1 predicted as 10
    extremes_10_as_1: int
    n_lsoas: int


def lsoa_predictions(photos: pd.DataFrame, predicted: np.ndarray, domain: str) -> pd.DataFrame:
    """Per LSOA: the true decile, the mean photo prediction and its rounded decile."""
    frame = pd.DataFrame(
        {"lsoa_code": photos["lsoa_code"].to_numpy(), "true": photos[f"{domain}_decile"].to_numpy(), "predicted": predicted}
    )
    table = frame.groupby("lsoa_code").agg(true=("true", "first"), predicted=("predicted", "mean"), photos=("true", "size"))
    table["predicted_decile"] = table["predicted"].round().clip(1, N_DECILES).astype(int)
    return table


def lsoa_measures(table: pd.DataFrame) -> LSOAMeasures:
    """The paper's measures of an `lsoa_predictions` table."""
    true, mean, rounded = table["true"].to_numpy(), table["predicted"].to_numpy(), table["predicted_decile"].to_numpy()
    constant = np.ptp(true) == 0 or np.ptp(mean) == 0
    return LSOAMeasures(
        kendall_tau=float("nan") if constant else float(stats.kendalltau(mean, true).statistic),
        pearson_r=float("nan") if constant else float(stats.pearsonr(mean, true).statistic),
        within_one=float(np.mean(np.abs(rounded - true) <= 1)),
        extremes_1_as_10=int(np.sum((true == 1) & (rounded == N_DECILES))),
        extremes_10_as_1=int(np.sum((true == N_DECILES) & (rounded == 1))),
        n_lsoas=len(table),
    )
