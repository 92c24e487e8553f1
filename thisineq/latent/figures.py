"""Fig. 3: the latents a domain's boundary was fitted on, in 2-D and coloured by decile: a supervised view beside PCA and t-SNE.

The supervised view's x is each latent's projection on the boundary's unit normal (deprived → privileged).
Its y is the *best orthogonal axis*: the direction orthogonal to the normal that best predicts the decile,
by ridge regression of the decile on the residual latents R = X(I − n nᵀ), centred:

    v ∝ (RᵀR/N + λI)⁻¹ Rᵀ(d − d̄)/N,   λ = tr(RᵀR/N) / min(N, D),

the mean of the residual covariance's non-zero eigenvalues.
The penalty sits between two poor extremes. Least squares (λ → 0) fits any decile exactly where a
boundary has fewer photos than W has dimensions (the projector's 96 in 256), so its axis is noise; the
covariance direction (λ → ∞, the first PLS axis) lets a wide, decile-free dimension leak in. Where no
residual direction covaries with the decile, y falls back to the residuals' first principal axis.

Both axes are unit and orthogonal, so the view is a projection that keeps distances along the normal as
they are, which PCA and t-SNE do not.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from PIL import Image

from thisineq.data.domains import domain as domain_of
from thisineq.invert import methods
from thisineq.io import atomic_open
from thisineq.latent.walk import projection_2d

TSNE_MAX_POINTS = 2000  # t-SNE takes over half a minute at this size on two cores; the subsample keeps each decile's share
PNG_COLOURS = 128  # a palette PNG: ten decile colours and grey text need no more, and it is a third of the RGB file's size
DECILE_TITLE = "decile (1 = most deprived)"
# ColorBrewer RdYlBu, 10 classes: the map's decile colours (thisineq.app.maps), decile 1 first.
DECILE_HEX = (
    "#a50026", "#d73027", "#f46d43", "#fdae61", "#fee090", "#e0f3f8", "#abd9e9", "#74add1", "#4575b4", "#313695",
)  # fmt: skip


@dataclass(frozen=True)
class View:
    """One panel of Fig. 3: how its coordinates are made and what its axes mean."""

    name: str  # the key in the points table's `view` column
    title: str
    x_title: str
    y_title: str


VIEWS: dict[str, View] = {
    v.name: v
    for v in (
        View("supervised", "Supervised", "along the boundary normal (deprived → privileged)", "best orthogonal axis (ridge)"),
        View("pca", "PCA", "principal axis 1", "principal axis 2"),
        View("tsne", "t-SNE", "t-SNE 1", "t-SNE 2"),
    )
}


def _check(latents: np.ndarray, deciles: np.ndarray, normal: np.ndarray) -> None:
    if latents.ndim != 2 or deciles.shape != (len(latents),) or normal.shape != (latents.shape[1],):
        raise ValueError(
            f"latents must be (n, d), deciles (n,) and the normal (d,); got {latents.shape}, {deciles.shape}, {normal.shape}"
        )
    if not np.isin(deciles, np.arange(1, 11)).all():
        raise ValueError("deciles must be whole numbers from 1 to 10: leave out the photos without one")


def best_orthogonal_axis(latents: np.ndarray, deciles: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """The unit direction (d,) orthogonal to `normal` that best predicts deciles (n,) from latents (n, d), by ridge regression.

    Signed so that the decile rises along it; the residuals' first principal axis where nothing covaries.
    """
    latents, deciles, normal = (np.asarray(a, np.float64) for a in (latents, deciles, normal))
    _check(latents, deciles, normal)
    unit = normal / np.linalg.norm(normal)
    residuals = latents - np.outer(latents @ unit, unit)  # (n, d), each row orthogonal to the normal
    residuals -= residuals.mean(axis=0)
    covariance = residuals.T @ residuals / len(latents)  # (d, d)
    target = residuals.T @ (deciles - deciles.mean()) / len(latents)  # (d,): each dimension's covariance with the decile
    if np.linalg.norm(target) <= 1e-9 * np.sqrt(np.trace(covariance) * deciles.std() ** 2 + 1e-300):
        axis = np.linalg.eigh(covariance)[1][:, -1]
    else:
        penalty = np.trace(covariance) / min(latents.shape)  # the mean non-zero eigenvalue (the module's docstring says why)
        axis = np.linalg.solve(covariance + penalty * np.eye(len(unit)), target)
    axis -= (axis @ unit) * unit  # exact orthogonality despite rounding
    return axis / np.linalg.norm(axis)


def supervised_view(latents: np.ndarray, deciles: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """(n, 2): each latent's projection on the unit normal, then on the best orthogonal axis (see the module's docstring)."""
    latents = np.asarray(latents, np.float64)
    unit = np.asarray(normal, np.float64) / np.linalg.norm(normal)
    return latents @ np.stack([unit, best_orthogonal_axis(latents, deciles, normal)], axis=1)


def stratified_subsample(deciles: np.ndarray, max_points: int, seed: int = 0) -> np.ndarray:
    """Sorted positions of at most `max_points` rows, each decile keeping its share (±1), chosen at random but reproducibly."""
    deciles = np.asarray(deciles)
    if len(deciles) <= max_points:
        return np.arange(len(deciles))
    order = np.random.default_rng(seed).permutation(len(deciles))
    groups = pd.Series(deciles[order])
    # Systematic sampling within each decile: the k-th of a decile's m rows sits at (k + ½)/m, and the lowest positions win.
    position = (groups.groupby(groups).cumcount() + 0.5) / groups.map(groups.value_counts())
    return np.sort(order[np.argsort(position.to_numpy(), kind="stable")[:max_points]])


def fig3_points(
    latents: np.ndarray,
    deciles: np.ndarray,
    normal: np.ndarray,
    *,
    photo_ids: np.ndarray | None = None,
    seed: int = 0,
    tsne_max: int = TSNE_MAX_POINTS,
) -> pd.DataFrame:
    """Fig. 3's coordinates: one row per (view, photo) with columns view, photo_id, decile, x, y.

    latents (n, d), deciles (n,) of 1–10 and the boundary's normal (d,); `photo_ids` (n,) name the rows
    (default: their positions). t-SNE sees a stratified subsample of at most `tsne_max` latents.
    """
    latents, deciles, normal = np.asarray(latents, np.float64), np.asarray(deciles), np.asarray(normal, np.float64)
    _check(latents, deciles, normal)
    ids = np.asarray(photo_ids if photo_ids is not None else np.arange(len(latents))).astype(str)
    keep = stratified_subsample(deciles, tsne_max, seed)
    coordinates = {
        "supervised": (np.arange(len(latents)), supervised_view(latents, deciles, normal)),
        "pca": (np.arange(len(latents)), projection_2d(latents, "pca", seed)),
        "tsne": (keep, projection_2d(latents[keep], "tsne", seed)),
    }
    frames = [
        pd.DataFrame({"view": view, "photo_id": ids[rows], "decile": deciles[rows].astype(int), "x": xy[:, 0], "y": xy[:, 1]})
        for view, (rows, xy) in coordinates.items()
    ]
    return pd.concat(frames, ignore_index=True)


def view_title(points: pd.DataFrame, view: str) -> str:
    """A panel's title; t-SNE's says when it saw a subsample."""
    shown, total = (points["view"] == view).sum(), (points["view"] == "supervised").sum()
    subsample = f" ({shown:,} of {total:,} latents, stratified by decile)" if shown < total else ""
    return VIEWS[view].title + subsample


def fig3_title(method: str, domain: str, n: int) -> str:
    return f"Fig. 3 · {methods.method(method).label} · {domain_of(domain).label}: {n:,} inverted photos by decile"


def fig3_figure(points: pd.DataFrame, title: str, caption: str | None = None) -> Figure:
    """The three panels of a `fig3_points` table side by side, coloured by decile, with one colour bar (Agg, no display)."""
    figure = Figure(figsize=(12, 4.2), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    deciles = ScalarMappable(BoundaryNorm(np.arange(0.5, 11), len(DECILE_HEX)), ListedColormap(DECILE_HEX))
    axes = figure.subplots(1, len(VIEWS))
    for ax, view in zip(axes, VIEWS.values(), strict=True):
        shown = points[points["view"] == view.name]
        size = float(np.clip(4000 / max(len(shown), 1), 4, 16))  # points shrink as they crowd
        ax.scatter(shown["x"], shown["y"], c=deciles.to_rgba(shown["decile"]), s=size, alpha=0.8, linewidths=0)
        ax.set(title=view_title(points, view.name), xlabel=view.x_title, ylabel=view.y_title)
        ax.title.set_fontsize(10)
        ax.set_facecolor("0.94")  # the middle deciles' pale yellow and blue would vanish on white
    bar = figure.colorbar(deciles, ax=axes, ticks=range(1, 11), shrink=0.9)
    bar.set_label(DECILE_TITLE)
    figure.suptitle(title)
    if caption:
        figure.supxlabel(caption, fontsize=9, color="0.35")
    return figure


def save_palette_png(figure: Figure, handle, colours: int = PNG_COLOURS) -> None:
    """The figure rendered by Agg and saved as a PNG of at most `colours` colours (no dithering, no version stamp)."""
    figure.canvas.draw()
    pixels = np.asarray(figure.canvas.buffer_rgba())[..., :3]
    palette = Image.fromarray(pixels).quantize(colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    palette.save(handle, format="PNG", optimize=True)


def fig3_paths(folder: Path, method: str, domain: str) -> tuple[Path, Path]:
    """Where `write_fig3` puts one method's and domain's figure and its points: (png, csv.gz)."""
    return folder / f"fig3_{method}_{domain}.png", folder / f"fig3_{method}_{domain}.csv.gz"


def write_fig3(
    folder: str | os.PathLike,
    method: str,
    latents: np.ndarray,
    deciles: np.ndarray,
    normal: np.ndarray,
    domain: str,
    seed: int = 0,
    *,
    photo_ids: np.ndarray | None = None,
    synthetic: bool = False,
    caption: str | None = None,
) -> list[Path]:
    """Write `fig3_{method}_{domain}.png` and the coordinates it plots, `fig3_{method}_{domain}.csv.gz`, atomically.

    Args:
        latents: (n, d) the latents the boundary was fitted on (w, one per photo).
        deciles: (n,) each photo's decile of `domain`, 1 (most deprived) … 10.
        normal: (d,) the boundary's normal, from deprived to privileged (any length).
        photo_ids: (n,) names for the CSV's rows (default: positions).
        synthetic: adds the footer "synthetic city"; `caption` replaces that footer with its own.
    Returns: [png, csv] paths.
    """
    folder = Path(folder)
    points = fig3_points(latents, deciles, normal, photo_ids=photo_ids, seed=seed)
    figure = fig3_figure(points, fig3_title(method, domain, len(latents)), caption or ("synthetic city" if synthetic else None))
    png, csv = fig3_paths(folder, method, domain)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_open(png, "wb") as handle:
        save_palette_png(figure, handle)
    # Compressed, with no timestamp inside: thousands of points per figure, and the same bytes on a rerun.
    with atomic_open(csv, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as handle:
        handle.write(points.to_csv(index=False, float_format="%.5g").encode("utf-8"))
    return [png, csv]


# --- publication figures ---------------------------------------------------------------------------

PUBLICATION_FORMATS = {"pdf": "application/pdf", "svg": "image/svg+xml", "png": "image/png"}
PUBLICATION_DPI = 300


def walk_matrix_figure(
    tiles: np.ndarray, row_labels: list[str], steps: list[float], title: str, footer: str | None = None
) -> Figure:
    """A walk matrix for print: tiles (rows, steps, H, W, 3) uint8 with labelled axes, each tile drawn pixel for pixel."""
    rows, columns = tiles.shape[:2]
    figure = Figure(figsize=(1.1 * columns + 2.2, 1.1 * rows + 1.0), layout="constrained")
    FigureCanvasAgg(figure)
    axes = np.atleast_2d(figure.subplots(rows, columns, squeeze=False))
    for r in range(rows):
        for c in range(columns):
            ax = axes[r, c]
            ax.imshow(tiles[r, c], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == rows - 1:
                ax.set_xlabel(f"{steps[c]:+.1f}σ" if steps[c] else "0", fontsize=9)
            if c == 0:
                ax.set_ylabel(row_labels[r], fontsize=8, rotation=0, ha="right", va="center")
    figure.supxlabel("walk step, in σ of the generator's W along the normal (deprived ← → privileged)", fontsize=9)
    figure.suptitle(title, fontsize=11)
    if footer:
        figure.text(0.99, 0.005, footer, ha="right", va="bottom", fontsize=8, color="0.35")
    return figure


def publication_bytes(figure: Figure, fmt: str, description: str = "") -> bytes:
    """The figure as vector PDF or SVG, or a 300-dpi PNG; `description` goes into the file's own metadata."""
    import io

    if fmt not in PUBLICATION_FORMATS:
        raise ValueError(f"a publication figure is one of {', '.join(PUBLICATION_FORMATS)}, got {fmt!r}")
    metadata = {"pdf": {"Subject": description}, "svg": {"Description": description}, "png": {"Description": description}}[fmt]
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, dpi=PUBLICATION_DPI, metadata=metadata if description else None)
    return buffer.getvalue()
