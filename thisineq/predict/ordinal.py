"""Suel et al.'s ordinal decile model: one score per location, a binomial distribution over the ten deciles.

Each photo's features pass through a shared dense stack to one number; the numbers of a location's
photos are averaged into its score s, and the decile distribution is Binomial(9, σ(s)) shifted to
1–10: P(decile = k + 1) = C(9, k) pᵏ (1 − p)⁹⁻ᵏ with p = σ(s). One parameter orders all ten classes,
so a higher score always moves probability towards higher deciles. Training minimises the
cross-entropy of the true decile.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import special
from sklearn.base import BaseEstimator, RegressorMixin
from torch import nn

from thisineq.errors import ConfigError

N_DECILES = 10


def binomial_log_probabilities(score: torch.Tensor, n_classes: int = N_DECILES) -> torch.Tensor:
    """score (...) → log P(class k) for k = 0…n−1 under Binomial(n − 1, σ(score)), shape (..., n)."""
    k = torch.arange(n_classes, dtype=score.dtype, device=score.device)
    n = n_classes - 1
    log_choose = torch.lgamma(torch.tensor(n + 1.0)) - torch.lgamma(k + 1) - torch.lgamma(n - k + 1)
    score = score.unsqueeze(-1)
    return log_choose + k * F.logsigmoid(score) + (n - k) * F.logsigmoid(-score)


def location_index(locations: np.ndarray | None, n: int) -> tuple[np.ndarray, int]:
    """Each photo's location as 0…L−1 (first-seen order), and L; every photo its own location without `locations`."""
    if locations is None:
        return np.arange(n), n
    _, index = np.unique(np.asarray(locations), return_inverse=True)
    return index.reshape(-1), int(index.max()) + 1 if n else 0


class DenseStack(nn.Module):
    """Features (B, D) → one score per photo: dense layers with ReLU and dropout."""

    def __init__(self, in_features: int, hidden: tuple[int, ...], dropout: float):
        super().__init__()
        layers: list[nn.Module] = []
        for width in hidden:
            layers += [nn.Linear(in_features, width), nn.ReLU(), nn.Dropout(dropout)]
            in_features = width
        layers.append(nn.Linear(in_features, 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features).squeeze(-1)


@dataclass
class Standardiser:
    mean: np.ndarray
    scale: np.ndarray

    def __call__(self, x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(((x - self.mean) / self.scale).astype(np.float32))


def fitted_state(model) -> dict:
    """A fitted model's standardiser and network as tensors and plain values (what its saved record keeps).

    The network's weights are kept in float16: half the bytes of a committed artifact set, and a change
    in the expected decile far below what the model can tell apart.
    """
    return {
        "in_features": model.n_features_in_,
        "mean": torch.from_numpy(model.standardise_.mean),
        "scale": torch.from_numpy(model.standardise_.scale),
        "net": {name: value.half() for name, value in model.net_.state_dict().items()},
    }


def restore_network(net: torch.nn.Module, state: dict) -> torch.nn.Module:
    """`net` with the weights of a saved `fitted_state` (float16 or float32), in float32, ready to score."""
    net.load_state_dict({name: value.float() for name, value in state.items()})
    return net.eval()


class OrdinalDecileRegressor(BaseEstimator, RegressorMixin):
    """Suel et al.'s model as a scikit-learn estimator: fit(X, deciles, locations=…), predict → expected decile.

    Training runs `steps` Adam updates on batches of `batch` locations, whatever the dataset's size.
    X: one row of image features per photo; deciles 1–10 per photo (the same for every photo of a
    location); `locations`: which photos are one location (their scores are averaged), optional.
    `score(X, y)` is R² of the expected decile, scikit-learn's regressor default.
    """

    def __init__(
        self,
        hidden: tuple[int, ...] = (256, 64),
        dropout: float = 0.3,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        steps: int = 2000,
        batch: int = 128,
        seed: int = 0,
    ):
        self.hidden, self.dropout, self.lr, self.weight_decay = hidden, dropout, lr, weight_decay
        self.steps, self.batch, self.seed = steps, batch, seed

    def fit(self, X: np.ndarray, y: np.ndarray, locations: np.ndarray | None = None) -> OrdinalDecileRegressor:
        X, y = _check_features(X), np.asarray(y)
        if len(y) != len(X):
            raise ConfigError(f"{len(X)} feature rows but {len(y)} deciles")
        if len(X) == 0 or not np.isin(y, np.arange(1, N_DECILES + 1)).all():
            raise ConfigError("deciles must be whole numbers from 1 to 10, one per photo")
        index, n_locations = location_index(locations, len(X))
        target = np.zeros(n_locations, dtype=np.int64)
        target[index] = y - 1  # a location's photos share its decile
        generator = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)
        self.standardise_ = Standardiser(X.mean(0), X.std(0) + 1e-6)
        self.net_ = DenseStack(X.shape[1], tuple(self.hidden), self.dropout)
        features, index_t, target_t = self.standardise_(X), torch.from_numpy(index), torch.from_numpy(target)
        order = np.argsort(index, kind="stable")
        photos_of = np.split(order, np.cumsum(np.bincount(index, minlength=n_locations))[:-1])
        optimiser = torch.optim.AdamW(self.net_.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        self.net_.train()
        step = 0
        while step < self.steps:  # epochs over the locations until `steps` updates: the same training for any size
            for batch in torch.randperm(n_locations, generator=generator).split(self.batch):
                if step == self.steps:
                    break
                step += 1
                rows = torch.from_numpy(np.concatenate([photos_of[i] for i in batch.tolist()]))
                scores = _location_means(self.net_(features[rows]), index_t[rows], n_locations)[batch]
                loss = -binomial_log_probabilities(scores).gather(1, target_t[batch, None]).mean()
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
        self.net_.eval()
        self.n_features_in_ = X.shape[1]
        return self

    @torch.no_grad()
    def decision_function(self, X: np.ndarray, locations: np.ndarray | None = None) -> np.ndarray:
        """Each photo's location score (the mean of its photos' outputs), one per photo."""
        X = _check_features(X, getattr(self, "n_features_in_", None))
        index, n_locations = location_index(locations, len(X))
        index_t = torch.from_numpy(index)
        return _location_means(self.net_(self.standardise_(X)), index_t, n_locations)[index_t].numpy()

    def predict_proba(self, X: np.ndarray, locations: np.ndarray | None = None) -> np.ndarray:
        """(n, 10): each photo's location's probability of deciles 1–10."""
        return binomial_log_probabilities(torch.from_numpy(self.decision_function(X, locations))).exp().numpy()

    def predict(self, X: np.ndarray, locations: np.ndarray | None = None) -> np.ndarray:
        """The expected decile, 1 + 9·σ(score): continuous, so rankings and means keep their resolution."""
        return 1 + (N_DECILES - 1) * special.expit(self.decision_function(X, locations))


def _location_means(values: torch.Tensor, index: torch.Tensor, n_locations: int) -> torch.Tensor:
    totals = torch.zeros(n_locations, dtype=values.dtype).index_add(0, index, values)
    counts = torch.zeros(n_locations, dtype=values.dtype).index_add(0, index, torch.ones_like(values))
    return totals / counts.clamp(min=1)


def _check_features(X, expected: int | None = None) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ConfigError(f"features must be a table of one row per photo, got shape {X.shape}")
    if expected is not None and X.shape[1] != expected:
        raise ConfigError(f"features have {X.shape[1]} columns; this model was fitted on {expected}")
    if not np.isfinite(X).all():
        raise ConfigError("features contain NaN or infinite values")
    return X
