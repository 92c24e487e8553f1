"""Out-of-distribution bands where the images are: a badge and a reason per edit, marks on the walk matrix, a kiosk that
stays within the data (no Streamlit in the pure functions; `show_band` draws)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from thisineq.latent.normals import Direction
from thisineq.latent.ood import SupportModel
from thisineq.latent.walk import edit
from thisineq.models.stylegan2 import realism_of_latents

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


class RealismJudge:
    """The set's kept discriminator reading the images of latents, for bands calibrated with its realism."""

    def __init__(self, generator, discriminator):
        self.generator, self.discriminator = generator, discriminator

    def logits(self, latents: np.ndarray | torch.Tensor) -> np.ndarray:
        flat = np.asarray(latents, np.float32).reshape(-1, *np.shape(latents)[-2:])
        return realism_of_latents(self.generator, self.discriminator, flat)


def _scores(model: SupportModel, latents: np.ndarray, judge: RealismJudge | None) -> pd.DataFrame:
    """The model's scores of latents (n, num_ws, D), with their images' realism where the model and the set have it."""
    realism = judge.logits(latents) if judge is not None and model.reads_realism else None
    return model.scores(latents, realism)


def band_of(
    model: SupportModel,
    ws: torch.Tensor | np.ndarray,
    moves: list[tuple[Direction, float]] = (),
    judge: RealismJudge | None = None,
) -> tuple[str, str]:
    """(band, reason) of one latent ws (1, num_ws, D) after the slider moves."""
    ws = edit(torch.as_tensor(ws), list(moves)) if moves else ws
    scores = _scores(model, np.asarray(ws, np.float64).reshape(1, *np.shape(ws)[-2:]), judge)
    return str(scores.at[0, "band"]), str(model.reasons(scores).iloc[0])


def grid_marks(
    model: SupportModel, latents: np.ndarray, sources: list[str], domains: list[str], steps, judge: RealismJudge | None = None
) -> pd.DataFrame:
    """A walk matrix's bands as marks, one row per (source, domain) and one column per step, as the grid is laid out."""
    flat = latents.reshape(-1, *latents.shape[-2:])
    bands = _scores(model, flat, judge)["band"].map(BAND_MARKS).to_numpy().reshape(len(sources) * len(domains), len(steps))
    rows = [f"{s} · {d}" if len(sources) > 1 else d for s in sources for d in domains]
    return pd.DataFrame(bands, index=rows, columns=[f"{s:+.1f}σ" if s else "0" for s in steps])


def supported_values(
    model: SupportModel,
    ws: torch.Tensor,
    directions: dict[str, Direction],
    values: dict[str, float],
    step: float = 0.25,
    judge: RealismJudge | None = None,
) -> dict[str, float]:
    """Slider values drawn back towards 0, a slider step at a time, until the edit is no longer unsupported."""
    values = dict(values)
    while True:
        moves = [(directions[k], v) for k, v in values.items() if v]
        if not moves or band_of(model, ws, moves, judge)[0] != "unsupported":
            return values
        values = {k: float(np.sign(v) * max(abs(v) - step, 0.0)) for k, v in values.items()}


def show_band(where, band: str, reason: str) -> None:
    """The badge, with the reason beside it where the edit is not typical."""
    colour, icon = BAND_STYLE[band]
    where.badge(band, color=colour, icon=icon, help=BAND_HELP)
    if reason:
        where.caption(reason[0].upper() + reason[1:])


def supported_seed(
    model: SupportModel, generator, seed: int, psi: float, tries: int = 50, judge: RealismJudge | None = None
) -> int:
    """The first seed from `seed` on whose own image is not unsupported (a rare seed is; the kiosk shows the next)."""
    from thisineq.app.generation import seed_ws

    for candidate in range(seed, seed + tries):
        if band_of(model, seed_ws(generator, candidate, psi), judge=judge)[0] != "unsupported":
            return candidate
    return seed
