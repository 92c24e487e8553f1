"""Photo collections: the metadata CSV, file checks, decoding to square RGB arrays, a resumable cache, grouped splits.

The modules, in the order ingest uses them: `metadata` reads the CSV, `checks` sorts its rows into
usable ones and problems without decoding, `decode` opens and squares one photo, `cache` decodes
them all into one array, `splits` assigns train/val/test by LSOA.
"""

from thisineq.data.photos.cache import CACHE_PROBLEM_COLUMNS, CacheProblem, build_image_cache, cache_fingerprint
from thisineq.data.photos.checks import PROBLEM_COLUMNS, PhotoProblem, ProblemKind, check_files, problems_frame
from thisineq.data.photos.decode import (
    MAX_PIXELS,
    MAX_UPLOAD_BYTES,
    MAX_UPLOAD_PIXELS,
    PhotoReadError,
    load_photo,
    load_photo_bytes,
)
from thisineq.data.photos.metadata import (
    COORDINATE_COLUMNS,
    LSOA_COLUMN,
    OPTIONAL_COLUMNS,
    PHOTO_ID,
    REQUIRED_COLUMNS,
    PhotoCollectionError,
    read_metadata,
)
from thisineq.data.photos.splits import SPLITS, split_by_group

__all__ = [
    "CACHE_PROBLEM_COLUMNS",
    "COORDINATE_COLUMNS",
    "LSOA_COLUMN",
    "MAX_PIXELS",
    "MAX_UPLOAD_BYTES",
    "MAX_UPLOAD_PIXELS",
    "OPTIONAL_COLUMNS",
    "PHOTO_ID",
    "PROBLEM_COLUMNS",
    "REQUIRED_COLUMNS",
    "SPLITS",
    "CacheProblem",
    "PhotoCollectionError",
    "PhotoProblem",
    "PhotoReadError",
    "ProblemKind",
    "build_image_cache",
    "cache_fingerprint",
    "check_files",
    "load_photo",
    "load_photo_bytes",
    "problems_frame",
    "read_metadata",
    "split_by_group",
]
