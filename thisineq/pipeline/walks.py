"""The pipeline's last steps: walk matrices of held-out photos, and the known-answer benchmark of the walks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from thisineq.data.dataset import load_dataset
from thisineq.images import to_tensor
from thisineq.invert import methods
from thisineq.invert.batch import load_inversions
from thisineq.io import atomic_open, write_json
from thisineq.latent.figures import write_fig3
from thisineq.latent.normals import BoundarySet
from thisineq.latent.walk import walk_grid
from thisineq.models.stylegan2 import Generator, load_generator, sample_ws

if TYPE_CHECKING:
    from thisineq.pipeline.runner import Pipeline

WALKED_FIT, WALKED_KIND = "whitened", "orthogonal"  # Fig. 4: whitened boundaries made independent of each other
RANDOM_SOURCES = 3  # random seeds walked beside the held-out photos


def draw_figures(p: Pipeline) -> None:
    """Fig. 3 per bounded method and domain: the latents each boundary was fitted on, whitened, coloured by decile.

    Plotted in whitened W, where the default boundaries were fitted: there the supervised view's x axis
    is the SVM's own score direction.
    """
    normals = BoundarySet.load(p.paths.artifacts.normals)
    photos = p.paths.labelled_photos()
    folder = p.paths.artifacts.figures
    folder.mkdir(parents=True, exist_ok=True)
    record = {"fit": WALKED_FIT, "space": "W whitened by the generator's statistics", "figures": {}}
    for method, source in p.paths.boundary_latents().items():
        directions = normals.directions(method, p.config.domains, fit=WALKED_FIT)
        if not directions or normals.wspace is None:
            continue
        inversions = load_inversions(source)
        whitened = normals.wspace.whiten(inversions.w)
        for domain, direction in directions.items():
            deciles = photos.loc[inversions.photo_id, f"{domain}_decile"].to_numpy()
            known = ~pd.isna(deciles)
            written = write_fig3(
                folder,
                method,
                whitened[known],
                deciles[known].astype(int),
                normals.wspace.whiten_direction(direction.normal),
                domain,
                p.config.seed,
                photo_ids=inversions.photo_id[known],
                synthetic=True,
                caption=f"synthetic city · {int(known.sum())} {method} latents in whitened W",
            )
            record["figures"][f"{method}/{domain}"] = [path.name for path in written]
            p.log(f"  {method}/{domain}: {written[0].name}")
    write_json(folder / "figures.json", record)


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
        noises = None
        if methods.method(method).optimises:
            photos, noises = _reprojected(p, generator, method, inversions.photo_id[chosen])
            record["noise"] = f"{method}: the photos re-projected with the same settings, walked with their own optimised noise"
        seeds = {f"seed {p.config.seed}:{k}": random_ws[k] for k in range(RANDOM_SOURCES)}
        for name, sources, noise in ((method, photos, noises), (f"{method}_random", seeds, None)):
            record["matrices"][name] = _draw_walk(p, generator, name, method, sources, directions, noise)
    write_json(p.paths.artifacts.walks / "walks.json", record)


def _reprojected(p: Pipeline, generator: Generator, method: str, photo_ids: np.ndarray) -> tuple[dict, dict]:
    """An optimising method's latents and noise maps for a few photos, inverted again (the batch run keeps no noise maps)."""
    from thisineq.invert.api import InversionModels, invert
    from thisineq.metrics.lpips import LPIPS

    data = load_dataset(p.paths.demo_dataset)
    images = np.asarray(data.images())[data.photos.loc[photo_ids, "cache_index"].to_numpy()]
    models = InversionModels(generator, perceptual=LPIPS(p.config.projector_lpips))
    encoder = methods.method(method).encoder
    if encoder is not None:
        from thisineq.models.encoders import load_encoder

        models.encoders[encoder] = load_encoder(p.paths.encoder(encoder))[1]
    result = invert(
        to_tensor(images),
        method,
        models,
        projector_steps=p.config.projector_steps,
        hybrid_steps=p.config.hybrid_steps,
        w_prior=p.config.projector_w_prior,
    )
    labels = [f"photo {photo_id}" for photo_id in photo_ids]
    sources = {label: result.ws[k] for k, label in enumerate(labels)}
    return sources, {label: [n[k : k + 1] for n in result.noise] for k, label in enumerate(labels)}


def _draw_walk(
    p: Pipeline, generator: Generator, name: str, method: str, sources: dict, directions: list, noises: dict | None = None
) -> dict:
    """One walk matrix's PNG, and its entry in walks.json."""
    grid, _ = walk_grid(generator, sources, directions, list(p.config.walk_steps), noises=noises)
    with atomic_open(p.paths.artifacts.walks / f"{name}.png", "wb") as handle:
        grid.save(handle, format="PNG", optimize=True)
    return {
        "file": f"{name}.png",
        "method": method,
        "fit": WALKED_FIT,
        "walk": WALKED_KIND,
        "sources": list(sources),
        "own_noise": noises is not None,
        "domains": [d.name for d in directions],
    }
