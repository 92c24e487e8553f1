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
from thisineq.invert.batch import load_inversions
from thisineq.latent.boundaries import MIN_PER_CLASS, LatentBoundary, balanced_subset, decile_labels, evaluate, principal_axes
from thisineq.latent.normals import Direction
from thisineq.latent.walk import image_change
from thisineq.models.stylegan2 import load_generator, sample_w, sample_ws
from thisineq.pipeline import Pipeline, PipelineConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="artifacts/demo", help="the artifact set (its generator and inversions)")
    parser.add_argument(
        "--work", default="data/pipeline", help="the pipeline's work folder: its training-city inversions are used where present"
    )
    parser.add_argument("--methods", nargs="+", default=["e4e", "restyle"])
    parser.add_argument("--domains", nargs="+", default=list(DEFAULT_DOMAINS), choices=DOMAIN_KEYS, metavar="DOMAIN")
    parser.add_argument("--axes", nargs="+", type=int, default=[8, 16, 32, 64], help="principal axis counts to try")
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--images", type=int, default=16, help="random images each change is averaged over")
    args = parser.parse_args(argv)
    if any(k < 1 for k in args.axes):
        parser.error(f"--axes must be positive, got {args.axes}")

    try:
        pipeline = Pipeline(PipelineConfig(out=args.set, work=args.work), progress=False)
        sources = pipeline.boundary_latents()
        if not all((sources[m] / "inversion.json").is_file() for m in args.methods if m in sources):
            pipeline = Pipeline(PipelineConfig(out=args.set, work=args.work, boundary_photos=None), progress=False)
            sources = pipeline.boundary_latents()
        photos = pipeline.labelled_photos()
        generator = load_generator(pipeline.generator).float().eval()
    except (OSError, KeyError, ValueError) as error:
        print(f"walk_visibility: {error}", file=sys.stderr)
        return 2
    w = sample_w(generator, 10000, seed=0).double().numpy()
    if max(args.axes) > w.shape[1]:
        print(f"walk_visibility: --axes {max(args.axes)} exceeds the generator's {w.shape[1]} latent dimensions", file=sys.stderr)
        return 2
    axes = principal_axes(w, max(args.axes))
    print(
        f"Generator {pipeline.generator}; W's spread along its principal axes: "
        f"{', '.join(f'{s:.2f}' for s in np.std((w - w.mean(0)) @ axes[:4].T, axis=0))}, …; "
        f"median along a random direction {np.median(np.std(w @ _random_units(50, w.shape[1]).T, axis=0)):.2f}"
    )
    print(
        f"Pixel change at +3σ for scale: a random direction {np.mean([image_change(generator, Direction.from_latents('r', u, w), n=args.images) for u in _random_units(5, w.shape[1])]):.1%}, "
        f"the first principal axis {image_change(generator, Direction.from_latents('pc1', axes[0], w), n=args.images):.1%}, "
        f"two random images {_random_pair_change(generator, args.images):.1%}\n"
    )
    header = f"{'method':<9} {'domain':<22} {'axes':>5} {'n':>5}  {'F1 [95% CI]':<20} {'ROC-AUC':>7} {'σ in W':>7} {'change':>7}"
    print(header)
    print("-" * len(header))
    for method in args.methods:
        if method not in sources:
            print(f"{method}: no boundary latents for this method in {args.set}", file=sys.stderr)
            continue
        inversion = load_inversions(sources[method])
        frame = photos.loc[inversion.photo_id]
        for domain in args.domains:
            labels = decile_labels(frame[f"{domain}_decile"])
            counts = labels.value_counts()
            if len(counts) < 2 or counts.min() < MIN_PER_CLASS:
                print(f"{method:<9} {domain:<22} fewer than {MIN_PER_CLASS} photos in a class")
                continue
            keep = labels.index.get_indexer(balanced_subset(labels))
            X, y, groups = inversion.w[keep], labels.iloc[keep].to_numpy(int), frame["lsoa_code"].to_numpy()[keep]
            settings = [(str(k), {"axes": axes, "axis_counts": (k,)}) for k in args.axes] + [("all", {})]
            settings.append(("picked", {"axes": axes, "axis_counts": (*args.axes, None)}))
            for label, kw in tqdm(settings, desc=f"{method}/{domain}", leave=False, file=sys.stderr):
                boundary = LatentBoundary(**kw).fit(X, y, groups)
                scores = evaluate(X, y, groups, grouped=True, n_boot=args.bootstrap, **kw)
                direction = Direction.from_latents(domain, boundary.normal_, w)
                if label == "picked":
                    label = f"→{boundary.n_axes_ or 'all'}"
                low, high = scores.intervals["f1"]
                print(
                    f"{method:<9} {domain:<22} {label:>5} {len(y):>5}  {scores.scores['f1']:.3f} [{low:.3f}–{high:.3f}]  "
                    f"{scores.scores['roc_auc']:>7.3f} {direction.sigma:>7.2f} {image_change(generator, direction, n=args.images):>7.1%}",
                    flush=True,
                )
    return 0


def _random_units(n: int, dim: int, seed: int = 0) -> np.ndarray:
    units = np.random.default_rng(seed).normal(size=(n, dim))
    return units / np.linalg.norm(units, axis=1, keepdims=True)


@torch.no_grad()
def _random_pair_change(generator, n: int) -> float:
    ws = sample_ws(generator, 2 * n, seed=1)
    a, b = generator.synthesis(ws[:n]), generator.synthesis(ws[n:])
    return float((a - b).abs().mean() / 2)


if __name__ == "__main__":
    sys.exit(main())
