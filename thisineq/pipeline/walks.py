"""The pipeline's last steps: walk matrices of held-out photos, and the known-answer benchmark of the walks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from thisineq.data.dataset import load_dataset
from thisineq.data.synth.build import GROUND_TRUTH
from thisineq.invert import methods
from thisineq.invert.batch import load_inversions
from thisineq.io import atomic_open, write_json
from thisineq.known_answer.benchmark import COLUMNS, FactorReader, known_answer_table
from thisineq.known_answer.oracle import FactorOracle, factor_targets, predict, save_oracle, train_oracle
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


def benchmark_walks(p: Pipeline) -> None:
    """Train the oracle on the training city, then score every bounded method's walks against the known answer."""
    folder = p.paths.artifacts.known_answer
    folder.mkdir(parents=True, exist_ok=True)
    oracle = _train_oracle(p)
    generator = load_generator(p.paths.generator)
    normals = BoundarySet.load(p.paths.artifacts.normals)
    random_ws = sample_ws(generator, p.config.known_answer_sources, p.config.seed)
    read = _reader(oracle, generator)
    tables = []
    for method in (m for m in methods.BOUNDED if normals.directions(m, p.config.domains)):
        inverted = torch.from_numpy(load_inversions(p.paths.inversion(method)).ws[: p.config.known_answer_sources])
        tables += known_answer_tables(read, normals, method, p.config.domains, random_ws, inverted)
    table = pd.concat(tables) if tables else pd.DataFrame(columns=[*COLUMNS, "method"])
    with atomic_open(folder / "table.csv", "w", encoding="utf-8", newline="") as handle:
        table.to_csv(handle, index=False, float_format="%.4f")


def known_answer_tables(
    read: FactorReader,
    normals: BoundarySet,
    method: str,
    domains: Iterable[str],
    random_ws: torch.Tensor,
    inverted_ws: torch.Tensor,
) -> list[pd.DataFrame]:
    """The benchmark of the walks along one method's boundaries (plain, conditional, principal axes) from random and inverted ws."""
    plain = normals.directions(method, domains)
    kinds = {
        "conditional": normals.directions(method, domains, walk="conditional"),
        "principal": normals.directions(method, domains, fit="principal"),
    }
    return [
        known_answer_table(read, ws, plain, kinds, source=source).assign(method=method)
        for source, ws in (("random latents", random_ws), ("inverted photos", inverted_ws))
    ]


def _train_oracle(p: Pipeline) -> FactorOracle:
    """The oracle trained on the training city's photos and their true factors; its held-out R² is written beside the table."""
    data = load_dataset(p.paths.train_dataset)
    truth = pd.read_csv(p.paths.train_dataset.parent / GROUND_TRUTH, dtype={"photo_id": str}).set_index("photo_id")
    order = data.photos.sort_values("cache_index")
    images = np.asarray(data.images())[order["cache_index"].to_numpy()]
    targets, is_test = factor_targets(truth.loc[order.index]), (order["split"] == "test").to_numpy()
    model, report = train_oracle(images, targets, is_test, epochs=p.config.oracle_epochs, progress=p.progress)
    save_oracle(model, p.paths.work / "oracle.pt", report)
    write_json(p.paths.artifacts.known_answer / "oracle_r2.json", report.r2)
    return model


def _reader(oracle: FactorOracle, generator: Generator) -> FactorReader:
    """ws → the oracle's reading of the images they generate."""

    def read(ws: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return predict(oracle, generator.synthesis(ws))

    return read
