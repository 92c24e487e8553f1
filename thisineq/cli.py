"""The `thisineq` command line: thin argument parsing over the package's functions.

A command's settings are its config's fields (`thisineq.config.add_options`): their defaults and
help live in the dataclass, once. Only arguments that are no config field (input files, output
folders) are declared here.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from thisineq.config import add_options, from_options, option_values
from thisineq.errors import ConfigError

# --- data -----------------------------------------------------------------------------------------


def _synth_options(p: argparse.ArgumentParser) -> None:
    from thisineq.data.synth.build import SynthConfig
    from thisineq.data.synth.city import CityConfig

    p.add_argument("--out", type=Path, default=Path("data/city"), help="folder for the city (default: data/city)")
    add_options(p, SynthConfig, exclude=("city",), flags={"n_photos": "photos", "image_format": "format"})
    add_options(p, CityConfig, flags={"n_lsoas": "areas"})
    p.add_argument("--boundaries", type=Path, help="real LSOA boundaries: synthetic photos on a real map (needs --imd)")
    p.add_argument("--imd", type=Path, help="real IoD2019 File 2/7 deciles for --boundaries")
    p.add_argument("--workers", type=int, default=2, help="rendering processes (default: 2)")
    p.add_argument("--no-ingest", action="store_true", help="write the raw city only, without the dataset folder")


def _run_synth(args) -> None:
    from thisineq.data.synth.build import SynthConfig, build_city, build_city_dataset
    from thisineq.data.synth.city import CityConfig

    config = from_options(SynthConfig, args, city=from_options(CityConfig, args))
    build = build_city if args.no_ingest else build_city_dataset
    out = build(args.out, config, boundaries=args.boundaries, imd=args.imd, workers=args.workers)
    print(f"wrote {out}")


def _ingest_options(p: argparse.ArgumentParser) -> None:
    from thisineq.data.dataset import IngestConfig

    p.add_argument("--photos", type=Path, required=True, help="folder the metadata's image paths are relative to")
    p.add_argument("--meta", type=Path, required=True, help="metadata CSV: image, lat, lon and/or lsoa_code, [heading, captured]")
    p.add_argument("--imd", type=Path, required=True, help="IoD2019 File 2 or File 7 (CSV or XLSX)")
    p.add_argument("--boundaries", type=Path, required=True, help="LSOA boundaries (shapefile, GeoJSON or GeoPackage)")
    p.add_argument("--out", type=Path, required=True, help="dataset folder to write")
    p.add_argument("--votes", type=Path, help="pairwise crowd votes (Place Pulse layout: left, right, winner, question)")
    add_options(p, IngestConfig, flags={"split_seed": "seed"})


def _run_ingest(args) -> None:
    from thisineq.data.dataset import IngestConfig, ingest, load_dataset

    out = ingest(args.photos, args.meta, args.imd, args.boundaries, args.out, from_options(IngestConfig, args), votes=args.votes)
    counts = load_dataset(out).manifest["counts"]
    print(f"wrote {out}: {counts['photos_usable']} of {counts['photos_listed']} photos usable")
    if "votes" in counts:
        votes = counts["votes"]
        why = "; ".join(f"{n:,} {problem}" for problem, n in votes["problems"].items())
        print(f"votes: {votes['usable']:,} of {votes['listed']:,} usable" + (f" ({why}: see vote_problems.csv)" if why else ""))
    for problem, n in counts["problems"].items():
        print(f"  {n} {problem} (listed in {out / 'problems.csv'})")


# --- training -------------------------------------------------------------------------------------


def _train_gan_options(p: argparse.ArgumentParser) -> None:
    from thisineq.models.projected import ProjectedConfig
    from thisineq.models.stylegan2 import StyleGAN2Config
    from thisineq.training.gan import GANTrainConfig

    add_options(p, GANTrainConfig, exclude=("model", "projected"))
    add_options(p, StyleGAN2Config, exclude=("size", "channels"))  # the size is the dataset's
    add_options(p, ProjectedConfig, prefix="projected_")  # --projected-input-size …: a projected discriminator's shape
    p.add_argument(
        "--channels",
        help="widths from 4 px up to the dataset's size, comma-separated, like 256,256,128,64,32 "
        "(default: StyleGAN2's, min(16384 / resolution, 512))",
    )


def _run_train_gan(args) -> None:
    from thisineq.data.dataset import load_dataset
    from thisineq.models.projected import ProjectedConfig
    from thisineq.models.stylegan2 import StyleGAN2Config
    from thisineq.training.gan import GANTrainConfig, train_gan

    size = load_dataset(args.dataset).image_size
    channels = channel_widths(args.channels, size) if args.channels else {}
    model = from_options(StyleGAN2Config, args, size=size, channels=channels)
    config = from_options(GANTrainConfig, args, model=model, projected=from_options(ProjectedConfig, args, prefix="projected_"))
    print(f"run folder {train_gan(config)}")


def channel_widths(text: str, size: int) -> dict[int, int]:
    """'256,256,128' → {4: 256, 8: 256, 16: 128}: one width per resolution from 4 px up to `size`."""
    try:
        widths = [int(c) for c in text.split(",")]
    except ValueError:
        raise ConfigError(f"--channels takes comma-separated whole numbers, like 256,256,128,64,32; got {text!r}") from None
    resolutions = [2**k for k in range(2, size.bit_length())]
    if len(widths) != len(resolutions):
        raise ConfigError(f"--channels needs {len(resolutions)} widths for {resolutions} px, got {len(widths)}")
    return dict(zip(resolutions, widths, strict=True))


def _train_encoder_options(p: argparse.ArgumentParser) -> None:
    from thisineq.training.encoders import EncoderTrainConfig

    add_options(p, EncoderTrainConfig, flags={"lpips_net": "lpips", "restyle_iterations": "iterations"})


def _run_train_encoder(args) -> None:
    from thisineq.training.encoders import EncoderTrainConfig, train_encoder

    print(f"run folder {train_encoder(from_options(EncoderTrainConfig, args))}")


# --- inversion and the pipeline -------------------------------------------------------------------


def _invert_options(p: argparse.ArgumentParser) -> None:
    from thisineq.invert import methods
    from thisineq.invert.batch import BatchInversionConfig
    from thisineq.metrics.lpips import BACKBONES

    p.add_argument("--dataset", type=Path, required=True)
    p.add_argument("--generator", type=Path, required=True)
    for encoder in methods.ENCODERS:
        users = ", ".join(m.name for m in methods.METHODS.values() if m.encoder == encoder)
        p.add_argument(f"--{encoder}", type=Path, help=f"the trained {encoder} encoder (for {users})")
    p.add_argument("--out", type=Path, required=True, help="inversion folder to write")
    p.add_argument(
        "--lpips",
        choices=tuple(BACKBONES),
        help="LPIPS network the projector and the hybrid minimise (default: InversionModels.load's, vgg as in StyleGAN2-ADA's projector)",
    )
    add_options(p, BatchInversionConfig, flags={"projector_steps": "steps"})
    p.add_argument(
        "--shard",
        help="K/N: invert only every N-th chunk from the K-th (N machines sharing --out; the last to finish merges); "
        "under torchrun each process takes its rank's share by itself",
    )


def _parse_shard(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise ConfigError(f"--shard takes K/N (e.g. 0/4), got {text!r}") from None
    return k, n


def _run_invert(args) -> None:
    from thisineq.invert import methods
    from thisineq.invert.api import InversionModels
    from thisineq.invert.batch import BatchInversionConfig, invert_dataset

    method = methods.method(args.method)
    if method.encoder and getattr(args, method.encoder) is None:
        raise ConfigError(f"--method {method.name} needs --{method.encoder} ENCODER")
    config = from_options(BatchInversionConfig, args)
    lpips = ({"lpips_net": args.lpips} if args.lpips else {}) if method.optimises else {"lpips_net": None}
    models = InversionModels.load(args.generator, e4e=args.e4e, restyle=args.restyle, **lpips)
    sources = {"generator": args.generator, **{k: v for k, v in (("e4e", args.e4e), ("restyle", args.restyle)) if v}}
    done = invert_dataset(args.dataset, models, args.out, config, sources=sources, shard=_parse_shard(args.shard))
    print(f"wrote {done}" if done else f"this shard is done; {args.out} is merged when the last shard finishes")


def _pipeline_options(p: argparse.ArgumentParser) -> None:
    from thisineq.pipeline import PipelineConfig

    p.add_argument("--config", type=Path, help="JSON file of PipelineConfig fields (default: the demo's settings)")
    p.add_argument("--tiny", action="store_true", help="a minutes-long run with tiny models (for tests and trying it out)")
    p.add_argument("--only", nargs="*", help="run only these steps")
    p.add_argument(
        "--lanes",
        type=int,
        default=1,
        help="run independent steps side by side in this many processes, the cores shared among them (default: 1, in order)",
    )
    add_options(p, PipelineConfig, overrides=True)


def _run_pipeline(args) -> None:
    from thisineq.pipeline import PipelineConfig, run_pipeline

    given = option_values(PipelineConfig, args)
    if args.tiny:
        config = PipelineConfig.tiny(out=given.pop("out", "artifacts/tiny"), work=given.pop("work", "data/tiny"))
    else:
        config = PipelineConfig.from_json(args.config) if args.config else PipelineConfig()
    print(f"artifact set {run_pipeline(dataclasses.replace(config, **given), args.only, lanes=args.lanes)}")


def _import_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "snapshot", type=Path, help="a stylegan2-ada-pytorch network-snapshot-*.pkl (read as data: nothing in it runs)"
    )
    p.add_argument("--out", type=Path, required=True, help="folder for generator.pt, samples.png and MODEL_CARD.md")
    p.add_argument("--discriminator", action="store_true", help="also import D (discriminator.pt)")
    p.add_argument("--class", dest="class_index", type=int, default=0, help="a conditional generator's class to draw (default 0)")


def _run_import(args) -> None:
    from thisineq.models.importers import import_checkpoint

    out = import_checkpoint(args.snapshot, args.out, discriminator=args.discriminator, class_index=args.class_index)
    print(f"imported {args.snapshot} into {out} (see {out / 'MODEL_CARD.md'})")


def _export_site_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", dest="artifact_set", default="demo", help="an artifact set: its name under artifacts/, or its folder")
    p.add_argument("--out", type=Path, required=True, help="the site's folder (written whole, or not at all)")
    p.add_argument("--streets", type=int, default=60, help="streets shown: inverted held-out photos, then seeds")
    p.add_argument("--method", default="", help="whose inversions and boundaries (default: the set's first walked method)")
    p.add_argument("--quality", type=int, default=90, help="WebP quality (100: lossless)")
    p.add_argument("--workers", type=int, default=2, help="threads writing images")


def _run_export_site(args) -> None:
    from thisineq.artifacts import artifacts_root
    from thisineq.exhibition.site import SiteConfig, export_site

    folder = Path(args.artifact_set)
    if not folder.is_dir():
        folder = artifacts_root() / args.artifact_set
    config = SiteConfig(
        artifact_set=str(folder),
        out=str(args.out),
        streets=args.streets,
        method=args.method,
        quality=args.quality,
        workers=args.workers,
    )
    report = export_site(config)
    print(
        f"wrote {report.folder}: {report.images:,} images of {args.streets} streets, {report.bytes / 2**20:.1f} MB, "
        f"in {report.seconds:.0f} s ({report.unsupported:,} images marked unsupported); open {report.folder / 'index.html'}"
    )


def _provenance_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, help="a PNG exported by thisineq (or its JSON sidecar)")
    p.add_argument("--json", action="store_true", help="print the record as JSON instead of in words")


def _run_provenance(args) -> None:
    from thisineq.provenance import describe, read_provenance, sidecar_bytes

    found = read_provenance(args.file)
    print(sidecar_bytes(found).decode("utf-8").rstrip() if args.json else describe(found))


def _predict_train_options(p: argparse.ArgumentParser) -> None:
    from thisineq.predict.run import PredictConfig

    add_options(p, PredictConfig)


def _run_predict_train(args) -> None:
    from thisineq.predict.run import PredictConfig, train_predictors

    out = train_predictors(from_options(PredictConfig, args))
    print((out / "measures.csv").read_text(encoding="utf-8"))
    print(f"predictions, measures and predictor.pt in {out}")


def _predict_score_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--predictor", type=Path, required=True, help="a predictor.pt from `thisineq predict train`")
    p.add_argument("--dataset", type=Path, required=True, help="the dataset whose photos to score")
    p.add_argument("--out", type=Path, required=True, help="the CSV to write (photo, LSOA, expected decile per domain)")


def _run_predict_score(args) -> None:
    from thisineq.predict.run import score_dataset

    print(f"scores in {score_dataset(args.predictor, args.dataset, args.out)}")


def _predict_rank_options(p: argparse.ArgumentParser) -> None:
    from thisineq.perception.run import RankConfig

    add_options(p, RankConfig)


def _run_predict_rank(args) -> None:
    from thisineq.perception.run import RankConfig, train_rankers

    out = train_rankers(from_options(RankConfig, args))
    print((out / "ranking.csv").read_text(encoding="utf-8"))
    print(f"scores, held-out accuracies, correlations and ranker.pt in {out}")


def _export_latents_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("inversions", type=Path, help="a finished inversion folder (thisineq invert, or the pipeline's)")
    p.add_argument("--format", required=True, choices=("e4e", "restyle", "projector"), help="whose file layout to write")
    p.add_argument("--out", type=Path, required=True, help="the file (e4e, restyle) or folder of per-photo files (projector)")


def _run_export_latents(args) -> None:
    from thisineq import exchange
    from thisineq.invert.batch import load_inversions

    inversions = load_inversions(args.inversions)
    ids = [str(p) for p in inversions.photo_id]
    if args.format == "e4e":
        written = exchange.write_e4e_latents(inversions.ws, args.out)
    elif args.format == "restyle":  # one iteration per photo: the folder keeps each photo's final latents
        written = exchange.write_restyle_latents({p: ws[None] for p, ws in zip(ids, inversions.ws, strict=True)}, args.out)
    else:
        for photo_id, ws in zip(ids, inversions.ws, strict=True):
            (args.out / photo_id).mkdir(parents=True, exist_ok=True)
            exchange.write_projected_w(ws, args.out / photo_id / "projected_w.npz")
        written = args.out
    print(f"wrote {len(ids)} photos' latents to {written} ({args.format} layout; rows in the order of {ids[0]}, …)")


def _export_boundaries_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("normals", type=Path, help="an artifact set's boundaries/normals.npz")
    p.add_argument("--method", required=True, help="whose boundaries (e4e, restyle, projector)")
    p.add_argument("--fit", default=None, help="which fit (default: the set's default, whitened W where fitted)")
    p.add_argument("--out", type=Path, required=True, help="folder for one DOMAIN_boundary.npy per domain")


def _run_export_boundaries(args) -> None:
    from thisineq import exchange
    from thisineq.latent.normals import BoundarySet

    directions = BoundarySet.load(args.normals).directions(args.method, fit=args.fit)
    if not directions:
        raise ConfigError(f"{args.normals} has no boundaries for {args.method!r} (fit {args.fit or 'default'})")
    args.out.mkdir(parents=True, exist_ok=True)
    for domain, direction in directions.items():
        exchange.write_interfacegan_boundary(direction.normal, args.out / f"{domain}_boundary.npy")
    print(f"wrote {', '.join(directions)} boundaries (InterFaceGAN's 1 × dim, the direction walked in W) to {args.out}")


def _export_generator_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("generator", type=Path, help="a generator file (the project's, imported, or rosinality's)")
    p.add_argument("--out", type=Path, required=True, help="the rosinality-layout checkpoint to write")


def _run_export_generator(args) -> None:
    from thisineq import exchange
    from thisineq.models.stylegan2 import load_generator

    written = exchange.write_rosinality_generator(load_generator(args.generator), args.out)
    print(f"wrote {written}: rosinality's {{'g_ema', 'latent_avg'}}, which e4e and ReStyle load")


# --- the parser -----------------------------------------------------------------------------------

GROUPS = {
    "data": "datasets: the synthetic city, and ingesting real photos",
    "train": "train models",
    "export": "write latents, boundaries and generators in the reference tools' formats, or an exhibition site",
    "predict": "the image side: deprivation deciles predicted from photos (Suel et al.)",
}
# command words → (help, options, run); a command's options are made only when it runs (they import its config)
COMMANDS = {
    ("data", "synth"): (
        "write the synthetic city (photos, metadata, IoD2019 file, boundaries) and ingest it",
        _synth_options,
        _run_synth,
    ),
    ("data", "ingest"): (
        "join a photo collection to LSOAs and IoD2019 deciles, split it and cache its images",
        _ingest_options,
        _run_ingest,
    ),
    ("train", "gan"): (
        "train (or resume) a StyleGAN2 on a dataset folder; also runs under torchrun",
        _train_gan_options,
        _run_train_gan,
    ),
    ("train", "encoder"): (
        "train (or resume) an e4e or ReStyle encoder for a generator",
        _train_encoder_options,
        _run_train_encoder,
    ),
    ("invert",): ("invert every photo of a dataset with one method (resumable)", _invert_options, _run_invert),
    ("export", "latents"): (
        "an inversion folder's latents as e4e's latents.pt, ReStyle's latents.npy or NVIDIA's projected_w.npz files",
        _export_latents_options,
        _run_export_latents,
    ),
    ("export", "boundaries"): (
        "a method's boundaries as InterFaceGAN .npy files",
        _export_boundaries_options,
        _run_export_boundaries,
    ),
    ("export", "site"): (
        "a static exhibition site (no server, no network): precomputed images by slider value, a kiosk, an About page",
        _export_site_options,
        _run_export_site,
    ),
    ("export", "generator"): (
        "a generator as a rosinality-layout checkpoint",
        _export_generator_options,
        _run_export_generator,
    ),
    ("predict", "train"): (
        "cross-validate decile prediction from photo features and fit a predictor per domain",
        _predict_train_options,
        _run_predict_train,
    ),
    ("predict", "score"): (
        "score every photo of a dataset with a fitted predictor (per photo, with its LSOA)",
        _predict_score_options,
        _run_predict_score,
    ),
    ("predict", "rank"): (
        "learn perception scores for every photo from the dataset's crowd votes (Place Pulse)",
        _predict_rank_options,
        _run_predict_rank,
    ),
    ("import",): (
        "import a stylegan2-ada-pytorch snapshot or rosinality checkpoint as the project's generator, safely",
        _import_options,
        _run_import,
    ),
    ("provenance",): (
        "print how an exported PNG was made (the provenance it carries)",
        _provenance_options,
        _run_provenance,
    ),
    ("pipeline",): (
        "rebuild an artifact set from nothing, skipping steps that are current; "
        "every PipelineConfig field is an option too, overriding --config or --tiny",
        _pipeline_options,
        _run_pipeline,
    ),
}


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The command line. With `argv`, only the options of the command it names are made (each imports its config's
    module, torch or geopandas); without, every command's."""
    wanted = named_command(argv) if argv is not None else None  # None: every command's options
    parser = argparse.ArgumentParser(prog="thisineq", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    groups = {
        name: commands.add_parser(name, help=text).add_subparsers(dest=f"{name}_command", required=True)
        for name, text in GROUPS.items()
    }
    for words, (text, add, run) in COMMANDS.items():
        p = (groups[words[0]] if len(words) == 2 else commands).add_parser(words[-1], help=text, description=text)
        if wanted is None or wanted == words:
            add(p)
        p.set_defaults(run=run)
    return parser


def named_command(argv: list[str]) -> tuple[str, ...]:
    """The command words that `argv` starts with (('train', 'gan'), ('invert',), …); () if it names none."""
    words = tuple(a for a in argv if not a.startswith("-"))
    return next((command for command in COMMANDS if words[: len(command)] == command), ())


def main(argv: list[str] | None = None) -> int:
    """Run the command; known bad input ends with a one-line message and exit status 2."""
    from thisineq.errors import ThisIneqError

    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    try:
        args.run(args)
    except (ThisIneqError, FileNotFoundError) as error:  # bad input; anything else is a bug and keeps its traceback
        print(f"thisineq: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("thisineq: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
