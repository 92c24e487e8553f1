"""The reference tools' file formats, out and back in, so results move between this project and theirs.

- latents: e4e's `latents.pt` (a tensor N × num_ws × w_dim), ReStyle's `latents.npy` (a dict from image
  name to its per-iteration latents, iterations × num_ws × w_dim), NVIDIA's projector `projected_w.npz`
  (`w`: 1 × num_ws × w_dim, one photo per file);
- boundaries: InterFaceGAN's `.npy` (1 × dim, the unit normal);
- generators: rosinality's `{"g_ema": state_dict, "latent_avg": w_avg}`, the checkpoint e4e and ReStyle load.

Reading is as careful as everywhere else: torch files with `weights_only=True`; ReStyle's dict (a pickled
numpy object array) with a restricted unpickler that rebuilds numpy arrays and dicts only.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np
import torch

from thisineq.errors import ThisIneqError
from thisineq.io import atomic_path


class ExchangeFormatError(ThisIneqError, ValueError):
    """A file is not in the format it was read as; the message says what was found."""


def _check_latents(ws: np.ndarray, name: str) -> np.ndarray:
    ws = np.asarray(ws)
    if ws.ndim != 3 or not np.issubdtype(ws.dtype, np.floating) or not np.isfinite(ws).all():
        raise ExchangeFormatError(f"{name} must be finite latents (N, num_ws, w_dim), got {ws.dtype} {ws.shape}")
    return ws.astype(np.float32)


# --- e4e ------------------------------------------------------------------------------------------


def write_e4e_latents(ws: np.ndarray, path: str | os.PathLike) -> Path:
    """e4e's `latents.pt`: one tensor (N, num_ws, w_dim), rows in the order of the photos."""
    with atomic_path(path) as tmp:
        torch.save(torch.from_numpy(_check_latents(ws, "ws")), tmp)
    return Path(path)


def read_e4e_latents(path: str | os.PathLike) -> np.ndarray:
    try:
        latents = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as error:
        raise ExchangeFormatError(f"{path} is not an e4e latents file ({type(error).__name__})") from None
    if not isinstance(latents, torch.Tensor):
        raise ExchangeFormatError(f"{path} holds a {type(latents).__name__}, not e4e's latents tensor")
    return _check_latents(latents.float().numpy(), str(path))


# --- ReStyle --------------------------------------------------------------------------------------


def write_restyle_latents(latents: dict[str, np.ndarray], path: str | os.PathLike) -> Path:
    """ReStyle's `latents.npy`: {image name: latents per iteration (iterations, num_ws, w_dim)}, as np.save writes a dict."""
    checked = {str(name): _check_latents(ws, f"latents of {name}") for name, ws in latents.items()}
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, np.array(checked, dtype=object), allow_pickle=True)
    return Path(path)


class _NumpyUnpickler(pickle.Unpickler):
    """Rebuilds numpy arrays, dtypes and plain containers; refuses every other name."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("collections", "OrderedDict"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise ExchangeFormatError(f"the file asks for {module}.{name}, which a latents file never needs; nothing was run")
        return super().find_class(module, name)


def read_restyle_latents(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """ReStyle's `latents.npy`, read without `allow_pickle` (which would run whatever the pickle names)."""
    data = Path(path).read_bytes()
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    try:
        with io.BytesIO(data) as handle:
            version = np.lib.format.read_magic(handle)
            if version not in readers:
                raise ValueError(f"npy format version {version} (this reader knows 1.0 and 2.0)")
            shape, _, dtype = readers[version](handle)
            payload = handle.read()
    except ValueError as error:
        raise ExchangeFormatError(f"{path} is not a .npy file ({error})") from None
    if dtype != np.dtype(object) or shape != ():
        raise ExchangeFormatError(f"{path} holds a {dtype} array of shape {shape}, not ReStyle's dict of latents")
    try:
        content = _NumpyUnpickler(io.BytesIO(payload)).load()
    except ExchangeFormatError:
        raise
    except Exception as error:
        raise ExchangeFormatError(f"{path} cannot be read as ReStyle's latents ({type(error).__name__}: {error})") from None
    if isinstance(content, np.ndarray) and content.dtype == object and content.shape == ():
        content = content.item()  # np.save pickles the whole 0-d object array that wraps the dict
    if not isinstance(content, dict):
        raise ExchangeFormatError(f"{path} holds a {type(content).__name__}, not ReStyle's dict of latents")
    return {str(name): _check_latents(ws, f"latents of {name}") for name, ws in content.items()}


# --- NVIDIA's projector ---------------------------------------------------------------------------


def write_projected_w(ws: np.ndarray, path: str | os.PathLike) -> Path:
    """stylegan2-ada-pytorch projector's `projected_w.npz`: `w` of shape (1, num_ws, w_dim), one photo."""
    ws = _check_latents(np.asarray(ws)[None] if np.ndim(ws) == 2 else ws, "ws")
    if len(ws) != 1:
        raise ExchangeFormatError(f"projected_w.npz holds one photo's latents, got {len(ws)}")
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, w=ws)
    return Path(path)


def read_projected_w(path: str | os.PathLike) -> np.ndarray:
    """(num_ws, w_dim) from a `projected_w.npz`."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            w = archive["w"]
    except FileNotFoundError:
        raise
    except (ValueError, KeyError, OSError) as error:
        raise ExchangeFormatError(f"{path} is not a projector's projected_w.npz ({error})") from None
    ws = _check_latents(w, str(path))
    if len(ws) != 1:
        raise ExchangeFormatError(f"{path} holds {len(ws)} photos' latents; a projected_w.npz holds one")
    return ws[0]


# --- InterFaceGAN ---------------------------------------------------------------------------------


def write_interfacegan_boundary(normal: np.ndarray, path: str | os.PathLike) -> Path:
    """InterFaceGAN's boundary file: the unit normal as a (1, dim) float32 array."""
    normal = np.asarray(normal, dtype=np.float64).reshape(-1)
    norm = np.linalg.norm(normal)
    if not np.isfinite(norm) or norm == 0:
        raise ExchangeFormatError("a boundary normal must be finite and non-zero")
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, (normal / norm).astype(np.float32)[None], allow_pickle=False)
    return Path(path)


def read_interfacegan_boundary(path: str | os.PathLike) -> np.ndarray:
    """The unit normal (dim,) of an InterFaceGAN boundary file."""
    try:
        normal = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except ValueError as error:
        raise ExchangeFormatError(f"{path} is not a numeric .npy boundary ({error})") from None
    if normal.ndim != 2 or normal.shape[0] != 1 or not np.isfinite(normal).all() or not normal.any():
        raise ExchangeFormatError(f"{path} holds {normal.dtype} {normal.shape}; an InterFaceGAN boundary is (1, dim)")
    normal = normal[0].astype(np.float64)
    return normal / np.linalg.norm(normal)


# --- rosinality -----------------------------------------------------------------------------------


def write_rosinality_generator(generator, path: str | os.PathLike) -> Path:
    """A generator as rosinality's `{"g_ema": state_dict, "latent_avg": w_avg}`: what e4e, ReStyle and their tools load."""
    state = {k: v for k, v in generator.state_dict().items() if k != "w_avg"}
    with atomic_path(path) as tmp:
        torch.save({"g_ema": state, "latent_avg": generator.w_avg.detach().clone()}, tmp)
    return Path(path)
