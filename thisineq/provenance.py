"""Provenance inside every exported PNG: how the image was made, enough to make it again.

The record travels in the PNG itself (an iTXt chunk, keyword `thisineq:provenance`, JSON) and, on
request, as a JSON sidecar. It names the artifact set, the hashes of the files that made the image
(generator, encoder, boundaries), the view that reproduces it (seed or source photo, truncation,
inversion method, boundary fit and walk, each domain's step), the out-of-distribution band, whether
the data is synthetic, and the project version. `thisineq provenance FILE` prints it; the Generator
page opens it and draws the same image.
"""

from __future__ import annotations

import io
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin, UnidentifiedImageError

from thisineq import __version__
from thisineq.errors import ThisIneqError

KEYWORD = "thisineq:provenance"
FORMAT = "thisineq-provenance"
VERSION = 1
MAX_RECORD_BYTES = 1_000_000  # a record is a few hundred bytes; a larger chunk is not ours


class ProvenanceError(ThisIneqError, ValueError):
    """A file without a readable provenance record."""


def record(*, image: str, artifact_set: str, files: dict[str, str], view: dict, band: str | None, synthetic: bool) -> dict:
    """A provenance record: what the image is, where it came from, and the view that draws it again."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "image": image,
        "artifact_set": artifact_set,
        "synthetic": bool(synthetic),
        "files": dict(files),
        "view": {k: v for k, v in view.items() if v is not None},
        "ood_band": band,
        "thisineq": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def png_bytes(image: Image.Image | np.ndarray, provenance: dict) -> bytes:
    """The image as a PNG carrying `provenance` in an iTXt chunk."""
    picture = image if isinstance(image, Image.Image) else Image.fromarray(np.ascontiguousarray(image))
    info = PngImagePlugin.PngInfo()
    info.add_itxt(KEYWORD, json.dumps(provenance), zip=True)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def sidecar_bytes(provenance: dict) -> bytes:
    """The record as a JSON sidecar file."""
    return (json.dumps(provenance, indent=2) + "\n").encode("utf-8")


def read_provenance(source: str | os.PathLike | bytes, name: str | None = None) -> dict:
    """The record of a PNG written by thisineq, or of its JSON sidecar; a clear error for anything else.

    `name`: what the messages call the file (default: its path, or "the file" for bytes).
    """
    name = name or ("the file" if isinstance(source, bytes) else str(source))
    try:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
    except FileNotFoundError:
        raise ProvenanceError(f"{name} does not exist") from None
    except (IsADirectoryError, PermissionError) as error:
        raise ProvenanceError(f"{name} cannot be read: {error.strerror}") from None
    if data.lstrip()[:1] == b"{":
        return _checked(_json(data, name), name)
    try:
        with Image.open(io.BytesIO(data)) as picture:
            if picture.format != "PNG":
                raise ProvenanceError(
                    f"{name} is a {picture.format} image, not a PNG: provenance travels in PNGs written by thisineq"
                )
            text = picture.text.get(KEYWORD) if hasattr(picture, "text") else None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        if isinstance(error, ProvenanceError):
            raise
        raise ProvenanceError(f"{name} is neither a PNG nor a provenance JSON file") from None
    if text is None:
        raise ProvenanceError(f"{name} carries no thisineq provenance (it was not exported by thisineq, or was re-saved)")
    return _checked(_json(text.encode("utf-8"), name), name)


def describe(provenance: dict) -> str:
    """The record in lines a person reads."""
    view = provenance.get("view", {})
    lines = [
        f"{provenance.get('image', 'image')} from the artifact set {provenance.get('artifact_set', '?')}"
        + (" (synthetic data: no real place)" if provenance.get("synthetic") else ""),
        "made with thisineq " + str(provenance.get("thisineq", "?")) + " on " + str(provenance.get("created", "?")),
        "view: " + ", ".join(f"{k}={v}" for k, v in view.items()),
        "out-of-distribution band: " + str(provenance.get("ood_band") or "not measured"),
    ]
    lines += [f"{role}: sha256 {digest}" for role, digest in provenance.get("files", {}).items()]
    return "\n".join(lines)


def _json(data: bytes, name: str) -> dict:
    if len(data) > MAX_RECORD_BYTES:
        raise ProvenanceError(f"{name}'s provenance record is {len(data):,} bytes: too large to be a thisineq record")
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProvenanceError(f"{name}'s provenance record is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise ProvenanceError(f"{name}'s provenance record is not a JSON object")
    return value


def _checked(value: dict, name: str) -> dict:
    if value.get("format") != FORMAT:
        raise ProvenanceError(f"{name} holds JSON, but not a thisineq provenance record (format {value.get('format')!r})")
    if not isinstance(value.get("view"), dict):
        raise ProvenanceError(f"{name}'s provenance record has no view to draw the image from")
    return value
