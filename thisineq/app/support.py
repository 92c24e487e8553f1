"""Out-of-distribution bands where the images are: a badge and a reason per edit, marks on the walk matrix, a kiosk that
stays within the data (no Streamlit in the pure functions; `show_band` draws)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from thisineq.latent.normals import Direction
from thisineq.latent.ood import Support
from thisineq.latent.walk import edit
from thisineq.models.stylegan2 import Generator

BAND_STYLE = {  # Streamlit badge colour and icon per band
    "typical": ("green", ":material/check_circle:"),
    "unusual": ("orange", ":material/warning:"),
    "unsupported": ("red", ":material/block:"),
}
BAND_MARKS = {"typical": "✓", "unusual": "!", "unsupported": "✗"}
BAND_HELP = (
    "How far the edited code lies from what the model has seen — the generator's W and the inverted photos' codes — "
    "calibrated on held-out photos: typical, unusual (rarer than 1 in 20 held-out photos), unsupported (rarer than 1 in 500)."
)


def band_of(
    support: Support,
    ws: torch.Tensor | np.ndarray,
    moves: list[tuple[Direction, float]] = (),
    generator: Generator | None = None,
    image: torch.Tensor | None = None,
) -> tuple[str, str]:
    """(band, reason) of one latent ws (1, num_ws, D) after the slider moves.

    Where the bands read images: `image`, the edit already rendered (1, 3, size, size) in [-1, 1], else the generator's.
    """
    ws = edit(torch.as_tensor(ws), list(moves)) if moves else ws
    bands, reasons = support.bands(np.asarray(ws, np.float64).reshape(1, *np.shape(ws)[-2:]), generator, image)
    return bands[0], reasons[0]


def grid_marks(
    support: Support, latents: np.ndarray, sources: list[str], domains: list[str], steps, generator: Generator | None = None
) -> pd.DataFrame:
    """A walk matrix's bands as marks, one row per (source, domain) and one column per step, as the grid is laid out."""
    bands, _ = support.bands(latents.reshape(-1, *latents.shape[-2:]), generator)
    bands = np.array([BAND_MARKS[b] for b in bands]).reshape(len(sources) * len(domains), len(steps))
    rows = [f"{s} · {d}" if len(sources) > 1 else d for s in sources for d in domains]
    return pd.DataFrame(bands, index=rows, columns=[f"{s:+.1f}σ" if s else "0" for s in steps])


def supported_values(
    support: Support,
    ws: torch.Tensor,
    directions: dict[str, Direction],
    values: dict[str, float],
    step: float = 0.25,
    generator: Generator | None = None,
) -> dict[str, float]:
    """Slider values drawn back towards 0, a slider step at a time, until the edit is no longer unsupported."""
    values = dict(values)
    while True:
        moves = [(directions[k], v) for k, v in values.items() if v]
        if not moves or band_of(support, ws, moves, generator)[0] != "unsupported":
            return values
        values = {k: float(np.sign(v) * max(abs(v) - step, 0.0)) for k, v in values.items()}


def show_band(where, band: str, reason: str) -> None:
    """The badge, with the reason beside it where the edit is not typical."""
    colour, icon = BAND_STYLE[band]
    where.badge(band, color=colour, icon=icon, help=BAND_HELP)
    if reason:
        where.caption(reason[0].upper() + reason[1:])


def supported_seed(support: Support, generator: Generator, seed: int, psi: float, tries: int = 50) -> int:
    """The first seed from `seed` on whose own image is not unsupported (a rare seed is; the kiosk shows the next)."""
    from thisineq.app.generation import seed_ws

    for candidate in range(seed, seed + tries):
        if band_of(support, seed_ws(generator, candidate, psi), generator=generator)[0] != "unsupported":
            return candidate
    return seed
