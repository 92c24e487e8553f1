"""The known-answer benchmark: does walking along a domain's boundary change what the city ties to that domain?

For each source latent and domain, a walk over steps (−3σ … +3σ) is rendered and read by the
oracle. Three figures per domain:
- `own_rho`: Spearman ρ between step and each of the domain's own factors, signed so that +1 means
  the factor moves the way the renderer's links say privilege moves it (median over sources);
- `leakage`: how far factors tied only to *other* domains move, relative to the domain's own
  factors (median over sources of mean |Δ other| / mean |Δ own|);
- `nuisance`: how far lighting, weather, camera and colour move (median |Δ| on their [0, 1] scale).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from thisineq.data.synth.links import LINKS
from thisineq.known_answer.oracle import FACTORS, NUISANCE, linked_factors, own_factors
from thisineq.latent.normals import Direction
from thisineq.latent.walk import edit

# ws (n, num_ws, D) → oracle factor estimates (n, len(FACTORS)).
FactorReader = Callable[[torch.Tensor], np.ndarray]
COLUMNS = ("source", "boundary", "domain", "n", "own_rho", "leakage", "nuisance")  # of `known_answer_table`


def expected_sign(factor: str, domain: str) -> float:
    """+1 if privilege in `domain` raises `factor` in the renderer, −1 if it lowers it."""
    return float(np.sign(LINKS[factor][domain]))


def walk_factors(read: FactorReader, ws: torch.Tensor, direction: Direction, steps: np.ndarray, layers=None) -> np.ndarray:
    """Factor estimates along a walk: ws (n, num_ws, D) → (n, n_steps, len(FACTORS))."""
    per_step = [read(edit(ws, [(direction, float(alpha))], layers)) for alpha in steps]
    return np.stack(per_step, axis=1)


def score_walks(factors: np.ndarray, steps: np.ndarray, domain: str, others: list[str]) -> dict[str, float]:
    """The three figures of one domain from factor estimates (n, n_steps, len(FACTORS))."""
    own = own_factors(domain)
    only_others = [
        f
        for f in FACTORS
        if f not in NUISANCE and f not in linked_factors(domain) and any(f in linked_factors(o) for o in others)
    ]
    column = {name: k for k, name in enumerate(FACTORS)}
    rho, leakage = [], []
    for walk in factors:  # (n_steps, len(FACTORS))
        signed = [expected_sign(f, domain) * _spearman(steps, walk[:, column[f]]) for f in own]
        rho.append(np.mean(signed))
        moved_own = np.mean([abs(walk[-1, column[f]] - walk[0, column[f]]) for f in own])
        moved_other = np.mean([abs(walk[-1, column[f]] - walk[0, column[f]]) for f in only_others]) if only_others else 0.0
        leakage.append(moved_other / max(moved_own, 1e-6))
    nuisance = np.abs(factors[:, -1, [column[f] for f in NUISANCE]] - factors[:, 0, [column[f] for f in NUISANCE]])
    return {"own_rho": float(np.median(rho)), "leakage": float(np.median(leakage)), "nuisance": float(np.median(nuisance))}


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    if np.ptp(y) == 0:
        return 0.0
    return float(spearmanr(x, y).statistic)


def known_answer_table(
    read: FactorReader,
    ws: torch.Tensor,
    directions: dict[str, Direction],
    others: dict[str, dict[str, Direction]] | None = None,
    steps: tuple[float, ...] = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0),
    source: str = "random latents",
) -> pd.DataFrame:
    """One row per domain and boundary kind: own_rho, leakage, nuisance for walks from `ws`.

    `directions` are the plain boundaries (kind "plain"); `others` maps further kinds (e.g.
    "conditional", "principal") to their directions, scored the same way.
    """
    steps = np.asarray(steps, float)
    rows = []
    for kind, chosen in {"plain": directions, **(others or {})}.items():
        for domain, direction in chosen.items():
            factors = walk_factors(read, ws, direction, steps)
            other_domains = [d for d in directions if d != domain]
            rows.append(
                {
                    "source": source,
                    "boundary": kind,
                    "domain": domain,
                    "n": len(ws),
                    **score_walks(factors, steps, domain, other_domains),
                }
            )
    return pd.DataFrame(rows, columns=list(COLUMNS))
