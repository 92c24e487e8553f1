"""Invert every photo of a dataset with one method, resumably, into an inversion folder.

An inversion folder (one per method) holds:

| file | what |
|---|---|
| `latents.npz` | `photo_id` (N,), `ws` (N, num_ws, style_dim) stored as float16 (read back as float32; `w` = their mean over layers) |
| `reconstructions.npy` | uint8 (N, size, size, 3), row i ↔ photo_id[i] (not committed, and read by nothing: pages render from the latents) |
| `errors.csv` | per photo: MSE, PSNR, SSIM, LPIPS (AlexNet) against the cached photo, seconds |
| `inversion.json` | method, generator and encoder hashes, counts, settings |

Work is done in chunks written to `parts/` as it goes: a killed run resumes from the last chunk.
Chunks shard across processes or machines that share the folder: under `torchrun` each process
takes every WORLD_SIZE-th chunk and rank 0 merges once all are done; by hand, `shard=(k, n)` on n
machines (`thisineq invert --shard k/n`), and whichever finishes last merges. `parts/plan.json`
(the photos, method and settings) keeps every shard and every resumed run inverting the same plan.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from thisineq.config import option
from thisineq.data.photos import SPLITS
from thisineq.errors import ConfigError
from thisineq.images import to_tensor, to_uint8
from thisineq.invert import methods
from thisineq.invert.api import InversionModels, invert
from thisineq.io import atomic_open, sha256_file, write_json
from thisineq.metrics.image import mse, psnr, ssim


@dataclass(frozen=True)
class BatchInversionConfig:
    """What to invert, and how: one method over a dataset's photos, or a documented subset of them."""

    method: str = option(help=f"the inversion method: {', '.join(methods.NAMES)}")
    chunk: int = option(32, "photos per resumable chunk (and per batch)")
    split: str | tuple[str, ...] | None = option(None, f"only this split or these splits ({', '.join(SPLITS)}); None: all")
    limit: int | None = option(None, "only the first N photos (in dataset order): a documented subset; None: all")
    projector_steps: int = option(1000, "optimisation steps of the projector")
    hybrid_steps: int = option(100, "optimisation steps refining an encoder's code (the hybrid)")
    w_prior: float = option(0.0, "weight of the projector's prior holding w near W (0: StyleGAN2-ADA's projector)")

    def __post_init__(self):
        methods.method(self.method)  # an unknown method is named with the known ones
        for name in ("chunk", "projector_steps", "hybrid_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not self.w_prior >= 0:
            raise ConfigError(f"w_prior must be 0 or more, got {self.w_prior}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"limit must be at least 1 photo (or left out for all), got {self.limit}")
        if self.unknown_splits():
            raise ConfigError(f"unknown split(s) {self.unknown_splits()}; the splits are {', '.join(SPLITS)}")

    def splits(self) -> list[str] | None:
        """The splits to invert; None: all."""
        if self.split is None:
            return None
        return [self.split] if isinstance(self.split, str) else list(self.split)

    def unknown_splits(self) -> list[str]:
        """The named splits that no dataset has."""
        return sorted(set(self.splits() or ()) - set(SPLITS))


def invert_dataset(
    dataset_root: str | os.PathLike,
    models: InversionModels,
    out_dir: str | os.PathLike,
    config: BatchInversionConfig,
    *,
    sources: dict[str, str | os.PathLike] | None = None,
    progress: bool = True,
    shard: tuple[int, int] | None = None,
) -> Path | None:
    """Invert the dataset's photos into `out_dir`; resumes from finished chunks.

    `shard=(k, n)`: invert only chunks k, k + n, …; under torchrun (WORLD_SIZE > 1) the process's rank
    and the world size are the shard. Returns out_dir once the folder is complete (merged), None when
    this shard is done but others are not yet.
    """
    from thisineq.data.dataset import load_dataset
    from thisineq.metrics.lpips import LPIPS

    rank, world, distributed = _shard(shard)
    data = load_dataset(dataset_root)
    size = models.generator.config.size
    if data.image_size != size:
        raise ConfigError(
            f"dataset {dataset_root} caches {data.image_size}-px images but the generator makes {size}-px ones: "
            f"ingest the photos again with `thisineq data ingest … --size {size}`"
        )
    photos = photos_to_invert(data.photos, config)
    images = data.images()
    out_dir = Path(out_dir)
    parts = out_dir / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    chunks = [photos.iloc[i : i + config.chunk] for i in range(0, len(photos), config.chunk)]
    _check_plan(parts / "plan.json", config, photos.index)
    perceptual = LPIPS("alex")
    mine = [k for k in range(len(chunks)) if k % world == rank]
    bar = tqdm(total=sum(len(chunks[k]) for k in mine), desc=f"inverting ({config.method})", unit="photo", disable=not progress)
    for k in mine:
        part = parts / f"part_{k:05d}.npz"
        if not part.is_file():
            _invert_chunk(chunks[k], images, models, perceptual, config, part)
        bar.update(len(chunks[k]))
    bar.close()
    if distributed:
        import torch.distributed as dist

        dist.barrier()  # every rank's chunks are written
        if rank != 0:
            return None
    if not all((parts / f"part_{k:05d}.npz").is_file() for k in range(len(chunks))):
        return None  # other shards are still at work: the last to finish merges
    _merge(parts, len(chunks), out_dir)
    write_json(out_dir / "inversion.json", _record(config, len(photos), models, sources or {}))
    return out_dir


def _shard(shard: tuple[int, int] | None) -> tuple[int, int, bool]:
    """(rank, world size, whether under torch.distributed): torchrun's, else `shard`'s, else (0, 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("gloo")
        return dist.get_rank(), dist.get_world_size(), True
    if shard is None:
        return 0, 1, False
    k, n = shard
    if not (n >= 1 and 0 <= k < n):
        raise ConfigError(f"a shard is k/n with 0 ≤ k < n, got {k}/{n}")
    return k, n, False


OPTIMISER_SETTINGS = ("projector_steps", "hybrid_steps", "w_prior")  # what only the optimising methods read


def method_settings(config: BatchInversionConfig) -> dict:
    """The settings an inversion by `config.method` depends on: an encoder's leave out what only the optimisers read,
    so that its plan, its record and its resumable parts do not change with them."""
    settings = asdict(config)
    if not methods.method(config.method).optimises:
        for name in OPTIMISER_SETTINGS:
            settings.pop(name)
    return settings


def _check_plan(path: Path, config: BatchInversionConfig, photo_ids: pd.Index) -> None:
    """Write the folder's plan, or check that this run follows it: other photos or settings would mix two inversions."""
    plan = {
        "method": config.method,
        "settings": method_settings(config),
        "photos": len(photo_ids),
        "photo_ids_sha256": hashlib.sha256("\n".join(map(str, photo_ids)).encode("utf-8")).hexdigest(),
    }
    if not path.is_file():
        write_json(path, plan)  # shards starting together write the same plan; the rename is atomic
    found = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(found.get("settings"), dict):
        if methods.method(config.method).optimises:
            found["settings"].setdefault("w_prior", 0.0)  # a plan from before the prior: StyleGAN2-ADA's projector
        else:
            for name in OPTIMISER_SETTINGS:  # a plan from before encoders left them out: their parts stand regardless
                found["settings"].pop(name, None)
    wanted = json.loads(json.dumps(plan))
    if found != wanted:
        differs = sorted(k for k in plan if found.get(k) != wanted[k])
        raise ConfigError(
            f"{path.parent.parent} holds parts of another inversion ({', '.join(differs)} differ): "
            "use its settings, or another --out, or remove its parts/ folder"
        )


def photos_to_invert(photos: pd.DataFrame, config: BatchInversionConfig) -> pd.DataFrame:
    """The rows of a photos table that `config` picks, in dataset (cache) order."""
    splits = config.splits()
    chosen = photos if splits is None else photos[photos["split"].isin(splits)]
    return chosen.sort_values("cache_index").iloc[: config.limit]


def _record(config: BatchInversionConfig, n_photos: int, models: InversionModels, sources: dict) -> dict:
    """`inversion.json`: the method, its settings, and the hashes of the models it ran."""
    return {
        "method": config.method,
        "photos": int(n_photos),
        "settings": method_settings(config),
        "generator_size": models.generator.config.size,
        "sources": {name: {"path": str(path), "sha256": sha256_file(path)} for name, path in sources.items()},
    }


def _invert_chunk(
    chunk: pd.DataFrame, images, models: InversionModels, perceptual, config: BatchInversionConfig, part: Path
) -> None:
    target = to_tensor(np.asarray(images[chunk["cache_index"].to_numpy()]))
    result = invert(
        target,
        config.method,
        models,
        projector_steps=config.projector_steps,
        hybrid_steps=config.hybrid_steps,
        w_prior=config.w_prior,
    )
    recon = result.reconstruction
    with torch.no_grad():
        errors = {
            "mse": mse(recon, target).numpy(),
            "psnr": psnr(recon, target).numpy(),
            "ssim": ssim(recon, target).numpy(),
            "lpips": perceptual(recon, target).numpy(),
        }
    with atomic_open(part, "wb") as handle:
        np.savez(
            handle,
            photo_id=chunk.index.to_numpy().astype(str),
            ws=result.ws.numpy().astype(np.float32),
            reconstruction=to_uint8(recon),
            seconds=np.full(len(chunk), result.seconds / len(chunk)),
            **errors,
        )


def _merge(parts: Path, n_parts: int, out_dir: Path) -> None:
    loaded = [np.load(parts / f"part_{k:05d}.npz") for k in range(n_parts)]
    joined = {key: np.concatenate([p[key] for p in loaded]) for key in loaded[0].files}
    with atomic_open(out_dir / "latents.npz", "wb") as handle:
        np.savez(handle, photo_id=joined["photo_id"], ws=joined["ws"].astype(np.float16))  # half the size; ~1e-3 precision
    with atomic_open(out_dir / "reconstructions.npy", "wb") as handle:
        np.save(handle, joined["reconstruction"])
    errors = pd.DataFrame({k: joined[k] for k in ("photo_id", "mse", "psnr", "ssim", "lpips", "seconds")})
    with atomic_open(out_dir / "errors.csv", "w", encoding="utf-8", newline="") as handle:
        errors.to_csv(handle, index=False, float_format="%.6g")


@dataclass
class InversionSet:
    """A finished inversion folder, read."""

    method: str
    photo_id: np.ndarray  # (N,)
    ws: np.ndarray  # (N, num_ws, style_dim)
    w: np.ndarray  # (N, style_dim)
    errors: pd.DataFrame  # index photo_id


def load_inversions(folder: str | os.PathLike) -> InversionSet:
    """A finished inversion folder: its photo ids, latents (float32) and errors."""
    folder = Path(folder)
    if not (folder / "inversion.json").is_file():
        raise FileNotFoundError(f"{folder} is not a finished inversion folder (no inversion.json): run `thisineq invert`")
    manifest = json.loads((folder / "inversion.json").read_text(encoding="utf-8"))
    with np.load(folder / "latents.npz") as latents:
        photo_id, ws = latents["photo_id"], latents["ws"].astype(np.float32)
    errors = pd.read_csv(folder / "errors.csv", dtype={"photo_id": str}).set_index("photo_id")
    return InversionSet(manifest["method"], photo_id, ws, ws.mean(axis=1), errors)
