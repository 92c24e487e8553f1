"""Scores from pairwise votes: a Siamese ranker on image features, and Bradley–Terry from the votes alone.

The ranker (after Dubey et al. 2016) maps each photo's features through two dense layers to one
score, and is trained on the votes: a margin ranking loss makes a vote's winner score at least
`margin` above its loser, and a tie term pulls the two scores of an "equal" vote together. It
scores photos no one voted on. Bradley–Terry (with Davidson's tie parameter) fits one strength per
photo from the votes alone; it is the baseline, and it knows nothing of a photo without votes.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator
from torch import nn

from thisineq.errors import ConfigError
from thisineq.predict.ordinal import Standardiser

OUTCOMES = {"left": 1.0, "right": -1.0, "equal": 0.0}


def outcome_codes(winner) -> np.ndarray:
    """left → 1, right → −1, equal → 0."""
    winner = np.asarray(winner)
    unknown = set(np.unique(winner)) - set(OUTCOMES)
    if unknown:
        raise ConfigError(f"winners must be left, right or equal, got {sorted(unknown)}")
    return np.array([OUTCOMES[w] for w in winner], dtype=np.float32)


def ranker_network(in_features: int, hidden: int) -> nn.Module:
    """Standardised features (B, D) → (B, 1) scores: the two dense layers of the Siamese ranker."""
    return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, 1))


class PairwiseRanker(BaseEstimator):
    """fit(features, left, right, winner) with left/right row indices into `features`; decision_function → scores."""

    def __init__(
        self,
        hidden: int = 64,
        margin: float = 1.0,
        tie_weight: float = 1.0,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        steps: int = 2000,
        batch: int = 256,
        seed: int = 0,
    ):
        self.hidden, self.margin, self.tie_weight, self.lr = hidden, margin, tie_weight, lr
        self.weight_decay, self.steps, self.batch, self.seed = weight_decay, steps, batch, seed

    def fit(self, features: np.ndarray, left, right, winner) -> PairwiseRanker:
        features = np.asarray(features, dtype=np.float64)
        left, right, outcome = np.array(left, dtype=np.int64), np.array(right, dtype=np.int64), outcome_codes(winner)
        if not len(outcome):
            raise ConfigError("no votes to learn from")
        torch.manual_seed(self.seed)
        generator = torch.Generator().manual_seed(self.seed)
        self.standardise_ = Standardiser(features.mean(0), features.std(0) + 1e-6)
        x = self.standardise_(features)
        self.net_ = ranker_network(x.shape[1], self.hidden)
        optimiser = torch.optim.AdamW(self.net_.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        left_t, right_t, outcome_t = torch.from_numpy(left), torch.from_numpy(right), torch.from_numpy(outcome)
        for _ in range(self.steps):
            batch = torch.randint(len(outcome), (min(self.batch, len(outcome)),), generator=generator)
            difference = (self.net_(x[left_t[batch]]) - self.net_(x[right_t[batch]])).squeeze(1)
            sign = outcome_t[batch]
            decisive = sign != 0
            loss = (F.relu(self.margin - sign * difference) * decisive).sum()
            loss = (loss + self.tie_weight * (difference.square() * ~decisive).sum()) / len(batch)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        self.net_.eval()
        self.n_features_in_ = x.shape[1]
        return self

    @torch.no_grad()
    def decision_function(self, features: np.ndarray) -> np.ndarray:
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[1] != self.n_features_in_:
            raise ConfigError(f"features must have {self.n_features_in_} columns, got shape {features.shape}")
        return self.net_(self.standardise_(features)).squeeze(1).numpy()


def bradley_terry(n_items: int, left, right, winner, *, prior: float = 0.1, iterations: int = 200) -> np.ndarray:
    """Log-strengths of `n_items` from votes (Davidson's ties), with a Gaussian prior of precision `prior` so that
    unbeaten or unvoted items stay finite (an item without votes scores 0)."""
    left_t, right_t = torch.as_tensor(np.asarray(left)), torch.as_tensor(np.asarray(right))
    outcome = torch.from_numpy(outcome_codes(winner)).double()
    theta = torch.zeros(n_items, dtype=torch.float64, requires_grad=True)
    log_nu = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([theta, log_nu], max_iter=iterations, line_search_fn="strong_wolfe")

    def closure():
        optimiser.zero_grad()
        a, b = theta[left_t], theta[right_t]
        # log of the three outcomes' shared normaliser: e^a + e^b + ν e^{(a+b)/2}
        log_z = torch.logsumexp(torch.stack([a, b, log_nu + (a + b) / 2]), dim=0)
        log_p = torch.where(outcome > 0, a, torch.where(outcome < 0, b, log_nu + (a + b) / 2)) - log_z
        loss = -log_p.sum() + 0.5 * prior * theta.square().sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    return theta.detach().numpy()


def pairwise_accuracy(scores: np.ndarray, left, right, winner) -> float:
    """Share of decisive votes whose winner has the higher score (an exact tie of scores counts half)."""
    outcome = outcome_codes(winner)
    decisive = outcome != 0
    if not decisive.any():
        return float("nan")
    difference = np.sign(scores[np.asarray(left)[decisive]] - scores[np.asarray(right)[decisive]])
    return float(np.mean(np.where(difference == 0, 0.5, difference == outcome[decisive])))


def image_split(n_items: int, test_share: float, seed: int) -> np.ndarray:
    """A boolean mask of held-out items; votes are then kept only within one side (no image on both)."""
    rng = np.random.default_rng(seed)
    return rng.random(n_items) < test_share


def cross_fitted_bradley_terry_accuracy(n_items: int, left, right, winner, *, folds: int = 5, seed: int = 0) -> float:
    """The votes-only baseline on a set of votes: each vote predicted by Bradley–Terry strengths fitted on the other
    folds' votes (a photo seen in no other fold scores 0, and a tie of scores counts half)."""
    left, right, winner = np.asarray(left), np.asarray(right), np.asarray(winner)
    fold = np.random.default_rng(seed).integers(folds, size=len(winner))
    correct, counted = 0.0, 0
    for k in range(folds):
        test = fold == k
        decisive = test & (winner != "equal")
        if not decisive.any():
            continue
        theta = bradley_terry(n_items, left[~test], right[~test], winner[~test])
        correct += pairwise_accuracy(theta, left[decisive], right[decisive], winner[decisive]) * decisive.sum()
        counted += decisive.sum()
    return correct / counted if counted else float("nan")
