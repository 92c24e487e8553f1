"""What the projector's prior on w costs in fidelity and buys in where its codes lie.

    python scripts/bench_projector_prior.py [--dataset data/pipeline/city/dataset] [--photos 32] [--priors 0 0.001 0.01]

The first photos of a dataset are projected (500 steps, LPIPS-AlexNet: the demo pipeline's budget) with
each prior weight, and the script prints the reconstructions' LPIPS, the codes' atypicality in W (the
mean squared whitened coordinate: W's own samples average 1) and their spread along W's narrowest,
middle and widest principal axes, in W's own spread there (1: as W varies).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from thisineq.artifacts import demo_set
from thisineq.data.dataset import load_dataset
from thisineq.images import from_uint8
from thisineq.invert.project import project
from thisineq.latent.wspace import WSpace
from thisineq.metrics.lpips import LPIPS
from thisineq.models.stylegan2 import load_generator, sample_w

DEFAULT_DATASET = Path("data/pipeline/city/dataset")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dataset", type=Path, default=None, help=f"photos to project (default {DEFAULT_DATASET}, else the demo's)"
    )
    parser.add_argument("--generator", type=Path, default=demo_set().generator)
    parser.add_argument("--photos", type=int, default=32)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--priors", type=float, nargs="+", default=[0.0, 0.001, 0.01])
    args = parser.parse_args()
    if args.photos < 2 or args.steps < 1 or any(p < 0 for p in args.priors):
        print("--photos must be at least 2, --steps at least 1 and every prior 0 or more", file=sys.stderr)
        return 2
    dataset = load_dataset(
        args.dataset or (DEFAULT_DATASET if (DEFAULT_DATASET / "dataset.json").is_file() else demo_set().dataset)
    )
    generator = load_generator(args.generator).float().requires_grad_(False)
    photos = dataset.photos.sort_values("cache_index").head(args.photos)
    target = from_uint8(torch.from_numpy(np.array(dataset.images()[photos["cache_index"].to_numpy()])).permute(0, 3, 1, 2))
    lpips = LPIPS("alex")
    wspace = WSpace.from_samples(sample_w(generator, 10000, seed=0).double().numpy())  # what the prior whitens by
    values, vectors = np.linalg.eigh(wspace.cov)
    axes = {"narrowest": vectors[:, 0], "middle": vectors[:, len(values) // 2], "widest": vectors[:, -1]}
    rows = []
    for prior in args.priors:
        started = time.perf_counter()
        result = project(generator, target, perceptual=lpips, num_steps=args.steps, w_prior=prior)
        with torch.no_grad():
            distance = lpips(generator.synthesis(result.ws, noise=result.noise), target)
        codes = result.w.double().numpy()
        row = {"prior": prior, "lpips": distance.mean().item(), "atypicality": float(np.mean(wspace.whiten(codes) ** 2))}
        for name, axis in axes.items():
            row[f"spread {name}"] = wspace.relative_spread(codes, axis)
        row["seconds"] = time.perf_counter() - started
        rows.append(row)
        print(pd.DataFrame([row]).to_string(index=False, float_format=lambda v: f"{v:.3g}"), flush=True)
    print(f"\n{len(photos)} photos of {dataset.root}, {args.steps} steps:")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
