"""The step `support`: each walked method's out-of-distribution bands, calibrated and checked on held-out photos.

Per method with boundaries: the photos' codes its boundaries were fitted on (photos of the train
split fit the photos' reference; the held-out ones set the thresholds and, the other half, measure
false alarms), fresh W samples for the generator's reference, and the known-unsupported edits
(±6σ walks, opposed 3σ pushes of two domains) that the bands should flag. The set keeps one
`ood_<method>.npz` per method (plain arrays) and `ood.json` with every threshold and rate. Where the set keeps a
discriminator (`gan/discriminator.pt`), its realism score of every image joins the distances.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from thisineq.data.dataset import load_dataset
from thisineq.invert.batch import load_inversions
from thisineq.io import write_json
from thisineq.latent.normals import BoundarySet
from thisineq.latent.ood import OODConfig, calibrate, detection_rates, fit_support, unsupported_edits
from thisineq.models.importers import kept_discriminator
from thisineq.models.stylegan2 import load_generator, realism_of_latents, sample_w

if TYPE_CHECKING:
    from thisineq.pipeline.runner import Pipeline

MIN_FIT_PHOTOS = 20  # fewer train-split codes than this: a random half of all the codes fits the photos' reference


def support_models(p: Pipeline) -> None:
    """Fit, calibrate and check the bands of every method with boundaries; write the models and the record."""
    paths, config = p.paths, OODConfig(seed=p.config.seed)
    normals = BoundarySet.load(paths.artifacts.normals)
    generator = load_generator(paths.generator).float()
    w_samples = sample_w(generator, config.w_samples, seed=p.config.seed + 1).double().numpy()
    discriminator = kept_discriminator(paths.artifacts.discriminator)
    w_realism = None if discriminator is None else realism_of_latents(generator, discriminator, w_samples)
    photos = paths.labelled_photos()
    areas = load_dataset(paths.train_dataset).lsoas
    record = {"config": {"unusual_quantile": config.unusual_quantile, "unsupported_quantile": config.unsupported_quantile}}
    for method, folder in paths.boundary_latents().items():
        directions = normals.directions(method)
        if not directions or not (folder / "inversion.json").is_file():
            continue
        inversions = load_inversions(folder)
        ids = [str(i) for i in inversions.photo_id]
        fit_rows, held_out_rows, split = _split(photos.loc[ids, "split"].to_numpy(), p.config.seed)
        deciles = photos.loc[ids, [f"{k}_decile" for k in directions]].set_axis(list(directions), axis=1)
        area_deciles = areas[[f"{k}_decile" for k in directions]].set_axis(list(directions), axis=1)
        model = fit_support(
            normals.wspace,
            inversions.w[fit_rows],
            deciles.iloc[fit_rows],
            {k: d.normal for k, d in directions.items()},
            area_deciles,
        )
        held_out = inversions.ws[held_out_rows]
        edits = unsupported_edits(held_out, directions)
        logits, edit_logits = None, None
        if discriminator is not None:
            logits = {"photos": realism_of_latents(generator, discriminator, held_out), "w": w_realism}
            edit_logits = {name: realism_of_latents(generator, discriminator, ws) for name, ws in edits.items()}
        calibration = calibrate(model, held_out, w_samples, config, logits)
        rates = detection_rates(model, edits, edit_logits)
        model.save(paths.artifacts.boundaries / f"ood_{method}.npz")
        record[method] = calibration | {
            "fitted_on": {"photos": len(fit_rows), "how": split},
            "known_unsupported": rates.to_dict("records"),
            "flagged_unsupported": float(np.average(rates["unsupported"], weights=rates["latents"])),
        }
        p.log(
            f"  {method}: false alarms on held-out photos {calibration['false_alarms']['photos']['unsupported']:.1%}, "
            f"known-unsupported edits flagged {record[method]['flagged_unsupported']:.1%}"
        )
    write_json(paths.artifacts.boundaries / "ood.json", record)


def _split(splits: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Rows that fit the photos' reference and rows held out from it: by the dataset's split where it allows."""
    train = np.flatnonzero(splits == "train")
    held_out = np.flatnonzero(splits != "train")
    if len(train) >= MIN_FIT_PHOTOS and len(held_out) >= 8:
        return train, held_out, "train split; val and test held out"
    order = np.random.default_rng(seed).permutation(len(splits))
    return np.sort(order[: len(order) // 2]), np.sort(order[len(order) // 2 :]), "a random half; the other half held out"
