"""The pipeline's inversion steps: every method over the demo photos, the encoders over the training city, and the comparison."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from thisineq.data.dataset import load_dataset
from thisineq.invert import methods
from thisineq.invert.api import InversionModels
from thisineq.invert.batch import BatchInversionConfig, invert_dataset, load_inversions
from thisineq.invert.compare import ComparisonConfig, compare_methods, reference_scores
from thisineq.io import atomic_open, write_json
from thisineq.latent.normals import BoundarySet
from thisineq.models.importers import kept_discriminator
from thisineq.pipeline.config import HELD_OUT, PipelineConfig
from thisineq.training.gan import CHECKPOINT, load_discriminator

if TYPE_CHECKING:
    from thisineq.pipeline.runner import Pipeline
    from thisineq.pipeline.workspace import Workspace


def inversion_inputs(paths: Workspace, method: str, dataset: Path | None = None) -> list[Path]:
    """What a method's inversions of `dataset`'s photos (the demo's by default) depend on: the generator, the photos, its encoder."""
    encoder = methods.method(method).encoder
    photos = (dataset or paths.demo_dataset) / "dataset.json"
    return [paths.generator, photos] + ([paths.encoder(encoder)] if encoder else [])


def invert_demo(p: Pipeline, method: str) -> None:
    """Invert the demo photos with `method` (the optimising methods: `projector_splits`, up to `projector_photos`)."""
    invert_photos(p, method, p.paths.demo_dataset, p.paths.inversion(method))


def invert_training_city(p: Pipeline, method: str) -> None:
    """Invert the training city's first photos with `method`, for its boundaries (`boundary_photos` or `projector_boundary_photos`)."""
    limit = p.paths.city_photos(method)
    invert_photos(p, method, p.paths.train_dataset, p.paths.city_inversion(method), subset={"limit": limit, "split": None})


def invert_photos(p: Pipeline, method: str, dataset: Path, out: Path, subset: dict | None = None) -> None:
    """Invert a dataset's photos with `method` into the inversion folder `out`.

    `subset`: BatchInversionConfig's `limit` and `split`; by default the projector's documented subset
    (`projector_photos` of `projector_splits`) for an optimising method, and every photo for an encoder.
    """
    c, spec = p.config, methods.method(method)
    encoders = {spec.encoder: p.paths.encoder(spec.encoder)} if spec.encoder else {}
    models = InversionModels.load(p.paths.generator, **encoders, lpips_net=c.projector_lpips if spec.optimises else None)
    if subset is None:
        subset = {"limit": c.projector_photos, "split": c.projector_splits} if spec.optimises else {}
    config = BatchInversionConfig(
        method=method, projector_steps=c.projector_steps, hybrid_steps=c.hybrid_steps, w_prior=c.projector_w_prior, **subset
    )
    sources = {"generator": p.paths.generator, **encoders}
    invert_dataset(dataset, models, out, config, sources=sources, progress=p.progress)


def comparison_config(config: PipelineConfig) -> ComparisonConfig:
    """The comparison's settings, from the pipeline's."""
    return ComparisonConfig(
        recovery_samples=config.comparison_samples,
        edit_photos=config.comparison_samples,
        projector_steps=config.projector_steps,
        hybrid_steps=config.hybrid_steps,
        w_prior=config.projector_w_prior,
        seed=config.seed,
    )


def compare_inversions(p: Pipeline) -> None:
    """Compare every method on the held-out demo photos it inverted; write the table and what it was measured on."""
    c, paths, config = p.config, p.paths, comparison_config(p.config)
    held_out = paths.held_out_ids()
    errors, photos, latents, directions = _held_out_inversions(p, held_out)
    encoders = {kind: paths.encoder(kind) for kind in methods.ENCODERS}
    models = InversionModels.load(paths.generator, **encoders, lpips_net=c.projector_lpips)
    checkpoint: Path | None = paths.gan_run / CHECKPOINT
    discriminator = kept_discriminator(paths.artifacts.discriminator)  # kept beside the generator: the one the bands read
    if discriminator is not None:
        checkpoint = paths.artifacts.discriminator
    elif checkpoint.is_file():
        discriminator = load_discriminator(checkpoint)
    else:
        p.log(f"  no discriminator kept in the set nor a GAN training checkpoint at {checkpoint}: no realism in the comparison")
        checkpoint = None
    table = compare_methods(models, errors, photos, latents, directions, config, discriminator=discriminator, log=p.log)
    reference = reference_scores(models, next(iter(photos.values())), discriminator, seed=c.seed)
    with atomic_open(paths.artifacts.comparison, "w", encoding="utf-8", newline="") as handle:
        table.to_csv(handle, index=False, float_format="%.5g")
    write_json(paths.artifacts.comparison.with_suffix(".json"), _record(table, reference, config, len(held_out), checkpoint))


def _record(table: pd.DataFrame, reference: dict, config: ComparisonConfig, n_held_out: int, discriminator: Path | None) -> dict:
    """comparison.json: the table, the scores of unedited samples and photos for reading it, and what it was measured on."""
    return {
        "table": table.astype(object).where(table.notna(), None).to_dict(orient="records"),
        "reference": reference,
        "settings": asdict(config),
        "held_out": {
            "splits": list(HELD_OUT),
            "photos": int(n_held_out),
            "rule": "demo val/test photos not in the training city's train split",
        },
        "discriminator": str(discriminator) if discriminator is not None else None,
    }


def _held_out_inversions(p: Pipeline, held_out: pd.Index) -> tuple[dict, dict, dict, dict]:
    """Per method with held-out photos inverted: their errors, uint8 photos, latents and the directions it walks."""
    data = load_dataset(p.paths.demo_dataset)
    images = data.images()
    normals = BoundarySet.load(p.paths.artifacts.normals)
    errors, photos, latents, directions = {}, {}, {}, {}
    for method in methods.NAMES:
        inversions = load_inversions(p.paths.inversion(method))
        keep = np.isin(inversions.photo_id, held_out)
        ids = inversions.photo_id[keep]
        if len(ids) == 0:
            p.log(f"  {method}: no held-out photo was inverted; left out of the comparison")
            continue
        errors[method] = inversions.errors.loc[ids]
        photos[method] = np.asarray(images[data.photos.loc[ids, "cache_index"].to_numpy()])
        latents[method] = inversions.ws[keep]
        directions[method] = list(normals.directions(method, p.config.domains).values())
    return errors, photos, latents, directions
