"""Every step of the pipeline, declared once: its name, what it reads and writes, how it runs, and what its fingerprint covers.

A new step is one more entry in `STEPS`: the runner, `thisineq pipeline --only`, the manifest's
rebuild commands and the tests all read this list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from thisineq.artifacts import ArtifactSet
from thisineq.data.dataset import PHOTOS, VOTES
from thisineq.data.synth.build import GROUND_TRUTH
from thisineq.data.synth.crowd import QUESTIONS, SEEN, TIE_MARGIN, VOTER_NOISE
from thisineq.invert import methods
from thisineq.latent.boundaries import DEFAULT_CS
from thisineq.latent.ood import OODConfig
from thisineq.perception.ranker import ENSEMBLE, PIXELS
from thisineq.pipeline import boundaries, gan_quality, headline, image_side, invert, known_answer, support, train, walks
from thisineq.pipeline.config import PipelineConfig
from thisineq.pipeline.workspace import Workspace

if TYPE_CHECKING:
    from thisineq.pipeline.runner import Pipeline


@dataclass(frozen=True)
class Step:
    """One step: it is current while its outputs exist and its fingerprint (settings and inputs' hashes) is unchanged."""

    name: str  # what `thisineq pipeline --only` calls it
    run: Callable[[Pipeline], None]
    inputs: Callable[[Workspace], list[Path]]  # files whose content the step depends on, in fingerprint order
    outputs: Callable[[Workspace], list[Path]]  # files that must exist for the step to count as done
    settings: Callable[[PipelineConfig], dict]  # the settings its fingerprint covers
    artifact: str | None = None  # the folder of the artifact set it builds (for its manifest entries' rebuild command)
    wanted: Callable[[PipelineConfig], bool] = lambda config: True  # whether a run with this config has the step
    # Steps whose files it reads beyond its inputs (models it only times or draws with, a cache it shares), for running
    # in lanes; "*": every other step's.
    after: tuple[str, ...] = ()


def _synthetic(config: PipelineConfig) -> bool:
    """Steps of the synthetic city only: building it and its GAN, and the known answer it makes possible."""
    return not config.bring_your_own


def _encoder_settings(config: PipelineConfig, kind: str) -> dict:
    return {
        "steps": train.encoder_steps(config, kind),
        "widths": config.encoder_widths,
        "head_width": config.encoder_head_width,
        "lr": config.encoder_lr,
        "iterations": config.restyle_train_iterations if kind == "restyle" else None,
        "unlock_every": config.e4e_unlock_every if kind == "e4e" else None,
    } | ({"backbone": config.encoder_backbone} if config.encoder_backbone != "residual" else {})  # joined late: counts when set


def _inversion_settings(config: PipelineConfig, city: bool = False, optimises: bool = True) -> dict:
    """The optimising methods' settings; on the training city, the projector's alone (no demo subset, no hybrid).

    An encoder's inversions count the optimisers' steps and subset as they always have (its fingerprint stays), but
    not the prior, which only an optimiser reads."""
    keys = ("projector_steps", "projector_lpips") + (() if city else ("hybrid_steps", "projector_photos", "projector_splits"))
    return {key: getattr(config, key) for key in keys} | (_prior(config) if optimises else {})


def _prior(config: PipelineConfig) -> dict:
    """The projector's prior where there is one: without it (StyleGAN2-ADA's projector) the settings read as before it existed."""
    return {"projector_w_prior": config.projector_w_prior} if config.projector_w_prior else {}


def _kept_discriminator(paths: Workspace) -> list[Path]:
    """The set's discriminator as an input where one is kept: a set without one keeps the fingerprints it had."""
    return [paths.artifacts.discriminator] if paths.artifacts.discriminator.is_file() else []


def _comparison_settings(config: PipelineConfig) -> dict:
    settings = asdict(invert.comparison_config(config))
    if not settings["w_prior"]:
        del settings["w_prior"]  # StyleGAN2-ADA's projector: the settings read as before the prior existed
    return settings


def _encoder_step(kind: str) -> Step:
    return Step(
        f"encoder_{kind}",
        partial(train.train_demo_encoder, kind=kind),
        inputs=lambda paths: [paths.generator],
        outputs=lambda paths: [paths.encoder(kind)],
        settings=partial(_encoder_settings, kind=kind),
        artifact="encoders",
    )


def _inversion_step(method: str) -> Step:
    return Step(
        f"invert_{method}",
        partial(invert.invert_demo, method=method),
        inputs=partial(invert.inversion_inputs, method=method),
        outputs=lambda paths: [paths.inversion(method) / "inversion.json"],
        settings=partial(_inversion_settings, optimises=methods.method(method).optimises),
        artifact="inversions",
    )


def _city_inversion_step(method: str) -> Step:
    def settings(config: PipelineConfig) -> dict:
        photos = Workspace(config).city_photos(method)
        return {"photos": photos} | (_inversion_settings(config, city=True) if methods.method(method).optimises else {})

    return Step(
        f"invert_city_{method}",
        partial(invert.invert_training_city, method=method),
        inputs=lambda paths: invert.inversion_inputs(paths, method, paths.train_dataset),
        outputs=lambda paths: [paths.city_inversion(method) / "inversion.json"],
        settings=settings,
        artifact="boundaries",  # the boundaries are what these inversions are for; they are not committed themselves
        wanted=lambda config: Workspace(config).city_photos(method) is not None,
    )


def _oracles(paths: Workspace) -> list[Path]:
    return [known_answer.oracle_path(paths, seed) for seed in paths.config.oracle_seeds]


def _known_answer_settings(config: PipelineConfig) -> dict:
    keys = [f.name for f in fields(config) if f.name.startswith(("known_answer_", "oracle_"))]
    return {key: getattr(config, key) for key in keys} | {"domains": config.domains, "classes": config.boundary_classes[0]}


def _latents(paths: Workspace, names) -> list[Path]:
    return [paths.inversion(m) / "latents.npz" for m in names]


STEPS: tuple[Step, ...] = (
    Step(
        "city",
        train.build_training_city,
        inputs=lambda paths: [],
        outputs=lambda paths: [paths.train_dataset / "dataset.json"],
        settings=lambda config: train.city_settings(config, config.train_photos),
        wanted=_synthetic,
    ),
    Step(
        "demo_city",
        train.build_demo_city,
        inputs=lambda paths: [],
        outputs=lambda paths: [paths.demo_dataset / "dataset.json"],
        settings=lambda config: train.city_settings(config, config.demo_photos),
        artifact="city",
        wanted=_synthetic,
    ),
    Step(
        "gan",
        train.train_demo_gan,
        inputs=lambda paths: [
            Path(paths.config.gan_from) / "generator.pt" if paths.config.gan_from else paths.train_dataset / "dataset.json"
        ],
        outputs=lambda paths: [paths.generator],
        settings=train.gan_settings,
        artifact="gan",
        wanted=_synthetic,
    ),
    *(_encoder_step(kind) for kind in methods.ENCODERS),
    *(_inversion_step(method) for method in methods.NAMES),
    *(_city_inversion_step(method) for method in methods.BOUNDED),
    Step(
        "boundaries",
        boundaries.fit_boundaries,
        inputs=lambda paths: (
            [paths.generator] + [folder / "latents.npz" for folder in paths.boundary_latents().values()] + paths.photo_tables()
        ),  # the labels: a photo that moves to another LSOA changes its deciles
        outputs=lambda paths: [paths.artifacts.boundaries / "table1.csv", paths.artifacts.normals, paths.artifacts.visibility],
        settings=lambda config: {
            "domains": config.domains,
            "bootstrap": config.boundary_bootstrap,
            "w_samples": boundaries.W_SAMPLES,
            "principal_axes": config.boundary_principal_axes,
            "classes": config.boundary_classes,
            "C": {"grid": DEFAULT_CS, "rule": "smallest C within one standard error of the best inner-CV F1"},
            "stability": config.boundary_stability_halves,
            **({"per_layer": True} if config.boundary_per_layer else {}),
            "fits": "whitened, standardised, principal, partial",
        },
        artifact="boundaries",
    ),
    Step(
        "support",
        support.support_models,
        inputs=lambda paths: (
            [paths.generator, paths.artifacts.normals]
            + [folder / "latents.npz" for folder in paths.boundary_latents().values()]
            + paths.photo_tables()
            + _kept_discriminator(paths)  # its realism, where one is kept
        ),
        outputs=lambda paths: [paths.artifacts.boundaries / "ood.json"],
        settings=lambda config: {
            "ood": asdict(OODConfig(seed=config.seed)),
            "edits": {"far": 6.0, "opposed": 3.0, "opposed_moves": "realised"},
        },
        artifact="boundaries",
    ),
    Step(
        "comparison",
        invert.compare_inversions,
        inputs=lambda paths: (
            _latents(paths, methods.NAMES)
            + [paths.artifacts.normals, paths.demo_dataset / PHOTOS]  # its splits
            + _kept_discriminator(paths)  # the realism it reads, where kept
        ),
        outputs=lambda paths: [paths.artifacts.comparison],
        settings=_comparison_settings,
        artifact="inversions/comparison",
        after=("gan", *(f"encoder_{kind}" for kind in methods.ENCODERS)),  # it times the models, and reads D's realism
    ),
    Step(
        "figures",
        walks.draw_figures,
        inputs=lambda paths: (
            [paths.artifacts.normals]
            + [folder / "latents.npz" for folder in paths.boundary_latents().values()]
            + paths.photo_tables()
        ),
        outputs=lambda paths: [paths.artifacts.figures / "figures.json"],
        settings=lambda config: {"domains": config.domains, "seed": config.seed},
        artifact="figures",
    ),
    Step(
        "walks",
        walks.draw_walks,
        inputs=lambda paths: (
            [paths.generator, paths.artifacts.normals, paths.demo_dataset / PHOTOS]  # its held-out photos
            + _latents(paths, methods.BOUNDED)
        ),
        outputs=lambda paths: [paths.artifacts.walks / "walks.json"],
        settings=lambda config: {
            "photos": config.walk_photos,
            "steps": config.walk_steps,
            "fig4": "whitened, orthogonal; random seeds; the projector re-projected with its noise",
            "projector": _inversion_settings(config),
        },
        artifact="walks",
        after=tuple(f"encoder_{kind}" for kind in methods.ENCODERS),  # the random walks' sources are encoded
    ),
    Step(
        "oracle",
        known_answer.train_oracles,
        inputs=lambda paths: [paths.train_dataset / "dataset.json", paths.train_dataset.parent / GROUND_TRUTH],
        outputs=lambda paths: _oracles(paths),
        settings=lambda config: {"epochs": config.oracle_epochs, "seeds": config.oracle_seeds},
        artifact="known_answer",  # the oracles are what the benchmark reads with; they are not committed themselves,
        wanted=_synthetic,
    ),
    Step(
        "gan_quality",
        gan_quality.measure_demo_gan,
        inputs=lambda paths: [paths.generator, paths.train_dataset / "dataset.json", *_oracles(paths)[:1]],
        outputs=lambda paths: [paths.artifacts.gan_quality],
        settings=lambda config: {
            "samples": config.gan_quality_samples,
            "seed": gan_quality.QUALITY_SEED,
            "targets": {name: (t.sense, t.bound) for name, t in headline.GAN_TARGETS.items()},
        },
        artifact="gan/quality",
        wanted=_synthetic,
    ),
    Step(
        "control_city",
        known_answer.build_control_city,
        inputs=lambda paths: [],
        outputs=lambda paths: [known_answer.control_city(paths) / "dataset" / "dataset.json"],
        settings=lambda config: train.city_settings(config, config.control_photos) | {"independent_domains": True},
        artifact="known_answer",
        wanted=_synthetic,
    ),
    Step(
        "invert_control",
        known_answer.invert_control_city,
        inputs=lambda paths: (
            [paths.generator, known_answer.control_city(paths) / "dataset" / "dataset.json"]
            + [paths.encoder(m) for m in paths.config.control_methods]
        ),
        outputs=lambda paths: [known_answer.control_inversion(paths, m) / "inversion.json" for m in paths.config.control_methods],
        settings=lambda config: {"methods": config.control_methods},
        artifact="known_answer",
        wanted=_synthetic,
    ),
    Step(
        "known_answer_control",
        known_answer.benchmark_control,
        inputs=lambda paths: (
            [paths.generator, *_oracles(paths), known_answer.control_city(paths) / "dataset" / PHOTOS]
            + [known_answer.control_inversion(paths, m) / "latents.npz" for m in paths.config.control_methods]
        ),
        outputs=lambda paths: [paths.artifacts.known_answer / "control_table.csv"],
        settings=_known_answer_settings,
        artifact="known_answer",
        wanted=_synthetic,
    ),
    Step(
        "known_answer",
        known_answer.benchmark_walks,
        inputs=lambda paths: (
            [paths.generator, paths.artifacts.normals, *_oracles(paths), paths.train_dataset.parent / GROUND_TRUTH]
            + paths.photo_tables()  # the truth's labels, and the held-out photos
            + _latents(paths, methods.BOUNDED)
            + [paths.encoder(kind) for kind in methods.ENCODERS]  # the oracle's validation re-inverts GAN samples
            + [paths.artifacts.known_answer / "control_table.csv"]  # its target joins summary.json
        ),
        outputs=lambda paths: [
            paths.artifacts.known_answer / name
            for name in ("table.csv", "truth_profiles.csv", "oracle_validation.json", "summary.json")
        ],
        settings=_known_answer_settings,
        artifact="known_answer",
        wanted=_synthetic,
    ),
    Step(
        "predict",
        image_side.predict_deciles,
        inputs=lambda paths: [paths.train_dataset / "dataset.json", paths.train_dataset / PHOTOS],
        outputs=lambda paths: [paths.artifacts.predict / name for name in image_side.PREDICT_FILES],
        settings=lambda config: {
            "backbone": config.image_backbone,
            "hidden": config.predict_hidden,
            "steps": config.image_steps,
            "domains": config.domains,
            "table1": {
                "classes": config.boundary_classes,
                "photos": config.boundary_photos,
                "bootstrap": config.boundary_bootstrap,
            },
            "ceiling": "linear ordinal model on the true factors (synthetic cities)",
            "seed": config.seed,
        },
        artifact="predict",
    ),
    Step(
        "crowd",
        image_side.simulate_crowd,
        inputs=lambda paths: [paths.train_dataset / PHOTOS, paths.train_dataset.parent / GROUND_TRUTH],
        outputs=lambda paths: [image_side.crowd_votes_path(paths)],
        settings=lambda config: {
            "votes": config.crowd_votes,
            "seed": config.seed,
            "crowd": {"questions": QUESTIONS, "seen": SEEN, "noise": VOTER_NOISE, "tie_margin": TIE_MARGIN},
        },
        artifact="perception",  # the votes are what the rankers learn from; they are not committed themselves
        wanted=_synthetic,
    ),
    Step(
        "perception",
        image_side.rank_perception,
        inputs=lambda paths: (
            [paths.train_dataset / "dataset.json", paths.train_dataset / PHOTOS, image_side.votes_source(paths)]
            + ([] if paths.config.bring_your_own else [paths.train_dataset.parent / GROUND_TRUTH])
        ),
        outputs=lambda paths: [paths.artifacts.perception / name for name in image_side.PERCEPTION_FILES],
        settings=lambda config: {
            "backbone": config.perception_backbone,
            "ranker": config.perception_ranker,
            "hidden": config.perception_hidden,
            "steps": config.image_steps,
            **(
                {"epochs": config.perception_epochs, "width": config.perception_width}
                if config.perception_ranker in (PIXELS, ENSEMBLE)
                else {}
            ),
            "seed": config.seed,
        },
        artifact="perception",
        after=("predict",),  # the photos' features, cached in the dataset by whichever reads them first
        wanted=lambda config: not config.bring_your_own or (ArtifactSet(Path(config.out)).dataset / VOTES).is_file(),
    ),
    Step(
        "headline",
        headline.write_headline_step,
        inputs=lambda paths: [path for path in headline.sources(paths.artifacts) if path.is_file()],
        outputs=lambda paths: [paths.artifacts.headline],
        settings=lambda config: {"schema": headline.SCHEMA},
        artifact="headline",
        after=("*",),
    ),
)


def rebuild_commands() -> dict[str, str]:
    """Per folder of an artifact set, the `thisineq pipeline --only …` command that rebuilds it: its steps, in order."""
    folders: dict[str, list[str]] = {}
    for step in STEPS:
        if step.artifact is not None:
            folders.setdefault(step.artifact, []).append(step.name)
    return {folder: f"thisineq pipeline --only {' '.join(names)}" for folder, names in folders.items()}
