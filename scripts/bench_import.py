"""Print how long `thisineq import` takes for a 512-px, ~30-M-parameter stylegan2-ada-pytorch snapshot (target ≤ 10 s).

No such snapshot can be downloaded here, so the benchmark writes one in the same pickle layout as NVIDIA's
training loop: each network pickled through a stand-in `torch_utils.persistence` as a record of its module
source (a harmless string here), class name, constructor arguments and state, its tensors as torch pickles
them. The generator's weights are random (a StyleGAN2-ADA 512-px configuration: channel_base 32768,
channel_max 512, 8 mapping layers, conv_clamp 256, 4 float16 resolutions).

    python scripts/bench_import.py [--size 512]
"""

from __future__ import annotations

import argparse
import math
import pickle
import sys
import tempfile
import time
import types
from pathlib import Path

import torch

from thisineq.models.importers import import_ada_snapshot
from thisineq.models.stylegan2 import Generator, StyleGAN2Config


def resolutions(size: int) -> list[int]:
    return [2**k for k in range(2, int(math.log2(size)) + 1)]


def ada_names(generator: Generator) -> dict[str, torch.Tensor]:
    """The inverse of `ada_convert.generator_weights`: the project's generator under stylegan2-ada-pytorch's names."""
    ours, config = generator.state_dict(), generator.config
    out = {"mapping.w_avg": ours["w_avg"], "synthesis.b4.const": ours["input.input"][0]}
    for i in range(config.n_mlp):
        out[f"mapping.fc{i}.weight"], out[f"mapping.fc{i}.bias"] = ours[f"style.{i + 1}.weight"], ours[f"style.{i + 1}.bias"]

    def styled(theirs: str, mine: str, noise: str) -> None:
        out[f"{theirs}.weight"] = ours[f"{mine}.conv.weight"][0]
        out[f"{theirs}.affine.weight"] = ours[f"{mine}.conv.modulation.weight"]
        out[f"{theirs}.affine.bias"] = ours[f"{mine}.conv.modulation.bias"]
        out[f"{theirs}.noise_strength"] = ours[f"{mine}.noise.weight"].reshape(())
        out[f"{theirs}.bias"] = ours[f"{mine}.activate.bias"]
        out[f"{theirs}.noise_const"] = ours[noise][0, 0]

    def to_rgb(theirs: str, mine: str) -> None:
        out[f"{theirs}.weight"] = ours[f"{mine}.conv.weight"][0]
        out[f"{theirs}.affine.weight"] = ours[f"{mine}.conv.modulation.weight"]
        out[f"{theirs}.affine.bias"] = ours[f"{mine}.conv.modulation.bias"]
        out[f"{theirs}.bias"] = ours[f"{mine}.bias"].reshape(-1)

    styled("synthesis.b4.conv1", "conv1", "noises.noise_0")
    to_rgb("synthesis.b4.torgb", "to_rgb1")
    for k, res in enumerate(resolutions(config.size)[1:]):
        styled(f"synthesis.b{res}.conv0", f"convs.{2 * k}", f"noises.noise_{2 * k + 1}")
        styled(f"synthesis.b{res}.conv1", f"convs.{2 * k + 1}", f"noises.noise_{2 * k + 2}")
        to_rgb(f"synthesis.b{res}.torgb", f"to_rgbs.{k}")
    return out


class _Persistent:
    """Pickles as a persistent network does: `_reconstruct_persistent_obj(meta)`, meta holding source, class and state."""

    def __init__(self, class_name: str, state: dict):
        self.meta = {"type": "class", "version": 6, "module_src": "# the network's module source\n", "class_name": class_name}
        self.meta["state"] = state

    def __reduce__(self):
        from torch_utils.persistence import _reconstruct_persistent_obj

        return _reconstruct_persistent_obj, (self.meta,)


def nested(tensors: dict[str, torch.Tensor], class_name: str, init_kwargs: dict | None = None) -> _Persistent:
    """Records nested by the dotted names, each holding its own tensors (all as parameters: the reader needs no more)."""
    own = {k: v for k, v in tensors.items() if "." not in k}
    children: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if "." in key:
            head, rest = key.split(".", 1)
            children.setdefault(head, {})[rest] = value
    state = {
        "_parameters": own,
        "_buffers": {},
        "_modules": {name: nested(sub, "Module") for name, sub in children.items()},
        "_init_args": (),
        "_init_kwargs": init_kwargs or {},
    }
    return _Persistent(class_name, state)


def write_snapshot(path: Path, size: int) -> int:
    """Write a random size-px snapshot in stylegan2-ada-pytorch's layout; returns its generator's parameter count."""
    channels = {r: min(32768 // r, 512) for r in resolutions(size)}
    generator = Generator(StyleGAN2Config(size=size, style_dim=512, n_mlp=8, channels=channels, conv_clamp=256))
    kwargs = {
        "z_dim": 512,
        "c_dim": 0,
        "w_dim": 512,
        "img_resolution": size,
        "img_channels": 3,
        "mapping_kwargs": {"num_layers": 8},
        "synthesis_kwargs": {"channel_base": 32768, "channel_max": 512, "num_fp16_res": 4, "conv_clamp": 256},
    }
    stand_in = types.ModuleType("torch_utils.persistence")

    def _reconstruct_persistent_obj(meta):
        raise RuntimeError("never called: the benchmark only writes")

    _reconstruct_persistent_obj.__module__ = stand_in.__name__
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    stand_in._reconstruct_persistent_obj = _reconstruct_persistent_obj
    sys.modules.setdefault("torch_utils", types.ModuleType("torch_utils"))
    sys.modules["torch_utils.persistence"] = stand_in
    snapshot = {"training_set_kwargs": {"resolution": size}, "G_ema": nested(ada_names(generator), "Generator", kwargs)}
    with open(path, "wb") as handle:
        pickle.dump(snapshot, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return sum(p.numel() for p in generator.parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512, help="generator side in pixels (a power of two)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        snapshot = Path(folder) / "network-snapshot-000000.pkl"
        parameters = write_snapshot(snapshot, args.size)
        print(
            f"wrote a {args.size}-px snapshot: {parameters / 1e6:.1f} M generator parameters, {snapshot.stat().st_size / 2**20:.0f} MB"
        )
        start = time.perf_counter()
        out = import_ada_snapshot(snapshot, Path(folder) / "imported")
        seconds = time.perf_counter() - start
        print(
            f"thisineq import: {seconds:.1f} s on {torch.get_num_threads()} threads (target ≤ 10 s), "
            f"generator.pt {(out / 'generator.pt').stat().st_size / 2**20:.0f} MB, "
            f"{math.log2(args.size):.0f} resolutions"
        )


if __name__ == "__main__":
    main()
