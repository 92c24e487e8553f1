"""Does the walk move what image models read? Print, per domain, how often a walk towards privilege raises the
decile the image-side predictor reads (issue 17's target: ≥ 90% of photos), beside random directions.

    python scripts/bench_walk_readings.py [--set artifacts/demo] [--dataset data/pipeline/city/dataset] [--photos 100]
        [--method e4e] [--fit whitened] [--walk plain]

Held-out photos (val/test splits, never in the encoders' training split) of the dataset are inverted
with an encoder; each code is walked along each domain's boundary over the steps, every image is
read by the set's decile predictor, and the walk agrees when Spearman's ρ of step against the
walked domain's predicted decile is positive. Random directions, with W's own spread along them,
are the baseline: about half of their walks agree by chance. The predictor was fitted on every
training-city photo; the walked images are new images, but a code's start sits near its photo.

The reference is a faithful reader: where the synthetic city's known-answer oracle and ground truth
are at hand, the same walks are read by the oracle (the visual factors in each image) and a linear
ordinal model fitted on the photos' true factors. It says how often a walk moves the factors that
set the domain's deciles at all: what an image model that reads the city perfectly would report.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from thisineq.artifacts import ArtifactSet, demo_set
from thisineq.data.dataset import load_dataset
from thisineq.data.synth.render import LINKED_FACTORS
from thisineq.images import from_uint8
from thisineq.invert.api import InversionModels, invert
from thisineq.latent.normals import DEFAULT_FIT, FITS, WALKS, BoundarySet, Direction
from thisineq.models.stylegan2 import sample_w
from thisineq.predict.reader import load_image_reader, walk_agreement, walk_readings

DEFAULT_DATASET = Path("data/pipeline/city/dataset")  # the pipeline's training city, where it was built
DEFAULT_ORACLE = Path("data/pipeline/oracles/oracle_seed0.pt")  # its known-answer oracle, where it was trained


class FaithfulReader:
    """Deciles read from an image's visual factors: the oracle's readings through a linear ordinal model fitted on
    the photos' true factors (the same model the predict step's ceiling uses)."""

    def __init__(self, oracle_path: Path, dataset_path: Path, domains: list[str]):
        from thisineq.known_answer.oracle import load_oracle
        from thisineq.predict.evaluate import location_ids
        from thisineq.predict.ordinal import OrdinalDecileRegressor

        self.oracle, _ = load_oracle(oracle_path)
        photos = load_dataset(dataset_path).photos.sort_values("cache_index")
        truth = pd.read_csv(dataset_path.parent / "ground_truth.csv", dtype={"photo_id": str}).set_index("photo_id")
        factors = truth.loc[photos.index, list(LINKED_FACTORS)].to_numpy()
        self.models = {
            key: OrdinalDecileRegressor(hidden=(), dropout=0.0).fit(
                factors, photos[f"{key}_decile"].to_numpy().astype(int), location_ids(photos)
            )
            for key in domains
        }

    def read(self, images: torch.Tensor) -> pd.DataFrame:
        from thisineq.known_answer.oracle import predict_linked

        factors = predict_linked(self.oracle, images)
        return pd.DataFrame({key: model.predict(factors) for key, model in self.models.items()})


def held_out_photos(dataset_path: Path, n: int) -> np.ndarray:
    """The first n val/test photos of a dataset (uint8 (n, H, W, 3)), in dataset order."""
    data = load_dataset(dataset_path)
    photos = data.photos[data.photos["split"].isin(["val", "test"])].sort_values("cache_index").iloc[:n]
    return np.asarray(data.images())[photos["cache_index"].to_numpy()]


def random_directions(generator, n: int, seed: int) -> list[Direction]:
    """n random unit directions in W, each with W's spread along it (what a slider step means)."""
    w = sample_w(generator, 5000, seed).double().numpy()
    normals = np.random.default_rng(seed).normal(size=(n, w.shape[1]))
    return [Direction.from_latents(f"random {i}", normal, w) for i, normal in enumerate(normals)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--set", type=Path, default=demo_set().root, help="the artifact set (generator, encoder, boundaries, predictor)"
    )
    parser.add_argument(
        "--dataset", type=Path, default=None, help=f"whose held-out photos to walk (default {DEFAULT_DATASET}, else the set's)"
    )
    parser.add_argument("--photos", type=int, default=100)
    parser.add_argument("--method", default="e4e", choices=("e4e", "restyle"))
    parser.add_argument("--steps", type=float, nargs="+", default=[-3, -2, -1, 0, 1, 2, 3])
    parser.add_argument("--fit", default=DEFAULT_FIT, choices=FITS, help="which fit of the boundaries to walk")
    parser.add_argument(
        "--walk", default="plain", choices=WALKS, help="as fitted, or conditional on / orthogonal to the other domains'"
    )
    parser.add_argument("--random", type=int, default=3, help="random directions walked as the baseline")
    parser.add_argument(
        "--oracle", type=Path, default=DEFAULT_ORACLE, help="a known-answer oracle for the faithful reader (skipped if absent)"
    )
    args = parser.parse_args()
    artifacts = ArtifactSet(args.set)
    dataset = args.dataset or (DEFAULT_DATASET if (DEFAULT_DATASET / "dataset.json").is_file() else artifacts.dataset)
    reader = load_image_reader(artifacts)
    if reader is None or not reader.domains:
        print(f"{args.set} has no decile predictor: build it with `thisineq pipeline --only predict`", file=sys.stderr)
        return 2
    started = time.perf_counter()
    models = InversionModels.load(artifacts.generator, **{args.method: artifacts.encoder(args.method)}, lpips_net=None)
    generator = models.generator
    photos = held_out_photos(dataset, args.photos)
    with torch.inference_mode():
        images = from_uint8(torch.from_numpy(photos).permute(0, 3, 1, 2))
        codes = torch.cat([invert(chunk, args.method, models).ws for chunk in images.split(32)])
    print(f"{len(photos)} held-out photos of {dataset} inverted with {args.method} in {time.perf_counter() - started:.0f} s")
    directions = BoundarySet.load(artifacts.normals).directions(args.method, fit=args.fit, walk=args.walk)
    faithful = None
    if args.oracle.is_file() and (dataset.parent / "ground_truth.csv").is_file():
        faithful = FaithfulReader(args.oracle, dataset, reader.domains)
    else:
        print(f"no faithful reader: {args.oracle} or {dataset.parent / 'ground_truth.csv'} is missing")
    rows = []
    for key in reader.domains:
        walks = {"boundary": (reader, directions.get(key))}
        walks |= {"boundary, faithful reader": (faithful, directions.get(key))} if faithful else {}
        walks |= {d.name: (reader, d) for d in random_directions(generator, args.random, seed=1)}
        for kind, (read_by, direction) in walks.items():
            if direction is None:
                continue
            agreement = walk_agreement(walk_readings(read_by, generator, codes, direction, args.steps), key)
            rows.append(
                {
                    "domain": key,
                    "direction": kind if kind.startswith("boundary") else "random",
                    "photos": len(agreement),
                    "agree": float((agreement["spearman"] > 0).mean()),
                    "median_rho": float(agreement["spearman"].median()),
                    "mean_change": float(agreement["change"].mean()),
                }
            )
    table = pd.DataFrame(rows).groupby(["domain", "direction"], sort=False).mean(numeric_only=True).reset_index()
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(
        f"{args.fit} boundaries, {args.walk} walks; "
        f"target: a boundary walk raises the walked domain's predicted decile for ≥ 90% of photos; {time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
