"""How far an edited latent lies outside what the model has seen, in distances calibrated into three bands.

Edits that combine extremes give images with no support in the data. Two references say what is
supported: the generator's W (what it renders from; a random seed is typical there) and the
inverted photos' codes (the streets the data holds; an encoder's codes sit off W, narrow and
shifted, so a photo's own code is typical only there). Under each reference, two distances:

- `atypicality`: the squared Mahalanobis distance per dimension (typical codes average about 1),
  for ws the mean over layers of each layer's;
- `domains`: the Mahalanobis distance of the code's coordinates along the boundary normals, whose
  correlations are the reference's own (income and health move together among the photos): a walk
  beyond the reference, or a combination of domains it does not show;
- `unrealism`, where a discriminator is kept: its logit of the latent's image, negated (higher: less
  like what it learnt is real), against its logits of the reference's images (W samples' images; the
  photos' codes rendered). It reads the image, so it sees a rendering that breaks down where the
  latent distances see only a code.

Each distance has two thresholds, the `unusual` and `unsupported` quantiles of held-out codes of its
reference (photos not used to fit it; fresh W samples). A latent's level under a reference is the
worse of its two distances; its band is the better of its two references: typical if it looks like
either a generator sample or a photo. False alarms are measured on other held-out codes than those
that set the thresholds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from thisineq.config import option
from thisineq.data.domains import domain as domain_info
from thisineq.errors import ConfigError, ThisIneqError
from thisineq.io import atomic_open
from thisineq.latent.normals import Direction
from thisineq.latent.wspace import WSpace
from thisineq.models.stylegan2 import Discriminator, Generator, realism_of_latents
from thisineq.models.stylegan2 import realism as image_realism

BANDS = ("typical", "unusual", "unsupported")
REFERENCES = ("w", "photos")
DISTANCES = ("atypicality", "domains")
REALISM = "unrealism"  # the third distance, where a discriminator is kept: its logit of the image, negated
REFERENCE_LABELS = {"w": "the generator's W", "photos": "the inverted photos' codes"}
RANK = 32  # axes each reference keeps (a set's files stay small; a few hundred codes estimate no more)


@dataclass
class OODConfig:
    """How the bands are calibrated."""

    unusual_quantile: float = option(0.95, "share of held-out codes below each `unusual` threshold")
    unsupported_quantile: float = option(0.998, "share of held-out codes below each `unsupported` threshold")
    w_samples: int = option(10000, "fresh W samples that calibrate (half) and check (half) the generator's reference")
    seed: int = option(0, "seed of the held-out codes' split into calibration and false-alarm halves")

    def __post_init__(self):
        if not 0 < self.unusual_quantile < self.unsupported_quantile < 1:
            raise ConfigError(
                "the quantiles must satisfy 0 < unusual < unsupported < 1, "
                f"got {self.unusual_quantile} and {self.unsupported_quantile}"
            )


@dataclass(frozen=True)
class Gaussian:
    """A Gaussian kept by its `rank` widest axes and one variance for every other direction (probabilistic PCA).

    A few hundred photos' codes cannot estimate 256 × 256 covariances, and a set's files must stay small:
    the axes that matter and one residual variance do both. `atypicality` is the squared Mahalanobis
    distance per dimension under it (its own samples average about 1).
    """

    mean: np.ndarray  # (D,)
    axes: np.ndarray  # (k, D) orthonormal, widest first
    variances: np.ndarray  # (k,) along each axis
    residual: float  # along every direction orthogonal to the axes

    @classmethod
    def fit(cls, x: np.ndarray, rank: int = RANK) -> Gaussian:
        x = np.asarray(x, np.float64)
        if x.ndim != 2 or len(x) < 3:
            raise ConfigError(f"a distribution needs at least 3 codes (n, D), got shape {x.shape}")
        centred = x - x.mean(axis=0)
        _, singular, vt = np.linalg.svd(centred, full_matrices=False)
        return cls._of_spectrum(x.mean(axis=0), singular**2 / (len(x) - 1), vt, rank)

    @classmethod
    def of(cls, mean: np.ndarray, cov: np.ndarray, rank: int = RANK) -> Gaussian:
        values, vectors = np.linalg.eigh(np.asarray(cov, np.float64))
        return cls._of_spectrum(np.asarray(mean, np.float64), values[::-1], vectors[:, ::-1].T, rank)

    @classmethod
    def _of_spectrum(cls, mean: np.ndarray, values: np.ndarray, vectors: np.ndarray, rank: int) -> Gaussian:
        dim = len(mean)
        values = np.clip(values, 0, None)
        k = min(rank, dim, int(np.sum(values > values.max() * 1e-10)))
        rest = dim - k
        residual = float((values.sum() - values[:k].sum()) / rest) if rest else 0.0
        floor = values.max() * 1e-6  # a direction no sample moved along is narrow, not infinitely so
        return cls(mean, vectors[:k], np.maximum(values[:k], floor), max(residual, floor) if rest else 0.0)

    def atypicality(self, x: np.ndarray) -> np.ndarray:
        centred = np.asarray(x, np.float64) - self.mean
        along = centred @ self.axes.T
        distance = np.sum(along**2 / self.variances, axis=1)
        if self.residual:
            distance += (np.sum(centred**2, axis=1) - np.sum(along**2, axis=1)) / self.residual
        return distance / len(self.mean)

    def covariance(self) -> np.ndarray:
        dim = len(self.mean)
        return (self.axes.T * self.variances) @ self.axes + self.residual * (np.eye(dim) - self.axes.T @ self.axes)

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {
            f"{prefix}/mean": self.mean.astype(np.float32),
            f"{prefix}/axes": self.axes.astype(np.float32),
            f"{prefix}/variances": self.variances,
            f"{prefix}/residual": np.array(self.residual),
        }

    @classmethod
    def from_arrays(cls, arrays: dict, prefix: str) -> Gaussian:
        return cls(
            arrays[f"{prefix}/mean"].astype(np.float64),
            arrays[f"{prefix}/axes"].astype(np.float64),
            arrays[f"{prefix}/variances"].astype(np.float64),
            float(arrays[f"{prefix}/residual"]),
        )


@dataclass
class Reference:
    """What is typical under one reference: its codes' Gaussian, their coordinates' along the normals, the thresholds."""

    codes: Gaussian
    coordinates: Gaussian
    thresholds: dict[str, tuple[float, float]] = field(default_factory=dict)  # distance → (unusual, unsupported)

    def distances(self, ws: np.ndarray, normals: np.ndarray) -> pd.DataFrame:
        """ws (n, num_ws, D) → its `atypicality` (mean over layers) and `domains` distance (of the layers' mean code)."""
        n, layers, dim = ws.shape
        coordinates = ws.mean(axis=1) @ normals.T
        return pd.DataFrame(
            {
                "atypicality": self.codes.atypicality(ws.reshape(-1, dim)).reshape(n, layers).mean(axis=1),
                "domains": np.sqrt(self.coordinates.atypicality(coordinates) * len(normals)),
            }
        )

    def levels(self, distances: pd.DataFrame) -> np.ndarray:
        """0 typical, 1 unusual, 2 unsupported: the worse of the distances it has thresholds for and is given."""
        levels = np.zeros(len(distances), int)
        for name, (unusual, unsupported) in self.thresholds.items():
            if name not in distances:  # realism, for a caller without the discriminator
                continue
            values = distances[name].to_numpy()
            levels = np.maximum(levels, (values > unusual).astype(int) + (values > unsupported).astype(int))
        return levels

    def set_thresholds(self, distances: pd.DataFrame, config: OODConfig) -> None:
        self.thresholds = {
            name: (
                float(np.quantile(distances[name], config.unusual_quantile)),
                float(np.quantile(distances[name], config.unsupported_quantile)),
            )
            for name in distances.columns
        }


@dataclass
class SupportModel:
    """One inversion method's references, its boundary normals, and the photos' coordinates and deciles for reasons."""

    domains: list[str]
    normals: np.ndarray  # (k, D) unit walk normals, in `domains` order
    references: dict[str, Reference]  # "w", "photos"
    photo_coordinates: np.ndarray  # (3, k): the photos' mean, spread and (lowest, highest) along each normal…
    photo_range: np.ndarray  # (2, k): …lowest and highest
    decile_fit: np.ndarray  # (k, 2) intercept and slope of each domain's decile on the photos' coordinate
    area_deciles: np.ndarray  # (areas, k) each LSOA's deciles of the domains, for the joint check

    # --- scoring --------------------------------------------------------------------------------

    @property
    def reads_realism(self) -> bool:
        """Whether its bands were calibrated with a discriminator's realism (then `scores` wants each image's logit)."""
        return any(REALISM in reference.thresholds for reference in self.references.values())

    def distances(self, reference: str, ws: np.ndarray, realism: np.ndarray | None = None) -> pd.DataFrame:
        """Latents ws (n, num_ws, D)'s distances under one reference; with `realism` (n,), the discriminator's logits of
        their images, the `unrealism` distance too."""
        distances = self.references[reference].distances(ws, self.normals)
        if realism is not None:
            realism = np.asarray(realism, np.float64).reshape(-1)
            if len(realism) != len(ws):
                raise ConfigError(f"one realism logit per latent is needed: {len(ws)} latents, {len(realism)} logits")
            distances[REALISM] = -realism
        return distances

    def scores(self, ws: np.ndarray, realism: np.ndarray | None = None) -> pd.DataFrame:
        """Per latent ws (n, num_ws, D) or w (n, D): each reference's distances, its level, the band, and the coordinates
        along each domain's normal in the photos' spreads (`z_{domain}`).

        `realism` (n,): the kept discriminator's logit of each latent's image (`thisineq.models.stylegan2.realism`);
        without it, a model calibrated with one bands the latents by their codes alone.
        """
        ws = np.asarray(ws, np.float64)
        if ws.ndim == 2:
            ws = ws[:, None]
        dim = self.normals.shape[1]
        if ws.ndim != 3 or ws.shape[-1] != dim:
            raise ConfigError(f"latents must be (n, num_ws, {dim}) or (n, {dim}), got shape {ws.shape}")
        table = pd.DataFrame(index=range(len(ws)))
        levels = []
        for name, reference in self.references.items():
            distances = self.distances(name, ws, realism)
            for column in distances.columns:
                table[f"{name}_{column}"] = distances[column].to_numpy()
            levels.append(reference.levels(distances))
            table[f"{name}_level"] = levels[-1]
        table["band"] = np.array(BANDS)[np.min(levels, axis=0)]
        mean, spread = self.photo_coordinates
        z = (ws.mean(axis=1) @ self.normals.T - mean) / spread
        for i, key in enumerate(self.domains):
            table[f"z_{key}"] = z[:, i]
        return table

    def implied_deciles(self, scores: pd.DataFrame) -> pd.DataFrame:
        """The decile each domain's coordinate would mean among the photos (a linear fit, rounded and clipped to 1–10)."""
        mean, spread = self.photo_coordinates
        coordinates = scores[[f"z_{k}" for k in self.domains]].to_numpy() * spread + mean
        deciles = self.decile_fit[:, 0] + self.decile_fit[:, 1] * coordinates
        return pd.DataFrame(np.clip(np.rint(deciles), 1, 10).astype(int), columns=self.domains, index=scores.index)

    def areas_combining(self, deciles: dict[str, int], within: int = 1) -> int:
        """How many LSOAs of the data have every given domain's decile within `within` of the given one."""
        columns = [self.domains.index(k) for k in deciles]
        wanted = np.array(list(deciles.values()))
        return int(np.sum(np.all(np.abs(self.area_deciles[:, columns] - wanted) <= within, axis=1)))

    def reasons(self, scores: pd.DataFrame) -> pd.Series:
        """One line per latent saying why it is not typical ('' where it is)."""
        implied = self.implied_deciles(scores)
        return pd.Series(
            [self._reason(scores.loc[i], implied.loc[i]) if scores.at[i, "band"] != "typical" else "" for i in scores.index],
            index=scores.index,
            name="reason",
        )

    def _reason(self, row: pd.Series, implied: pd.Series) -> str:
        """Why: under the reference the latent is closest to (photos first on a tie), the distance that set its level."""
        reference = min(reversed(list(self.references)), key=lambda r: row[f"{r}_level"])
        thresholds = self.references[reference].thresholds
        level = row[f"{reference}_level"]
        over = [  # the distances that set its level (an unsupported image is explained by what made it so)
            d
            for d, limits in thresholds.items()
            if f"{reference}_{d}" in row and sum(row[f"{reference}_{d}"] > limit for limit in limits) == level
        ]
        z = {k: float(row[f"z_{k}"]) for k in self.domains}
        if "domains" in over:
            mean, spread = self.photo_coordinates
            low, high = self.photo_range
            beyond = [k for i, k in enumerate(self.domains) if not low[i] <= z[k] * spread[i] + mean[i] <= high[i]]
            if beyond:
                k = max(beyond, key=lambda key: abs(z[key]))
                side = "more privileged" if z[k] > 0 else "more deprived"
                return f"{_label(k)} {z[k]:+.1f} sd of the photos: {side} than any photo in the data"
            if len(self.domains) > 1:
                first, second = self._least_supported_pair(row)
                pair = {first: int(implied[first]), second: int(implied[second])}
                return (
                    f"{_label(first)} {z[first]:+.1f} sd with {_label(second)} {z[second]:+.1f} sd of the photos: outside the "
                    f"photos' joint spread (areas with {_label(first)} decile ≈ {pair[first]} and {_label(second)} decile ≈ "
                    f"{pair[second]}: {self.areas_combining(pair)} of {len(self.area_deciles)})"
                )
        if REALISM in over:
            return (
                f"the discriminator finds the image less real than {REFERENCE_LABELS[reference]}' images: logit "
                f"{-row[f'{reference}_{REALISM}']:.2f}, where they score {-thresholds[REALISM][0]:.2f} or more"
            )
        unusual = thresholds["atypicality"][0]
        return (
            f"far even from {REFERENCE_LABELS[reference]}, the closer reference: atypicality "
            f"{row[f'{reference}_atypicality']:.2f} (typical up to {unusual:.2f})"
        )

    def _least_supported_pair(self, row: pd.Series) -> tuple[str, str]:
        """The two domains whose coordinates together lie furthest out among the photos' (their 2-D Mahalanobis distance)."""
        mean, spread = self.photo_coordinates
        offset = np.array([row[f"z_{k}"] for k in self.domains]) * spread
        cov = self.references["photos"].coordinates.covariance()
        pairs = [(i, j) for i in range(len(self.domains)) for j in range(i + 1, len(self.domains))]
        distance = [offset[[i, j]] @ np.linalg.pinv(cov[np.ix_([i, j], [i, j])]) @ offset[[i, j]] for i, j in pairs]
        i, j = pairs[int(np.argmax(distance))]
        return self.domains[i], self.domains[j]

    # --- files ----------------------------------------------------------------------------------

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {
            "domains": np.array(self.domains),
            "normals": self.normals,
            "photo_coordinates": self.photo_coordinates,
            "photo_range": self.photo_range,
            "decile_fit": self.decile_fit,
            "area_deciles": self.area_deciles,
        }
        for name, reference in self.references.items():
            arrays |= reference.codes.to_arrays(f"{name}/codes") | reference.coordinates.to_arrays(f"{name}/coordinates")
            arrays |= {f"{name}/thresholds/{d}": np.array(t) for d, t in reference.thresholds.items()}
        return arrays

    def save(self, path: str | os.PathLike) -> None:
        with atomic_open(path, "wb") as handle:
            np.savez(handle, **self.to_arrays())

    @classmethod
    def load(cls, path: str | os.PathLike) -> SupportModel:
        """A saved model (plain arrays, read without pickle); a file that is not one is named."""
        try:
            with np.load(path, allow_pickle=False) as archive:
                a = {key: archive[key] for key in archive.files}
            references = {
                name: Reference(
                    Gaussian.from_arrays(a, f"{name}/codes"),
                    Gaussian.from_arrays(a, f"{name}/coordinates"),
                    {
                        d: tuple(float(v) for v in a[f"{name}/thresholds/{d}"])
                        for d in (*DISTANCES, REALISM)
                        if f"{name}/thresholds/{d}" in a
                    },
                )
                for name in REFERENCES
            }
            return cls(
                domains=[str(d) for d in a["domains"]],
                normals=a["normals"],
                references=references,
                photo_coordinates=a["photo_coordinates"],
                photo_range=a["photo_range"],
                decile_fit=a["decile_fit"],
                area_deciles=a["area_deciles"],
            )
        except (KeyError, ValueError, OSError) as error:
            raise ThisIneqError(f"{path} is not a support model written by thisineq: {error}") from None


@dataclass(frozen=True)
class Support:
    """A method's bands, with the set's kept discriminator that reads the latents' images where the bands were
    calibrated with one: the pages and the exhibition site score edits through this one owner."""

    model: SupportModel
    discriminator: Discriminator | None = None

    @property
    def reads_images(self) -> bool:
        return self.discriminator is not None and self.model.reads_realism

    def scores(self, ws: np.ndarray, generator: Generator | None = None, images: torch.Tensor | None = None) -> pd.DataFrame:
        """`SupportModel.scores` of latents ws (n, num_ws, D), their images read where the bands read images: `images`
        (n, 3, size, size) in [-1, 1] if already rendered (a page showing them renders once), else the generator's."""
        realism = None
        if self.reads_images:
            if images is not None:
                realism = image_realism(self.discriminator, images)
            elif generator is not None:
                realism = realism_of_latents(generator, self.discriminator, ws)
            else:
                raise ConfigError("these bands read each latent's image: pass the images or the generator that renders them")
        return self.model.scores(ws, realism)

    def bands(
        self, ws: np.ndarray, generator: Generator | None = None, images: torch.Tensor | None = None
    ) -> tuple[list[str], list[str]]:
        """Each latent's band and the reason where it is not typical."""
        scores = self.scores(ws, generator, images)
        return list(scores["band"]), list(self.model.reasons(scores))


def fit_support(
    wspace: WSpace,
    codes: np.ndarray,
    deciles: pd.DataFrame,
    normals: dict[str, np.ndarray],
    area_deciles: pd.DataFrame,
) -> SupportModel:
    """A support model (thresholds not yet set) from the photos' codes (n, D) and their deciles (n rows, one column per domain).

    normals: each domain's walk normal (D,); area_deciles: one row per LSOA, a column per domain.
    """
    codes = np.asarray(codes, np.float64)
    keys = [k for k in normals if k in deciles and k in area_deciles]
    if not keys:
        raise ConfigError("no domain has both a boundary and deciles for the photos")
    matrix = np.stack([np.asarray(normals[k], np.float64) / np.linalg.norm(normals[k]) for k in keys])
    coordinates = codes @ matrix.T
    fits = np.array([np.polyfit(coordinates[:, i], deciles[k].to_numpy(float), 1)[::-1] for i, k in enumerate(keys)])
    w_reference = Reference(
        Gaussian.of(wspace.mean, wspace.cov), Gaussian.of(wspace.mean @ matrix.T, matrix @ wspace.cov @ matrix.T)
    )
    return SupportModel(
        domains=keys,
        normals=matrix,
        references={"w": w_reference, "photos": Reference(Gaussian.fit(codes), Gaussian.fit(coordinates))},
        photo_coordinates=np.stack([coordinates.mean(axis=0), coordinates.std(axis=0) + 1e-12]),
        photo_range=np.stack([coordinates.min(axis=0), coordinates.max(axis=0)]),
        decile_fit=fits,
        area_deciles=area_deciles[keys].to_numpy(int),
    )


def calibrate(
    model: SupportModel,
    held_out_ws: np.ndarray,
    w_samples: np.ndarray,
    config: OODConfig,
    realism: dict[str, np.ndarray] | None = None,
) -> dict:
    """Set each reference's thresholds on half of its held-out codes (photos not fitted on; fresh W samples as ws or w);
    the other halves measure the false alarms of the bands. Returns the record.

    `realism`: where a discriminator is kept, its logits of the held-out codes' images, {"photos": (n,), "w": (m,)} in
    the codes' order; the `unrealism` distance then gets thresholds too.
    """
    held_out = {"photos": np.asarray(held_out_ws, np.float64), "w": np.asarray(w_samples, np.float64)}
    rng = np.random.default_rng(config.seed)
    checks = {}
    for name, codes in held_out.items():
        if len(codes) < 4:
            raise ConfigError(
                f"calibrating the bands needs at least 4 held-out codes of {REFERENCE_LABELS[name]}, got {len(codes)}"
            )
        codes = codes if codes.ndim == 3 else codes[:, None]
        logits = None if realism is None else np.asarray(realism[name], np.float64)
        order = rng.permutation(len(codes))
        first, second = order[: len(order) // 2], order[len(order) // 2 :]
        checks[name] = (codes[second], None if logits is None else logits[second])
        model.references[name].set_thresholds(
            model.distances(name, codes[first], None if logits is None else logits[first]), config
        )
    record = {
        "thresholds": {
            name: {d: {"unusual": u, "unsupported": v} for d, (u, v) in reference.thresholds.items()}
            for name, reference in model.references.items()
        },
        "quantiles": {"unusual": config.unusual_quantile, "unsupported": config.unsupported_quantile},
        "realism": realism is not None,
        "false_alarms": {},
    }
    for name, (codes, logits) in checks.items():
        bands = model.scores(codes, logits)["band"]
        record["false_alarms"][name] = {
            "codes": len(codes),
            "unusual_or_worse": float((bands != "typical").mean()),
            "unsupported": float((bands == "unsupported").mean()),
        }
    return record


def moved(ws: np.ndarray, moves: list[tuple[Direction, float]]) -> np.ndarray:
    """Latents ws (n, num_ws, D) after the moves Σ α·σ·n, as `thisineq.latent.walk.edit` makes them (every layer, or per layer)."""
    ws = np.array(ws, np.float64)
    for direction, alpha in moves:
        step = alpha * direction.sigma * np.asarray(direction.normal, np.float64)
        ws += step.reshape(-1, ws.shape[-1]) if step.size != ws.shape[-1] else step
    return ws


def realised(ws: np.ndarray, moves: list[tuple[Direction, float]]) -> np.ndarray:
    """Latents ws (n, num_ws, D) moved so that each direction's coordinate changes by exactly its α·σ.

    Summing the moves (`moved`) does not do that when normals are correlated: pushing income up 3σ and
    education down 3σ along normals at cosine 0.86 moves each coordinate by only 0.4σ, since the two pushes
    mostly cancel. The move here is the shortest one in the normals' span that reaches both targets:
    Nᵀ(NNᵀ)⁻¹t, for unit normals N and targets t.
    """
    normals = np.stack([np.asarray(d.normal, np.float64) / np.linalg.norm(d.normal) for d, _ in moves])
    if normals.shape[1] != ws.shape[-1]:
        raise ConfigError(f"realised moves need one normal of {ws.shape[-1]} dimensions per direction, got {normals.shape[1]}")
    targets = np.array([alpha * d.sigma * np.linalg.norm(d.normal) for d, alpha in moves])
    step = normals.T @ np.linalg.solve(normals @ normals.T, targets)
    return np.array(ws, np.float64) + step


def unsupported_edits(
    ws: np.ndarray, directions: dict[str, Direction], *, far: float = 6.0, opposed: float = 3.0
) -> dict[str, np.ndarray]:
    """Edits known to leave the data: every code walked ±`far`σ along each domain, and each pair of domains pushed
    `opposed`σ in opposite directions as the boundaries read them (privileged in one, deprived in the other: each
    coordinate moved by its full push, `realised`). Name → latents (n, num_ws, D)."""
    edits = {}
    for key, direction in directions.items():
        for sign in (1, -1):
            edits[f"{key} {sign * far:+.0f}σ"] = moved(ws, [(direction, sign * far)])
    keys = list(directions)
    for i, first in enumerate(keys):
        for second in keys[i + 1 :]:
            for sign in (1, -1):
                edits[f"{first} {sign * opposed:+.0f}σ, {second} {-sign * opposed:+.0f}σ"] = realised(
                    ws, [(directions[first], sign * opposed), (directions[second], -sign * opposed)]
                )
    return edits


def detection_rates(
    model: SupportModel, edits: dict[str, np.ndarray], realism: dict[str, np.ndarray] | None = None
) -> pd.DataFrame:
    """Per kind of known-unsupported edit: the share of latents flagged unsupported, and unusual or worse (with
    `realism`, each edit's images' logits by name, as the kept discriminator sees them)."""
    rows = []
    for name, ws in edits.items():
        bands = model.scores(ws, None if realism is None else realism[name])["band"]
        rows.append(
            {
                "edit": name,
                "latents": len(ws),
                "unsupported": float((bands == "unsupported").mean()),
                "unusual_or_worse": float((bands != "typical").mean()),
            }
        )
    return pd.DataFrame(rows)


def _label(key: str) -> str:
    try:
        return domain_info(key).label.lower()
    except ConfigError:
        return key
