"""The generator's W as a Gaussian: its mean and covariance, and the whitening that makes every direction equally wide.

Inverted latents sit far off the region the generator renders from (encoders' codes are narrow,
the projector's wide), and a linear SVM on them spreads its normal over directions W hardly
varies in, so walking it changes almost nothing in the image. Fitting in W whitened by the
generator's own statistics, z = Σ^{-1/2}(w − μ), and walking along the whitened normal a mapped
back, Σ^{1/2}a, keeps a boundary in the directions the generator actually uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MIN_SAMPLES = 10000  # below this the covariance of a 256-D W is too noisy to whiten with


@dataclass(frozen=True)
class WSpace:
    """Mean (D,) and covariance (D, D) of the generator's W, with its symmetric square root and inverse root."""

    mean: np.ndarray
    cov: np.ndarray
    _root: np.ndarray = field(init=False, repr=False, compare=False)
    _inverse_root: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        mean, cov = np.asarray(self.mean, np.float64), np.asarray(self.cov, np.float64)
        if mean.ndim != 1 or cov.shape != (len(mean), len(mean)):
            raise ValueError(f"W's mean must be (D,) and covariance (D, D), got {mean.shape} and {cov.shape}")
        values, vectors = np.linalg.eigh((cov + cov.T) / 2)
        if not np.all(np.isfinite(values)) or values.max() <= 0:
            raise ValueError("W's covariance is not positive: the samples do not vary")
        # A rank-deficient mapping (a collapsed style) would blow up its null directions: floor them.
        values = np.maximum(values, values.max() * 1e-8)
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "cov", cov)
        object.__setattr__(self, "_root", (vectors * np.sqrt(values)) @ vectors.T)
        object.__setattr__(self, "_inverse_root", (vectors / np.sqrt(values)) @ vectors.T)

    @classmethod
    def from_samples(cls, w: np.ndarray) -> WSpace:
        """Statistics of samples w (n, D) of the generator's W (n ≥ D + 1)."""
        w = np.asarray(w, np.float64)
        if w.ndim != 2 or len(w) <= w.shape[1]:
            raise ValueError(f"need more samples than dimensions to estimate W's covariance, got {w.shape}")
        return cls(w.mean(axis=0), np.cov(w, rowvar=False))

    @property
    def inverse_root(self) -> np.ndarray:
        """Σ^{-1/2} (D, D), symmetric: whitened coordinates are (w − μ) @ it."""
        return self._inverse_root

    @property
    def dim(self) -> int:
        return len(self.mean)

    # Latents and directions may also be per layer (W+): (…, L·D) vectors are treated as L blocks of D, each
    # layer whitened with W's statistics, as if the layers varied independently.

    def whiten(self, w: np.ndarray) -> np.ndarray:
        """Latents (n, D) or (n, L·D) → whitened coordinates Σ^{-1/2}(w − μ): W's samples have identity covariance there."""
        blocks = self._blocks(w)
        return ((blocks - self.mean) @ self._inverse_root).reshape(np.shape(w))

    def unwhiten_direction(self, a: np.ndarray) -> np.ndarray:
        """A direction in whitened coordinates → the unit direction in W it moves along, Σ^{1/2}a (normalised)."""
        return _unit((self._blocks(a) @ self._root).reshape(np.shape(a)))

    def whiten_direction(self, u: np.ndarray) -> np.ndarray:
        """The inverse of `unwhiten_direction`: a direction in W → its unit direction in whitened coordinates."""
        return _unit((self._blocks(u) @ self._inverse_root).reshape(np.shape(u)))

    def gradient(self, a: np.ndarray) -> np.ndarray:
        """The W-space weights Σ^{-1/2}a of the linear function a · whiten(w), for decision functions."""
        return (self._blocks(a) @ self._inverse_root).reshape(np.shape(a))

    def spread(self, u: np.ndarray) -> float:
        """Standard deviation of W along the direction u (normalised first): √(uᵀΣu)/|u| (summed over layers for W+)."""
        blocks = self._blocks(u)
        return float(np.sqrt(np.sum((blocks @ self.cov) * blocks)) / np.linalg.norm(blocks))

    def relative_spread(self, latents: np.ndarray, u: np.ndarray) -> float:
        """How widely latents (n, D) vary along u against W: their standard deviation along u over `spread(u)`.

        About 1 for samples of W; an inversion method's codes of photos may vary far more along directions
        W hardly varies in, and a walk of a few σ there stays among them."""
        unit = np.asarray(u, np.float64) / np.linalg.norm(u)
        return float(np.std(np.asarray(latents, np.float64) @ unit) / self.spread(unit))

    def _blocks(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        if x.shape[-1] % self.dim:
            raise ValueError(f"latents of {x.shape[-1]} dimensions are neither W ({self.dim}) nor layers of it")
        return x.reshape(*x.shape[:-1], -1, self.dim)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x)
