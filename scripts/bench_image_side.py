"""Print the image side's figures on a synthetic city (issue 17's targets): decile prediction and perception ranking.

    python scripts/bench_image_side.py [--photos 6000] [--areas 600] [--votes 60000] [--work data/image_side]

Builds (or reuses) a synthetic city with a simulated crowd's votes, then prints, per domain and fold
kind, the LSOA-level Kendall τ of decile prediction from image features beside its ceiling — the
same ordinal model, linear, on the photos' true visual factors, which no image model can beat —
and, per question, the ranker's held-out pairwise accuracy beside the ceiling the crowd's noise
allows and the votes-only Bradley–Terry baseline. Seconds for each stage are printed too.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from thisineq.data.dataset import load_dataset
from thisineq.data.synth.build import SynthConfig, build_city_dataset
from thisineq.data.synth.city import CityConfig
from thisineq.data.synth.links import LINKS
from thisineq.images import from_uint8
from thisineq.perception.fitted import load_rankers
from thisineq.perception.ranker import PIXELS, RANKERS
from thisineq.perception.run import RankConfig, train_rankers
from thisineq.pipeline.config import PipelineConfig
from thisineq.predict.evaluate import lsoa_measures, lsoa_predictions, out_of_fold_predictions
from thisineq.predict.features import BACKBONES, feature_network
from thisineq.predict.ordinal import OrdinalDecileRegressor
from thisineq.predict.run import PredictConfig, train_predictors

DOMAINS = ("income", "health", "education")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=6000)
    parser.add_argument("--areas", type=int, default=600)
    parser.add_argument("--votes", type=int, default=60000)
    parser.add_argument("--backbone", default=PipelineConfig().image_backbone, choices=BACKBONES)
    parser.add_argument("--perception-backbone", default=PipelineConfig().perception_backbone, choices=BACKBONES)
    parser.add_argument("--perception-ranker", default=PipelineConfig().perception_ranker, choices=RANKERS)
    parser.add_argument("--work", type=Path, default=Path("data/image_side"))
    args = parser.parse_args()
    started = time.perf_counter()
    config = SynthConfig(n_photos=args.photos, votes=args.votes, city=CityConfig(n_lsoas=args.areas, seed=11))
    root = build_city_dataset(args.work / "city", config, progress=False)
    print(
        f"synthetic city: {args.photos:,} photos, {args.areas} LSOAs, {args.votes:,} votes ({time.perf_counter() - started:.0f} s)"
    )

    started = time.perf_counter()
    out = train_predictors(
        PredictConfig(
            dataset=str(root), out=str(args.work / f"predict-{args.backbone}"), backbone=args.backbone, domains=DOMAINS
        ),
        progress=False,
        log=lambda _: None,
    )
    measures = pd.read_csv(out / "measures.csv").set_index(["domain", "grouping"])
    print(f"decile prediction from {args.backbone} features ({time.perf_counter() - started:.0f} s, features cached)")
    photos = load_dataset(root).photos.sort_values("cache_index")
    truth = pd.read_csv(args.work / "city" / "ground_truth.csv", dtype={"photo_id": str}).set_index("photo_id")
    factors = truth.loc[photos.index, list(LINKS)].to_numpy()
    linear = OrdinalDecileRegressor(hidden=(), dropout=0.0)
    print(
        "| domain | folds | Kendall τ (images) | τ ceiling (linear, true factors) | gap | Pearson r | within ±1 | 1→10 | 10→1 |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for domain in DOMAINS:
        for grouping in ("stratified", "lsoa"):
            ceiling_prediction = out_of_fold_predictions(factors, photos, domain, grouping=grouping, estimator=linear)
            ceiling = lsoa_measures(lsoa_predictions(photos, ceiling_prediction, domain)).kendall_tau
            m = measures.loc[(domain, grouping)]
            print(
                f"| {domain} | {grouping} | {m.kendall_tau:.3f} | {ceiling:.3f} | {ceiling - m.kendall_tau:+.3f} | "
                f"{m.pearson_r:.3f} | {m.within_one:.2f} | {m.extremes_1_as_10} | {m.extremes_10_as_1} |"
            )

    started = time.perf_counter()
    ranked = train_rankers(
        RankConfig(
            dataset=str(root),
            out=str(args.work / "rank"),
            backbone=args.perception_backbone,
            model=args.perception_ranker,
            truth=str(args.work / "city" / "ground_truth.csv"),
        ),
        progress=False,
        log=lambda _: None,
    )
    ranking = pd.read_csv(ranked / "ranking.csv")
    reads = "the photos' pixels" if args.perception_ranker == PIXELS else f"{args.perception_backbone} features"
    print(f"\nperception ranking ({args.perception_ranker}) from {reads} ({time.perf_counter() - started:.0f} s)")
    print(f"reading one edited image: {reading_ms(ranked / 'ranker.pt', load_dataset(root)):.0f} ms on one thread")
    print(
        "| question | held-out votes | ranker | ceiling | ranker − ceiling | on simulated held-out votes: ranker − ceiling "
        "| Bradley–Terry (votes only) | ρ with hidden score |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in ranking.itertuples():
        print(
            f"| {row.question} | {row.votes_test:,} | {row.ranker_accuracy:.3f} | {row.ceiling_accuracy:.3f} | "
            f"{row.ranker_accuracy - row.ceiling_accuracy:+.3f} | "
            f"{row.ranker_accuracy_simulated:.3f} − {row.ceiling_accuracy_simulated:.3f} = "
            f"{row.ranker_accuracy_simulated - row.ceiling_accuracy_simulated:+.3f} | "
            f"{row.baseline_accuracy:.3f} | {row.hidden_spearman_held_out:.3f} |"
        )
    correlations = pd.read_csv(ranked / "correlations.csv")
    table = correlations.pivot(index="question", columns="domain", values="spearman")[list(DOMAINS)]
    print("\nLSOA mean perception score vs decile (Spearman; deciles run from deprived to privileged)")
    print(table.round(3).to_string())


def reading_ms(path: Path, dataset, repeats: int = 20) -> float:
    """Milliseconds the saved ranker takes to score one image on one thread, features included (the app's budget)."""
    ranker = load_rankers(path)
    network = None if ranker.backbone == PIXELS else feature_network(ranker.backbone)
    image = from_uint8(torch.from_numpy(np.array(dataset.images()[:1])).permute(0, 3, 1, 2))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ranker.score_images(image, network)  # warm-up
        started = time.perf_counter()
        for _ in range(repeats):
            ranker.score_images(image, network)
        return (time.perf_counter() - started) / repeats * 1000
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__":
    main()
