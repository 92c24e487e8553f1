"""One command that rebuilds an artifact set from nothing: city → GAN → encoders → inversions → boundaries → known answer.

Every step records a fingerprint of its settings and of the files it read in `pipeline.json`;
a step whose outputs exist with the same fingerprint is skipped, so a rerun after an interruption
(or after changing one step's settings) redoes only what is stale. Long steps resume by themselves.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import types
import typing
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from thisineq.artifacts import ArtifactSet
from thisineq.data.domains import DEFAULT_DOMAINS, DOMAIN_KEYS
from thisineq.invert import methods
from thisineq.io import atomic_open, sha256_file, write_json

HELD_OUT = ("val", "test")  # splits never seen by the encoders
W_SAMPLES = 10000  # samples of the generator's W that measure σ along each normal


@dataclass
class PipelineConfig:
    """Sizes and lengths of every step; `tiny()` makes a run that finishes in minutes."""

    out: str = "artifacts/demo"  # the artifact set
    work: str = "data/pipeline"  # training data and run folders (not committed)
    seed: int = 0
    train_photos: int = 12000  # the GAN's training city
    demo_photos: int = 480  # the committed city: the first photos of the training city
    areas: int = 600
    size: int = 64
    gan_channels: tuple[int, ...] = (256, 256, 128, 64, 32)
    gan_style_dim: int = 256
    gan_steps: int = 100000
    gan_metric_every: int = 1000
    encoder_steps: int = 2000  # e4e; a CPU budget (the references train for 100k+ steps on GPUs)
    restyle_steps: int = 500  # each step runs `restyle_train_iterations` generator passes
    restyle_train_iterations: int = 3
    encoder_lr: float = 3e-4  # 3× the references' rate: a short CPU schedule
    e4e_unlock_every: int = 150  # e4e unlocks one more layer's offset this often (all 9 by step 1,350)
    encoder_widths: tuple[int, ...] = (32, 64, 128, 128)  # with 32-channel heads: ~1.7M weights, 3.4 MB as float16
    encoder_head_width: int = 32
    boundary_photos: int | None = 6000  # training-city photos each encoder inverts for its boundaries; None: the demo's only
    projector_steps: int = 500  # the anchor's 1,000 halved: a CPU budget
    projector_photos: int | None = None  # a documented subset (None: every photo of `projector_splits`)
    projector_splits: tuple[str, ...] | None = HELD_OUT  # held out from encoders: 1,000 steps cost ~10 min per 32 photos
    projector_lpips: str = "alex"  # "vgg" as in StyleGAN2-ADA costs 3.5× more on a CPU
    hybrid_steps: int = 100  # projector refinement of the e4e code (on the projector's photos)
    comparison_samples: int = 16  # GAN samples for latent recovery; as many held-out photos edited
    walk_photos: int = 3  # held-out photos in each method's committed walk matrix
    walk_steps: tuple[float, ...] = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)
    gan_run: str | None = None  # the GAN's run folder, for its discriminator (default: <work>/runs/gan)
    domains: tuple[str, ...] = DEFAULT_DOMAINS
    boundary_bootstrap: int = 1000  # bootstrap draws for the confidence intervals
    boundary_principal_axes: int | None = 8  # also fit each boundary on W's first k principal axes: visible walks (None: not)
    oracle_epochs: int = 8
    known_answer_sources: int = 100

    def __post_init__(self):
        # Impossible settings are named now, not after hours of training.
        unknown = [key for key in self.domains if key not in DOMAIN_KEYS]
        if unknown:
            raise ValueError(f"unknown IoD2019 domains {unknown}; expected some of {', '.join(DOMAIN_KEYS)}")
        counts = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("seed", "gan_metric_every")}
        too_small = [
            f"{name}={value}"
            for name, value in counts.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value <= 0
        ]
        if too_small:
            raise ValueError(f"these settings must be positive: {', '.join(too_small)}")
        if self.gan_metric_every < 0:
            raise ValueError(f"gan_metric_every must be 0 (never) or more steps, got {self.gan_metric_every}")
        if self.demo_photos > self.train_photos:
            raise ValueError(
                f"demo_photos ({self.demo_photos}) cannot exceed train_photos ({self.train_photos}): the demo city is the training city's first photos"
            )

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> PipelineConfig:
        """A config from a JSON object of field values (the rest keep their defaults); bad files are named."""
        path = Path(path)
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError as error:
            raise ValueError(f"{path} is not a UTF-8 text file: {error}") from None
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON: {error}") from None
        if not isinstance(values, dict):
            raise ValueError(f"{path} must hold a JSON object of PipelineConfig fields, not a {type(values).__name__}")
        hints = typing.get_type_hints(cls)
        unknown = sorted(set(values) - set(hints))
        if unknown:
            raise ValueError(f"{path}: unknown PipelineConfig fields {unknown}; known: {sorted(hints)}")
        return cls(**{name: _config_value(path, name, value, hints[name]) for name, value in values.items()})

    @classmethod
    def tiny(cls, out: str, work: str) -> PipelineConfig:
        return cls(
            out=out,
            work=work,
            train_photos=160,
            demo_photos=160,
            areas=40,
            size=32,
            gan_channels=(32, 32, 16, 16),
            gan_style_dim=32,
            gan_steps=6,
            gan_metric_every=0,
            encoder_steps=4,
            restyle_steps=3,
            restyle_train_iterations=2,
            e4e_unlock_every=1,
            encoder_widths=(8, 16, 16, 32),
            encoder_head_width=8,
            boundary_photos=120,
            projector_steps=5,
            projector_photos=8,
            hybrid_steps=3,
            comparison_samples=4,
            boundary_bootstrap=100,
            oracle_epochs=1,
            known_answer_sources=4,
        )


def _config_value(path: Path, name: str, value, hint):
    """A JSON value checked against its field's type hint (lists become tuples; null only where the hint allows None)."""
    kinds = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None:
        if type(None) in kinds:
            return None
        raise ValueError(f"{path}: {name} cannot be null")
    for kind in kinds:
        origin = typing.get_origin(kind) or kind
        if origin is tuple and isinstance(value, list):
            item = typing.get_args(kind)[0] if typing.get_args(kind) else typing.Any
            return tuple(
                value if item is typing.Any else [_config_value(path, f"{name}[{i}]", v, item) for i, v in enumerate(value)]
            )
        if origin is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if origin in (int, str) and type(value) is origin:
            return value
    wanted = " or ".join(
        "a list" if (typing.get_origin(k) or k) is tuple else "null" if k is type(None) else k.__name__ for k in kinds
    )
    raise ValueError(f"{path}: {name} must be {wanted}; got {value!r}")


@dataclass
class Step:
    name: str
    inputs: Callable[[], list[Path]]  # files whose content the step depends on
    outputs: Callable[[], list[Path]]  # files that must exist for the step to count as done
    run: Callable[[], None]
    settings: dict = field(default_factory=dict)


class Pipeline:
    def __init__(self, config: PipelineConfig, *, progress: bool = True, log: Callable[[str], None] = print):
        self.config, self.progress, self.log = config, progress, log
        self.out, self.work = Path(config.out), Path(config.work)
        self.artifacts = ArtifactSet(self.out)
        self.state_path = self.out / "pipeline.json"

    # --- bookkeeping ---------------------------------------------------------------------------

    def _state(self) -> dict:
        return json.loads(self.state_path.read_text(encoding="utf-8")) if self.state_path.is_file() else {}

    def _fingerprint(self, step: Step) -> str:
        digest = hashlib.sha256(json.dumps(step.settings, sort_keys=True, default=str).encode())
        for path in step.inputs():
            digest.update(path.name.encode())
            digest.update(sha256_file(path).encode())
        return digest.hexdigest()

    def run(self, only: list[str] | None = None) -> None:
        """Run every stale step in order (or just the named ones)."""
        names = [step.name for step in self.steps()]
        unknown = [name for name in only or [] if name not in names]
        if unknown:
            raise ValueError(f"no pipeline step named {', '.join(unknown)}; the steps: {', '.join(names)}")
        for step in self.steps():
            if only and step.name not in only:
                continue
            fingerprint = self._fingerprint(step)
            done = self._state().get(step.name) == fingerprint and all(p.exists() for p in step.outputs())
            if done:
                self.log(f"[{step.name}] current, skipped")
                continue
            self.log(f"[{step.name}] running")
            started = time.perf_counter()
            step.run()
            self.log(f"[{step.name}] done in {time.perf_counter() - started:.0f} s")
            state = self._state()
            state[step.name] = self._fingerprint(step)
            write_json(self.state_path, state)

    # --- the steps -------------------------------------------------------------------------------

    def steps(self) -> list[Step]:
        c = self.config
        city_cfg = {"photos": c.train_photos, "areas": c.areas, "size": c.size, "seed": c.seed}
        return [
            Step("city", lambda: [], lambda: [self.train_dataset / "dataset.json"], self._city, city_cfg),
            Step(
                "demo_city",
                lambda: [],
                lambda: [self.demo_dataset / "dataset.json"],
                self._demo_city,
                {**city_cfg, "photos": c.demo_photos},
            ),
            Step(
                "gan",
                lambda: [self.train_dataset / "dataset.json"],
                lambda: [self.generator],
                self._gan,
                {"channels": c.gan_channels, "style_dim": c.gan_style_dim, "steps": c.gan_steps},
            ),
            *[
                Step(
                    f"encoder_{kind}",
                    lambda: [self.generator],
                    lambda kind=kind: [self.encoder(kind)],
                    lambda kind=kind: self._encoder(kind),
                    {
                        "steps": self._encoder_steps(kind),
                        "widths": c.encoder_widths,
                        "head_width": c.encoder_head_width,
                        "lr": c.encoder_lr,
                        "iterations": c.restyle_train_iterations if kind == "restyle" else None,
                        "unlock_every": c.e4e_unlock_every if kind == "e4e" else None,
                    },
                )
                for kind in ("e4e", "restyle")
            ],
            *[
                Step(
                    f"invert_{method}",
                    lambda m=method: self._inversion_inputs(m),
                    lambda m=method: [self.inversion(m) / "inversion.json"],
                    lambda m=method: self._invert(m),
                    {
                        "projector_steps": c.projector_steps,
                        "hybrid_steps": c.hybrid_steps,
                        "projector_photos": c.projector_photos,
                        "projector_splits": c.projector_splits,
                        "projector_lpips": c.projector_lpips,
                    },
                )
                for method in methods.NAMES
            ],
            *[
                Step(
                    f"invert_city_{method}",
                    lambda m=method: [self.generator, self.train_dataset / "dataset.json", self.encoder(m)],
                    lambda m=method: [self.city_inversion(m) / "inversion.json"],
                    lambda m=method: self._invert_city(m),
                    {"photos": c.boundary_photos},
                )
                for method in (methods.ENCODERS if c.boundary_photos else ())
            ],
            Step(
                "boundaries",
                lambda: [self.generator] + [folder / "latents.npz" for folder in self.boundary_latents().values()],
                lambda: [self.artifacts.boundaries / "table1.csv", self.artifacts.normals, self.artifacts.visibility],
                self._boundaries,
                {
                    "domains": c.domains,
                    "bootstrap": c.boundary_bootstrap,
                    "w_samples": W_SAMPLES,
                    "principal_axes": c.boundary_principal_axes,
                },
            ),
            Step(
                "comparison",
                lambda: [self.inversion(m) / "latents.npz" for m in methods.NAMES] + [self.artifacts.normals],
                lambda: [self.artifacts.comparison],
                self._comparison,
                asdict(self._comparison_config()),
            ),
            Step(
                "walks",
                lambda: [self.generator, self.artifacts.normals] + [self.inversion(m) / "latents.npz" for m in methods.BOUNDED],
                lambda: [self.artifacts.walks / "walks.json"],
                self._walks,
                {"photos": c.walk_photos, "steps": c.walk_steps},
            ),
            Step(
                "known_answer",
                lambda: [self.generator, self.artifacts.normals],
                lambda: [self.artifacts.known_answer / "table.csv"],
                self._known_answer,
                {"epochs": c.oracle_epochs, "sources": c.known_answer_sources},
            ),
        ]

    @property
    def train_dataset(self) -> Path:
        return self.work / "city" / "dataset"

    @property
    def demo_dataset(self) -> Path:
        return self.artifacts.dataset

    @property
    def generator(self) -> Path:
        return self.artifacts.generator

    def _encoder_steps(self, kind: str) -> int:
        return self.config.restyle_steps if kind == "restyle" else self.config.encoder_steps

    def encoder(self, kind: str) -> Path:
        return self.artifacts.encoder(kind)

    def inversion(self, method: str) -> Path:
        return self.artifacts.inversion(method)

    def city_inversion(self, method: str) -> Path:
        """An encoder's inversions of the training city's photos (for its boundaries; not committed)."""
        return self.work / "inversions" / method

    def boundary_latents(self) -> dict[str, Path]:
        """Where each method's boundary is fitted: the encoders on their training-city inversions, the projector on the demo's.

        The paper inverts all its photos for its SVMs; a few hundred demo photos leave a 256-dimensional
        normal mostly noise, so the fast encoders invert `boundary_photos` of the training city too.
        """
        city = self.config.boundary_photos is not None
        return {m: self.city_inversion(m) if city and m in methods.ENCODERS else self.inversion(m) for m in methods.BOUNDED}

    def _inversion_inputs(self, method: str) -> list[Path]:
        encoder = methods.method(method).encoder
        return [self.generator, self.demo_dataset / "dataset.json"] + ([self.encoder(encoder)] if encoder else [])

    def _synth(self, n_photos: int, folder: Path) -> None:
        from thisineq.data.synth.build import SynthConfig, build_city_dataset
        from thisineq.data.synth.city import CityConfig

        config = SynthConfig(
            n_photos=n_photos, size=self.config.size, city=CityConfig(n_lsoas=self.config.areas, seed=self.config.seed)
        )
        record = folder / "city.json"
        if record.is_file() and json.loads(record.read_text(encoding="utf-8"))["config"] != json.loads(
            json.dumps(asdict(config))
        ):
            self.log(f"  {folder} holds a city of other settings: rebuilding it")
            shutil.rmtree(folder)
        build_city_dataset(folder, config, progress=self.progress)

    def _city(self) -> None:
        self._synth(self.config.train_photos, self.work / "city")

    def _demo_city(self) -> None:
        self._synth(self.config.demo_photos, self.artifacts.city)

    def _gan(self) -> None:
        from thisineq.models.stylegan2 import StyleGAN2Config
        from thisineq.training.export import export_gan
        from thisineq.training.gan import GANTrainConfig, train_gan

        c = self.config
        resolutions = [2**k for k in range(2, c.size.bit_length())]
        model = StyleGAN2Config(
            size=c.size, style_dim=c.gan_style_dim, n_mlp=4, channels=dict(zip(resolutions, c.gan_channels, strict=True))
        )
        run = self.work / "runs" / "gan"
        train_gan(
            GANTrainConfig(
                dataset=str(self.train_dataset),
                run_dir=str(run),
                model=model,
                steps=c.gan_steps,
                metric_every=c.gan_metric_every,
                seed=c.seed,
            ),
            progress=self.progress,
        )
        export_gan(run, self.generator.parent, rebuild=f"thisineq pipeline (step gan) with {asdict(c)}")

    def _held_out_ids(self) -> pd.Index:
        """Demo photos no encoder trained on: in the demo's val/test splits, and not in the training city's train split.

        The demo city's split is its own (LSOAs assigned among its 480 photos), so a few of its val/test
        photos sit in the training city's train split; comparing pixels (sha256) leaves those out.
        """
        from thisineq.data.dataset import load_dataset

        demo = load_dataset(self.demo_dataset).photos
        candidates = demo[demo["split"].isin(list(HELD_OUT))]
        if (self.train_dataset / "dataset.json").is_file():
            train = load_dataset(self.train_dataset).photos
            seen = set(train.loc[train["split"] == "train", "sha256"])
            candidates = candidates[~candidates["sha256"].isin(seen)]
        return candidates.sort_values("cache_index").index

    def _held_out_photos(self) -> np.ndarray:
        """The held-out photos themselves (uint8, dataset order)."""
        from thisineq.data.dataset import load_dataset

        data = load_dataset(self.demo_dataset)
        return np.asarray(data.images())[data.photos.loc[self._held_out_ids(), "cache_index"].to_numpy()]

    def _encoder(self, kind: str) -> None:
        from thisineq.training.encoders import EncoderTrainConfig, train_encoder
        from thisineq.training.export import export_encoder

        c = self.config
        run = self.work / "runs" / kind
        config = EncoderTrainConfig(
            kind=kind,
            generator=str(self.generator),
            dataset=str(self.train_dataset),
            run_dir=str(run),
            steps=self._encoder_steps(kind),
            encoder_widths=c.encoder_widths,
            head_width=c.encoder_head_width,
            restyle_iterations=c.restyle_train_iterations,
            lr=c.encoder_lr,
            unlock_every=c.e4e_unlock_every,
            seed=c.seed,
        )
        train_encoder(config, progress=self.progress)
        export_encoder(
            run, self.encoder(kind).parent, self._held_out_photos(), rebuild=f"thisineq pipeline --only encoder_{kind}"
        )

    def _invert_city(self, method: str) -> None:
        self._invert(method, self.train_dataset, self.city_inversion(method), limit=self.config.boundary_photos)

    def _invert(self, method: str, dataset: Path | None = None, out: Path | None = None, limit: int | None = None) -> None:
        from thisineq.invert.api import InversionModels
        from thisineq.invert.batch import BatchInversionConfig, invert_dataset

        c = self.config
        encoder, optimises = methods.method(method).encoder, methods.method(method).optimises
        models = InversionModels.load(
            self.generator,
            e4e=self.encoder("e4e") if encoder == "e4e" else None,
            restyle=self.encoder("restyle") if encoder == "restyle" else None,
            lpips_net=c.projector_lpips if optimises else None,
        )
        subset = {"limit": c.projector_photos, "split": c.projector_splits} if optimises else {"limit": limit}
        config = BatchInversionConfig(method=method, projector_steps=c.projector_steps, hybrid_steps=c.hybrid_steps, **subset)
        sources = {"generator": self.generator, **({encoder: self.encoder(encoder)} if encoder else {})}
        invert_dataset(
            dataset or self.demo_dataset, models, out or self.inversion(method), config, sources=sources, progress=self.progress
        )

    def labelled_photos(self) -> pd.DataFrame:
        """The photos table the boundary sets are labelled from: the demo's, and the training city's where it was inverted.

        The demo city is the training city's first photos (same seed), so the two tables agree on
        shared ids; a mismatch means the work folder holds another city, and is an error.
        """
        from thisineq.data.dataset import load_dataset

        photos = load_dataset(self.demo_dataset).photos
        if self.config.boundary_photos is None:
            return photos
        city = load_dataset(self.train_dataset).photos
        shared = photos.index.intersection(city.index)
        if not (photos.loc[shared, "sha256"] == city.loc[shared, "sha256"]).all():
            raise ValueError(
                f"{self.train_dataset} and {self.demo_dataset} give different photos the same ids: rebuild one of them"
            )
        return pd.concat([city, photos.drop(shared)])

    def _boundaries(self) -> None:
        from thisineq.invert.batch import load_inversions
        from thisineq.latent.boundaries import (
            MIN_PER_CLASS,
            LatentBoundary,
            balanced_subset,
            boundary_table,
            cosine_matrix,
            decile_labels,
            evaluate,
            principal_axes,
        )
        from thisineq.latent.normals import PRINCIPAL, BoundarySet, Direction
        from thisineq.latent.walk import image_change
        from thisineq.models.stylegan2 import load_generator, sample_w

        c = self.config
        photos = self.labelled_photos()
        folder = self.artifacts.boundaries
        folder.mkdir(parents=True, exist_ok=True)
        sources = self.boundary_latents()
        sets = {m: load_inversions(path) for m, path in sources.items()}
        table = boundary_table(
            {m: (s.photo_id, s.w) for m, s in sets.items()}, photos, list(c.domains), n_boot=c.boundary_bootstrap
        )
        with atomic_open(folder / "table1.csv", "w", encoding="utf-8", newline="") as handle:
            table.to_csv(handle, index=False, float_format="%.4f")
        write_json(folder / "table1.json", table.to_dict(orient="records"))
        # σ is measured in the generator's W, not among each method's latents: the projector's codes spread 4× wider
        # than W and the encoders' 2× narrower, so "+1σ" would otherwise be a different move for every method.
        generator = load_generator(self.generator).float().requires_grad_(False)
        w = sample_w(generator, W_SAMPLES, seed=c.seed).double().numpy()
        n_axes = min(c.boundary_principal_axes, w.shape[1]) if c.boundary_principal_axes else None
        axes = principal_axes(w, n_axes) if n_axes else None
        grouped = table[table["split"] == "by LSOA"].set_index(["method", "domain"])
        normals, fitted_on, visibility = BoundarySet(), {}, []
        for method, inv in sets.items():
            frame = photos.loc[inv.photo_id]
            fitted_on[method] = {"latents": str(sources[method]), "photos": int(len(inv.photo_id)), "domains": {}}
            for domain in c.domains:
                labels = decile_labels(frame[f"{domain}_decile"])
                if labels.value_counts().min() < MIN_PER_CLASS or labels.nunique() < 2:
                    self.log(f"  {method}/{domain}: too few labelled photos for a boundary; skipped")
                    continue
                keep = labels.index.get_indexer(balanced_subset(labels, c.seed))
                X, y, groups = inv.w[keep], labels.iloc[keep].to_numpy(int), frame["lsoa_code"].to_numpy()[keep]
                boundary = LatentBoundary().fit(X, y, groups)
                full = Direction.from_latents(domain, boundary.normal_, w)
                normals.add(method, full)
                fitted_on[method]["domains"][domain] = {
                    "labelled": int(len(keep)),
                    "C": boundary.C_,
                    "sigma_w": full.sigma,
                    "sigma_latents": float(np.std(inv.w @ boundary.normal_)),
                }
                scores = grouped.loc[(method, domain)]
                visibility.append(
                    _visibility_row(method, domain, None, len(y), scores, full.sigma, image_change(generator, full))
                )
                if axes is None:
                    continue
                # A coarser boundary in the directions the generator renders most: its walks are visible.
                principal = LatentBoundary(axes=axes, axis_counts=(n_axes,)).fit(X, y, groups)
                coarse = Direction.from_latents(domain, principal.normal_, w)
                normals.add(method, coarse, principal=True)
                evaluation = evaluate(
                    X, y, groups, grouped=True, n_boot=c.boundary_bootstrap, seed=c.seed, axes=axes, axis_counts=(n_axes,)
                )
                visibility.append(
                    _visibility_row(
                        method, domain, n_axes, len(y), evaluation.row(), coarse.sigma, image_change(generator, coarse)
                    )
                )
            fitted = {d: direction.normal for d, direction in normals.directions(method, c.domains).items()}
            if fitted:
                with atomic_open(folder / f"cosines_{method}.csv", "w", encoding="utf-8", newline="") as handle:
                    cosine_matrix(fitted).to_csv(handle, float_format="%.4f")
        normals.save(self.artifacts.normals)
        with atomic_open(self.artifacts.visibility, "w", encoding="utf-8", newline="") as handle:
            pd.DataFrame(visibility, columns=VISIBILITY_COLUMNS).astype({"axes": "Int64", "n": int}).to_csv(
                handle, index=False, float_format="%.4f"
            )
        write_json(
            self.artifacts.boundaries_record,
            {
                "sigma": f"standard deviation of the generator's W ({W_SAMPLES} mapped N(0, I) samples) along each normal",
                "labels": "deciles 1-3 (deprived) vs 8-10 (privileged), balanced by class",
                "fitted_on": fitted_on,
                "principal": None
                if axes is None
                else f"each boundary also fitted on the first {n_axes} principal axes of W (normals `{PRINCIPAL}method/domain`)",
                "visibility": "change: mean absolute pixel change, as a share of the range, of 16 random images moved +3σ",
            },
        )

    def _comparison_config(self):
        from thisineq.invert.compare import ComparisonConfig

        c = self.config
        return ComparisonConfig(
            recovery_samples=c.comparison_samples,
            edit_photos=c.comparison_samples,
            projector_steps=c.projector_steps,
            hybrid_steps=c.hybrid_steps,
            seed=c.seed,
        )

    def _comparison(self) -> None:
        from thisineq.data.dataset import load_dataset
        from thisineq.invert.api import InversionModels
        from thisineq.invert.batch import load_inversions
        from thisineq.invert.compare import compare_methods, reference_scores
        from thisineq.latent.normals import BoundarySet
        from thisineq.training.gan import CHECKPOINT, load_discriminator

        c, config = self.config, self._comparison_config()
        data = load_dataset(self.demo_dataset)
        images = data.images()
        held_out = self._held_out_ids()
        models = InversionModels.load(
            self.generator, e4e=self.encoder("e4e"), restyle=self.encoder("restyle"), lpips_net=c.projector_lpips
        )
        normals = BoundarySet.load(self.artifacts.normals)
        errors, photos, latents, directions = {}, {}, {}, {}
        for method in methods.NAMES:
            inversions = load_inversions(self.inversion(method))
            keep = np.isin(inversions.photo_id, held_out)
            ids = inversions.photo_id[keep]
            if len(ids) == 0:
                self.log(f"  {method}: no held-out photo was inverted; left out of the comparison")
                continue
            errors[method] = inversions.errors.loc[ids]
            photos[method] = np.asarray(images[data.photos.loc[ids, "cache_index"].to_numpy()])
            latents[method] = inversions.ws[keep]
            directions[method] = list(normals.directions(method, c.domains).values())
        checkpoint = Path(c.gan_run or self.work / "runs" / "gan") / CHECKPOINT
        discriminator = load_discriminator(checkpoint) if checkpoint.is_file() else None
        if discriminator is None:
            self.log(f"  no GAN training checkpoint at {checkpoint}: the comparison goes without discriminator realism")
        table = compare_methods(models, errors, photos, latents, directions, config, discriminator=discriminator, log=self.log)
        reference = reference_scores(models, next(iter(photos.values())), discriminator, seed=c.seed)
        with atomic_open(self.artifacts.comparison, "w", encoding="utf-8", newline="") as handle:
            table.to_csv(handle, index=False, float_format="%.5g")
        write_json(
            self.artifacts.comparison.with_suffix(".json"),
            {
                "table": table.astype(object).where(table.notna(), None).to_dict(orient="records"),
                "reference": reference,
                "settings": asdict(config),
                "held_out": {
                    "splits": list(HELD_OUT),
                    "photos": int(len(held_out)),
                    "rule": "demo val/test photos not in the training city's train split",
                },
                "discriminator": str(checkpoint) if discriminator is not None else None,
            },
        )

    def _walks(self) -> None:
        from thisineq.invert.batch import load_inversions
        from thisineq.latent.normals import BoundarySet
        from thisineq.latent.walk import walk_grid
        from thisineq.models.stylegan2 import load_generator

        c = self.config
        generator = load_generator(self.generator).requires_grad_(False)
        normals = BoundarySet.load(self.artifacts.normals)
        held_out_ids = self._held_out_ids()
        self.artifacts.walks.mkdir(parents=True, exist_ok=True)
        record = {"steps": list(c.walk_steps), "matrices": {}, "missing": {}}
        for method in methods.BOUNDED:
            directions = list(normals.directions(method, c.domains).values())
            inversions = load_inversions(self.inversion(method))
            held_out = np.flatnonzero(np.isin(inversions.photo_id, held_out_ids))[: c.walk_photos]
            if not directions or not len(held_out):
                record["missing"][method] = "no boundary" if not directions else "no held-out photo inverted"
                continue
            sources = {f"photo {inversions.photo_id[i]}": torch.from_numpy(inversions.ws[i]) for i in held_out}
            coarse = list(normals.directions(method, c.domains, principal=True).values())
            for name, chosen, fit in ((method, directions, "full space"), (f"{method}_principal", coarse, "principal axes")):
                if not chosen:
                    continue
                grid, _ = walk_grid(generator, sources, chosen, list(c.walk_steps))
                with atomic_open(self.artifacts.walks / f"{name}.png", "wb") as handle:
                    grid.save(handle, format="PNG", optimize=True)
                record["matrices"][name] = {
                    "file": f"{name}.png",
                    "method": method,
                    "boundaries": fit,
                    "photos": [str(inversions.photo_id[i]) for i in held_out],
                    "domains": [d.name for d in chosen],
                }
        write_json(self.artifacts.walks / "walks.json", record)

    def _known_answer(self) -> None:
        from thisineq.data.dataset import load_dataset
        from thisineq.data.synth.build import GROUND_TRUTH
        from thisineq.known_answer.benchmark import known_answer_table
        from thisineq.known_answer.oracle import factor_targets, predict, save_oracle, train_oracle
        from thisineq.latent.normals import BoundarySet, conditional_directions
        from thisineq.models.stylegan2 import load_generator, sample_ws

        c = self.config
        data = load_dataset(self.train_dataset)
        truth = pd.read_csv(self.train_dataset.parent / GROUND_TRUTH, dtype={"photo_id": str}).set_index("photo_id")
        order = data.photos.sort_values("cache_index")
        images = np.asarray(data.images())[order["cache_index"].to_numpy()]
        model, report = train_oracle(
            images,
            factor_targets(truth.loc[order.index]),
            (order["split"] == "test").to_numpy(),
            epochs=c.oracle_epochs,
            progress=self.progress,
        )
        folder = self.artifacts.known_answer
        folder.mkdir(parents=True, exist_ok=True)
        save_oracle(model, self.work / "oracle.pt", report)
        write_json(folder / "oracle_r2.json", report.r2)
        generator = load_generator(self.generator)
        normals = BoundarySet.load(self.artifacts.normals)
        ws = sample_ws(generator, c.known_answer_sources, c.seed)

        def read(latents: torch.Tensor) -> np.ndarray:
            with torch.no_grad():
                return predict(model, generator.synthesis(latents))

        from thisineq.invert.batch import load_inversions

        tables = []
        for method in methods.BOUNDED:
            plain = normals.directions(method, c.domains)
            if not plain:
                continue
            kinds = {
                "conditional": conditional_directions(plain),
                "principal": normals.directions(method, c.domains, principal=True),
            }
            tables.append(known_answer_table(read, ws, plain, kinds, source="random latents").assign(method=method))
            inverted = torch.from_numpy(load_inversions(self.inversion(method)).ws[: c.known_answer_sources])
            tables.append(known_answer_table(read, inverted, plain, kinds, source="inverted photos").assign(method=method))
        table = (
            pd.concat(tables)
            if tables
            else pd.DataFrame(columns=["source", "boundary", "domain", "n", "own_rho", "leakage", "nuisance", "method"])
        )
        with atomic_open(folder / "table.csv", "w", encoding="utf-8", newline="") as handle:
            table.to_csv(handle, index=False, float_format="%.4f")


VISIBILITY_COLUMNS = ["method", "domain", "fit", "axes", "n", "f1", "f1_low", "f1_high", "roc_auc", "sigma_w", "change"]


def _visibility_row(method: str, domain: str, axes: int | None, n: int, scores, sigma: float, change: float) -> dict:
    """One row of `visibility.csv`: a boundary's grouped-CV separation beside how much a +3σ walk changes the image."""
    return {
        "method": method,
        "domain": domain,
        "fit": "full space" if axes is None else f"{axes} principal axes",
        "axes": axes,
        "n": n,
        "f1": scores["f1"],
        "f1_low": scores["f1_low"],
        "f1_high": scores["f1_high"],
        "roc_auc": scores["roc_auc"],
        "sigma_w": sigma,
        "change": change,
    }


def run_pipeline(config: PipelineConfig, only: list[str] | None = None, *, progress: bool = True) -> Path:
    Pipeline(config, progress=progress).run(only)
    return Path(config.out)
