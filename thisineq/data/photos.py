"""Photo collections: metadata, file checks, decoding to square RGB arrays, a resumable cache and grouped splits."""

from __future__ import annotations

import hashlib
import io
import json
import math
import multiprocessing
import os
import stat
import struct
import warnings
import zlib
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from PIL import Image, ImageOps, UnidentifiedImageError
from tqdm import tqdm

from thisineq.errors import ThisIneqError
from thisineq.io import atomic_open

# Images above this many pixels are refused as decompression bombs. 100 MP is above any
# phone or DSLR photo (a 108 MP phone sensor bins to 12 MP by default) and keeps one decode
# under ~400 MB of memory. PIL refuses on its own, earlier, if Image.MAX_IMAGE_PIXELS is
# lowered below half of this (PIL raises at 2 x MAX_IMAGE_PIXELS).
MAX_PIXELS: int = 100_000_000

REQUIRED_COLUMNS: tuple[str, ...] = ("image",)
COORDINATE_COLUMNS: tuple[str, str] = ("lat", "lon")
LSOA_COLUMN = "lsoa_code"
OPTIONAL_COLUMNS: tuple[str, ...] = ("heading", "captured")
PHOTO_ID = "photo_id"

ProblemKind = Literal["missing file", "unreadable", "duplicate row", "duplicate content", "path outside folder"]
PROBLEM_COLUMNS: tuple[str, ...] = ("photo_id", "image", "problem", "detail")
CACHE_PROBLEM_COLUMNS: tuple[str, ...] = ("index", "path", "problem", "detail")
SPLITS: tuple[str, str, str] = ("train", "val", "test")

# Bump when load_photo's output for the same file changes, so old caches stop matching.
_CACHE_VERSION = 1
_BATCH = 16  # photos per task sent to a worker: small enough to spread a chunk over workers
_TAIL_BYTES = 64

# Names people use for the required columns, for a hint in the error message.
_ALIASES: dict[str, str] = {
    "latitude": "lat",
    "lng": "lon",
    "long": "lon",
    "longitude": "lon",
    "file": "image",
    "filename": "image",
    "file_name": "image",
    "path": "image",
    "image_path": "image",
    "lsoa": "lsoa_code",
    "lsoa11cd": "lsoa_code",
    "lsoa code": "lsoa_code",
}

# What PIL raises on corrupt data, besides its own UnidentifiedImageError at open.
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    struct.error,
    zlib.error,
    Image.DecompressionBombError,
)


class PhotoCollectionError(ThisIneqError, ValueError):
    """The collection as a whole cannot be used: its metadata CSV or folder is missing or malformed."""


class PhotoReadError(ThisIneqError, ValueError):
    """One photo cannot be read; `reason` says why in words (truncated, not an image, ...)."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        super().__init__(f"cannot read photo {path}: {reason}")
        self.path = str(path)
        self.reason = reason

    def __reduce__(self):
        return (type(self), (self.path, self.reason))


@dataclass(frozen=True)
class PhotoProblem:
    """One metadata row that cannot be used, and why."""

    photo_id: str
    image: str
    problem: ProblemKind
    detail: str


@dataclass(frozen=True)
class CacheProblem:
    """One photo the cache builder could not decode; its row in the cache is all zeros."""

    index: int
    path: str
    problem: ProblemKind
    detail: str


# --------------------------------------------------------------------------- metadata


def read_metadata(csv_path: str | os.PathLike) -> pd.DataFrame:
    """Read a photo collection's metadata CSV, keeping every row in file order.

    Args:
        csv_path: UTF-8 CSV (with or without a BOM) with columns `image` and `lat`+`lon`
            and/or `lsoa_code`; optional `heading`, `captured` and any others are kept.

    Returns:
        One row per data row (n rows), columns lower-cased and stripped, a leading
        `photo_id` column ("000001" for the first data row), `lat`/`lon`/`heading` as
        float with NaN where a value is empty or not a number (never dropped), all other
        columns as text.

    Raises:
        PhotoCollectionError: the file is missing, unreadable, not UTF-8, empty, or lacks
            the required columns.
    """
    path = Path(csv_path)
    header, body = _read_csv_text(path)
    columns = _normalise_columns(header, path)
    _check_columns(columns, path)
    meta = body.set_axis(columns, axis=1)
    if meta.empty:
        raise PhotoCollectionError(f"{path}: has a header but no photo rows")
    meta["image"] = meta["image"].str.strip()
    for name in (*COORDINATE_COLUMNS, "heading"):
        if name in meta.columns:
            meta[name] = _to_float(meta[name])
    if LSOA_COLUMN in meta.columns:
        meta[LSOA_COLUMN] = meta[LSOA_COLUMN].str.strip()
    meta.insert(0, PHOTO_ID, [f"{i:06d}" for i in range(1, len(meta) + 1)])
    return meta


def _read_csv_text(path: Path) -> tuple[list[str], pd.DataFrame]:
    """The header cells and the data rows of a CSV, all as text; empty cells are NaN."""
    if not path.exists():
        raise PhotoCollectionError(f"photo metadata file not found: {path}")
    if path.is_dir():
        raise PhotoCollectionError(f"photo metadata path is a folder, not a CSV file: {path}")
    try:
        # header=None: pandas would rename a repeated header ("lat", "lat.1"), hiding it.
        raw = pd.read_csv(path, header=None, dtype=str, encoding="utf-8-sig", keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        raise PhotoCollectionError(f"photo metadata file is empty: {path}") from None
    except UnicodeDecodeError as exc:
        raise PhotoCollectionError(
            f"photo metadata file is not UTF-8 text ({exc.reason} at byte {exc.start}): {path}; save it as 'CSV UTF-8'"
        ) from None
    except pd.errors.ParserError as exc:
        raise PhotoCollectionError(f"photo metadata file could not be parsed as CSV: {path}: {exc}") from None
    except OSError as exc:
        raise PhotoCollectionError(f"photo metadata file cannot be read: {path}: {exc.strerror or exc}") from None
    header = ["" if pd.isna(cell) else str(cell) for cell in raw.iloc[0]]
    return header, raw.iloc[1:].reset_index(drop=True)


def _normalise_columns(header: Sequence[str], path: Path) -> list[str]:
    """Strip and lower-case column names; name blank ones; refuse names that collide."""
    names = [cell.strip().lower() or f"column_{i + 1}" for i, cell in enumerate(header)]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise PhotoCollectionError(
            f"{path}: column name(s) {repeated} appear more than once (after stripping and lower-casing); "
            f"columns found: {list(header)}"
        )
    if PHOTO_ID in names:
        raise PhotoCollectionError(f"{path}: column {PHOTO_ID!r} is reserved (thisineq adds it); rename that column")
    return names


def _check_columns(columns: Sequence[str], path: Path) -> None:
    """Raise naming what is expected, what was found and the file, unless the columns suffice."""
    has_coords = all(c in columns for c in COORDINATE_COLUMNS)
    has_lsoa = LSOA_COLUMN in columns
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if not missing and (has_coords or has_lsoa):
        return
    problems = []
    if missing:
        problems.append(f"missing required column(s) {missing}")
    if not (has_coords or has_lsoa):
        partial = [c for c in COORDINATE_COLUMNS if c in columns]
        if partial:
            problems.append(f"has {partial} but not both 'lat' and 'lon', and no 'lsoa_code'")
        else:
            problems.append("has neither coordinates ('lat' and 'lon') nor 'lsoa_code'")
    hints = [f"'{c}' -> '{_ALIASES[c]}'" for c in columns if c in _ALIASES and _ALIASES[c] not in columns]
    hint = f"; perhaps rename {', '.join(hints)}" if hints else ""
    raise PhotoCollectionError(
        f"{path}: {'; '.join(problems)}. Expected columns: 'image' plus 'lat' and 'lon' and/or 'lsoa_code' "
        f"(optional: {', '.join(OPTIONAL_COLUMNS)}); found: {list(columns)}{hint}"
    )


def _to_float(values: pd.Series) -> pd.Series:
    """Numbers as float64; blanks and non-numbers become NaN so the caller can report them."""
    return pd.to_numeric(values.str.strip(), errors="coerce").astype("float64")


# --------------------------------------------------------------------------- file checks


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
            raise ValueError(f"check_files needs a {name!r} column; read the CSV with read_metadata()")
    root = Path(os.path.abspath(photos_dir))
    if not root.is_dir():
        raise PhotoCollectionError(f"photos folder not found (or not a folder): {root}")

    images = [_image_text(v) for v in meta["image"]]
    paths = [_resolve_image(root, image) if image else None for image in images]
    first_row = _first_rows(paths)
    to_inspect = sorted({p for p in paths if p is not None})
    with warnings.catch_warnings():
        # Entered once here, not per thread: catch_warnings is not thread-safe. Our own
        # MAX_PIXELS check replaces PIL's bomb warning.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            inspected = dict(zip(to_inspect, pool.map(_inspect_file, to_inspect), strict=True))

    problems: list[PhotoProblem] = []
    ok_mask = np.zeros(len(meta), dtype=bool)
    first_by_hash: dict[str, int] = {}
    ids = meta[PHOTO_ID].astype(str).tolist()
    extra: dict[str, list] = {"path": [], "format": [], "width": [], "height": [], "sha256": []}
    for row, (photo_id, image, path) in enumerate(zip(ids, images, paths, strict=True)):
        issue = _row_problem(row, image, path, first_row, inspected, first_by_hash, ids, images)
        if issue is not None:
            problems.append(PhotoProblem(photo_id, image, *issue))
            continue
        check = inspected[path]
        first_by_hash[check.sha256] = row
        ok_mask[row] = True
        for key, value in (
            ("path", str(path)),
            ("format", check.format),
            ("width", check.width),
            ("height", check.height),
            ("sha256", check.sha256),
        ):
            extra[key].append(value)
    ok_rows = meta.loc[ok_mask].copy()
    for key, values in extra.items():
        ok_rows[key] = pd.Series(values, index=ok_rows.index, dtype="int64" if key in ("width", "height") else None)
    return ok_rows, problems_frame(problems)


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
        with _open_image(path) as im:
            fmt, (width, height) = im.format, im.size
        if not _looks_complete(fmt, head, tail, st.st_size):
            _reduced_decode(path)
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


def _reduced_decode(path: Path) -> None:
    """Decode a photo (a JPEG at 1/8 scale, which is cheap) and raise PhotoReadError if that fails."""
    with _open_image(path) as im:
        try:
            im.draft(None, (max(1, im.width // 8), max(1, im.height // 8)))
            im.load()
        except _DECODE_ERRORS as exc:
            raise PhotoReadError(path, _decode_reason(exc)) from exc


# --------------------------------------------------------------------------- decoding


def load_photo(path: str | os.PathLike, size: int) -> np.ndarray:
    """Decode one photo to a square RGB array the way a person would see it.

    Honours EXIF orientation, takes the first frame of animations, composites
    transparency on white, scales 16-bit grey to 8 bits, centre-crops the long side and
    resizes with Lanczos (JPEGs much larger than `size` are first reduced by libjpeg's
    DCT scaling, which is fast and loses nothing at the final size).

    Args:
        path: image file (JPEG, PNG, WebP, GIF, TIFF, BMP, ... anything PIL opens).
        size: side of the output in pixels.

    Returns:
        uint8 array, shape (size, size, 3).

    Raises:
        PhotoReadError: missing, empty, not an image, truncated or corrupt, or above
            MAX_PIXELS (decompression bomb).
    """
    if size < 1:
        raise ValueError(f"size must be a positive number of pixels, got {size}")
    path = Path(path)
    return _decode_square(lambda: _open_image(path), path, size)


def _decode_square(open_image, name, size: int) -> np.ndarray:
    """Open (via `open_image`), decode and square an image, every failure as a PhotoReadError."""
    with warnings.catch_warnings():
        # MAX_PIXELS is the documented limit; PIL's own warning (at ~89 MP) would be noise.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with open_image() as im:
            try:
                return _square_rgb(im, size)
            except PhotoReadError:
                raise
            except _DECODE_ERRORS as exc:
                raise PhotoReadError(name, _decode_reason(exc)) from exc


def _open_image(path: Path) -> Image.Image:
    """Open an image lazily (header only); raise PhotoReadError with the reason if it cannot be."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise PhotoReadError(path, "file not found") from None
    except OSError as exc:
        raise PhotoReadError(path, f"cannot access file: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise PhotoReadError(path, "not a regular file (a folder?)")
    if st.st_size == 0:
        raise PhotoReadError(path, "empty file (0 bytes)")
    return _open_checked(path, path)


def _open_checked(source, name, max_decoded_pixels: int | None = None) -> Image.Image:
    """Image.open on a path or file object, with every failure and the pixel limits as PhotoReadError.

    `max_decoded_pixels` bounds formats decoded at full size (all but JPEG, which is decoded at a
    reduced scale): it keeps an upload's memory bounded.
    """
    try:
        im = Image.open(source)
    except Image.DecompressionBombError as exc:
        raise PhotoReadError(name, f"decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        reason = _unidentified_reason(source) if isinstance(source, Path) else "not an image format PIL recognises"
        raise PhotoReadError(name, reason) from None
    except PermissionError as exc:
        raise PhotoReadError(name, f"cannot read file: {exc.strerror or exc}") from None
    except _DECODE_ERRORS as exc:
        raise PhotoReadError(name, f"corrupt image header: {exc}") from None
    width, height = im.size
    if width * height > MAX_PIXELS:
        im.close()
        raise PhotoReadError(
            name,
            f"decompression bomb: {width}x{height} = {width * height / 1e6:.0f} megapixels "
            f"exceeds the {MAX_PIXELS / 1e6:.0f}-megapixel limit",
        )
    if width == 0 or height == 0:
        im.close()
        raise PhotoReadError(name, f"image has no pixels ({width}x{height})")
    if max_decoded_pixels is not None and im.format != "JPEG" and width * height > max_decoded_pixels:
        im.close()
        raise PhotoReadError(
            name,
            f"{width}x{height} = {width * height / 1e6:.0f} megapixels is over the {max_decoded_pixels / 1e6:.0f}-megapixel "
            f"limit for {im.format or 'this format'} uploads (JPEGs may be larger)",
        )
    return im


MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_PIXELS = 40_000_000  # decoded at full size (PNG, WebP, …), an upload costs ~3 bytes per pixel and more


def load_photo_bytes(
    data: bytes, size: int, *, name: str = "upload", max_bytes: int = MAX_UPLOAD_BYTES, max_pixels: int = MAX_UPLOAD_PIXELS
) -> np.ndarray:
    """`load_photo` for bytes held in memory (an upload): never touches the disk.

    Raises:
        PhotoReadError: empty, over `max_bytes`, not an image, truncated or corrupt, or a
            decompression bomb — the reason in words.
    """
    if not data:
        raise PhotoReadError(name, "empty file (0 bytes)")
    if len(data) > max_bytes:
        raise PhotoReadError(name, f"{len(data) / 2**20:.1f} MB is over the {max_bytes / 2**20:.0f} MB limit")
    return _decode_square(lambda: _open_checked(io.BytesIO(data), name, max_pixels), name, size)


def _unidentified_reason(path: Path) -> str:
    """Why PIL did not recognise a file, with its first bytes (often tellingly text)."""
    with open(path, "rb") as handle:
        start = handle.read(24)
    if path.suffix.lower() in (".heic", ".heif", ".avif"):
        return f"{path.suffix} is not supported here; convert the photos to JPEG"
    if start.startswith(b"version https://git-lfs"):
        return "a Git LFS pointer, not the image (run `git lfs pull`)"
    return f"not an image format PIL recognises (file starts with {start!r})"


def _decode_reason(exc: BaseException) -> str:
    """A short reason for a decode failure, naming truncation plainly."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, Image.DecompressionBombError):
        return f"decompression bomb: {message}"
    if "truncated" in message.lower():
        return f"truncated file: {message}"
    return f"corrupt image data: {message}"


def _square_rgb(im: Image.Image, size: int) -> np.ndarray:
    """Orient, convert, centre-crop and resize an opened image; (size, size, 3) uint8."""
    # Twice the target keeps the final Lanczos step doing real anti-aliasing work.
    im.draft(None, (2 * size, 2 * size))
    ImageOps.exif_transpose(im, in_place=True)
    rgb = _to_rgb(im)
    width, height = rgb.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    # Crop before resizing: resize(box=...) lets the filter reach past the box, bleeding
    # the cropped-away border into the edge pixels.
    square = rgb.crop((left, top, left + side, top + side)) if width != height else rgb
    out = square.resize((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return np.array(out, dtype=np.uint8).reshape(size, size, 3)


def _to_rgb(im: Image.Image) -> Image.Image:
    """Any PIL mode to RGB: alpha over white, high-bit-depth grey scaled (not clipped)."""
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return Image.fromarray(_grey_to_uint8(im), "L").convert("RGB")
    if _has_alpha(im):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im if im.mode == "RGB" else im.convert("RGB")


def _has_alpha(im: Image.Image) -> bool:
    """Whether an image carries transparency: an alpha band or a transparent colour."""
    return "A" in im.getbands() or "a" in im.mode or "transparency" in im.info


def _grey_to_uint8(im: Image.Image) -> np.ndarray:
    """16/32-bit integer grey as 16-bit data scaled to 0-255; float grey as 0-1 (or 0-255 if larger)."""
    values = np.asarray(im).astype(np.float64)
    if im.mode == "F":
        finite_max = np.nanmax(values) if values.size else 0.0
        scaled = values * 255.0 if finite_max <= 1.0 else values
    else:
        scaled = values / 257.0  # 65535 -> 255 exactly
    return np.rint(np.clip(np.nan_to_num(scaled), 0, 255)).astype(np.uint8)


# --------------------------------------------------------------------------- cache


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
        raise ValueError(f"size, chunk and workers must be positive; got size={size}, chunk={chunk}, workers={workers}")
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
    remaining = sum(min(chunk, len(paths) - c * chunk) for c in todo)
    with tqdm(
        total=len(paths), initial=len(paths) - remaining, unit="photo", desc="caching photos", disable=not progress, smoothing=0.1
    ) as bar:
        tasks = _batch_tasks(paths, size, chunk, todo)
        left_in_chunk = {c: math.ceil(min(chunk, len(paths) - c * chunk) / min(_BATCH, chunk)) for c in todo}
        for c, start, images, failures in _decode_all(tasks, workers):
            array[start : start + len(images)] = images
            state.failures.extend(
                asdict(CacheProblem(start + i, paths[start + i], "unreadable", reason)) for i, reason in failures
            )
            bar.update(len(images))
            left_in_chunk[c] -= 1
            if left_in_chunk[c] == 0:
                array.flush()  # rows on disk before the sidecar says they are
                state.done[c] = True
                _write_state(sidecar, state)
    array.flush()
    del array
    os.replace(partial, out_path)
    sidecar.unlink(missing_ok=True)
    failures = pd.DataFrame(state.failures, columns=list(CACHE_PROBLEM_COLUMNS))
    return failures.sort_values("index", kind="stable").reset_index(drop=True)


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


# --------------------------------------------------------------------------- splits


def split_by_group(groups: pd.Series, *, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> pd.Series:
    """Assign photos to train/val/test so that each group (e.g. LSOA) lies on one side.

    Groups are ordered by sha256 of f"{seed}:{group}" and filled into the splits by
    cumulative photo count (a group goes where its middle photo falls), so the result
    depends only on the multiset of groups and the seed, not on row order.

    Args:
        groups: the group of each photo, n values; NaN is refused.
        fractions: (train, val, test) shares of photos, non-negative, summing to 1.
        seed: changes which groups land where.

    Returns:
        "train" | "val" | "test" per photo, n values aligned to `groups.index`, named "split".
    """
    bounds = _split_bounds(fractions)
    missing = int(groups.isna().sum())
    if missing:
        raise ValueError(f"{missing} of {len(groups)} photos have no group (NaN); assign or drop them before splitting")
    counts = groups.value_counts(sort=False)
    order = sorted(counts.index, key=lambda g: (_stable_key(seed, g), str(g)))
    total = float(counts.sum())
    assignment: dict[object, str] = {}
    seen = 0
    for group in order:
        n = int(counts[group])
        middle = (seen + n / 2) / total
        assignment[group] = SPLITS[int(np.searchsorted(bounds, middle, side="right"))]
        seen += n
    return pd.Series([assignment[g] for g in groups], index=groups.index, name="split", dtype=object)


def _split_bounds(fractions: Sequence[float]) -> np.ndarray:
    """Cumulative train and train+val shares, after checking the three fractions."""
    values = np.asarray(list(fractions), dtype=float)
    if values.shape != (3,) or not np.all(np.isfinite(values)) or np.any(values < 0) or abs(values.sum() - 1) > 1e-6:
        raise ValueError(f"fractions must be three non-negative numbers (train, val, test) summing to 1; got {tuple(fractions)}")
    return np.cumsum(values)[:2]


def _stable_key(seed: int, group: object) -> str:
    """A hash of seed and group that is the same in every process (unlike hash())."""
    return hashlib.sha256(f"{seed}:{group}".encode()).hexdigest()
