"""Compare GAN training recipes at equal wall time on the same city (issue 14): train, score, report.

    python scripts/compare_recipes.py train --recipe projected --minutes 90   # one recipe, resumable
    python scripts/compare_recipes.py report --out docs/recipes               # score every snapshot, write the report

Each recipe trains on the cores it is given: alone on the machine, or — for two recipes at once at equal
compute — each pinned to its own core with one thread:

    OMP_NUM_THREADS=1 taskset -c 0 python scripts/compare_recipes.py --runs data/recipes/compare train --recipe stylegan2-bf16 &
    OMP_NUM_THREADS=1 taskset -c 1 python scripts/compare_recipes.py --runs data/recipes/compare train --recipe stylegan2+projected &

With --score each snapshot is scored as it is taken, off the training clock (the run stops at each snapshot
time, is scored and resumes exactly), so the report needs no scoring pass afterwards.

Every run records its cores and threads as it starts (conditions.json), and the report says them. Runs live in
--runs (default data/recipes); the report (a table every --every minutes, side-by-side sample grids, the
targets, the conditions) is small enough to commit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from thisineq.pipeline.config import PipelineConfig
from thisineq.pipeline.gan_quality import QualityJudge
from thisineq.pipeline.recipes import comparison_table, train_recipe, write_report
from thisineq.pipeline.train import gan_model
from thisineq.training.recipes import RECIPES

DEFAULT_DATASET = Path("data/pipeline/city/dataset")  # the pipeline's training city
DEFAULT_ORACLE = Path("data/pipeline/oracles/oracle_seed0.pt")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("data/recipes"), help="folder of the recipes' run folders")
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="the city to train on and compare with")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train one recipe for a fixed wall time")
    train.add_argument("--recipe", required=True, choices=sorted(RECIPES))
    train.add_argument("--minutes", type=float, default=90.0, help="training wall time")
    train.add_argument("--every", type=float, default=10.0, help="minutes between snapshots")
    train.add_argument(
        "--score", action="store_true", help="score each snapshot as it is taken, off the clock (the report then only reads)"
    )
    train.add_argument("--oracle", type=Path, default=DEFAULT_ORACLE, help="the city's factor oracle (skipped if absent)")
    train.add_argument("--samples", type=int, default=2000, help="images per side of every comparison")
    report = commands.add_parser("report", help="score every snapshot and write the comparison")
    report.add_argument("--out", type=Path, default=Path("docs/recipes"))
    report.add_argument("--oracle", type=Path, default=DEFAULT_ORACLE, help="the city's factor oracle (skipped if absent)")
    report.add_argument("--samples", type=int, default=2000, help="images per side of every comparison")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.dataset.is_dir():
        print(f"no dataset at {args.dataset}: build the pipeline's city first (thisineq pipeline --only city)", file=sys.stderr)
        return 2
    pipeline = PipelineConfig()
    if args.command == "train":
        judge = QualityJudge.for_dataset(args.dataset, n=args.samples, oracle=args.oracle) if args.score else None
        train_recipe(
            args.recipe,
            args.runs,
            dataset=args.dataset,
            model=gan_model(pipeline),
            minutes=args.minutes,
            every=args.every,
            judge=judge,
        )
        return 0
    judge = QualityJudge.for_dataset(args.dataset, n=args.samples, oracle=args.oracle)
    table = comparison_table(args.runs, judge)
    write_report(table, args.runs, args.out)
    print((args.out / "recipes.md").read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
