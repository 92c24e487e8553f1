"""The pipeline's last steps: walk matrices of held-out photos, and the known-answer benchmark of the walks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from thisineq.invert import methods
from thisineq.invert.batch import load_inversions
from thisineq.io import atomic_open, write_json
from thisineq.latent.normals import BoundarySet
from thisineq.latent.walk import walk_grid
from thisineq.models.stylegan2 import Generator, load_generator, sample_ws

if TYPE_CHECKING:
    from thisineq.pipeline.runner import Pipeline

WALKED_FIT, WALKED_KIND = "whitened", "orthogonal"  # Fig. 4: whitened boundaries made independent of each other
RANDOM_SOURCES = 3  # random seeds walked beside the held-out photos


def draw_walks(p: Pipeline) -> None:
    """Per bounded method, Fig. 4's walk matrices along its whitened, orthogonalised boundaries: held-out photos and random seeds."""
    generator = load_generator(p.paths.generator).requires_grad_(False)
    normals = BoundarySet.load(p.paths.artifacts.normals)
    held_out_ids = p.paths.held_out_ids()
    p.paths.artifacts.walks.mkdir(parents=True, exist_ok=True)
    record = {
        "steps": list(p.config.walk_steps),
        "boundaries": f"{WALKED_FIT} fits, {WALKED_KIND} walks (each direction orthogonal to the others, in whitened units)",
        "matrices": {},
        "missing": {},
    }
    random_ws = sample_ws(generator, RANDOM_SOURCES, p.config.seed)
    for method in methods.BOUNDED:
        directions = list(normals.directions(method, p.config.domains, fit=WALKED_FIT, walk=WALKED_KIND).values())
        inversions = load_inversions(p.paths.inversion(method))
        chosen = np.flatnonzero(np.isin(inversions.photo_id, held_out_ids))[: p.config.walk_photos]
        if not directions or not len(chosen):
            record["missing"][method] = "no held-out photo inverted" if directions else "no boundary"
            continue
        photos = {f"photo {inversions.photo_id[i]}": torch.from_numpy(inversions.ws[i]) for i in chosen}
        seeds = {f"seed {p.config.seed}:{k}": random_ws[k] for k in range(RANDOM_SOURCES)}
        for name, sources in ((method, photos), (f"{method}_random", seeds)):
            record["matrices"][name] = _draw_walk(p, generator, name, method, sources, directions)
    write_json(p.paths.artifacts.walks / "walks.json", record)


def _draw_walk(p: Pipeline, generator: Generator, name: str, method: str, sources: dict, directions: list) -> dict:
    """One walk matrix's PNG, and its entry in walks.json."""
    grid, _ = walk_grid(generator, sources, directions, list(p.config.walk_steps))
    with atomic_open(p.paths.artifacts.walks / f"{name}.png", "wb") as handle:
        grid.save(handle, format="PNG", optimize=True)
    return {
        "file": f"{name}.png",
        "method": method,
        "fit": WALKED_FIT,
        "walk": WALKED_KIND,
        "sources": list(sources),
        "domains": [d.name for d in directions],
    }
