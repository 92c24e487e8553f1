"""The pipeline's settings: one typed config, read from JSON with every bad value named."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

from thisineq.config import load_config, option
from thisineq.data.domains import DEFAULT_DOMAINS, DOMAIN_KEYS
from thisineq.errors import ConfigError
from thisineq.models.encoders import BACKBONES as ENCODER_BACKBONES
from thisineq.perception.pixels import PASSES, WIDTH
from thisineq.perception.ranker import ENSEMBLE, RANKERS
from thisineq.predict.features import BACKBONES as IMAGE_BACKBONES
from thisineq.predict.features import PERCEPTION_BACKBONE

HELD_OUT = ("val", "test")  # splits never seen by the encoders
NOT_COUNTS = ("seed", "gan_metric_every", "area_style", "projector_w_prior")  # numeric settings that may be 0


@dataclass
class PipelineConfig:
    """Sizes and lengths of every step; `tiny()` makes a run that finishes in minutes."""

    out: str = option("artifacts/demo", "the artifact set")
    bring_your_own: bool = option(
        False,
        "build from the dataset and generator already in the set (OUT/city/dataset from `thisineq data ingest`, "
        "OUT/gan/generator.pt from `thisineq import`) instead of the synthetic city and a GAN trained here; "
        "the synthetic city's known-answer steps are left out",
    )
    work: str = option("data/pipeline", "training data and run folders (not committed)")
    seed: int = option(0, "seed of the cities, the GAN, the W samples and the balanced subsets")
    train_photos: int = option(12000, "photos of the GAN's training city")
    demo_photos: int = option(480, "photos of the committed city: the first photos of the training city")
    areas: int = option(600, "LSOAs of the synthetic city")
    area_style: float = option(
        0.0, "share of each photo's departure from its area's signal shared by the area's photos (0: the committed GAN's city)"
    )
    size: int = option(64, "photo and generator side in pixels (a power of two)")
    gan_channels: tuple[int, ...] = option((256, 256, 128, 64, 32), "generator widths from 4 px up to `size`")
    gan_style_dim: int = option(256, "dimensions of z and w")
    gan_n_mlp: int = option(4, "mapping depth of the demo's CPU recipe; the reference's is 8")
    gan_steps: int = option(100000, "GAN training steps (unless `gan_minutes` sets a wall-time budget)")
    gan_recipe: str = option("stylegan2", "the GAN's training recipe (`thisineq.training.recipes`)")
    gan_minutes: float | None = option(None, "train the GAN for this many minutes of wall time instead of `gan_steps`")
    gan_from: str | None = option(
        None,
        "the gan folder of a set this pipeline built in an earlier sitting (a finished GAN with its sitting.json): the gan "
        "step takes it, once its settings are checked, instead of training; for a rebuild that spans two sittings",
    )
    gan_metric_every: int = option(1000, "steps between the GAN's quality measurements (0: never)")
    gan_keep_discriminator: bool = option(
        False,
        "keep the GAN's discriminator beside its generator (gan/discriminator.pt): its realism joins the out-of-"
        "distribution bands and the comparison; off for the demo, whose budget has no room for it (13 MiB)",
    )
    encoder_steps: int = option(2000, "e4e training steps; a CPU budget (the references train for 100k+ steps on GPUs)")
    restyle_steps: int = option(500, "ReStyle training steps; each runs `restyle_train_iterations` generator passes")
    restyle_train_iterations: int = option(3, "ReStyle's refinement passes per training step")
    encoder_lr: float = option(3e-4, "the encoders' learning rate: 3× the references' for a short CPU schedule")
    e4e_unlock_every: int = option(150, "e4e unlocks one more layer's offset this often (all 9 by step 1,350)")
    encoder_widths: tuple[int, ...] = option(
        (32, 64, 128, 128), "encoder widths; with 32-channel heads ~1.7M weights, 3.4 MB as float16"
    )
    encoder_head_width: int = option(32, "width of the encoders' per-layer heads")
    encoder_backbone: str = option(
        "residual", "the encoders' backbone: from scratch, or the pretrained EfficientNet-Lite0", choices=ENCODER_BACKBONES
    )
    boundary_photos: int | None = option(
        6000, "training-city photos each encoder inverts for its boundaries; None: the demo's photos only"
    )
    projector_steps: int = option(500, "projector steps: the anchor's 1,000 halved, a CPU budget")
    projector_photos: int | None = option(None, "a documented subset of the projector's photos; None: all of `projector_splits`")
    projector_splits: tuple[str, ...] | None = option(
        HELD_OUT, "splits the projector inverts (held out from the encoders: 1,000 steps cost ~10 min per 32 photos)"
    )
    projector_lpips: str = option(
        "alex", 'the projector\'s perceptual distance; "vgg" as in StyleGAN2-ADA costs 3.5× more on a CPU'
    )
    projector_boundary_photos: int | None = option(
        384, "training-city photos the projector inverts for its boundaries (~6 min per 32 on one core); None: the demo's only"
    )
    hybrid_steps: int = option(100, "projector steps refining the e4e code (on the projector's photos)")
    projector_w_prior: float = option(
        0.1,
        "weight of the projector's prior holding w near W (0: StyleGAN2-ADA's projector): at 0.1 its codes stay where W "
        "is, so the out-of-distribution bands flag 95% of known-unsupported edits (60% at 0)",
    )
    comparison_samples: int = option(16, "GAN samples for latent recovery, and as many held-out photos edited")
    walk_photos: int = option(3, "held-out photos in each method's committed walk matrix")
    walk_steps: tuple[float, ...] = option((-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0), "walk steps, in σ of W along the normal")
    gan_run: str | None = option(None, "the GAN's run folder, for its discriminator; None: <work>/runs/gan")
    domains: tuple[str, ...] = option(DEFAULT_DOMAINS, "the IoD2019 domains to fit boundaries for")
    boundary_bootstrap: int = option(1000, "bootstrap draws for the confidence intervals")
    boundary_classes: tuple[str, ...] = option(
        ("ranks", "deciles"),
        "Table 1's class definitions, the walked boundaries' first: ranks (the paper's top/bottom 20%) or deciles (1-3 vs 8-10)",
    )
    boundary_stability_halves: int = option(5, "LSOA-disjoint half splits measuring each normal's stability")
    boundary_per_layer: bool = option(False, "also fit whitened boundaries on the per-layer codes (W+), one direction per layer")
    boundary_principal_axes: int | None = option(
        8, "also fit each boundary on W's first k principal axes, for visible walks; None: not"
    )
    oracle_epochs: int = option(8, "training epochs of the known-answer oracle")
    known_answer_sources: int = option(100, "latents walked by the known-answer benchmark, per source")
    gan_quality_samples: int = option(2000, "generated images (and photos per half) the GAN's quality is measured on")
    oracle_seeds: tuple[int, ...] = option((0, 1), "seeds of the known-answer oracles: every figure per oracle, and their spread")
    oracle_validation_samples: int = option(200, "GAN samples each encoder re-inverts to check the oracle on GAN images")
    known_answer_steps: tuple[float, ...] = option(
        (-3.0, 0.0, 3.0), "known-answer walk steps in σ; a walk's factor change is the last step's minus the first's"
    )
    known_answer_kinds: tuple[str, ...] = option(
        ("whitened/plain", "whitened/orthogonal", "partial/plain"), "boundaries the benchmark walks, as fit/walk kind"
    )
    known_answer_random: int = option(20, "random directions each walk is compared with (20 allow a permutation p < 0.05)")
    known_answer_random_sources: int = option(25, "of the sources, the first ones the random directions are walked from")
    known_answer_gan_samples: int = option(
        10000, "GAN samples read by an oracle for the ideal direction and the InterFaceGAN control"
    )
    known_answer_labelled_share: float = option(0.3, "InterFaceGAN control: share of GAN samples labelled in each class")
    control_photos: int = option(3000, "photos of the positive-control city (independent domains)")
    image_backbone: str = option(
        "vgg-texture",
        "features the image-side models read: VGG16 (Suel et al.'s family; its early blocks' texture statistics over "
        "the whole image or in three horizontal bands, or its deep blocks' averages) or EfficientNet-Lite0. The whole-"
        "image statistics read walked GAN images far more steadily than the bands (walks that raise the walked "
        "domain's predicted decile, mean of five seeds: 98/92/79% against 90/77/65%)",
        choices=IMAGE_BACKBONES,
    )
    predict_hidden: tuple[int, ...] = option(
        (128, 32), "widths of the decile predictor's dense stack (float16, on 896 features: ~0.23 MB/domain)"
    )
    perception_backbone: str = option(
        PERCEPTION_BACKBONE,
        "features the perception ranker reads (as image_backbone): the bands at 192 px keep the crowd's small marks "
        "best (accuracy on 40,000 simulated held-out votes, livelier / safer / wealthier: 0.865 / 0.851 / 0.866, "
        "against 0.861 / 0.826 / 0.859 from the whole-image statistics at 128 px), at 2.5 times the cost of reading an image",
        choices=IMAGE_BACKBONES,
    )
    perception_ranker: str = option(
        ENSEMBLE,
        "the perception ranker: the average of Bradley–Terry strengths linear in the image features and a CNN trained "
        "end to end on the photos' pixels (accuracy on 40,000 simulated held-out votes, livelier / safer / wealthier: "
        "0.870 / 0.868 / 0.875 in a trial, against 0.865 / 0.851 / 0.866 and 0.864 / 0.862 / 0.873 for each alone); "
        "either alone (bradley-terry, pixels); or the Siamese network of two dense layers on the features",
        choices=RANKERS,
    )
    perception_hidden: int = option(
        32, "width of the Siamese perception ranker's hidden layer (16 to 256 score alike; float16: ~0.17 MB/question)"
    )
    perception_epochs: int = option(
        PASSES, "passes of the pixel perception ranker over the photos (two fits: ~30 min on 2 cores; more overfit)"
    )
    perception_width: int = option(WIDTH, "channels of the pixel perception ranker's first convolutions (float16: ~0.7 MB)")
    image_steps: int = option(2000, "Adam updates of each image-side model (decile predictor and perception ranker)")
    crowd_votes: int = option(100000, "simulated crowd votes on the synthetic training city, over its three questions")
    control_methods: tuple[str, ...] = option(("e4e",), "encoders that invert the positive-control city")

    def __post_init__(self):
        # Impossible settings are named now, not after hours of training.
        for problem in (
            _unknown_domains(self),
            _unknown_classes(self),
            _not_positive(self),
            _demo_bigger_than_city(self),
            _gan_shape(self),
            _unknown_choice(self),
            _unknown_recipe(self),
        ):
            if problem:
                raise ConfigError(problem)

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> PipelineConfig:
        """A config from a JSON object of field values (the rest keep their defaults); bad files are named."""
        return load_config(cls, path)

    @classmethod
    def tiny(cls, out: str, work: str) -> PipelineConfig:
        """A run that finishes in minutes on a CPU, with tiny models: for tests and trying the pipeline out."""
        return cls(
            out=out,
            work=work,
            train_photos=160,
            demo_photos=160,
            areas=40,
            size=32,
            gan_channels=(32, 32, 16, 16),
            gan_style_dim=32,
            gan_steps=6,
            gan_metric_every=0,
            encoder_steps=4,
            restyle_steps=3,
            restyle_train_iterations=2,
            e4e_unlock_every=1,
            encoder_widths=(8, 16, 16, 32),
            encoder_head_width=8,
            boundary_photos=120,
            projector_steps=5,
            projector_photos=8,
            projector_boundary_photos=40,
            hybrid_steps=3,
            comparison_samples=4,
            boundary_bootstrap=100,
            boundary_stability_halves=2,
            oracle_epochs=1,
            gan_quality_samples=40,
            known_answer_sources=4,
            oracle_validation_samples=8,
            known_answer_random=4,
            known_answer_random_sources=4,
            known_answer_gan_samples=300,
            control_photos=160,
            predict_hidden=(8,),
            perception_hidden=8,
            perception_epochs=1,
            perception_width=4,
            image_steps=20,
            crowd_votes=3000,
        )


def _unknown_domains(config: PipelineConfig) -> str | None:
    unknown = [key for key in config.domains if key not in DOMAIN_KEYS]
    return f"unknown IoD2019 domains {unknown}; expected some of {', '.join(DOMAIN_KEYS)}" if unknown else None


def _unknown_classes(config: PipelineConfig) -> str | None:
    unknown = [k for k in config.boundary_classes if k not in ("ranks", "deciles")]
    if unknown or not config.boundary_classes:
        return f"boundary_classes must list some of ranks, deciles; got {list(config.boundary_classes)}"
    return None


def _not_positive(config: PipelineConfig) -> str | None:
    """Every count, length and rate must be above 0; `gan_metric_every` may be 0 (never), not below."""
    values = {f.name: getattr(config, f.name) for f in fields(config) if f.name not in NOT_COUNTS}
    numbers = {name: v for name, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    too_small = [f"{name}={value}" for name, value in numbers.items() if value <= 0]
    if too_small:
        return f"these settings must be positive: {', '.join(too_small)}"
    if config.gan_metric_every < 0:
        return f"gan_metric_every must be 0 (never) or more steps, got {config.gan_metric_every}"
    if not config.projector_w_prior >= 0:
        return f"projector_w_prior must be 0 (StyleGAN2-ADA's projector) or more, got {config.projector_w_prior}"
    return None


def _demo_bigger_than_city(config: PipelineConfig) -> str | None:
    if config.demo_photos <= config.train_photos:
        return None
    return (
        f"demo_photos ({config.demo_photos}) cannot exceed train_photos ({config.train_photos}): "
        "the demo city is the training city's first photos"
    )


def _unknown_recipe(config: PipelineConfig) -> str | None:
    from thisineq.training.recipes import RECIPES

    if config.gan_recipe not in RECIPES:
        return f"gan_recipe must be one of {', '.join(RECIPES)}, got {config.gan_recipe!r}"
    if config.gan_keep_discriminator and RECIPES[config.gan_recipe].get("discriminator") == "projected":
        return (
            "gan_keep_discriminator needs a StyleGAN2 discriminator: the projected recipe's reads features and gives no realism"
        )
    return None


def _unknown_choice(config: PipelineConfig) -> str | None:
    for name, choices in (
        ("encoder_backbone", ENCODER_BACKBONES),
        ("image_backbone", IMAGE_BACKBONES),
        ("perception_backbone", IMAGE_BACKBONES),
        ("perception_ranker", RANKERS),
    ):
        if getattr(config, name) not in choices:
            return f"{name} must be one of {', '.join(choices)}, got {getattr(config, name)!r}"
    return None


def _gan_shape(config: PipelineConfig) -> str | None:
    """The generator has one width per resolution from 4 px to `size`, so `size` must be a power of two."""
    if config.size < 4 or config.size & (config.size - 1):
        return f"size must be a power of two, got {config.size}"
    resolutions = config.size.bit_length() - 2  # 4, 8, …, size
    if len(config.gan_channels) != resolutions:
        return f"gan_channels needs {resolutions} widths (4 px to {config.size} px), got {len(config.gan_channels)}"
    return None
