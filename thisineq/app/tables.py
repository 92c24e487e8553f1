"""The result tables as the metrics page shows them: scores with their intervals in one cell, domains in words."""

from __future__ import annotations

import pandas as pd

from thisineq.app.charts import STABILITY, domain_labels
from thisineq.headline import FIGURE_KEYS

SCORES = ("precision", "recall", "f1", "accuracy", "roc_auc")
VISIBILITY_SHOWN = ("method", "domain", "fit", "n", "f1", "roc_auc", "sigma_w", "change", *STABILITY)
# What the known-answer table's columns mean, for those of them a table has (its columns are being redesigned).
KNOWN_ANSWER_NOTES = {
    "cosine": "cosine: between the walk's factor changes and the truth's (target ≥ 0.9)",
    "right_sign": "right_sign: share of the factors the truth moves that the walk moves the same way (target ≥ 0.9)",
    "own_change": "own_change: how far the domain's own factors move, at least own_change_min",
    "leakage_excess": "leakage_excess: leakage beyond what the truth itself implies (target within ±0.15)",
    "nuisance": "nuisance: lighting, weather and colour moved, relative to the own factors",
    "p_random": "p_random: share of random directions that match the truth as well (target < 0.05)",
}


def with_interval(table: pd.DataFrame, score: str, *, digits: int = 2, between: str = "–") -> pd.Series:
    """'0.81 [0.77–0.85]' per row from `score`, `{score}_low` and `{score}_high` (the score alone where the table has no
    interval columns); '—' where the score is missing."""
    bounded = {f"{score}_low", f"{score}_high"} <= set(table)

    def cell(row) -> str:
        if pd.isna(row.get(score)):
            return "—"
        text = f"{row[score]:.{digits}f}"
        return f"{text} [{row[f'{score}_low']:.{digits}f}{between}{row[f'{score}_high']:.{digits}f}]" if bounded else text

    return table.apply(cell, axis=1)


def table1_display(table1: pd.DataFrame) -> pd.DataFrame:
    """Table 1's rows of one split as shown: domain in words, method, n, then each score with its interval."""
    display = domain_labels(table1[["domain", "method", "n"]])
    for score in SCORES:
        if score in table1:
            display[score] = with_interval(table1, score)
    if "note" in table1 and table1["note"].notna().any():  # why a row has no scores ("—"), in words
        display["why no score"] = table1["note"].fillna("")
    return display


def ranking_display(ranking: pd.DataFrame) -> pd.DataFrame:
    """The perception ranking as shown: after each ceiling, how far the ranker falls below it with its 95% interval in
    one cell ('0.041 [0.021 to 0.062]'; the gap alone where the set has no interval)."""
    shown = ranking.copy()
    for suffix in ("", "_simulated"):
        ceiling = f"ceiling_accuracy{suffix}"
        if ceiling not in ranking:
            continue
        bounds = {
            f"gap_{b}": ranking[f"ceiling_gap_{b}{suffix}"] for b in ("low", "high") if f"ceiling_gap_{b}{suffix}" in ranking
        }
        gaps = pd.DataFrame({"gap": ranking[ceiling] - ranking[f"ranker_accuracy{suffix}"], **bounds})
        cells = with_interval(gaps, "gap", digits=3, between=" to ")  # gaps can be negative: no dash between
        shown.insert(shown.columns.get_loc(ceiling) + 1, f"below_ceiling{suffix}", cells)
        shown = shown.drop(columns=[f"ceiling_gap_{b}{suffix}" for b in ("low", "high")], errors="ignore")
    return shown


def visibility_display(visibility: pd.DataFrame) -> pd.DataFrame:
    """The visibility table as shown: domain in words, F1 with its interval, then the stability cosines where the set has them."""
    shown = domain_labels(visibility).assign(f1=with_interval(visibility, "f1"))
    return shown[[c for c in VISIBILITY_SHOWN if c in shown]]


def has_stability(visibility: pd.DataFrame) -> bool:
    """Whether the visibility table has any stability cosine (sets built before them have none)."""
    return any(c in visibility and visibility[c].notna().any() for c in STABILITY)


def sources(table: pd.DataFrame) -> list[str]:
    """The values of a table's `source` column in the order they first appear; none where it has no such column."""
    return list(dict.fromkeys(table["source"].dropna().astype(str))) if "source" in table else []


def rows_of_source(table: pd.DataFrame, source: str | None) -> pd.DataFrame:
    """The rows of one source, without the source column; the whole table where `source` is None."""
    if source is None or "source" not in table:
        return table
    return table[table["source"].astype(str) == source].drop(columns="source")


def column_notes(table: pd.DataFrame, notes: dict[str, str]) -> str:
    """The notes of the columns a table has, joined into one caption ('' where none)."""
    return "; ".join(note for column, note in notes.items() if column in table)


def headline_display(record: dict) -> pd.DataFrame:
    """A headline record's figures as a table: area, figure, value, its 95% interval in words, target and a verdict."""
    frame = pd.DataFrame(record.get("figures", []), columns=list(FIGURE_KEYS)).astype({"interval": object})
    verdict = {True: "met", False: "missed"}
    frame["verdict"] = [
        verdict.get(m, "no target" if t is None else "not measured") for m, t in zip(frame["met"], frame["target"], strict=True)
    ]
    frame["interval"] = [f"{i[0]:.3g} to {i[1]:.3g}" if isinstance(i, list) else "" for i in frame["interval"]]
    return frame[["area", "figure", "value", "interval", "target", "verdict"]]


def same_photos(table1: pd.DataFrame, image_rows: pd.DataFrame) -> list[str]:
    """The boundary methods of Table 1 (one split) judged on the same labelled photos as the image rows: equal n throughout."""
    keys = ["domain", "classes"]
    wanted = image_rows.dropna(subset=["n"]).set_index(keys)["n"]
    same = []
    for method, rows in table1.groupby("method", sort=False):
        counts = rows.set_index(keys)["n"].reindex(wanted.index)
        if len(wanted) and counts.notna().all() and (counts == wanted).all():
            same.append(str(method))
    return same


def beside_table1(table1: pd.DataFrame, image_rows: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    """Table 1's rows of `methods` and the image rows, for the image rows' class definitions, domain by domain."""
    latent = table1[table1["method"].isin(methods) & table1["classes"].isin(set(image_rows["classes"]))]
    combined = pd.concat([latent, image_rows], ignore_index=True)
    order = {key: i for i, key in enumerate(dict.fromkeys(image_rows["domain"]))}
    return combined.sort_values("domain", key=lambda d: d.map(order), kind="stable").reset_index(drop=True)
