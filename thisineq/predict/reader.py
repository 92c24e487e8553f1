"""What the image-side models read in any image: predicted deciles and perception scores, for edited images too.

The pages re-score every generated or edited image with the set's decile predictor and perception
ranker, so that a walk can be checked against a second opinion that never saw the latent space.
A perception score is shown as its percentile among the training photos' scores, which is what a
raw ranker score means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy import stats

from thisineq.artifacts import ArtifactSet
from thisineq.latent.normals import Direction
from thisineq.latent.walk import edit
from thisineq.perception.fitted import (
    RANKER,
    EnsemblePerceptionRanker,
    PerceptionRanker,
    PixelPerceptionRanker,
    load_rankers,
)
from thisineq.perception.ranker import PIXELS
from thisineq.predict.features import feature_network, image_features
from thisineq.predict.run import PREDICTOR, DecilePredictor, load_predictor

PHOTO_QUANTILES = "photo_quantiles.csv"  # per question, the 0th…100th percentiles of the photos' perception scores


@dataclass
class ImageReader:
    """A set's decile predictor and perception ranker, with the feature networks they read through, loaded once."""

    predictor: DecilePredictor | None
    ranker: PerceptionRanker | PixelPerceptionRanker | EnsemblePerceptionRanker | None
    quantiles: pd.DataFrame | None  # columns: questions; 101 rows (percentiles 0…100)
    networks: dict[str, torch.nn.Module]  # the feature networks the models read, by backbone

    @property
    def domains(self) -> list[str]:
        return list(self.predictor.models) if self.predictor else []

    @property
    def questions(self) -> list[str]:
        return self.ranker.questions if self.ranker else []

    def read(self, images: torch.Tensor) -> pd.DataFrame:
        """Per image (B, 3, H, W in [-1, 1]): each domain's expected decile and each question's percentile (0–100)."""
        features = {backbone: image_features(images, network) for backbone, network in self.networks.items()}  # once each
        columns = {}
        if self.predictor:
            columns |= self.predictor.predict(features[self.predictor.backbone]).to_dict("series")
        if self.ranker:
            scores = self.ranker.score_images(images, features=features.get(self.ranker.backbone))
            columns |= {q: self.percentile(q, scores[q].to_numpy()) for q in scores}
        return pd.DataFrame({k: np.asarray(v) for k, v in columns.items()})

    def percentile(self, question: str, scores: np.ndarray) -> np.ndarray:
        """Where raw ranker scores fall among the photos' (0–100); the raw scores where no quantiles were kept."""
        if self.quantiles is None or question not in self.quantiles:
            return scores
        return np.interp(scores, self.quantiles[question].to_numpy(), np.linspace(0, 100, len(self.quantiles)))


def load_image_reader(artifacts: ArtifactSet) -> ImageReader | None:
    """The set's image-side models (`thisineq pipeline --only predict crowd perception`), or None where it has neither."""
    predictor_path, ranker_path = artifacts.predict / PREDICTOR, artifacts.perception / RANKER
    predictor = load_predictor(predictor_path) if predictor_path.is_file() else None
    ranker = load_rankers(ranker_path) if ranker_path.is_file() else None
    if predictor is None and ranker is None:
        return None
    quantiles_path = artifacts.perception / PHOTO_QUANTILES
    quantiles = pd.read_csv(quantiles_path) if ranker and quantiles_path.is_file() else None
    backbones = {model.backbone for model in (predictor, ranker) if model is not None and model.backbone != PIXELS}
    return ImageReader(predictor, ranker, quantiles, {b: feature_network(b) for b in backbones})


def photo_quantiles(per_photo: pd.DataFrame, questions: list[str]) -> pd.DataFrame:
    """The 0th…100th percentiles of each question's photo scores (what `ImageReader.percentile` reads)."""
    return pd.DataFrame({q: np.percentile(per_photo[q].to_numpy(), np.arange(101)) for q in questions})


def walk_readings(
    reader: ImageReader, generator, codes: torch.Tensor, direction: Direction, steps, *, batch: int = 32
) -> pd.DataFrame:
    """What the image models read along one direction's walk of each code (n, num_ws, D): rows image, step, readings."""
    steps = [float(s) for s in steps]
    parts = []
    with torch.inference_mode():
        for start in range(0, len(codes), batch):
            chunk = codes[start : start + batch]
            walked = torch.stack([edit(chunk, [(direction, alpha)]) for alpha in steps], 1)  # (b, steps, num_ws, D)
            images = generator.synthesis(walked.flatten(0, 1)).clamp(-1, 1)
            index = pd.MultiIndex.from_product([range(start, start + len(chunk)), steps], names=["image", "step"])
            parts.append(pd.concat([index.to_frame(index=False), reader.read(images)], axis=1))
    return pd.concat(parts, ignore_index=True)


def walk_agreement(readings: pd.DataFrame, domain: str) -> pd.DataFrame:
    """Per walked image: Spearman's ρ of walk step against the predicted decile of the walked domain.

    readings: one row per (image, step) with columns image, step and `domain`. A walk towards
    privilege should raise the predicted decile (ρ > 0); an image whose prediction does not move has ρ NaN.
    """
    rows = []
    for image, walk in readings.sort_values("step", kind="stable").groupby("image", sort=False):
        constant = walk[domain].nunique() < 2
        rho = float("nan") if constant else float(stats.spearmanr(walk["step"], walk[domain]).statistic)
        rows.append(
            {"image": image, "domain": domain, "spearman": rho, "change": float(walk[domain].iloc[-1] - walk[domain].iloc[0])}
        )
    return pd.DataFrame(rows)
