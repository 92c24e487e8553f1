"""Where every artifact lives, and the manifest that records how each one is rebuilt."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from thisineq.io import sha256_file, write_json

REPO_ROOT = Path(__file__).resolve().parents[1]
MANIFEST = "manifest.json"
BUDGET_BYTES = 30 * 1024 * 1024  # all committed demo artifacts together
# A model-stage rebuild that spans two sittings carries its finished GAN in `artifacts/handoff/` (issue 14), while the
# demo it will replace stays whole; the two together may take 40 MiB.
HANDOFF = "handoff"
HANDOFF_BUDGET_BYTES = 40 * 1024 * 1024


def artifacts_root() -> Path:
    """The artifacts folder: `THISINEQ_ARTIFACTS` if set, else `artifacts/` in the repo."""
    return Path(os.environ.get("THISINEQ_ARTIFACTS", REPO_ROOT / "artifacts"))


@dataclass(frozen=True)
class ArtifactSet:
    """One self-contained set of artifacts (the synthetic demo, a London build, …)."""

    root: Path

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def city(self) -> Path:
        """Raw inputs in the real on-disk format (photos, metadata, IoD2019 file, boundaries)."""
        return self.root / "city"

    @property
    def dataset(self) -> Path:
        """The ingested dataset (see `thisineq.data.dataset`)."""
        return self.city / "dataset"

    @property
    def generator(self) -> Path:
        """The EMA generator (thisineq format, see `thisineq.models.stylegan2.save_generator`)."""
        return self.root / "gan" / "generator.pt"

    @property
    def discriminator(self) -> Path:
        """The discriminator kept beside the generator, where one is (`thisineq import --discriminator`, or the pipeline's
        `gan_keep_discriminator`): its realism score joins the out-of-distribution bands."""
        return self.root / "gan" / "discriminator.pt"

    @property
    def model_card(self) -> Path:
        return self.root / "gan" / "MODEL_CARD.md"

    @property
    def gan_quality(self) -> Path:
        """The generator's quality where no discriminator looks (VGG16 and EfficientNet spaces, the oracle's factors)."""
        return self.root / "gan" / "quality.json"

    @property
    def headline(self) -> Path:
        """The set's headline figures beside their targets (`thisineq.pipeline.headline`)."""
        return self.root / "headline.json"

    @property
    def pipeline_times(self) -> Path:
        """Seconds each pipeline step took when it last ran."""
        return self.root / "pipeline_times.json"

    @property
    def pipeline_spans(self) -> Path:
        """When each pipeline step last ran: [start, end] in seconds since the epoch (steps in lanes overlap)."""
        return self.root / "pipeline_spans.json"

    def encoder(self, kind: str) -> Path:
        """A trained inversion encoder, "e4e" or "restyle" (see `thisineq.models.encoders.save_encoder`)."""
        return self.root / "encoders" / f"{kind}.pt"

    def inversion(self, method: str) -> Path:
        """One method's inversion folder (see `thisineq.invert.batch`)."""
        return self.root / "inversions" / method

    @property
    def comparison(self) -> Path:
        """The inversion methods compared (CSV; a JSON beside it adds reference scores and settings)."""
        return self.root / "inversions" / "comparison.csv"

    @property
    def boundaries(self) -> Path:
        """Table 1 (`table1.csv`), the normals (`normals.npz`) and the cosine matrices."""
        return self.root / "boundaries"

    @property
    def normals(self) -> Path:
        return self.boundaries / "normals.npz"

    @property
    def visibility(self) -> Path:
        """Per boundary and fit kind: grouped-CV F1, the normal's split-half and bootstrap stability, and how much a +3σ walk changes the image."""
        return self.boundaries / "visibility.csv"

    @property
    def boundaries_record(self) -> Path:
        """What each method's boundaries were fitted on (photos, labelled counts, C) and what σ means."""
        return self.boundaries / "boundaries.json"

    @property
    def known_answer(self) -> Path:
        """The known-answer benchmark: `table.csv`, `truth_profiles.csv`, `summary.json`, `oracle_validation.json` and the positive control's tables."""
        return self.root / "known_answer"

    @property
    def predict(self) -> Path:
        """Decile prediction from photos (Suel et al.): `measures.csv`, `lsoa.csv`, `table1.csv` beside the boundaries' and `predictor.pt`."""
        return self.root / "predict"

    @property
    def perception(self) -> Path:
        """Perception ranking from crowd votes: `ranking.csv`, `perception_lsoa.csv`, `correlations.csv` and `ranker.pt`."""
        return self.root / "perception"

    @property
    def figures(self) -> Path:
        """The paper's Fig. 3 per method and domain: latents by decile (PNG, and the coordinates plotted as gzipped CSV)."""
        return self.root / "figures"

    @property
    def walks(self) -> Path:
        """Walk-matrix PNGs of a few demo photos."""
        return self.root / "walks"

    def exists(self) -> bool:
        return (self.dataset / "dataset.json").is_file()


def demo_set() -> ArtifactSet:
    """The committed synthetic-city demo."""
    return ArtifactSet(artifacts_root() / "demo")


def available_sets() -> list[ArtifactSet]:
    """Every artifact set with a dataset, the demo first."""
    root = artifacts_root()
    sets = [ArtifactSet(p) for p in sorted(root.iterdir()) if p.is_dir()] if root.is_dir() else []
    sets = [s for s in sets if s.exists()]
    return sorted(sets, key=lambda s: (s.name != "demo", s.name))


# The committed artifacts built otherwise than by `thisineq pipeline --only …`, and the commands that built them.
BUILT_OUTSIDE_THE_PIPELINE: dict[str, str] = {
    "demo/city": "thisineq data synth --out artifacts/demo/city --photos 480 --seed 0",
    "demo/gan": (
        "thisineq data synth --out data/city --photos 12000 --seed 0 && "
        "thisineq train gan --dataset data/city/dataset --run-dir runs/gan64 --steps 100000 --metric-every 1000 "
        "--n-mlp 4 --channels 256,256,128,64,32 && "
        "python scripts/export_gan.py --run-dir runs/gan64 --out artifacts/demo/gan"
    ),
    "demo/pipeline.json": "thisineq pipeline (written by every step)",
    f"{HANDOFF}/gan": (
        "thisineq pipeline --out data/rebuild/set --work data/rebuild/work --gan-recipe stylegan2-bf16 --gan-minutes 90 "
        "--only city gan && cp data/rebuild/set/gan/{generator.pt,metrics.json,MODEL_CARD.md,sitting.json} artifacts/handoff/gan/"
    ),
    "demo/pipeline_times.json": "thisineq pipeline (written by every step)",
    "demo/pipeline_spans.json": "thisineq pipeline (written by every step)",
}


def rebuild_commands() -> dict[str, str]:
    """Each committed artifact (a path under the artifacts root, file or folder) and the command that rebuilds it from nothing.

    The pipeline's steps name the folders they build (`thisineq.pipeline.STEPS`), so a new step needs no entry here.
    """
    from thisineq.pipeline import rebuild_commands as pipeline_commands  # here, not above: the pipeline imports this module

    return {f"demo/{folder}": command for folder, command in pipeline_commands().items()} | BUILT_OUTSIDE_THE_PIPELINE


def __getattr__(name: str):
    """`REBUILD_COMMANDS`, made on first use from the pipeline's steps (which import this module, so it cannot be made above)."""
    if name == "REBUILD_COMMANDS":
        globals()[name] = rebuild_commands()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def rebuild_command(relative: str, commands: dict[str, str]) -> str:
    """The command of the most specific prefix of `relative` (a path under the artifacts root) in `commands`."""
    matches = [prefix for prefix in commands if relative.startswith(prefix)]
    if not matches:
        raise ValueError(f"artifact {relative} has no rebuild command in thisineq.artifacts.rebuild_commands()")
    return commands[max(matches, key=len)]


def write_manifest(files: list[Path], root: Path | None = None) -> dict:
    """Record every committed artifact file with its size, sha256 and rebuild command."""
    root = root or artifacts_root()
    commands = rebuild_commands()
    entries = []
    for path in sorted(files):
        relative = path.relative_to(root).as_posix()
        entry = {"path": relative, "bytes": path.stat().st_size, "sha256": sha256_file(path)}
        entries.append(entry | {"rebuild": rebuild_command(relative, commands)})
    carried = any(e["path"].startswith(f"{HANDOFF}/") for e in entries)
    manifest = {
        "budget_bytes": HANDOFF_BUDGET_BYTES if carried else BUDGET_BYTES,
        "total_bytes": sum(e["bytes"] for e in entries),
        "demo_bytes": sum(e["bytes"] for e in entries if e["path"].startswith("demo/")),
        "artifacts": entries,
    }
    write_json(root / MANIFEST, manifest)
    return manifest
