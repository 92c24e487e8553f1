"""Print generator speed on this CPU: one image at batch 1 (median ms; target ≤ 20 ms at 64×64) and images/s at batch 32.

Times mapping and synthesis separately, for the demo generator (or --checkpoint) and for a
256×256 configuration, in inference mode.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from thisineq.artifacts import demo_set
from thisineq.models.stylegan2 import Generator, StyleGAN2Config, broadcast, default_channels, load_generator


def timed(fn, repeats: int) -> list[float]:
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


@torch.inference_mode()
def report(name: str, generator: Generator, repeats: int) -> None:
    generator = generator.eval()
    z1, z32 = torch.randn(1, generator.style_dim), torch.randn(32, generator.style_dim)
    ws1 = broadcast(generator.mapping(z1), generator.num_ws)
    ws32 = broadcast(generator.mapping(z32), generator.num_ws)
    mapping = statistics.median(timed(lambda: generator.mapping(z1), repeats)) * 1000
    synthesis = statistics.median(timed(lambda: generator.synthesis(ws1), repeats)) * 1000
    total = statistics.median(timed(lambda: generator(z1), repeats)) * 1000
    batch = statistics.median(timed(lambda: generator.synthesis(ws32), max(3, repeats // 10)))
    size = generator.config.size
    print(f"{name} ({size}×{size}, {sum(p.numel() for p in generator.parameters()) / 1e6:.2f} M parameters)")
    print(f"  batch 1: mapping {mapping:.2f} ms, synthesis {synthesis:.2f} ms, image from z {total:.2f} ms (median)")
    print(f"  batch 32: {32 / batch:.0f} images/s (synthesis)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoint", type=Path, help="generator to time (default: the demo generator)")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    path = args.checkpoint or demo_set().generator
    if path.is_file():
        report(str(path), load_generator(path), args.repeats)
    else:
        print(f"{path} not found: timing an untrained generator of the demo architecture")
        demo = StyleGAN2Config(size=64, style_dim=256, n_mlp=4, channels={4: 256, 8: 256, 16: 128, 32: 64, 64: 32})
        report("demo architecture (untrained)", Generator(demo), args.repeats)
    # A slider move re-runs synthesis only (its w is known): the "synthesis" figure at batch 1 is the model's share.
    for name, base in (
        ("StyleGAN2-ADA's auto config at 256 (channel base 16384)", 16384),
        ("config F (channel base 32768)", 32768),
    ):
        big = StyleGAN2Config(size=256, style_dim=512, n_mlp=8, channels=default_channels(256, channel_base=base))
        report(f"256×256, {name}, untrained", Generator(big), max(5, args.repeats // 5))


if __name__ == "__main__":
    main()
