"""What an exported image's provenance names: the files of the artifact set that made it."""

from __future__ import annotations

from pathlib import Path

from thisineq.artifacts import ArtifactSet
from thisineq.invert import methods


def generator_files(artifacts: ArtifactSet, method: str | None, *, from_photo: bool) -> dict[str, Path]:
    """By role: the generator, the boundaries, and — for a photo's edit — the encoder and the inversion that gave its code."""
    files = {"generator": artifacts.generator, "boundaries": artifacts.normals}
    if method and from_photo:
        spec = methods.method(method)
        if spec.encoder:
            files["encoder"] = artifacts.encoder(spec.encoder)
        files["inversion"] = artifacts.inversion(method) / "latents.npz"
    return files
