"""How wide do a method's own codes spread along its walk directions, in the slider's unit σ (W's spread)?

    python scripts/bench_boundary_spread.py [--work data/pipeline] [--set artifacts/demo] [--fractions 0.25 0.5 1]

A walk of ±6σ is issue 18's known-unsupported edit. It leaves the photos only where the method's
codes spread about 1σ along the direction walked: at 3σ it is two of their spreads, and ends among
the photos. Per method and domain, the whitened boundary is refitted on random shares of its labelled
codes (the pipeline's boundary photos in the work folder, the same labels and C grid), and the
spread of all its codes along each walk direction is printed in σ, with the spread along the other
methods' boundaries and along W's widest and narrowest principal axes beside it. If the spread
falls as codes are added, more codes bring the walks' ends out of the photos; if it stays, the
codes themselves vary along the direction more than W does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from thisineq.errors import ThisIneqError
from thisineq.invert.batch import load_inversions
from thisineq.latent.boundaries import LatentBoundary
from thisineq.latent.labels import CLASS_DEFINITIONS, labelled_subset
from thisineq.models.stylegan2 import load_generator
from thisineq.pipeline.boundaries import generator_wspace
from thisineq.pipeline.config import PipelineConfig
from thisineq.pipeline.workspace import Workspace

REPEATS = 3  # random subsets per share below 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("data/pipeline"), help="the pipeline's work folder")
    parser.add_argument("--set", type=Path, default=Path("artifacts/demo"), help="the artifact set (its generator)")
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    args = parser.parse_args()
    if not all(0 < f <= 1 for f in args.fractions):
        print("--fractions must lie in (0, 1]", file=sys.stderr)
        return 2
    config = PipelineConfig(work=str(args.work), out=str(args.set))
    paths = Workspace(config)
    try:
        photos = paths.labelled_photos()
        sets = {m: load_inversions(p) for m, p in paths.boundary_latents().items() if p.is_dir()}
        generator = load_generator(paths.generator).float().requires_grad_(False)
    except (ThisIneqError, OSError) as error:
        print(f"cannot read the pipeline's boundary photos: {error}", file=sys.stderr)
        return 2
    if not sets:
        print(f"no boundary inversions under {args.work}: run `thisineq pipeline` first", file=sys.stderr)
        return 2
    wspace, _ = generator_wspace(generator, config)
    _, vectors = np.linalg.eigh(wspace.cov)
    widest, narrowest = vectors[:, -1], vectors[:, 0]
    definition = CLASS_DEFINITIONS[config.boundary_classes[0]]
    rng = np.random.default_rng(config.seed)
    fitted: dict[tuple[str, str], np.ndarray] = {}
    rows = []
    for method, inversions in sets.items():
        codes, rows_of = inversions.w, photos.loc[inversions.photo_id]
        for domain in config.domains:
            subset = labelled_subset(codes, rows_of, domain, config.seed, definition)
            if subset.too_few:
                continue
            for fraction in args.fractions:
                count = max(int(round(fraction * len(subset.y))), 12)
                spreads = []
                for _ in range(REPEATS if count < len(subset.y) else 1):
                    rows_ = np.sort(rng.choice(len(subset.y), count, replace=False))
                    boundary = LatentBoundary(whitening=wspace, random_state=config.seed)
                    try:
                        boundary.fit(subset.X[rows_], subset.y[rows_], subset.groups[rows_])
                    except (ThisIneqError, ValueError):  # too few areas per class in a small share
                        continue
                    spreads.append(wspace.relative_spread(codes, boundary.walk_direction_))
                    if count == len(subset.y):
                        fitted[method, domain] = boundary.walk_direction_
                if spreads:
                    rows.append({"method": method, "domain": domain, "labelled": count, "spread (σ)": np.mean(spreads)})
    table = pd.DataFrame(rows)
    print("Spread of each method's codes along its own whitened boundary, refitted on shares of its labelled codes:")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print("\nSpread of each method's codes (rows) along each method's boundary fitted on all its labelled codes (columns):")
    cross = pd.DataFrame(
        {
            f"{owner}/{domain}": {m: wspace.relative_spread(s.w, direction) for m, s in sets.items()}
            for (owner, domain), direction in fitted.items()
        }
    )
    cross["W's widest axis"] = {m: wspace.relative_spread(s.w, widest) for m, s in sets.items()}
    cross["W's narrowest axis"] = {m: wspace.relative_spread(s.w, narrowest) for m, s in sets.items()}
    with pd.option_context("display.width", 200):
        print(cross.T.to_string(float_format=lambda v: f"{v:.2f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
