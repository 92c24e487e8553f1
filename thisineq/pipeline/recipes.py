"""Compare GAN training recipes at equal wall time on the same city.

Each recipe trains in its own run folder for `minutes` of training wall time, saving its EMA
generator and a sample grid every `every` minutes (`GANTrainConfig.snapshot_minutes`). Every
snapshot is then scored by one `QualityJudge` (VGG16 and EfficientNet-Lite0 spaces, the oracle's
factors); scores are cached per run (`quality.jsonl`), so training and scoring both resume. The
report is a table of every recipe's scores at every snapshot time and, per time, one image with a
row of samples from each recipe (the same z).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from thisineq.hardware import hardware_description, native_bf16
from thisineq.io import atomic_open, atomic_path, write_json
from thisineq.models.stylegan2 import StyleGAN2Config, safe_load
from thisineq.pipeline.gan_quality import QualityJudge, generator_quality
from thisineq.pipeline.headline import GAN_TARGETS
from thisineq.training.gan import train_gan
from thisineq.training.recipes import recipe_config
from thisineq.training.run import RUN_CONFIG, RunFolder

SCORES = "quality.jsonl"  # per run folder: one line of scores per snapshot
CONDITIONS = "conditions.json"  # per run folder: the cores and threads it trained on
GRID_ROW = 8  # samples per recipe in the side-by-side grids


def train_recipe(
    name: str,
    folder: str | os.PathLike,
    *,
    dataset: str,
    model: StyleGAN2Config,
    minutes: float,
    every: float,
    seed: int = 0,
    judge: QualityJudge | None = None,
    log=print,
) -> Path:
    """Train recipe `name` in `folder`/`name` for `minutes` of wall time, with snapshots every `every` minutes.

    With a `judge`, each snapshot is scored as soon as it is taken, off the training clock: the run trains
    to the next snapshot time, stops, is scored, and resumes from its checkpoint (exactly, random state
    and all). When training ends, the comparison needs no scoring pass of its own.
    """
    record_conditions(Path(folder) / name)
    stops = [minutes] if judge is None else [min(k * every, minutes) for k in range(1, math.ceil(minutes / every) + 1)]
    for stop in stops:
        config = recipe_config(
            name,
            dataset=str(dataset),
            run_dir=str(Path(folder) / name),
            model=model,
            steps=10**9,  # the clock ends the run
            max_minutes=stop,
            snapshot_minutes=every,
            metric_every=0,  # scored off the clock
            sample_every=10**9,
            seed=seed,
        )
        train_gan(config)
        if judge is not None:
            score_snapshots(Path(folder) / name, judge, log=log)
    return Path(folder) / name


def record_conditions(run_dir: str | os.PathLike) -> dict:
    """What this process trains on — cores it may use, torch's threads, the machine — written beside the run."""
    conditions = {
        "cpu_affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "native_bf16": native_bf16("cpu"),
        "hardware": hardware_description(),
    }
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    write_json(Path(run_dir) / CONDITIONS, conditions)
    return conditions


def score_snapshots(run_dir: str | os.PathLike, judge: QualityJudge, *, log=print) -> pd.DataFrame:
    """Every snapshot of a run scored by `judge` (cached in the run's quality.jsonl); one row per snapshot."""
    run_dir = Path(run_dir)
    cache = run_dir / SCORES
    done = {row["seconds"]: row for row in _read_lines(cache)}
    for seconds, path in RunFolder(run_dir, {}).snapshots().items():
        if seconds in done:
            continue
        log(f"  scoring {run_dir.name} at {seconds / 60:.0f} min")
        step = int(safe_load(path).get("step", 0))
        done[seconds] = {"seconds": seconds, "step": step, **_plain(generator_quality(path, judge))}
        with open(cache, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(done[seconds]) + "\n")
    return pd.DataFrame(sorted(done.values(), key=lambda row: row["seconds"]))


def comparison_table(folder: str | os.PathLike, judge: QualityJudge, *, log=print) -> pd.DataFrame:
    """Scores of every recipe run in `folder` at every snapshot time, with minutes and thousands of images seen."""
    tables = []
    for run_dir in sorted(p for p in Path(folder).iterdir() if (p / RUN_CONFIG).is_file()):
        table = score_snapshots(run_dir, judge, log=log)
        batch = json.loads((run_dir / RUN_CONFIG).read_text(encoding="utf-8"))["batch"]
        if len(table):
            tables.append(table.assign(recipe=run_dir.name, minutes=table["seconds"] / 60, kimg=table["step"] * batch / 1000))
    if not tables:
        raise FileNotFoundError(f"{folder} holds no recipe run with snapshots (train one first)")
    table = pd.concat(tables, ignore_index=True)
    first = ["recipe", "minutes", "step", "kimg"]
    return table[first + [c for c in table.columns if c not in first and c != "seconds"]]


def write_report(table: pd.DataFrame, folder: str | os.PathLike, out: str | os.PathLike) -> None:
    """recipes.csv, recipes.md (the headline columns against their targets) and one side-by-side grid per snapshot time.

    Run folders do not survive a move to a new machine, but their report does: recipes an earlier report in `out`
    holds and `folder` no longer does keep their rows, grid rows and conditions, so a recipe trained later joins the
    same table.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    earlier = earlier_report(out, exclude=set(table["recipe"]))
    table = pd.concat([earlier.table, table], ignore_index=True) if len(earlier.table) else table
    conditions = {
        **earlier.conditions,
        **{r: conditions_line(folder, r) for r in table["recipe"].unique() if r not in earlier.conditions},
    }
    with atomic_open(out / "recipes.csv", "w", encoding="utf-8", newline="") as handle:
        table.to_csv(handle, index=False, float_format="%.4g")
    with atomic_open(out / "recipes.md", "w", encoding="utf-8") as handle:
        handle.write(markdown_table(table) + "\n" + conditions_text(conditions))
    write_json(out / CONDITIONS, conditions)
    snapshots = {r: RunFolder(Path(folder) / r, {}).snapshots() for r in table["recipe"].unique() if r not in earlier.conditions}
    for seconds, rows in table.groupby(snapshot_seconds(table), sort=True):
        grid_rows = {}
        for recipe in rows["recipe"]:
            if recipe in earlier.grid_rows.get(seconds, {}):
                grid_rows[recipe] = earlier.grid_rows[seconds][recipe]
            elif snapshots.get(recipe, {}).get(seconds) is not None:
                grid_rows[recipe] = first_grid_row(snapshots[recipe][seconds].with_suffix(".png"))
        if grid_rows:
            with atomic_path(out / f"samples_wall_{seconds:06d}s.png") as tmp:
                Image.fromarray(np.concatenate(list(grid_rows.values()), axis=0)).save(tmp, format="PNG")
    write_json(out / "targets.json", {name: {"sense": t.sense, "bound": t.bound} for name, t in GAN_TARGETS.items()})


def snapshot_seconds(table: pd.DataFrame) -> pd.Series:
    """Each row's snapshot time in whole seconds (a report's minutes are rounded, a fresh table's are not)."""
    return (table["minutes"] * 60).round().astype(int)


@dataclass
class EarlierReport:
    """What an earlier report says of recipes whose run folders are gone."""

    table: pd.DataFrame
    conditions: dict[str, str]  # recipe → its conditions line
    grid_rows: dict[int, dict[str, np.ndarray]]  # snapshot second → recipe → its row of samples


def earlier_report(out: Path, exclude: set[str]) -> EarlierReport:
    """The rows, conditions and grid rows of the report in `out` for recipes not in `exclude` (empty if none)."""
    path = out / "recipes.csv"
    if not path.is_file():
        return EarlierReport(pd.DataFrame(), {}, {})
    every = pd.read_csv(path)
    conditions = _earlier_conditions(out, list(every["recipe"].unique()))
    grid_rows: dict[int, dict[str, np.ndarray]] = {}
    for seconds, rows in every.groupby(snapshot_seconds(every), sort=True):
        grid = out / f"samples_wall_{seconds:06d}s.png"
        if not grid.is_file():
            continue
        with Image.open(grid) as image:
            pixels = np.asarray(image.convert("RGB"))
        side = pixels.shape[0] // len(rows)  # one row per recipe, in the table's order
        grid_rows[seconds] = {r: pixels[i * side : (i + 1) * side] for i, r in enumerate(rows["recipe"]) if r not in exclude}
    kept = every[~every["recipe"].isin(exclude)].reset_index(drop=True)
    return EarlierReport(kept, {r: c for r, c in conditions.items() if r not in exclude}, grid_rows)


def _earlier_conditions(out: Path, recipes: list[str]) -> dict[str, str]:
    """Each recipe's conditions line from an earlier report (its conditions.json, or the lines of its recipes.md)."""
    if (out / CONDITIONS).is_file():
        return json.loads((out / CONDITIONS).read_text(encoding="utf-8"))
    text = (out / "recipes.md").read_text(encoding="utf-8") if (out / "recipes.md").is_file() else ""
    lines = dict(line[2:].split(": ", 1) for line in text.splitlines() if line.startswith("- ") and ": " in line)
    return {r: lines.get(r, "no record of its cores and threads") for r in recipes}


HEADLINE = [
    "vgg_fd",
    "vgg_fd_floor",
    "vgg_kd",
    "vgg_precision",
    "vgg_recall",
    "effnet_fd",
    "vgg_diversity_ratio",
    "factor_wasserstein_max",
    "type_share_gap",
]


def conditions_line(folder: str | os.PathLike, recipe: str) -> str:
    """A run's cores and threads, as recorded when it started (a run that kept no record is said to have none)."""
    path = Path(folder) / recipe / CONDITIONS
    if not path.is_file():
        return "no record of its cores and threads"
    c = json.loads(path.read_text(encoding="utf-8"))
    cores = c["cpu_affinity"]
    return (
        f"{len(cores) if cores else '?'} of {c['cpu_count']} cores ({cores}), {c['torch_threads']} torch thread(s); "
        f"{c['hardware']}"
    )


def conditions_text(conditions: dict[str, str]) -> str:
    """The report's paragraph of conditions, one line per recipe."""
    lines = ["Conditions (recorded as each run started):", ""]
    lines += [f"- {recipe}: {line}" for recipe, line in conditions.items()]
    return "\n".join(lines) + "\n"


def markdown_table(table: pd.DataFrame) -> str:
    """The headline scores of every recipe and time, as a Markdown table."""
    columns = ["recipe", "minutes", "kimg", *[c for c in HEADLINE if c in table.columns]]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for _, row in table.iterrows():
        cells = [str(row["recipe"])] + [f"{row[c]:.0f}" if c == "minutes" else f"{row[c]:.3g}" for c in columns[1:]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def first_grid_row(grid_path: Path) -> np.ndarray:
    """The first row of a run's sample grid (the same z in every run)."""
    with Image.open(grid_path) as grid:
        side = grid.width // GRID_ROW
        return np.asarray(grid.convert("RGB").crop((0, 0, grid.width, side)))


def _read_lines(path: Path) -> list[dict]:
    """The cached rows; a line cut short by a killed run is skipped (its snapshot is scored again)."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines() if path.is_file() else []:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def _plain(scores: dict) -> dict:
    return {k: float(v) for k, v in scores.items()}
