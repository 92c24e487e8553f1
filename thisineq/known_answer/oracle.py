"""The known-answer oracle: a small CNN that reads the synthetic city's visual factors off an image.

The synthetic city records every photo's factors (ground_truth.csv), so a network trained to
predict them from pixels can measure what a walk changes in generated images: whether walking
along "income" makes cars newer (its own factor), leaves greenery alone (health's factor), and
keeps the weather as it was (nuisance).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from thisineq.data.synth.links import LINKS
from thisineq.data.synth.render import LINKED_FACTORS
from thisineq.images import from_uint8
from thisineq.io import atomic_path

# Factors the oracle predicts, each scaled to [0, 1].
NUISANCE = ("sun", "overcast", "fog", "yaw", "hue")
FACTORS: tuple[str, ...] = LINKED_FACTORS + NUISANCE
LINKED_COLUMNS = [FACTORS.index(f) for f in LINKED_FACTORS]  # what deprivation drives; weather and camera are no evidence


def factor_targets(truth: pd.DataFrame) -> np.ndarray:
    """Ground-truth table → targets (n, len(FACTORS)) in [0, 1] (yaw from [−1, 1], fog from [0, 0.8])."""
    targets = truth[list(FACTORS)].to_numpy(np.float32).copy()
    targets[:, FACTORS.index("yaw")] = (targets[:, FACTORS.index("yaw")] + 1) / 2
    targets[:, FACTORS.index("fog")] = targets[:, FACTORS.index("fog")] / 0.8
    return targets


def own_factors(domain: str) -> list[str]:
    """Factors whose strongest driver is `domain` (the renderer's documented links)."""
    return [f for f, weights in LINKS.items() if max(weights, key=lambda d: abs(weights[d])) == domain]


def linked_factors(domain: str) -> list[str]:
    """Every factor `domain` drives at all (its own and shared ones)."""
    return [f for f, weights in LINKS.items() if domain in weights]


class FactorOracle(nn.Module):
    """Images in [-1, 1] (B, 3, H, W) → factor estimates in [0, 1] (B, len(FACTORS))."""

    def __init__(self, widths=(32, 64, 128, 256)):
        super().__init__()
        layers, channels = [], 3
        for width in widths:
            layers += [
                nn.Conv2d(channels, width, 3, padding=1),
                nn.BatchNorm2d(width),
                nn.ReLU(),
                nn.Conv2d(width, width, 3, padding=1),
                nn.BatchNorm2d(width),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            channels = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels, len(FACTORS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head(self.features(x).mean(dim=(2, 3))))


@dataclass
class OracleReport:
    r2: dict[str, float]  # held-out coefficient of determination per factor
    n_train: int
    n_test: int


def r2_scores(predicted: np.ndarray, target: np.ndarray) -> dict[str, float]:
    residual = ((predicted - target) ** 2).sum(0)
    total = ((target - target.mean(0)) ** 2).sum(0)
    return {name: float(1 - r / t) if t > 0 else float("nan") for name, r, t in zip(FACTORS, residual, total, strict=True)}


def train_oracle(
    images: np.ndarray,
    targets: np.ndarray,
    is_test: np.ndarray,
    *,
    epochs: int = 8,
    batch: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    progress: bool = True,
) -> tuple[FactorOracle, OracleReport]:
    """Train on images uint8 (n, H, W, 3) where not `is_test`; report R² on the rest."""
    torch.manual_seed(seed)
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
    y = torch.from_numpy(targets)
    train, test = np.flatnonzero(~is_test), np.flatnonzero(is_test)
    model = FactorOracle()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps_per_epoch = max(1, len(train) // batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=epochs * steps_per_epoch)
    bar = tqdm(total=epochs * steps_per_epoch, desc="training oracle", disable=not progress)
    for epoch in range(epochs):
        model.train()
        order = torch.from_numpy(np.random.default_rng(seed + epoch).permutation(train))
        for index in order[: steps_per_epoch * batch].split(batch):
            inputs, target = _mirrored_at_random(from_uint8(x[index]), y[index])
            loss = F.mse_loss(model(inputs), target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            bar.update()
    bar.close()
    predicted = predict(model, x[test])
    return model.eval(), OracleReport(r2_scores(predicted, targets[test]), len(train), len(test))


def _mirrored_at_random(images: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Half the batches mirrored: a mirrored view has the same factors, but for yaw's sign."""
    if torch.rand(()) >= 0.5:
        return images, targets
    targets = targets.clone()
    targets[:, FACTORS.index("yaw")] = 1 - targets[:, FACTORS.index("yaw")]
    return images.flip(3), targets


@torch.no_grad()
def predict(model: FactorOracle, images: torch.Tensor, batch: int = 256) -> np.ndarray:
    """Factor estimates (n, len(FACTORS)) for uint8 (n, 3, H, W) or float [-1, 1] images."""
    model.eval()
    out = []
    for i in range(0, len(images), batch):
        chunk = images[i : i + batch]
        chunk = from_uint8(chunk) if chunk.dtype == torch.uint8 else chunk
        out.append(model(chunk).numpy())
    return np.concatenate(out) if out else np.zeros((0, len(FACTORS)), np.float32)


def predict_linked(model: FactorOracle, images: torch.Tensor) -> np.ndarray:
    """The oracle's estimates of the factors deprivation drives (n, len(LINKED_FACTORS)), without weather and camera."""
    return predict(model, images)[:, LINKED_COLUMNS]


def save_oracle(model: FactorOracle, path: str | os.PathLike, report: OracleReport) -> None:
    with atomic_path(path) as tmp:
        torch.save({"format": "thisineq-oracle", "factors": list(FACTORS), "state": model.state_dict(), "r2": report.r2}, tmp)


def load_oracle(path: str | os.PathLike) -> tuple[FactorOracle, dict[str, float]]:
    from thisineq.models.stylegan2 import CheckpointError, safe_load

    record = safe_load(path)
    if record.get("format") != "thisineq-oracle" or tuple(record.get("factors", ())) != FACTORS:
        raise CheckpointError(f"{path} is not an oracle for this version's factors")
    model = FactorOracle()
    model.load_state_dict(record["state"])
    return model.eval(), record["r2"]
