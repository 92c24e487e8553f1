"""An artifact set's headline figures beside their targets, in one machine-readable file (`headline.json`).

The figures are read from what the pipeline wrote — the GAN's quality, the inversion comparison,
Table 1, the walks' visibility, the out-of-distribution bands, the known-answer summary and the steps'
wall times — and nothing is computed again. A figure whose source is missing is left out, so a set
built without (say) the known-answer benchmark still has a headline. The Overview page shows the list as it stands.

The record's format is `thisineq.headline`'s, which the Overview page reads too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import pandas as pd

from thisineq.artifacts import ArtifactSet
from thisineq.headline import SCHEMA, Figure
from thisineq.invert.methods import ENCODERS
from thisineq.io import write_json

MODEL_STAGE_MINUTES = 150  # issue 14: the whole model stage from nothing on 2 cores


@dataclass(frozen=True)
class Target:
    sense: str  # ">=" or "<="
    bound: float

    def __str__(self) -> str:
        return f"{'≥' if self.sense == '>=' else '≤'} {self.bound:g}"

    def met(self, value: float | None) -> bool | None:
        if value is None or not math.isfinite(value):
            return None
        return bool(value >= self.bound if self.sense == ">=" else value <= self.bound)


def figure(area: str, name: str, value, target: Target | None, source: str, interval=None) -> Figure:
    value = None if value is None or pd.isna(value) else float(value)
    interval = None if interval is None or any(pd.isna(b) for b in interval) else [float(interval[0]), float(interval[1])]
    met = target.met(value) if target else None
    return Figure(area, name, value, interval, str(target) if target else None, met, source)


# --- one reader per source ---------------------------------------------------------------------------

GAN_FIGURES = {  # key in gan/quality.json → (words, target)
    "vgg_precision": ("precision, VGG16 space", Target(">=", 0.7)),
    "vgg_recall": ("recall, VGG16 space", Target(">=", 0.5)),
    "vgg_fd_over_floor": ("FD over its real-vs-real floor, VGG16 space", Target("<=", 3.0)),
    "factor_wasserstein_max": ("largest factor Wasserstein distance (in photos' sd)", Target("<=", 0.15)),
    "type_share_gap": ("largest building-type share gap", Target("<=", 0.05)),
    "vgg_fd": ("FD, VGG16 space", None),
    "effnet_fd": ("FD, EfficientNet-Lite0 space", None),
    "vgg_diversity_ratio": ("diversity ratio, VGG16 space", None),
}
GAN_TARGETS = {key: target for key, (_, target) in GAN_FIGURES.items() if target is not None}
TABLE1_F1 = Target(">=", 0.73)  # issue 13: every encoder domain's F1 by LSOA, deciles 1–3 vs 8–10
WALK_CHANGE = Target(">=", 0.02)  # issue 13: mean pixel change of a +3σ walk (share of the pixel range)
SPLIT_HALF_COSINE = Target(">=", 0.6)  # issue 13: normals fitted on LSOA-disjoint halves agree
WALK_FIGURES = (  # visibility.csv column, words, how the domains' values are summarised, the encoders' target
    ("change", "mean pixel change of a +3σ walk", "mean", WALK_CHANGE),
    ("split_half_cosine", "lowest split-half cosine of the normals", "min", SPLIT_HALF_COSINE),
)
INVERSION_TARGETS = {  # (method, column) → target
    ("e4e", "lpips"): Target("<=", 0.13),
    ("restyle", "lpips"): Target("<=", 0.10),
    ("e4e", "code_atypicality"): Target("<=", 2.0),
    ("restyle", "code_atypicality"): Target("<=", 2.0),
    ("e4e", "latent_error"): Target("<=", 0.5),
    ("restyle", "latent_error"): Target("<=", 0.5),
    ("e4e", "photos_per_second"): Target(">=", 50.0),
}
INVERSION_WORDS = {
    "lpips": "held-out LPIPS",
    "psnr": "held-out PSNR (dB)",
    "code_atypicality": "median code atypicality in W",
    "latent_error": "latent recovery error (share of no inversion's)",
    "seconds_per_photo": "seconds per photo, batch 1",
    "photos_per_second": "photos per second, batch 32",
}


def gan_figures(artifacts: ArtifactSet) -> Iterator[Figure]:
    scores = _json(artifacts.gan_quality)
    if scores:
        for key, (words, target) in GAN_FIGURES.items():
            if key in scores.get("scores", {}):
                yield figure("GAN", words, scores["scores"][key], target, "gan/quality.json")


def inversion_figures(artifacts: ArtifactSet) -> Iterator[Figure]:
    table = _csv(artifacts.comparison)
    for _, row in table.iterrows() if table is not None else []:
        for column, words in INVERSION_WORDS.items():
            if column in row and not pd.isna(row[column]):
                target = INVERSION_TARGETS.get((row["method"], column))
                yield figure("inversion", f"{row['method']}: {words}", row[column], target, "inversions/comparison.csv")


def table1_figures(artifacts: ArtifactSet) -> Iterator[Figure]:
    table = _csv(artifacts.boundaries / "table1.csv")
    if table is None or "classes" not in table:
        return
    deciles = table[(table["split"] == "by LSOA") & (table["classes"] == "deciles 1-3 vs 8-10") & table["f1"].notna()]
    for method, rows in deciles.groupby("method", sort=False):
        target = TABLE1_F1 if method in ENCODERS else None
        lowest = rows.loc[rows["f1"].idxmin()]
        yield figure(
            "Table 1",
            f"{method}: lowest F1 by LSOA over domains (deciles 1–3 vs 8–10)",
            lowest["f1"],
            target,
            "boundaries/table1.csv",
            (lowest["f1_low"], lowest["f1_high"]) if "f1_low" in lowest else None,
        )


def walk_figures(artifacts: ArtifactSet) -> Iterator[Figure]:
    table = _csv(artifacts.visibility)
    if table is None:
        return
    whitened = table[table["fit"] == "whitened W"]
    for method, rows in whitened.groupby("method", sort=False):
        for column, words, summary, target in WALK_FIGURES:
            if column in rows:
                target = target if method in ENCODERS else None
                yield figure("walks", f"{method}: {words}", rows[column].agg(summary), target, "boundaries/visibility.csv")


def known_answer_figures(artifacts: ArtifactSet) -> Iterator[Figure]:
    summary = _json(artifacts.known_answer / "summary.json")
    if not summary:
        return
    for entry in [*summary.get("boundaries", {}).values(), summary.get("control")]:
        if entry and entry.get("rows"):
            share = entry["met"] / entry["rows"]
            yield figure(
                "known answer",
                f"share of walks meeting: {entry['target']}",
                share,
                Target(">=", 1.0),
                "known_answer/summary.json",
            )


OOD_FLAGGED = Target(">=", 0.9)  # issue 18: known-unsupported edits flagged…
OOD_FALSE_ALARMS = Target("<=", 0.05)  # …at no more than this share of held-out photos


def support_figures(artifacts: ArtifactSet) -> Iterator[Figure]:
    """Per method, the out-of-distribution bands' detection of known-unsupported edits and their false alarms."""
    record = _json(artifacts.boundaries / "ood.json")
    for method, entry in (record or {}).items():
        if not isinstance(entry, dict) or "flagged_unsupported" not in entry:
            continue  # the record's config
        source = "boundaries/ood.json"
        words = "known-unsupported edits flagged unsupported"
        yield figure("out of distribution", f"{method}: {words}", entry["flagged_unsupported"], OOD_FLAGGED, source)
        alarms = entry.get("false_alarms", {}).get("photos", {})
        yield figure(
            "out of distribution",
            f"{method}: false alarms on {alarms.get('codes', '?')} held-out photos' codes",
            alarms.get("unsupported"),
            OOD_FALSE_ALARMS,
            source,
        )


IMAGE_TAU_GAP = Target("<=", 0.1)  # issue 17: the photos' LSOA Kendall τ within 0.1 of the true factors' ceiling
PERCEPTION_GAP = Target("<=", 0.03)  # issue 17: the ranker within 3 points of the accuracy its crowd's noise allows


def image_side_figures(artifacts: ArtifactSet) -> Iterator[Figure]:
    """Where the set knows its ceilings (a synthetic city): how far the image-side models fall below them."""
    measures = _csv(artifacts.predict / "measures.csv")
    if measures is not None and "ceiling_kendall_tau" in measures:
        for row in measures.itertuples():
            words = f"{row.domain}, {row.grouping} folds: LSOA Kendall τ below the true factors' ceiling"
            yield figure("image side", words, row.ceiling_kendall_tau - row.kendall_tau, IMAGE_TAU_GAP, "predict/measures.csv")
    ranking = _csv(artifacts.perception / "ranking.csv")
    if ranking is None or "ceiling_accuracy" not in ranking:
        return
    for row in ranking.to_dict("records"):
        judged_on = {"held-out votes": ""}  # words → suffix of ranking.csv's accuracy columns
        if "ceiling_accuracy_simulated" in row:
            judged_on[f"{row['votes_simulated']:,.0f} simulated votes between held-out photos"] = "_simulated"
        for votes, suffix in judged_on.items():
            gap = row[f"ceiling_accuracy{suffix}"] - row[f"ranker_accuracy{suffix}"]
            words = f"{row['question']}: ranker's accuracy below its ceiling, {votes}"
            interval = (row.get(f"ceiling_gap_low{suffix}"), row.get(f"ceiling_gap_high{suffix}"))
            yield figure("image side", words, gap, PERCEPTION_GAP, "perception/ranking.csv", interval)


def pipeline_figures(artifacts: ArtifactSet, steps: list[str] | None = None) -> Iterator[Figure]:
    """The pipeline's minutes, judged against the model stage's budget only when every step of the run (`steps`) was timed.

    Where every step's span is known, the minutes judged are those in which some step ran: steps side by
    side in lanes count once, and the time between two sittings not at all.
    """
    times = _json(artifacts.pipeline_times)
    if not times:
        return
    minutes = sum(times.values()) / 60
    untimed = [name for name in steps or [] if name != "headline" and name not in times]
    spans = _json(artifacts.pipeline_spans) or {}
    if untimed:
        words = f"minutes of the {len(times)} steps timed ({len(untimed)} ran before times were kept: not judged)"
        yield figure("pipeline", words, minutes, None, "pipeline_times.json")
    elif set(times) <= set(spans):
        words = "minutes in which a step ran (steps side by side counted once)"
        busy = busy_seconds([spans[name] for name in times]) / 60
        yield figure("pipeline", words, busy, Target("<=", MODEL_STAGE_MINUTES), "pipeline_spans.json")
        yield figure("pipeline", "minutes of every step, added up", minutes, None, "pipeline_times.json")
    else:
        words = "minutes of every step, as last run"
        yield figure("pipeline", words, minutes, Target("<=", MODEL_STAGE_MINUTES), "pipeline_times.json")


def busy_seconds(spans: list[list[float]]) -> float:
    """The length of the union of [start, end] spans."""
    total, reach = 0.0, -math.inf
    for start, end in sorted(spans):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


READERS: tuple[Callable[[ArtifactSet], Iterator[Figure]], ...] = (
    gan_figures,
    inversion_figures,
    table1_figures,
    walk_figures,
    support_figures,
    known_answer_figures,
    image_side_figures,
)


def headline(artifacts: ArtifactSet, steps: list[str] | None = None) -> dict:
    """The set's headline record (see the module docstring); `steps`: the pipeline steps whose times should all be there."""
    figures = [f for reader in READERS for f in reader(artifacts)] + list(pipeline_figures(artifacts, steps))
    return {"schema": SCHEMA, "set": artifacts.name, "figures": [asdict(f) for f in figures]}


def write_headline(artifacts: ArtifactSet, steps: list[str] | None = None) -> None:
    write_json(artifacts.headline, headline(artifacts, steps))


def write_headline_step(p) -> None:
    """The pipeline's last step: the headline of the set it built."""
    write_headline(p.paths.artifacts, [step.name for step in p.steps()])


def sources(artifacts: ArtifactSet) -> list:
    """Every file the headline reads (its step's inputs)."""
    return [
        artifacts.gan_quality,
        artifacts.comparison,
        artifacts.boundaries / "table1.csv",
        artifacts.visibility,
        artifacts.known_answer / "summary.json",
        artifacts.boundaries / "ood.json",
        artifacts.predict / "measures.csv",
        artifacts.perception / "ranking.csv",
        artifacts.pipeline_times,
        artifacts.pipeline_spans,
    ]


def _json(path) -> dict | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _csv(path) -> pd.DataFrame | None:
    return pd.read_csv(path) if path.is_file() else None
