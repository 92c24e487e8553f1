"""The known-answer benchmark: walk latents along directions, read the images' factors, and score the change against the truth.

For every source set (random latents, or one method's inversions of held-out photos) and every
direction, the sources are moved to each step (default −3σ, 0, +3σ) and read by one or more
oracles (`FactorReader`). A walk's profile is, per oracle, the mean over sources of the factors at
the last step minus those at the first; `measures.walk_figures` scores it against the truth
profile of its domain (the class profile, or for partial-effect boundaries the partial one).

Rows of the table (`COLUMNS`), one per source set × method × fit × walk kind × domain × oracle
seed, and a `direction` column:
- "boundary": the boundary itself; `p_random` is the permutation p of its cosine among the random
  directions' (walked from the same sources, read by the same oracle). Random directions cost a
  walk each, so they may be walked from the first `random_sources` sources only; the boundary's
  cosine for `p_random` is then measured on those same sources, so like is compared with like;
- "flipped": the boundary's normal sign-flipped — with symmetric steps its readings are the
  boundary's read backwards, so it costs no rendering; it must fail every target;
- "random": the median figures of the random directions (see `baselines`);
- "ideal", "interfacegan": the directions of `baselines`, scored like a boundary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from thisineq.known_answer.measures import SECONDARY, cosine, permutation_p, source_figures, walk_figures
from thisineq.latent.normals import Direction
from thisineq.latent.walk import edit

# ws (n, num_ws, D) → factor readings (k, n, len(FACTORS)), one per oracle (the images rendered once for all k).
FactorReader = Callable[[torch.Tensor], np.ndarray]
STEPS = (-3.0, 0.0, 3.0)
FIGURES = ("cosine", "right_sign", "own_change", "own_change_min", "leakage", "truth_leakage", "leakage_excess", "nuisance")
COLUMNS = (
    "source",
    "method",
    "fit",
    "walk",
    "direction",
    "domain",
    "truth",
    "oracle_seed",
    "n",
    *FIGURES,
    "p_random",
    *SECONDARY,
)
NONE = "-"  # in the method, fit and walk columns of rows that have none (random latents are no method's)
KINDS = ("boundary", "flipped", "random", "ideal", "interfacegan")


@dataclass(frozen=True)
class Sources:
    """The latents walked from: a name for the table, the method that inverted them (`NONE` for random latents), ws (n, num_ws, D)."""

    name: str
    method: str
    ws: torch.Tensor


@dataclass(frozen=True)
class Walk:
    """One direction to walk and how the table labels it."""

    direction: Direction
    domain: str  # whose truth it is scored against
    kind: str = "boundary"  # one of KINDS but "flipped" and "random" (those the benchmark makes itself)
    method: str = NONE
    fit: str = NONE
    walk: str = NONE
    truth: str = "classes"  # the truth profile's kind: "classes", or "partial" for partial-effect boundaries


def read_walks(read: FactorReader, ws: torch.Tensor, directions: list[Direction], steps: np.ndarray) -> np.ndarray:
    """Readings along several walks from ws (n, num_ws, D): (k, len(directions), n, n_steps, len(FACTORS)).

    Every edited latent goes to `read` in one call (it batches the rendering), and the unmoved
    ws are read once for all walks' zero steps: few large batches, not one small one per step.
    """
    n, moved = len(ws), [(i, j) for i in range(len(directions)) for j, alpha in enumerate(steps) if alpha != 0]
    unmoved = [ws] if (steps == 0).any() else []
    readings = read(torch.cat([edit(ws, [(directions[i], float(steps[j]))]) for i, j in moved] + unmoved))
    out = np.empty((len(readings), len(directions), n, len(steps), readings.shape[-1]))  # readings: (k, ·, F)
    for m, (i, j) in enumerate(moved):
        out[:, i, :, j] = readings[:, m * n : (m + 1) * n]
    if unmoved:
        out[:, :, :, steps == 0] = readings[:, None, -n:, None]
    return out


def profiles(readings: np.ndarray) -> np.ndarray:
    """Per oracle, the mean over sources of last-step minus first-step readings: (k, n, S, F) → (k, F)."""
    return (readings[:, :, -1] - readings[:, :, 0]).mean(axis=1)


def symmetric(steps: np.ndarray) -> bool:
    """Whether the steps read backwards are the steps negated (then a flipped normal's walk is the walk read backwards)."""
    return bool(np.allclose(steps, -steps[::-1]))


def known_answer_table(
    read: FactorReader,
    sources: Sources,
    walks: list[Walk],
    truths: dict[tuple[str, str], np.ndarray],
    domains: list[str],
    *,
    randoms: list[Direction] = (),
    random_sources: int | None = None,
    steps: tuple[float, ...] = STEPS,
    oracle_seeds: tuple[int, ...] = (0,),
) -> pd.DataFrame:
    """The benchmark of `walks` from one source set: `COLUMNS`.

    Args:
        read: renders ws and reads them with one oracle per entry of `oracle_seeds`.
        truths: (truth kind, domain) → truth profile (len(FACTORS),), from `truth.truth_profiles`.
        domains: the benchmark's domains (leakage counts factors tied only to the others).
        randoms: random directions, for `p_random` and the "random" rows.
        random_sources: walk the random directions from this many of the first sources (None: all).
    """
    steps = np.asarray(steps, np.float64)
    m = len(sources.ws) if random_sources is None else min(random_sources, len(sources.ws))
    random_profiles = None
    if randoms:
        readings = read_walks(read, sources.ws[:m], list(randoms), steps)  # (k, K, m, S, F)
        random_profiles = np.stack([profiles(readings[:, r]) for r in range(len(randoms))], axis=1)
    scored = _Scoring(sources, truths, list(domains), steps, oracle_seeds, random_profiles, m)
    every_reading = read_walks(read, sources.ws, [walk.direction for walk in walks], steps) if walks else None
    rows = []
    for i, walk in enumerate(walks):
        readings = every_reading[:, i]  # (k, n, S, F)
        rows += scored.rows(walk, readings)
        if walk.kind == "boundary" and symmetric(steps):
            flipped = Walk(walk.direction, walk.domain, "flipped", walk.method, walk.fit, walk.walk, walk.truth)
            rows += scored.rows(flipped, readings[:, :, ::-1])
    if random_profiles is not None:
        rows += _random_rows(random_profiles, sources, truths, domains, oracle_seeds)
    return pd.DataFrame(rows, columns=list(COLUMNS))


@dataclass(frozen=True)
class _Scoring:
    """What every walk from one source set is scored with."""

    sources: Sources
    truths: dict[tuple[str, str], np.ndarray]
    domains: list[str]
    steps: np.ndarray
    oracle_seeds: tuple[int, ...]
    random_profiles: np.ndarray | None  # (k, K, F): the random directions' profiles on the first `random_sources` sources
    random_sources: int

    def rows(self, walk: Walk, readings: np.ndarray) -> list[dict]:
        """One row per oracle of one walk's readings (k, n, S, F)."""
        truth = self.truths[(walk.truth, walk.domain)]
        others = [d for d in self.domains if d != walk.domain]
        on_random_sources = profiles(readings[:, : self.random_sources])
        rows = []
        for k, (seed, profile) in enumerate(zip(self.oracle_seeds, profiles(readings), strict=True)):
            figures = walk_figures(profile, truth, walk.domain, others)
            rows.append(
                _labels(self.sources, walk.kind, walk.domain, walk.truth, seed, walk.method, walk.fit, walk.walk)
                | figures
                | {"p_random": self._p_random(on_random_sources[k], truth, k)}
                | source_figures(readings[k], self.steps, walk.domain, others)
            )
        return rows

    def _p_random(self, profile: np.ndarray, truth: np.ndarray, k: int) -> float:
        if self.random_profiles is None:
            return float("nan")
        return permutation_p(cosine(profile, truth), [cosine(r, truth) for r in self.random_profiles[k]])


def _random_rows(random_profiles: np.ndarray, sources, truths, domains, oracle_seeds) -> list[dict]:
    """Per domain and oracle, the median figures of the random directions (their profiles (k, K, F))."""
    rows = []
    for domain in domains:
        truth, others = truths[("classes", domain)], [d for d in domains if d != domain]
        for k, seed in enumerate(oracle_seeds):
            each = pd.DataFrame([walk_figures(p, truth, domain, others) for p in random_profiles[k]])
            rows.append(_labels(sources, "random", domain, "classes", seed, sources.method) | each.median().to_dict())
    return rows


def _labels(sources: Sources, kind: str, domain: str, truth: str, seed: int, method=NONE, fit=NONE, walk=NONE) -> dict:
    return {
        "source": sources.name,
        "method": method,
        "fit": fit,
        "walk": walk,
        "direction": kind,
        "domain": domain,
        "truth": truth,
        "oracle_seed": seed,
        "n": len(sources.ws),
    }
