"""The positive control: a city rendered the same way but with independent domains, where a faithful walk leaks nothing.

In the demo city the domains correlate as London's do, so a domain's deprived and privileged
photos differ in the other domains' factors too and the truth itself "leaks" (0.4–0.6). A city
drawn with independent domains (`CityConfig(independent_domains=True)`) has a truth-implied
leakage of about zero, so there "leakage ≤ 0.2" is a test a walk can fail for the right reason.

The control uses the demo's generator and oracles — the renderer is the same, only which factors
go together changes — and the encoders' inversions of the control city's photos: whitened
boundaries are fitted on the photos of its training split and walked from its held-out ones and
from random latents.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from thisineq.known_answer.baselines import walked
from thisineq.latent.boundaries import LatentBoundary
from thisineq.latent.labels import DECILE_BANDS, ClassDefinition, labelled_subset
from thisineq.latent.normals import Direction
from thisineq.latent.wspace import WSpace


def fit_directions(
    latents: np.ndarray,
    photos: pd.DataFrame,
    domains: Iterable[str],
    wspace: WSpace,
    *,
    seed: int = 0,
    definition: ClassDefinition = DECILE_BANDS,
    log: Callable[[str], None] = print,
) -> dict[str, Direction]:
    """Per domain, the walk direction of a whitened-W boundary fitted on latents (n, D) of `photos` (n rows, same order).

    Domains with too few labelled photos are logged and left out.
    """
    directions = {}
    for domain in domains:
        subset = labelled_subset(latents, photos, domain, seed, definition)
        if subset.too_few:
            log(f"  control/{domain}: no boundary, {subset.too_few}")
            continue
        boundary = LatentBoundary(whitening=wspace, random_state=seed).fit(subset.X, subset.y, subset.groups)
        directions[domain] = walked(domain, boundary.walk_direction_, wspace)
    return directions
