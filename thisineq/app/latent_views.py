"""Fig. 3 on the Metrics page: which boundary normals a method has, and its latents' three views, cached per set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from thisineq.app import state
from thisineq.artifacts import ArtifactSet
from thisineq.latent import figures
from thisineq.latent.normals import BoundarySet


def fitted_normals(normals: BoundarySet, method: str) -> dict[str, np.ndarray]:
    """Each domain's unit normal (D,) that `method` walks, in fitting order, of the set's default fit (whitened where fitted)."""
    return {domain: direction.normal for domain, direction in normals.directions(method, fit=None).items()}


def labelled_latents(inversions, photos: pd.DataFrame, domain_key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(photo ids (n,), w (n, D), deciles (n,)) of the inverted photos that have a decile of the domain."""
    deciles = photos[f"{domain_key}_decile"].reindex(inversions.photo_id)
    known = deciles.notna().to_numpy()
    return inversions.photo_id[known], inversions.w[known], deciles.to_numpy()[known].astype(int)


@st.cache_data(show_spinner="Projecting the latents (t-SNE takes a few seconds)…")
def fig3_points(artifact_root: str, method: str, domain_key: str, _photos: pd.DataFrame) -> pd.DataFrame | None:
    """Fig. 3's coordinates of a method's inverted photos: the pipeline's, where it drew the figure (t-SNE took 16 s
    when computed here); else computed now (`figures.fig3_points`). None where the domain has no normal.

    `_photos` (the dataset's photo table) is left out of the cache key: it follows from the artifact set.
    """
    artifacts = ArtifactSet(Path(artifact_root))
    _, drawn = figures.fig3_paths(artifacts.figures, method, domain_key)
    if drawn.is_file():
        return pd.read_csv(drawn, dtype={"photo_id": str})
    normal = fitted_normals(state.boundary_normals(str(artifacts.normals)), method).get(domain_key)
    inversions = state.inversion_sets(artifact_root).get(method)
    if normal is None or inversions is None:
        return None
    photo_ids, latents, deciles = labelled_latents(inversions, _photos, domain_key)
    return figures.fig3_points(latents, deciles, normal, photo_ids=photo_ids)
