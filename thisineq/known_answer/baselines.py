"""The directions a boundary is compared with: random ones, an ideal one fitted on the true factors, and an InterFaceGAN control.

Every direction here is walked as a boundary is: steps in σ, the standard deviation of the
generator's W along the direction itself (`WSpace.spread`), so a step is equally typical of W
whatever the direction. The sign-flipped normal needs no direction of its own: with symmetric
steps its readings are the boundary's read backwards (see `benchmark`).

- Random directions are drawn uniform in whitened W and mapped back (Σ^{1/2}a): the form a
  whitened boundary's walk direction has, so "beats random directions" asks whether the labels
  chose the direction, not whether it lies where the generator renders.
- The ideal direction is what the oracle says a walk SHOULD be: a linear model of the oracle's
  factors on whitened W (from GAN samples), and the least-norm whitened direction a whose
  predicted change Bᵀa equals the truth profile, mapped back to W.
- The InterFaceGAN control labels GAN samples by the oracle's factors (through a privilege score
  learnt from the city's ground truth) and fits a boundary in W as InterFaceGAN did: it checks
  the walk-and-oracle chain without the encoders.
"""

from __future__ import annotations

import numpy as np

from thisineq.known_answer.oracle import LINKED_COLUMNS
from thisineq.latent.boundaries import LatentBoundary
from thisineq.latent.labels import DEPRIVED, PRIVILEGED
from thisineq.latent.normals import Direction
from thisineq.latent.wspace import WSpace

LABELLED_SHARE = 0.3  # InterFaceGAN control: the top and the bottom 30% of GAN samples by privilege score are labelled


def walked(name: str, direction: np.ndarray, wspace: WSpace) -> Direction:
    """A direction in W (D,), made unit length, with σ the spread of W along it."""
    unit = np.asarray(direction, np.float64) / np.linalg.norm(direction)
    return Direction(name, unit, wspace.spread(unit))


def random_directions(wspace: WSpace, count: int, seed: int = 0) -> list[Direction]:
    """`count` directions uniform in whitened W, mapped back to W (named "random 1", …)."""
    draws = np.random.default_rng([seed, 7]).standard_normal((count, wspace.dim))
    return [walked(f"random {k + 1}", wspace.unwhiten_direction(a), wspace) for k, a in enumerate(draws)]


def factor_regression(z: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Least-squares coefficients B (D, len(FACTORS)) of factors (n, len(FACTORS)) on whitened latents z (n, D), with an intercept."""
    design = np.column_stack([np.ones(len(z)), z])
    return np.linalg.lstsq(design, factors, rcond=None)[0][1:]


def ideal_direction(name: str, coefficients: np.ndarray, truth: np.ndarray, wspace: WSpace) -> Direction:
    """The least-norm whitened direction a with Bᵀa = truth (len(FACTORS),), mapped back to W and walked like a boundary."""
    a = np.linalg.pinv(coefficients.T) @ truth  # (D,)
    if not np.linalg.norm(a) > 0:
        raise ValueError(f"no ideal direction for {name}: the oracle's factors do not vary along W at all")
    return walked(name, wspace.unwhiten_direction(a), wspace)


def privilege_model(targets: np.ndarray, privilege: np.ndarray) -> np.ndarray:
    """Weights (1 + len(LINKED_FACTORS),) of a least-squares score of an area's privilege from a photo's linked factors.

    targets (n, len(FACTORS)) true factors; privilege (n,) the area's hidden domain variable, signed
    so that higher is less deprived.
    """
    design = np.column_stack([np.ones(len(targets)), targets[:, LINKED_COLUMNS]])
    return np.linalg.lstsq(design, privilege, rcond=None)[0]


def privilege_score(weights: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Scores (n,) of factor readings (n, len(FACTORS)) under a `privilege_model`."""
    return weights[0] + factors[:, LINKED_COLUMNS] @ weights[1:]


def extreme_labels(scores: np.ndarray, share: float = LABELLED_SHARE) -> tuple[np.ndarray, np.ndarray]:
    """Rows (m,) of the lowest and highest `share` of scores (n,), and their labels (m,): 0 deprived, 1 privileged."""
    if not 0 < share <= 0.5:
        raise ValueError(f"the share of samples labelled in each class must be above 0 and at most 0.5, got {share}")
    order = np.argsort(scores, kind="stable")
    k = int(len(scores) * share)
    rows = np.concatenate([order[:k], order[len(order) - k :]])
    return rows, np.repeat([DEPRIVED, PRIVILEGED], k)


def interfacegan_direction(
    name: str, w: np.ndarray, scores: np.ndarray, wspace: WSpace, *, share: float = LABELLED_SHARE, seed: int = 0
) -> Direction:
    """A whitened-W boundary between the GAN samples w (n, D) scored least and most privileged (scores (n,)), walked in W."""
    rows, labels = extreme_labels(scores, share)
    boundary = LatentBoundary(whitening=wspace, random_state=seed).fit(w[rows], labels)
    return walked(name, boundary.walk_direction_, wspace)
