"""The boundary normals of an artifact set: per method, domain and fit kind, the direction a walk takes and its σ.

On disk (`boundaries/normals.npz`) each boundary is two arrays: `fit/method/domain` (the unit
direction in W a walk takes, from deprived to privileged) and `fit/method/domain/sigma` (the
spread of the generator's W along it); `w/mean` and `w/cov` hold the generator's W statistics the
whitened fits used. Archives written before fit kinds existed (`method/domain`,
`principal/method/domain`) read as "standardised" and "principal". Only this module reads or
writes those keys.

Fit kinds (`FITS`): "whitened" (the SVM in W whitened by the generator's statistics: the
default), "standardised" (the SVM on standardised latents), "principal" (on W's first principal
axes), "partial" (the partial effect of a domain's decile, the other domains held fixed) and
"layers" (the whitened SVM on the encoders' per-layer codes, W+: its direction is one per layer).
Walk kinds (`WALKS`): "plain" (each boundary as fitted), "conditional" (each normal made
orthogonal to the span of the others': InterFaceGAN's conditional manipulation) and "orthogonal"
(the set made mutually orthogonal, nearest to the originals: the paper's "independent of each
other"). Whitened fits are made orthogonal in whitened units, where they were fitted.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from thisineq.errors import ThisIneqError
from thisineq.invert.methods import METHODS
from thisineq.io import atomic_open
from thisineq.latent.boundaries import conditional_normal
from thisineq.latent.wspace import WSpace

FITS = ("whitened", "standardised", "principal", "partial", "layers")
WHITENED_FITS = ("whitened", "partial", "layers")  # fitted in whitened W when the archive has W's statistics
WALKS = ("plain", "conditional", "orthogonal")
DEFAULT_FIT = "whitened"
FIT_LABELS = {
    "whitened": "whitened W",
    "standardised": "standardised latents",
    "principal": "W's principal axes",
    "partial": "partial effect",
    "layers": "W+ per layer (whitened)",
}
SIGMA = "/sigma"
W_MEAN, W_COV = "w/mean", "w/cov"
LEGACY_PRINCIPAL = "principal"


@dataclass(frozen=True)
class Direction:
    """A unit normal in latent space and the spread σ of W along it: a walk's step α moves α·σ."""

    name: str  # e.g. "income"
    normal: np.ndarray  # (style_dim,), unit length, from deprived to privileged
    sigma: float  # standard deviation of the generator's W along `normal`

    @classmethod
    def from_latents(cls, name: str, normal: np.ndarray, latents: np.ndarray) -> Direction:
        """The normal made unit length, with σ measured from latents (n, style_dim): samples of W."""
        normal = np.asarray(normal, np.float64) / np.linalg.norm(normal)
        return cls(name, normal, float(np.std(np.asarray(latents) @ normal)))


def orthogonalised(normals: np.ndarray) -> np.ndarray:
    """Rows (k, d) made orthonormal and as close to the originals as possible: N (NᵀN)^{-1/2} (Löwdin), order-free."""
    normals = np.asarray(normals, np.float64)
    normals = normals / np.linalg.norm(normals, axis=1, keepdims=True)
    values, vectors = np.linalg.eigh(normals @ normals.T)
    if values.min() < 1e-10:
        raise ValueError("the normals are linearly dependent: they cannot be made independent of each other")
    return (vectors / np.sqrt(values)) @ vectors.T @ normals


class BoundarySet:
    """Every boundary of an artifact set, keyed by (method, domain, fit), with the W statistics they were fitted with."""

    def __init__(self, boundaries: Mapping[tuple[str, str, str], Direction] | None = None, wspace: WSpace | None = None):
        self._boundaries: dict[tuple[str, str, str], Direction] = dict(boundaries or {})
        self.wspace = wspace

    # --- reading and writing the archive ----------------------------------------------------------

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> BoundarySet:
        """From the archive's arrays (an opened `.npz`, or a dict of its arrays)."""
        boundaries = {}
        for key in arrays:
            if key.endswith(SIGMA) or key in (W_MEAN, W_COV):
                continue
            parts = key.split("/")
            fit, method, domain = ("standardised", *parts) if len(parts) == 2 else parts if len(parts) == 3 else ("", "", "")
            if fit not in FITS or not method or not domain or key + SIGMA not in arrays:
                raise ThisIneqError(f"the normals archive has an entry {key!r} that is not fit/method/domain with a σ beside it")
            boundaries[(method, domain, fit)] = Direction(domain, np.asarray(arrays[key], np.float64), float(arrays[key + SIGMA]))
        wspace = None
        if W_MEAN in arrays and W_COV in arrays:
            try:
                wspace = WSpace(np.asarray(arrays[W_MEAN]), np.asarray(arrays[W_COV]))
            except ValueError as error:
                raise ThisIneqError(f"the normals archive's W statistics are unusable: {error}") from None
        return cls(boundaries, wspace)

    @classmethod
    def load(cls, path: str | os.PathLike) -> BoundarySet:
        """The archive at `path`; an empty set where none has been built."""
        if not Path(path).is_file():
            return cls()
        with np.load(path) as archive:
            return cls.from_arrays({key: archive[key] for key in archive.files})

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {}
        for (method, domain, fit), direction in self._boundaries.items():
            key = f"{fit}/{method}/{domain}"
            arrays[key], arrays[key + SIGMA] = direction.normal, np.array(direction.sigma)
        if self.wspace is not None:
            arrays[W_MEAN], arrays[W_COV] = self.wspace.mean, self.wspace.cov
        return arrays

    def save(self, path: str | os.PathLike) -> None:
        """Write the archive atomically."""
        with atomic_open(path, "wb") as handle:
            np.savez(handle, **self.to_arrays())

    # --- building ----------------------------------------------------------------------------------

    def add(self, method: str, direction: Direction, *, fit: str = DEFAULT_FIT) -> None:
        """Record `direction` as `method`'s boundary of kind `fit` for the domain it is named after."""
        if fit not in FITS:
            raise ValueError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
        self._boundaries[(method, direction.name, fit)] = direction

    # --- questions the pages and the pipeline ask ---------------------------------------------------

    def __len__(self) -> int:
        return len(self._boundaries)

    def methods(self) -> list[str]:
        """The inversion methods with boundaries fitted on their own latents, sorted."""
        return sorted({m for m, _, _ in self._boundaries})

    def fits(self, method: str) -> list[str]:
        """The fit kinds `method` can walk (those of the boundaries its registry entry names), in `FITS` order."""
        if method not in METHODS:
            return []
        present = {f for m, _, f in self._boundaries if m == METHODS[method].walks}
        return [f for f in FITS if f in present]

    def default_fit(self, method: str) -> str | None:
        """The fit a page walks unless told otherwise: whitened where there is one, else the first available."""
        fits = self.fits(method)
        return fits[0] if fits else None

    def directions(
        self, method: str, domains: Iterable[str] | None = None, *, fit: str | None = DEFAULT_FIT, walk: str = "plain"
    ) -> dict[str, Direction]:
        """The directions a latent of `method` is walked along (a method walks the boundaries its registry entry names).

        `domains` picks and orders them (default: every domain fitted, in fitting order); domains
        without a boundary are left out. `fit` picks the fit kind (None: `default_fit`); `walk`
        makes them conditional or mutually orthogonal (see the module docstring); σ is then the
        spread of W along the direction actually walked.
        """
        if walk not in WALKS:
            raise ValueError(f"walk must be one of {', '.join(WALKS)}, got {walk!r}")
        if method not in METHODS:
            return {}  # a name from a URL or an older set: nothing to walk
        fit = self.default_fit(method) if fit is None else fit
        walks = METHODS[method].walks
        fitted = [d for m, d, f in self._boundaries if m == walks and f == fit]
        chosen = [d for d in (domains if domains is not None else fitted) if d in fitted]
        directions = {d: self._boundaries[(walks, d, fit)] for d in chosen}
        if walk == "plain" or len(directions) < 2:
            return directions
        return self._decorrelated(directions, fit, walk)

    def _decorrelated(self, directions: dict[str, Direction], fit: str, walk: str) -> dict[str, Direction]:
        whitened = self.wspace is not None and fit in WHITENED_FITS
        to_fit = self.wspace.whiten_direction if whitened else (lambda u: u / np.linalg.norm(u))
        from_fit = self.wspace.unwhiten_direction if whitened else (lambda a: a / np.linalg.norm(a))
        names = list(directions)
        normals = np.stack([to_fit(directions[d].normal) for d in names])
        if walk == "orthogonal":
            moved = orthogonalised(normals)
        else:
            moved = np.stack(
                [conditional_normal(normals[i], [normals[j] for j in range(len(names)) if j != i]) for i in range(len(names))]
            )
        out = {}
        for name, normal in zip(names, moved, strict=True):
            u = from_fit(normal)
            sigma = self.wspace.spread(u) if self.wspace is not None else directions[name].sigma
            out[name] = replace(directions[name], normal=u, sigma=sigma)
        return out
