"""What a walk did, measured against the truth: small pure functions of factor-change profiles.

A profile is a change in every factor of `FACTORS` (len(FACTORS),), in the oracle's units ([0, 1]):
for a walk, the mean over its sources of the factors read at the last step minus those at the
first (+3σ minus −3σ); for the truth, privileged minus deprived (see `truth`).

Headline figures (`walk_figures`):
- `cosine`: cosine between the walk's profile and the truth's, over every factor, nuisance
  included (the truth's nuisance change is ≈ 0, so a walk that moves the weather loses cosine);
- `right_sign`: the share of the factors the truth moves by more than `MOVED` that the walk moves
  the same way;
- `own_change`: the mean change of the domain's own factors, signed so that + is the way the
  renderer's links say privilege moves them. A minimum (`own_change_min`) makes faint walks fail;
- `leakage`: mean |change| of the factors tied only to other domains over mean |change| of the own
  factors — judged against the leakage the truth itself implies (`leakage_excess`), since in a city
  whose domains are correlated a faithful walk moves shared factors;
- `nuisance`: mean |change| of lighting, weather, camera and colour over mean |change| of the own
  factors (relative, so a faint walk cannot pass it by moving nothing).
Secondary figures, the benchmark's earlier headline ones (`source_figures`): `own_rho`, the signed
Spearman ρ of the own factors along the steps (a sign vote, blind to how far a factor moves);
`leakage_per_source` (the ratio per source, median); `nuisance_abs` (median |change| of nuisance).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr

from thisineq.data.synth.links import LINKS
from thisineq.known_answer.oracle import FACTORS, NUISANCE, linked_factors, own_factors

MOVED = 0.1  # a truth change above this (factor units) counts as a factor the walk must move the right way
# Half the truth's own-factor change. A ±3σ walk spans several times the distance between the class
# means in W (boundaries separate the classes at F1 ≈ 0.75, about 1σ apart), so a walk that renders
# the truth's direction moves its own factors at least as far as the truth; half allows for a young
# GAN that renders factors faintly, while a walk that barely changes the image still fails.
OWN_CHANGE_SHARE = 0.5
HEADLINE = ("cosine", "right_sign", "own_change", "leakage_excess", "nuisance")  # the figures targets are set on
SECONDARY = ("own_rho", "leakage_per_source", "nuisance_abs")


def expected_sign(factor: str, domain: str) -> float:
    """+1 if privilege in `domain` raises `factor` in the renderer, −1 if it lowers it."""
    return float(np.sign(LINKS[factor][domain]))


def only_other_factors(domain: str, others: list[str]) -> list[str]:
    """Factors tied to some domain of `others` and not to `domain` (nuisance excluded)."""
    linked_to_others = {f for o in others for f in linked_factors(o)}
    return [f for f in FACTORS if f not in NUISANCE and f not in linked_factors(domain) and f in linked_to_others]


def _columns(names) -> list[int]:
    return [FACTORS.index(name) for name in names]


def cosine(profile: np.ndarray, truth: np.ndarray) -> float:
    """Cosine between two profiles (0 where either is all zeros)."""
    norm = np.linalg.norm(profile) * np.linalg.norm(truth)
    return float(profile @ truth / norm) if norm > 0 else 0.0


def right_sign(profile: np.ndarray, truth: np.ndarray, moved: float = MOVED) -> float:
    """Share of the factors the truth moves by more than `moved` that `profile` moves with the same sign (NaN: none)."""
    chosen = np.abs(truth) > moved
    return float(np.mean(np.sign(profile[chosen]) == np.sign(truth[chosen]))) if chosen.any() else float("nan")


def own_change(profile: np.ndarray, domain: str) -> float:
    """Mean change of the domain's own factors, + where privilege moves them in the renderer."""
    own = own_factors(domain)
    return float(np.mean([expected_sign(f, domain) * profile[FACTORS.index(f)] for f in own]))


def _own_size(profile: np.ndarray, domain: str) -> float:
    return float(np.mean(np.abs(profile[_columns(own_factors(domain))])))


def leakage(profile: np.ndarray, domain: str, others: list[str]) -> float:
    """Mean |change| of the factors tied only to `others` over mean |change| of the own factors (0 with no such factor)."""
    chosen = only_other_factors(domain, others)
    if not chosen:
        return 0.0
    return float(np.mean(np.abs(profile[_columns(chosen)])) / max(_own_size(profile, domain), 1e-9))


def nuisance(profile: np.ndarray, domain: str) -> float:
    """Mean |change| of the nuisance factors over mean |change| of the own factors."""
    return float(np.mean(np.abs(profile[_columns(NUISANCE)])) / max(_own_size(profile, domain), 1e-9))


def walk_figures(profile: np.ndarray, truth: np.ndarray, domain: str, others: list[str]) -> dict[str, float]:
    """The headline figures of one walk's profile against its truth, with the truth's own references beside them."""
    truth_leakage, truth_own = leakage(truth, domain, others), own_change(truth, domain)
    walk_leakage = leakage(profile, domain, others)
    return {
        "cosine": cosine(profile, truth),
        "right_sign": right_sign(profile, truth),
        "own_change": own_change(profile, domain),
        "own_change_min": OWN_CHANGE_SHARE * truth_own,
        "leakage": walk_leakage,
        "truth_leakage": truth_leakage,
        "leakage_excess": walk_leakage - truth_leakage,
        "nuisance": nuisance(profile, domain),
    }


def source_figures(factors: np.ndarray, steps: np.ndarray, domain: str, others: list[str]) -> dict[str, float]:
    """The earlier per-source figures from readings (n, n_steps, len(FACTORS)) along `steps`: see the module's docstring."""
    own, chosen = _columns(own_factors(domain)), _columns(only_other_factors(domain, others))
    signs = np.array([expected_sign(f, domain) for f in own_factors(domain)])
    rho, ratio = [], []
    for walk in factors:  # (n_steps, len(FACTORS))
        rho.append(np.mean([s * _spearman(steps, walk[:, k]) for s, k in zip(signs, own, strict=True)]))
        change = np.abs(walk[-1] - walk[0])
        ratio.append(change[chosen].mean() / max(change[own].mean(), 1e-6) if chosen else 0.0)
    nuisance_change = np.abs(factors[:, -1, _columns(NUISANCE)] - factors[:, 0, _columns(NUISANCE)])
    return {
        "own_rho": float(np.median(rho)),
        "leakage_per_source": float(np.median(ratio)),
        "nuisance_abs": float(np.median(nuisance_change)),
    }


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    if np.ptp(y) == 0:
        return 0.0
    return float(spearmanr(x, y).statistic)


def permutation_p(value: float, baseline: np.ndarray) -> float:
    """How often a baseline direction scores at least `value`: (1 + #{baseline ≥ value}) / (1 + len(baseline)).

    With k random directions the smallest p is 1/(k + 1): 20 directions are needed for p < 0.05.
    """
    baseline = np.asarray(baseline, np.float64)
    return float((1 + np.sum(baseline >= value)) / (1 + len(baseline)))
