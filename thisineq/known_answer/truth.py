"""The truth a walk should reproduce: how the city's true visual factors differ between a domain's deprived and privileged photos.

Two truths per domain, both in the oracle's factor units ([0, 1], `factor_targets`):
- the class profile: mean factors of the privileged photos minus those of the deprived ones, the
  photos labelled and class-balanced exactly as the boundaries' are (`labelled_subset`, same
  definition and seed). Domains are correlated as London's are, so this profile carries the other
  domains' factors too: a faithful walk along an SVM boundary SHOULD move them;
- the partial profile: the true factors regressed on all seven domains' deciles, the domain's
  coefficients times the decile gap between its two classes: what moving only this domain from
  deprived to privileged does, other domains equal (the truth for partial-effect boundaries).

The leakage a truth itself implies (`truth_figures`) is the reference a walk's leakage is judged
against: in this city the class profiles of income, health and education correlate 0.94–0.985.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from thisineq.data.synth.city import COMPONENT_KEYS
from thisineq.known_answer.measures import leakage, own_change
from thisineq.known_answer.oracle import FACTORS, factor_targets
from thisineq.latent.labels import DECILE_BANDS, PRIVILEGED, ClassDefinition, labelled_subset

KINDS = ("classes", "partial")  # the two truths; a partial-effect boundary is judged against "partial"
PROFILE_COLUMNS = ("kind", "domain", "n", "own_change", "leakage", *FACTORS)  # of `truth_profiles`


def labelled_truth(photos: pd.DataFrame, truth: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The photos that have a ground-truth row, and their true factors (n, len(FACTORS)) in the same order.

    photos: a dataset's photo table (index photo_id, with deciles and `lsoa_code`); truth: the
    city's ground_truth.csv read with `photo_id` as a string index.
    """
    shared = photos.index.intersection(truth.index)
    if shared.empty:
        raise ValueError("no photo of this table has a ground-truth row: is the ground truth from another city?")
    return photos.loc[shared], factor_targets(truth.loc[shared])


def class_profile(
    targets: np.ndarray, photos: pd.DataFrame, domain: str, *, seed: int = 0, definition: ClassDefinition = DECILE_BANDS
) -> tuple[np.ndarray, int]:
    """Privileged minus deprived mean of the true factors (len(FACTORS),) over the balanced labelled photos, and their number.

    targets (n, len(FACTORS)) and `photos` (n rows) describe the same photos in the same order.
    """
    subset = labelled_subset(targets, photos, domain, seed, definition)
    if subset.too_few:
        raise ValueError(f"no truth profile for {domain}: {subset.too_few}")
    privileged = subset.y == PRIVILEGED
    return subset.X[privileged].mean(axis=0) - subset.X[~privileged].mean(axis=0), len(subset.y)


def partial_profile(
    targets: np.ndarray, photos: pd.DataFrame, domain: str, *, seed: int = 0, definition: ClassDefinition = DECILE_BANDS
) -> tuple[np.ndarray, int]:
    """The domain's effect on the true factors with the other six domains held equal, over its class gap (len(FACTORS),).

    Least squares of the factors on an intercept and all seven domains' deciles; the domain's
    coefficient (factor change per decile) times the difference in its mean decile between the
    balanced privileged and deprived photos, so the profile is on the class profile's scale.
    """
    deciles = photos[[f"{key}_decile" for key in COMPONENT_KEYS]].to_numpy(np.float64)  # (n, 7)
    design = np.column_stack([np.ones(len(deciles)), deciles])
    coefficients = np.linalg.lstsq(design, targets, rcond=None)[0]  # (8, len(FACTORS))
    subset = labelled_subset(deciles, photos, domain, seed, definition)
    if subset.too_few:
        raise ValueError(f"no partial profile for {domain}: {subset.too_few}")
    column = COMPONENT_KEYS.index(domain)
    privileged = subset.y == PRIVILEGED
    gap = subset.X[privileged, column].mean() - subset.X[~privileged, column].mean()
    return coefficients[1 + column] * gap, len(subset.y)


def truth_profiles(
    targets: np.ndarray,
    photos: pd.DataFrame,
    domains: tuple[str, ...] | list[str],
    *,
    seed: int = 0,
    definition: ClassDefinition = DECILE_BANDS,
) -> pd.DataFrame:
    """Both truths of every domain, with their own-factor change and the leakage they imply: `PROFILE_COLUMNS`."""
    rows = []
    for kind, profile_of in (("classes", class_profile), ("partial", partial_profile)):
        for domain in domains:
            profile, n = profile_of(targets, photos, domain, seed=seed, definition=definition)
            others = [d for d in domains if d != domain]
            figures = {"own_change": own_change(profile, domain), "leakage": leakage(profile, domain, others)}
            rows.append({"kind": kind, "domain": domain, "n": n, **figures, **dict(zip(FACTORS, profile, strict=True))})
    return pd.DataFrame(rows, columns=list(PROFILE_COLUMNS))


def profile_of(profiles: pd.DataFrame, kind: str, domain: str) -> np.ndarray:
    """One truth profile (len(FACTORS),) from a `truth_profiles` table."""
    row = profiles[(profiles["kind"] == kind) & (profiles["domain"] == domain)]
    if len(row) != 1:
        raise KeyError(f"no {kind} truth profile for {domain}")
    return row[list(FACTORS)].to_numpy(np.float64)[0]
