"""Print how visible walks along the deprivation boundaries are, and what fitting them on the generator's principal axes costs.

A boundary fitted in the full latent space separates the classes best, but its walks may hardly
change the image: the SVM spreads its normal over directions the generator barely renders. Fitting
it on the first k principal axes of W makes walks more visible at some cost in separation. For each
inversion method, domain and k this prints the grouped cross-validated F1 (95% CI), ROC-AUC, the
spread σ of W along the normal, and the mean pixel change of random images moved +3σ, with a
random direction, the first principal axis and a pair of random images for scale. The last row per
domain is the k that inner cross-validation picks by the one-standard-error rule.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch
from tqdm import tqdm

from thisineq.data.domains import DEFAULT_DOMAINS, DOMAIN_KEYS
from thisineq.errors import ThisIneqError
from thisineq.invert import methods
from thisineq.invert.batch import load_inversions
from thisineq.latent.boundaries import LatentBoundary, principal_axes
from thisineq.latent.labels import LabelledSet, labelled_subset
from thisineq.latent.normals import Direction
from thisineq.latent.table1 import evaluate
from thisineq.latent.walk import image_change
from thisineq.models.stylegan2 import Generator, load_generator, sample_w, sample_ws
from thisineq.pipeline import PipelineConfig, Workspace
from thisineq.pipeline.boundaries import W_SAMPLES

HEADER = f"{'method':<9} {'domain':<22} {'axes':>5} {'n':>5}  {'F1 [95% CI]':<20} {'ROC-AUC':>7} {'σ in W':>7} {'change':>7}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="artifacts/demo", help="the artifact set (its generator and inversions)")
    parser.add_argument(
        "--work", default="data/pipeline", help="the pipeline's work folder: its training-city inversions are used where present"
    )
    parser.add_argument("--methods", nargs="+", default=list(methods.ENCODERS))
    parser.add_argument("--domains", nargs="+", default=list(DEFAULT_DOMAINS), choices=DOMAIN_KEYS, metavar="DOMAIN")
    parser.add_argument("--axes", nargs="+", type=int, default=[8, 16, 32, 64], help="principal axis counts to try")
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--images", type=int, default=16, help="random images each change is averaged over")
    args = parser.parse_args(argv)
    if any(k < 1 for k in args.axes):
        parser.error(f"--axes must be positive, got {args.axes}")
    return args


def boundary_workspace(args: argparse.Namespace) -> Workspace:
    """The pipeline's files for the set: its training-city inversions where they exist, else the demo's own."""
    paths = Workspace(PipelineConfig(out=args.set, work=args.work))
    sources = paths.boundary_latents()
    if all((sources[m] / "inversion.json").is_file() for m in args.methods if m in sources):
        return paths
    return Workspace(PipelineConfig(out=args.set, work=args.work, boundary_photos=None, projector_boundary_photos=None))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        paths = boundary_workspace(args)
        photos = paths.labelled_photos()
        generator = load_generator(paths.generator).float().eval()
    except (OSError, KeyError, ValueError, ThisIneqError) as error:
        print(f"walk_visibility: {error}", file=sys.stderr)
        return 2
    w = sample_w(generator, W_SAMPLES, seed=0).double().numpy()
    if max(args.axes) > w.shape[1]:
        print(f"walk_visibility: --axes {max(args.axes)} exceeds the generator's {w.shape[1]} latent dimensions", file=sys.stderr)
        return 2
    axes = principal_axes(w, max(args.axes))
    print_scale(generator, paths, w, axes, args.images)
    print(HEADER)
    print("-" * len(HEADER))
    for method in args.methods:
        print_method(generator, paths, photos, method, w, axes, args)
    return 0


def print_method(generator: Generator, paths: Workspace, photos, method: str, w: np.ndarray, axes: np.ndarray, args) -> None:
    """The rows of one inversion method: per domain, its boundaries' figures or why it has none."""
    sources = paths.boundary_latents()
    if method not in sources:
        print(f"{method}: no boundary latents for this method in {args.set}", file=sys.stderr)
        return
    inversion = load_inversions(sources[method])
    for domain in args.domains:
        subset = labelled_subset(inversion.w, photos.loc[inversion.photo_id], domain)
        if subset.too_few:
            print(f"{method:<9} {domain:<22} {subset.too_few}")
        else:
            print_domain(generator, method, domain, subset, w, axes, args)


def print_scale(generator: Generator, paths: Workspace, w: np.ndarray, axes: np.ndarray, n_images: int) -> None:
    """W's spread and the pixel change of a random direction, the first principal axis and a random pair, for scale."""
    random = _random_units(5, w.shape[1])
    random_change = np.mean([image_change(generator, Direction.from_latents("r", u, w), n=n_images) for u in random])
    first_axis_change = image_change(generator, Direction.from_latents("pc1", axes[0], w), n=n_images)
    print(
        f"Generator {paths.generator}; W's spread along its principal axes: "
        f"{', '.join(f'{s:.2f}' for s in np.std((w - w.mean(0)) @ axes[:4].T, axis=0))}, …; "
        f"median along a random direction {np.median(np.std(w @ _random_units(50, w.shape[1]).T, axis=0)):.2f}"
    )
    print(
        f"Pixel change at +3σ for scale: a random direction {random_change:.1%}, "
        f"the first principal axis {first_axis_change:.1%}, "
        f"two random images {_random_pair_change(generator, n_images):.1%}\n"
    )


def print_domain(
    generator: Generator, method: str, domain: str, subset: LabelledSet, w: np.ndarray, axes: np.ndarray, args
) -> None:
    """One row per axis count, the full space, and the count inner cross-validation picks."""
    settings = [(str(k), {"axes": axes, "axis_counts": (k,)}) for k in args.axes] + [("all", {})]
    settings.append(("picked", {"axes": axes, "axis_counts": (*args.axes, None)}))
    for label, kw in tqdm(settings, desc=f"{method}/{domain}", leave=False, file=sys.stderr):
        boundary = LatentBoundary(**kw).fit(subset.X, subset.y, subset.groups)
        scores = evaluate(subset.X, subset.y, subset.groups, grouped=True, n_boot=args.bootstrap, **kw)
        direction = Direction.from_latents(domain, boundary.normal_, w)
        if label == "picked":
            label = f"→{boundary.n_axes_ or 'all'}"
        low, high = scores.intervals["f1"]
        print(
            f"{method:<9} {domain:<22} {label:>5} {len(subset.y):>5}  {scores.scores['f1']:.3f} [{low:.3f}–{high:.3f}]  "
            f"{scores.scores['roc_auc']:>7.3f} {direction.sigma:>7.2f} {image_change(generator, direction, n=args.images):>7.1%}",
            flush=True,
        )


def _random_units(n: int, dim: int, seed: int = 0) -> np.ndarray:
    units = np.random.default_rng(seed).normal(size=(n, dim))
    return units / np.linalg.norm(units, axis=1, keepdims=True)


@torch.no_grad()
def _random_pair_change(generator: Generator, n: int) -> float:
    ws = sample_ws(generator, 2 * n, seed=1)
    a, b = generator.synthesis(ws[:n]), generator.synthesis(ws[n:])
    return float((a - b).abs().mean() / 2)


if __name__ == "__main__":
    sys.exit(main())
