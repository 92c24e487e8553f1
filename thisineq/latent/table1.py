"""Table 1: how well a linear boundary separates deprived from privileged photos, cross-validated, with intervals.

Scores come from out-of-fold decision values: 5-fold cross-validation grouped by LSOA (no area on
both sides), and for comparison by photo. Intervals are 95% bootstrap intervals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from thisineq.latent.boundaries import LatentBoundary, cv_folds
from thisineq.latent.labels import DECILE_BANDS, ClassDefinition, LabelledSet, labelled_subset


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
    folds = cv_folds(y, groups if grouped else None, n_splits, seed)
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


def boundary_table(
    inversions: dict[str, tuple[np.ndarray, np.ndarray]],
    photos: pd.DataFrame,
    domains: list[str],
    *,
    definition: ClassDefinition = DECILE_BANDS,
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
            subset = labelled_subset(latents, frame, domain, seed, definition)
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
