"""A synthetic crowd's votes from the synthetic city's hidden factors: the known answer for perception ranking.

Each question has a hidden perception score per photo: a documented weighted sum of the photo's
standardised visual factors as the render shows them, scaled to unit variance. A voter judges the
picture, not the city's hidden state: a car's value counts only where a car is drawn (a quarter of
photos show none), and graffiti only where it is painted. A voter sees each photo's score plus their
own noise (standard deviation `VOTER_NOISE`), and calls the pair equal when the two impressions
differ by less than `TIE_MARGIN`; otherwise the higher one wins. These weights are a design choice
for validating the ranker — what a crowd might read from these renders — not a claim about how
people perceive real streets.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from thisineq.data.synth.render import GRAFFITI_DRAWN_ABOVE
from thisineq.data.votes import vote_agreement
from thisineq.errors import ConfigError

# Question → weights on the standardised factors (positive: more of the factor looks more so).
QUESTIONS: dict[str, dict[str, float]] = {
    "wealthier": {"car_value": 0.8, "facade_render": 0.6, "front_garden": 0.5, "ornament": 0.4, "upkeep": 0.4, "density": -0.3},
    "safer": {"graffiti": -0.8, "litter": -0.7, "upkeep": 0.5, "greenery": 0.3, "fog": -0.3},
    "livelier": {"density": 0.6, "sun": 0.5, "greenery": 0.4, "window_size": 0.3, "overcast": -0.3},
}
SEEN = {"car_value": "only where a car is drawn", "graffiti": f"only above {GRAFFITI_DRAWN_ABOVE}, where it is painted"}
VOTER_NOISE = 0.5  # each voter's impression departs from the hidden score by this much (its sd is 1)
TIE_MARGIN = 0.25  # impressions closer than this are voted equal (about a fifth of votes)


def perception_scores(factors: pd.DataFrame, question: str) -> np.ndarray:
    """The hidden perception score of every photo (rows of `factors`) for `question`, mean 0 and sd 1."""
    if question not in QUESTIONS:
        raise ConfigError(f"unknown perception question {question!r}; choose from {', '.join(QUESTIONS)}")
    weights = QUESTIONS[question]
    needed = [*weights, *(["car_count"] if "car_value" in weights else [])]  # whether any car is drawn to judge
    missing = [f for f in needed if f not in factors]
    if missing:
        raise ConfigError(f"the factors table has no {', '.join(missing)} column(s)")
    used = visible_factors(factors)[list(weights)]
    z = (used - used.mean()) / used.std(ddof=0).replace(0, 1)
    score = z.to_numpy() @ np.array(list(weights.values()))
    return (score - score.mean()) / (score.std() or 1.0)


def visible_factors(factors: pd.DataFrame) -> pd.DataFrame:
    """The factors as a photo shows them: where no car is drawn, its value is the average seen on the cars that
    are (neither old nor new: there is nothing to judge); graffiti below what is painted is none."""
    shown = factors.copy()
    if "car_value" in shown and "car_count" in shown:
        no_car = shown["car_count"].to_numpy() == 0
        if (~no_car).any():
            shown.loc[no_car, "car_value"] = shown.loc[~no_car, "car_value"].mean()
    if "graffiti" in shown:
        shown.loc[shown["graffiti"] <= GRAFFITI_DRAWN_ABOVE, "graffiti"] = 0.0
    return shown


def simulate_votes(
    factors: pd.DataFrame,
    names: pd.Series,
    n_votes: int,
    *,
    questions: tuple[str, ...] = tuple(QUESTIONS),
    seed: int = 0,
    among: np.ndarray | None = None,
) -> pd.DataFrame:
    """`n_votes` votes (left, right, winner, question) between random pairs of photos, spread over `questions`.

    factors: one row per photo (the ground-truth columns); names: what the votes call each photo (e.g. its file);
    among: the rows votes may pair (default every row), still scored as photos of the whole table.
    """
    if n_votes < 0:
        raise ConfigError(f"the number of votes must be at least 0, got {n_votes}")
    candidates = np.arange(len(factors)) if among is None else np.asarray(among)
    if len(candidates) < 2:
        raise ConfigError("votes need at least two photos")
    rng = np.random.default_rng(seed)
    asked = np.array(questions)[rng.integers(len(questions), size=n_votes)]
    left = rng.integers(len(candidates), size=n_votes)
    right = candidates[(left + rng.integers(1, len(candidates), size=n_votes)) % len(candidates)]  # never the same photo
    left = candidates[left]
    impression = np.empty(n_votes)
    for question in questions:
        score, rows = perception_scores(factors, question), asked == question
        noise = rng.normal(0.0, VOTER_NOISE, size=(2, rows.sum()))
        impression[rows] = (score[left[rows]] + noise[0]) - (score[right[rows]] + noise[1])
    winner = np.where(np.abs(impression) < TIE_MARGIN, "equal", np.where(impression > 0, "left", "right"))
    names = np.asarray(names)
    return pd.DataFrame({"left": names[left], "right": names[right], "winner": winner, "question": asked})


def ceiling_accuracy(votes: pd.DataFrame, hidden: pd.Series) -> float:
    """Pairwise accuracy of the noise-free hidden scores (`hidden`, by photo id) on decisive votes: the most any
    ranker can reach, the voters' noise being what it is. Scored by `vote_agreement`, as a ranker's accuracy is."""
    photos = pd.Index(pd.unique(pd.concat([votes["left"], votes["right"]])))
    agreement = vote_agreement(
        hidden.loc[photos].to_numpy(), photos.get_indexer(votes["left"]), photos.get_indexer(votes["right"]), votes["winner"]
    )
    return float(agreement.mean()) if len(agreement) else float("nan")
