"""Linear boundaries in latent space between photos of deprived and privileged areas (InterFaceGAN's method).

`LatentBoundary` follows scikit-learn's conventions: `fit(latents, labels, groups)` returns the
estimator; the fitted `normal_` is a unit vector in latent space pointing from deprived (label 0)
to privileged (label 1), `intercept_` the offset, so `decision_function(x) = x · normal_ +
intercept_` is a signed distance in latent units; `walk_direction_` is the unit direction in W a
walk takes. C is chosen by an inner cross-validation that keeps each LSOA's photos together.
Three fits: on standardised latents (the classic recipe), on W's principal axes, and in W
whitened by the generator's own statistics (`whitening=`, see `wspace`), where the walk goes
along Σ^{1/2}·a rather than the hyperplane's normal. Table 1's scoring is in `table1`.
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
from thisineq.latent.wspace import WSpace

# Whitened fits of weakly separated domains need C down to 1e-4 (a grid from 1e-3 left ReStyle's health and
# education boundaries at its edge); standardised ones need small C, and some whitened ones up to 10.
DEFAULT_CS = (1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0)


class LatentBoundary(ClassifierMixin, BaseEstimator):
    """A linear SVM on standardised (or whitened) latents, with its normal mapped back into latent space.

    With `whitening` (the generator's W statistics) the SVM is fitted on Σ^{-1/2}(w − μ) without
    further scaling; `fitted_normal_` is then the unit normal in whitened units and
    `walk_direction_` its image Σ^{1/2}a in W. Otherwise both equal `normal_`.

    With `axes` — the generator's principal directions of W, rows ordered by variance (see
    `principal_axes`) — the SVM may instead be fitted on the latents' coordinates along the first k
    of them, k from `axis_counts` (None: the full space). An SVM in the full space spreads its normal
    over every direction that separates the classes a little, most of which the generator hardly
    renders, so a walk along it barely changes the image. Inner cross-validation picks C and k: among
    the settings whose F1 is within one standard error of the best, the one with the fewest axes and
    then the smallest C wins, so an edit stays in the directions the generator uses unless more of
    them separate the classes clearly better, and the normal is as reproducible as its F1 allows.
    """

    def __init__(
        self,
        Cs=DEFAULT_CS,
        inner_folds: int = 3,
        max_iter: int = 20000,
        random_state: int = 0,
        axes=None,
        axis_counts=(None,),
        whitening: WSpace | None = None,
    ):
        self.Cs = Cs
        self.inner_folds = inner_folds
        self.max_iter = max_iter
        self.random_state = random_state
        self.axes = axes
        self.axis_counts = axis_counts
        self.whitening = whitening

    def fit(self, X, y, groups=None):
        """X (n, d) latents; y (n,) 0 deprived / 1 privileged; groups (n,) LSOA codes, optional."""
        X, y = np.asarray(X, np.float64), np.asarray(y).astype(int)
        if X.ndim != 2 or len(X) != len(y):
            raise ValueError(f"X must be (n, d) and y (n,), got {X.shape} and {y.shape}")
        self.classes_ = np.unique(y)
        if not np.array_equal(self.classes_, [DEPRIVED, PRIVILEGED]):
            raise ValueError(f"labels must be 0 (deprived) and 1 (privileged), got {self.classes_}")
        counts = self._checked_axis_counts(X.shape[1])
        if self.whitening is not None and counts != [None]:
            raise ConfigError("a boundary is fitted either in whitened W or on principal axes, not both")
        if self.whitening is not None and X.shape[1] % self.whitening.dim:
            raise ValueError(f"the whitening is for {self.whitening.dim}-D latents (or layers of them), these are {X.shape[1]}-D")
        svm = LinearSVC(max_iter=self.max_iter, random_state=self.random_state)
        if self.whitening is None:
            pipeline = Pipeline([("axes", PrincipalCoordinates(self.axes)), ("scale", StandardScaler()), ("svm", svm)])
            grid = {"axes__n_axes": counts, "svm__C": list(self.Cs)}
        else:
            # No rescaling after whitening: W's own spread is the yardstick, not the latents'.
            pipeline = Pipeline([("whiten", Whitening(self.whitening)), ("svm", svm)])
            grid = {"svm__C": list(self.Cs)}
        if len(self.Cs) == 1 and all(len(v) == 1 for v in grid.values()):  # nothing to choose: skip the search
            self.C_, self.n_axes_ = self.Cs[0], counts[0]
            pipeline.set_params(**{k: v[0] for k, v in grid.items()}).fit(X, y)
            self._set_normal(pipeline)
            self.n_features_in_ = X.shape[1]
            return self
        cv = cv_folds(y, groups, self.inner_folds, self.random_state)
        scoring = make_scorer(f1_score, zero_division=0)
        search = GridSearchCV(pipeline, grid, scoring=scoring, cv=cv, refit=_simplest_within_one_se)
        search.fit(X, y, groups=groups)
        self.C_ = search.best_params_["svm__C"]
        self.n_axes_ = search.best_params_.get("axes__n_axes")
        self._set_normal(search.best_estimator_)
        self.n_features_in_ = X.shape[1]
        return self

    def _set_normal(self, fitted: Pipeline) -> None:
        """normal_ and intercept_ in latent units, and the direction a walk takes."""
        svm = fitted[-1]
        if self.whitening is not None:
            # f(x) = a · Σ^{-1/2}(x − μ) + b: the hyperplane's normal is Σ^{-1/2}a, but a walk one whitened
            # unit along a moves Σ^{1/2}a in W, which stays in the directions W varies in.
            a = svm.coef_[0]
            weights = self.whitening.gradient(a)
            offset = svm.intercept_[0] - weights @ np.tile(self.whitening.mean, len(a) // self.whitening.dim)
            self.fitted_normal_ = a / np.linalg.norm(a)
            self.walk_direction_ = self.whitening.unwhiten_direction(a)
        else:
            coordinates, scaler, _ = fitted
            # f(x) = a · (P(x − c) − μ)/σ + b = (Pᵀ a/σ) · x + (b − a · (P c + μ)/σ)
            scaled = svm.coef_[0] / scaler.scale_
            weights, pulled = coordinates.pull_back(scaled)
            offset = svm.intercept_[0] - scaled @ scaler.mean_ + pulled
        norm = np.linalg.norm(weights)
        self.normal_ = weights / norm
        self.intercept_ = float(offset / norm)
        if self.whitening is None:
            self.fitted_normal_ = self.walk_direction_ = self.normal_

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


class Whitening(TransformerMixin, BaseEstimator):
    """Latents → W whitened by the generator's statistics (see `WSpace.whiten`); nothing is learnt from the latents."""

    def __init__(self, wspace: WSpace | None = None):
        self.wspace = wspace

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return self.wspace.whiten(X)


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


def _simplest_within_one_se(cv_results: dict) -> int:
    """GridSearchCV's pick (the one-standard-error rule): among settings within one standard error of the best F1,
    the fewest axes (None = all), then the smallest C.

    A smaller C regularises the normal towards the classes' mean difference: on the demo's e4e latents it
    raised the split-half cosine of the whitened normals from 0.33–0.43 (C = 1) to 0.71–0.82 (C = 0.01),
    while F1 stays within the noise of the best."""
    means = np.asarray(cv_results["mean_test_score"], np.float64)
    scores = np.stack(
        [
            np.asarray(cv_results[key], np.float64)
            for key in sorted(cv_results)
            if key.startswith("split") and key.endswith("_test_score")
        ],
        axis=1,
    )
    errors = np.asarray(cv_results["std_test_score"], np.float64) / np.sqrt(max(scores.shape[1], 1))
    # A fold whose training part held one class (a small dataset's grouped folds) failed, and sklearn's mean over
    # the folds is NaN for every setting: such settings are scored on the folds that fitted.
    finite = np.isfinite(scores)
    fitted = finite.sum(axis=1)
    redo = ~np.isfinite(means) & (fitted > 0)
    if redo.any():
        kept = np.where(finite, scores, 0.0)
        partial = kept.sum(axis=1) / np.maximum(fitted, 1)
        spread = np.sqrt(np.where(finite, (scores - partial[:, None]) ** 2, 0.0).sum(axis=1) / np.maximum(fitted, 1))
        means = np.where(redo, partial, means)
        errors = np.where(redo, spread / np.sqrt(np.maximum(fitted, 1)), errors)
    if not np.isfinite(means).any():
        raise ConfigError(
            "no inner cross-validation fold could fit a boundary (each left one class out of its training photos): "
            "too few labelled photos, or too few areas, per class"
        )
    best = int(np.nanargmax(means))
    eligible = np.flatnonzero(means >= means[best] - errors[best])
    counts = cv_results.get("param_axes__n_axes", [None] * len(means))
    cs = cv_results["param_svm__C"]
    return int(min(eligible, key=lambda i: (np.inf if counts[i] is None else counts[i], cs[i], -means[i], i)))


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


def normal_stability(X, y, groups, *, n_halves: int = 5, n_boot: int = 10, seed: int = 0, **boundary) -> dict:
    """How reproducible a boundary's normal is: cosines between normals fitted on resampled areas.

    `split_half`: the mean cosine between normals fitted on two halves of the LSOAs with no area in
    common (`n_halves` random splits); `bootstrap`: the mean cosine between the normal fitted on all
    photos and normals fitted on LSOA-cluster bootstrap resamples. Cosines are between `fitted_normal_`s,
    i.e. in the space the boundary was fitted in (whitened units for whitened fits). Pass a single C
    (`Cs=(C,)`) to keep this to one SVM per fit.
    """
    X, y, groups = np.asarray(X, np.float64), np.asarray(y).astype(int), np.asarray(groups)
    areas = np.unique(groups)
    rng = np.random.default_rng(seed)

    def normal(rows: np.ndarray) -> np.ndarray:
        return LatentBoundary(random_state=seed, **boundary).fit(X[rows], y[rows]).fitted_normal_

    halves = []
    for _ in range(n_halves):
        first = np.isin(groups, rng.permutation(areas)[: len(areas) // 2])
        if min(np.bincount(y[first], minlength=2).min(), np.bincount(y[~first], minlength=2).min()) < 2:
            continue  # a half without both classes has no boundary
        halves.append(float(normal(np.flatnonzero(first)) @ normal(np.flatnonzero(~first))))
    whole = normal(np.arange(len(y)))
    by_area = {area: np.flatnonzero(groups == area) for area in areas}
    draws = []
    for _ in range(n_boot):
        rows = np.concatenate([by_area[a] for a in rng.choice(areas, len(areas), replace=True)])
        if len(np.unique(y[rows])) == 2:
            draws.append(float(whole @ normal(rows)))
    return {
        "split_half": float(np.mean(halves)) if halves else float("nan"),
        "split_half_runs": halves,
        "bootstrap": float(np.mean(draws)) if draws else float("nan"),
        "bootstrap_runs": len(draws),
    }


def partial_effects(X: np.ndarray, deciles: pd.DataFrame, whitening: WSpace | None = None) -> dict[str, np.ndarray]:
    """Per domain, the unit direction along which latents change with that domain's decile, the others held fixed.

    An ordinary least-squares fit of the (whitened, if `whitening` is given) latents (n, d) on every
    column of `deciles` (n, k: e.g. all seven domains' deciles, 10 = least deprived) at once; each
    column's coefficient vector, from deprived to privileged, answers "what does income look like,
    other things equal". Returned directions are in W (mapped back by Σ^{1/2} when whitened).
    """
    X = np.asarray(X, np.float64)
    Z = X if whitening is None else whitening.whiten(X)
    design = np.column_stack([np.ones(len(Z)), deciles.to_numpy(np.float64)])
    if np.linalg.matrix_rank(design) < design.shape[1]:
        raise ValueError("the deciles are collinear (a domain constant or a copy of another): no partial effect is defined")
    coefficients, *_ = np.linalg.lstsq(design, Z, rcond=None)
    directions = {}
    for k, domain in enumerate(deciles.columns):
        a = coefficients[k + 1]
        directions[domain] = a / np.linalg.norm(a) if whitening is None else whitening.unwhiten_direction(a)
    return directions
