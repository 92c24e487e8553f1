"""Print the boundaries' and walks' figures of an artifact set beside issue 13's targets, marking each met or missed.

Reads what `thisineq pipeline` wrote (boundaries/table1.csv, boundaries/visibility.csv and
known_answer/summary.json); computes nothing itself, so it takes a moment. Targets:
- whitened full-space boundaries: Table 1 F1 (deciles 1–3 vs 8–10, by LSOA) for e4e and ReStyle
  within the standardised fit's former range 0.73–0.77 or above, split-half cosine ≥ 0.6, and a +3σ walk
  changing ≥ 2% of the pixel range on average;
- the known-answer targets, as the benchmark's summary states them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from thisineq.pipeline.headline import SPLIT_HALF_COSINE, TABLE1_F1, WALK_CHANGE

F1_FLOOR, STABILITY_FLOOR, CHANGE_FLOOR = TABLE1_F1.bound, SPLIT_HALF_COSINE.bound, WALK_CHANGE.bound


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=Path("artifacts/demo"), help="the artifact set to read")
    return parser.parse_args(argv)


def mark(ok: bool) -> str:
    return "met" if ok else "MISSED"


def table1_lines(table: pd.DataFrame) -> list[str]:
    lines = ["Table 1 (by LSOA; F1 [95% LSOA-cluster bootstrap CI], ROC-AUC, chosen C):"]
    by_lsoa = table[table["split"] == "by LSOA"]
    for _, row in by_lsoa.iterrows():
        if pd.isna(row.get("f1")):
            lines.append(f"  {row['classes']:<20} {row['method']:<9} {row['domain']:<10} not fitted: {row.get('note')}")
            continue
        target = ""
        if row["method"] in ("e4e", "restyle") and row["classes"].startswith("deciles"):
            target = f"  target F1 ≥ {F1_FLOOR}: {mark(row['f1'] >= F1_FLOOR)}"
        lines.append(
            f"  {row['classes']:<20} {row['method']:<9} {row['domain']:<10} {row['f1']:.3f} [{row['f1_low']:.3f}–{row['f1_high']:.3f}]"
            f"  AUC {row['roc_auc']:.3f}  C {row['C']:g}{' (grid edge)' if row.get('C_at_edge') else ''}  n={int(row['n'])}{target}"
        )
    return lines


def visibility_lines(visibility: pd.DataFrame) -> list[str]:
    lines = ["Boundaries by fit (grouped-CV F1, split-half cosine, +3σ pixel change):"]
    for _, row in visibility.iterrows():
        f1 = "   —  " if pd.isna(row["f1"]) else f"{row['f1']:.3f}"
        stable = "  — " if pd.isna(row["split_half_cosine"]) else f"{row['split_half_cosine']:.2f}"
        lines.append(
            f"  {row['method']:<9} {row['domain']:<10} {row['fit']:<22} F1 {f1}  split-half {stable}  change {row['change']:.2%}"
        )
    whitened = visibility[(visibility["fit"] == "whitened W") & visibility["method"].isin(["e4e", "restyle"])]
    if len(whitened):
        stability, change = whitened["split_half_cosine"].min(), whitened["change"].mean()
        lines += [
            f"  whitened, encoders: lowest split-half cosine {stability:.2f} (target ≥ {STABILITY_FLOOR}: {mark(stability >= STABILITY_FLOOR)})",
            f"  whitened, encoders: mean +3σ change {change:.2%} (target ≥ {CHANGE_FLOOR:.0%}: {mark(change >= CHANGE_FLOOR)})",
        ]
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    boundaries = args.set / "boundaries"
    if not (boundaries / "table1.csv").is_file():
        print(f"{args.set} has no boundaries/table1.csv: run `thisineq pipeline --only boundaries` first", file=sys.stderr)
        return 1
    lines = table1_lines(pd.read_csv(boundaries / "table1.csv"))
    if (boundaries / "visibility.csv").is_file():
        lines += visibility_lines(pd.read_csv(boundaries / "visibility.csv"))
    summary = args.set / "known_answer" / "summary.json"
    if summary.is_file():
        lines += [
            "Known answer (known_answer/summary.json):",
            json.dumps(json.loads(summary.read_text(encoding="utf-8")), indent=2),
        ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
