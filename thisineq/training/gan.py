"""Train a StyleGAN2 on a dataset folder, on CPU or GPUs, with one of three discriminators.

- `discriminator="stylegan2"`: the StyleGAN2-ADA small-data recipe — StyleGAN2's residual D,
  non-saturating logistic loss, lazy R1 on reals.
- `discriminator="projected"`: the Projected GAN recipe (Sauer et al. 2021) — a frozen ImageNet
  EfficientNet-Lite0 with fixed random projections and small trainable patch heads
  (`thisineq.models.projected`), the hinge loss and no gradient penalty.
- `discriminator="stylegan2+projected"`: both side by side, each with its own loss (logistic with
  lazy R1 for the pixel D, hinge for the projected heads); G's loss is the pixel D's plus
  `projected_weight` × the projected D's.

All keep lazy path-length regularisation of G, style mixing, differentiable augmentation of
everything D sees, an EMA generator with ramp-up, and Adam with the lazy-regularisation correction;
`precision="bf16"` runs G's and D's forward passes under bfloat16 autocast (the regularisers stay
in float32); `precision="auto"` does so only where the device computes bfloat16 in hardware
(`thisineq.hardware.native_bf16`): elsewhere autocast emulates it, many times slower than float32.
A run folder (`RunFolder`) holds the latest checkpoint (written atomically; a run killed at any
moment resumes from it with the same random state, and it keeps the quality metric's trajectory),
the EMA generator, sample grids and a JSON-lines log of the losses. Under `torchrun` it trains with DistributedDataParallel.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from thisineq.config import option
from thisineq.errors import ConfigError
from thisineq.hardware import native_bf16
from thisineq.io import atomic_open, atomic_path
from thisineq.models.projected import (
    PixelAndProjectedDiscriminator,
    ProjectedConfig,
    ProjectedDiscriminator,
    d_hinge_loss,
    g_hinge_loss,
    is_frozen_weight,
)
from thisineq.models.stylegan2 import (
    CheckpointError,
    Discriminator,
    Generator,
    StyleGAN2Config,
    broadcast,
    float16,
    load_weights,
    safe_load,
    sample_z,
    save_generator,
)
from thisineq.training.augment import diff_augment
from thisineq.training.run import CHECKPOINT, ImageBank, RunFolder, save_grid, setting_changes

DISCRIMINATORS = ("stylegan2", "projected", "stylegan2+projected")
BOTH = "stylegan2+projected"
AnyDiscriminator = Discriminator | ProjectedDiscriminator | PixelAndProjectedDiscriminator
PRECISIONS = ("fp32", "bf16", "auto")
GENERATOR = "generator.pt"  # the EMA generator, in the run folder
SAMPLE_SEED = 123  # the z of every sample grid: the same images, step after step
METRIC_SEED = 7  # the z the quality metric generates from


@dataclass
class GANTrainConfig:
    """Everything that determines a training run."""

    dataset: str = option(help="dataset folder (from `thisineq data synth` or `data ingest`)")
    run_dir: str = option(help="run folder: checkpoint, EMA generator, samples, log; a run resumes from it")
    model: StyleGAN2Config = option(help="architecture of G (and of a StyleGAN2 D)", default_factory=StyleGAN2Config)
    discriminator: str = option("stylegan2", "the discriminator and its loss", choices=DISCRIMINATORS)
    projected: ProjectedConfig = option(help="shape of a projected discriminator", default_factory=ProjectedConfig)
    projected_weight: float = option(1.0, "under stylegan2+projected, the weight of the projected D's loss in G's")
    precision: str = option(
        "fp32",
        "forward passes of G and D in float32, under bfloat16 autocast, or (auto) in bfloat16 where the device computes it "
        "natively",
        choices=PRECISIONS,
    )
    steps: int = option(20000, "total optimisation steps of G (and of D); raise it to train a finished run on")
    batch: int = option(16, "images per step, over all processes")
    lr: float = option(0.0025, "Adam learning rate of G and D (the mapping network's: × lr_mlp)")
    betas: tuple[float, float] = option((0.0, 0.99), "Adam's β1 and β2")
    r1_gamma: float | None = option(
        None, "R1 weight (default: 0.0002 · size² / batch, StyleGAN2-ADA's heuristic, for a StyleGAN2 D; 0 for a projected D)"
    )
    d_reg_every: int = option(16, "steps between lazy R1 updates")
    g_reg_every: int = option(4, "steps between lazy path-length updates")
    pl_weight: float = option(2.0, "path-length regularisation weight (0: off)")
    range_weight: float | None = option(
        None, "weight of the penalty on generated pixels beyond [-1, 1] (default: 0 for a StyleGAN2 D, 1 for a projected D)"
    )
    pl_batch_shrink: int = option(2, "the path-length penalty runs on batch / this many images")
    pl_decay: float = option(0.01, "decay of the path lengths' running mean")
    style_mixing: float = option(0.9, "probability that a sample mixes the styles of two z")
    augment: str = option("color,translation,cutout", "DiffAugment policies, comma-separated ('' for none)")
    xflip: bool = option(True, "mirror training images at random")
    ema_kimg: float | None = option(None, "EMA half-life in thousands of images (default: batch · 10 / 32)")
    ema_rampup: float = option(0.05, "early on, the EMA half-life is at most this share of the images seen (0: no ramp-up)")
    w_avg_beta: float = option(0.995, "decay of the tracked average w, the truncation centre")
    max_minutes: float | None = option(None, "stop after this many minutes of training wall time (None: after `steps`)")
    snapshot_minutes: float = option(0.0, "minutes of training wall time between EMA snapshots and their sample grids (0: none)")
    checkpoint_every: int = option(200, "steps between checkpoints")
    sample_every: int = option(500, "steps between sample grids")
    metric_every: int = option(2000, "steps between quality metrics (0: never)")
    metric_samples: int = option(1000, "images the quality metric compares")
    seed: int = option(0, "random seed")
    device: str = option("auto", "where to train", choices=("auto", "cpu", "cuda"))
    init_from: str | None = option(None, "start G and its EMA from this generator file (same architecture); D starts afresh")
    continue_from: str | None = option(
        None, "start from a continuation file (G, its EMA and D without optimiser state, `export_continuation`) of this config"
    )

    def __post_init__(self):
        from thisineq.training.augment import POLICIES

        at_least_one = (
            "steps",
            "batch",
            "d_reg_every",
            "g_reg_every",
            "pl_batch_shrink",
            "checkpoint_every",
            "sample_every",
            "metric_samples",
        )
        wrong = [f"{name}={getattr(self, name)}" for name in at_least_one if getattr(self, name) < 1]
        wrong += [
            f"{name}={getattr(self, name)}"
            for name in ("lr", "ema_kimg", "max_minutes")
            if getattr(self, name) is not None and getattr(self, name) <= 0
        ]
        wrong += [
            f"{name}={getattr(self, name)}"
            for name in ("r1_gamma", "pl_weight", "metric_every", "snapshot_minutes", "range_weight", "projected_weight")
            if (getattr(self, name) or 0) < 0
        ]
        wrong += [
            f"{name}={getattr(self, name)}"
            for name in ("style_mixing", "pl_decay", "ema_rampup", "w_avg_beta")
            if not 0 <= getattr(self, name) <= 1
        ]
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            wrong.append(f"betas={self.betas}")
        if wrong:
            raise ConfigError(
                f"impossible training settings: {', '.join(wrong)} (counts and intervals at least 1, rates positive, shares within 0–1)"
            )
        unknown = [p for p in filter(None, (p.strip() for p in self.augment.split(","))) if p not in POLICIES]
        if unknown:
            raise ConfigError(
                f"unknown augmentation {unknown}; choose from {', '.join(POLICIES)} (comma-separated, or '' for none)"
            )
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if self.discriminator not in DISCRIMINATORS:
            raise ConfigError(f"discriminator must be one of {', '.join(DISCRIMINATORS)}, got {self.discriminator!r}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")

    @property
    def resolved_r1_gamma(self) -> float:
        if self.r1_gamma is not None:
            return self.r1_gamma
        return 0.0 if self.discriminator == "projected" else 0.0002 * self.model.size**2 / self.batch

    @property
    def resolved_range_weight(self) -> float:
        if self.range_weight is not None:
            return self.range_weight
        return 1.0 if self.discriminator == "projected" else 0.0

    @property
    def resolved_ema_kimg(self) -> float:
        return self.ema_kimg if self.ema_kimg is not None else self.batch * 10 / 32

    def to_dict(self) -> dict:
        d = asdict(self)
        d["model"] = self.model.to_dict()
        d["projected"] = self.projected.to_dict()
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> GANTrainConfig:
        # Run folders from before the projected recipes lack their fields; their defaults are what those runs did.
        projected = ProjectedConfig.from_dict(d["projected"]) if "projected" in d else ProjectedConfig()
        return cls(**{**d, "model": StyleGAN2Config.from_dict(d["model"]), "projected": projected, "betas": tuple(d["betas"])})


# --- losses and regularisers ---------------------------------------------------------------------


def d_logistic_loss(real_pred: torch.Tensor, fake_pred: torch.Tensor) -> torch.Tensor:
    return F.softplus(-real_pred).mean() + F.softplus(fake_pred).mean()


def d_r1_penalty(real_pred: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """Squared gradient norm of D at the real images, averaged over the batch."""
    (grad,) = torch.autograd.grad(real_pred.sum(), real_images, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


def g_nonsaturating_loss(fake_pred: torch.Tensor) -> torch.Tensor:
    return F.softplus(-fake_pred).mean()


def g_range_penalty(images: torch.Tensor) -> torch.Tensor:
    """Mean square of each pixel's excess beyond [-1, 1].

    StyleGAN2's G has no output non-linearity. A raw-pixel D sees values outside the image range and
    punishes them; a frozen feature network saturates there (its ReLU6s clip), so a projected D
    cannot: without this penalty G drifts to pixel values many times the range (measured: 60–75% of
    pixels outside [-1, 1] within 5 minutes, in saturated colours).
    """
    return F.relu(images.abs() - 1).square().mean()


def g_path_length(images: torch.Tensor, ws: torch.Tensor, mean_path_length: torch.Tensor, decay: float):
    """Path-length penalty: Jacobian norms of image w.r.t. ws held near their running mean.

    Returns (penalty, updated mean, the batch's path lengths).
    """
    noise = torch.randn_like(images) / math.sqrt(images.shape[2] * images.shape[3])
    (grad,) = torch.autograd.grad((images * noise).sum(), ws, create_graph=True)
    lengths = torch.sqrt(grad.pow(2).sum(2).mean(1))
    mean = mean_path_length + decay * (lengths.mean().detach() - mean_path_length)
    return (lengths - mean).pow(2).mean(), mean.detach(), lengths


# --- the pieces of a step ---------------------------------------------------------------------------


class GeneratorStep(nn.Module):
    """G as one forward call (what DDP wraps): z pair and mixing cut → (images, ws)."""

    def __init__(self, generator: Generator):
        super().__init__()
        self.generator = generator

    def forward(self, z1: torch.Tensor, z2: torch.Tensor, cut: torch.Tensor):
        g = self.generator
        w1, w2 = g.mapping(z1), g.mapping(z2)
        layer = torch.arange(g.num_ws, device=z1.device)[None, :, None]
        ws = torch.where(layer < cut[:, None, None], broadcast(w1, g.num_ws), broadcast(w2, g.num_ws))
        return g.synthesis(ws, noise_mode="random"), ws, w1


def mixing_cut(batch: int, num_ws: int, probability: float, device) -> torch.Tensor:
    """Per sample, the first layer that takes the second z (num_ws: no mixing)."""
    cut = torch.randint(1, num_ws, (batch,), device=device)
    mixed = torch.rand(batch, device=device) < probability
    return torch.where(mixed, cut, torch.full_like(cut, num_ws))


@torch.no_grad()
def update_ema(ema: Generator, generator: Generator, beta: float) -> None:
    for p_ema, p in zip(ema.parameters(), generator.parameters(), strict=True):
        p_ema.lerp_(p, 1 - beta)
    for b_ema, b in zip(ema.buffers(), generator.buffers(), strict=True):
        b_ema.copy_(b)


def ema_beta(config: GANTrainConfig, images_seen: int) -> float:
    """The EMA's decay per step: a half-life of `ema_kimg` thousand images, shorter while few images are seen."""
    half_life = config.resolved_ema_kimg * 1000
    half_life = min(half_life, images_seen * config.ema_rampup) if config.ema_rampup else half_life
    return 0.5 ** (config.batch / max(half_life, 1e-8))


# --- the state of a run ---------------------------------------------------------------------------


@dataclass
class TrainState:
    """Everything a step uses and changes: the networks, their optimisers, the EMA and the counters."""

    generator: Generator
    discriminator: AnyDiscriminator
    ema: Generator
    g_optim: torch.optim.Optimizer
    d_optim: torch.optim.Optimizer
    step: int = 0
    mean_path_length: torch.Tensor = field(default_factory=lambda: torch.zeros(()))
    wall_seconds: float = 0.0
    prior_steps: int = 0  # steps the warm-start generator had trained before this run (its own record)
    g_step: nn.Module | None = None  # G as one forward call (None: made from `generator`); DDP-wrapped under torchrun
    d_model: nn.Module | None = None  # D as the step calls it (None: `discriminator`); DDP-wrapped under torchrun
    processes: int = 1  # processes sharing each batch

    def __post_init__(self):
        if self.g_step is None:
            self.g_step = GeneratorStep(self.generator)
        if self.d_model is None:
            self.d_model = self.discriminator

    @property
    def device(self) -> torch.device:
        return self.generator.w_avg.device


def new_state(config: GANTrainConfig, device) -> TrainState:
    torch.manual_seed(config.seed)
    generator = Generator(config.model).to(device)
    discriminator = make_discriminator(config).to(device)
    ema = Generator(config.model).to(device).eval().requires_grad_(False)
    ema.load_state_dict(generator.state_dict())
    g_ratio = config.g_reg_every / (config.g_reg_every + 1) if config.pl_weight > 0 else 1.0
    d_ratio = config.d_reg_every / (config.d_reg_every + 1) if config.resolved_r1_gamma > 0 else 1.0
    # Lazy regularisation runs every k steps with k× weight; Adam's rate and betas are corrected.
    g_optim = torch.optim.Adam(generator.parameters(), lr=config.lr * g_ratio, betas=tuple(b**g_ratio for b in config.betas))
    d_params = [p for p in discriminator.parameters() if p.requires_grad]  # a projected D's heads only
    d_optim = torch.optim.Adam(d_params, lr=config.lr * d_ratio, betas=tuple(b**d_ratio for b in config.betas))
    return TrainState(generator, discriminator, ema, g_optim, d_optim, mean_path_length=torch.zeros((), device=device))


def make_discriminator(config: GANTrainConfig) -> AnyDiscriminator:
    """The run's discriminator, freshly initialised (a projected one with its frozen features and fixed projections)."""
    if config.discriminator == "projected":
        return ProjectedDiscriminator(config.projected)
    if config.discriminator == BOTH:
        return PixelAndProjectedDiscriminator(config.model, config.projected)
    return Discriminator(config.model)


def warm_start(state: TrainState, generator_path: str | os.PathLike) -> None:
    """Start G and its EMA from a saved generator of the same architecture (e.g. a committed demo model)."""
    from thisineq.models.stylegan2 import load_generator

    source = load_generator(generator_path)
    if source.config != state.generator.config:
        raise ConfigError(f"{generator_path} has another architecture ({source.config}) than this run ({state.generator.config})")
    weights = {k: v.to(state.device) for k, v in source.state_dict().items()}
    state.generator.load_state_dict(weights)
    state.ema.load_state_dict(weights)
    state.prior_steps = generator_steps(generator_path)


def generator_steps(path: str | os.PathLike) -> int:
    """How many steps a saved generator has trained in all, by its own record (0 where it keeps none, e.g. rosinality's)."""
    step = safe_load(path).get("step", 0)
    return int(step) if isinstance(step, (int, float)) and not isinstance(step, bool) and step >= 0 else 0


def checkpoint_record(state: TrainState, config: GANTrainConfig, metrics: list[dict]) -> dict:
    """Everything needed to continue exactly: weights, optimisers, step and random state."""
    return {
        "format": "thisineq-gan-train",
        "config": config.to_dict(),
        "step": state.step,
        "prior_steps": state.prior_steps,
        "wall_seconds": state.wall_seconds,
        "g": state.generator.state_dict(),
        "d": state.discriminator.state_dict(),
        "g_ema": state.ema.state_dict(),
        "g_optim": state.g_optim.state_dict(),
        "d_optim": state.d_optim.state_dict(),
        "mean_path_length": state.mean_path_length.cpu(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "metrics": json.dumps(metrics),
    }


def restore(state: TrainState, checkpoint: dict) -> list[dict]:
    """Put a checkpoint's weights, optimisers, counters and random state back into `state`. Returns the metric history."""
    state.generator.load_state_dict(checkpoint["g"])
    state.discriminator.load_state_dict(checkpoint["d"])
    state.ema.load_state_dict(checkpoint["g_ema"])
    state.g_optim.load_state_dict(checkpoint["g_optim"])
    state.d_optim.load_state_dict(checkpoint["d_optim"])
    state.step = int(checkpoint["step"])
    state.prior_steps = int(checkpoint.get("prior_steps", 0))
    state.wall_seconds = float(checkpoint["wall_seconds"])
    state.mean_path_length = checkpoint["mean_path_length"].to(state.device)
    torch.set_rng_state(checkpoint["torch_rng"])
    if checkpoint["cuda_rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(checkpoint["cuda_rng"])
    return json.loads(checkpoint["metrics"])


CONTINUATION = "thisineq-gan-continuation"


def export_continuation(run_dir: str | os.PathLike, path: str | os.PathLike) -> Path:
    """What a run needs to go on elsewhere, small enough to commit: G, its EMA and D in float16, counters, no optimiser state.

    A projected D keeps its heads only: its feature network ships with the package and its projection
    comes from its seed.
    """
    checkpoint = safe_load(Path(run_dir) / CHECKPOINT)
    d = {k: v for k, v in checkpoint["d"].items() if not is_frozen_weight(k)}
    record = {
        "format": CONTINUATION,
        "config": checkpoint["config"],
        **{key: checkpoint[key] for key in ("step", "prior_steps", "wall_seconds", "mean_path_length", "metrics")},
        "g": float16(checkpoint["g"]),
        "g_ema": float16(checkpoint["g_ema"]),
        "d": float16(d),
    }
    with atomic_path(path) as tmp:
        torch.save(record, tmp)
    return Path(path)


def continue_state(state: TrainState, config: GANTrainConfig, path: str | os.PathLike) -> list[dict]:
    """Load a continuation file into a fresh `state` (its optimisers start afresh). Returns the metric history."""
    record = safe_load(path)
    if record.get("format") != CONTINUATION:
        raise CheckpointError(f"{path} is not a GAN continuation file (`thisineq.training.gan.export_continuation` writes them)")
    changes = setting_changes(record["config"], {k: v for k, v in config.to_dict().items() if k not in CONTINUATION_MAY_CHANGE})
    if changes:
        raise ConfigError(f"{path} was trained with other settings ({'; '.join(changes)}); continue it with its own")
    load_weights(state.generator, record["g"])  # float16 → the modules' float32, cast by load_state_dict
    load_weights(state.ema, record["g_ema"])
    missing, unexpected = state.discriminator.load_state_dict(record["d"], strict=False)
    if unexpected or not all(is_frozen_weight(key) for key in missing):
        raise CheckpointError(
            f"{path} holds a discriminator of another shape (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    state.step, state.prior_steps = int(record["step"]), int(record["prior_steps"])
    state.wall_seconds, state.mean_path_length = float(record["wall_seconds"]), record["mean_path_length"].to(state.device)
    return json.loads(record["metrics"])


# Settings that may differ between the run that wrote a continuation and the one that goes on from it.
CONTINUATION_MAY_CHANGE = (
    "dataset",
    "run_dir",
    "steps",
    "device",
    "max_minutes",
    "snapshot_minutes",
    "continue_from",
    "init_from",
)


def load_discriminator(path: str | os.PathLike) -> Discriminator | ProjectedDiscriminator:
    """The discriminator of a training checkpoint (`checkpoint.pt` of a run folder), safely loaded, as a realism scorer.

    Of a stylegan2+projected pair it gives the StyleGAN2 D, whose one logit per image is the realism
    score the comparison reads.
    """
    return discriminator_of(safe_load(path), path)


def discriminator_of(checkpoint: dict, path: str | os.PathLike) -> Discriminator | ProjectedDiscriminator:
    """`load_discriminator` of a checkpoint already read from `path` (named in its error)."""
    if checkpoint.get("format") != "thisineq-gan-train":
        raise CheckpointError(f"{path} is not a thisineq GAN training checkpoint (it holds no discriminator)")
    discriminator = make_discriminator(GANTrainConfig.from_dict(checkpoint["config"]))
    discriminator.load_state_dict(checkpoint["d"])
    if isinstance(discriminator, PixelAndProjectedDiscriminator):
        discriminator = discriminator.pixel
    return discriminator.eval().requires_grad_(False)


def metric_history(run_dir: str | os.PathLike) -> list[dict]:
    """The quality-metric trajectory stored in a run's checkpoint."""
    return json.loads(safe_load(Path(run_dir) / CHECKPOINT)["metrics"])


# --- one step -------------------------------------------------------------------------------------


def train_step(state: TrainState, config: GANTrainConfig, bank: ImageBank) -> dict:
    """One D update, one G update, the lazy regularisers when due, and the EMA. Returns the losses."""
    logs = {"loss_d": _discriminator_update(state, config, bank)}
    if config.resolved_r1_gamma > 0 and state.step % config.d_reg_every == 0:
        logs["r1"] = _r1_update(state, config, bank)
    logs["loss_g"] = _generator_update(state, config)
    if config.pl_weight > 0 and state.step % config.g_reg_every == 0:
        logs["path_length"] = _path_length_update(state, config)
    update_ema(state.ema, state.generator, ema_beta(config, (state.step + 1) * config.batch))
    state.step += 1
    return logs


def _fakes(state: TrainState, config: GANTrainConfig, n: int):
    """n generated images with style mixing, their ws and first w (global RNG)."""
    g = state.generator
    z1, z2 = sample_z(g, n), sample_z(g, n)
    return state.g_step(z1, z2, mixing_cut(n, g.num_ws, config.style_mixing, state.device))


def uses_bf16(config: GANTrainConfig, device: torch.device) -> bool:
    """Whether the run's forward passes run under bfloat16 autocast on `device`."""
    return config.precision == "bf16" or (config.precision == "auto" and native_bf16(device))


def _autocast(state: TrainState, config: GANTrainConfig):
    """bfloat16 autocast of the forward passes where the run asks for it (a no-op context otherwise)."""
    return torch.autocast(state.device.type, dtype=torch.bfloat16, enabled=uses_bf16(config, state.device))


def _d_loss(config: GANTrainConfig, real_pred, fake_pred) -> torch.Tensor:
    """D's loss on its outputs for reals and fakes (a pair of outputs under stylegan2+projected)."""
    if config.discriminator == BOTH:
        return d_logistic_loss(real_pred[0].float(), fake_pred[0].float()) + d_hinge_loss(
            real_pred[1].float(), fake_pred[1].float()
        )
    loss = d_hinge_loss if config.discriminator == "projected" else d_logistic_loss
    return loss(real_pred.float(), fake_pred.float())


def _g_loss(config: GANTrainConfig, fake_pred) -> torch.Tensor:
    """G's adversarial loss on D's outputs for its fakes."""
    if config.discriminator == BOTH:
        return g_nonsaturating_loss(fake_pred[0].float()) + config.projected_weight * g_hinge_loss(fake_pred[1].float())
    loss = g_hinge_loss if config.discriminator == "projected" else g_nonsaturating_loss
    return loss(fake_pred.float())


def _discriminator_update(state: TrainState, config: GANTrainConfig, bank: ImageBank) -> float:
    state.generator.requires_grad_(False)
    state.discriminator.requires_grad_(True)
    batch = config.batch // state.processes
    real = bank.batch(batch, state.device, xflip=config.xflip)
    with _autocast(state, config):
        fake, _, _ = _fakes(state, config, batch)
        real_pred = state.d_model(diff_augment(real, config.augment))
        fake_pred = state.d_model(diff_augment(fake.detach(), config.augment))
    loss = _d_loss(config, real_pred, fake_pred)
    state.d_optim.zero_grad(set_to_none=True)
    loss.backward()
    state.d_optim.step()
    return loss.item()


def _r1_update(state: TrainState, config: GANTrainConfig, bank: ImageBank) -> float:
    real = bank.batch(config.batch // state.processes, state.device, xflip=config.xflip).requires_grad_(True)
    real_pred = state.d_model(diff_augment(real, config.augment))
    unused = real_pred[1][0, 0] if config.discriminator == BOTH else 0  # R1 is the pixel D's alone
    if config.discriminator == BOTH:
        real_pred = real_pred[0]
    r1 = d_r1_penalty(real_pred, real)
    state.d_optim.zero_grad(set_to_none=True)
    # Every output takes part in the graph (0 × …), as DDP requires.
    (config.resolved_r1_gamma / 2 * r1 * config.d_reg_every + 0 * real_pred[0, 0] + 0 * unused).backward()
    state.d_optim.step()
    return r1.item()


def _generator_update(state: TrainState, config: GANTrainConfig) -> float:
    state.generator.requires_grad_(True)
    state.discriminator.requires_grad_(False)
    with _autocast(state, config):
        fake, _, w = _fakes(state, config, config.batch // state.processes)
        fake_pred = state.d_model(diff_augment(fake, config.augment))
    loss = _g_loss(config, fake_pred)
    if config.resolved_range_weight:
        loss = loss + config.resolved_range_weight * g_range_penalty(fake.float())
    state.g_optim.zero_grad(set_to_none=True)
    loss.backward()
    state.g_optim.step()
    with torch.no_grad():
        state.generator.w_avg.lerp_(w.float().mean(0), 1 - config.w_avg_beta)
    return loss.item()


def _path_length_update(state: TrainState, config: GANTrainConfig) -> float:
    images, ws, _ = _fakes(state, config, max(1, config.batch // state.processes // config.pl_batch_shrink))
    penalty, state.mean_path_length, lengths = g_path_length(images, ws, state.mean_path_length, config.pl_decay)
    state.g_optim.zero_grad(set_to_none=True)
    (config.pl_weight * config.g_reg_every * penalty + 0 * images[0, 0, 0, 0]).backward()
    state.g_optim.step()
    return lengths.mean().item()


# --- samples and metric -------------------------------------------------------------------------


@torch.no_grad()
def generate(generator: Generator, z: torch.Tensor, batch: int = 64, truncation_psi: float = 1.0) -> torch.Tensor:
    """Images (N, 3, size, size) on the CPU from z (N, style_dim), made `batch` at a time on the generator's device."""
    device = generator.w_avg.device
    return torch.cat([generator(z[i : i + batch].to(device), truncation_psi).cpu() for i in range(0, len(z), batch)])


class QualityMetric:
    """FD and KD in EfficientNet-Lite0 space against a fixed set of real images, plus diversity."""

    def __init__(self, bank: ImageBank, n: int, cache: Path):
        from thisineq.metrics.fid import FeatureExtractor, FeatureStats, diversity, extract

        self.extractor = FeatureExtractor()
        self.n = min(n, len(bank))
        if cache.is_file() and np.load(cache).shape[0] == self.n:
            self.real = np.load(cache)
        else:
            index = torch.from_numpy(np.random.default_rng(0).choice(len(bank), self.n, replace=False))
            self.real = extract(self.extractor, bank[index])
            with atomic_open(cache, "wb") as handle:
                np.save(handle, self.real, allow_pickle=False)
        self.real_stats = FeatureStats.of(self.real)
        self.real_diversity = diversity(self.real)
        self._extract, self._stats, self._diversity = extract, FeatureStats.of, diversity

    def __call__(self, generator: Generator) -> dict:
        from thisineq.metrics.fid import frechet_distance, kernel_distance

        fake = self._extract(self.extractor, generate(generator, sample_z(generator, self.n, seed=METRIC_SEED)))
        return {
            "fd_effnet": frechet_distance(self._stats(fake), self.real_stats),
            "kd_effnet": kernel_distance(fake, self.real, subset_size=min(500, self.n)),
            "diversity_ratio": self._diversity(fake) / self.real_diversity,
        }


def snapshot_times_crossed(config: GANTrainConfig, before: float, after: float) -> list[int]:
    """The snapshot times, in whole seconds of training wall time, that fall in (before, after]."""
    if not config.snapshot_minutes:
        return []
    period = config.snapshot_minutes * 60
    first, last = math.floor(before / period) + 1, math.floor(after / period)
    return [round(k * period) for k in range(first, last + 1)]


# --- entry point --------------------------------------------------------------------------------


def _device(config: GANTrainConfig, local_rank: int) -> torch.device:
    if config.device == "cpu" or (config.device == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    return torch.device("cuda", local_rank)


def _distribute(state: TrainState, world: int, device: torch.device) -> None:
    """Wrap G's step and D in DistributedDataParallel; each process trains on batch / world images."""
    ids = [device.index] if device.type == "cuda" else None
    state.g_step = nn.parallel.DistributedDataParallel(state.g_step, device_ids=ids, broadcast_buffers=False)
    state.d_model = nn.parallel.DistributedDataParallel(state.d_model, device_ids=ids, broadcast_buffers=False)
    state.processes = world


def train_gan(config: GANTrainConfig, *, progress: bool = True) -> Path:
    """Train (or resume) the run in `config.run_dir` until `config.steps`. Returns the run folder."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    device = _device(config, local_rank)
    if world > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            torch.cuda.set_device(device)
    if config.batch % world:
        raise ConfigError(f"batch {config.batch} does not split over {world} processes")
    run = RunFolder(config.run_dir, config.to_dict(), may_change=("steps", "device", "max_minutes"))
    run.claim(write=rank == 0)
    if config.precision == "bf16" and not native_bf16(device) and rank == 0:
        warnings.warn(
            f"this {device.type} has no native bfloat16, so bf16 autocast is emulated and each step will be many times "
            "slower than in float32; precision 'auto' uses bfloat16 only where it is native",
            stacklevel=2,
        )

    bank = ImageBank(config.dataset, config.model.size)
    state = new_state(config, device)
    metrics: list[dict] = []
    if run.has_checkpoint():
        metrics = restore(state, run.load_checkpoint())
    elif config.continue_from:
        metrics = continue_state(state, config, config.continue_from)
    elif config.init_from:
        warm_start(state, config.init_from)
    if world > 1 and state.step == 0:
        torch.manual_seed(config.seed + rank)  # each process draws its own batches and z
    if world > 1:
        _distribute(state, world, device)
    metric = (
        QualityMetric(bank, config.metric_samples, run.path / "real_features.npy") if config.metric_every and rank == 0 else None
    )

    bar = tqdm(total=config.steps, initial=state.step, desc="training GAN", unit="step", disable=not progress or rank != 0)
    started = time.perf_counter() - state.wall_seconds
    time_limit = config.max_minutes * 60 if config.max_minutes is not None else math.inf
    while state.step < config.steps and state.wall_seconds < time_limit:
        before = state.wall_seconds
        logs = train_step(state, config, bank)
        state.wall_seconds = time.perf_counter() - started
        bar.update()
        bar.set_postfix(d=f"{logs['loss_d']:.3f}", g=f"{logs['loss_g']:.3f}")
        if world > 1 and config.max_minutes is not None:  # every process stops at the same step: rank 0's clock decides
            clock = torch.tensor([state.wall_seconds], dtype=torch.float64, device=device)
            dist.broadcast(clock, 0)
            state.wall_seconds = float(clock)
        if rank != 0:
            continue
        done = state.step == config.steps or state.wall_seconds >= time_limit
        snapshots = snapshot_times_crossed(config, before, state.wall_seconds)
        sampled = state.step % config.sample_every == 0 or done
        samples = generate(state.ema, sample_z(state.ema, 64, seed=SAMPLE_SEED)) if snapshots or sampled else None
        for seconds in snapshots:  # a slow step may cross several snapshot times: the same EMA for each
            save_generator(state.ema, run.snapshot_path(seconds), extra={"step": state.prior_steps + state.step})
            save_grid(samples, run.snapshot_path(seconds).with_suffix(".png"))
        if sampled:
            save_grid(samples, run.sample_path(state.step))
        if metric is not None and (state.step % config.metric_every == 0 or done):
            entry = {
                "step": state.step,
                "kimg": state.step * config.batch / 1000,
                "wall_seconds": round(state.wall_seconds, 1),
                **metric(state.ema),
            }
            metrics.append(entry)
            bar.write(json.dumps(entry))
        if state.step % 50 == 0 or done:
            run.log({"step": state.step, "wall_seconds": round(state.wall_seconds, 1), **logs})
        if state.step % config.checkpoint_every == 0 or done:
            run.save_checkpoint(checkpoint_record(state, config, metrics))
            save_generator(state.ema, run.path / GENERATOR, extra={"step": state.prior_steps + state.step})
    bar.close()
    if world > 1:
        dist.destroy_process_group()
    return run.path
