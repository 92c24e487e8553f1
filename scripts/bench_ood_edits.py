"""Do the support bands flag edits known to leave the data? Print, per method with bands in a set, the share of the
known-unsupported edits flagged (issue 18's target: ≥ 90%) and the held-out photos flagged (≤ 5%).

    python scripts/bench_ood_edits.py [--set artifacts/demo]

The edits start from the set's held-out photos (val/test splits) as each method inverted them:
±6σ walks along each domain, and each pair of domains pushed 3σ apart — once with the two pushes
summed (what two sliders do together; along correlated normals they mostly cancel) and once
realised (each domain's coordinate moved by its full push, the combination the edit's name says).
The bands are the set's own (`boundaries/ood_<method>.npz`), read as the app reads them.

Where the synthetic city's known-answer oracle is at hand (`--oracle`), each edit's images are also
read by it: the share whose visual factors lie beyond the photos' (`thisineq.known_answer.novelty`:
further from the photos' nearest readings than 99.8% of held-out photos are) says whether the edit
drew a combination the city never shows, which is what the bands warn of; the unedited
reconstructions are the control.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from thisineq.artifacts import ArtifactSet, demo_set
from thisineq.data.dataset import load_dataset
from thisineq.invert.batch import load_inversions
from thisineq.latent.normals import BoundarySet
from thisineq.latent.ood import SupportModel, detection_rates, moved, unsupported_edits
from thisineq.latent.walk import synthesise_latents
from thisineq.models.stylegan2 import load_generator

DEFAULT_ORACLE = Path("data/pipeline/oracles/oracle_seed0.pt")  # the known-answer oracle, where it was trained
DEFAULT_CITY = Path("data/pipeline/city/dataset")  # the training city, whose photos the oracle's reference reads


def summed_pushes(ws: np.ndarray, directions: dict, opposed: float = 3.0) -> dict[str, np.ndarray]:
    """Each pair of domains pushed `opposed`σ apart with the two moves added, as two sliders add them."""
    keys, edits = list(directions), {}
    for i, first in enumerate(keys):
        for second in keys[i + 1 :]:
            for sign in (1, -1):
                name = f"{first} {sign * opposed:+.0f}σ, {second} {-sign * opposed:+.0f}σ (summed)"
                edits[name] = moved(ws, [(directions[first], sign * opposed), (directions[second], -sign * opposed)])
    return edits


class OracleSupport:
    """The oracle's reading of images against its reading of the city's photos (fitted on train, calibrated on the rest)."""

    def __init__(self, oracle_path: Path, city: Path):
        from thisineq.known_answer.novelty import FactorSupport
        from thisineq.known_answer.oracle import load_oracle

        self.oracle, _ = load_oracle(oracle_path)
        dataset = load_dataset(city)
        photos = dataset.photos.sort_values("cache_index")
        images = torch.from_numpy(np.array(dataset.images())).permute(0, 3, 1, 2)
        readings = self.read(images)
        train = (photos["split"] == "train").to_numpy()
        self.support = FactorSupport().fit(readings[train], readings[~train])
        self.photos = len(photos)

    def read(self, images: torch.Tensor) -> np.ndarray:
        from thisineq.known_answer.oracle import predict_linked

        return predict_linked(self.oracle, images)

    def beyond(self, generator, ws: np.ndarray) -> float:
        """The share of the latents' images whose factors lie beyond the photos'."""
        return float(self.support.beyond(self.read(synthesise_latents(generator, ws))).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", type=Path, default=None, help="artifact set (default: the committed demo)")
    parser.add_argument(
        "--oracle", type=Path, default=DEFAULT_ORACLE, help="a known-answer oracle to read the edits' images (skipped if absent)"
    )
    parser.add_argument("--city", type=Path, default=DEFAULT_CITY, help="the photos the oracle's readings are checked against")
    args = parser.parse_args()
    artifacts = ArtifactSet(args.set) if args.set else demo_set()
    normals = BoundarySet.load(artifacts.normals)
    photos = load_dataset(artifacts.dataset).photos
    oracle, generator = None, None
    if args.oracle.is_file() and (args.city / "dataset.json").is_file():
        oracle = OracleSupport(args.oracle, args.city)
        generator = load_generator(artifacts.generator).float().requires_grad_(False)
        size = generator.config.size
        noise = torch.rand(200, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
        alien = float(oracle.support.beyond(oracle.read(noise)).mean())
        print(f"the oracle's readings are checked against {oracle.photos} photos of {args.city}")
        print(f"control: {alien:.0%} of uniform-noise images read beyond the photos' factors")
    else:
        print(f"no oracle check: {args.oracle} or {args.city} is missing")
    for path in sorted(artifacts.boundaries.glob("ood_*.npz")):
        method = path.stem.removeprefix("ood_")
        model, directions = SupportModel.load(path), normals.directions(method)
        inversions = load_inversions(artifacts.inversion(method))
        held_out = photos.loc[[str(i) for i in inversions.photo_id], "split"].isin(["val", "test"]).to_numpy()
        ws = inversions.ws[held_out]
        edits = unsupported_edits(ws, directions) | summed_pushes(ws, directions)
        rates = detection_rates(model, edits)
        if oracle is not None:
            rates["beyond_photos_oracle"] = [oracle.beyond(generator, edits[name]) for name in rates["edit"]]
        realised = rates[~rates["edit"].str.endswith("(summed)")]
        overall = float(np.average(realised["unsupported"], weights=realised["latents"]))
        alarms = float((model.scores(ws)["band"] == "unsupported").mean())
        print(f"\n{method}: {len(ws)} held-out photos; flagged unsupported: {alarms:.1%} of the photos themselves")
        if oracle is not None:
            print(f"their reconstructions beyond the photos' factors (oracle): {oracle.beyond(generator, ws):.1%}")
        with pd.option_context("display.width", 140):
            print(rates.set_index("edit").round(3).to_string())
        print(f"known-unsupported set (±6σ walks and realised pushes): {overall:.1%} flagged unsupported")
        if oracle is not None:
            drawn = float(np.average(realised["beyond_photos_oracle"], weights=realised["latents"]))
            print(f"  its images whose factors lie beyond the photos' (oracle): {drawn:.1%}")


if __name__ == "__main__":
    main()
