"""Linear boundaries in latent space between photos of deprived and privileged areas (InterFaceGAN's method).

`LatentBoundary` follows scikit-learn's conventions: `fit(latents, labels, groups)` returns the
estimator; the fitted `normal_` is a unit vector in latent space pointing from deprived (label 0)
to privileged (label 1), `intercept_` the offset, so `decision_function(x) = x · normal_ +
intercept_` is a signed distance in latent units. C is chosen by an inner cross-validation that
keeps each LSOA's photos together. `evaluate` measures a boundary by cross-validation grouped by
LSOA — stricter than splitting photos, which lets the same street into training and test —
and also by the photo-level split, so the two can be compared.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.metrics import f1_score, make_scorer
from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted

from thisineq.errors import ConfigError
from thisineq.latent.labels import DEPRIVED, PRIVILEGED


class LatentBoundary(ClassifierMixin, BaseEstimator):
    """A linear SVM on standardised latents, with its normal mapped back into latent space.

    With `axes` — the generator's principal directions of W, rows ordered by variance (see
    `principal_axes`) — the SVM may instead be fitted on the latents' coordinates along the first k
    of them, k from `axis_counts` (None: the full space). An SVM in the full space spreads its normal
    over every direction that separates the classes a little, most of which the generator hardly
    renders, so a walk along it barely changes the image. Inner cross-validation picks C and k: among
    the settings whose F1 is within one standard error of the best, the one with the fewest axes wins,
    so an edit stays in the directions the generator uses unless more of them separate the classes
    clearly better.
    """

    def __init__(
        self,
        Cs=(0.001, 0.01, 0.1, 1.0),
        inner_folds: int = 3,
        max_iter: int = 20000,
        random_state: int = 0,
        axes=None,
        axis_counts=(None,),
    ):
        self.Cs = Cs
        self.inner_folds = inner_folds
        self.max_iter = max_iter
        self.random_state = random_state
        self.axes = axes
        self.axis_counts = axis_counts

    def fit(self, X, y, groups=None):
        """X (n, d) latents; y (n,) 0 deprived / 1 privileged; groups (n,) LSOA codes, optional."""
        X, y = np.asarray(X, np.float64), np.asarray(y).astype(int)
        if X.ndim != 2 or len(X) != len(y):
            raise ValueError(f"X must be (n, d) and y (n,), got {X.shape} and {y.shape}")
        self.classes_ = np.unique(y)
        if not np.array_equal(self.classes_, [DEPRIVED, PRIVILEGED]):
            raise ValueError(f"labels must be 0 (deprived) and 1 (privileged), got {self.classes_}")
        counts = self._checked_axis_counts(X.shape[1])
        pipeline = Pipeline(
            [
                ("axes", PrincipalCoordinates(self.axes)),
                ("scale", StandardScaler()),
                ("svm", LinearSVC(max_iter=self.max_iter, random_state=self.random_state)),
            ]
        )
        cv = cv_folds(y, groups, self.inner_folds, self.random_state)
        scoring = make_scorer(f1_score, zero_division=0)
        grid = {"axes__n_axes": counts, "svm__C": list(self.Cs)}
        search = GridSearchCV(pipeline, grid, scoring=scoring, cv=cv, refit=_fewest_axes_within_one_se)
        search.fit(X, y, groups=groups)
        self.C_ = search.best_params_["svm__C"]
        self.n_axes_ = search.best_params_["axes__n_axes"]
        coordinates, scaler, svm = search.best_estimator_
        # f(x) = a · (P(x − c) − μ)/σ + b = (Pᵀ a/σ) · x + (b − a · (P c + μ)/σ); rescale to a unit normal.
        weights = svm.coef_[0] / scaler.scale_
        direction, offset = coordinates.pull_back(weights)
        norm = np.linalg.norm(direction)
        self.normal_ = direction / norm
        self.intercept_ = float((svm.intercept_[0] - weights @ scaler.mean_ + offset) / norm)
        self.n_features_in_ = X.shape[1]
        return self

    def _checked_axis_counts(self, n_features: int) -> list:
        counts = list(self.axis_counts)
        if not counts:
            raise ValueError("axis_counts needs at least one entry (None: the full latent space)")
        if any(k is not None for k in counts):
            if self.axes is None:
                raise ValueError("axis_counts names principal axes, but no axes were given")
            axes = np.asarray(self.axes)
            if axes.ndim != 2 or axes.shape[1] != n_features:
                raise ValueError(f"axes must be (k, {n_features}) to match the latents, got {axes.shape}")
            bad = [k for k in counts if k is not None and not (isinstance(k, (int, np.integer)) and 1 <= k <= len(axes))]
            if bad:
                raise ValueError(f"axis counts {bad} must be whole numbers from 1 to {len(axes)} (the axes given)")
        return counts

    def decision_function(self, X) -> np.ndarray:
        check_is_fitted(self, "normal_")
        return np.asarray(X, np.float64) @ self.normal_ + self.intercept_

    def predict(self, X) -> np.ndarray:
        return (self.decision_function(X) > 0).astype(int)


class PrincipalCoordinates(TransformerMixin, BaseEstimator):
    """Latents → their coordinates along the first `n_axes` principal axes (None: the latents unchanged).

    `axes` is an (k, d) array of orthonormal rows; the coordinates are taken about the mean of the
    latents the transformer is fitted on.
    """

    def __init__(self, axes=None, n_axes=None):
        self.axes = axes
        self.n_axes = n_axes

    def fit(self, X, y=None):
        X = np.asarray(X, np.float64)
        self.center_ = X.mean(axis=0) if self.n_axes is not None else np.zeros(X.shape[1])
        self.projection_ = None if self.n_axes is None else np.asarray(self.axes, np.float64)[: self.n_axes]
        return self

    def transform(self, X):
        X = np.asarray(X, np.float64)
        return X if self.projection_ is None else (X - self.center_) @ self.projection_.T

    def pull_back(self, weights: np.ndarray) -> tuple[np.ndarray, float]:
        """A linear function `weights · transform(x)` as `direction · x + offset`."""
        if self.projection_ is None:
            return weights, 0.0
        direction = self.projection_.T @ weights
        return direction, float(-direction @ self.center_)


def principal_axes(latents: np.ndarray, n_axes: int) -> np.ndarray:
    """The first `n_axes` principal directions (n_axes, d) of latents (n, d), by decreasing variance."""
    latents = np.asarray(latents, np.float64)
    if not 1 <= n_axes <= min(latents.shape):
        raise ValueError(f"n_axes must be from 1 to {min(latents.shape)}, got {n_axes}")
    _, _, rows = np.linalg.svd(latents - latents.mean(axis=0), full_matrices=False)
    return rows[:n_axes]


def _fewest_axes_within_one_se(cv_results: dict) -> int:
    """GridSearchCV's pick: among settings within one standard error of the best F1, the fewest axes (None = all),
    and among those the best F1 (with the full space only, simply the best)."""
    means = np.asarray(cv_results["mean_test_score"], np.float64)
    folds = sum(1 for key in cv_results if key.startswith("split") and key.endswith("_test_score"))
    errors = np.asarray(cv_results["std_test_score"], np.float64) / np.sqrt(max(folds, 1))
    best = int(np.nanargmax(means))
    eligible = np.flatnonzero(means >= means[best] - errors[best])
    counts = cv_results["param_axes__n_axes"]
    return int(min(eligible, key=lambda i: (np.inf if counts[i] is None else counts[i], -means[i], i)))


def cv_folds(y: np.ndarray, groups, n_splits: int, seed: int):
    """Grouped folds when groups are given (no group on both sides), stratified otherwise."""
    if np.bincount(y, minlength=2).min() < n_splits or (groups is not None and len(np.unique(groups)) < n_splits):
        raise ConfigError(
            f"too few photos or areas for {n_splits}-fold cross-validation: {np.bincount(y, minlength=2).tolist()} per class"
        )
    if groups is not None:
        return list(GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(np.zeros(len(y)), y, groups))
    return list(StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


def conditional_normal(normal: np.ndarray, others: list[np.ndarray]) -> np.ndarray:
    """`normal` with its components along `others` removed (InterFaceGAN's conditional manipulation), unit length."""
    if not others:
        return normal / np.linalg.norm(normal)
    basis, _ = np.linalg.qr(np.stack(others, axis=1))  # (d, k) orthonormal span of the others
    projected = normal - basis @ (basis.T @ normal)
    norm = np.linalg.norm(projected)
    if norm < 1e-8:
        raise ValueError("the boundary lies in the span of the others: nothing is left to edit")
    return projected / norm


def cosine_matrix(normals: dict[str, np.ndarray]) -> pd.DataFrame:
    """Cosine similarity between every pair of boundary normals."""
    names = list(normals)
    unit = np.stack([normals[k] / np.linalg.norm(normals[k]) for k in names])
    return pd.DataFrame(unit @ unit.T, index=names, columns=names)
