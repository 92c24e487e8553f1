"""A resumable cache of decoded photos: one uint8 .npy array, filled chunk by chunk in worker processes."""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from thisineq.data.photos.checks import ProblemKind
from thisineq.data.photos.decode import PhotoReadError, load_photo
from thisineq.errors import ConfigError
from thisineq.io import atomic_open

CACHE_PROBLEM_COLUMNS: tuple[str, ...] = ("index", "path", "problem", "detail")

# Bump when load_photo's output for the same file changes, so old caches stop matching.
_CACHE_VERSION = 1
_BATCH = 16  # photos per task sent to a worker: small enough to spread a chunk over workers


@dataclass(frozen=True)
class CacheProblem:
    """One photo the cache builder could not decode; its row in the cache is all zeros."""

    index: int
    path: str
    problem: ProblemKind
    detail: str


def cache_fingerprint(paths: Sequence[str | os.PathLike], size: int) -> str:
    """A hex digest that changes when the photos, their order, their files or `size` change.

    Hashes each path relative to the photos' common folder (so moving the whole
    collection keeps it), each file's byte size and mtime (ns), `size` and the cache
    format version. Missing files hash as such rather than raising.
    """
    digest = hashlib.sha256(f"thisineq-photo-cache:v{_CACHE_VERSION}:size={size}:n={len(paths)}\n".encode())
    absolute = [os.path.abspath(p) for p in paths]
    root = _common_folder(absolute)
    for path in absolute:
        rel = Path(os.path.relpath(path, root)).as_posix() if root else path
        try:
            st = os.stat(path)
            digest.update(f"{rel}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
        except OSError:
            digest.update(f"{rel}\tmissing\n".encode())
    return digest.hexdigest()


def _common_folder(paths: Sequence[str]) -> str | None:
    """The deepest folder containing every path, or None (no paths, or different drives)."""
    if not paths:
        return None
    try:
        return os.path.commonpath([os.path.dirname(p) for p in paths])
    except ValueError:
        return None


@dataclass
class _CacheState:
    """The sidecar beside a partial cache: what it is for and which chunks are done."""

    fingerprint: str
    shape: list[int]
    chunk: int
    done: list[bool]
    failures: list[dict] = field(default_factory=list)

    def matches(self, other: _CacheState) -> bool:
        return (self.fingerprint, self.shape, self.chunk, len(self.done)) == (
            other.fingerprint,
            other.shape,
            other.chunk,
            len(other.done),
        )


def build_image_cache(
    paths: Sequence[str | os.PathLike],
    size: int,
    out_path: str | os.PathLike,
    *,
    workers: int = 2,
    chunk: int = 256,
    progress: bool = True,
) -> pd.DataFrame:
    """Decode every photo with `load_photo` into one `.npy` array, resumably.

    Works in `out_path + ".partial"` (a memory-mapped .npy) with a sidecar
    `out_path + ".partial.json"` recording finished chunks and failures, rewritten
    atomically after each chunk once its rows are flushed. A rerun after an interruption
    resumes at the first unfinished chunk if the sidecar matches these photos (same
    `cache_fingerprint`), shape and chunk size, and starts over otherwise. On completion
    the partial is renamed onto `out_path` and the sidecar removed.

    Args:
        paths: n photo files, in the order of the rows of the cache.
        size: side of each cached image in pixels.
        out_path: where the finished array goes (conventionally ending in .npy).
        workers: decoding processes; 1 decodes in this process.
        chunk: photos per resumable unit.
        progress: show a tqdm bar with ETA.

    Returns:
        Photos that failed to decode (their rows are zeros): columns index (row in the
        cache), path, problem ("unreadable"), detail; sorted by index, empty if none.
    """
    if size < 1 or chunk < 1 or workers < 1:
        raise ConfigError(f"size, chunk and workers must be positive; got size={size}, chunk={chunk}, workers={workers}")
    paths = [str(p) for p in paths]
    out_path = Path(out_path)
    partial, sidecar = _partial_paths(out_path)
    wanted = _CacheState(
        fingerprint=cache_fingerprint(paths, size),
        shape=[len(paths), size, size, 3],
        chunk=chunk,
        done=[False] * math.ceil(len(paths) / chunk),
    )
    state, array = _resume_or_start(partial, sidecar, wanted)
    todo = [c for c, done in enumerate(state.done) if not done]
    remaining = sum(_chunk_length(len(paths), chunk, c) for c in todo)
    with tqdm(
        total=len(paths), initial=len(paths) - remaining, unit="photo", desc="caching photos", disable=not progress, smoothing=0.1
    ) as bar:
        _fill_chunks(array, state, sidecar, paths, size, todo, workers, bar)
    array.flush()
    del array
    os.replace(partial, out_path)
    sidecar.unlink(missing_ok=True)
    failures = pd.DataFrame(state.failures, columns=list(CACHE_PROBLEM_COLUMNS))
    return failures.sort_values("index", kind="stable").reset_index(drop=True)


def _fill_chunks(
    array: np.memmap, state: _CacheState, sidecar: Path, paths: list[str], size: int, todo: list[int], workers: int, bar: tqdm
) -> None:
    """Decode the chunks `todo` into `array`; each is marked done in the sidecar once its rows are on disk."""
    batches_left = {c: math.ceil(_chunk_length(len(paths), state.chunk, c) / min(_BATCH, state.chunk)) for c in todo}
    for c, start, images, failures in _decode_all(_batch_tasks(paths, size, state.chunk, todo), workers):
        array[start : start + len(images)] = images
        state.failures.extend(asdict(CacheProblem(start + i, paths[start + i], "unreadable", reason)) for i, reason in failures)
        bar.update(len(images))
        batches_left[c] -= 1
        if batches_left[c] == 0:
            array.flush()  # rows on disk before the sidecar says they are
            state.done[c] = True
            _write_state(sidecar, state)


def _chunk_length(n_photos: int, chunk: int, c: int) -> int:
    """Photos in chunk `c` (the last one may be short)."""
    return min(chunk, n_photos - c * chunk)


def _partial_paths(out_path: Path) -> tuple[Path, Path]:
    """The partial array and its sidecar, beside `out_path`."""
    return Path(f"{out_path}.partial"), Path(f"{out_path}.partial.json")


def _resume_or_start(partial: Path, sidecar: Path, wanted: _CacheState) -> tuple[_CacheState, np.memmap]:
    """Reopen a matching partial cache, or create a fresh one (removing any stale one)."""
    state = _read_state(sidecar)
    if state is not None and state.matches(wanted):
        array = _open_partial(partial, tuple(wanted.shape))
        if array is not None:
            return state, array
    sidecar.unlink(missing_ok=True)
    partial.unlink(missing_ok=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    # A kill during a sidecar write leaves atomic_open's temporary file behind.
    for stale in partial.parent.glob(f".{sidecar.name}.*.tmp"):
        stale.unlink(missing_ok=True)
    array = np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint8, shape=tuple(wanted.shape))
    array.flush()
    # Written after the partial exists, so a sidecar always has its array.
    _write_state(sidecar, wanted)
    return wanted, array


def _read_state(sidecar: Path) -> _CacheState | None:
    """The sidecar's contents, or None if absent or unreadable."""
    try:
        return _CacheState(**json.loads(sidecar.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def _write_state(sidecar: Path, state: _CacheState) -> None:
    """Replace the sidecar atomically, so a kill leaves the old or the new one, never half."""
    with atomic_open(sidecar, "w", encoding="utf-8") as handle:
        json.dump(asdict(state), handle)


def _open_partial(partial: Path, shape: tuple[int, ...]) -> np.memmap | None:
    """The partial array for update, or None if it is missing, damaged or the wrong shape."""
    try:
        array = np.load(partial, mmap_mode="r+")
    except (OSError, ValueError, EOFError):
        return None
    if array.shape != shape or array.dtype != np.uint8:
        del array
        return None
    return array


def _batch_tasks(paths: Sequence[str], size: int, chunk: int, todo: Sequence[int]) -> Iterator[tuple]:
    """Tasks (chunk, start, paths, size) covering the given chunks, never straddling two."""
    step = min(_BATCH, chunk)
    for c in todo:
        end = min(len(paths), (c + 1) * chunk)
        for start in range(c * chunk, end, step):
            yield c, start, paths[start : min(start + step, end)], size


def _decode_all(tasks: Iterator[tuple], workers: int) -> Iterator[tuple[int, int, np.ndarray, list]]:
    """Results of `_decode_batch` over `tasks`, in task order, in a pool or in-process."""
    if workers == 1:
        yield from map(_decode_batch, tasks)
        return
    # forkserver/spawn, not fork: forking a parent with threads (tqdm's monitor, torch)
    # can deadlock the child.
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    with multiprocessing.get_context(method).Pool(workers) as pool:
        yield from pool.imap(_decode_batch, tasks)


def _decode_batch(task: tuple[int, int, list[str], int]) -> tuple[int, int, np.ndarray, list[tuple[int, str]]]:
    """Decode consecutive photos; failures become zeros plus (offset, reason).

    Returns:
        (chunk, start, images of shape (k, size, size, 3) uint8, failures).
    """
    c, start, paths, size = task
    images = np.zeros((len(paths), size, size, 3), dtype=np.uint8)
    failures: list[tuple[int, str]] = []
    for i, path in enumerate(paths):
        try:
            images[i] = load_photo(path, size)
        except PhotoReadError as exc:
            failures.append((i, exc.reason))
    return c, start, images, failures
