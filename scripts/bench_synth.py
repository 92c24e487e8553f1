"""Print how fast the synthetic city renders: images/s on one core at 64×64 (target ≥ 200), and more sizes."""

from __future__ import annotations

import argparse
import time

import numpy as np

from thisineq.data.synth import city
from thisineq.data.synth.build import SynthConfig, plan_city
from thisineq.data.synth.links import scene
from thisineq.data.synth.render import SceneFactors, plan_scene, render


def images_per_second(rows: list[dict], size: int) -> float:
    start = time.perf_counter()
    for row in rows:
        render(plan_scene(scene(row)), size)
    return len(rows) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=400, help="images per size (default: 400)")
    args = parser.parse_args()
    _, _, photos = plan_city(SynthConfig(n_photos=args.n, city=city.CityConfig(n_lsoas=200)))
    fields = list(SceneFactors.__dataclass_fields__)
    rows = [dict(zip(fields, v, strict=True)) for v in photos[fields].itertuples(index=False)]
    images_per_second(rows[:20], 64)  # warm up caches
    for size in (64, 128, 256):
        n = len(rows) if size == 64 else max(20, len(rows) // (size // 32))
        rates = [images_per_second(rows[:n], size) for _ in range(3)]
        print(f"render {size:>3}×{size:<3} on one core: {np.median(rates):7.1f} images/s (median of 3 runs of {n})")
    start = time.perf_counter()
    config = SynthConfig()
    plan_city(config)
    print(f"plan a {config.n_photos:,}-photo city (geography, deciles, factors): {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
