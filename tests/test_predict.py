"""Decile prediction from image features (Suel et al.): the binomial link, the ordinal model, folds, measures, cache."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from thisineq.data.synth import city
from thisineq.data.synth.build import SynthConfig, build_city_dataset
from thisineq.errors import ConfigError
from thisineq.predict.evaluate import (
    fold_assignments,
    location_ids,
    lsoa_measures,
    lsoa_predictions,
    out_of_fold_predictions,
)
from thisineq.predict.ordinal import OrdinalDecileRegressor, binomial_log_probabilities


def test_the_binomial_link_sums_to_one_and_moves_every_decile_up_as_the_score_rises():
    scores = torch.linspace(-6, 6, 49)
    p = binomial_log_probabilities(scores).exp()
    torch.testing.assert_close(p.sum(-1), torch.ones(49), atol=1e-5, rtol=0)
    cdf = p.cumsum(-1)[:, :-1]  # P(decile ≤ k): falls for every k as the score rises (first-order dominance)
    assert (cdf[1:] <= cdf[:-1] + 1e-7).all()
    expected = (p * torch.arange(1, 11)).sum(-1)
    assert (expected.diff() > 0).all() and expected[0] < 1.1 and expected[-1] > 9.9
    torch.testing.assert_close(p[24], torch.distributions.Binomial(9, probs=torch.tensor(0.5)).log_prob(torch.arange(10.0)).exp())


def _areas(n_lsoas=60, photos_per_location=2, locations_per_lsoa=4, noise=1.0, seed=0):
    """Photos whose features carry their LSOA's decile linearly (plus noise), a few photos per location."""
    rng = np.random.default_rng(seed)
    rows, features = [], []
    for a in range(n_lsoas):
        decile = a % 10 + 1
        for loc in range(locations_per_lsoa):
            lat, lon = 51 + a / 100 + loc / 1e4, -0.1
            for _ in range(photos_per_location):
                rows.append({"lsoa_code": f"E{a:08d}", "lat": lat, "lon": lon, "income_decile": decile})
                signal = (decile - 5.5) / 3
                features.append(np.r_[signal + noise * rng.normal(), rng.normal(size=7)])
    return pd.DataFrame(rows), np.array(features)


def test_the_ordinal_model_recovers_deciles_the_features_carry_and_not_from_noise():
    photos, features = _areas()
    model = OrdinalDecileRegressor(hidden=(16,), steps=600, seed=0)
    for grouping in ("stratified", "lsoa"):
        predicted = out_of_fold_predictions(features, photos, "income", grouping=grouping, folds=5, estimator=model)
        measures = lsoa_measures(lsoa_predictions(photos, predicted, "income"))
        assert measures.kendall_tau > 0.6 and measures.within_one > 0.6 and measures.n_lsoas == 60
    shuffled = features[np.random.default_rng(1).permutation(len(features))]
    noise = lsoa_measures(
        lsoa_predictions(photos, out_of_fold_predictions(shuffled, photos, "income", grouping="lsoa", estimator=model), "income")
    )
    assert abs(noise.kendall_tau) < 0.25


def test_a_locations_photos_share_one_score_and_the_probabilities_are_a_distribution():
    photos, features = _areas(n_lsoas=20)
    locations = location_ids(photos)
    model = OrdinalDecileRegressor(hidden=(8,), steps=20).fit(features, photos["income_decile"], locations)
    scores = model.decision_function(features, locations)
    assert np.allclose(scores[0::2], scores[1::2])  # two photos per location
    proba = model.predict_proba(features, locations)
    assert proba.shape == (len(photos), 10) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert np.all((model.predict(features) >= 1) & (model.predict(features) <= 10))


def test_folds_keep_a_location_together_and_lsoa_folds_keep_an_area_on_one_side():
    photos, _ = _areas()
    deciles = photos["income_decile"].to_numpy()
    stratified = fold_assignments(photos, deciles, grouping="stratified", folds=5, seed=0)
    assert pd.Series(stratified).groupby(location_ids(photos)).nunique().max() == 1
    grouped = fold_assignments(photos, deciles, grouping="lsoa", folds=5, seed=0)
    assert pd.Series(grouped).groupby(photos["lsoa_code"].to_numpy()).nunique().max() == 1
    assert set(grouped) == set(range(5))
    with pytest.raises(ConfigError, match="fold grouping 'district'"):
        fold_assignments(photos, deciles, grouping="district", folds=5, seed=0)


def test_bad_input_is_named():
    model = OrdinalDecileRegressor(steps=5)
    with pytest.raises(ConfigError, match="whole numbers from 1 to 10"):
        model.fit(np.zeros((3, 2)), [0, 5, 11])
    with pytest.raises(ConfigError, match="NaN"):
        model.fit(np.array([[np.nan, 1.0]]), [3])
    model.fit(np.random.default_rng(0).normal(size=(20, 2)), np.arange(20) % 10 + 1)
    with pytest.raises(ConfigError, match="fitted on 2"):
        model.predict(np.zeros((1, 3)))


def test_the_extremes_are_counted_and_the_measures_read_lsoas_not_photos():
    table = pd.DataFrame(
        {"true": [1, 1, 10, 5, 10], "predicted": [9.7, 1.2, 1.4, 5.0, 9.6], "predicted_decile": [10, 1, 1, 5, 10]},
        index=list("abcde"),
    )
    measures = lsoa_measures(table)
    assert (measures.extremes_1_as_10, measures.extremes_10_as_1, measures.n_lsoas) == (1, 1, 5)
    assert measures.within_one == pytest.approx(3 / 5)


class _CountingNetwork(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.images = 0

    def forward(self, images):
        self.images += len(images)
        return images.mean(dim=(2, 3))


def test_features_are_cached_with_the_dataset_resumed_by_block_and_recomputed_for_other_photos(tmp_path, monkeypatch):
    from thisineq.data.dataset import load_dataset
    from thisineq.predict import features as cache

    root = build_city_dataset(
        tmp_path / "city", SynthConfig(n_photos=40, size=32, city=city.CityConfig(n_lsoas=10, seed=2)), workers=1, progress=False
    )
    monkeypatch.setattr(cache, "BLOCK", 16)
    dataset = load_dataset(root)
    network = _CountingNetwork()
    first = cache.photo_features(dataset, "efficientnet", network=network, progress=False, log=lambda _: None)
    assert first.shape == (40, 3) and network.images == 40
    again = cache.photo_features(dataset, "efficientnet", network=network, progress=False, log=lambda _: None)
    assert network.images == 40 and np.array_equal(first, again)  # read from the cache
    (root / "features" / "efficientnet.npy").unlink()  # as if stopped after two of three blocks:
    blocks = root / "features" / "efficientnet.blocks"
    blocks.mkdir()
    (blocks / "key").write_text(cache.photo_set_key(dataset, "efficientnet"))
    for start in (0, 16):
        np.save(blocks / f"{start:08d}.npy", first[start : start + 16].astype(np.float16))
    cache.photo_features(dataset, "efficientnet", network=network, progress=False, log=lambda _: None)
    assert network.images == 40 + 8  # only the last block computed
    dataset.photos.loc[dataset.photos.index[0], "sha256"] = "0" * 64  # another photo set: computed again
    cache.photo_features(dataset, "efficientnet", network=network, progress=False, log=lambda _: None)
    assert network.images == 40 + 8 + 40
    with pytest.raises(ConfigError, match="unknown feature backbone 'resnet'"):
        cache.feature_network("resnet")


def test_thisineq_predict_trains_resumes_and_scores_another_dataset(tmp_path, monkeypatch):
    from thisineq.cli import main
    from thisineq.predict import features as cache
    from thisineq.predict.run import load_predictor

    monkeypatch.setattr(cache, "feature_network", lambda backbone: _CountingNetwork())  # cheap features, same path
    cities = {
        name: build_city_dataset(
            tmp_path / name,
            SynthConfig(n_photos=80, size=32, city=city.CityConfig(n_lsoas=20, seed=seed)),
            workers=1,
            progress=False,
        )
        for name, seed in (("lab", 3), ("other", 5))
    }
    out = tmp_path / "predict"
    arguments = ["predict", "train", "--dataset", str(cities["lab"]), "--out", str(out), "--domains", "income", "health"]
    assert main([*arguments, "--folds", "2", "--steps", "30", "--hidden", "8"]) == 0
    measures = pd.read_csv(out / "measures.csv")
    assert set(zip(measures["domain"], measures["grouping"], strict=True)) == {
        (d, g) for d in ("income", "health") for g in ("stratified", "lsoa")
    }
    assert measures["n_lsoas"].eq(20).all() and measures["within_one"].between(0, 1).all()
    predictions = pd.read_csv(out / "predictions.csv", dtype={"photo_id": str})
    assert len(predictions) == 4 * 80 and predictions["predicted"].between(1, 10).all()
    stamp = (out / "parts" / "income-lsoa.csv").stat().st_mtime_ns
    assert main([*arguments, "--folds", "2", "--steps", "30", "--hidden", "8"]) == 0
    assert (out / "parts" / "income-lsoa.csv").stat().st_mtime_ns == stamp  # finished parts are kept
    assert main([*arguments, "--folds", "3", "--steps", "30", "--hidden", "8"]) == 0
    assert (out / "parts" / "income-lsoa.csv").stat().st_mtime_ns != stamp  # other settings: done again
    predictor = load_predictor(out / "predictor.pt")
    assert set(predictor.models) == {"income", "health"} and predictor.backbone == "vgg-texture"
    assert (
        main(
            [
                "predict",
                "score",
                "--predictor",
                str(out / "predictor.pt"),
                "--dataset",
                str(cities["other"]),
                "--out",
                str(tmp_path / "s.csv"),
            ]
        )
        == 0
    )
    scores = pd.read_csv(tmp_path / "s.csv", dtype={"photo_id": str})
    assert len(scores) == 80 and {"photo_id", "lsoa_code", "income", "health"} <= set(scores.columns)
    # Images scored directly (as the pages will score edited ones) read as the cached photos do, each its own location.
    from thisineq.data.dataset import load_dataset
    from thisineq.images import from_uint8

    other = load_dataset(cities["other"])
    images = from_uint8(torch.from_numpy(np.array(other.images()[:10])).permute(0, 3, 1, 2))
    direct = predictor.score_images(images, _CountingNetwork())
    cached = predictor.predict(cache.photo_features(other, "efficientnet", progress=False, log=lambda _: None)[:10])
    np.testing.assert_allclose(direct.to_numpy(), cached.to_numpy(), atol=1e-5)


def test_thisineq_predict_names_bad_input(tmp_path, capsys):
    from thisineq.cli import main

    assert main(["predict", "train", "--dataset", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    assert "not a thisineq dataset" in capsys.readouterr().err
    assert main(["predict", "train", "--dataset", str(tmp_path), "--out", str(tmp_path / "o"), "--domains", "wealth"]) == 2
    assert "unknown IoD2019 domain 'wealth'" in capsys.readouterr().err
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    assert (
        main(
            [
                "predict",
                "score",
                "--predictor",
                str(tmp_path / "junk.pt"),
                "--dataset",
                str(tmp_path),
                "--out",
                str(tmp_path / "s.csv"),
            ]
        )
        == 2
    )
    assert "not a PyTorch checkpoint" in capsys.readouterr().err and not (tmp_path / "s.csv").exists()


class _BrightnessGenerator:
    """A stand-in generator whose image is grey at the level of the code's first value: walking that axis brightens it."""

    def synthesis(self, ws):
        return torch.tanh(ws[:, 0, 0]).view(-1, 1, 1, 1).expand(-1, 3, 8, 8)


def test_walk_readings_follow_what_the_predictor_reads_and_agreement_has_the_walks_sign():
    from thisineq.app.readings import read_latent_grid, readings_line
    from thisineq.latent.normals import Direction
    from thisineq.predict.reader import ImageReader, walk_agreement, walk_readings
    from thisineq.predict.run import DecilePredictor

    rng = np.random.default_rng(0)
    brightness = rng.uniform(-1, 1, 600)
    features = np.repeat(brightness[:, None], 3, axis=1)  # what _CountingNetwork reads: the mean colour
    deciles = np.clip(np.ceil((brightness + 1) * 5), 1, 10).astype(int)  # brighter reads as more privileged
    model = OrdinalDecileRegressor(hidden=(8,), steps=300).fit(features, deciles)
    reader = ImageReader(DecilePredictor("efficientnet", {"income": model}), None, None, {"efficientnet": _CountingNetwork()})
    codes = torch.from_numpy(rng.uniform(-0.5, 0.5, (6, 4, 5))).float()
    up = Direction("income", np.eye(5)[0], 0.2)
    readings = walk_readings(reader, _BrightnessGenerator(), codes, up, [-2, -1, 0, 1, 2], batch=4)
    assert len(readings) == 6 * 5 and list(readings.columns) == ["image", "step", "income"]
    towards = walk_agreement(readings, "income")
    assert len(towards) == 6 and (towards["spearman"] > 0.9).all() and (towards["change"] > 0).all()
    down = walk_agreement(
        walk_readings(reader, _BrightnessGenerator(), codes, Direction("income", -np.eye(5)[0], 0.2), [-1, 0, 1]), "income"
    )
    assert (down["spearman"] < 0).all()
    flat = walk_agreement(
        walk_readings(reader, _BrightnessGenerator(), codes, Direction("income", np.eye(5)[1], 0.2), [-1, 1]), "income"
    )
    assert flat["spearman"].isna().all() and np.allclose(flat["change"], 0)  # an axis the image ignores moves nothing
    # A walk matrix's latents (sources, domains, steps, num_ws, D) read image by image, labelled by source and step.
    grid_latents = torch.stack(
        [torch.stack([codes[:2] + a * 0.2 * torch.from_numpy(np.eye(5)[0]).float() for a in (-1, 0, 1)], 1)], 1
    )
    grid = read_latent_grid(reader, _BrightnessGenerator(), grid_latents.numpy(), ["seed 0", "seed 1"], ["income"], [-1, 0, 1])
    assert (
        list(grid["source"]) == ["seed 0"] * 3 + ["seed 1"] * 3 and grid.groupby("source")["income"].is_monotonic_increasing.all()
    )
    line = readings_line(reader, grid.iloc[2], grid.iloc[0])
    assert line.startswith("predicted deciles: income ") and "(+" in line


def test_the_image_reader_runs_a_shared_backbone_once_and_a_pixel_ranker_on_the_images_themselves():
    from thisineq.perception.fitted import EnsemblePerceptionRanker, PerceptionRanker, PixelPerceptionRanker
    from thisineq.perception.pixels import PixelRanker
    from thisineq.perception.ranker import FeatureBradleyTerry
    from thisineq.predict.reader import ImageReader
    from thisineq.predict.run import DecilePredictor

    rng = np.random.default_rng(1)
    brightness = rng.uniform(-1, 1, 300)
    features = np.repeat(brightness[:, None], 3, axis=1)
    deciles = np.clip(np.ceil((brightness + 1) * 5), 1, 10).astype(int)
    predictor = DecilePredictor("efficientnet", {"income": OrdinalDecileRegressor(hidden=(8,), steps=200).fit(features, deciles)})
    left, right = rng.integers(300, size=(2, 3000))
    winner = np.where(brightness[left] > brightness[right], "left", "right")
    ranker = PerceptionRanker("efficientnet", {"safer": FeatureBradleyTerry(prior=1.0).fit(features, left, right, winner)})
    network = _CountingNetwork()
    images = torch.linspace(-0.9, 0.9, 5).view(5, 1, 1, 1).expand(5, 3, 8, 8)
    read = ImageReader(predictor, ranker, None, {"efficientnet": network}).read(images)
    assert network.images == 5 and list(read.columns) == ["income", "safer"]  # both models, one pass of the backbone
    assert read["income"].is_monotonic_increasing and read["safer"].is_monotonic_increasing
    photos = ((images.permute(0, 2, 3, 1).numpy() + 1) * 127.5).round().astype(np.uint8)
    pixel = PixelRanker(width=2, epochs=1, batch=4).fit(photos, [0, 1, 2], [3, 4, 0], ["left", "equal", "right"])
    read = ImageReader(predictor, PixelPerceptionRanker(pixel, ["livelier"]), None, {"efficientnet": network}).read(images)
    assert network.images == 10 and list(read.columns) == ["income", "livelier"]
    np.testing.assert_allclose(read["livelier"], pixel.decision_function(photos)[:, 0], atol=1e-5)
    # The ensemble reads both: the shared backbone's features (still once) and the pixels.
    pixels = PixelPerceptionRanker(pixel, ["safer"])
    scales = {"safer": np.array([0.0, 2.0, 0.0, 0.5])}
    read = ImageReader(predictor, EnsemblePerceptionRanker(ranker, pixels, scales), None, {"efficientnet": network}).read(images)
    assert network.images == 15 and list(read.columns) == ["income", "safer"]
    by_features, by_pixels = ranker.score_images(images, network)["safer"], pixels.score_images(images)["safer"]
    np.testing.assert_allclose(read["safer"], (by_features / 2 + by_pixels / 0.5) / 2, atol=1e-5)


def test_the_texture_backbone_keeps_marks_a_pixel_wide_that_the_deep_averages_lose():
    from thisineq.artifacts import demo_set
    from thisineq.data.dataset import load_dataset
    from thisineq.images import from_uint8
    from thisineq.predict.features import feature_network, image_features

    photos = from_uint8(torch.from_numpy(np.array(load_dataset(demo_set().dataset).images()[:48])).permute(0, 3, 1, 2))
    marked = photos.clone()
    rng = np.random.default_rng(0)
    for image in marked:  # a few bright one-pixel strokes low on each facade, as graffiti is drawn
        for _ in range(4):
            row, column = int(rng.integers(40, 48)), int(rng.integers(0, 52))
            image[:, row, column : column + 10] = torch.tensor([1.0, -1.0, 1.0])[:, None]
    shifts, dims = {}, {}
    for backbone in ("vgg", "vgg-texture", "vgg-bands", "vgg-bands-192"):
        network = feature_network(backbone)
        before, after = image_features(photos, network), image_features(marked, network)
        between_streets = np.median(np.linalg.norm(before[:, None] - before[None], axis=2)[np.triu_indices(len(before), 1)])
        shifts[backbone] = float(np.median(np.linalg.norm(after - before, axis=1)) / between_streets)
        dims[backbone] = (len(network.blocks), before.shape[1])
    assert dims["vgg-texture"] == (3, 2 * (64 + 128 + 256))  # relu1_2…relu3_3, mean and spread
    assert dims["vgg-bands"] == dims["vgg-bands-192"] == (3, 3 * 2 * (64 + 128 + 256))  # the same, per third
    assert shifts["vgg-texture"] > 2 * shifts["vgg"], shifts
    assert shifts["vgg-bands-192"] > 1.2 * shifts["vgg-bands"], shifts  # at 192 px relu3_3 resolves the stroke


def test_the_banded_backbone_tells_a_mark_on_the_wall_from_the_same_mark_on_the_pavement():
    from thisineq.artifacts import demo_set
    from thisineq.data.dataset import load_dataset
    from thisineq.images import from_uint8
    from thisineq.metrics.quality import VGGFeatures
    from thisineq.predict.features import VGG_BLOCKS, feature_network, image_features

    photos = from_uint8(torch.from_numpy(np.array(load_dataset(demo_set().dataset).images()[:24])).permute(0, 3, 1, 2))
    high, low = photos.clone(), photos.clone()
    rng = np.random.default_rng(0)
    for a, b in zip(high, low, strict=True):  # the same strokes, once near the top and once near the bottom
        for _ in range(4):
            row, column = int(rng.integers(2, 10)), int(rng.integers(0, 52))
            stroke = torch.tensor([1.0, -1.0, 1.0])[:, None]
            a[:, row, column : column + 10], b[:, 63 - row, column : column + 10] = stroke, stroke
    gaps = {}
    for bands in (1, 3):
        network = VGGFeatures(input_size=128, layers=(0, 1, 2), statistics=("mean", "std"), bands=bands)
        before = image_features(photos, network)
        between_streets = np.median(np.linalg.norm(before[:, None] - before[None], axis=2)[np.triu_indices(len(before), 1)])
        gap = image_features(high, network) - image_features(low, network)
        gaps[bands] = float(np.median(np.linalg.norm(gap, axis=1)) / between_streets)
    assert before.shape[1] == 3 * 2 * (64 + 128 + 256)  # three strips, each with every block's mean and spread
    assert gaps[3] > 2 * gaps[1], gaps
    banded = [name for name, blocks in VGG_BLOCKS.items() if blocks.get("bands", 1) > 1]
    assert banded and feature_network(banded[0]).bands == 3
    with pytest.raises(ValueError, match="bands"):
        VGGFeatures(input_size=64, layers=(0, 1, 2), bands=17)  # relu3_3 is 16 rows high at 64 px
