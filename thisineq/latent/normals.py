"""The boundary normals of an artifact set: one unit normal and its σ per method, domain and fit, in one archive.

On disk (`boundaries/normals.npz`) each boundary is two arrays: `method/domain` (the unit normal,
from deprived to privileged) and `method/domain/sigma` (the spread of the generator's W along it);
boundaries fitted on W's first principal axes carry the prefix `principal/`. Only this module reads
or writes those keys.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from thisineq.errors import ThisIneqError
from thisineq.invert.methods import METHODS
from thisineq.io import atomic_open
from thisineq.latent.boundaries import conditional_normal

PRINCIPAL = "principal/"  # archive prefix of the boundaries fitted on W's principal axes
SIGMA = "/sigma"


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


def conditional_directions(directions: Mapping[str, Direction]) -> dict[str, Direction]:
    """Each direction's normal made orthogonal to all the others' (InterFaceGAN's conditional manipulation; σ kept)."""
    if len(directions) < 2:
        return dict(directions)
    return {
        d: Direction(d, conditional_normal(v.normal, [o.normal for k, o in directions.items() if k != d]), v.sigma)
        for d, v in directions.items()
    }


class BoundarySet:
    """Every boundary of an artifact set, keyed by (method, domain, principal)."""

    def __init__(self, boundaries: Mapping[tuple[str, str, bool], Direction] | None = None):
        self._boundaries: dict[tuple[str, str, bool], Direction] = dict(boundaries or {})

    # --- reading and writing the archive ----------------------------------------------------------

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> BoundarySet:
        """From the archive's arrays (an opened `.npz`, or a dict of its arrays)."""
        boundaries = {}
        for key in arrays:
            if key.endswith(SIGMA):
                continue
            principal = key.startswith(PRINCIPAL)
            method, _, domain = key.removeprefix(PRINCIPAL).partition("/")
            if not domain or "/" in domain or key + SIGMA not in arrays:
                raise ThisIneqError(f"the normals archive has an entry {key!r} that is not method/domain with a σ beside it")
            normal = np.asarray(arrays[key], np.float64)
            boundaries[(method, domain, principal)] = Direction(domain, normal, float(arrays[key + SIGMA]))
        return cls(boundaries)

    @classmethod
    def load(cls, path: str | os.PathLike) -> BoundarySet:
        """The archive at `path`; an empty set where none has been built."""
        if not Path(path).is_file():
            return cls()
        with np.load(path) as archive:
            return cls.from_arrays({key: archive[key] for key in archive.files})

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {}
        for (method, domain, principal), direction in self._boundaries.items():
            key = f"{PRINCIPAL if principal else ''}{method}/{domain}"
            arrays[key], arrays[key + SIGMA] = direction.normal, np.array(direction.sigma)
        return arrays

    def save(self, path: str | os.PathLike) -> None:
        """Write the archive atomically."""
        with atomic_open(path, "wb") as handle:
            np.savez(handle, **self.to_arrays())

    # --- building ----------------------------------------------------------------------------------

    def add(self, method: str, direction: Direction, *, principal: bool = False) -> None:
        """Record `direction` as `method`'s boundary for the domain it is named after."""
        self._boundaries[(method, direction.name, principal)] = direction

    # --- questions the pages and the pipeline ask ---------------------------------------------------

    def __len__(self) -> int:
        return len(self._boundaries)

    def methods(self) -> list[str]:
        """The inversion methods with boundaries fitted on their own latents (full space), sorted."""
        return sorted({m for m, _, principal in self._boundaries if not principal})

    def directions(
        self, method: str, domains: Iterable[str] | None = None, *, conditional: bool = False, principal: bool = False
    ) -> dict[str, Direction]:
        """The directions a latent of `method` is walked along (a method walks the boundaries its registry entry names).

        `domains` picks and orders them (default: every domain fitted, in fitting order); domains
        without a boundary are left out. `conditional` makes each normal orthogonal to the others';
        `principal` takes the boundaries fitted on W's principal axes (visible walks) instead.
        """
        if method not in METHODS:
            return {}  # a name from a URL or an older set: nothing to walk
        walks = METHODS[method].walks
        fitted = [d for m, d, p in self._boundaries if m == walks and p == principal]
        chosen = [d for d in (domains if domains is not None else fitted) if d in fitted]
        directions = {d: self._boundaries[(walks, d, principal)] for d in chosen}
        return conditional_directions(directions) if conditional else directions

    def has_principal(self, method: str) -> bool:
        """Whether `method` can walk boundaries fitted on W's principal axes."""
        return bool(self.directions(method, principal=True))
