"""The boundaries step: Table 1, and per method and domain a boundary in the full latent space and one on W's principal axes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from thisineq.invert.batch import load_inversions
from thisineq.io import atomic_open, write_json
from thisineq.latent.boundaries import LatentBoundary, cosine_matrix, principal_axes
from thisineq.latent.labels import LabelledSet, labelled_subset
from thisineq.latent.normals import PRINCIPAL, BoundarySet, Direction
from thisineq.latent.table1 import boundary_table, evaluate
from thisineq.latent.walk import image_change
from thisineq.models.stylegan2 import Generator, load_generator, sample_w
from thisineq.pipeline.config import PipelineConfig

if TYPE_CHECKING:
    from thisineq.pipeline.runner import Pipeline

W_SAMPLES = 10000  # samples of the generator's W that measure σ along each normal
VISIBILITY_COLUMNS = ["method", "domain", "fit", "axes", "n", "f1", "f1_low", "f1_high", "roc_auc", "sigma_w", "change"]


@dataclass(frozen=True)
class DomainFit:
    """One domain's boundaries fitted on one method's latents."""

    domain: str
    full: Direction  # fitted in the full latent space; σ measured in the generator's W
    record: dict  # what boundaries.json says of it: labelled photos, C, σ in W and among the method's latents
    principal: Direction | None = None  # fitted on W's first `n_axes` principal axes; None where not asked for
    n_axes: int | None = None
    principal_scores: dict | None = None  # the principal fit's grouped cross-validated scores (`Evaluation.row()`)


def fit_domain(
    domain: str, subset: LabelledSet, latents: np.ndarray, w: np.ndarray, axes: np.ndarray | None, *, n_boot: int, seed: int
) -> DomainFit:
    """A domain's boundaries from a labelled subset of one method's latents.

    Args:
        subset: the class-balanced labelled latents (see `labelled_subset`).
        latents: (n, d) all the method's latents, for the spread along the normal among them.
        w: (m, d) samples of the generator's W, for σ along each normal.
        axes: (k, d) W's first principal axes to fit a second boundary on, or None.
    """
    boundary = LatentBoundary().fit(subset.X, subset.y, subset.groups)
    full = Direction.from_latents(domain, boundary.normal_, w)
    record = {
        "labelled": len(subset.y),
        "C": boundary.C_,
        "sigma_w": full.sigma,
        "sigma_latents": float(np.std(latents @ boundary.normal_)),
    }
    if axes is None:
        return DomainFit(domain, full, record)
    # A coarser boundary in the directions the generator renders most: its walks are visible.
    on_axes = {"axes": axes, "axis_counts": (len(axes),)}
    principal = LatentBoundary(**on_axes).fit(subset.X, subset.y, subset.groups)
    scores = evaluate(subset.X, subset.y, subset.groups, grouped=True, n_boot=n_boot, seed=seed, **on_axes).row()
    return DomainFit(domain, full, record, Direction.from_latents(domain, principal.normal_, w), len(axes), scores)


def fit_method(
    method: str,
    latents: np.ndarray,
    photos: pd.DataFrame,
    domains: Iterable[str],
    w: np.ndarray,
    axes: np.ndarray | None,
    *,
    n_boot: int,
    seed: int,
    log: Callable[[str], None] = print,
) -> list[DomainFit]:
    """Each domain's boundaries on one method's latents (n, d), `photos` being their rows in order (see `fit_domain`).

    Domains with too few labelled photos are logged and left out.
    """
    fits = []
    for domain in domains:
        subset = labelled_subset(latents, photos, domain, seed)
        if subset.too_few:
            log(f"  {method}/{domain}: no boundary, {subset.too_few}")
            continue
        fits.append(fit_domain(domain, subset, latents, w, axes, n_boot=n_boot, seed=seed))
    return fits


def visibility_rows(method: str, fit: DomainFit, full_scores, change: Callable[[Direction], float]) -> list[dict]:
    """`visibility.csv`'s rows of one domain: each boundary's grouped-CV separation beside how much a +3σ walk changes the image.

    full_scores: the full-space boundary's Table 1 scores (by LSOA); change: a direction's image change.
    """
    n = fit.record["labelled"]
    rows = [_visibility_row(method, fit.domain, None, n, full_scores, fit.full.sigma, change(fit.full))]
    if fit.principal is not None:
        principal = (fit.principal_scores, fit.principal.sigma, change(fit.principal))
        rows.append(_visibility_row(method, fit.domain, fit.n_axes, n, *principal))
    return rows


def _visibility_row(method: str, domain: str, axes: int | None, n: int, scores, sigma: float, change: float) -> dict:
    fit = "full space" if axes is None else f"{axes} principal axes"
    row = {"method": method, "domain": domain, "fit": fit, "axes": axes, "n": n}
    return row | {key: scores[key] for key in ("f1", "f1_low", "f1_high", "roc_auc")} | {"sigma_w": sigma, "change": change}


def boundary_set(fits: dict[str, list[DomainFit]]) -> BoundarySet:
    """The normals archive of every method's fits: each domain's full-space boundary, then its principal one."""
    normals = BoundarySet()
    for method, domain_fits in fits.items():
        for fit in domain_fits:
            normals.add(method, fit.full)
            if fit.principal is not None:
                normals.add(method, fit.principal, principal=True)
    return normals


def fit_boundaries(p: Pipeline) -> None:
    """The step: Table 1, then each method's boundaries with their cosines, visibility and record."""
    c, paths = p.config, p.paths
    photos = paths.labelled_photos()
    sources = paths.boundary_latents()
    sets = {m: load_inversions(path) for m, path in sources.items()}
    table = boundary_table(
        {m: (s.photo_id, s.w) for m, s in sets.items()}, photos, list(c.domains), n_boot=c.boundary_bootstrap, seed=c.seed
    )
    _write_table(paths.artifacts.boundaries, table)
    generator = load_generator(paths.generator).float().requires_grad_(False)
    w, axes = w_samples_and_axes(generator, c)
    settings = {"n_boot": c.boundary_bootstrap, "seed": c.seed, "log": p.log}
    fits = {m: fit_method(m, s.w, photos.loc[s.photo_id], c.domains, w, axes, **settings) for m, s in sets.items()}
    boundary_set(fits).save(paths.artifacts.normals)
    _write_cosines(paths.artifacts.boundaries, fits)
    _write_visibility(paths.artifacts.visibility, fits, table, partial(image_change, generator))
    write_json(paths.artifacts.boundaries_record, _record(sources, sets, fits, axes))


def w_samples_and_axes(generator: Generator, config: PipelineConfig) -> tuple[np.ndarray, np.ndarray | None]:
    """`W_SAMPLES` samples of the generator's W (float64), and its first `boundary_principal_axes` principal axes (or None).

    σ is measured in the generator's W, not among each method's latents: the projector's codes spread 4× wider
    than W and the encoders' 2× narrower, so "+1σ" would otherwise be a different move for every method.
    """
    w = sample_w(generator, W_SAMPLES, seed=config.seed).double().numpy()
    if not config.boundary_principal_axes:
        return w, None
    return w, principal_axes(w, min(config.boundary_principal_axes, w.shape[1]))


def _write_table(folder: Path, table: pd.DataFrame) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_open(folder / "table1.csv", "w", encoding="utf-8", newline="") as handle:
        table.to_csv(handle, index=False, float_format="%.4f")
    write_json(folder / "table1.json", table.to_dict(orient="records"))


def _write_cosines(folder: Path, fits: dict[str, list[DomainFit]]) -> None:
    """Per method with boundaries, the cosines between its domains' normals."""
    for method, domain_fits in fits.items():
        if domain_fits:
            with atomic_open(folder / f"cosines_{method}.csv", "w", encoding="utf-8", newline="") as handle:
                cosine_matrix({f.domain: f.full.normal for f in domain_fits}).to_csv(handle, float_format="%.4f")


def _write_visibility(
    path: Path, fits: dict[str, list[DomainFit]], table: pd.DataFrame, change: Callable[[Direction], float]
) -> None:
    """visibility.csv: every boundary's separation (Table 1's, by LSOA, for the full-space ones) beside its walks' image change."""
    by_lsoa = table[table["split"] == "by LSOA"].set_index(["method", "domain"])
    rows = [
        row
        for m, domain_fits in fits.items()
        for f in domain_fits
        for row in visibility_rows(m, f, by_lsoa.loc[(m, f.domain)], change)
    ]
    with atomic_open(path, "w", encoding="utf-8", newline="") as handle:
        frame = pd.DataFrame(rows, columns=VISIBILITY_COLUMNS).astype({"axes": "Int64", "n": int})
        frame.to_csv(handle, index=False, float_format="%.4f")


def _record(sources: dict[str, Path], sets: dict, fits: dict[str, list[DomainFit]], axes: np.ndarray | None) -> dict:
    """boundaries.json: what each method's boundaries were fitted on, and what σ and the visibility figures mean."""
    fitted_on = {
        m: {"latents": str(sources[m]), "photos": int(len(sets[m].photo_id)), "domains": {f.domain: f.record for f in fits[m]}}
        for m in sets
    }
    principal = None
    if axes is not None:
        principal = f"each boundary also fitted on the first {len(axes)} principal axes of W (normals `{PRINCIPAL}method/domain`)"
    return {
        "sigma": f"standard deviation of the generator's W ({W_SAMPLES} mapped N(0, I) samples) along each normal",
        "labels": "deciles 1-3 (deprived) vs 8-10 (privileged), balanced by class",
        "fitted_on": fitted_on,
        "principal": principal,
        "visibility": "change: mean absolute pixel change, as a share of the range, of 16 random images moved +3σ",
    }
