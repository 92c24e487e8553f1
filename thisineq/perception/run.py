"""`thisineq predict rank`: perception scores for every photo from a dataset's crowd votes.

Per question: photos are split so that no held-out photo appears in a training vote; the ranker
(feature Bradley–Terry by default, or the Siamese network) learns from the training votes and is judged on the held-out ones (pairwise accuracy on decisive
votes) beside the votes-only Bradley–Terry baseline and, for the synthetic city, the ceiling the
crowd's noise allows. A ranker fitted on every vote then scores every photo; scores are averaged
per LSOA and correlated (Spearman) with each domain's decile.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats

from thisineq.config import option
from thisineq.data.dataset import Dataset, load_dataset
from thisineq.data.domains import DOMAIN_KEYS
from thisineq.data.synth.crowd import ceiling_accuracy, perception_scores, simulate_votes
from thisineq.data.votes import check_votes, problems_summary, read_votes
from thisineq.errors import ConfigError
from thisineq.io import atomic_open, atomic_path
from thisineq.models.stylegan2 import CheckpointError, safe_load
from thisineq.perception.ranker import (
    RANKERS,
    FeatureBradleyTerry,
    PairwiseRanker,
    cross_fitted_bradley_terry_accuracy,
    image_split,
    pairwise_accuracy,
    ranker_network,
)
from thisineq.predict.features import BACKBONES, PERCEPTION_BACKBONE, feature_network, image_features, photo_features
from thisineq.predict.ordinal import Standardiser, fitted_state, restore_network

RANKER = "ranker.pt"
RANKER_FORMAT = "thisineq-perception-ranker"


@dataclass
class RankConfig:
    """What `thisineq predict rank` fits and how it is checked."""

    dataset: str = option(help="dataset folder with crowd votes (`thisineq data ingest --votes`, `data synth --votes`)")
    out: str = option(help="folder for the scores, the held-out accuracies and ranker.pt")
    backbone: str = option(PERCEPTION_BACKBONE, "image features the ranker reads", choices=BACKBONES)
    model: str = option(
        "bradley-terry",
        "the ranker: Bradley–Terry strengths linear in the features (prior chosen by cross-validation), "
        "or the Siamese network of two dense layers (Dubey et al.)",
        choices=RANKERS,
    )
    questions: tuple[str, ...] = option((), "study questions to rank (default: every question the votes ask)")
    test_share: float = option(0.2, "share of photos held out: their votes judge the ranker")
    steps: int = option(2000, "Adam updates per Siamese ranker")
    hidden: int = option(64, "width of the Siamese ranker's hidden layer")
    truth: str = option("", "a synthetic city's ground_truth.csv: adds the ceiling and the recovery of its hidden scores")
    votes: str = option("", "a votes file (Place Pulse layout) to rank from instead of the dataset's own votes")
    truth_votes: int = option(
        40000,
        "with --truth: further votes per question simulated between the held-out photos, a check of the ranker "
        "against its ceiling far less noisy than the few votes that fall between them",
    )
    seed: int = option(0, "seed of the split and the rankers")

    def __post_init__(self):
        self.questions = tuple(self.questions)
        if not 0 < self.test_share < 1:
            raise ConfigError(f"test_share must be between 0 and 1, got {self.test_share}")
        if self.truth_votes < 0:
            raise ConfigError(f"truth_votes must be at least 0, got {self.truth_votes}")
        if self.model not in RANKERS:
            raise ConfigError(f"unknown ranker {self.model!r}; choose from {', '.join(RANKERS)}")

    def ranker(self, prior: float | None = None) -> FeatureBradleyTerry | PairwiseRanker:
        """A fresh ranker; `prior` fixes the Bradley–Terry prior instead of choosing it by cross-validation."""
        if self.model == "bradley-terry":
            return FeatureBradleyTerry(prior=prior, seed=self.seed)
        return PairwiseRanker(hidden=self.hidden, steps=self.steps, seed=self.seed)


def train_rankers(config: RankConfig, *, progress: bool = True, log=print) -> Path:
    dataset = load_dataset(config.dataset)
    votes = _votes(config, dataset, log)
    questions = config.questions or tuple(sorted(votes["question"].unique()))
    unknown = set(questions) - set(votes["question"])
    if unknown:
        raise ConfigError(
            f"no votes ask {', '.join(sorted(unknown))}; the votes ask {', '.join(sorted(votes['question'].unique()))}"
        )
    photos = dataset.photos.sort_values("cache_index")
    row_of = pd.Series(np.arange(len(photos)), index=photos.index)
    features = photo_features(dataset, config.backbone, progress=progress, log=log)
    truth = pd.read_csv(config.truth, dtype={"photo_id": str}).set_index("photo_id") if config.truth else None
    held_out = image_split(len(photos), config.test_share, config.seed)
    results, scores, rankers = [], {}, {}
    for question in questions:
        asked = votes[votes["question"] == question]
        left, right, winner = row_of[asked["left"]].to_numpy(), row_of[asked["right"]].to_numpy(), asked["winner"].to_numpy()
        train, test = ~held_out[left] & ~held_out[right], held_out[left] & held_out[right]
        log(f"ranking {question}: {train.sum():,} training votes, {test.sum():,} held-out votes")
        held_out_ranker = config.ranker().fit(features, left[train], right[train], winner[train])
        held_out_scores = held_out_ranker.decision_function(features)
        row = {
            "question": question,
            "ranker": config.model,
            "votes_train": int(train.sum()),
            "votes_test": int(test.sum()),
            "ranker_accuracy": pairwise_accuracy(held_out_scores, left[test], right[test], winner[test]),
            "ranker_prior": getattr(held_out_ranker, "prior_", float("nan")),
            "baseline_accuracy": cross_fitted_bradley_terry_accuracy(
                len(photos), left[test], right[test], winner[test], seed=config.seed
            ),
        }
        # every vote, under the prior the training votes chose (the search is the costly part)
        rankers[question] = config.ranker(prior=getattr(held_out_ranker, "prior_", None)).fit(features, left, right, winner)
        scores[question] = rankers[question].decision_function(features)
        if truth is not None:
            hidden = pd.Series(perception_scores(truth.loc[photos.index], question), index=photos.index)
            row["ceiling_accuracy"] = ceiling_accuracy(asked[test], hidden)
            row["hidden_spearman_held_out"] = float(stats.spearmanr(held_out_scores[held_out], hidden[held_out]).statistic)
            if config.truth_votes and held_out.sum() >= 2:
                more = simulate_votes(
                    truth.loc[photos.index],
                    pd.Series(photos.index),
                    config.truth_votes,
                    questions=(question,),
                    seed=config.seed + 1,
                    among=np.flatnonzero(held_out),
                )
                left_more, right_more = row_of[more["left"]].to_numpy(), row_of[more["right"]].to_numpy()
                row["votes_simulated"] = len(more)
                row["ranker_accuracy_simulated"] = pairwise_accuracy(held_out_scores, left_more, right_more, more["winner"])
                row["ceiling_accuracy_simulated"] = ceiling_accuracy(more, hidden)
        results.append(row)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    per_photo = pd.DataFrame({"photo_id": photos.index, "lsoa_code": photos["lsoa_code"].to_numpy(), **scores})
    per_lsoa = per_photo.groupby("lsoa_code")[list(questions)].mean().join(dataset.lsoas.filter(like="_decile"))
    correlations = [
        {
            "question": q,
            "domain": d,
            "spearman": float(stats.spearmanr(per_lsoa[q], per_lsoa[f"{d}_decile"]).statistic),
            "n_lsoas": len(per_lsoa),
        }
        for q in questions
        for d in DOMAIN_KEYS
        if f"{d}_decile" in per_lsoa and per_lsoa[f"{d}_decile"].nunique() > 1
    ]
    for name, frame in (
        ("ranking.csv", pd.DataFrame(results)),
        ("perception_scores.csv", per_photo),
        ("perception_lsoa.csv", per_lsoa.reset_index()),
        ("correlations.csv", pd.DataFrame(correlations)),
    ):
        with atomic_open(out / name, "w", encoding="utf-8", newline="") as handle:
            frame.to_csv(handle, index=False, float_format="%.5g")
    save_rankers(rankers, out / RANKER, backbone=config.backbone, settings=asdict(config))
    return out


def _votes(config: RankConfig, dataset: Dataset, log) -> pd.DataFrame:
    """The usable votes (photo ids): from `config.votes` checked against the photos, or the dataset's own."""
    if config.votes:
        usable, problems = check_votes(read_votes(config.votes), dataset.photos)
        if len(problems):
            log(f"{config.votes}: {problems_summary(problems, len(usable) + len(problems))}")
        if usable.empty:
            raise ConfigError(f"no vote in {config.votes} names two photos of {config.dataset}")
        return usable
    votes = dataset.votes()
    if votes is None or votes.empty:
        raise ConfigError(f"{config.dataset} has no crowd votes: ingest them with `thisineq data ingest --votes FILE`")
    return votes


def save_rankers(
    rankers: dict[str, FeatureBradleyTerry | PairwiseRanker], path: str | os.PathLike, *, backbone: str, settings: dict
) -> None:
    record = {
        "format": RANKER_FORMAT,
        "backbone": backbone,
        "settings": json.dumps(settings),
        "rankers": {q: {"hidden": getattr(r, "hidden", 0), **fitted_state(r)} for q, r in rankers.items()},
    }
    with atomic_path(path) as tmp:
        torch.save(record, tmp)


@dataclass
class PerceptionRanker:
    """Fitted rankers by study question and the backbone whose features they read."""

    backbone: str
    rankers: dict[str, FeatureBradleyTerry | PairwiseRanker]

    def predict(self, features: np.ndarray) -> pd.DataFrame:
        """Perception score per photo (rows) and question (columns), on the scale of the dataset's photos."""
        return pd.DataFrame({q: r.decision_function(features) for q, r in self.rankers.items()})

    @torch.inference_mode()
    def score_images(self, images: torch.Tensor, network: torch.nn.Module | None = None) -> pd.DataFrame:
        """Scores of images (B, 3, H, W in [-1, 1]; generated or edited ones too), read as the cached photos are."""
        return self.predict(image_features(images, network if network is not None else feature_network(self.backbone)))


def load_rankers(path: str | os.PathLike) -> PerceptionRanker:
    """A `ranker.pt`, loaded safely (weights only)."""
    record = safe_load(path)
    if record.get("format") != RANKER_FORMAT:
        raise CheckpointError(f"{path} is not a thisineq perception ranker (format {record.get('format')!r})")
    rankers = {}
    for question, stored in record["rankers"].items():
        hidden, width = int(stored["hidden"]), int(stored["in_features"])
        ranker = PairwiseRanker(hidden=hidden) if hidden else FeatureBradleyTerry()
        ranker.net_ = restore_network(ranker_network(width, hidden), stored["net"])
        ranker.standardise_ = Standardiser(stored["mean"].numpy(), stored["scale"].numpy())
        ranker.n_features_in_ = width
        rankers[str(question)] = ranker
    return PerceptionRanker(str(record["backbone"]), rankers)
