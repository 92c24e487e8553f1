"""Table 1: how well a linear boundary separates deprived from privileged photos, cross-validated, with intervals.

Scores come from out-of-fold decision values: 5-fold cross-validation grouped by LSOA (no area on
both sides), for comparison by photo, and optionally by spatial block (no patch of neighbouring
areas on both sides). Intervals are 95% bootstrap intervals that resample LSOAs with all their
photos: photos of one area share its look, so they are not independent evidence, and resampling
them one by one gives intervals that are too narrow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from thisineq.errors import ConfigError
from thisineq.latent.blocks import photo_blocks
from thisineq.latent.boundaries import LatentBoundary, cv_folds
from thisineq.latent.labels import DECILE_BANDS, PAPER, ClassDefinition, LabelledSet, labelled_subset

N_FOLDS = 5
SCORES = ("precision", "recall", "f1", "accuracy", "roc_auc")
BOOTSTRAPS = ("area", "photo")  # resample LSOAs with all their photos, or photos one by one
TABLE_COLUMNS = [
    "domain",
    "method",
    "classes",  # the class definition's name (`ClassDefinition.name`)
    "split",  # "by LSOA", "by photo" or "by block"
    "n",
    "grouped",
    "bootstrap",
    "C",  # the C a fit on all the row's labelled photos chooses
    "C_at_edge",  # that C is the smallest or largest of the grid searched
    *(f"{score}{end}" for score in SCORES for end in ("", "_low", "_high")),
    "note",  # why a row has no scores
]


@dataclass(frozen=True)
class Evaluation:
    """Cross-validated scores with bootstrap 95% intervals, from out-of-fold predictions."""

    scores: dict[str, float]  # precision, recall, f1, accuracy, roc_auc
    intervals: dict[str, tuple[float, float]]
    n: int
    grouped: bool
    bootstrap: str  # what the intervals resample: "area" (LSOAs with all their photos) or "photo"

    def row(self) -> dict:
        out = {"n": self.n, "grouped": self.grouped, "bootstrap": self.bootstrap}
        for name, value in self.scores.items():
            low, high = self.intervals[name]
            out.update({name: value, f"{name}_low": low, f"{name}_high": high})
        return out


def evaluate(
    X,
    y,
    groups=None,
    *,
    grouped: bool = True,
    folds_by=None,
    bootstrap: str = "area",
    n_splits: int = N_FOLDS,
    n_boot: int = 1000,
    seed: int = 0,
    **boundary,
) -> Evaluation:
    """Cross-validate a LatentBoundary (`boundary`: its parameters) and bootstrap the out-of-fold scores.

    Args:
        X: (n, d) latents. y: (n,) 0 deprived, 1 privileged. groups: (n,) LSOA codes, or None.
        grouped: folds, outer and inner, keep each LSOA (or each of `folds_by`) on one side; False: folds split photos.
        folds_by: (n,) what grouped folds keep together instead of the LSOAs, such as spatial blocks.
        bootstrap: "area" resamples LSOAs with all their photos, "photo" photos one by one; without
            groups each photo is its own area, so the intervals are by photo and say so.
    """
    if bootstrap not in BOOTSTRAPS:
        raise ConfigError(f"the bootstrap resamples one of {', '.join(BOOTSTRAPS)}, got {bootstrap!r}")
    if folds_by is not None and not grouped:
        raise ConfigError("folds_by says what folds keep together, so it needs grouped folds (grouped=True)")
    X, y = np.asarray(X, np.float64), np.asarray(y).astype(int)
    fold_groups = None if not grouped else folds_by if folds_by is not None else groups
    score = _out_of_fold_scores(X, y, fold_groups, n_splits, seed, boundary)
    return evaluate_scores(y, score, groups, grouped=grouped, bootstrap=bootstrap, n_boot=n_boot, seed=seed)


def evaluate_scores(
    y, score, groups=None, *, grouped: bool, bootstrap: str = "area", n_boot: int = 1000, seed: int = 0
) -> Evaluation:
    """Table 1's scores and bootstrap intervals of out-of-fold decision scores (> 0: privileged) made elsewhere.

    `grouped` records whether the folds that made `score` kept each LSOA on one side; another model's
    out-of-fold scores of the same photos (an image-side predictor's) are then judged exactly as a boundary's.
    """
    if bootstrap not in BOOTSTRAPS:
        raise ConfigError(f"the bootstrap resamples one of {', '.join(BOOTSTRAPS)}, got {bootstrap!r}")
    y, score = np.asarray(y).astype(int), np.asarray(score, np.float64)
    resampled = bootstrap if groups is not None else "photo"
    clusters = np.unique(np.asarray(groups), return_inverse=True)[1] if resampled == "area" else np.arange(len(y))
    intervals = _bootstrap_intervals(y, score, clusters.ravel(), n_boot, seed)
    return Evaluation(_scores(y, score), intervals, len(y), grouped, resampled)


def _out_of_fold_scores(X: np.ndarray, y: np.ndarray, groups, n_splits: int, seed: int, boundary: dict) -> np.ndarray:
    """(n,) decision values, each from a boundary fitted without that photo's fold (inner CV grouped the same way)."""
    score = np.zeros(len(y))
    for train, test in cv_folds(y, groups, n_splits, seed):
        inner_groups = None if groups is None else np.asarray(groups)[train]
        model = _boundary(seed, boundary).fit(X[train], y[train], inner_groups)
        score[test] = model.decision_function(X[test])
    return score


def _boundary(seed: int, boundary: dict) -> LatentBoundary:
    return LatentBoundary(**{"random_state": seed, **boundary})


def _bootstrap_intervals(
    y: np.ndarray, score: np.ndarray, clusters: np.ndarray, n_boot: int, seed: int
) -> dict[str, tuple[float, float]]:
    """95% percentile intervals of the scores over `n_boot` draws of whole clusters (n,) with replacement.

    Each draw takes as many clusters as there are, each with all its photos; draws with one class
    only are skipped (no precision or AUC there). With a cluster per photo this is the photo bootstrap.
    """
    rng = np.random.default_rng(seed)
    n_clusters = int(clusters.max()) + 1 if len(clusters) else 0
    draws = []
    for _ in range(n_boot):
        times_drawn = np.bincount(rng.integers(0, n_clusters, n_clusters), minlength=n_clusters)
        rows = np.repeat(np.arange(len(y)), times_drawn[clusters])
        if len(np.unique(y[rows])) == 2:
            draws.append(_scores(y[rows], score[rows]))
    if not draws:
        return dict.fromkeys(SCORES, (float("nan"), float("nan")))
    values = {k: [d[k] for d in draws] for k in SCORES}
    return {k: (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))) for k, v in values.items()}


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


def chosen_c(X, y, groups=None, *, seed: int = 0, **boundary) -> dict:
    """The C that a LatentBoundary fitted on all these photos picks by its inner cross-validation, and
    whether it is the smallest or largest C of the grid searched (then the grid may be what limits it).

    Returns: {"C": float, "C_at_edge": bool}.
    """
    model = _boundary(seed, boundary).fit(X, y, groups)
    return {"C": float(model.C_), "C_at_edge": _at_edge(model.C_, model.get_params()["Cs"])}


def _at_edge(c: float, grid) -> bool:
    """Whether `c` is the smallest or largest value of `grid` (in any order)."""
    return bool(c in (min(grid), max(grid)))


def boundary_table(
    inversions: dict[str, tuple[np.ndarray, np.ndarray]],
    photos: pd.DataFrame,
    domains: Sequence[str],
    *,
    definitions: Sequence[ClassDefinition] = (PAPER, DECILE_BANDS),
    blocks: pd.Series | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    **boundary,
) -> pd.DataFrame:
    """Table 1: per inversion method × domain × class definition, cross-validated scores by LSOA, by photo
    and, given `blocks`, by spatial block; columns `TABLE_COLUMNS`.

    Args:
        inversions: method → (photo_id (n,), latents (n, d)).
        photos: the dataset's photos table (index photo_id) with `lsoa_code` and the columns each
            definition reads (`{domain}_rank`, `{domain}_decile`). Rows a definition cannot label
            (a column missing, too few photos in a class) have no scores and say why in `note`.
        definitions: how photos are labelled; the paper's top and bottom 20% of ranks first.
        blocks: a block id per LSOA code (see `blocks.spatial_blocks`), for the split "by block".
        boundary: LatentBoundary's parameters, for every fit.
    """
    if not definitions:
        raise ConfigError("Table 1 needs at least one class definition")
    if blocks is not None and blocks.nunique() < N_FOLDS:
        raise ConfigError(f"cross-validation by block needs at least {N_FOLDS} spatial blocks, got {blocks.nunique()}")
    rows = []
    for method, (photo_id, latents) in inversions.items():
        frame = photos.loc[photo_id]
        for domain in domains:
            for definition in definitions:
                subset = _labelled(latents, frame, domain, seed, definition)
                head = {"domain": domain, "method": method, "classes": definition.name}
                rows += _table_rows(head, subset, blocks, n_boot=n_boot, seed=seed, boundary=boundary)
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def _labelled(latents: np.ndarray, photos: pd.DataFrame, domain: str, seed: int, definition: ClassDefinition) -> LabelledSet:
    """`labelled_subset`, or an empty set that says why where the definition cannot label these photos."""
    try:
        return labelled_subset(latents, photos, domain, seed, definition)
    except ConfigError as error:
        none = np.zeros(0, int)
        return LabelledSet(latents[:0], none, none, too_few=str(error), rows=none)


def _table_rows(
    head: dict, subset: LabelledSet, blocks: pd.Series | None, *, n_boot: int, seed: int, boundary: dict
) -> list[dict]:
    """Table 1's rows of one method, domain and class definition: a row per split, sharing the C a full fit picks."""
    splits = _splits(subset, blocks)
    if subset.too_few:
        return [{**head, "split": split, "n": len(subset.y), "note": subset.too_few} for split in splits]
    try:
        chosen = chosen_c(subset.X, subset.y, subset.groups, seed=seed, **boundary)
    except ConfigError as error:  # e.g. no inner fold with both classes: a small dataset's rows say so
        return [{**head, "split": split, "n": len(subset.y), "note": str(error)} for split in splits]
    rows = []
    for split, options in splits.items():
        row = {**head, "split": split, **chosen}
        note = _too_few_blocks(options.get("folds_by"))
        if note:
            rows.append({**row, "n": len(subset.y), "note": note})
            continue
        try:
            evaluation = evaluate(subset.X, subset.y, subset.groups, n_boot=n_boot, seed=seed, **options, **boundary)
        except ConfigError as error:
            rows.append({**row, "n": len(subset.y), "note": str(error)})
            continue
        rows.append({**row, **evaluation.row()})
    return rows


def _splits(subset: LabelledSet, blocks: pd.Series | None) -> dict[str, dict]:
    """Each split's name → `evaluate`'s fold options."""
    splits = {"by LSOA": {"grouped": True}, "by photo": {"grouped": False}}
    if blocks is not None:
        splits["by block"] = {"grouped": True, "folds_by": photo_blocks(subset.groups, blocks)}
    return splits


def _too_few_blocks(folds_by) -> str | None:
    """Why photos in so few blocks cannot be cross-validated by block (None when they can, or no blocks are used)."""
    if folds_by is None or len(np.unique(folds_by)) >= N_FOLDS:
        return None
    return f"the labelled photos lie in only {len(np.unique(folds_by))} spatial blocks, fewer than the {N_FOLDS} folds"
