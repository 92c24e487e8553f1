"""The `thisineq` command line: thin argument parsing over the package's functions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _add_synth(sub) -> None:
    p = sub.add_parser("synth", help="write the synthetic city (photos, metadata, IoD2019 file, boundaries) and ingest it")
    p.add_argument("--out", type=Path, default=Path("data/city"), help="folder for the city (default: data/city)")
    p.add_argument("--photos", type=int, default=6000, help="number of photos (default: 6000)")
    p.add_argument("--areas", type=int, default=600, help="number of synthetic LSOAs (default: 600)")
    p.add_argument("--size", type=int, default=64, help="photo side in pixels, 16–1024 (default: 64)")
    p.add_argument("--format", choices=("png", "jpg"), default="png", help="image format (default: png)")
    p.add_argument("--seed", type=int, default=0, help="random seed: the same seed gives the same city")
    p.add_argument("--boundaries", type=Path, help="real LSOA boundaries: synthetic photos on a real map (needs --imd)")
    p.add_argument("--imd", type=Path, help="real IoD2019 File 2/7 deciles for --boundaries")
    p.add_argument("--workers", type=int, default=2, help="rendering processes (default: 2)")
    p.add_argument("--no-ingest", action="store_true", help="write the raw city only, without the dataset folder")
    p.set_defaults(run=_run_synth)


def _run_synth(args) -> None:
    from thisineq.data.synth.build import SynthConfig, build_city, build_city_dataset
    from thisineq.data.synth.city import CityConfig

    config = SynthConfig(
        n_photos=args.photos, size=args.size, image_format=args.format, city=CityConfig(n_lsoas=args.areas, seed=args.seed)
    )
    build = build_city if args.no_ingest else build_city_dataset
    out = build(args.out, config, boundaries=args.boundaries, imd=args.imd, workers=args.workers)
    print(f"wrote {out}")


def _add_ingest(sub) -> None:
    p = sub.add_parser("ingest", help="join a photo collection to LSOAs and IoD2019 deciles, split it and cache its images")
    p.add_argument("--photos", type=Path, required=True, help="folder the metadata's image paths are relative to")
    p.add_argument("--meta", type=Path, required=True, help="metadata CSV: image, lat, lon and/or lsoa_code, [heading, captured]")
    p.add_argument("--imd", type=Path, required=True, help="IoD2019 File 2 or File 7 (CSV or XLSX)")
    p.add_argument("--boundaries", type=Path, required=True, help="LSOA boundaries (shapefile, GeoJSON or GeoPackage)")
    p.add_argument("--out", type=Path, required=True, help="dataset folder to write")
    p.add_argument("--size", type=int, default=64, help="side of the cached images in pixels (default: 64)")
    p.add_argument("--seed", type=int, default=0, help="seed of the train/val/test split by LSOA")
    p.add_argument("--workers", type=int, default=2, help="decoding processes (default: 2)")
    p.set_defaults(run=_run_ingest)


def _run_ingest(args) -> None:
    from thisineq.data.dataset import IngestConfig, ingest, load_dataset

    config = IngestConfig(size=args.size, split_seed=args.seed, workers=args.workers)
    out = ingest(args.photos, args.meta, args.imd, args.boundaries, args.out, config)
    counts = load_dataset(out).manifest["counts"]
    print(f"wrote {out}: {counts['photos_usable']} of {counts['photos_listed']} photos usable")
    for problem, n in counts["problems"].items():
        print(f"  {n} {problem} (listed in {out / 'problems.csv'})")


def _add_train_gan(sub) -> None:
    p = sub.add_parser("gan", help="train (or resume) a StyleGAN2 on a dataset folder; also runs under torchrun")
    p.add_argument("--dataset", type=Path, required=True, help="dataset folder (from `thisineq data synth/ingest`)")
    p.add_argument("--run-dir", type=Path, required=True, help="run folder: checkpoint, samples, log; resumes if present")
    p.add_argument("--steps", type=int, default=20000, help="total steps (default: 20000); raise it to train on")
    p.add_argument("--batch", type=int, default=16, help="images per step over all processes (default: 16)")
    p.add_argument("--channels", default="256,256,128,64,32", help="widths from 4 px up to the dataset's size, comma-separated")
    p.add_argument("--style-dim", type=int, default=256)
    p.add_argument("--n-mlp", type=int, default=4, help="mapping network depth (default: 4)")
    p.add_argument("--lr", type=float, default=0.0025)
    p.add_argument("--r1-gamma", type=float, help="R1 weight (default: 0.0002 · size² / batch)")
    p.add_argument("--augment", default="color,translation,cutout", help="DiffAugment policy, '' for none")
    p.add_argument("--metric-every", type=int, default=2000, help="steps between quality metrics (0: never)")
    p.add_argument("--metric-samples", type=int, default=1000)
    p.add_argument("--checkpoint-every", type=int, default=200)
    p.add_argument("--sample-every", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--init-from", type=Path, help="start G and its EMA from this generator (same architecture)")
    p.set_defaults(run=_run_train_gan)


def _run_train_gan(args) -> None:
    from thisineq.data.dataset import load_dataset
    from thisineq.models.stylegan2 import StyleGAN2Config
    from thisineq.training.gan import GANTrainConfig, train_gan

    size = load_dataset(args.dataset).image_size
    try:
        widths = [int(c) for c in args.channels.split(",")]
    except ValueError:
        raise ValueError(
            f"--channels takes comma-separated whole numbers, like 256,256,128,64,32; got {args.channels!r}"
        ) from None
    resolutions = [2**k for k in range(2, size.bit_length())]
    if len(widths) != len(resolutions):
        raise ValueError(f"--channels needs {len(resolutions)} widths for {resolutions} px, got {len(widths)}")
    model = StyleGAN2Config(
        size=size, style_dim=args.style_dim, n_mlp=args.n_mlp, channels=dict(zip(resolutions, widths, strict=True))
    )
    config = GANTrainConfig(
        dataset=str(args.dataset),
        run_dir=str(args.run_dir),
        model=model,
        steps=args.steps,
        batch=args.batch,
        lr=args.lr,
        r1_gamma=args.r1_gamma,
        augment=args.augment,
        metric_every=args.metric_every,
        metric_samples=args.metric_samples,
        checkpoint_every=args.checkpoint_every,
        sample_every=args.sample_every,
        seed=args.seed,
        device=args.device,
        init_from=str(args.init_from) if args.init_from else None,
    )
    print(f"run folder {train_gan(config)}")


def _add_train_encoder(sub) -> None:
    p = sub.add_parser("encoder", help="train (or resume) an e4e or ReStyle encoder for a generator")
    p.add_argument("--kind", choices=("e4e", "restyle"), required=True)
    p.add_argument("--generator", type=Path, required=True, help="generator checkpoint to invert into")
    p.add_argument("--dataset", type=Path, required=True, help="dataset folder; its train split gives the real photos")
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--steps", type=int, default=20000)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--real-fraction", type=float, default=0.5, help="share of real photos per batch (rest: GAN samples)")
    p.add_argument("--lpips", choices=("alex", "vgg"), default="alex", help="perceptual loss backbone")
    p.add_argument("--iterations", type=int, default=5, help="ReStyle iterations per step")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=_run_train_encoder)


def _run_train_encoder(args) -> None:
    from thisineq.training.encoders import EncoderTrainConfig, train_encoder

    config = EncoderTrainConfig(
        kind=args.kind,
        generator=str(args.generator),
        dataset=str(args.dataset),
        run_dir=str(args.run_dir),
        steps=args.steps,
        batch=args.batch,
        lr=args.lr,
        real_fraction=args.real_fraction,
        lpips_net=args.lpips,
        restyle_iterations=args.iterations,
        seed=args.seed,
    )
    print(f"run folder {train_encoder(config)}")


def _add_invert(commands) -> None:
    p = commands.add_parser("invert", help="invert every photo of a dataset with one method (resumable)")
    p.add_argument("--method", choices=("e4e", "restyle", "projector", "hybrid"), required=True)
    p.add_argument("--dataset", type=Path, required=True)
    p.add_argument("--generator", type=Path, required=True)
    p.add_argument("--e4e", type=Path, help="e4e encoder (for e4e and hybrid)")
    p.add_argument("--restyle", type=Path, help="ReStyle encoder")
    p.add_argument("--out", type=Path, required=True, help="inversion folder to write")
    p.add_argument("--split", choices=("train", "val", "test"), nargs="+", help="only these splits")
    p.add_argument("--limit", type=int, help="only the first N photos (a documented subset)")
    p.add_argument("--steps", type=int, default=1000, help="projector steps (default: 1000)")
    p.add_argument("--chunk", type=int, default=32)
    p.set_defaults(run=_run_invert)


def _run_invert(args) -> None:
    from thisineq.invert.api import InversionModels
    from thisineq.invert.batch import BatchInversionConfig, invert_dataset

    needs = {"e4e": "e4e", "hybrid": "e4e", "restyle": "restyle"}.get(args.method)
    if needs and getattr(args, needs) is None:
        raise ValueError(f"--method {args.method} needs --{needs} ENCODER")
    config = BatchInversionConfig(
        method=args.method,
        chunk=args.chunk,
        split=tuple(args.split) if args.split else None,
        limit=args.limit,
        projector_steps=args.steps,
    )
    models = InversionModels.load(
        args.generator, e4e=args.e4e, restyle=args.restyle, lpips_net="vgg" if args.method in ("projector", "hybrid") else None
    )
    sources = {"generator": args.generator, **{k: v for k, v in (("e4e", args.e4e), ("restyle", args.restyle)) if v}}
    print(f"wrote {invert_dataset(args.dataset, models, args.out, config, sources=sources)}")


def _add_pipeline(commands) -> None:
    p = commands.add_parser("pipeline", help="rebuild an artifact set from nothing, skipping steps that are current")
    p.add_argument("--config", type=Path, help="JSON file of PipelineConfig fields (default: the demo's settings)")
    p.add_argument("--tiny", action="store_true", help="a minutes-long run with tiny models (for tests and trying it out)")
    p.add_argument("--out", help="artifact set folder (overrides the config)")
    p.add_argument("--work", help="folder for training data and runs (overrides the config)")
    p.add_argument("--only", nargs="*", help="run only these steps")
    p.set_defaults(run=_run_pipeline)


def _run_pipeline(args) -> None:
    from thisineq.pipeline import PipelineConfig, run_pipeline

    if args.tiny:
        config = PipelineConfig.tiny(out=args.out or "artifacts/tiny", work=args.work or "data/tiny")
    else:
        config = PipelineConfig.from_json(args.config) if args.config else PipelineConfig()
    if args.out:
        config.out = args.out
    if args.work:
        config.work = args.work
    print(f"artifact set {run_pipeline(config, args.only)}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="thisineq", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    data = commands.add_parser("data", help="datasets: the synthetic city, and ingesting real photos")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    _add_synth(data_commands)
    _add_ingest(data_commands)
    train = commands.add_parser("train", help="train models")
    train_commands = train.add_subparsers(dest="train_command", required=True)
    _add_train_gan(train_commands)
    _add_train_encoder(train_commands)
    _add_invert(commands)
    _add_pipeline(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command; known bad input ends with a one-line message and exit status 2."""
    from thisineq.errors import ThisIneqError

    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (
        ThisIneqError,
        FileNotFoundError,
        ValueError,
        KeyError,
    ) as error:  # ValueError, KeyError: until every user-facing raise is a ThisIneqError
        message = error.args[0] if isinstance(error, KeyError) and error.args else error  # str(KeyError) adds quotes
        print(f"thisineq: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("thisineq: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
