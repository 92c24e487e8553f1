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

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.metrics import f1_score, make_scorer
from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted

from thisineq.errors import ConfigError

DEPRIVED, PRIVILEGED = 0, 1
MIN_PER_CLASS = 10  # fewer labelled photos per class than this give no meaningful boundary


def decile_labels(deciles: pd.Series, *, deprived=(1, 3), privileged=(8, 10)) -> pd.Series:
    """0 for deciles in `deprived`, 1 for `privileged`, NA for the rest (inclusive ranges)."""
    labels = pd.Series(pd.NA, index=deciles.index, dtype="Int8")
    labels[deciles.between(*deprived)] = DEPRIVED
    labels[deciles.between(*privileged)] = PRIVILEGED
    return labels


def balanced_subset(labels: pd.Series, seed: int = 0) -> pd.Index:
    """Index of a class-balanced subset: the larger class down-sampled at random (deterministic)."""
    labels = labels.dropna()
    counts = labels.value_counts()
    if len(counts) < 2:
        raise ValueError(f"need photos of both classes, got only {dict(counts)}")
    n = counts.min()
    rng = np.random.default_rng(seed)
    keep = [rng.choice(labels.index[labels == c].to_numpy(), n, replace=False) for c in (DEPRIVED, PRIVILEGED)]
    return pd.Index(np.sort(np.concatenate(keep)))


@dataclass(frozen=True)
class LabelledSet:
    """The photos one domain's boundary is fitted on: deprived and privileged ones, as many of each."""

    X: np.ndarray  # (n, d) latents
    y: np.ndarray  # (n,) 0 deprived, 1 privileged
    groups: np.ndarray  # (n,) LSOA codes: cross-validation keeps each area's photos on one side
    too_few: str | None = None  # why no boundary can be fitted; None when one can


def labelled_subset(
    latents: np.ndarray, photos: pd.DataFrame, domain: str, seed: int = 0, *, deprived=(1, 3), privileged=(8, 10)
) -> LabelledSet:
    """The class-balanced labelled photos of `domain`, or why there are too few for a boundary.

    latents (n, d) and `photos` (n rows, with `lsoa_code` and `{domain}_decile`) describe the same
    photos in the same order; `deprived` and `privileged` are decile ranges (see `decile_labels`).
    With too few photos in a class, `too_few` says so and X, y, groups hold what a balanced subset
    would (nothing when a class is missing).
    """
    if len(latents) != len(photos):
        raise ValueError(f"{len(latents)} latents but {len(photos)} photos")
    labels = decile_labels(photos[f"{domain}_decile"], deprived=deprived, privileged=privileged)
    counts = labels.value_counts()
    keep = labels.index.get_indexer(balanced_subset(labels, seed)) if len(counts) == 2 else np.zeros(0, int)
    too_few = f"fewer than {MIN_PER_CLASS} photos in a class" if len(counts) < 2 or counts.min() < MIN_PER_CLASS else None
    return LabelledSet(latents[keep], labels.iloc[keep].to_numpy(int), photos["lsoa_code"].to_numpy()[keep], too_few=too_few)


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
        cv = _folds(y, groups, self.inner_folds, self.random_state)
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


def _folds(y: np.ndarray, groups, n_splits: int, seed: int):
    """Grouped folds when groups are given (no group on both sides), stratified otherwise."""
    if np.bincount(y, minlength=2).min() < n_splits or (groups is not None and len(np.unique(groups)) < n_splits):
        raise ConfigError(
            f"too few photos or areas for {n_splits}-fold cross-validation: {np.bincount(y, minlength=2).tolist()} per class"
        )
    if groups is not None:
        return list(GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(np.zeros(len(y)), y, groups))
    return list(StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


@dataclass(frozen=True)
class Evaluation:
    """Cross-validated scores with bootstrap 95% intervals, from out-of-fold predictions."""

    scores: dict[str, float]  # precision, recall, f1, accuracy, roc_auc
    intervals: dict[str, tuple[float, float]]
    n: int
    grouped: bool

    def row(self) -> dict:
        out = {"n": self.n, "grouped": self.grouped}
        for name, value in self.scores.items():
            low, high = self.intervals[name]
            out.update({name: value, f"{name}_low": low, f"{name}_high": high})
        return out


def evaluate(
    X, y, groups=None, *, grouped: bool = True, n_splits: int = 5, n_boot: int = 1000, seed: int = 0, **boundary
) -> Evaluation:
    """Cross-validate a LatentBoundary: folds grouped by `groups` (LSOA) or, if not `grouped`, by photo."""
    X, y = np.asarray(X, np.float64), np.asarray(y).astype(int)
    folds = _folds(y, groups if grouped else None, n_splits, seed)
    score = np.zeros(len(y))
    for train, test in folds:
        inner_groups = None if groups is None or not grouped else np.asarray(groups)[train]
        model = LatentBoundary(random_state=seed, **boundary).fit(X[train], y[train], inner_groups)
        score[test] = model.decision_function(X[test])
    scores = _scores(y, score)
    rng = np.random.default_rng(seed)
    draws = [
        _scores(y[i], score[i]) for i in (rng.integers(0, len(y), len(y)) for _ in range(n_boot)) if len(np.unique(y[i])) == 2
    ]
    intervals = {
        k: (float(np.percentile([d[k] for d in draws], 2.5)), float(np.percentile([d[k] for d in draws], 97.5))) for k in scores
    }
    return Evaluation(scores, intervals, len(y), grouped)


def _scores(y: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """Precision, recall, F1, accuracy and ROC-AUC of decision scores (> 0: privileged) — plain numpy,
    so that a thousand bootstrap draws take a moment."""
    y = y.astype(bool)
    predicted = score > 0
    tp, fp, fn = np.sum(predicted & y), np.sum(predicted & ~y), np.sum(~predicted & y)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "accuracy": float(np.mean(predicted == y)),
        "roc_auc": _roc_auc(y, score),
    }


def _roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Probability that a privileged photo scores above a deprived one (ties count half): the Mann–Whitney U."""
    ranks = rankdata(score)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if not n_pos or not n_neg:
        return float("nan")
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


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


def boundary_table(
    inversions: dict[str, tuple[np.ndarray, np.ndarray]],
    photos: pd.DataFrame,
    domains: list[str],
    *,
    deprived=(1, 3),
    privileged=(8, 10),
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Table 1: per domain × inversion method, grouped and photo-level cross-validated scores.

    Args:
        inversions: method → (photo_id (n,), latents (n, d)).
        photos: the dataset's photos table (index photo_id) with `lsoa_code` and `{domain}_decile`.
    """
    rows = []
    for method, (photo_id, latents) in inversions.items():
        frame = photos.loc[photo_id]
        for domain in domains:
            subset = labelled_subset(latents, frame, domain, seed, deprived=deprived, privileged=privileged)
            rows += _table_rows(method, domain, subset, n_boot=n_boot, seed=seed)
    return pd.DataFrame(rows)


def _table_rows(method: str, domain: str, subset: LabelledSet, *, n_boot: int, seed: int) -> list[dict]:
    """Table 1's two rows of one domain and method: cross-validated by LSOA and by photo (a note where too few)."""
    rows = []
    for grouped, split in ((True, "by LSOA"), (False, "by photo")):
        row = {"domain": domain, "method": method, "split": split}
        if subset.too_few:
            rows.append({**row, "n": len(subset.y), "note": subset.too_few})
        else:
            evaluation = evaluate(subset.X, subset.y, subset.groups, grouped=grouped, n_boot=n_boot, seed=seed)
            rows.append({**row, **evaluation.row()})
    return rows
