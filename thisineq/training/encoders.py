"""Train an inversion encoder (e4e or ReStyle) for a fixed generator.

Each batch mixes the GAN's own samples, whose latents are known (so the encoder can be told the
right answer), with real photos from the dataset's train split (so it learns the photos' domain).
Losses: pixel L2 and LPIPS on reconstructions, an L2 on latents for GAN samples; for e4e also the
offset penalty, progressive unlocking of layers and an optional latent critic on w. The run folder
(`RunFolder`, as the GAN's) holds an atomic, resumable checkpoint, the encoder, sample grids and a log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from thisineq.config import option
from thisineq.errors import ConfigError
from thisineq.io import sha256_file
from thisineq.metrics.lpips import BACKBONES
from thisineq.models.encoders import BACKBONES as ENCODER_BACKBONES
from thisineq.models.encoders import (
    KINDS,
    EncoderConfig,
    LatentDiscriminator,
    build_encoder,
    encode_and_generate,
    offset_penalty,
    restyle_invert,
    save_encoder,
)
from thisineq.models.stylegan2 import Generator, load_generator, sample_w, sample_ws
from thisineq.training.run import ImageBank, RunFolder, save_grid

LPIPS_NETS = tuple(BACKBONES)  # "alex", "vgg"
ENCODER = "encoder.pt"  # the trained encoder, in the run folder (`thisineq.models.encoders.load_encoder` reads it)


@dataclass
class EncoderTrainConfig:
    """Everything that determines an encoder training run."""

    kind: str = option(help="encoder kind", choices=KINDS)
    generator: str = option(help="generator checkpoint the encoder inverts into")
    dataset: str = option(help="dataset folder; its train split supplies the real photos")
    run_dir: str = option(help="run folder: checkpoint, encoder, samples, log; a run resumes from it")
    steps: int = option(20000, "total steps; raise it to train a finished run on")
    batch: int = option(16, "images per step: real photos and GAN samples")
    lr: float = option(1e-4, "Adam learning rate")
    real_fraction: float = option(0.5, "share of each batch that is real photos (the rest: GAN samples, whose latents are known)")
    lambda_l2: float = option(1.0, "weight of the pixel L2 loss")
    lambda_lpips: float = option(0.8, "weight of the LPIPS loss (0: off)")
    lambda_latent: float = option(10.0, "weight of the latent L2 on GAN samples (per-element MSE)")
    lambda_offset: float = option(2e-4, "e4e: weight of the offset (delta) penalty")
    lambda_adversarial: float = option(0.1, "e4e: weight of the latent critic on w (0: no critic)")
    unlock_every: int = option(1000, "e4e: steps between unlocking one more layer's offset")
    restyle_iterations: int = option(5, "ReStyle: passes per training step")
    lpips_net: str = option("alex", "LPIPS network of the loss: AlexNet, as pSp, e4e and ReStyle train", choices=LPIPS_NETS)
    backbone: str = option(
        "residual", "the encoder's backbone: trained from scratch or the pretrained EfficientNet-Lite0", choices=ENCODER_BACKBONES
    )
    encoder_widths: tuple[int, ...] = option(
        (32, 64, 128, 256), "residual backbone widths, from full resolution down (efficientnet: the last is its 4×4 level's)"
    )
    head_width: int = option(64, "channels of each W+ layer's map-to-style head")
    checkpoint_every: int = option(200, "steps between checkpoints")
    sample_every: int = option(1000, "steps between sample grids")
    seed: int = option(0, "random seed")

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ConfigError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if not 0 <= self.real_fraction <= 1:
            raise ConfigError(f"real_fraction must be within 0–1, got {self.real_fraction}")
        self.encoder_widths = tuple(self.encoder_widths)
        at_least_one = ("steps", "batch", "unlock_every", "restyle_iterations", "head_width", "checkpoint_every", "sample_every")
        wrong = [f"{name}={getattr(self, name)}" for name in at_least_one if getattr(self, name) < 1]
        wrong += [f"encoder_widths={self.encoder_widths}"] if not self.encoder_widths or min(self.encoder_widths) < 1 else []
        wrong += [f"lr={self.lr}"] if not self.lr > 0 else []
        wrong += [
            f"{name}={getattr(self, name)}"
            for name in ("lambda_l2", "lambda_lpips", "lambda_latent", "lambda_offset", "lambda_adversarial")
            if getattr(self, name) < 0
        ]
        if wrong:
            raise ConfigError(
                f"impossible training settings: {', '.join(wrong)} (counts and widths at least 1, the rate positive, weights 0 or more)"
            )
        if self.lpips_net not in LPIPS_NETS:
            raise ConfigError(f"lpips_net must be {' or '.join(LPIPS_NETS)}, got {self.lpips_net!r}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["encoder_widths"] = list(self.encoder_widths)
        return d


# --- the state of a run -----------------------------------------------------------------------------


@dataclass
class EncoderTrainState:
    """Everything a step uses and changes: the encoder, its optimiser, e4e's critic, the frozen generator, the step."""

    encoder: nn.Module
    optimizer: torch.optim.Optimizer
    generator: Generator  # frozen: the encoder learns to invert it
    critic: LatentDiscriminator | None = None  # e4e's latent critic (None: off)
    critic_optimizer: torch.optim.Optimizer | None = None
    perceptual: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None  # LPIPS (None when its weight is 0)
    step: int = 0
    model: nn.Module | None = None  # the encoder as a step calls it (None: `encoder`); DDP-wrapped under torchrun
    critic_model: nn.Module | None = None  # likewise e4e's critic
    processes: int = 1  # processes sharing each batch

    def __post_init__(self):
        self.model = self.model or self.encoder
        self.critic_model = self.critic_model or self.critic

    @property
    def device(self) -> torch.device:
        return self.generator.w_avg.device


def new_state(config: EncoderTrainConfig, generator: Generator) -> EncoderTrainState:
    from thisineq.metrics.lpips import LPIPS

    device = generator.w_avg.device
    encoder_config = EncoderConfig.for_generator(
        generator, widths=config.encoder_widths, head_width=config.head_width, backbone=config.backbone
    )
    encoder = build_encoder(config.kind, encoder_config, generator.w_avg).to(device)
    critic = LatentDiscriminator(generator.style_dim).to(device) if config.kind == "e4e" and config.lambda_adversarial else None
    return EncoderTrainState(
        encoder=encoder,
        optimizer=torch.optim.Adam(encoder.parameters(), lr=config.lr),
        generator=generator,
        critic=critic,
        critic_optimizer=torch.optim.Adam(critic.parameters(), lr=config.lr) if critic else None,
        perceptual=LPIPS(config.lpips_net).to(device) if config.lambda_lpips else None,
    )


def checkpoint_record(state: EncoderTrainState) -> dict:
    return {
        "step": state.step,
        "encoder": state.encoder.state_dict(),
        "optimizer": state.optimizer.state_dict(),
        "critic": state.critic.state_dict() if state.critic else {},
        "critic_optimizer": state.critic_optimizer.state_dict() if state.critic_optimizer else {},
        "torch_rng": torch.get_rng_state(),
    }


def restore(state: EncoderTrainState, checkpoint: dict) -> None:
    state.encoder.load_state_dict(checkpoint["encoder"])
    state.optimizer.load_state_dict(checkpoint["optimizer"])
    if state.critic is not None:
        state.critic.load_state_dict(checkpoint["critic"])
        state.critic_optimizer.load_state_dict(checkpoint["critic_optimizer"])
    torch.set_rng_state(checkpoint["torch_rng"])
    state.step = int(checkpoint["step"])


# --- losses ---------------------------------------------------------------------------------------


def reconstruction_loss(recon, target, perceptual, config: EncoderTrainConfig) -> torch.Tensor:
    """Per-batch mean of λ_l2 · pixel MSE + λ_lpips · LPIPS."""
    loss = config.lambda_l2 * F.mse_loss(recon, target)
    if config.lambda_lpips:
        loss = loss + config.lambda_lpips * perceptual(recon, target).mean()
    return loss


def latent_loss(ws_hat: torch.Tensor, ws_true: torch.Tensor) -> torch.Tensor:
    """Mean squared error per latent element: on the scale of the pixel losses, so neither drowns the other."""
    return (ws_hat - ws_true).square().mean()


# --- one step -------------------------------------------------------------------------------------


@torch.no_grad()
def gan_samples(generator: Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n GAN images and the ws that made them (stored noise, as inversions use; global RNG)."""
    ws = sample_ws(generator, n)
    return generator.synthesis(ws), ws


def train_step(state: EncoderTrainState, config: EncoderTrainConfig, bank: ImageBank) -> dict:
    """One update on a batch of real photos (the first `real_fraction`) and GAN samples. Returns the losses."""
    state.encoder.train()
    per_process = config.batch // state.processes
    n_real = round(per_process * config.real_fraction)
    real = bank.batch(n_real, state.device)
    fake, ws_fake = gan_samples(state.generator, per_process - n_real)
    target = torch.cat([real, fake])
    if config.kind == "e4e":
        state.encoder.set_stage(state.step // config.unlock_every)
        logs = _e4e_update(state, config, target, ws_fake)
    else:
        logs = _restyle_update(state, config, target, ws_fake)
    state.step += 1
    return logs


def _critic_update(state: EncoderTrainState, target: torch.Tensor) -> None:
    """e4e's critic learns to tell mapping outputs from the encoder's w."""
    with torch.no_grad():
        w_real = sample_w(state.generator, target.shape[0])
        w_fake = state.encoder(target)[:, 0]
    loss = F.softplus(-state.critic_model(w_real)).mean() + F.softplus(state.critic_model(w_fake)).mean()
    state.critic_optimizer.zero_grad(set_to_none=True)
    loss.backward()
    state.critic_optimizer.step()


def _e4e_update(state: EncoderTrainState, config: EncoderTrainConfig, target: torch.Tensor, ws_fake: torch.Tensor) -> dict:
    if state.critic is not None:
        _critic_update(state, target)
    ws = state.model(target)
    loss = reconstruction_loss(state.generator.synthesis(ws), target, state.perceptual, config)
    logs = {"reconstruction": loss.item()}
    n_real = len(target) - len(ws_fake)
    if len(ws_fake):
        loss = loss + config.lambda_latent * latent_loss(ws[n_real:], ws_fake)
    loss = loss + config.lambda_offset * offset_penalty(ws)
    if state.critic is not None:
        state.critic.requires_grad_(False)  # the encoder's turn: the critic only judges
        loss = loss + config.lambda_adversarial * F.softplus(-state.critic(ws[:, 0])).mean()
        state.critic.requires_grad_(True)
    state.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    state.optimizer.step()
    return {**logs, "loss": loss.item(), "stage": int(state.encoder.stage)}


def _restyle_update(state: EncoderTrainState, config: EncoderTrainConfig, target: torch.Tensor, ws_fake: torch.Tensor) -> dict:
    state.optimizer.zero_grad(set_to_none=True)
    n_real, total = len(target) - len(ws_fake), 0.0
    for ws, recon in restyle_invert(state.model, state.generator, target, config.restyle_iterations):
        loss = reconstruction_loss(recon, target, state.perceptual, config)
        if len(ws_fake):
            loss = loss + config.lambda_latent * latent_loss(ws[n_real:], ws_fake)
        loss.backward()  # per iteration: each iteration's input is detached, as in ReStyle
        total += loss.item()
    state.optimizer.step()
    return {"loss": total / config.restyle_iterations, "reconstruction": loss.item()}


@torch.no_grad()
def _sample_grid(state: EncoderTrainState, kind: str, bank: ImageBank, path: Path) -> None:
    """Top row: 8 fixed training photos; below, their reconstructions."""
    state.encoder.eval()
    real = bank.evenly_spaced(8).to(state.device)
    recon = encode_and_generate(state.encoder, kind, state.generator, real)[1]
    save_grid(torch.cat([real, recon]).cpu(), path, columns=len(real))


# --- the run ----------------------------------------------------------------------------------------


def _distribute(state: EncoderTrainState, world: int, device: torch.device) -> None:
    """Wrap the encoder (and critic) in DistributedDataParallel; each process trains on batch / world images."""
    ids = [device.index] if device.type == "cuda" else None
    # e4e's locked layers leave some offsets unused until they unlock.
    state.model = nn.parallel.DistributedDataParallel(state.encoder, device_ids=ids, find_unused_parameters=True)
    if state.critic is not None:
        state.critic_model = nn.parallel.DistributedDataParallel(state.critic, device_ids=ids)
    state.processes = world


def train_encoder(config: EncoderTrainConfig, *, progress: bool = True, device: str | None = None) -> Path:
    """Train (or resume) an encoder in `config.run_dir` until `config.steps`; under torchrun, data-parallel (each process
    a share of every batch, rank 0 writing). Returns the run folder."""
    import os

    import torch.distributed as dist

    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = device == "cuda" or (device is None and torch.cuda.is_available())
    device = torch.device("cuda", local_rank) if cuda and world > 1 else torch.device(device or ("cuda" if cuda else "cpu"))
    if world > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if config.batch % world:
        raise ConfigError(f"batch {config.batch} does not split over {world} processes")
    run = RunFolder(config.run_dir, config.to_dict())
    run.claim(write=rank == 0)
    torch.manual_seed(config.seed)
    generator = load_generator(config.generator).to(device).requires_grad_(False)
    generator_sha = sha256_file(config.generator)
    state = new_state(config, generator)
    bank = ImageBank(config.dataset, generator.config.size, split="train")
    if run.has_checkpoint():
        restore(state, run.load_checkpoint())
    if world > 1:
        torch.manual_seed(config.seed + 1000 * rank + state.step)  # each process draws its own photos and samples
        _distribute(state, world, device)
    bar = tqdm(
        total=config.steps, initial=state.step, desc=f"training {config.kind}", unit="step", disable=not progress or rank != 0
    )
    started = time.perf_counter()
    while state.step < config.steps:
        logs = train_step(state, config, bank)
        bar.update()
        bar.set_postfix(loss=f"{logs['loss']:.4f}")
        step, done = state.step, state.step == config.steps
        if rank != 0:
            continue
        if step % 50 == 0 or done:
            run.log({"step": step, "seconds": round(time.perf_counter() - started, 1), **logs})
        if step % config.checkpoint_every == 0 or done:
            run.save_checkpoint(checkpoint_record(state))
            save_encoder(state.encoder, config.kind, run.path / ENCODER, generator_sha256=generator_sha, step=step)
        if step % config.sample_every == 0 or done:
            _sample_grid(state, config.kind, bank, run.sample_path(step))
    bar.close()
    if world > 1:
        dist.barrier()  # rank 0's last checkpoint is on disk before any process returns
        dist.destroy_process_group()
    return run.path
