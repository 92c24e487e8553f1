"""The known-answer steps: the oracles, the positive-control city and its inversions, and the benchmarks of the walks.

- `oracle`: trains one oracle per `oracle_seeds` on the training city (work folder), so that
  rescoring new boundaries never retrains it;
- `control_city`, `invert_control`: the positive-control city (independent domains) and the
  encoders' inversions of its photos (work folder);
- `known_answer_control`: the benchmark on the control city (`control_table.csv`);
- `known_answer`: the truth profiles, the benchmark of every bounded method's walks with its
  baselines and controls, the oracle's validation on GAN images and `summary.json` of the targets.
Every oracle reads the same rendered images, so a second oracle seed costs its reading only. The
ideal and InterFaceGAN directions are fitted on the first oracle's reading of the GAN samples;
every oracle then scores them, like the boundaries.

Cost on the demo (64 px, 2 CPU cores, 87 held-out photos per method, 100 random latents, 3 fit/walk
kinds, 20 random directions on 25 sources): about 19,000 images rendered and read by both oracles
plus 10,000 GAN samples read by one, ~28 ms and ~19 ms each on an idle machine: ~12 minutes for
`known_answer`, ~2 for `known_answer_control`. Fewer `known_answer_kinds` cost ~3 minutes less each.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from thisineq.data.dataset import load_dataset
from thisineq.data.synth.build import GROUND_TRUTH, SynthConfig
from thisineq.data.synth.city import CityConfig
from thisineq.errors import ConfigError
from thisineq.invert import methods
from thisineq.invert.batch import load_inversions
from thisineq.io import atomic_open, write_json
from thisineq.known_answer import baselines, targets
from thisineq.known_answer.benchmark import COLUMNS, NONE, FactorReader, Sources, Walk, known_answer_table
from thisineq.known_answer.control import fit_directions
from thisineq.known_answer.oracle import FactorOracle, factor_targets, load_oracle, predict, save_oracle, train_oracle
from thisineq.known_answer.truth import labelled_truth, profile_of, truth_profiles
from thisineq.known_answer.validation import r2_by_oracle
from thisineq.latent.labels import CLASS_DEFINITIONS
from thisineq.latent.normals import FITS, WALKS, BoundarySet
from thisineq.latent.wspace import WSpace
from thisineq.models.encoders import encode_and_generate, load_encoder
from thisineq.models.stylegan2 import Generator, broadcast, load_generator, sample_w, sample_ws
from thisineq.pipeline.boundaries import W_SAMPLES
from thisineq.pipeline.invert import invert_photos
from thisineq.pipeline.train import build_city

if TYPE_CHECKING:
    from thisineq.pipeline.runner import Pipeline
    from thisineq.pipeline.workspace import Workspace

BATCH = 256  # images rendered and read at once


# --- where the steps keep their files -------------------------------------------------------------


def oracle_path(paths: Workspace, seed: int) -> Path:
    return paths.work / "oracles" / f"oracle_seed{seed}.pt"


def control_city(paths: Workspace) -> Path:
    """The positive-control city's folder (its dataset in `dataset/`)."""
    return paths.work / "control_city"


def control_inversion(paths: Workspace, method: str) -> Path:
    return paths.work / "control_inversions" / method


# --- the oracle step ------------------------------------------------------------------------------


def train_oracles(p: Pipeline) -> None:
    """One oracle per seed of `oracle_seeds`, trained on the training city's photos and true factors (its test split held out)."""
    data = load_dataset(p.paths.train_dataset)
    truth = _ground_truth(p.paths.train_dataset)
    order = data.photos.sort_values("cache_index")
    images = np.asarray(data.images())[order["cache_index"].to_numpy()]
    true_factors, is_test = factor_targets(truth.loc[order.index]), (order["split"] == "test").to_numpy()
    for seed in p.config.oracle_seeds:
        p.log(f"  oracle seed {seed}")
        model, report = train_oracle(images, true_factors, is_test, epochs=p.config.oracle_epochs, seed=seed, progress=p.progress)
        oracle_path(p.paths, seed).parent.mkdir(parents=True, exist_ok=True)
        save_oracle(model, oracle_path(p.paths, seed), report)


# --- the control city's steps ---------------------------------------------------------------------


def build_control_city(p: Pipeline) -> None:
    """The positive-control city: the training city's settings but for independent domains."""
    c, folder = p.config, control_city(p.paths)
    config = SynthConfig(
        n_photos=c.control_photos, size=c.size, city=CityConfig(n_lsoas=c.areas, seed=c.seed, independent_domains=True)
    )
    build_city(p, config, folder)


def invert_control_city(p: Pipeline) -> None:
    """Each of `control_methods` inverts every photo of the control city."""
    for method in p.config.control_methods:
        invert_photos(p, method, control_city(p.paths) / "dataset", control_inversion(p.paths, method))


# --- the benchmarks -------------------------------------------------------------------------------


def benchmark_control(p: Pipeline) -> None:
    """control_table.csv: whitened boundaries fitted on the control city's training split, walked from its other photos and random latents."""
    c, folder = p.config, p.paths.artifacts.known_answer
    generator, oracles = _models(p)
    wspace = _wspace(p, generator)
    read = reader(oracles, generator)
    dataset = control_city(p.paths) / "dataset"
    photos, truth = _truth_photos(dataset, _photos_with_ranks(dataset))
    profiles = truth_profiles(truth, photos, list(c.domains), seed=c.seed, definition=_definition(c))
    randoms = baselines.random_directions(wspace, c.known_answer_random, c.seed)
    walks, held_out = {}, {}
    for method in c.control_methods:
        inversions = load_inversions(control_inversion(p.paths, method))
        rows = photos.loc[inversions.photo_id]
        train = (rows["split"] == "train").to_numpy()
        directions = fit_directions(
            inversions.w[train], rows[train], c.domains, wspace, seed=c.seed, definition=_definition(c), log=p.log
        )
        walks[method] = [Walk(d, domain, "boundary", method, "whitened", "plain") for domain, d in directions.items()]
        held_out[method] = Sources("inverted photos", method, torch.from_numpy(inversions.ws[~train][: c.known_answer_sources]))
    every_walk = [w for method_walks in walks.values() for w in method_walks]
    tables = [_benchmark(p, read, _random_sources(generator, c), every_walk, profiles, randoms)]
    tables += [_benchmark(p, read, held_out[m], walks[m], profiles, randoms) for m in walks if len(held_out[m].ws)]
    folder.mkdir(parents=True, exist_ok=True)
    _write_csv(folder / "control_table.csv", pd.concat(tables, ignore_index=True))
    _write_csv(folder / "control_truth_profiles.csv", profiles)


def benchmark_walks(p: Pipeline) -> None:
    """table.csv, truth_profiles.csv, oracle_validation.json and summary.json of every bounded method's walks."""
    c, folder = p.config, p.paths.artifacts.known_answer
    folder.mkdir(parents=True, exist_ok=True)
    generator, oracles = _models(p)
    normals = BoundarySet.load(p.paths.artifacts.normals)
    wspace = normals.wspace or _wspace(p, generator)
    read = reader(oracles, generator)
    photos, truth = _truth_photos(p.paths.train_dataset, p.paths.labelled_photos())
    profiles = truth_profiles(truth, photos, list(c.domains), seed=c.seed, definition=_definition(c))
    _write_csv(folder / "truth_profiles.csv", profiles)
    p.log(f"  {c.known_answer_gan_samples} GAN samples read by the oracle: the ideal and InterFaceGAN directions")
    references = reference_walks(p, generator, oracles[0], wspace, profiles)
    randoms = baselines.random_directions(wspace, c.known_answer_random, c.seed)
    boundaries = {m: boundary_walks(normals, m, c) for m in methods.BOUNDED}
    everything = [w for walks in boundaries.values() for w in walks]
    tables = [_benchmark(p, read, _random_sources(generator, c), everything + references, profiles, randoms)]
    held_out = held_out_inversions(p)
    for method, walks in boundaries.items():
        if walks and method in held_out:
            p.log(f"  walks from {method}'s inversions of held-out photos")
            sources = Sources("inverted photos", method, held_out[method][0])
            tables.append(_benchmark(p, read, sources, walks + references, profiles, randoms))
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=list(COLUMNS))
    _write_csv(folder / "table.csv", table)
    write_json(folder / "oracle_validation.json", oracle_validation(p, generator, oracles, table))
    control = folder / "control_table.csv"
    write_json(folder / "summary.json", targets.summary(table, pd.read_csv(control) if control.is_file() else None))


def boundary_walks(normals: BoundarySet, method: str, config) -> list[Walk]:
    """The walks of `known_answer_kinds` ("fit/walk") along one method's boundaries; kinds the archive lacks are left out."""
    walks = []
    for kind in config.known_answer_kinds:
        fit, _, walk = kind.partition("/")
        if fit not in FITS or walk not in WALKS:
            raise ConfigError(f"known_answer_kinds are fit/walk pairs of {'|'.join(FITS)} and {'|'.join(WALKS)}; got {kind!r}")
        if fit not in normals.fits(method):
            continue
        truth = "partial" if fit == "partial" else "classes"
        for domain, direction in normals.directions(method, config.domains, fit=fit, walk=walk).items():
            walks.append(Walk(direction, domain, "boundary", method, fit, walk, truth))
    return walks


def reference_walks(
    p: Pipeline, generator: Generator, oracle: FactorOracle, wspace: WSpace, profiles: pd.DataFrame
) -> list[Walk]:
    """Per domain, the ideal direction and the InterFaceGAN control, from GAN samples read by `oracle`."""
    c = p.config
    w = sample_w(generator, c.known_answer_gan_samples, seed=c.seed + 1).double().numpy()
    factors = reader([oracle], generator)(broadcast(torch.from_numpy(w).float(), generator.num_ws))[0]
    coefficients = baselines.factor_regression(wspace.whiten(w), factors)
    city = _ground_truth(p.paths.train_dataset)
    city_factors = factor_targets(city)
    walks = []
    for domain in c.domains:
        ideal = baselines.ideal_direction(domain, coefficients, profile_of(profiles, "classes", domain), wspace)
        model = baselines.privilege_model(city_factors, -city[f"area_{domain}"].to_numpy())
        scores = baselines.privilege_score(model, factors)
        share = c.known_answer_labelled_share
        interfacegan = baselines.interfacegan_direction(domain, w, scores, wspace, share=share, seed=c.seed)
        walks += [Walk(ideal, domain, "ideal"), Walk(interfacegan, domain, "interfacegan")]
    return walks


def oracle_validation(p: Pipeline, generator: Generator, oracles: list[FactorOracle], table: pd.DataFrame) -> dict:
    """The oracles' R² on renders, on GAN reconstructions of held-out photos and on re-inverted GAN samples; the seed spread."""
    seeds = tuple(p.config.oracle_seeds)
    read = reader(oracles, generator)
    renders = {f"seed {s}": _r2_record(load_oracle(oracle_path(p.paths, s))[1]) for s in seeds}
    truth = _ground_truth(p.paths.train_dataset)
    reconstructions = {}
    for method, (ws, photo_ids) in held_out_inversions(p).items():
        reconstructions[method] = r2_by_oracle(read(ws), factor_targets(truth.loc[photo_ids]), seeds)
    return {
        "renders": {"what": "held-out test photos of the training city (training's report)", "r2": renders},
        "reconstructions": {
            "what": "GAN images of held-out photos' inversions, against the photos' true factors",
            "r2": reconstructions,
        },
        "reinverted_samples": {
            "what": "each oracle's reading of GAN samples, against its reading of them inverted and generated again",
            "r2": reinverted_r2(p, generator, oracles),
        },
        "seed_spread": targets.seed_spread(table),
    }


def reinverted_r2(p: Pipeline, generator: Generator, oracles: list[FactorOracle]) -> dict:
    """Per encoder, `r2_by_oracle` of re-inverted GAN samples against the samples themselves."""
    seeds = tuple(p.config.oracle_seeds)
    ws = sample_ws(generator, p.config.oracle_validation_samples, p.config.seed + 2)
    with torch.no_grad():
        images = generator.synthesis(ws)
    originals = _read_images(oracles, images)
    out = {}
    for kind in methods.ENCODERS:
        if not p.paths.encoder(kind).is_file():
            continue
        _, encoder, _ = load_encoder(p.paths.encoder(kind))
        _, again = encode_and_generate(encoder, kind, generator, images)
        out[kind] = r2_by_oracle(_read_images(oracles, again), originals, seeds)
    return out


# --- shared pieces --------------------------------------------------------------------------------


def reader(oracles: list[FactorOracle], generator: Generator) -> FactorReader:
    """ws → every oracle's reading of the images they generate (k, n, len(FACTORS)), the images rendered once."""

    def read(ws: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            parts = [_read_images(oracles, generator.synthesis(chunk)) for chunk in ws.split(BATCH)]
        return np.concatenate(parts, axis=1)

    return read


def _r2_record(r2: dict[str, float]) -> dict:
    """R² per factor as `r2_by_oracle` records it: their median beside them."""
    return {"median": float(np.nanmedian(list(r2.values()))), "factors": r2}


def _read_images(oracles: list[FactorOracle], images: torch.Tensor) -> np.ndarray:
    return np.stack([predict(oracle, images) for oracle in oracles])


def _benchmark(p: Pipeline, read, sources: Sources, walks: list[Walk], profiles: pd.DataFrame, randoms) -> pd.DataFrame:
    c = p.config
    truths = {(k, d): profile_of(profiles, k, d) for k, d in zip(profiles["kind"], profiles["domain"], strict=True)}
    return known_answer_table(
        read,
        sources,
        walks,
        truths,
        list(c.domains),
        randoms=randoms,
        random_sources=c.known_answer_random_sources,
        steps=c.known_answer_steps,
        oracle_seeds=tuple(c.oracle_seeds),
    )


def _models(p: Pipeline) -> tuple[Generator, list[FactorOracle]]:
    generator = load_generator(p.paths.generator).float().requires_grad_(False)
    return generator, [load_oracle(oracle_path(p.paths, s))[0] for s in p.config.oracle_seeds]


def _wspace(p: Pipeline, generator: Generator) -> WSpace:
    """The generator's W statistics as the boundaries step measures them (where the normals archive lacks them)."""
    return WSpace.from_samples(sample_w(generator, W_SAMPLES, seed=p.config.seed).double().numpy())


def _definition(config):
    """The class definition the walked boundaries were fitted with (the boundaries step's first)."""
    return CLASS_DEFINITIONS[config.boundary_classes[0]]


def _random_sources(generator: Generator, config) -> Sources:
    return Sources("random latents", NONE, sample_ws(generator, config.known_answer_sources, config.seed))


def held_out_inversions(p: Pipeline) -> dict[str, tuple[torch.Tensor, np.ndarray]]:
    """Per bounded method, its inversions ws (n, num_ws, D) of the first `known_answer_sources` held-out photos, and their ids."""
    held_out, out = p.paths.held_out_ids(), {}
    for method in methods.BOUNDED:
        if not (p.paths.inversion(method) / "inversion.json").is_file():
            continue
        inversions = load_inversions(p.paths.inversion(method))
        chosen = np.flatnonzero(np.isin(inversions.photo_id, held_out))[: p.config.known_answer_sources]
        if len(chosen):
            out[method] = (torch.from_numpy(inversions.ws[chosen]), inversions.photo_id[chosen])
    return out


def _ground_truth(dataset: Path) -> pd.DataFrame:
    """A synthetic city's ground_truth.csv (beside its dataset folder), indexed by photo id."""
    return pd.read_csv(dataset.parent / GROUND_TRUTH, dtype={"photo_id": str}).set_index("photo_id")


def _truth_photos(dataset: Path, photos: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The photos of `photos` that the city's ground truth covers, and their true factors."""
    return labelled_truth(photos, _ground_truth(dataset))


def _photos_with_ranks(dataset: Path) -> pd.DataFrame:
    """A dataset's photos with their areas' ranks (`{domain}_rank`), which the paper's class definition reads."""
    data = load_dataset(dataset)
    ranks = data.lsoas.filter(regex="_rank$")
    return data.photos.join(ranks, on="lsoa_code") if len(ranks.columns) else data.photos


def _write_csv(path: Path, table: pd.DataFrame) -> None:
    with atomic_open(path, "w", encoding="utf-8", newline="") as handle:
        table.to_csv(handle, index=False, float_format="%.4f")
