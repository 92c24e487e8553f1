"""Do an image's visual factors, as the oracle reads them, show a combination the photos never do?

The support bands (`thisineq.latent.ood`) judge latents: how far a code lies from the codes the
model was fitted on. The synthetic city can check the images instead. The oracle reads each
image's visual factors; a reading is *beyond the photos* when its distance to its k-th nearest
photo reading (factors standardised by the photos') exceeds the `quantile` of held-out photos'
own distances. A distance to neighbours, not to a mean, so a combination of factors the photos
never show is beyond them even where each factor on its own is common.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.neighbors import NearestNeighbors

from thisineq.errors import ConfigError


@dataclass
class FactorSupport:
    """Fitted on the photos' factor readings (n, F) and calibrated on held-out photos' readings."""

    neighbours: int = 5
    quantile: float = 0.998
    mean_: np.ndarray = field(init=False, repr=False)
    scale_: np.ndarray = field(init=False, repr=False)
    threshold_: float = field(init=False, repr=False)
    _index: NearestNeighbors = field(init=False, repr=False)

    def fit(self, photos: np.ndarray, held_out: np.ndarray) -> FactorSupport:
        photos, held_out = np.asarray(photos, np.float64), np.asarray(held_out, np.float64)
        if photos.ndim != 2 or held_out.ndim != 2 or photos.shape[1] != held_out.shape[1]:
            raise ConfigError(f"readings must be (n, factors) alike, got {photos.shape} and {held_out.shape}")
        if len(photos) <= self.neighbours or len(held_out) < 2:
            raise ConfigError(
                f"the factor support needs more than {self.neighbours} photos and 2 held-out ones, "
                f"got {len(photos)} and {len(held_out)}"
            )
        if not 0 < self.quantile < 1:
            raise ConfigError(f"the quantile must lie strictly between 0 and 1, got {self.quantile}")
        self.mean_ = photos.mean(axis=0)
        self.scale_ = photos.std(axis=0) + 1e-12
        self._index = NearestNeighbors(n_neighbors=self.neighbours).fit(self._standardised(photos))
        self.threshold_ = float(np.quantile(self.distance(held_out), self.quantile))
        return self

    def distance(self, readings: np.ndarray) -> np.ndarray:
        """Each reading's distance to its k-th nearest photo, in the photos' standard deviations."""
        return self._index.kneighbors(self._standardised(readings))[0][:, -1]

    def beyond(self, readings: np.ndarray) -> np.ndarray:
        """Whether each reading lies further from the photos than the held-out photos' `quantile` does."""
        return self.distance(readings) > self.threshold_

    def _standardised(self, readings: np.ndarray) -> np.ndarray:
        return (np.asarray(readings, np.float64) - self.mean_) / self.scale_
