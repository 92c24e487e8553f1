"""`thisineq predict train|score`: cross-validated decile prediction on a dataset, and a model that scores others.

`train` caches the photos' features, then per domain and fold kind writes out-of-fold predictions
(each finished domain is kept, so a stopped run resumes), the LSOA table and the measures, and fits
one model per domain on every photo (`predictor.pt`, tensors and plain values: loads with
`weights_only=True`). `score` applies such a model to another dataset's photos.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from thisineq.config import option
from thisineq.data.dataset import Dataset, load_dataset
from thisineq.data.domains import DEFAULT_DOMAINS, domain
from thisineq.errors import ConfigError
from thisineq.io import atomic_open, atomic_path, write_json
from thisineq.models.stylegan2 import CheckpointError, safe_load
from thisineq.predict.evaluate import (
    GROUPINGS,
    location_ids,
    lsoa_measures,
    lsoa_predictions,
    out_of_fold_predictions,
)
from thisineq.predict.features import BACKBONES, feature_network, image_features, photo_features
from thisineq.predict.ordinal import DenseStack, OrdinalDecileRegressor, Standardiser, fitted_state, restore_network

PREDICTOR = "predictor.pt"
PREDICTOR_FORMAT = "thisineq-decile-predictor"


@dataclass
class PredictConfig:
    """What `thisineq predict train` fits and how it is checked."""

    dataset: str = option(help="dataset folder (from `thisineq data synth` or `data ingest`)")
    out: str = option(help="folder for the predictions, measures and predictor.pt")
    backbone: str = option(
        "vgg-texture",
        "image features: VGG16 (LPIPS weights) texture statistics or deep averages, or pooled EfficientNet-Lite0",
        choices=BACKBONES,
    )
    domains: tuple[str, ...] = option(DEFAULT_DOMAINS, "IoD2019 domains to predict")
    groupings: tuple[str, ...] = option(GROUPINGS, "fold kinds: stratified by decile over locations, and grouped by LSOA")
    folds: int = option(5, "cross-validation folds")
    steps: int = option(2000, "Adam updates per fitted model")
    hidden: tuple[int, ...] = option((256, 64), "widths of the shared dense stack")
    seed: int = option(0, "seed of the folds and the models")

    def __post_init__(self):
        self.domains, self.groupings, self.hidden = tuple(self.domains), tuple(self.groupings), tuple(self.hidden)
        for key in self.domains:
            domain(key)  # a clear error for an unknown one
        unknown = set(self.groupings) - set(GROUPINGS)
        if unknown:
            raise ConfigError(f"unknown fold grouping {sorted(unknown)}; choose from {', '.join(GROUPINGS)}")
        if self.folds < 2 or self.steps < 1:
            raise ConfigError(f"folds must be at least 2 and steps at least 1, got {self.folds} and {self.steps}")

    def estimator(self) -> OrdinalDecileRegressor:
        return OrdinalDecileRegressor(hidden=self.hidden, steps=self.steps, seed=self.seed)


def train_predictors(config: PredictConfig, *, progress: bool = True, log=print) -> Path:
    """Cross-validate and fit the decile predictors of `config`; returns the output folder."""
    dataset = load_dataset(config.dataset)
    photos = dataset.photos.sort_values("cache_index")
    missing = [key for key in config.domains if f"{key}_decile" not in photos]
    if missing:
        raise ConfigError(f"{config.dataset}'s photos have no deciles for {', '.join(missing)}")
    features = photo_features(dataset, config.backbone, progress=progress, log=log)
    out = Path(config.out)
    parts = out / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    # What a finished part depends on, as its JSON record reads back (tuples become lists).
    settings = json.loads(json.dumps({k: v for k, v in asdict(config).items() if k not in ("out", "domains", "groupings")}))
    predictions, measures = [], []
    for key in config.domains:
        for grouping in config.groupings:
            part = parts / f"{key}-{grouping}.csv"
            if not _current(part, settings):
                log(f"cross-validating {key} ({grouping} folds)")
                predicted = out_of_fold_predictions(
                    features, photos, key, grouping=grouping, folds=config.folds, seed=config.seed, estimator=config.estimator()
                )
                frame = pd.DataFrame({"photo_id": photos.index, "domain": key, "grouping": grouping, "predicted": predicted})
                with atomic_open(part, "w", encoding="utf-8", newline="") as handle:
                    frame.to_csv(handle, index=False)
                write_json(part.with_suffix(".json"), settings)
            frame = pd.read_csv(part, dtype={"photo_id": str})
            predictions.append(frame)
            table = lsoa_predictions(photos, frame["predicted"].to_numpy(), key)
            measures.append({"domain": key, "grouping": grouping, **asdict(lsoa_measures(table))})
    _write_csv(out / "predictions.csv", pd.concat(predictions, ignore_index=True))
    _write_csv(out / "measures.csv", pd.DataFrame(measures))
    models = {}
    for key in config.domains:
        log(f"fitting the {key} predictor on every photo")
        deciles = photos[f"{key}_decile"].to_numpy().astype(int)
        models[key] = config.estimator().fit(features, deciles, location_ids(photos))
    save_predictor(models, out / PREDICTOR, backbone=config.backbone, settings=settings)
    return out


def save_predictor(models: dict[str, OrdinalDecileRegressor], path: str | os.PathLike, *, backbone: str, settings: dict) -> None:
    """Fitted models by domain, as tensors and plain values, atomically."""
    record = {
        "format": PREDICTOR_FORMAT,
        "backbone": backbone,
        "settings": json.dumps(settings),
        "models": {key: {"hidden": list(m.hidden), "dropout": m.dropout, **fitted_state(m)} for key, m in models.items()},
    }
    with atomic_path(path) as tmp:
        torch.save(record, tmp)


@dataclass
class DecilePredictor:
    """Fitted decile models by domain and the backbone whose features they read."""

    backbone: str
    models: dict[str, OrdinalDecileRegressor]

    def predict(self, features: np.ndarray, locations: np.ndarray | None = None) -> pd.DataFrame:
        """Expected decile per photo (rows) and domain (columns)."""
        return pd.DataFrame({key: m.predict(features, locations) for key, m in self.models.items()})

    @torch.inference_mode()
    def score_images(self, images: torch.Tensor, network: torch.nn.Module | None = None) -> pd.DataFrame:
        """Expected decile per image (B, 3, H, W in [-1, 1]; generated or edited ones too), each its own location.

        `network`: the backbone's feature network, if the caller keeps one loaded (`feature_network(self.backbone)`).
        """
        return self.predict(image_features(images, network if network is not None else feature_network(self.backbone)))


def load_predictor(path: str | os.PathLike) -> DecilePredictor:
    """A `predictor.pt`, loaded safely (weights only)."""
    record = safe_load(path)
    if record.get("format") != PREDICTOR_FORMAT:
        raise CheckpointError(f"{path} is not a thisineq decile predictor (format {record.get('format')!r})")
    models = {}
    for key, stored in record["models"].items():
        model = OrdinalDecileRegressor(hidden=tuple(stored["hidden"]), dropout=stored["dropout"])
        model.net_ = restore_network(
            DenseStack(int(stored["in_features"]), tuple(stored["hidden"]), stored["dropout"]), stored["net"]
        )
        model.standardise_ = Standardiser(stored["mean"].numpy(), stored["scale"].numpy())
        model.n_features_in_ = int(stored["in_features"])
        models[key] = model
    return DecilePredictor(str(record["backbone"]), models)


def score_dataset(
    predictor_path: str | os.PathLike, dataset: str | os.PathLike, out: str | os.PathLike, *, progress=True, log=print
) -> Path:
    """Every photo of `dataset` scored by a saved predictor: per photo, and per LSOA (mean over its photos)."""
    predictor = load_predictor(predictor_path)
    data: Dataset = load_dataset(dataset)
    photos = data.photos.sort_values("cache_index")
    features = photo_features(data, predictor.backbone, progress=progress, log=log)
    predicted = predictor.predict(features, location_ids(photos))
    predicted.insert(0, "photo_id", photos.index)
    predicted.insert(1, "lsoa_code", photos["lsoa_code"].to_numpy())
    _write_csv(Path(out), predicted)
    return Path(out)


def _current(part: Path, settings: dict) -> bool:
    record = part.with_suffix(".json")
    return part.is_file() and record.is_file() and json.loads(record.read_text(encoding="utf-8")) == settings


def _write_csv(path: Path, frame: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "w", encoding="utf-8", newline="") as handle:
        frame.to_csv(handle, index=False, float_format="%.5g")
