"""The pipeline's first steps: the synthetic cities, the GAN, and the inversion encoders."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from thisineq.data.synth.build import SynthConfig, build_city_dataset, same_city
from thisineq.data.synth.city import CityConfig
from thisineq.models.stylegan2 import StyleGAN2Config
from thisineq.pipeline.config import PipelineConfig
from thisineq.training.encoders import EncoderTrainConfig, train_encoder
from thisineq.training.export import export_encoder, export_gan
from thisineq.training.gan import train_gan
from thisineq.training.recipes import recipe_config

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


def train_demo_gan(p: Pipeline) -> None:
    """Train the GAN on the training city with the config's recipe (for `gan_steps`, or `gan_minutes` of wall time) and
    export its EMA generator into the artifact set."""
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
    train_gan(config, progress=p.progress)
    export_gan(run, p.paths.generator.parent, rebuild=f"thisineq pipeline (step gan) with {asdict(c)}")


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
    rebuild = f"thisineq pipeline --only encoder_{kind}"
    export_encoder(run, p.paths.encoder(kind).parent, p.paths.held_out_photos(), rebuild=rebuild)
