"""Train an inversion encoder (e4e or ReStyle) for a fixed generator.

Each batch mixes the GAN's own samples, whose latents are known (so the encoder can be told the
right answer), with real photos from the dataset's train split (so it learns the photos' domain).
Losses: pixel L2 and LPIPS on reconstructions, an L2 on latents for GAN samples; for e4e also the
offset penalty, progressive unlocking of layers and an optional latent critic on w. Checkpoints
are atomic and resumable like the GAN's.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from thisineq.io import atomic_path, sha256_file, write_json
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
from thisineq.models.stylegan2 import Generator, broadcast, load_generator, safe_load
from thisineq.training.gan import save_grid

CHECKPOINT = "checkpoint.pt"
ENCODER = "encoder.pt"


@dataclass
class EncoderTrainConfig:
    """Everything that determines an encoder training run."""

    kind: str  # "e4e" or "restyle"
    generator: str  # generator checkpoint the encoder inverts into
    dataset: str  # dataset folder; its train split supplies the real photos
    run_dir: str
    steps: int = 20000
    batch: int = 16
    lr: float = 1e-4
    real_fraction: float = 0.5  # share of each batch that is real photos (the rest: GAN samples)
    lambda_l2: float = 1.0
    lambda_lpips: float = 0.8
    lambda_latent: float = 10.0  # on GAN samples, whose latents are known (per-element MSE)
    lambda_offset: float = 2e-4  # e4e's offset (delta) penalty
    lambda_adversarial: float = 0.1  # e4e's latent critic on w; 0 turns it off
    unlock_every: int = 1000  # e4e: steps between unlocking one more layer's offset
    restyle_iterations: int = 5
    lpips_net: str = "alex"
    encoder_widths: tuple[int, ...] = (32, 64, 128, 256)
    head_width: int = 64  # channels of each W+ layer's map-to-style head
    checkpoint_every: int = 200
    sample_every: int = 1000
    seed: int = 0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if not 0 <= self.real_fraction <= 1:
            raise ValueError(f"real_fraction must be within 0–1, got {self.real_fraction}")
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
            raise ValueError(
                f"impossible training settings: {', '.join(wrong)} (counts and widths at least 1, the rate positive, weights 0 or more)"
            )
        if self.lpips_net not in ("alex", "vgg"):
            raise ValueError(f"lpips_net must be alex or vgg, got {self.lpips_net!r}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["encoder_widths"] = list(self.encoder_widths)
        return d


# --- data -----------------------------------------------------------------------------------------


class PhotoSource:
    """Real photos of the train split, as floats in [-1, 1]."""

    def __init__(self, dataset_root: str | os.PathLike, size: int, split: str = "train"):
        from thisineq.data.dataset import load_dataset

        data = load_dataset(dataset_root)
        if data.image_size != size:
            raise ValueError(f"dataset {dataset_root} caches {data.image_size} px images; the generator makes {size} px")
        rows = data.photos.loc[data.photos["split"] == split, "cache_index"].to_numpy()
        self.images = torch.from_numpy(np.array(data.images()[np.sort(rows)])).permute(0, 3, 1, 2).contiguous()

    def batch(self, n: int, device) -> torch.Tensor:
        index = torch.randint(0, len(self.images), (n,))
        return self.images[index].to(device).float() / 127.5 - 1


@torch.no_grad()
def gan_samples(generator: Generator, n: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """n GAN images and the ws that made them (stored noise, as inversions use)."""
    ws = broadcast(generator.mapping(torch.randn(n, generator.style_dim, device=device)), generator.num_ws)
    return generator.synthesis(ws), ws


# --- losses ---------------------------------------------------------------------------------------


def reconstruction_loss(recon, target, lpips, config: EncoderTrainConfig) -> torch.Tensor:
    """Per-batch mean of λ_l2 · pixel MSE + λ_lpips · LPIPS."""
    loss = config.lambda_l2 * F.mse_loss(recon, target)
    if config.lambda_lpips:
        loss = loss + config.lambda_lpips * lpips(recon, target).mean()
    return loss


def latent_loss(ws_hat: torch.Tensor, ws_true: torch.Tensor) -> torch.Tensor:
    """Mean squared error per latent element: on the scale of the pixel losses, so neither drowns the other."""
    return (ws_hat - ws_true).square().mean()


# --- the run ----------------------------------------------------------------------------------------


def train_encoder(config: EncoderTrainConfig, *, progress: bool = True, device: str | None = None) -> Path:
    """Train (or resume) an encoder in `config.run_dir` until `config.steps`. Returns the run folder."""
    from thisineq.metrics.lpips import LPIPS

    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    run_dir = Path(config.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    _check_run_config(run_dir, config)
    torch.manual_seed(config.seed)
    generator = load_generator(config.generator).to(device).requires_grad_(False)
    generator_sha = sha256_file(config.generator)
    encoder_config = EncoderConfig.for_generator(generator, widths=config.encoder_widths, head_width=config.head_width)
    encoder = build_encoder(config.kind, encoder_config, generator.w_avg).to(device)
    critic = LatentDiscriminator(generator.style_dim).to(device) if config.kind == "e4e" and config.lambda_adversarial else None
    optimizer = torch.optim.Adam(encoder.parameters(), lr=config.lr)
    critic_optimizer = torch.optim.Adam(critic.parameters(), lr=config.lr) if critic else None
    lpips = LPIPS(config.lpips_net).to(device) if config.lambda_lpips else None
    photos = PhotoSource(config.dataset, generator.config.size)
    step = 0
    if (run_dir / CHECKPOINT).is_file():
        step = _load(run_dir / CHECKPOINT, encoder, optimizer, critic, critic_optimizer)
    n_real = round(config.batch * config.real_fraction)
    bar = tqdm(total=config.steps, initial=step, desc=f"training {config.kind}", unit="step", disable=not progress)
    started = time.perf_counter()
    while step < config.steps:
        encoder.train()
        real = photos.batch(n_real, device)
        fake, ws_fake = gan_samples(generator, config.batch - n_real, device)
        target = torch.cat([real, fake])
        if config.kind == "e4e":
            encoder.set_stage(step // config.unlock_every)
            logs = _e4e_step(encoder, critic, critic_optimizer, generator, target, ws_fake, n_real, lpips, config, optimizer)
        else:
            logs = _restyle_step(encoder, generator, target, ws_fake, n_real, lpips, config, optimizer)
        step += 1
        bar.update()
        bar.set_postfix(loss=f"{logs['loss']:.4f}")
        if step % 50 == 0 or step == config.steps:
            with open(run_dir / "log.jsonl", "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"step": step, "seconds": round(time.perf_counter() - started, 1), **logs}) + "\n")
        if step % config.checkpoint_every == 0 or step == config.steps:
            _save(run_dir / CHECKPOINT, step, encoder, optimizer, critic, critic_optimizer)
            save_encoder(encoder, config.kind, run_dir / ENCODER, generator_sha256=generator_sha, step=step)
        if step % config.sample_every == 0 or step == config.steps:
            _sample_grid(encoder, config.kind, generator, photos, run_dir / "samples" / f"step_{step:07d}.png", device)
    bar.close()
    return run_dir


def _e4e_step(encoder, critic, critic_optimizer, generator, target, ws_fake, n_real, lpips, config, optimizer) -> dict:
    if critic is not None:  # the critic learns to tell mapping outputs from encoder outputs
        with torch.no_grad():
            w_real = generator.mapping(torch.randn(target.shape[0], generator.style_dim, device=target.device))
            w_fake = encoder(target)[:, 0]
        critic_loss = F.softplus(-critic(w_real)).mean() + F.softplus(critic(w_fake)).mean()
        critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        critic_optimizer.step()
    ws = encoder(target)
    recon = generator.synthesis(ws)
    loss = reconstruction_loss(recon, target, lpips, config)
    logs = {"reconstruction": loss.item()}
    if len(ws_fake):
        loss = loss + config.lambda_latent * latent_loss(ws[n_real:], ws_fake)
    loss = loss + config.lambda_offset * offset_penalty(ws)
    if critic is not None:
        loss = loss + config.lambda_adversarial * F.softplus(-critic(ws[:, 0])).mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return {**logs, "loss": loss.item(), "stage": int(encoder.stage)}


def _restyle_step(encoder, generator, target, ws_fake, n_real, lpips, config, optimizer) -> dict:
    optimizer.zero_grad(set_to_none=True)
    total = 0.0
    for ws, recon in restyle_invert(encoder, generator, target, config.restyle_iterations):
        loss = reconstruction_loss(recon, target, lpips, config)
        if len(ws_fake):
            loss = loss + config.lambda_latent * latent_loss(ws[n_real:], ws_fake)
        loss.backward()  # per iteration: each iteration's input is detached, as in ReStyle
        total += loss.item()
    optimizer.step()
    return {"loss": total / config.restyle_iterations, "reconstruction": loss.item()}


@torch.no_grad()
def _sample_grid(encoder, kind, generator, photos: PhotoSource, path: Path, device) -> None:
    """Top row: 8 fixed real photos; below, their reconstructions."""
    encoder.eval()
    index = torch.arange(0, len(photos.images), max(1, len(photos.images) // 8))[:8]
    real = photos.images[index].to(device).float() / 127.5 - 1
    recon = encode_and_generate(encoder, kind, generator, real)[1]
    save_grid(torch.cat([real, recon]).cpu(), path, columns=len(real))


def _save(path: Path, step: int, encoder, optimizer, critic, critic_optimizer) -> None:
    record = {
        "step": step,
        "encoder": encoder.state_dict(),
        "optimizer": optimizer.state_dict(),
        "critic": critic.state_dict() if critic else {},
        "critic_optimizer": critic_optimizer.state_dict() if critic_optimizer else {},
        "torch_rng": torch.get_rng_state(),
    }
    with atomic_path(path) as tmp:
        torch.save(record, tmp)


def _load(path: Path, encoder, optimizer, critic, critic_optimizer) -> int:
    record = safe_load(path)
    encoder.load_state_dict(record["encoder"])
    optimizer.load_state_dict(record["optimizer"])
    if critic is not None:
        critic.load_state_dict(record["critic"])
        critic_optimizer.load_state_dict(record["critic_optimizer"])
    torch.set_rng_state(record["torch_rng"])
    return int(record["step"])


def _check_run_config(run_dir: Path, config: EncoderTrainConfig) -> None:
    path = run_dir / "run.json"
    record = config.to_dict()
    if path.is_file():
        previous = json.loads(path.read_text(encoding="utf-8"))
        differs = sorted(k for k in record if k != "steps" and previous.get(k) != record[k])
        if differs:
            raise ValueError(f"{run_dir} was started with other settings ({', '.join(differs)}); use a new --run-dir")
    write_json(path, record)
