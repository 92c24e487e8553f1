"""The pipeline's first steps: the synthetic cities, the GAN, and the inversion encoders."""

from __future__ import annotations

import json
import shlex
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

from thisineq.config import command_options
from thisineq.data.synth.build import SynthConfig, build_city_dataset, same_city
from thisineq.data.synth.city import CityConfig
from thisineq.errors import ConfigError, MissingFileError
from thisineq.io import atomic_path, write_json
from thisineq.models.stylegan2 import StyleGAN2Config, load_generator, sample_z
from thisineq.pipeline.config import PipelineConfig
from thisineq.training.encoders import EncoderTrainConfig, train_encoder
from thisineq.training.export import EXPORT_SEED, export_encoder, export_gan
from thisineq.training.gan import generate, train_gan
from thisineq.training.recipes import recipe_config
from thisineq.training.run import save_grid

SITTING = "sitting.json"  # beside an exported GAN: the settings it was trained with, and its seconds
HANDED_OVER = ("generator.pt", "metrics.json", "MODEL_CARD.md", SITTING)  # what a later sitting takes (samples are redrawn)


def city_settings(config: PipelineConfig, photos: int) -> dict:
    """The settings a city's fingerprint covers."""
    settings = {"photos": photos, "areas": config.areas, "size": config.size, "seed": config.seed}
    # Area style joined the fingerprint late: it counts only when set, so that cities built before stay current.
    return settings | ({"area_style": config.area_style} if config.area_style else {})


def gan_settings(config: PipelineConfig) -> dict:
    """The settings the GAN's fingerprint covers."""
    settings = {"channels": config.gan_channels, "style_dim": config.gan_style_dim, "steps": config.gan_steps}
    # Mapping depth, recipe and wall-time budget joined the fingerprint late: each counts only when it differs from what
    # the GANs trained before used, so that they stay current.
    late = {
        "n_mlp": (config.gan_n_mlp, 4),
        "recipe": (config.gan_recipe, "stylegan2"),
        "minutes": (config.gan_minutes, None),
        "keep_discriminator": (config.gan_keep_discriminator, False),
    }
    return settings | {key: value for key, (value, before) in late.items() if value != before}


if TYPE_CHECKING:
    from thisineq.pipeline.runner import Pipeline


def build_training_city(p: Pipeline) -> None:
    """The GAN's training city (in the work folder)."""
    build_city(p, _city_config(p.config, p.config.train_photos), p.paths.work / "city")


def build_demo_city(p: Pipeline) -> None:
    """The committed city: the training city's first photos (same seed)."""
    build_city(p, _city_config(p.config, p.config.demo_photos), p.paths.artifacts.city)


def _city_config(config: PipelineConfig, n_photos: int) -> SynthConfig:
    city = CityConfig(n_lsoas=config.areas, seed=config.seed)
    return SynthConfig(n_photos=n_photos, size=config.size, area_style=config.area_style, city=city)


def build_city(p: Pipeline, config: SynthConfig, folder: Path) -> None:
    """The city of `config` in `folder`: resumed where it was left, rebuilt where the folder holds another city."""
    record = folder / "city.json"
    if record.is_file() and not same_city(json.loads(record.read_text(encoding="utf-8"))["config"], config):
        p.log(f"  {folder} holds a city of other settings: rebuilding it")
        shutil.rmtree(folder)
    build_city_dataset(folder, config, progress=p.progress)


def gan_model(config: PipelineConfig) -> StyleGAN2Config:
    """The generator's architecture: one width per resolution from 4 px to `size`."""
    resolutions = [2**k for k in range(2, config.size.bit_length())]
    channels = dict(zip(resolutions, config.gan_channels, strict=True))
    return StyleGAN2Config(size=config.size, style_dim=config.gan_style_dim, n_mlp=config.gan_n_mlp, channels=channels)


def train_demo_gan(p: Pipeline) -> tuple[float, float] | None:
    """Train the GAN on the training city with the config's recipe (for `gan_steps`, or `gan_minutes` of wall time) and
    export its EMA generator into the artifact set; or, with `gan_from`, take the one an earlier sitting trained.

    Returns the span to record for the step where it is not this call's (a GAN from an earlier sitting).
    """
    if p.config.gan_from:
        return take_finished_gan(p)
    c, run = p.config, p.paths.run_dir("gan")
    config = recipe_config(
        c.gan_recipe,
        dataset=str(p.paths.train_dataset),
        run_dir=str(run),
        model=gan_model(c),
        steps=c.gan_steps if c.gan_minutes is None else 10**9,  # on a budget, the clock ends the run
        max_minutes=c.gan_minutes,
        metric_every=c.gan_metric_every,
        seed=c.seed,
    )
    started = time.time()
    train_gan(config, progress=p.progress)
    export_gan(run, p.paths.generator.parent, rebuild=pipeline_command(c, "city", "gan"), discriminator=c.gan_keep_discriminator)
    record_sitting(p.paths.generator.parent, c, (started, time.time()))
    return None


def pipeline_command(config: PipelineConfig, *steps: str) -> str:
    """The `thisineq pipeline --only …` command that reruns `steps` with `config`'s settings."""
    return shlex.join(["thisineq", "pipeline", "--only", *steps, *command_options(config)])


def record_sitting(folder: Path, config: PipelineConfig, span: tuple[float, float]) -> None:
    """`sitting.json` beside an exported GAN: what a later sitting checks before taking it (`gan_from`), and when the
    step ran (seconds since the epoch)."""
    record = {
        "gan": gan_settings(config),
        "city": city_settings(config, config.train_photos),
        "span": [round(span[0], 1), round(span[1], 1)],
        "seconds": round(span[1] - span[0], 1),
    }
    write_json(folder / SITTING, {"format": "thisineq-gan-sitting", **json.loads(json.dumps(record))})


def take_finished_gan(p: Pipeline) -> tuple[float, float]:
    """Copy the finished GAN of an earlier sitting (`gan_from`) into the set, after checking it was trained with
    today's city and GAN settings; redraw its samples. Returns when its step ran then."""
    c, source = p.config, Path(p.config.gan_from)
    if not (source / SITTING).is_file():
        raise MissingFileError(
            f"gan_from: {source} holds no GAN a pipeline finished ({SITTING} is missing); "
            "it takes the gan folder of an artifact set the pipeline built"
        )
    record = json.loads((source / SITTING).read_text(encoding="utf-8"))
    wanted = json.loads(json.dumps({"gan": gan_settings(c), "city": city_settings(c, c.train_photos)}))
    changes = [
        f"{part} {key}: {record.get(part, {}).get(key)} there, {value} here"
        for part, settings in wanted.items()
        for key, value in settings.items()
        if record.get(part, {}).get(key) != value
    ]
    if changes:
        raise ConfigError(f"gan_from: {source} was trained with other settings ({'; '.join(changes)}); give the same ones")
    generator = load_generator(source / "generator.pt")
    if generator.config != gan_model(c):
        raise ConfigError(f"gan_from: {source}/generator.pt is not the generator these settings make ({generator.config})")
    folder = p.paths.generator.parent
    folder.mkdir(parents=True, exist_ok=True)
    kept = ("discriminator.pt",) if (source / "discriminator.pt").is_file() else ()  # `gan_keep_discriminator`
    for name in HANDED_OVER + kept:
        with atomic_path(folder / name) as tmp:
            shutil.copyfile(source / name, tmp)
    save_grid(generate(generator, sample_z(generator, 64, seed=EXPORT_SEED)), folder / "samples.png")
    p.log(f"  took the GAN trained in an earlier sitting ({record['seconds'] / 60:.0f} min) from {source}")
    return float(record["span"][0]), float(record["span"][1])


def encoder_steps(config: PipelineConfig, kind: str) -> int:
    """Training steps of the encoder `kind`."""
    return config.restyle_steps if kind == "restyle" else config.encoder_steps


def train_demo_encoder(p: Pipeline, kind: str) -> None:
    """Train the encoder `kind` against the exported generator and export it, evaluated on the held-out demo photos."""
    c, run = p.config, p.paths.run_dir(kind)
    config = EncoderTrainConfig(
        kind=kind,
        generator=str(p.paths.generator),
        dataset=str(p.paths.train_dataset),
        run_dir=str(run),
        steps=encoder_steps(c, kind),
        encoder_widths=c.encoder_widths,
        head_width=c.encoder_head_width,
        backbone=c.encoder_backbone,
        restyle_iterations=c.restyle_train_iterations,
        lr=c.encoder_lr,
        unlock_every=c.e4e_unlock_every,
        seed=c.seed,
    )
    train_encoder(config, progress=p.progress)
    rebuild = pipeline_command(c, f"encoder_{kind}")
    export_encoder(run, p.paths.encoder(kind).parent, p.paths.held_out_photos(), rebuild=rebuild)
