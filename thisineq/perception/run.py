"""`thisineq predict rank`: perception scores for every photo from a dataset's crowd votes.

Photos are split so that no held-out photo appears in a training vote; the ranker learns from the
training votes and is judged on the held-out ones (pairwise accuracy on decisive votes), per question,
beside the votes-only Bradley–Terry baseline and, for the synthetic city, the ceiling the crowd's
noise allows, with a 95% interval for how far the ranker falls below that ceiling (votes resampled by
their photos' LSOAs). The rankers on cached features (feature Bradley–Terry or the Siamese network) are
fitted per question; the pixel ranker is one network for every question; the default averages feature
Bradley–Terry and the pixel ranker. A ranker fitted on every vote then scores every photo; scores are
averaged per LSOA and correlated (Spearman) with each domain's decile.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from thisineq.config import option
from thisineq.data.dataset import Dataset, load_dataset
from thisineq.data.domains import DOMAIN_KEYS
from thisineq.data.synth.crowd import ceiling_accuracy, perception_scores, simulate_votes
from thisineq.data.votes import check_votes, problems_summary, read_votes
from thisineq.errors import ConfigError
from thisineq.io import atomic_open
from thisineq.perception.fitted import RANKER, averaged, save_rankers, unit_spread
from thisineq.perception.pixels import PASSES, WIDTH, PixelRanker
from thisineq.perception.ranker import (
    ENSEMBLE,
    PIXELS,
    RANKERS,
    FeatureBradleyTerry,
    PairwiseRanker,
    accuracy_gap_interval,
    cross_fitted_bradley_terry_accuracy,
    image_split,
    pairwise_accuracy,
)
from thisineq.predict.features import BACKBONES, PERCEPTION_BACKBONE, photo_features


@dataclass
class RankConfig:
    """What `thisineq predict rank` fits and how it is checked."""

    dataset: str = option(help="dataset folder with crowd votes (`thisineq data ingest --votes`, `data synth --votes`)")
    out: str = option(help="folder for the scores, the held-out accuracies and ranker.pt")
    backbone: str = option(PERCEPTION_BACKBONE, "image features the ranker reads", choices=BACKBONES)
    model: str = option(
        ENSEMBLE,
        "the ranker: Bradley–Terry strengths linear in the features (prior chosen by cross-validation), "
        "the Siamese network of two dense layers on them (Dubey et al.), a CNN trained end to end on the "
        "photos' pixels for every question at once (pixels: reads no backbone's features), or the average of "
        "the first and the CNN, each on unit spread (ensemble, the most accurate)",
        choices=RANKERS,
    )
    questions: tuple[str, ...] = option((), "study questions to rank (default: every question the votes ask)")
    test_share: float = option(0.2, "share of photos held out: their votes judge the ranker")
    steps: int = option(2000, "Adam updates per Siamese ranker")
    hidden: int = option(64, "width of the Siamese ranker's hidden layer")
    epochs: int = option(PASSES, "passes of the pixel ranker over the photos (each applies every vote once per photo)")
    width: int = option(WIDTH, "channels of the pixel ranker's first convolutions (doubled twice deeper down)")
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
        if self.epochs < 1 or self.width < 1:
            raise ConfigError(f"the pixel ranker needs epochs and width of at least 1, got {self.epochs} and {self.width}")

    def ranker(self, prior: float | None = None) -> FeatureBradleyTerry | PairwiseRanker:
        """A fresh ranker; `prior` fixes the Bradley–Terry prior instead of choosing it by cross-validation."""
        if self.model == "bradley-terry":
            return FeatureBradleyTerry(prior=prior, seed=self.seed)
        return PairwiseRanker(hidden=self.hidden, steps=self.steps, seed=self.seed)

    def pixel_ranker(self) -> PixelRanker:
        return PixelRanker(width=self.width, epochs=self.epochs, seed=self.seed)


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
    votes = votes[votes["question"].isin(questions)]
    left, right, winner = row_of[votes["left"]].to_numpy(), row_of[votes["right"]].to_numpy(), votes["winner"].to_numpy()
    asked = pd.Categorical(votes["question"], categories=questions).codes.astype(np.int64)
    held_out = image_split(len(photos), config.test_share, config.seed)
    train, test = ~held_out[left] & ~held_out[right], held_out[left] & held_out[right]
    train_votes = [int((train & (asked == index)).sum()) for index in range(len(questions))]
    for index, question in enumerate(questions):
        log(f"ranking {question}: {train_votes[index]:,} training votes, {(test & (asked == index)).sum():,} held-out votes")
    fit = {PIXELS: _fit_pixel_rankers, ENSEMBLE: _fit_ensemble}.get(config.model, _fit_feature_rankers)
    fitted = fit(config, dataset, _Votes(questions, left, right, winner, asked, train), progress=progress, log=log)
    truth = pd.read_csv(config.truth, dtype={"photo_id": str}).set_index("photo_id") if config.truth else None
    areas = photos["lsoa_code"].to_numpy()  # the intervals resample votes by their photos' LSOAs
    results, scores = [], {}
    for index, question in enumerate(questions):
        judged = test & (asked == index)
        held_out_scores, scores[question] = fitted.held_out_scores[question], fitted.scores[question]
        row = {
            "question": question,
            "ranker": config.model,
            "votes_train": train_votes[index],
            "votes_test": int(judged.sum()),
            "ranker_accuracy": pairwise_accuracy(held_out_scores, left[judged], right[judged], winner[judged]),
            "ranker_prior": fitted.priors.get(question, float("nan")),
            "baseline_accuracy": cross_fitted_bradley_terry_accuracy(
                len(photos), left[judged], right[judged], winner[judged], seed=config.seed
            ),
        }
        if truth is not None:
            hidden = pd.Series(perception_scores(truth.loc[photos.index], question), index=photos.index)
            row["ceiling_accuracy"] = ceiling_accuracy(votes[judged], hidden)
            row["ceiling_gap_low"], row["ceiling_gap_high"] = accuracy_gap_interval(
                held_out_scores, hidden.to_numpy(), left[judged], right[judged], winner[judged], areas, seed=config.seed
            )
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
                row["ceiling_gap_low_simulated"], row["ceiling_gap_high_simulated"] = accuracy_gap_interval(
                    held_out_scores, hidden.to_numpy(), left_more, right_more, more["winner"], areas, seed=config.seed
                )
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
    save_rankers(out / RANKER, settings=asdict(config), **fitted.saved)
    return out


@dataclass
class _Votes:
    """The votes as rows of the photos (cache order): each vote's question as its index in `questions`, and whether
    it is a training vote (neither photo held out)."""

    questions: tuple[str, ...]
    left: np.ndarray
    right: np.ndarray
    winner: np.ndarray
    asked: np.ndarray
    train: np.ndarray

    def of(self, question: int | None = None, *, train_only: bool = False) -> tuple[np.ndarray, ...]:
        """(left, right, winner, asked) of one question's votes (by index; None: every question's), or of its
        training votes."""
        keep = self.train if train_only else np.ones(len(self.winner), bool)
        if question is not None:
            keep = keep & (self.asked == question)
        return self.left[keep], self.right[keep], self.winner[keep], self.asked[keep]


@dataclass
class _Fitted:
    """Per question: the scores of every photo from the ranker fitted on the training votes (`held_out_scores`) and
    from the one fitted on every vote (`scores`); the Bradley–Terry priors chosen; how the final rankers are saved."""

    held_out_scores: dict[str, np.ndarray]
    scores: dict[str, np.ndarray]
    priors: dict[str, float]
    saved: dict  # `save_rankers`' keywords for the rankers fitted on every vote


def _fit_feature_rankers(config: RankConfig, dataset: Dataset, votes: _Votes, *, progress, log) -> _Fitted:
    """One ranker per question on the photos' cached features."""
    features = photo_features(dataset, config.backbone, progress=progress, log=log)
    held_out_scores, scores, priors, rankers = {}, {}, {}, {}
    for index, question in enumerate(votes.questions):
        fitted_on_train = config.ranker().fit(features, *votes.of(index, train_only=True)[:3])
        held_out_scores[question] = fitted_on_train.decision_function(features)
        priors[question] = getattr(fitted_on_train, "prior_", float("nan"))
        # every vote, under the prior the training votes chose (the search is the costly part)
        prior = getattr(fitted_on_train, "prior_", None)
        rankers[question] = config.ranker(prior=prior).fit(features, *votes.of(index)[:3])
        scores[question] = rankers[question].decision_function(features)
    return _Fitted(held_out_scores, scores, priors, {"backbone": config.backbone, "rankers": rankers})


def _fit_pixel_rankers(config: RankConfig, dataset: Dataset, votes: _Votes, *, progress, log) -> _Fitted:
    """One network on the photos' pixels for every question at once: fitted on the training votes, then on all."""
    images = np.asarray(dataset.images())
    log(f"training the pixel ranker on the training votes ({config.epochs} passes over the photos)")
    on_train = config.pixel_ranker().fit(images, *votes.of(train_only=True), progress=progress)
    held_out = on_train.decision_function(images)
    log("training the pixel ranker on every vote")
    final = config.pixel_ranker().fit(images, *votes.of(), progress=progress)
    every = final.decision_function(images)
    return _Fitted(
        {q: held_out[:, i] for i, q in enumerate(votes.questions)},
        {q: every[:, i] for i, q in enumerate(votes.questions)},
        {},
        {"pixels": final, "questions": votes.questions},
    )


def _fit_ensemble(config: RankConfig, dataset: Dataset, votes: _Votes, *, progress, log) -> _Fitted:
    """The feature Bradley–Terry ranker and the pixel ranker, each put on unit spread over the photos it learned
    from, averaged: the two read different things (frozen texture statistics, filters learned from the votes), so
    their errors partly cancel."""
    by_features = _fit_feature_rankers(replace(config, model="bradley-terry"), dataset, votes, progress=progress, log=log)
    by_pixels = _fit_pixel_rankers(config, dataset, votes, progress=progress, log=log)
    learned_from = np.unique(np.concatenate(votes.of(train_only=True)[:2]))
    every = np.unique(np.concatenate(votes.of()[:2]))
    held_out_scores, scores, scales = {}, {}, {}
    for question in votes.questions:
        parts = by_features.held_out_scores[question], by_pixels.held_out_scores[question]
        held_out_scores[question] = averaged(*parts, unit_spread(*parts, learned_from))
        parts = by_features.scores[question], by_pixels.scores[question]
        scales[question] = unit_spread(*parts, every)
        scores[question] = averaged(*parts, scales[question])
    return _Fitted(held_out_scores, scores, by_features.priors, by_features.saved | by_pixels.saved | {"scales": scales})


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
