"""Reading NVIDIA stylegan2-ada-pytorch snapshots (`network-snapshot-*.pkl`) without running anything stored in them.

Those snapshots pickle each network through `torch_utils.persistence`: the pickle carries the
network module's *source code*, and a normal `pickle.load` rebuilds the classes by executing it.
A snapshot from elsewhere can carry any code, so this reader never does that. A restricted
unpickler resolves an allow-list of names only — ordered dicts, NVIDIA's `EasyDict` (as a plain
dict), torch's tensor rebuilding (storages read with `torch.load(weights_only=True)`), numpy
scalars of plain dtypes — and turns every persistent network into an inert `NetworkRecord`: its
class name, constructor arguments, parameters and buffers, and a hash of the source it carried
(kept as text, never imported, compiled or run). Anything else is refused with its name.
"""

from __future__ import annotations

import collections
import hashlib
import io
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch._utils

from thisineq.errors import ThisIneqError

NETWORKS = ("G", "D", "G_ema")


class UnsafeSnapshotError(ThisIneqError, pickle.UnpicklingError):
    """A snapshot asked for something outside the allow-list, or is not a stylegan2-ada-pytorch snapshot."""


@dataclass
class NetworkRecord:
    """One persistent network of a snapshot, inert: what it was built with and the tensors it holds."""

    class_name: str  # e.g. "Generator"
    source_sha256: str  # of the module source the snapshot carried (never run)
    version: int
    init_args: tuple
    init_kwargs: dict
    parameters: dict[str, torch.Tensor | None]
    buffers: dict[str, torch.Tensor | None]
    modules: dict[str, NetworkRecord | None]
    attributes: dict = field(default_factory=dict)  # the rest of its state (plain values: sizes, gains…)

    def state_dict(self, prefix: str = "") -> dict[str, torch.Tensor]:
        """Every parameter and buffer of the network and its submodules, by dotted name (PyTorch's naming)."""
        tensors = {prefix + k: v for k, v in {**self.parameters, **self.buffers}.items() if v is not None}
        for name, module in self.modules.items():
            if module is not None:
                tensors.update(module.state_dict(f"{prefix}{name}."))
        return tensors


def _network_record(meta: dict) -> NetworkRecord:
    """What `torch_utils.persistence._reconstruct_persistent_obj` would have rebuilt, as data: nothing is executed."""
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("state"), dict):
        raise UnsafeSnapshotError("a persistent object in the snapshot is not a network record of the expected form")
    state = dict(meta["state"])
    source = meta.get("module_src", "")
    record = NetworkRecord(
        class_name=str(meta.get("class_name")),
        source_sha256=hashlib.sha256(str(source).encode("utf-8")).hexdigest(),
        version=int(meta.get("version", 0)),
        init_args=tuple(state.pop("_init_args", ())),
        init_kwargs=dict(state.pop("_init_kwargs", {})),
        parameters=dict(state.pop("_parameters", {})),
        buffers=dict(state.pop("_buffers", {})),
        modules=dict(state.pop("_modules", {})),
    )
    for name, module in record.modules.items():
        if module is not None and not isinstance(module, NetworkRecord):
            raise UnsafeSnapshotError(f"submodule {name!r} of {record.class_name} is not a persistent network")
    record.attributes = {k: v for k, v in state.items() if not k.startswith("_")}
    return record


def _storage_from_bytes(data: bytes):
    """A tensor storage pickled as `torch.save` bytes, read with torch's own restricted loader."""
    if not isinstance(data, bytes | bytearray):
        raise UnsafeSnapshotError("a tensor's storage is not stored as bytes")
    return torch.load(io.BytesIO(data), weights_only=True)


def _rebuild_parameter(data, requires_grad, backward_hooks, *state):
    """A parameter as a plain tensor (an importer trains nothing)."""
    return data


def _numpy_dtype(spec, align=False, copy=False) -> np.dtype:
    dtype = np.dtype(spec, align=align, copy=copy)
    if dtype.hasobject:
        raise UnsafeSnapshotError("the snapshot holds a numpy object dtype, which could run code")
    return dtype


def _numpy_scalar(dtype, data: bytes | None = None):
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes):
        raise UnsafeSnapshotError("the snapshot holds a numpy scalar that is not plain data")
    return np.frombuffer(data, dtype=dtype)[0].item()


class EasyDictRecord(dict):
    """NVIDIA's `dnnlib.util.EasyDict` as a plain dict (it adds attribute access only)."""


ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("dnnlib.util", "EasyDict"): EasyDictRecord,
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _network_record,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
    ("numpy", "dtype"): _numpy_dtype,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
}


class _SnapshotUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise UnsafeSnapshotError(
                f"the snapshot asks for {module}.{name}, which is not on the importer's allow-list "
                "(a stylegan2-ada-pytorch snapshot needs only tensors, dicts and its networks' records); nothing was run"
            ) from None

    def persistent_load(self, pid):
        raise UnsafeSnapshotError("the snapshot refers to persistent objects outside itself")


@dataclass
class AdaSnapshot:
    """A stylegan2-ada-pytorch snapshot as data: its networks' records and the other entries."""

    path: Path
    sha256: str
    networks: dict[str, NetworkRecord]  # of G, D, G_ema: those it holds
    extras: dict  # training_set_kwargs, augment_pipe, … as plain values


def read_ada_snapshot(path: str | os.PathLike) -> AdaSnapshot:
    """Read a `network-snapshot-*.pkl` without executing anything in it; UnsafeSnapshotError names what it refused."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UnsafeSnapshotError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        content = _SnapshotUnpickler(io.BytesIO(data)).load()
    except UnsafeSnapshotError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, RuntimeError) as error:
        raise UnsafeSnapshotError(f"{path} is not a readable pickle ({type(error).__name__}: {error})") from None
    if not isinstance(content, dict) or not any(isinstance(content.get(k), NetworkRecord) for k in NETWORKS):
        raise UnsafeSnapshotError(
            f"{path} is not a stylegan2-ada-pytorch snapshot: it holds no G, D or G_ema network "
            f"(found {sorted(content) if isinstance(content, dict) else type(content).__name__})"
        )
    networks = {k: v for k, v in content.items() if isinstance(v, NetworkRecord)}
    extras = {k: v for k, v in content.items() if k not in networks}
    return AdaSnapshot(path, hashlib.sha256(data).hexdigest(), networks, extras)
