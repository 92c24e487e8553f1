"""Fitted perception rankers as the app and the scripts use them: saved to and loaded from `ranker.pt` (weights only).

Three kinds, each scoring any image (the photos, or generated and edited ones) per study question:
rankers on a backbone's features (`PerceptionRanker`), the pixel ranker (`PixelPerceptionRanker`),
and their ensemble (`EnsemblePerceptionRanker`): each put on unit spread over the photos it learned
from, then averaged.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from thisineq.io import atomic_path
from thisineq.models.stylegan2 import CheckpointError, safe_load
from thisineq.perception.pixels import PixelRanker, PixelScorer
from thisineq.perception.ranker import PIXELS, FeatureBradleyTerry, PairwiseRanker, ranker_network
from thisineq.predict.features import feature_network, image_features
from thisineq.predict.ordinal import Standardiser, fitted_state, restore_network

RANKER = "ranker.pt"
RANKER_FORMAT = "thisineq-perception-ranker"


FLAT_SPREAD = 0.01  # scores spread less than this (a hundredth of a vote's log-odds) are flat: not magnified


def unit_spread(by_features: np.ndarray, by_pixels: np.ndarray, photos: np.ndarray) -> np.ndarray:
    """The mean and sd of each ranker's scores over `photos` (rows): what `averaged` divides by. A ranker that
    learned next to nothing keeps its flat scores rather than have its rounding noise blown up to unit spread."""
    f, p = by_features[photos], by_pixels[photos]
    return np.array([f.mean(), max(f.std(), FLAT_SPREAD), p.mean(), max(p.std(), FLAT_SPREAD)])


def save_rankers(
    path: str | os.PathLike,
    *,
    settings: dict,
    backbone: str = PIXELS,
    rankers: dict[str, FeatureBradleyTerry | PairwiseRanker] | None = None,
    pixels: PixelRanker | None = None,
    questions=(),
    scales: dict[str, np.ndarray] | None = None,
) -> None:
    """ranker.pt: feature rankers by question (reading `backbone`), a pixel ranker of `questions`, or both with the
    `scales` that put each on unit spread before they are averaged (an ensemble)."""
    record = {"format": RANKER_FORMAT, "backbone": backbone, "settings": json.dumps(settings)}
    if rankers is not None:
        record["rankers"] = {q: {"hidden": getattr(r, "hidden", 0), **fitted_state(r)} for q, r in rankers.items()}
    if pixels is not None:
        net = pixels.net_.state_dict()
        record["pixels"] = {
            "questions": list(questions),
            "width": pixels.width,
            "input_size": pixels.input_size_,
            "net": {name: value.half() if value.is_floating_point() else value for name, value in net.items()},
        }
    if scales is not None:
        record["scales"] = {q: torch.from_numpy(np.asarray(v, dtype=np.float64)) for q, v in scales.items()}
    with atomic_path(path) as tmp:
        torch.save(record, tmp)


@dataclass
class PerceptionRanker:
    """Fitted rankers by study question and the backbone whose features they read."""

    backbone: str
    rankers: dict[str, FeatureBradleyTerry | PairwiseRanker]

    @property
    def questions(self) -> list[str]:
        return list(self.rankers)

    def predict(self, features: np.ndarray) -> pd.DataFrame:
        """Perception score per photo (rows) and question (columns), on the scale of the dataset's photos."""
        return pd.DataFrame({q: r.decision_function(features) for q, r in self.rankers.items()})

    @torch.inference_mode()
    def score_images(
        self, images: torch.Tensor, network: torch.nn.Module | None = None, *, features: np.ndarray | None = None
    ) -> pd.DataFrame:
        """Scores of images (B, 3, H, W in [-1, 1]; generated or edited ones too), read as the cached photos are;
        `features`: theirs from this backbone, where the caller has them already."""
        if features is None:
            features = image_features(images, network if network is not None else feature_network(self.backbone))
        return self.predict(features)


@dataclass
class PixelPerceptionRanker:
    """The pixel ranker: one network scoring every study question from the image itself."""

    ranker: PixelRanker
    questions: list[str]
    backbone: str = PIXELS

    def score_images(self, images: torch.Tensor, network=None, *, features=None) -> pd.DataFrame:
        """Scores of images (B, 3, H, W in [-1, 1]; generated or edited ones too). It reads the pixels: no
        `network` or `features` is needed."""
        return pd.DataFrame(self.ranker.score_tensor(images), columns=self.questions)


@dataclass
class EnsemblePerceptionRanker:
    """The feature ranker and the pixel ranker, each put on unit spread over the photos they learned from, averaged."""

    features: PerceptionRanker
    pixels: PixelPerceptionRanker
    scales: dict[str, np.ndarray]  # per question: the feature scores' mean and sd, then the pixel scores'

    @property
    def backbone(self) -> str:
        return self.features.backbone

    @property
    def questions(self) -> list[str]:
        return self.features.questions

    def score_images(
        self, images: torch.Tensor, network: torch.nn.Module | None = None, *, features: np.ndarray | None = None
    ) -> pd.DataFrame:
        """Scores of images (B, 3, H, W in [-1, 1]), from their features (given, or read with `network`) and pixels."""
        by_features = self.features.score_images(images, network, features=features)
        by_pixels = self.pixels.score_images(images)
        return pd.DataFrame({q: averaged(by_features[q], by_pixels[q], scale) for q, scale in self.scales.items()})


def averaged(by_features, by_pixels, scale: np.ndarray):
    """One question's ensemble scores (arrays or Series): the mean of the two rankers' scores on unit spread, `scale`
    holding each one's mean and sd (`unit_spread`)."""
    m_f, s_f, m_p, s_p = scale
    return ((by_features - m_f) / s_f + (by_pixels - m_p) / s_p) / 2


def load_rankers(path: str | os.PathLike) -> PerceptionRanker | PixelPerceptionRanker | EnsemblePerceptionRanker:
    """A `ranker.pt`, loaded safely (weights only); a record missing a part, or whose parts disagree, is named."""
    record = safe_load(path)
    if record.get("format") != RANKER_FORMAT:
        raise CheckpointError(f"{path} is not a thisineq perception ranker (format {record.get('format')!r})")
    try:
        return _rankers(record, path)
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as error:
        raise CheckpointError(f"{path} is an incomplete or damaged perception ranker ({type(error).__name__}: {error})") from None


def _rankers(record: dict, path) -> PerceptionRanker | PixelPerceptionRanker | EnsemblePerceptionRanker:
    pixels = _pixel_ranker(record["pixels"]) if "pixels" in record else None
    if "rankers" not in record:
        if pixels is None:
            raise CheckpointError(f"{path} holds no ranker")
        return pixels
    rankers = {}
    for question, stored in record["rankers"].items():
        hidden, width = int(stored["hidden"]), int(stored["in_features"])
        ranker = PairwiseRanker(hidden=hidden) if hidden else FeatureBradleyTerry()
        ranker.net_ = restore_network(ranker_network(width, hidden), stored["net"])
        ranker.standardise_ = Standardiser(stored["mean"].numpy(), stored["scale"].numpy())
        ranker.n_features_in_ = width
        rankers[str(question)] = ranker
    by_features = PerceptionRanker(str(record["backbone"]), rankers)
    if pixels is None:
        return by_features
    scales = {str(q): v.numpy() for q, v in record["scales"].items()}
    if set(scales) != set(by_features.questions) or set(pixels.questions) != set(by_features.questions):
        raise CheckpointError(f"{path}: the ensemble's parts score different questions")
    return EnsemblePerceptionRanker(by_features, pixels, scales)


def _pixel_ranker(stored: dict) -> PixelPerceptionRanker:
    questions = [str(q) for q in stored["questions"]]
    ranker = PixelRanker(width=int(stored["width"]))
    ranker.net_ = restore_network(PixelScorer(len(questions), ranker.width, int(stored["input_size"])), stored["net"])
    ranker.n_questions_, ranker.input_size_ = len(questions), int(stored["input_size"])
    return PixelPerceptionRanker(ranker, questions)
