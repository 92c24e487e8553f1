"""What every trainer shares: the run folder (config guard, atomic checkpoints, JSON-lines log) and the bank of training images."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from thisineq.errors import ConfigError
from thisineq.images import from_uint8, image_grid
from thisineq.io import atomic_path, write_json
from thisineq.models.stylegan2 import safe_load

CHECKPOINT = "checkpoint.pt"  # everything needed to continue exactly
LOG = "log.jsonl"  # one JSON object per logged step
RUN_CONFIG = "run.json"  # the config the run was started with


class RunFolder:
    """A training run's folder: the config it was started with, its latest checkpoint, its log and its sample grids.

    A folder belongs to one config: a run resumes only with the same settings, except those named
    in `may_change` (the number of steps, so that a finished run can be trained on).
    """

    def __init__(self, path: str | os.PathLike, config: dict, *, may_change: tuple[str, ...] = ("steps",)):
        self.path = Path(path)
        self.config = json.loads(json.dumps(config))  # as run.json holds it: lists, string keys
        self.may_change = may_change

    def claim(self, *, write: bool = True) -> None:
        """Make the folder, refuse it if it was started with other settings, and record this run's (where `write`)."""
        self.path.mkdir(parents=True, exist_ok=True)
        path = self.path / RUN_CONFIG
        if path.is_file():
            started = json.loads(path.read_text(encoding="utf-8"))
            changes = setting_changes(started, {k: v for k, v in self.config.items() if k not in self.may_change})
            if changes:
                raise ConfigError(
                    f"{self.path} was started with other settings ({'; '.join(changes)}); "
                    "resume it with its own settings, or start a new run folder (--run-dir)"
                )
        if write:
            write_json(path, self.config)

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT

    def has_checkpoint(self) -> bool:
        return self.checkpoint.is_file()

    def save_checkpoint(self, record: dict) -> None:
        """Write the checkpoint atomically: a run killed while saving keeps its previous one."""
        with atomic_path(self.checkpoint) as tmp:
            torch.save(record, tmp)

    def load_checkpoint(self) -> dict:
        """The checkpoint, loaded safely (tensors and plain containers only)."""
        return safe_load(self.checkpoint)

    def log(self, entry: dict) -> None:
        """Append one line to the run's log."""
        with open(self.path / LOG, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")

    def sample_path(self, step: int) -> Path:
        return self.path / "samples" / f"step_{step:07d}.png"

    def snapshot_path(self, seconds: int) -> Path:
        """The EMA generator saved after `seconds` of training wall time (its sample grid: the same name, .png)."""
        return self.path / "snapshots" / f"wall_{seconds:06d}s.pt"

    def snapshots(self) -> dict[int, Path]:
        """Seconds of training wall time → snapshot file, for every snapshot the run has saved."""
        found = sorted((self.path / "snapshots").glob("wall_*s.pt"))
        return {int(path.stem.removeprefix("wall_").removesuffix("s")): path for path in found}


def setting_changes(started: dict, now: dict, prefix: str = "") -> list[str]:
    """'name: then → now' for each setting of `now` that differs from `started` (nested settings by dotted name)."""
    changes = []
    for name, value in now.items():
        before = started.get(name)
        if isinstance(value, dict) and isinstance(before, dict):
            changes += setting_changes(before, value, f"{prefix}{name}.")
        elif before != value:
            changes.append(f"{prefix}{name}: {json.dumps(before)} → {json.dumps(value)}")
    return changes


def save_grid(images: torch.Tensor, path: str | os.PathLike, columns: int = 8) -> None:
    """Images in [-1, 1], (N, 3, H, W), as one PNG `columns` wide, written atomically."""
    with atomic_path(path) as tmp:
        image_grid(images, columns).save(tmp, format="PNG")


class ImageBank:
    """A dataset's cached images in memory as uint8 (N, 3, H, W), from one split or all; batches as floats in [-1, 1]."""

    def __init__(self, dataset_root: str | os.PathLike, size: int, split: str | None = None):
        from thisineq.data.dataset import load_dataset

        data = load_dataset(dataset_root)
        if data.image_size != size:
            raise ConfigError(
                f"dataset {dataset_root} caches {data.image_size}-px images but the generator makes {size}-px ones: "
                f"ingest the photos again with `thisineq data ingest … --size {size}`"
            )
        images = data.images()
        if split is not None:
            images = images[np.sort(data.photos.loc[data.photos["split"] == split, "cache_index"].to_numpy())]
        if not len(images):
            raise ConfigError(f"dataset {dataset_root} has no {f'{split} ' if split else ''}photos to train on")
        self.images = torch.from_numpy(np.array(images)).permute(0, 3, 1, 2).contiguous()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index) -> torch.Tensor:
        """The images at `index` as floats in [-1, 1], (n, 3, H, W)."""
        return from_uint8(self.images[index])

    def batch(self, n: int, device, *, xflip: bool = False) -> torch.Tensor:
        """n images drawn at random (global RNG), each mirrored with probability ½ where `xflip`; (n, 3, H, W)."""
        index = torch.randint(0, len(self.images), (n,))
        x = from_uint8(self.images[index].to(device))
        if xflip:
            flip = torch.rand(n, device=device) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
        return x

    def evenly_spaced(self, n: int) -> torch.Tensor:
        """n images spread evenly over the bank (the same ones every time), as floats."""
        return self[torch.arange(0, len(self.images), max(1, len(self.images) // n))[:n]]
