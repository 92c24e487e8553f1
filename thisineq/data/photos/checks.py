"""Checking a collection's files before decoding: paths, duplicates, missing, unreadable or cut-short files."""

from __future__ import annotations

import hashlib
import os
import stat
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
from PIL import Image

from thisineq.data.photos.decode import PhotoReadError, check_decodes, open_image
from thisineq.data.photos.metadata import PHOTO_ID, PhotoCollectionError
from thisineq.errors import UnknownKeyError

ProblemKind = Literal["missing file", "unreadable", "duplicate row", "duplicate content", "path outside folder"]
PROBLEM_COLUMNS: tuple[str, ...] = ("photo_id", "image", "problem", "detail")
_TAIL_BYTES = 64  # enough for any format's end marker


@dataclass(frozen=True)
class PhotoProblem:
    """One metadata row that cannot be used, and why."""

    photo_id: str
    image: str
    problem: ProblemKind
    detail: str


@dataclass(frozen=True)
class _FileCheck:
    """What inspecting one file found: its identity if readable, else the problem."""

    sha256: str | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    problem: ProblemKind | None = None
    detail: str = ""


def check_files(meta: pd.DataFrame, photos_dir: str | os.PathLike, *, workers: int = 2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split metadata rows into usable ones and problems, cheaply (no full decode).

    Each row gets at most one problem, checked in this order: path outside folder,
    duplicate row (same `image` as an earlier row), missing file, unreadable (header
    fails to open, 0 bytes, decompression bomb, or a JPEG/PNG/GIF/WebP whose end marker is
    missing and whose reduced decode then fails), duplicate content (same bytes as an
    earlier readable file). The first of any duplicates is kept. Every row lands in
    exactly one of the two outputs.

    Args:
        meta: output of `read_metadata` (needs `photo_id` and `image`), n rows.
        photos_dir: the folder `image` paths are relative to.
        workers: threads for hashing and header reads (I/O-bound, so threads suffice).

    Returns:
        (ok_rows, problems): ok_rows is `meta`'s usable rows with its index, plus `path`
        (absolute, str), `format`, `width`, `height` (as stored, before EXIF rotation) and
        `sha256`; problems has columns photo_id, image, problem, detail in CSV order.
    """
    for name in (PHOTO_ID, "image"):
        if name not in meta.columns:
            raise UnknownKeyError(f"check_files needs a {name!r} column; read the CSV with read_metadata()")
    root = Path(os.path.abspath(photos_dir))
    if not root.is_dir():
        raise PhotoCollectionError(f"photos folder not found (or not a folder): {root}")
    images = [_image_text(v) for v in meta["image"]]
    paths = [_resolve_image(root, image) if image else None for image in images]
    inspected = _inspect_all(sorted({p for p in paths if p is not None}), workers)
    first_row = _first_rows(paths)
    first_by_hash: dict[str, int] = {}
    ids = meta[PHOTO_ID].astype(str).tolist()
    problems: list[PhotoProblem] = []
    usable: list[int] = []
    for row, (photo_id, image, path) in enumerate(zip(ids, images, paths, strict=True)):
        issue = _row_problem(row, image, path, first_row, inspected, first_by_hash, ids, images)
        if issue is not None:
            problems.append(PhotoProblem(photo_id, image, *issue))
            continue
        first_by_hash[inspected[path].sha256] = row
        usable.append(row)
    return _with_file_columns(meta, usable, paths, inspected), problems_frame(problems)


def _inspect_all(paths: Sequence[Path], workers: int) -> dict[Path, _FileCheck]:
    """Each file's check, in threads: hashing and header reads wait on I/O, not on the GIL."""
    with warnings.catch_warnings():
        # Entered once here, not per thread: catch_warnings is not thread-safe. Our own
        # MAX_PIXELS check replaces PIL's bomb warning.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            return dict(zip(paths, pool.map(_inspect_file, paths), strict=True))


def _with_file_columns(
    meta: pd.DataFrame, rows: Sequence[int], paths: Sequence[Path | None], inspected: dict[Path, _FileCheck]
) -> pd.DataFrame:
    """The usable rows of `meta` (by position) with each file's path, format, stored size and sha256."""
    ok_rows = meta.iloc[list(rows)].copy()
    checks = [inspected[paths[row]] for row in rows]
    columns = {
        "path": [str(paths[row]) for row in rows],
        "format": [check.format for check in checks],
        "width": [check.width for check in checks],
        "height": [check.height for check in checks],
        "sha256": [check.sha256 for check in checks],
    }
    for key, values in columns.items():
        ok_rows[key] = pd.Series(values, index=ok_rows.index, dtype="int64" if key in ("width", "height") else None)
    return ok_rows


def problems_frame(problems: Iterable[PhotoProblem]) -> pd.DataFrame:
    """Problems as a DataFrame with columns photo_id, image, problem, detail (empty-safe)."""
    return pd.DataFrame([asdict(p) for p in problems], columns=list(PROBLEM_COLUMNS))


def _image_text(value: object) -> str:
    """The `image` cell as text; blank or NaN is ''."""
    return "" if value is None or pd.isna(value) else str(value).strip()


def _resolve_image(root: Path, image: str) -> Path | None:
    """The absolute path `image` names inside `root`, or None if it points outside.

    Lexical (no symlink resolution) so that collections assembled as symlinks to photos
    stored elsewhere still work; `..` and absolute paths leaving `root` are refused.
    Backslashes are taken as separators: metadata written on Windows uses them.
    """
    joined = os.path.normpath(os.path.join(root, image.replace("\\", "/")))
    if os.path.commonpath([root, joined]) != str(root):
        return None
    return Path(joined)


def _first_rows(paths: Sequence[Path | None]) -> dict[Path, int]:
    """The first row listing each path."""
    first: dict[Path, int] = {}
    for row, path in enumerate(paths):
        if path is not None:
            first.setdefault(path, row)
    return first


def _row_problem(
    row: int,
    image: str,
    path: Path | None,
    first_row: dict[Path, int],
    inspected: dict[Path, _FileCheck],
    first_by_hash: dict[str, int],
    ids: Sequence[str],
    images: Sequence[str],
) -> tuple[ProblemKind, str] | None:
    """The one problem of a row (see check_files for the order), or None if usable."""
    if not image:
        return "missing file", "no image path given in the metadata"
    if path is None:
        return "path outside folder", f"{image!r} points outside the photos folder"
    if first_row[path] != row:
        first = first_row[path]
        return "duplicate row", f"same image as photo_id {ids[first]} ({images[first]!r}), which is kept"
    check = inspected[path]
    if check.problem is not None:
        return check.problem, check.detail
    if check.sha256 in first_by_hash:
        first = first_by_hash[check.sha256]
        return "duplicate content", f"identical bytes to photo_id {ids[first]} ({images[first]!r}), which is kept"
    return None


def _inspect_file(path: Path) -> _FileCheck:
    """Hash a file and open its image header; confirm by a reduced decode if it looks cut short."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return _FileCheck(problem="missing file", detail=f"no such file: {path}")
    except OSError as exc:
        return _FileCheck(problem="unreadable", detail=f"cannot access file: {exc.strerror or exc}")
    if not stat.S_ISREG(st.st_mode):
        return _FileCheck(problem="unreadable", detail="not a regular file (a folder?)")
    try:
        digest, head, tail = _hash_head_tail(path)
        with open_image(path) as im:
            fmt, (width, height) = im.format, im.size
        if not _looks_complete(fmt, head, tail, st.st_size):
            check_decodes(path)
    except PhotoReadError as exc:
        return _FileCheck(problem="unreadable", detail=exc.reason)
    except OSError as exc:
        return _FileCheck(problem="unreadable", detail=f"cannot read file: {exc.strerror or exc}")
    return _FileCheck(sha256=digest, format=fmt, width=width, height=height)


def _hash_head_tail(path: Path, chunk_size: int = 1 << 20) -> tuple[str, bytes, bytes]:
    """sha256 of the bytes, plus the first and last few bytes, in one read of the file."""
    digest = hashlib.sha256()
    head = tail = b""
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk_size), b""):
            digest.update(block)
            head = head or block[:_TAIL_BYTES]
            tail = (tail + block)[-_TAIL_BYTES:]
    return digest.hexdigest(), head, tail


def _looks_complete(fmt: str | None, head: bytes, tail: bytes, nbytes: int) -> bool:
    """Whether a file ends where its format says it should (a cheap truncation test).

    False only means "decode to be sure": phones append trailers after a JPEG's end marker.
    Formats without an end marker count as complete; their damage shows when caching.
    """
    if fmt in ("JPEG", "MPO"):
        return tail.rstrip(b"\x00\r\n\t ").endswith(b"\xff\xd9")
    if fmt == "PNG":
        return tail.endswith(b"IEND\xaeB`\x82")
    if fmt == "GIF":
        return tail.endswith(b";")
    if fmt == "WEBP" and head[:4] == b"RIFF" and len(head) >= 8:
        return nbytes >= int.from_bytes(head[4:8], "little") + 8
    return True
