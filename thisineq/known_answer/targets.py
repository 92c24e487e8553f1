"""The benchmark's targets, checked on its tables: which are met, which missed, and by how much.

Each target is a margin per row, positive where the row meets it (`TARGETS`): a boundary's walk
must reproduce the truth profile (cosine ≥ 0.9, right sign on ≥ 90% of the factors the truth moves),
move its own factors at least `own_change_min`, beat random directions (p < 0.05) and leak what
the truth implies (within ±0.15). On the positive-control city, whose domains are independent so
the truth implies no leakage, leakage itself must stay ≤ 0.2. And no headline figure may move by
0.1 or more between two oracles trained with different seeds (`seed_spread`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from thisineq.known_answer.measures import HEADLINE

SPREAD_LIMIT = 0.1  # the most a headline figure may move between oracle seeds
CONTROL_LEAKAGE = 0.2  # the positive control's leakage limit
# name → (what it asks, margin of a table row: ≥ 0 met — > 0 for the strict p-value)
TARGETS: dict[str, tuple[str, Callable[[pd.DataFrame], pd.Series]]] = {
    "cosine": ("profile cosine ≥ 0.9", lambda t: t["cosine"] - 0.9),
    "right_sign": ("right sign on ≥ 90% of the factors the truth moves", lambda t: t["right_sign"] - 0.9),
    "own_change": ("own-factor change ≥ half the truth's", lambda t: t["own_change"] - t["own_change_min"]),
    "p_random": ("beats random directions, p < 0.05", lambda t: 0.05 - t["p_random"]),
    "leakage": ("leakage within ±0.15 of the truth-implied", lambda t: 0.15 - t["leakage_excess"].abs()),
}
KEY = ["source", "method", "fit", "walk", "direction", "domain", "truth"]  # a row but for its oracle seed


def margins(table: pd.DataFrame, direction: str = "boundary") -> pd.DataFrame:
    """Every target's margin for the rows of one direction kind: the row's labels, then one column per target."""
    rows = table[table["direction"] == direction].reset_index(drop=True)
    out = rows[[*KEY, "oracle_seed"]].copy()
    for name, (_, margin) in TARGETS.items():
        out[name] = margin(rows).to_numpy()
    return out


def met(margin: pd.Series, name: str) -> pd.Series:
    """Whether each margin meets its target (the p-value's is strict)."""
    return margin > 0 if name == "p_random" else margin >= 0


def target_summary(table: pd.DataFrame, direction: str = "boundary") -> dict:
    """Per target: its wording, rows checked, rows meeting it, the worst margin and that row's labels."""
    checked = margins(table, direction)
    summary = {}
    for name, (wording, _) in TARGETS.items():
        margin = checked[name].dropna()
        if margin.empty:
            summary[name] = {"target": wording, "rows": 0}
            continue
        worst = checked.loc[margin.idxmin()]
        summary[name] = {
            "target": wording,
            "rows": int(len(margin)),
            "met": int(met(margin, name).sum()),
            "worst_margin": float(margin.min()),
            "worst_row": {key: _plain(worst[key]) for key in [*KEY, "oracle_seed"]},
        }
    return summary


def control_summary(control: pd.DataFrame) -> dict:
    """The positive control's target: every boundary walk's leakage ≤ `CONTROL_LEAKAGE`."""
    leakage = control.loc[control["direction"] == "boundary", "leakage"].dropna()
    if leakage.empty:
        return {"target": f"leakage ≤ {CONTROL_LEAKAGE}", "rows": 0}
    return {
        "target": f"leakage ≤ {CONTROL_LEAKAGE}",
        "rows": int(len(leakage)),
        "met": int((leakage <= CONTROL_LEAKAGE).sum()),
        "worst_margin": float(CONTROL_LEAKAGE - leakage.max()),
        "truth_leakage_max": float(control["truth_leakage"].max()),
    }


def seed_spread(table: pd.DataFrame, figures=HEADLINE) -> dict:
    """Per headline figure, how far it moves between oracle seeds: max and median over rows of the range across seeds."""
    if table["oracle_seed"].nunique() < 2:
        return {"seeds": int(table["oracle_seed"].nunique()), "note": "one oracle seed: no spread to measure"}
    spread = {}
    for figure in figures:
        ranges = table.groupby(KEY, dropna=False)[figure].agg(lambda v: np.ptp(v.dropna()) if v.notna().any() else np.nan)
        ranges = ranges.dropna()
        spread[figure] = {
            "max": float(ranges.max()),
            "median": float(ranges.median()),
            "below_limit": bool(ranges.max() < SPREAD_LIMIT),
        }
    return {"seeds": int(table["oracle_seed"].nunique()), "limit": SPREAD_LIMIT, "figures": spread}


def verdicts(boundaries: dict, control: dict, spread: dict) -> dict[str, str]:
    """One line per target: "met", or by how much the worst row misses it."""
    checks = {TARGETS[name][0]: result for name, result in boundaries.items()}
    checks[f"positive control: {control.get('target', 'leakage')}"] = control
    lines = {}
    for wording, result in checks.items():
        if not result.get("rows"):
            lines[wording] = "not measured"
        elif result["met"] == result["rows"]:
            lines[wording] = f"met by all {result['rows']} walks"
        else:
            lines[wording] = (
                f"missed by {result['rows'] - result['met']} of {result['rows']} walks; worst by {-result['worst_margin']:.3f}"
            )
    for figure, result in spread.get("figures", {}).items():
        verdict = "met" if result["below_limit"] else f"missed by {result['max'] - SPREAD_LIMIT:.3f}"
        lines[f"{figure} moves < {SPREAD_LIMIT} between oracle seeds"] = f"{verdict} (largest change {result['max']:.3f})"
    return lines


def summary(table: pd.DataFrame, control: pd.DataFrame | None) -> dict:
    """summary.json: a verdict per target, then every target's result, the baselines' for comparison, the control's, and the oracle-seed spread."""
    boundaries = target_summary(table, "boundary")
    control_result = control_summary(control) if control is not None else {"rows": 0, "note": "no positive-control table"}
    spread = seed_spread(table)
    return {
        "verdicts": verdicts(boundaries, control_result, spread),
        "boundaries": boundaries,
        "baselines": {kind: target_summary(table, kind) for kind in ("ideal", "interfacegan", "flipped")},
        "control": control_result,
        "oracle_seed_spread": spread,
    }


def _plain(value):
    """A table cell as plain JSON data."""
    return value.item() if isinstance(value, np.generic) else value
