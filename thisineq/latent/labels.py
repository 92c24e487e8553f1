"""Which photos count as deprived and which as privileged: the class definitions a boundary is fitted on.

Two definitions are in use. The paper's: the areas in the bottom and top 20% of a domain's ranks
(rank 1 = most deprived) among the areas photographed. And decile bands: deciles 1–3 against
8–10 (IoD2019 deciles, which are national). Either way, the larger class is then down-sampled at
random so both have as many photos. Every consumer — Table 1, the boundaries, the truth profiles
of the known-answer benchmark — labels photos through `ClassDefinition.labels` and balances them
through `balanced_subset`, so all of them compare the same photos.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from thisineq.errors import ConfigError

DEPRIVED, PRIVILEGED = 0, 1
MIN_PER_CLASS = 10  # fewer labelled photos per class than this give no meaningful boundary
KINDS = ("ranks", "deciles")


@dataclass(frozen=True)
class ClassDefinition:
    """How photos are labelled deprived (0) or privileged (1) for one domain.

    kind "ranks": an area is deprived if its rank is in the lowest `share` of the ranks of the
    areas photographed, privileged if in the highest `share` (needs `{domain}_rank`); kind
    "deciles": deciles within `deprived` and `privileged` (inclusive bands, `{domain}_decile`).
    """

    kind: str = "ranks"
    share: float = 0.2
    deprived: tuple[int, int] = (1, 3)
    privileged: tuple[int, int] = (8, 10)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ConfigError(f"a class definition is one of {', '.join(KINDS)}, got {self.kind!r}")
        if not 0 < self.share <= 0.5:
            raise ConfigError(f"the share of areas in each class must be above 0 and at most 0.5, got {self.share}")
        low, high = sorted([tuple(self.deprived), tuple(self.privileged)])
        if not (1 <= low[0] <= low[1] < high[0] <= high[1] <= 10):
            raise ConfigError(f"decile bands must be separate ranges within 1–10, got {self.deprived} and {self.privileged}")

    @property
    def name(self) -> str:
        """A short name for tables: 'ranks 20%' or 'deciles 1-3 vs 8-10'."""
        if self.kind == "ranks":
            return f"ranks {self.share:.0%}"
        return f"deciles {self.deprived[0]}-{self.deprived[1]} vs {self.privileged[0]}-{self.privileged[1]}"

    def describe(self) -> str:
        """One sentence for records and captions."""
        if self.kind == "ranks":
            return (
                f"areas in the bottom {self.share:.0%} of the domain's ranks (most deprived) vs the top {self.share:.0%}, "
                "among the areas photographed; balanced by class"
            )
        return f"deciles {self.deprived[0]}-{self.deprived[1]} (deprived) vs {self.privileged[0]}-{self.privileged[1]} (privileged), balanced by class"

    def columns(self, domain: str) -> list[str]:
        """The photo-table columns this definition reads."""
        return [f"{domain}_rank", "lsoa_code"] if self.kind == "ranks" else [f"{domain}_decile"]

    def labels(self, photos: pd.DataFrame, domain: str) -> pd.Series:
        """0 (deprived), 1 (privileged) or NA per photo (`photos` has the columns `columns(domain)` names)."""
        missing = [c for c in self.columns(domain) if c not in photos]
        if missing:
            raise ConfigError(f"labelling by {self.name} needs the photo columns {missing}, which this table lacks")
        if self.kind == "deciles":
            return decile_labels(photos[f"{domain}_decile"], deprived=self.deprived, privileged=self.privileged)
        return rank_labels(photos[f"{domain}_rank"], photos["lsoa_code"], self.share)


DECILE_BANDS = ClassDefinition("deciles")
PAPER = ClassDefinition("ranks", share=0.2)  # the authors' top and bottom 20% of ranks
CLASS_DEFINITIONS = {"ranks": PAPER, "deciles": DECILE_BANDS}  # by the pipeline's setting `boundary_classes`


def definition_named(name: str) -> ClassDefinition | None:
    """The class definition with this table name ('ranks 20%', 'deciles 1-3 vs 8-10'), as records store it."""
    return next((d for d in CLASS_DEFINITIONS.values() if d.name == name), None)


def decile_labels(deciles: pd.Series, *, deprived=(1, 3), privileged=(8, 10)) -> pd.Series:
    """0 for deciles in `deprived`, 1 for `privileged`, NA for the rest (inclusive ranges)."""
    labels = pd.Series(pd.NA, index=deciles.index, dtype="Int8")
    labels[deciles.between(*deprived)] = DEPRIVED
    labels[deciles.between(*privileged)] = PRIVILEGED
    return labels


def rank_labels(ranks: pd.Series, areas: pd.Series, share: float) -> pd.Series:
    """0 for photos whose area is in the lowest `share` of the areas' ranks (1 = most deprived), 1 for the highest.

    Each area counts once, however many photos it has, so a much-photographed street does not
    move the cut.
    """
    by_area = pd.Series(ranks.to_numpy(), index=areas.to_numpy()).groupby(level=0).first().dropna()
    position = by_area.rank(method="first") / len(by_area)  # (0, 1]: share of areas at or below
    area_label = pd.Series(pd.NA, index=by_area.index, dtype="Int8")
    area_label[position <= share] = DEPRIVED
    area_label[position > 1 - share] = PRIVILEGED
    return pd.Series(area_label.reindex(areas.to_numpy()).to_numpy(), index=ranks.index, dtype="Int8")


def shortfall(labels: pd.Series) -> str | None:
    """Why labels (0 deprived, 1 privileged, NA) are too few for a boundary, in words; None when they suffice."""
    counts = labels.dropna().astype(int).value_counts()
    deprived, privileged = int(counts.get(0, 0)), int(counts.get(1, 0))
    if min(deprived, privileged) >= MIN_PER_CLASS:
        return None
    return (
        f"only {deprived} deprived and {privileged} privileged photos among the {len(labels)} with latents; "
        f"a boundary needs at least {MIN_PER_CLASS} of each"
    )


def why_no_boundary(photos: pd.DataFrame, domain: str, definition: ClassDefinition) -> str | None:
    """Why the photos one method inverted give no boundary for `domain` (None if they would give one)."""
    return shortfall(definition.labels(photos.reset_index(drop=True), domain))


def balanced_subset(labels: pd.Series, seed: int = 0) -> pd.Index:
    """Index of a class-balanced subset: the larger class down-sampled at random (deterministic)."""
    labels = labels.dropna()
    counts = labels.value_counts()
    if len(counts) < 2:
        raise ValueError(f"need photos of both classes, got only {dict(counts)}")
    n = counts.min()
    rng = np.random.default_rng(seed)
    keep = [rng.choice(labels.index[labels == c].to_numpy(), n, replace=False) for c in (DEPRIVED, PRIVILEGED)]
    return pd.Index(np.sort(np.concatenate(keep)))


@dataclass(frozen=True)
class LabelledSet:
    """The photos one domain's boundary is fitted on: deprived and privileged ones, as many of each."""

    X: np.ndarray  # (n, d) latents
    y: np.ndarray  # (n,) 0 deprived, 1 privileged
    groups: np.ndarray  # (n,) LSOA codes: cross-validation keeps each area's photos on one side
    too_few: str | None = None  # why no boundary can be fitted; None when one can
    rows: np.ndarray | None = None  # (n,) positions of these photos in the table they were chosen from


def labelled_subset(
    latents: np.ndarray, photos: pd.DataFrame, domain: str, seed: int = 0, definition: ClassDefinition = DECILE_BANDS
) -> LabelledSet:
    """The class-balanced labelled photos of `domain`, or why there are too few for a boundary.

    latents (n, d) and `photos` (n rows, with `lsoa_code` and the columns `definition` reads)
    describe the same photos in the same order. With too few photos in a class, `too_few` says so
    and X, y, groups hold what a balanced subset would (nothing when a class is missing).
    """
    if len(latents) != len(photos):
        raise ValueError(f"{len(latents)} latents but {len(photos)} photos")
    labels = definition.labels(photos.reset_index(drop=True), domain)
    counts = labels.value_counts()
    keep = labels.index.get_indexer(balanced_subset(labels, seed)) if len(counts) == 2 else np.zeros(0, int)
    too_few = shortfall(labels)
    groups = photos["lsoa_code"].to_numpy()[keep]
    return LabelledSet(latents[keep], labels.iloc[keep].to_numpy(int), groups, too_few=too_few, rows=keep)
