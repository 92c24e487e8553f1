"""Bringing a lab's own model in: a stylegan2-ada-pytorch snapshot (or a rosinality training checkpoint) written as the
project's checkpoint, with a model card.

`import_ada_snapshot` reads the snapshot as data (`ada_snapshot`: nothing stored in it runs),
converts G_ema (and D where asked) into the project's StyleGAN2 (`ada_convert`) and writes, each
file atomically: `generator.pt` (the format every page and command loads), `discriminator.pt`
(where asked), `samples.png` and `MODEL_CARD.md`, which records the source file's hash, what was
imported, the constructor arguments and the hash of the code the snapshot carried.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from thisineq.images import image_grid
from thisineq.io import atomic_open, atomic_path, sha256_file
from thisineq.models.ada_convert import ada_discriminator, ada_generator
from thisineq.models.ada_snapshot import AdaSnapshot, UnsafeSnapshotError, read_ada_snapshot
from thisineq.models.stylegan2 import (
    CheckpointError,
    Discriminator,
    StyleGAN2Config,
    load_weights,
    rosinality_generator,
    safe_load,
    sample_z,
    save_generator,
)

SAMPLE_SEED = 0
DISCRIMINATOR_FORMAT = "thisineq-stylegan2-discriminator"


def import_ada_snapshot(
    path: str | os.PathLike, out_dir: str | os.PathLike, *, discriminator: bool = False, class_index: int = 0
) -> Path:
    """Write a stylegan2-ada-pytorch snapshot's G_ema (and D) in the project's format into `out_dir`; returns it.

    A conditional generator draws class `class_index` wherever the project asks for images without a class.
    """
    snapshot = read_ada_snapshot(path)
    if "G_ema" not in snapshot.networks:
        raise UnsafeSnapshotError(f"{path} holds no G_ema (found {', '.join(snapshot.networks)}): nothing to import")
    if discriminator and "D" not in snapshot.networks:
        raise UnsafeSnapshotError(f"{path} holds no D: import it without the discriminator")
    generator = ada_generator(snapshot.networks["G_ema"], class_index)  # every check before anything is written
    d = ada_discriminator(snapshot.networks["D"], generator.config, class_index) if discriminator else None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    source = {"file": Path(path).name, "sha256": snapshot.sha256, "format": "stylegan2-ada-pytorch snapshot"}
    save_generator(generator, out_dir / "generator.pt", extra={"imported_from": source})
    if d is not None:
        save_discriminator(d, out_dir / "discriminator.pt", extra={"imported_from": source})
    write_samples(generator, out_dir / "samples.png")
    with atomic_open(out_dir / "MODEL_CARD.md", "w", encoding="utf-8") as handle:
        handle.write(model_card(snapshot, generator.config, discriminator, class_index))
    return out_dir


def sample_count(size: int) -> int:
    """Samples for the card: 16 up to 128 px, fewer above (a 512-px image takes seconds on a CPU; the import should not)."""
    return max(1, min(16, 16 * 128 * 128 // (size * size)))


def write_samples(generator, path: Path) -> None:
    """`sample_count` samples at truncation ψ 0.7 (seed SAMPLE_SEED) as one PNG, atomically."""
    n = sample_count(generator.config.size)
    with torch.no_grad():
        samples = generator(sample_z(generator, n, seed=SAMPLE_SEED), truncation_psi=0.7)
    with atomic_path(path) as tmp:
        image_grid(samples, min(n, 8)).save(tmp, format="PNG")


def save_discriminator(d: Discriminator, path: str | os.PathLike, *, extra: dict | None = None) -> None:
    """A discriminator in the project's format: state dict, its plain config (its own clamp), minibatch group and
    conditioning, atomically."""
    record = {
        "format": DISCRIMINATOR_FORMAT,
        "config": d.config.to_dict(),
        "stddev_group": d.stddev_group,
        "conditioning": d.conditioning(),
        "d": d.state_dict(),
    }
    with atomic_path(path) as tmp:
        torch.save({**record, **(extra or {})}, tmp)


def load_saved_discriminator(path: str | os.PathLike) -> Discriminator:
    """A discriminator `save_discriminator` wrote (`thisineq import --discriminator`), safely loaded, in eval mode."""
    record = safe_load(path)
    if record.get("format") != DISCRIMINATOR_FORMAT:
        raise CheckpointError(f"{path} is not a discriminator written by thisineq import (format {record.get('format')!r})")
    config = StyleGAN2Config.from_dict(record["config"])
    d = Discriminator(config, int(record["stddev_group"]), **record.get("conditioning", {}))
    load_weights(d, record["d"])
    return d.eval().requires_grad_(False)


def kept_discriminator(path: str | os.PathLike) -> Discriminator | None:
    """The discriminator an artifact set keeps at `path` (`gan/discriminator.pt`), or None where it keeps none."""
    return load_saved_discriminator(path) if Path(path).is_file() else None


def model_card(snapshot: AdaSnapshot, config: StyleGAN2Config, discriminator: bool, class_index: int = 0) -> str:
    g = snapshot.networks["G_ema"]
    imported = "G_ema (the generator every page uses)" + (" and D" if discriminator else "")
    arguments = {name: record.init_kwargs for name, record in snapshot.networks.items()}
    sources = "\n".join(
        f"| {name} | {record.class_name} | `{record.source_sha256}` |" for name, record in snapshot.networks.items()
    )
    clamp = f"±{config.conv_clamp:g}" if config.conv_clamp is not None else "none"
    classes = (
        f"\n\nConditional on {config.c_dim} classes: every page and step draws class {class_index} (`--class` at import)."
        if config.c_dim
        else ""
    )
    return f"""# Model card: imported StyleGAN2-ADA generator

Imported from `{snapshot.path.name}` (sha256 `{snapshot.sha256}`), a stylegan2-ada-pytorch network snapshot, by
`thisineq import`. Imported: {imported}.

The snapshot was read as data by a restricted unpickler: **no code stored in it was run**. Each network it
carried also carried the source code of its module; that code was hashed, never imported or executed:

| network | class | sha256 of the stored module source |
|---|---|---|
{sources}

## The converted generator

{config.size}×{config.size} px, w {config.style_dim} dimensions, z {config.z_size}, {config.n_mlp} mapping layers
(learning-rate multiplier {config.lr_mlp:g}), {g.init_kwargs.get("synthesis_kwargs", {}).get("num_fp16_res", 0)}
float16 resolutions computed in float32, activation clamp {clamp}; widths by resolution
{", ".join(f"{r} px: {c}" for r, c in config.channels.items())}. Weights converted one for one into the project's
StyleGAN2 (the layout e4e and ReStyle use); on the reference fixture the converted networks reproduce the
original's mapping, truncation, images and discriminator logits to 1e-4.{classes}

## Constructor arguments, as stored

```json
{json.dumps(arguments, indent=2, default=str)}
```

Training data as the snapshot records it: `{json.dumps(snapshot.extras.get("training_set_kwargs"), default=str)}`.
`samples.png`: {sample_count(config.size)} sample(s) at truncation ψ 0.7 (seed {SAMPLE_SEED}).
"""


def import_checkpoint(
    path: str | os.PathLike, out_dir: str | os.PathLike, *, discriminator: bool = False, class_index: int = 0
) -> Path:
    """`thisineq import`: a stylegan2-ada-pytorch snapshot (a pickle) or a rosinality checkpoint (a torch zip), by content."""
    with open(path, "rb") as handle:
        magic = handle.read(2)
    if magic == b"PK":
        return import_rosinality_checkpoint(path, out_dir, discriminator=discriminator)
    return import_ada_snapshot(path, out_dir, discriminator=discriminator, class_index=class_index)


def import_rosinality_checkpoint(path: str | os.PathLike, out_dir: str | os.PathLike, *, discriminator: bool = False) -> Path:
    """A rosinality checkpoint's g_ema (and, from a training checkpoint, d) in the project's format, read safely."""
    checkpoint = safe_load(path)  # weights_only, with argparse.Namespace the one addition
    generator = rosinality_generator(checkpoint, path)
    d = None
    if discriminator:
        if "d" not in checkpoint:
            raise CheckpointError(f"{path} holds no discriminator ('d'): import it without --discriminator")
        d = Discriminator(generator.config)
        load_weights(d, checkpoint["d"])
    digest = sha256_file(path)
    source = {"file": Path(path).name, "sha256": digest, "format": "rosinality checkpoint"}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_generator(generator, out_dir / "generator.pt", extra={"imported_from": source})
    if d is not None:
        save_discriminator(d, out_dir / "discriminator.pt", extra={"imported_from": source})
    write_samples(generator, out_dir / "samples.png")
    args = checkpoint.get("args")
    arguments = json.dumps(vars(args), indent=2, default=str) if args is not None else "(none stored)"
    config = generator.config
    with atomic_open(out_dir / "MODEL_CARD.md", "w", encoding="utf-8") as handle:
        handle.write(
            f"""# Model card: imported rosinality StyleGAN2

Imported from `{Path(path).name}` (sha256 `{digest}`), a rosinality stylegan2-pytorch checkpoint, by `thisineq import`,
read with torch's weights-only loader. Imported: g_ema{" and d" if d is not None else ""}.

{config.size}×{config.size} px, w {config.style_dim} dimensions, {config.n_mlp} mapping layers; widths by resolution
{", ".join(f"{r} px: {c}" for r, c in config.channels.items())}.

Training arguments, as stored:

```json
{arguments}
```
"""
        )
    return out_dir
