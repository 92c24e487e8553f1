"""Print batch-inversion throughput (photos/s) per method at 64 and 256 px, in 1 and 2 processes (torchrun, gloo).

A small synthetic city is rendered at each size, and a generator and encoders of the demo's shape (at 256
px the default widths) are made with random weights: throughput depends on the shapes, not on what the
networks learned. The optimisers run a few steps and are scaled to their default steps per photo.

    python scripts/bench_batch_inversion.py [--photos 64] [--sizes 64 256] [--methods e4e restyle projector hybrid]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from thisineq.data.synth import city
from thisineq.data.synth.build import SynthConfig, build_city_dataset
from thisineq.models.encoders import EncoderConfig, build_encoder, save_encoder
from thisineq.models.stylegan2 import Generator, StyleGAN2Config, default_channels, sample_w, save_generator

METHODS = {"e4e": {}, "restyle": {}, "projector": {"steps": 20}, "hybrid": {"hybrid-steps": 10}}
DEFAULT_STEPS = {"projector": 1000, "hybrid": 100}  # BatchInversionConfig's: the optimisers' throughput is scaled to them


def models(folder: Path, size: int) -> dict[str, Path]:
    channels = {4: 256, 8: 256, 16: 128, 32: 64, 64: 32} if size == 64 else default_channels(size)
    generator = Generator(StyleGAN2Config(size=size, style_dim=256, n_mlp=4, channels=channels)).eval()
    generator.w_avg.copy_(sample_w(generator, 1000).mean(0))
    save_generator(generator, folder / "g.pt")
    paths = {"generator": folder / "g.pt"}
    for kind in ("e4e", "restyle"):
        encoder = build_encoder(kind, EncoderConfig.for_generator(generator), generator.w_avg)
        save_encoder(encoder, kind, folder / f"{kind}.pt", generator_sha256="-", step=0)
        paths[kind] = folder / f"{kind}.pt"
    return paths


def invert(folder: Path, dataset: Path, paths: dict[str, Path], method: str, processes: int) -> float:
    """Seconds for `thisineq invert` of the whole dataset (the optimisers with their benchmark steps)."""
    out = folder / f"{method}-{processes}"
    arguments = ["invert", "--method", method, "--dataset", str(dataset), "--out", str(out), "--chunk", "8"]
    arguments += ["--generator", str(paths["generator"]), "--e4e", str(paths["e4e"]), "--restyle", str(paths["restyle"])]
    for flag, value in METHODS[method].items():
        arguments += [f"--{flag}", str(value)]
    if method in ("projector", "hybrid"):
        arguments += ["--lpips", "alex"]
    launcher = [sys.executable, "-m", "thisineq.cli"]
    if processes > 1:
        launcher = [
            str(Path(sys.executable).with_name("torchrun")),
            "--standalone",
            f"--nproc-per-node={processes}",
            "-m",
            "thisineq.cli",
        ]
    threads = max(1, (os.cpu_count() or 1) // processes)
    start = time.perf_counter()
    subprocess.run(launcher + arguments, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=64)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, PyTorch {torch.__version__}; {args.photos} photos per run, chunks of 8")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as folder:
            folder = Path(folder)
            config = SynthConfig(n_photos=args.photos, size=size, city=city.CityConfig(n_lsoas=20, seed=1))
            dataset = build_city_dataset(folder / "city", config, workers=2, progress=False)
            paths = models(folder, size)
            for method, settings in ((m, METHODS[m]) for m in args.methods):
                row = []
                for processes in (1, 2):
                    seconds = invert(folder, dataset, paths, method, processes)
                    rate = args.photos / seconds
                    steps = settings.get("steps") or settings.get("hybrid-steps")
                    if steps:  # scaled to the default step count, the optimisation dominating
                        rate *= steps / DEFAULT_STEPS[method]
                    row.append(
                        f"{processes} process{'es' if processes > 1 else ''}: {rate:.3g} photos/s ({1 / rate:.3g} s/photo)"
                    )
                scaled = " (scaled to its default steps)" if method in DEFAULT_STEPS else ""
                print(f"{size} px, {method}{scaled}: " + "; ".join(row))


if __name__ == "__main__":
    main()
