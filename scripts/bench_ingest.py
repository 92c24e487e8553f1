"""Time the photo checks and the image cache on synthetic JPEGs, projected to 15,000 photos."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from thisineq.data.dataset import IngestConfig
from thisineq.data.photos.cache import build_image_cache
from thisineq.data.photos.checks import check_files
from thisineq.data.photos.metadata import read_metadata

TARGET = 15_000


@dataclass(frozen=True)
class Timing:
    label: str
    photos: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.photos / self.seconds if self.seconds > 0 else float("inf")

    def line(self) -> str:
        projected = TARGET / self.rate
        return (
            f"{self.label:<28} {self.seconds:8.2f} s  {self.rate:9.0f} photos/s  "
            f"projected for {TARGET:,}: {projected:7.1f} s ({projected / 60:.1f} min)"
        )


def synthetic_photo(args: tuple[Path, int, int, int]) -> int:
    """Write one JPEG of smooth random colour plus grain (photo-like sizes); returns its bytes.

    Args:
        args: (path, width, height, seed).
    """
    path, width, height, seed = args
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (height // 40 + 2, width // 40 + 2, 3), dtype=np.uint8))
    smooth = np.asarray(coarse.resize((width, height), Image.Resampling.BICUBIC), dtype=np.float32)
    grain = rng.standard_normal(smooth.shape, dtype=np.float32) * 8
    Image.fromarray(np.clip(smooth + grain, 0, 255).astype(np.uint8)).save(path, "JPEG", quality=90)
    return path.stat().st_size


def make_collection(folder: Path, n: int, width: int, height: int, workers: int) -> int:
    """Write n synthetic photos and a metadata.csv into `folder`; returns total photo bytes."""
    images = folder / "images"
    images.mkdir(parents=True)
    tasks = [(images / f"{i:06d}.jpg", width, height, i) for i in range(n)]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        total = sum(pool.imap_unordered(synthetic_photo, tasks, chunksize=32))
    rng = np.random.default_rng(0)
    pd.DataFrame(
        {
            "image": [f"images/{i:06d}.jpg" for i in range(n)],
            "lat": rng.uniform(51.3, 51.7, n),
            "lon": rng.uniform(-0.5, 0.3, n),
        }
    ).to_csv(folder / "metadata.csv", index=False)
    return total


def timed(label: str, photos: int, fn) -> tuple[Timing, object]:
    start = time.perf_counter()
    result = fn()
    return Timing(label, photos, time.perf_counter() - start), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000, help="synthetic photos (default 2000; 15000 for the full check)")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--size", type=int, default=IngestConfig().size, help="cache image side")
    parser.add_argument("--workers", type=int, default=IngestConfig().workers)
    parser.add_argument("--chunk", type=int, default=256)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="thisineq-bench-") as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        total_bytes = make_collection(folder, args.n, args.width, args.height, args.workers)
        print(
            f"generated {args.n:,} JPEGs of {args.width}x{args.height} "
            f"({total_bytes / args.n / 1024:.0f} KiB mean) in {time.perf_counter() - start:.1f} s (not timed); "
            f"{os.cpu_count()} CPUs, {args.workers} workers"
        )

        t_meta, meta = timed("read_metadata", args.n, lambda: read_metadata(folder / "metadata.csv"))
        t_check, (ok, problems) = timed("check_files", args.n, lambda: check_files(meta, folder, workers=args.workers))
        assert len(ok) == args.n and problems.empty, problems.head()
        paths = [Path(p) for p in ok["path"]]
        t_cache, failures = timed(
            f"build_image_cache (size {args.size})",
            args.n,
            lambda: build_image_cache(
                paths, args.size, folder / "cache.npy", workers=args.workers, chunk=args.chunk, progress=False
            ),
        )
        assert failures.empty, failures.head()
        cache = np.load(folder / "cache.npy", mmap_mode="r")
        print(f"cache: {cache.shape} {cache.dtype}, {cache.nbytes / 2**20:.1f} MiB")
        for timing in (t_meta, t_check, t_cache):
            print(timing.line())
        total = t_meta.seconds + t_check.seconds + t_cache.seconds
        print(f"{'total':<28} {total:8.2f} s; projected for {TARGET:,}: {total * TARGET / args.n / 60:.1f} min")


if __name__ == "__main__":
    main()
