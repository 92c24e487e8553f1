"""The image side in an artifact set: decile prediction from photos and perception ranking from crowd votes.

Both learn on the photos the GAN's side learns from (the synthetic training city, or a lab's own
dataset), with their per-photo working files in the work folder; the set keeps what the pages and
the headline read: measures, LSOA tables, the image side's rows of Table 1 on the boundaries' own
photos, and the fitted models (float16) that re-score edited images. The synthetic city has no
crowd, so the `crowd` step simulates one from its hidden factors (`thisineq.data.synth.crowd`).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from thisineq.data.dataset import load_dataset
from thisineq.data.synth.build import GROUND_TRUTH
from thisineq.data.synth.crowd import QUESTIONS, simulate_votes
from thisineq.data.synth.links import LINKS
from thisineq.io import atomic_open
from thisineq.latent.labels import CLASS_DEFINITIONS, labelled_subset
from thisineq.latent.table1 import evaluate_scores
from thisineq.perception.fitted import RANKER
from thisineq.perception.run import RankConfig, train_rankers
from thisineq.predict.evaluate import GROUPINGS, lsoa_measures, lsoa_predictions, out_of_fold_predictions
from thisineq.predict.ordinal import OrdinalDecileRegressor
from thisineq.predict.reader import PHOTO_QUANTILES, photo_quantiles
from thisineq.predict.run import PREDICTOR, PredictConfig, train_predictors

if TYPE_CHECKING:
    from thisineq.pipeline.runner import Pipeline
    from thisineq.pipeline.workspace import Workspace

BACKBONE_LABELS = {
    "vgg": "VGG16",
    "vgg-texture": "VGG16 texture statistics",
    "vgg-bands": "VGG16 texture statistics in three bands",
    "vgg-bands-192": "VGG16 texture statistics in three bands at 192 px",
    "efficientnet": "EfficientNet-Lite0",
}
MIDDLE_DECILE = 5.5  # an expected decile above this reads as privileged, below as deprived
PREDICT_FILES = ("measures.csv", "lsoa.csv", "table1.csv", PREDICTOR)
PERCEPTION_FILES = ("ranking.csv", "perception_lsoa.csv", "correlations.csv", PHOTO_QUANTILES, RANKER)


def crowd_votes_path(paths: Workspace) -> Path:
    """The simulated crowd's votes on the training city (work folder; Place Pulse layout, photos by file name)."""
    return paths.work / "crowd" / "votes.csv"


def votes_source(paths: Workspace) -> Path:
    """Where the perception step reads its votes: the simulated crowd's, or a lab's own (ingested with its dataset)."""
    return paths.train_dataset / "votes.csv" if paths.config.bring_your_own else crowd_votes_path(paths)


def simulate_crowd(p: Pipeline) -> None:
    """The step `crowd`: `crowd_votes` votes on the training city's photos from their hidden factors."""
    dataset = load_dataset(p.paths.train_dataset)
    truth = pd.read_csv(p.paths.train_dataset.parent / GROUND_TRUTH, dtype={"photo_id": str}).set_index("photo_id")
    photos = dataset.photos.sort_values("cache_index")
    votes = simulate_votes(truth.loc[photos.index], photos["image"], p.config.crowd_votes, seed=p.config.seed)
    path = crowd_votes_path(p.paths)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "w", encoding="utf-8", newline="") as handle:
        votes.to_csv(handle, index=False)
    p.log(f"  {len(votes):,} votes on {len(photos):,} photos, questions {', '.join(QUESTIONS)}")


def predict_deciles(p: Pipeline) -> None:
    """The step `predict`: cross-validated decile prediction, its LSOA table and Table 1 rows, and the fitted predictor."""
    c, paths = p.config, p.paths
    work = paths.work / "predict"
    config = PredictConfig(
        dataset=str(paths.train_dataset),
        out=str(work),
        backbone=c.image_backbone,
        domains=c.domains,
        steps=c.image_steps,
        hidden=c.predict_hidden,
        seed=c.seed,
    )
    train_predictors(config, progress=p.progress, log=p.log)
    photos = paths.training_photos()
    predictions = pd.read_csv(work / "predictions.csv", dtype={"photo_id": str})
    truth = paths.train_dataset.parent / GROUND_TRUTH
    if not c.bring_your_own and truth.is_file():
        p.log("  the ceiling: the same model, linear, on the photos' true factors")
        measures = pd.read_csv(work / "measures.csv")
        _write_csv(work / "measures.csv", measures.merge(ceiling_measures(photos, truth, c.domains, c.seed), how="left"))
    _write_csv(work / "lsoa.csv", lsoa_table(photos, predictions))
    _write_csv(work / "table1.csv", table1_rows(photos, predictions, paths))
    _publish(work, paths.artifacts.predict, PREDICT_FILES)


def rank_perception(p: Pipeline) -> None:
    """The step `perception`: the perception ranker per question, judged on held-out votes, scored per photo and LSOA."""
    c, paths = p.config, p.paths
    work = paths.work / "perception"
    truth = paths.train_dataset.parent / GROUND_TRUTH
    config = RankConfig(
        dataset=str(paths.train_dataset),
        out=str(work),
        backbone=c.perception_backbone,
        steps=c.image_steps,
        model=c.perception_ranker,
        hidden=c.perception_hidden,
        epochs=c.perception_epochs,
        width=c.perception_width,
        truth=str(truth) if not c.bring_your_own and truth.is_file() else "",
        votes="" if c.bring_your_own else str(crowd_votes_path(paths)),
        seed=c.seed,
    )
    train_rankers(config, progress=p.progress, log=p.log)
    ranking = pd.read_csv(work / "ranking.csv")
    scores = pd.read_csv(work / "perception_scores.csv", dtype={"photo_id": str})
    _write_csv(work / PHOTO_QUANTILES, photo_quantiles(scores, list(ranking["question"])))
    _publish(work, paths.artifacts.perception, PERCEPTION_FILES)


def ceiling_measures(photos: pd.DataFrame, truth_path: Path, domains, seed: int) -> pd.DataFrame:
    """Per domain and fold kind, the LSOA-level Kendall τ a linear ordinal model reaches from the photos' true visual
    factors (the synthetic city's known answer): what no image model can beat."""
    order = photos.sort_values("cache_index")
    truth = pd.read_csv(truth_path, dtype={"photo_id": str}).set_index("photo_id")
    factors = truth.loc[order.index, list(LINKS)].to_numpy()
    rows = []
    for key in domains:
        for grouping in GROUPINGS:
            linear = OrdinalDecileRegressor(hidden=(), dropout=0.0, seed=seed)
            predicted = out_of_fold_predictions(factors, order, key, grouping=grouping, seed=seed, estimator=linear)
            tau = lsoa_measures(lsoa_predictions(order, predicted, key)).kendall_tau
            rows.append({"domain": key, "grouping": grouping, "ceiling_kendall_tau": tau})
    return pd.DataFrame(rows)


def lsoa_table(photos: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    """Per domain, fold kind and LSOA: the true decile, the mean out-of-fold prediction and its rounded decile."""
    tables = []
    for (domain, grouping), part in predictions.groupby(["domain", "grouping"], sort=False):
        table = lsoa_predictions(photos.loc[part["photo_id"]], part["predicted"].to_numpy(), domain)
        tables.append(table.reset_index().assign(domain=domain, grouping=grouping))
    columns = ["domain", "grouping", "lsoa_code", "true", "predicted", "predicted_decile", "photos"]
    return pd.concat(tables, ignore_index=True)[columns]


def boundary_photo_ids(paths: Workspace) -> pd.Index:
    """The photos the encoders' boundaries (Table 1) were fitted on: the training city's first `boundary_photos`."""
    photos = load_dataset(paths.train_dataset).photos.sort_values("cache_index")
    limit = paths.config.boundary_photos
    return photos.index if limit is None else photos.index[:limit]


def table1_rows(photos: pd.DataFrame, predictions: pd.DataFrame, paths: Workspace) -> pd.DataFrame:
    """The image predictor judged as Table 1 judges a boundary, on the same labelled photos.

    Per domain and class definition, the boundaries' balanced labelled subset of their photos is
    rebuilt exactly (same seed); each photo's decision score is its LSOA-grouped out-of-fold expected
    decile minus the middle one, and the intervals resample LSOAs as Table 1's do. The folds are the
    predictor's own (five, grouped by LSOA over every photo), not the boundaries'.
    """
    c = paths.config
    ids = boundary_photo_ids(paths)
    chosen = photos.loc[ids]
    grouped = predictions[predictions["grouping"] == "lsoa"]
    rows = []
    for key in c.domains:
        predicted = grouped[grouped["domain"] == key].set_index("photo_id")["predicted"]
        for name in c.boundary_classes:
            definition = CLASS_DEFINITIONS[name]
            subset = labelled_subset(np.zeros((len(chosen), 0)), chosen, key, c.seed, definition)
            row = {"domain": key, "method": f"images ({BACKBONE_LABELS[c.image_backbone]})", "classes": definition.name}
            if subset.too_few:
                rows.append(row | {"split": "by LSOA", "n": len(subset.y), "note": subset.too_few})
                continue
            score = predicted.loc[chosen.index[subset.rows]].to_numpy() - MIDDLE_DECILE
            evaluation = evaluate_scores(subset.y, score, subset.groups, grouped=True, n_boot=c.boundary_bootstrap, seed=c.seed)
            rows.append(row | {"split": "by LSOA", **evaluation.row(), "note": ""})
    return pd.DataFrame(rows)


def _publish(work: Path, folder: Path, names: tuple[str, ...]) -> None:
    """Copy the set's files from the work folder, each through a temporary file, so a stopped copy leaves none half-written."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        tmp = folder / f".{name}.tmp"
        shutil.copyfile(work / name, tmp)
        tmp.replace(folder / name)


def _write_csv(path: Path, frame: pd.DataFrame) -> None:
    with atomic_open(path, "w", encoding="utf-8", newline="") as handle:
        frame.to_csv(handle, index=False, float_format="%.5g")
