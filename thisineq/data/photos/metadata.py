"""The metadata CSV of a photo collection: reading it, checking its columns, numbers as floats."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from thisineq.errors import ThisIneqError

REQUIRED_COLUMNS: tuple[str, ...] = ("image",)
COORDINATE_COLUMNS: tuple[str, str] = ("lat", "lon")
LSOA_COLUMN = "lsoa_code"
OPTIONAL_COLUMNS: tuple[str, ...] = ("heading", "captured")
PHOTO_ID = "photo_id"

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


class PhotoCollectionError(ThisIneqError, ValueError):
    """The collection as a whole cannot be used: its metadata CSV or folder is missing or malformed."""


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
