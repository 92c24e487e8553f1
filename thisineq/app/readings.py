"""What the image-side models read in the pages' images, in words and tables (no Streamlit, testable alone)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from thisineq.data.domains import domain
from thisineq.images import from_uint8
from thisineq.latent.walk import synthesise_latents
from thisineq.predict.reader import ImageReader


def read_pixels(reader: ImageReader, images: list[np.ndarray]) -> pd.DataFrame:
    """Readings (one row per uint8 image (H, W, 3)): each domain's predicted decile, each question's percentile."""
    batch = from_uint8(torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2))
    return reader.read(batch)


def read_latent_grid(
    reader: ImageReader, generator, latents: np.ndarray, sources: list[str], domains: list[str], steps
) -> pd.DataFrame:
    """Readings of a walk matrix's images, re-synthesised from its latents (sources, domains, steps, num_ws, D).

    One row per image: source, walked domain, step, then the readings.
    """
    readings = reader.read(synthesise_latents(generator, latents).clamp(-1, 1))
    index = pd.MultiIndex.from_product([sources, domains, list(steps)], names=["source", "walked", "step"])
    return pd.concat([index.to_frame(index=False), readings], axis=1)


def own_domain_curves(grid: pd.DataFrame) -> pd.DataFrame:
    """Per walked domain, its own predicted decile along the walk (columns image, step, reading, value) for `walk_readings`."""
    parts = [
        pd.DataFrame(
            {
                "image": part["source"],
                "step": part["step"],
                "reading": f"{domain(walked).label}: predicted decile",
                "value": part[walked],
            }
        )
        for walked, part in grid.groupby("walked", sort=False)
        if walked in grid.columns
    ]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["image", "step", "reading", "value"])


def readings_line(reader: ImageReader, row: pd.Series, before: pd.Series | None = None) -> str:
    """One line under an image: predicted deciles and perception percentiles, with the change from `before` if given."""

    def shown(key: str, fmt: str) -> str:
        change = f" ({row[key] - before[key]:+{fmt}})" if before is not None and key in before else ""
        return f"{row[key]:{fmt}}{change}"

    parts = [f"{domain(k).label.lower()} {shown(k, '.1f')}" for k in reader.domains if k in row]
    deciles = f"predicted deciles: {', '.join(parts)}" if parts else ""
    percent = [f"{q} {shown(q, '.0f')}" for q in reader.questions if q in row]
    perception = f"looks (percentile of the photos): {', '.join(percent)}" if percent else ""
    return " · ".join(p for p in (deciles, perception) if p)
