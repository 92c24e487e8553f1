"""The oracle checked where the benchmark uses it: on GAN images, not only on the renders it was trained on.

Three readings of R² per factor, per oracle seed (`r2_by_oracle`):
- on renders: the oracle's held-out test photos of the training city (what training reports);
- on reconstructions: GAN images of held-out photos' inversions against the photos' true factors —
  the oracle and the inversion together; low R² here means the walks' sources lose the factors;
- on re-inverted GAN samples: the oracle's reading of a GAN sample taken as its truth, against
  its reading of the sample inverted and generated again — whether the oracle reads GAN images
  consistently, through the same chain the walks' inverted sources go.
"""

from __future__ import annotations

import numpy as np

from thisineq.known_answer.oracle import r2_scores


def r2_by_oracle(readings: np.ndarray, targets: np.ndarray, oracle_seeds: tuple[int, ...]) -> dict[str, dict]:
    """Per oracle seed, R² per factor and their median: readings (k, n, F) against targets (n, F) or (k, n, F)."""
    targets = np.broadcast_to(targets, readings.shape)
    out = {}
    for seed, predicted, target in zip(oracle_seeds, readings, targets, strict=True):
        r2 = r2_scores(predicted, target)
        out[f"seed {seed}"] = {"median": float(np.nanmedian(list(r2.values()))), "factors": r2}
    return out
