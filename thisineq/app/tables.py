"""The result tables as the metrics page shows them: scores with their intervals in one cell, domains in words."""

from __future__ import annotations

import pandas as pd

from thisineq.app.charts import domain_labels

SCORES = ("precision", "recall", "f1", "accuracy", "roc_auc")


def with_interval(table: pd.DataFrame, score: str) -> pd.Series:
    """'0.81 [0.77–0.85]' per row from `score`, `{score}_low` and `{score}_high`; '—' where the score is missing."""
    return table.apply(
        lambda r: f"{r[score]:.2f} [{r[f'{score}_low']:.2f}–{r[f'{score}_high']:.2f}]" if pd.notna(r.get(score)) else "—", axis=1
    )


def table1_display(table1: pd.DataFrame) -> pd.DataFrame:
    """Table 1's rows of one split as shown: domain in words, method, n, then each score with its interval."""
    display = domain_labels(table1[["domain", "method", "n"]])
    for score in SCORES:
        if score in table1:
            display[score] = with_interval(table1, score)
    return display


def visibility_display(visibility: pd.DataFrame) -> pd.DataFrame:
    """The visibility table as shown: domain in words, F1 with its interval."""
    shown = domain_labels(visibility).assign(f1=with_interval(visibility, "f1"))
    return shown[["method", "domain", "fit", "n", "f1", "roc_auc", "sigma_w", "change"]]
