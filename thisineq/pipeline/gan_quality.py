"""A generator's quality, measured where no discriminator was trained to please it, against a set of real photos.

- VGG16 space (`metrics.quality`): FD and KD with the real-vs-real floor, precision, recall, diversity;
- EfficientNet-Lite0 space, the project's FD: the same figures, for continuity with earlier runs (a
  projected discriminator is trained in this space, so it cannot judge such a run);
- the synthetic city's factors read by the oracle (`known_answer.fidelity`), where an oracle exists.

The photos are split once into two disjoint halves of `n` images each: the reference, and the other
half that gives every distance's floor. `n` generated images are compared with the reference.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from thisineq.images import from_uint8, to_uint8_tensor
from thisineq.io import write_json
from thisineq.known_answer.fidelity import factor_fidelity
from thisineq.known_answer.oracle import FactorOracle, load_oracle, predict
from thisineq.metrics.fid import FeatureExtractor
from thisineq.metrics.quality import RealReference, VGGFeatures, features_of
from thisineq.models.stylegan2 import Generator, load_generator, sample_z
from thisineq.pipeline.headline import GAN_TARGETS

QUALITY_SEED = 11  # the z every evaluation generates from: the same samples for every snapshot


@dataclass
class QualityReference:
    """Features of two disjoint halves of the real photos, computed once and reused for every generator."""

    vgg: RealReference  # (n, 1024) features per half
    effnet: RealReference  # (n, 1280) features per half
    factors: np.ndarray | None  # oracle reading of the reference half, (n, len(FACTORS)); None without an oracle


class QualityJudge:
    """Scores generators against one set of real photos (uint8 (N, 3, H, W) or floats in [-1, 1])."""

    def __init__(self, photos: torch.Tensor, *, n: int = 2000, oracle: FactorOracle | None = None, seed: int = 0):
        if len(photos) < 2 * n:
            n = len(photos) // 2
        if n < 10:
            raise ValueError(f"the quality evaluation needs at least 20 photos, got {len(photos)}")
        order = torch.from_numpy(np.random.default_rng(seed).permutation(len(photos)))
        halves = (_as_float(photos[order[:n]]), _as_float(photos[order[n : 2 * n]]))
        self.n, self.oracle = n, oracle
        self.vgg, self.effnet = VGGFeatures(), FeatureExtractor()
        self.reference = QualityReference(
            vgg=RealReference(*(features_of(self.vgg, h) for h in halves), seed=seed),
            effnet=RealReference(*(features_of(self.effnet, h) for h in halves), seed=seed),
            factors=predict(oracle, halves[0]) if oracle is not None else None,
        )

    @classmethod
    def for_dataset(
        cls, dataset: str | os.PathLike, *, n: int = 2000, oracle: FactorOracle | str | os.PathLike | None = None
    ) -> QualityJudge:
        """A judge for a dataset folder's photos (all splits), with an oracle (or the oracle file, where it exists)."""
        from thisineq.data.dataset import load_dataset

        images = torch.from_numpy(np.array(load_dataset(dataset).images())).permute(0, 3, 1, 2)
        if isinstance(oracle, (str, os.PathLike)):
            oracle = load_oracle(oracle)[0] if Path(oracle).is_file() else None
        return cls(images, n=n, oracle=oracle)

    @torch.no_grad()
    def __call__(self, generator: Generator) -> dict:
        """Flat scores (see the module docstring) and the factor details, for `n` samples at ψ = 1."""
        z = sample_z(generator, self.n, seed=QUALITY_SEED)
        # As every viewer sees them: clipped to [-1, 1] and quantised to 8 bits, like the photos.
        images = torch.cat([from_uint8(to_uint8_tensor(generator(chunk).float())) for chunk in z.split(100)])
        scores = {
            **self.reference.vgg.scores(features_of(self.vgg, images), prefix="vgg"),
            **self.reference.effnet.scores(features_of(self.effnet, images), prefix="effnet"),
        }
        scores["vgg_fd_over_floor"] = scores["vgg_fd"] / scores["vgg_fd_floor"]
        if self.oracle is not None:
            fidelity = factor_fidelity(self.reference.factors, predict(self.oracle, images))
            scores |= {
                "factor_wasserstein_max": fidelity["wasserstein_max"],
                **{f"factor_wasserstein_{name}": value for name, value in fidelity["wasserstein"].items()},
                "factor_correlation_gap": fidelity["correlation_gap"],
                "type_share_gap": fidelity["type_share_gap"],
                **{f"type_share_{name}": value for name, value in fidelity["type_shares"]["samples"].items()},
                **{f"photo_type_share_{name}": value for name, value in fidelity["type_shares"]["photos"].items()},
            }
        return scores


def targets_met(scores: dict) -> dict[str, bool | None]:
    """Per GAN target (`headline.GAN_TARGETS`), whether `scores` meets it (None where the score was not measured)."""
    return {name: target.met(scores.get(name)) for name, target in GAN_TARGETS.items()}


def generator_quality(generator_path: str | os.PathLike, judge: QualityJudge) -> dict:
    """`judge`'s scores of a saved generator."""
    return judge(load_generator(generator_path).eval())


def _as_float(images: torch.Tensor) -> torch.Tensor:
    return from_uint8(images) if images.dtype == torch.uint8 else images.float()


def measure_demo_gan(p) -> None:
    """gan/quality.json: the set's generator scored against the training city's photos, with the first oracle."""
    from thisineq.pipeline.known_answer import oracle_path

    oracle = oracle_path(p.paths, p.config.oracle_seeds[0])
    judge = QualityJudge.for_dataset(p.paths.train_dataset, n=p.config.gan_quality_samples, oracle=oracle)
    scores = generator_quality(p.paths.generator, judge)
    write_json(
        p.paths.artifacts.gan_quality,
        {
            "scores": scores,
            "targets_met": targets_met(scores),
            "samples": judge.n,
            "photos": "two disjoint halves of the training city's photos: the reference and the floor's other half",
            "oracle": f"seed {p.config.oracle_seeds[0]}" if judge.oracle is not None else None,
            "what": __doc__.splitlines()[0],
        },
    )
