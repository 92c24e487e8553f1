"""The boundaries step: Table 1, and per method and domain a boundary of every fit kind, with its stability and visibility.

Fit kinds (see `latent.normals`): "whitened" (the default a page walks), "standardised" (the
classic recipe, for comparison), "principal" (on W's first principal axes, where configured) and
"partial" (the partial effect of the domain's decile, every other domain held fixed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from thisineq.data.synth.city import COMPONENT_KEYS
from thisineq.errors import ConfigError
from thisineq.invert.batch import load_inversions
from thisineq.io import atomic_open, write_json
from thisineq.latent.boundaries import LatentBoundary, cosine_matrix, normal_stability, partial_effects, principal_axes
from thisineq.latent.labels import CLASS_DEFINITIONS, PAPER, ClassDefinition, LabelledSet, labelled_subset
from thisineq.latent.normals import FIT_LABELS, BoundarySet, Direction
from thisineq.latent.table1 import boundary_table, evaluate
from thisineq.latent.walk import image_change
from thisineq.latent.wspace import WSpace
from thisineq.models.stylegan2 import Generator, load_generator, sample_w
from thisineq.pipeline.config import PipelineConfig

if TYPE_CHECKING:
    from thisineq.pipeline.runner import Pipeline

W_SAMPLES = 10000  # samples of the generator's W: its mean and covariance, and σ along each direction
VISIBILITY_COLUMNS = [
    "method",
    "domain",
    "fit",
    "axes",
    "n",
    "f1",
    "f1_low",
    "f1_high",
    "roc_auc",
    "C",
    "sigma_w",
    "change",
    "split_half_cosine",
    "bootstrap_cosine",
]


@dataclass(frozen=True)
class FitSettings:
    """How one domain's boundaries are fitted and checked."""

    wspace: WSpace
    axes: np.ndarray | None = None  # W's first principal axes for a "principal" fit; None: no such fit
    n_boot: int = 1000  # bootstrap draws of the cross-validated scores' intervals
    stability_halves: int = 5  # LSOA-disjoint half splits for the split-half cosine (0: not measured)
    stability_boots: int = 10  # LSOA-cluster bootstrap refits for the bootstrap cosine
    seed: int = 0
    per_layer: bool = False  # also fit on the per-layer codes (W+), whitened layer by layer

    def boundaries(self) -> dict[str, dict]:
        """LatentBoundary parameters per fit kind."""
        kinds = {"whitened": {"whitening": self.wspace}, "standardised": {}}
        if self.axes is not None:
            kinds["principal"] = {"axes": self.axes, "axis_counts": (len(self.axes),)}
        return kinds


@dataclass(frozen=True)
class DomainFit:
    """One domain's boundaries fitted on one method's latents, by fit kind."""

    domain: str
    directions: dict[str, Direction]  # fit kind → the direction walked (σ: W's spread along it)
    record: dict  # what boundaries.json says of it: labelled photos, and per fit C, σ, stability
    scores: dict[str, dict] = field(default_factory=dict)  # fit kind → grouped cross-validated scores (`Evaluation.row()`)


def fit_domain(
    domain: str,
    subset: LabelledSet,
    latents: np.ndarray,
    settings: FitSettings,
    scored: dict[str, dict] | None = None,
    layered: np.ndarray | None = None,
) -> DomainFit:
    """A domain's boundaries of every fit kind from a labelled subset of one method's latents (n, d).

    scored: grouped cross-validated scores already measured (Table 1's, by fit kind, with the C its search
        chose on the same photos), not measured or searched again.
    layered: (n, num_ws·d) the same photos' per-layer codes, for the "layers" fit where `settings.per_layer`.
    """
    directions, scores, fits = {}, dict(scored or {}), {}
    kinds = settings.boundaries()
    if settings.per_layer and layered is not None:
        kinds["layers"] = {"whitening": settings.wspace}
    for kind, params in kinds.items():
        data, codes = subset, latents
        if kind == "layers":
            data, codes = LabelledSet(layered[subset.rows], subset.y, subset.groups, subset.too_few, subset.rows), layered
        if "C" in scores.get(kind, {}):  # Table 1 already searched C on these very photos: fit with its pick
            params = {**params, "Cs": (scores[kind]["C"],)}
        boundary = LatentBoundary(random_state=settings.seed, **params).fit(data.X, data.y, data.groups)
        walk = boundary.walk_direction_
        directions[kind] = Direction(domain, walk, settings.wspace.spread(walk))
        if kind not in scores:
            evaluation = evaluate(data.X, data.y, data.groups, n_boot=settings.n_boot, seed=settings.seed, **params)
            scores[kind] = evaluation.row()
        fits[kind] = {"C": boundary.C_, "sigma_w": directions[kind].sigma, "sigma_latents": float(np.std(codes @ walk))}
        if kind == "principal":
            fits[kind]["axes"] = len(settings.axes)
        elif settings.stability_halves:
            fits[kind]["stability"] = normal_stability(
                data.X,
                data.y,
                data.groups,
                n_halves=settings.stability_halves,
                n_boot=settings.stability_boots,
                seed=settings.seed,
                **{**params, "Cs": (boundary.C_,)},
            )
    return DomainFit(domain, directions, {"labelled": len(subset.y), "fits": fits}, scores)


def fit_partial(latents: np.ndarray, photos: pd.DataFrame, domains: Iterable[str], wspace: WSpace) -> dict[str, Direction]:
    """Each domain's partial-effect direction from all of a method's latents and every domain's deciles (whitened W)."""
    columns = [f"{k}_decile" for k in COMPONENT_KEYS if f"{k}_decile" in photos]
    known = photos[columns].notna().all(axis=1).to_numpy()
    deciles = photos.loc[known, columns].rename(columns=lambda c: c.removesuffix("_decile"))
    deciles = deciles.loc[:, deciles.nunique() > 1]  # a domain the same everywhere has no effect to hold fixed
    if known.sum() <= len(deciles.columns) + 1:
        return {}
    effects = partial_effects(latents[known], deciles, wspace)
    return {d: Direction(d, effects[d], wspace.spread(effects[d])) for d in domains if d in effects}


def fit_method(
    method: str,
    latents: np.ndarray,
    photos: pd.DataFrame,
    domains: Iterable[str],
    settings: FitSettings,
    *,
    definition: ClassDefinition = PAPER,
    table: pd.DataFrame | None = None,
    layered: np.ndarray | None = None,
    log: Callable[[str], None] = print,
) -> list[DomainFit]:
    """Each domain's boundaries on one method's latents (n, d), `photos` being their rows in order (see `fit_domain`).

    Domains with too few labelled photos are logged and left out; each fitted domain also gets its
    partial-effect direction. `table`: Table 1's rows (whitened fits) whose by-LSOA scores the whitened
    boundaries reuse.
    """
    fits = []
    domains = list(domains)
    partials = fit_partial(latents, photos, domains, settings.wspace)
    for domain in domains:
        subset = labelled_subset(latents, photos, domain, settings.seed, definition)
        if subset.too_few:
            log(f"  {method}/{domain}: no boundary, {subset.too_few}")
            continue
        log(f"  {method}/{domain}: {len(subset.y)} labelled photos")
        try:
            fit = fit_domain(domain, subset, latents, settings, _table_scores(table, method, domain, definition), layered)
        except ConfigError as error:  # too few photos or areas per class for its cross-validation
            log(f"  {method}/{domain}: no boundary, {error}")
            continue
        if domain in partials:
            fit.directions["partial"] = partials[domain]
            fit.record["fits"]["partial"] = {"sigma_w": partials[domain].sigma, "photos": len(latents)}
        fits.append(fit)
    return fits


def _table_scores(table: pd.DataFrame | None, method: str, domain: str, definition: ClassDefinition) -> dict[str, dict]:
    """The whitened boundary's grouped scores from Table 1, where it has them."""
    if table is None:
        return {}
    mine = (table["method"] == method) & (table["domain"] == domain) & (table["classes"] == definition.name)
    rows = table[mine & (table["split"] == "by LSOA")].dropna(subset=["f1"])
    return {"whitened": rows.iloc[0].to_dict()} if len(rows) else {}


def visibility_rows(method: str, fit: DomainFit, change: Callable[[Direction], float]) -> list[dict]:
    """`visibility.csv`'s rows of one domain: per fit kind, its grouped-CV separation, stability and +3σ image change."""
    rows = []
    for kind, direction in fit.directions.items():
        scores = fit.scores.get(kind, {})
        record = fit.record["fits"].get(kind, {})
        stability = record.get("stability", {})
        rows.append(
            {
                "method": method,
                "domain": fit.domain,
                "fit": FIT_LABELS[kind],
                "axes": record.get("axes"),
                "n": fit.record["labelled"],
                **{key: scores.get(key, np.nan) for key in ("f1", "f1_low", "f1_high", "roc_auc")},
                "C": record.get("C", np.nan),
                "sigma_w": direction.sigma,
                "change": change(direction),
                "split_half_cosine": stability.get("split_half", np.nan),
                "bootstrap_cosine": stability.get("bootstrap", np.nan),
            }
        )
    return rows


def boundary_set(fits: dict[str, list[DomainFit]], wspace: WSpace) -> BoundarySet:
    """The normals archive of every method's fits, with the W statistics the whitened ones used."""
    normals = BoundarySet(wspace=wspace)
    for method, domain_fits in fits.items():
        for fit in domain_fits:
            for kind, direction in fit.directions.items():
                normals.add(method, direction, fit=kind)
    return normals


def fit_boundaries(p: Pipeline) -> None:
    """The step: Table 1 (both class definitions), then each method's boundaries with their cosines, visibility and record."""
    c, paths = p.config, p.paths
    photos = paths.labelled_photos()
    sources = paths.boundary_latents()
    sets = {m: load_inversions(path) for m, path in sources.items()}
    generator = load_generator(paths.generator).float().requires_grad_(False)
    wspace, axes = generator_wspace(generator, c)
    definitions = [CLASS_DEFINITIONS[k] for k in c.boundary_classes]
    p.log("  Table 1")
    table = boundary_table(
        {m: (s.photo_id, s.w) for m, s in sets.items()},
        photos,
        list(c.domains),
        definitions=definitions,
        n_boot=c.boundary_bootstrap,
        seed=c.seed,
        whitening=wspace,
    )
    _write_table(paths.artifacts.boundaries, table)
    settings = FitSettings(
        wspace, axes, c.boundary_bootstrap, c.boundary_stability_halves, seed=c.seed, per_layer=c.boundary_per_layer
    )
    fits = {
        m: fit_method(
            m,
            s.w,
            photos.loc[s.photo_id],
            c.domains,
            settings,
            definition=definitions[0],
            table=table,
            layered=s.ws.reshape(len(s.ws), -1) if c.boundary_per_layer else None,
            log=p.log,
        )
        for m, s in sets.items()
    }
    boundary_set(fits, wspace).save(paths.artifacts.normals)
    _write_cosines(paths.artifacts.boundaries, fits)
    _write_visibility(paths.artifacts.visibility, fits, partial(image_change, generator))
    write_json(paths.artifacts.boundaries_record, _record(sources, sets, fits, axes, definitions))


def generator_wspace(generator: Generator, config: PipelineConfig) -> tuple[WSpace, np.ndarray | None]:
    """The generator's W statistics from `W_SAMPLES` mapped samples, and its first `boundary_principal_axes` principal axes (or None).

    σ is measured in the generator's W, not among each method's latents: the projector's codes spread 4× wider
    than W and the encoders' 2× narrower, so "+1σ" would otherwise be a different move for every method.
    """
    w = sample_w(generator, W_SAMPLES, seed=config.seed).double().numpy()
    wspace = WSpace.from_samples(w)
    if not config.boundary_principal_axes:
        return wspace, None
    return wspace, principal_axes(w, min(config.boundary_principal_axes, w.shape[1]))


def _write_table(folder: Path, table: pd.DataFrame) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_open(folder / "table1.csv", "w", encoding="utf-8", newline="") as handle:
        table.to_csv(handle, index=False, float_format="%.4g")  # %.4g: C runs down to 1e-5
    write_json(folder / "table1.json", table.to_dict(orient="records"))


def _write_cosines(folder: Path, fits: dict[str, list[DomainFit]]) -> None:
    """Per method with boundaries, the cosines between its domains' walked directions (whitened fits)."""
    for method, domain_fits in fits.items():
        if domain_fits:
            with atomic_open(folder / f"cosines_{method}.csv", "w", encoding="utf-8", newline="") as handle:
                cosine_matrix({f.domain: f.directions["whitened"].normal for f in domain_fits}).to_csv(
                    handle, float_format="%.4f"
                )


def _write_visibility(path: Path, fits: dict[str, list[DomainFit]], change: Callable[[Direction], float]) -> None:
    """visibility.csv: every boundary's separation, stability and the image change of its walks."""
    rows = [row for m, domain_fits in fits.items() for f in domain_fits for row in visibility_rows(m, f, change)]
    with atomic_open(path, "w", encoding="utf-8", newline="") as handle:
        frame = pd.DataFrame(rows, columns=VISIBILITY_COLUMNS).astype({"axes": "Int64", "n": int})
        frame.to_csv(handle, index=False, float_format="%.4g")


def _record(
    sources: dict[str, Path],
    sets: dict,
    fits: dict[str, list[DomainFit]],
    axes: np.ndarray | None,
    definitions: list[ClassDefinition],
) -> dict:
    """boundaries.json: what each method's boundaries were fitted on, and what σ, the fits and the figures mean."""
    fitted_on = {
        m: {"latents": str(sources[m]), "photos": int(len(sets[m].photo_id)), "domains": {f.domain: f.record for f in fits[m]}}
        for m in sets
    }
    return {
        "sigma": f"standard deviation of the generator's W ({W_SAMPLES} mapped N(0, I) samples) along the direction walked",
        "labels": definitions[0].describe(),
        "table1_classes": [d.name for d in definitions],
        "fits": {
            "whitened": "linear SVM in W whitened by the generator's mean and covariance (stored in normals.npz as w/mean, "
            "w/cov); the walk goes along Σ^(1/2)·a, a the whitened normal. The default.",
            "standardised": "linear SVM on the method's latents standardised per dimension; the walk goes along its normal",
            "principal": None if axes is None else f"linear SVM on W's first {len(axes)} principal axes",
            "partial": "least squares of the whitened latents on all seven domains' deciles: the domain's coefficient, "
            "the others held fixed (all of the method's latents, no class labels)",
        },
        "stability": "split_half: mean cosine between normals fitted on two LSOA-disjoint halves of the labelled photos; "
        "bootstrap: mean cosine between the normal and refits on LSOA-cluster bootstrap resamples; both in the space fitted",
        "fitted_on": fitted_on,
        "visibility": "change: mean absolute pixel change, as a share of the range, of 16 random images moved +3σ",
    }
