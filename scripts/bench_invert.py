"""Print interactive inversion speed on this CPU: one 64×64 photo at a time, as the app inverts an upload.

Targets: e4e ≤ 100 ms, ReStyle ≤ 500 ms (5 iterations); the projector and the hybrid are timed
with their default steps, and their reconstruction LPIPS is printed beside the encoders' so the
hybrid's place between the two shows.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from thisineq.artifacts import demo_set
from thisineq.data.dataset import load_dataset
from thisineq.images import to_tensor
from thisineq.invert import methods
from thisineq.invert.api import InversionModels, invert_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=5, help="held-out demo photos to time")
    parser.add_argument("--projector-steps", type=int, default=1000)
    parser.add_argument("--hybrid-steps", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    artifacts = demo_set()
    models = InversionModels.load(
        artifacts.generator, e4e=artifacts.encoder("e4e"), restyle=artifacts.encoder("restyle"), lpips_net="alex"
    )
    data = load_dataset(artifacts.dataset)
    held_out = data.photos[data.photos["split"] == "test"].sort_values("cache_index")
    photos = np.asarray(data.images())[held_out["cache_index"].to_numpy()[: args.photos]]
    targets = {"e4e": 0.100, "restyle": 0.500}  # seconds per photo, for the encoders
    kw = {"projector_steps": args.projector_steps, "hybrid_steps": args.hybrid_steps}
    for method in models.available():
        seconds, distance = time_method(models, method, photos, **kw)
        target = f" (target ≤ {1000 * targets[method]:.0f} ms)" if method in targets else ""
        print(f"{method:>9}: median {1000 * seconds:8.1f} ms per photo{target}; LPIPS {distance:.3f}")


def time_method(models: InversionModels, method: str, photos: np.ndarray, **kw) -> tuple[float, float]:
    """Median seconds per photo, one at a time, and mean LPIPS of the reconstructions (an encoder: 5 runs each, after a warm-up)."""
    fast = not methods.method(method).optimises
    if fast:
        invert_image(photos[0], method, models, **kw)  # the first pass pays for allocation
    times, distances = [], []
    for photo in photos:
        for _ in range(5 if fast else 1):
            start = time.perf_counter()
            result = invert_image(photo, method, models, **kw)
            times.append(time.perf_counter() - start)
        with torch.no_grad():
            distances.append(float(models.perceptual(result.reconstruction, to_tensor(photo))))
    return statistics.median(times), float(np.mean(distances))


if __name__ == "__main__":
    main()
