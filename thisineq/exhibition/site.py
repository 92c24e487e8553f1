"""`thisineq export site`: a static exhibition site — precomputed images by slider value, no server, no network.

As the original exhibition page did, every street (an inverted held-out photo, else a seed) is walked
along each domain's boundary over a grid of steps, one domain at a time; the site swaps precomputed
images as a slider moves. Each image carries its out-of-distribution band and reason, the synthetic
label shows where it applies, and a kiosk view drifts only through supported images. Data travels as
`data.js` (a script, because a page opened from `file://` may not fetch JSON), images as WebP.

The site is built in `<out>.partial/` (street by street, so a stopped export resumes there) and
renamed to `<out>` only when whole: a missing or corrupt artifact is named before anything is written.
"""

from __future__ import annotations

import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from thisineq.artifacts import ArtifactSet
from thisineq.config import option
from thisineq.data.dataset import load_dataset
from thisineq.data.domains import domain as domain_info
from thisineq.errors import ConfigError, ThisIneqError
from thisineq.images import to_uint8
from thisineq.invert import methods
from thisineq.invert.batch import load_inversions
from thisineq.io import atomic_open
from thisineq.latent.normals import BoundarySet
from thisineq.latent.ood import Support, SupportModel
from thisineq.latent.walk import edit
from thisineq.models.importers import kept_discriminator
from thisineq.models.stylegan2 import load_generator, sample_ws

ASSETS = ("index.html", "kiosk.html", "about.html", "app.js", "style.css")
HELD_OUT = ("val", "test")


@dataclass
class SiteConfig:
    """What the exported site shows."""

    artifact_set: str = option(help="the artifact set folder (its generator, boundaries, inversions)")
    out: str = option(help="the site's folder (written whole, or not at all)")
    streets: int = option(60, "streets shown: inverted held-out photos first, then random seeds")
    steps: tuple[float, ...] = option(tuple(np.round(np.arange(-3, 3.01, 0.5), 2)), "slider values, in σ of W")
    method: str = option("", "whose inversions and boundaries (default: the set's first walked method)")
    psi: float = option(0.8, "truncation of the seeds' images")
    quality: int = option(90, "WebP quality (100: lossless)")
    workers: int = option(2, "threads encoding images")

    def __post_init__(self):
        self.steps = tuple(float(s) for s in self.steps)
        if self.streets < 1 or not self.steps or 0.0 not in self.steps:
            raise ConfigError("a site needs at least one street and a grid of steps that includes 0")
        if not 1 <= self.quality <= 100 or self.workers < 1:
            raise ConfigError(f"quality must be 1–100 and workers at least 1, got {self.quality} and {self.workers}")


@dataclass
class SiteReport:
    folder: Path
    images: int
    bytes: int
    seconds: float
    unsupported: int


def export_site(config: SiteConfig, *, log=print) -> SiteReport:
    """Build the site; returns where, how many images, how many bytes, how long."""
    started = time.perf_counter()
    artifacts = ArtifactSet(Path(config.artifact_set))
    generator, normals, method, streets, support, synthetic = _load(artifacts, config)
    directions = normals.directions(method)
    out = Path(config.out)
    partial = out.with_name(out.name + ".partial")
    (partial / "img").mkdir(parents=True, exist_ok=True)
    entries, written = [], 0
    with ThreadPoolExecutor(config.workers) as pool:
        for index, (label, ws) in enumerate(streets):
            entries.append(_street(index, label, ws, generator, directions, support, config, partial, pool))
            written += 1
            if written % 10 == 0:
                log(f"  {written} of {len(streets)} streets")
    site = {
        "title": "This inequality does not exist",
        "set": artifacts.name,
        "synthetic": synthetic,
        "method": methods.method(method).label,
        "domains": [{"key": k, "label": domain_info(k).label} for k in directions],
        "steps": list(config.steps),
        "streets": entries,
        "bands": bool(support),
    }
    with atomic_open(partial / "data.js", "w", encoding="utf-8") as handle:
        handle.write("window.THISINEQ_SITE = " + json.dumps(site) + ";\n")
    for name in ASSETS:
        (partial / name).write_bytes(resources.files("thisineq.exhibition").joinpath("assets", name).read_bytes())
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)
    files = [p for p in out.rglob("*") if p.is_file()]
    unsupported = sum(band == "unsupported" for e in entries for walk in e["walks"].values() for band in walk["bands"])
    return SiteReport(
        out, len(list((out / "img").iterdir())), sum(p.stat().st_size for p in files), time.perf_counter() - started, unsupported
    )


def _load(artifacts: ArtifactSet, config: SiteConfig):
    """Everything the site needs, each file checked before anything is written."""
    if not artifacts.generator.is_file():
        raise ThisIneqError(f"{artifacts.generator} is missing: the site needs the set's generator")
    generator = load_generator(artifacts.generator).float().eval()
    if not artifacts.normals.is_file():
        raise ThisIneqError(f"{artifacts.normals} is missing: the site walks the set's boundaries (`thisineq pipeline`)")
    normals = BoundarySet.load(artifacts.normals)
    method = config.method or next((m for m in methods.NAMES if m in normals.methods()), "")
    if not method or not normals.directions(method):
        raise ThisIneqError(f"{artifacts.normals} has no boundaries for {config.method or 'any method'}")
    support_path = artifacts.boundaries / f"ood_{methods.method(method).walks}.npz"
    support = None
    if support_path.is_file():
        model = SupportModel.load(support_path)
        support = Support(model, kept_discriminator(artifacts.discriminator) if model.reads_realism else None)
    streets = []
    if (artifacts.inversion(method) / "inversion.json").is_file():
        inversions = load_inversions(artifacts.inversion(method))
        photos = load_dataset(artifacts.dataset).photos
        for photo_id, ws in zip(inversions.photo_id, inversions.ws, strict=True):
            if len(streets) < config.streets and photos.at[str(photo_id), "split"] in HELD_OUT:
                streets.append((f"photo {photo_id}", torch.from_numpy(np.asarray(ws, np.float32))[None]))
    seeds = range(config.streets - len(streets))
    streets += [(f"seed {s}", sample_ws(generator, 1, s, truncation_psi=config.psi)) for s in seeds]
    manifest = artifacts.dataset / "dataset.json"
    synthetic = bool(json.loads(manifest.read_text(encoding="utf-8")).get("synthetic")) if manifest.is_file() else False
    return generator, normals, method, streets, support, synthetic


@torch.inference_mode()
def _street(index, label, ws, generator, directions, support, config, folder: Path, pool) -> dict:
    """One street's images (every domain × step, written unless already there) and its entry in data.js."""
    names, latents = [], []
    for key, direction in directions.items():
        for k, step in enumerate(config.steps):
            names.append(f"img/s{index:03d}_{key}_{k:02d}.webp")
            latents.append(edit(ws, [(direction, step)]) if step else ws)
    stacked = torch.cat(latents)
    missing = [i for i, name in enumerate(names) if not (folder / name).is_file()]
    if missing:
        todo = stacked[missing]
        pixels = to_uint8(torch.cat([generator.synthesis(todo[i : i + 32]) for i in range(0, len(todo), 32)]))
        list(pool.map(lambda item: _save(folder / names[item[0]], item[1], config.quality), zip(missing, pixels, strict=True)))
    bands = [""] * len(names)
    reasons = [""] * len(names)
    if support is not None:
        bands, reasons = support.bands(stacked.numpy(), generator)
    steps = len(config.steps)
    walks = {
        key: {
            "images": names[i * steps : (i + 1) * steps],
            "bands": bands[i * steps : (i + 1) * steps],
            "reasons": reasons[i * steps : (i + 1) * steps],
        }
        for i, key in enumerate(directions)
    }
    return {"label": label, "walks": walks}


def _save(path: Path, pixels: np.ndarray, quality: int) -> None:
    with atomic_open(path, "wb") as handle:
        Image.fromarray(pixels).save(handle, format="WEBP", quality=quality, lossless=quality == 100, method=4)
