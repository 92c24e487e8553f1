"""Where a pipeline run reads and writes (its artifact set and work folder), and the photo subsets its steps share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from thisineq.artifacts import ArtifactSet
from thisineq.data.dataset import PHOTOS, load_dataset
from thisineq.errors import ConfigError
from thisineq.invert import methods
from thisineq.pipeline.config import HELD_OUT, PipelineConfig


@dataclass(frozen=True)
class Workspace:
    """The files of one pipeline run: the artifact set (`config.out`) and the uncommitted work folder (`config.work`)."""

    config: PipelineConfig

    @property
    def artifacts(self) -> ArtifactSet:
        return ArtifactSet(Path(self.config.out))

    @property
    def work(self) -> Path:
        return Path(self.config.work)

    @property
    def state(self) -> Path:
        """Each step's fingerprint when it last finished."""
        return self.artifacts.root / "pipeline.json"

    @property
    def train_dataset(self) -> Path:
        """The photos the encoders train on: the synthetic training city, or a lab's own dataset in the set."""
        return self.artifacts.dataset if self.config.bring_your_own else self.work / "city" / "dataset"

    @property
    def demo_dataset(self) -> Path:
        return self.artifacts.dataset

    @property
    def generator(self) -> Path:
        return self.artifacts.generator

    @property
    def gan_run(self) -> Path:
        """The GAN's run folder (its discriminator is read from there)."""
        return Path(self.config.gan_run) if self.config.gan_run else self.run_dir("gan")

    def run_dir(self, name: str) -> Path:
        """A training run's folder: "gan", or an encoder's kind."""
        return self.work / "runs" / name

    def encoder(self, kind: str) -> Path:
        return self.artifacts.encoder(kind)

    def inversion(self, method: str) -> Path:
        return self.artifacts.inversion(method)

    def city_inversion(self, method: str) -> Path:
        """An encoder's inversions of the training city's photos (for its boundaries; not committed)."""
        return self.work / "inversions" / method

    def city_photos(self, method: str) -> int | None:
        """How many training-city photos `method` inverts for its boundaries (None: it is fitted on the demo's)."""
        spec = methods.method(method)
        if not spec.bounded:
            return None
        return self.config.projector_boundary_photos if spec.optimises else self.config.boundary_photos

    def boundary_latents(self) -> dict[str, Path]:
        """Where each method's boundary is fitted: on its inversions of the training city where it has them, else the demo's.

        The paper inverts all its photos for its SVMs; a few hundred demo photos leave a 256-dimensional
        normal mostly noise, so the encoders invert `boundary_photos` of the training city, and the
        projector, at minutes a chunk, `projector_boundary_photos` of them.
        """
        return {m: self.inversion(m) if self.city_photos(m) is None else self.city_inversion(m) for m in methods.BOUNDED}

    @property
    def inverts_city(self) -> bool:
        """Whether any boundary is fitted on the training city's photos (whose labels then count)."""
        return any(self.city_photos(m) is not None for m in methods.BOUNDED)

    # --- the photo subsets several steps share -------------------------------------------------------

    def held_out_ids(self) -> pd.Index:
        """Demo photos no encoder trained on: in the demo's val/test splits, and not in the training city's train split.

        The demo city's split is its own (LSOAs assigned among its 480 photos), so a few of its val/test
        photos sit in the training city's train split; comparing pixels (sha256) leaves those out.
        """
        demo = load_dataset(self.demo_dataset).photos
        candidates = demo[demo["split"].isin(list(HELD_OUT))]
        if (self.train_dataset / "dataset.json").is_file():
            train = load_dataset(self.train_dataset).photos
            seen = set(train.loc[train["split"] == "train", "sha256"])
            candidates = candidates[~candidates["sha256"].isin(seen)]
        return candidates.sort_values("cache_index").index

    def held_out_photos(self) -> np.ndarray:
        """The held-out photos themselves, uint8 (n, size, size, 3) in dataset order."""
        data = load_dataset(self.demo_dataset)
        return np.asarray(data.images())[data.photos.loc[self.held_out_ids(), "cache_index"].to_numpy()]

    def photo_tables(self) -> list[Path]:
        """The photo tables `labelled_photos` reads: their deciles and splits are inputs of every step that labels photos."""
        tables = [self.demo_dataset / PHOTOS]
        return tables + ([self.train_dataset / PHOTOS] if self.inverts_city else [])

    def training_photos(self) -> pd.DataFrame:
        """The training city's photos with their areas' ranks: what the image side learns from."""
        return _with_ranks(load_dataset(self.train_dataset))

    def labelled_photos(self) -> pd.DataFrame:
        """The photos table the boundary sets are labelled from: the demo's, and the training city's where it was inverted.

        The demo city is the training city's first photos (same seed), so the two tables agree on
        shared ids; a mismatch means the work folder holds another city, and is an error.
        """
        photos = _with_ranks(load_dataset(self.demo_dataset))
        if not self.inverts_city:
            return photos
        city = _with_ranks(load_dataset(self.train_dataset))
        shared = photos.index.intersection(city.index)
        if not (photos.loc[shared, "sha256"] == city.loc[shared, "sha256"]).all():
            raise ConfigError(
                f"{self.train_dataset} and {self.demo_dataset} give different photos the same ids: rebuild one of them"
            )
        return pd.concat([city, photos.drop(shared)])


def _with_ranks(data) -> pd.DataFrame:
    """A dataset's photos with their areas' ranks (`{domain}_rank`, from its LSOA table), which the paper's classes use."""
    ranks = data.lsoas.filter(regex="_rank$")
    return data.photos.join(ranks, on="lsoa_code") if len(ranks.columns) else data.photos
