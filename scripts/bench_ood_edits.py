"""Do the support bands flag edits known to leave the data? Print, per method with bands in a set, the share of the
known-unsupported edits flagged (issue 18's target: ≥ 90%) and the held-out photos flagged (≤ 5%).

    python scripts/bench_ood_edits.py [--set artifacts/demo]

The edits start from the set's held-out photos (val/test splits) as each method inverted them:
±6σ walks along each domain, and each pair of domains pushed 3σ apart — once with the two pushes
summed (what two sliders do together; along correlated normals they mostly cancel) and once
realised (each domain's coordinate moved by its full push, the combination the edit's name says).
The bands are the set's own (`boundaries/ood_<method>.npz`), read as the app reads them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from thisineq.artifacts import ArtifactSet, demo_set
from thisineq.data.dataset import load_dataset
from thisineq.invert.batch import load_inversions
from thisineq.latent.normals import BoundarySet
from thisineq.latent.ood import SupportModel, detection_rates, moved, unsupported_edits


def summed_pushes(ws: np.ndarray, directions: dict, opposed: float = 3.0) -> dict[str, np.ndarray]:
    """Each pair of domains pushed `opposed`σ apart with the two moves added, as two sliders add them."""
    keys, edits = list(directions), {}
    for i, first in enumerate(keys):
        for second in keys[i + 1 :]:
            for sign in (1, -1):
                name = f"{first} {sign * opposed:+.0f}σ, {second} {-sign * opposed:+.0f}σ (summed)"
                edits[name] = moved(ws, [(directions[first], sign * opposed), (directions[second], -sign * opposed)])
    return edits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", type=Path, default=None, help="artifact set (default: the committed demo)")
    args = parser.parse_args()
    artifacts = ArtifactSet(args.set) if args.set else demo_set()
    normals = BoundarySet.load(artifacts.normals)
    photos = load_dataset(artifacts.dataset).photos
    for path in sorted(artifacts.boundaries.glob("ood_*.npz")):
        method = path.stem.removeprefix("ood_")
        model, directions = SupportModel.load(path), normals.directions(method)
        inversions = load_inversions(artifacts.inversion(method))
        held_out = photos.loc[[str(i) for i in inversions.photo_id], "split"].isin(["val", "test"]).to_numpy()
        ws = inversions.ws[held_out]
        rates = detection_rates(model, unsupported_edits(ws, directions) | summed_pushes(ws, directions))
        realised = rates[~rates["edit"].str.endswith("(summed)")]
        overall = float(np.average(realised["unsupported"], weights=realised["latents"]))
        alarms = float((model.scores(ws)["band"] == "unsupported").mean())
        print(f"\n{method}: {len(ws)} held-out photos; flagged unsupported: {alarms:.1%} of the photos themselves")
        with pd.option_context("display.width", 120):
            print(rates.set_index("edit").round(3).to_string())
        print(f"known-unsupported set (±6σ walks and realised pushes): {overall:.1%} flagged unsupported")


if __name__ == "__main__":
    main()
