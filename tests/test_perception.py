"""Pairwise perception: votes in the Place Pulse layout, the synthetic crowd, the ranker and its baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from thisineq.data.synth.crowd import QUESTIONS, ceiling_accuracy, perception_scores, simulate_votes
from thisineq.data.votes import VotesError, check_votes, problems_summary, read_votes
from thisineq.errors import ConfigError
from thisineq.perception.ranker import (
    FeatureBradleyTerry,
    PairwiseRanker,
    accuracy_gap_interval,
    bradley_terry,
    cross_fitted_bradley_terry_accuracy,
    image_split,
    pairwise_accuracy,
)


def _photos(n=6):
    return pd.DataFrame({"image": [f"photos/{i:06d}.png" for i in range(1, n + 1)]}, index=[f"{i:06d}" for i in range(1, n + 1)])


def test_votes_in_place_pulse_spelling_are_read_and_every_unusable_vote_is_reported_with_its_reason(tmp_path):
    path = tmp_path / "votes.csv"
    path.write_text(
        "left_id,right_id,winner,study_id\n"
        "000001,000002,left,safer\n"  # ids
        "000003.png,photos/000004.png,Equal,safer\n"  # file names, any case of winner
        "000001,000099,right,safer\n"  # an image not in the collection
        "000005,000005,left,safer\n"  # against itself
        "000002,000003,draw,safer\n"  # not a winner
        "000077,000088,left,safer\n"
    )
    votes = read_votes(path)
    usable, problems = check_votes(votes, _photos())
    assert usable[["left", "right", "winner"]].values.tolist() == [["000001", "000002", "left"], ["000003", "000004", "equal"]]
    assert problems.set_index("row")["problem"].to_dict() == {
        4: "right image is not in the collection",
        5: "an image against itself",
        6: "winner is not left, right or equal",
        7: "neither image is in the collection",
    }
    assert problems_summary(problems, len(votes)).startswith("4 of 6 votes left out: ")
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(VotesError, match="no column left, right, winner, question"):
        read_votes(tmp_path / "bad.csv")


def _linear_votes(n_items=400, n_votes=6000, dims=6, seed=0):
    """Votes of a crowd whose hidden score is a known linear function of the features, with noise and ties."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n_items, dims))
    hidden = features @ rng.normal(size=dims)
    hidden = (hidden - hidden.mean()) / hidden.std()
    return features, hidden, *_crowd(hidden, n_votes, rng)


def _crowd(hidden, n_votes, rng):
    """Votes (left, right, winner) between random pairs: each voter sees the hidden score plus noise (sd 0.5) and calls
    impressions closer than 0.25 equal."""
    left = rng.integers(len(hidden), size=n_votes)
    right = (left + rng.integers(1, len(hidden), size=n_votes)) % len(hidden)
    noise = rng.normal(0, 0.5, size=(2, n_votes))
    impression = (hidden[left] + noise[0]) - (hidden[right] + noise[1])
    winner = np.where(np.abs(impression) < 0.25, "equal", np.where(impression > 0, "left", "right"))
    return left, right, winner


def test_the_ranker_learns_a_known_linear_score_from_votes_with_ties_on_photos_it_never_saw():
    features, hidden, left, right, winner = _linear_votes()
    held_out = image_split(len(features), 0.25, seed=1)
    train = ~held_out[left] & ~held_out[right]
    test = held_out[left] & held_out[right]
    assert 0.1 < np.mean(winner == "equal") < 0.4
    ranker = PairwiseRanker(hidden=32, steps=1500, seed=0).fit(features, left[train], right[train], winner[train])
    scores = ranker.decision_function(features)
    accuracy = pairwise_accuracy(scores, left[test], right[test], winner[test])
    ceiling = pairwise_accuracy(hidden, left[test], right[test], winner[test])
    baseline = cross_fitted_bradley_terry_accuracy(len(features), left[test], right[test], winner[test])
    assert accuracy > ceiling - 0.03 and accuracy > baseline
    assert stats.spearmanr(scores[held_out], hidden[held_out]).statistic > 0.95


def test_feature_bradley_terry_reads_a_known_linear_score_from_votes_with_ties_as_well_as_the_hidden_score_does():
    features, hidden, left, right, winner = _linear_votes()
    held_out = image_split(len(features), 0.25, seed=1)
    train, test = ~held_out[left] & ~held_out[right], held_out[left] & held_out[right]
    ranker = FeatureBradleyTerry().fit(features, left[train], right[train], winner[train])
    scores = ranker.decision_function(features)
    ceiling = pairwise_accuracy(hidden, left[test], right[test], winner[test])
    assert pairwise_accuracy(scores, left[test], right[test], winner[test]) > ceiling - 0.01
    assert stats.spearmanr(scores[held_out], hidden[held_out]).statistic > 0.99
    assert ranker.tie_ > 0.2  # a fifth of the votes are ties: Davidson's ν is far from 0
    with pytest.raises(ConfigError, match="must have 6 columns"):
        ranker.decision_function(features[:, :4])


def test_feature_bradley_terry_chooses_a_far_stronger_prior_for_features_that_carry_no_signal():
    features, _, left, right, winner = _linear_votes(n_votes=3000)
    noise = np.random.default_rng(5).normal(size=features.shape)
    on_signal = FeatureBradleyTerry().fit(features, left, right, winner)
    on_noise = FeatureBradleyTerry().fit(noise, left, right, winner)
    assert on_noise.prior_ >= 100 * on_signal.prior_
    assert on_noise.prior_ == max(on_noise.held_out_likelihood_, key=on_noise.held_out_likelihood_.get)
    assert np.ptp(on_noise.decision_function(noise)) < 0.2 * np.ptp(on_signal.decision_function(features))
    assert FeatureBradleyTerry(prior=50.0).fit(features, left, right, winner).prior_ == 50.0


def _marked_votes(n_items=300, n_votes=6000, size=16, seed=0):
    """Noisy grey images, each with a 2×2 red mark somewhere whose strength is the crowd's hidden score, and its votes."""
    rng = np.random.default_rng(seed)
    images = rng.integers(60, 140, size=(n_items, size, size, 3)).astype(np.uint8)
    strength = rng.random(n_items)
    rows, columns = rng.integers(size - 2, size=(2, n_items))
    for image, row, column, value in zip(images, rows, columns, strength, strict=True):
        image[row : row + 2, column : column + 2, 0] = 140 + 115 * value
    hidden = (strength - strength.mean()) / strength.std()
    return images, hidden, *_crowd(hidden, n_votes, rng)


def test_the_pixel_ranker_finds_a_small_mark_from_votes_with_ties_on_photos_it_never_saw():
    import torch

    from thisineq.images import from_uint8
    from thisineq.perception.pixels import PixelRanker

    images, hidden, left, right, winner = _marked_votes()
    held_out = image_split(len(images), 0.25, seed=1)
    train, test = ~held_out[left] & ~held_out[right], held_out[left] & held_out[right]
    ranker = PixelRanker(width=8, epochs=40, batch=32).fit(images, left[train], right[train], winner[train])
    scores = ranker.decision_function(images)
    assert scores.shape == (300, 1)
    accuracy = pairwise_accuracy(scores[:, 0], left[test], right[test], winner[test])
    ceiling = pairwise_accuracy(hidden, left[test], right[test], winner[test])
    mean_colour = images.mean(axis=(1, 2)).astype(np.float64)  # the mark moves it a little: a weak control
    control = FeatureBradleyTerry().fit(mean_colour, left[train], right[train], winner[train]).decision_function(mean_colour)
    assert accuracy > ceiling - 0.05  # measured 0.858 against 0.881
    assert accuracy > pairwise_accuracy(control, left[test], right[test], winner[test]) + 0.15  # 0.613
    assert stats.spearmanr(scores[held_out, 0], hidden[held_out]).statistic > 0.85
    # Images as the app holds them (floats in [-1, 1]) score as the photos do; other sizes are resized first.
    pixels = from_uint8(torch.from_numpy(images[:4]).permute(0, 3, 1, 2))
    np.testing.assert_allclose(ranker.score_tensor(pixels), scores[:4], atol=1e-5)
    assert ranker.score_tensor(torch.nn.functional.interpolate(pixels, size=32)).shape == (4, 1)
    smaller = PixelRanker(width=2, epochs=1, max_size=8).fit(images, left[:500], right[:500], winner[:500])
    assert smaller.input_size_ == 8 and smaller.decision_function(images[:3]).shape == (3, 1)  # large images read smaller
    with pytest.raises(ConfigError, match="uint8 images"):
        ranker.fit(images.astype(np.float32), left, right, winner)
    with pytest.raises(ConfigError, match="outside the 300 images"):
        ranker.fit(images, left + 1, right, winner)


def test_bradley_terry_recovers_strengths_from_many_votes_and_leaves_unvoted_photos_at_zero():
    features, hidden, left, right, winner = _linear_votes(n_items=50, n_votes=8000)
    theta = bradley_terry(51, left, right, winner)  # item 50 has no votes
    assert stats.spearmanr(theta[:50], hidden).statistic > 0.95 and theta[50] == 0
    assert pairwise_accuracy(np.zeros(51), left, right, winner) == 0.5


def test_the_gap_to_the_ceiling_has_an_interval_that_resamples_areas_and_widens_when_errors_cluster_in_them():
    rng = np.random.default_rng(0)
    hidden = rng.normal(size=2000)
    area = np.repeat(np.arange(100), 20)  # 20 photos an area
    left, right, winner = _crowd(hidden, 3000, rng)
    assert accuracy_gap_interval(hidden, hidden, left, right, winner, area) == (0.0, 0.0)  # the ceiling itself
    # A ranker that misreads whole areas: a tenth of them scored backwards.
    misread = np.where(np.isin(area, np.arange(10)), -hidden, hidden)
    gap = pairwise_accuracy(hidden, left, right, winner) - pairwise_accuracy(misread, left, right, winner)
    by_area = accuracy_gap_interval(misread, hidden, left, right, winner, area)
    by_photo = accuracy_gap_interval(misread, hidden, left, right, winner, np.arange(len(hidden)))
    assert by_area[0] < gap < by_area[1] and by_photo[0] < gap < by_photo[1]
    assert by_area[1] - by_area[0] > 1.5 * (by_photo[1] - by_photo[0])  # areas that rise and fall together
    assert np.isnan(accuracy_gap_interval(hidden, hidden, left[:3], right[:3], ["equal"] * 3, area)).all()  # no decisive vote


def test_the_synthetic_crowd_votes_from_the_hidden_factors_with_ties_and_a_ceiling_below_one():
    rng = np.random.default_rng(0)
    columns = sorted({f for weights in QUESTIONS.values() for f in weights})
    factors = pd.DataFrame(rng.random((300, len(columns))), columns=columns, index=[f"{i:06d}" for i in range(300)])
    factors["car_count"] = rng.integers(0, 4, 300)
    votes = simulate_votes(factors, pd.Series(factors.index), 5000, seed=3)
    assert set(votes["question"]) == set(QUESTIONS) and (votes["left"] != votes["right"]).all()
    assert 0.1 < np.mean(votes["winner"] == "equal") < 0.35
    for question in QUESTIONS:
        hidden = pd.Series(perception_scores(factors, question), index=factors.index)
        assert hidden.std(ddof=0) == pytest.approx(1.0)
        ceiling = ceiling_accuracy(votes[votes["question"] == question], hidden)
        assert 0.75 < ceiling < 0.97  # the voters' noise costs some decisive votes
    again = simulate_votes(factors, pd.Series(factors.index), 5000, seed=3)
    pd.testing.assert_frame_equal(votes, again)


def test_the_ceiling_is_scored_as_a_ranker_is_a_tie_of_hidden_scores_counting_half():
    hidden = pd.Series([0.0, 1.0, 1.0, 2.0], index=["a", "b", "c", "d"])
    votes = pd.DataFrame(
        {
            "left": ["a", "b", "b", "d", "a"],
            "right": ["b", "c", "c", "c", "d"],
            "winner": ["right", "right", "right", "right", "equal"],
        }
    )
    # b beats a: agrees; b and c are tied twice: half each (not right both times); d lost to c: disagrees; the tie vote is not decisive
    assert ceiling_accuracy(votes, hidden) == pytest.approx((1 + 0.5 + 0.5 + 0) / 4)
    rows = pd.Series(range(4), index=hidden.index)
    as_ranker = pairwise_accuracy(hidden.to_numpy(), rows[votes["left"]], rows[votes["right"]], votes["winner"])
    assert ceiling_accuracy(votes, hidden) == pytest.approx(as_ranker)


def test_the_crowd_judges_only_what_the_render_shows_no_value_of_a_car_that_is_not_there_nor_unpainted_graffiti():
    rng = np.random.default_rng(1)
    columns = sorted({f for weights in QUESTIONS.values() for f in weights})
    factors = pd.DataFrame(rng.random((200, len(columns))), columns=columns)
    factors["car_count"] = np.tile([0, 1, 2, 3], 50)
    wealthier, safer = perception_scores(factors, "wealthier"), perception_scores(factors, "safer")
    changed = factors.copy()
    carless = changed["car_count"] == 0
    changed.loc[carless, "car_value"] = 1.0 - changed.loc[carless, "car_value"]  # other cars' values stay put
    changed.loc[changed["graffiti"] <= 0.05, "graffiti"] = 0.03
    np.testing.assert_allclose(perception_scores(changed, "wealthier"), wealthier)
    np.testing.assert_allclose(perception_scores(changed, "safer"), safer)
    drawn = int(np.flatnonzero(~carless & (factors["car_value"] < 0.5))[0])
    newer = factors.copy()
    newer.loc[drawn, "car_value"] = 1.0  # one drawn car made new and glossy
    assert perception_scores(newer, "wealthier")[drawn] > wealthier[drawn] + 0.3
    with pytest.raises(ConfigError, match="no car_count column"):
        perception_scores(factors.drop(columns="car_count"), "wealthier")


def test_a_synthetic_city_with_votes_ingests_them_by_photo_id_and_names_votes_for_missing_photos(tmp_path, capsys):
    import shutil

    from thisineq.cli import main
    from thisineq.data.dataset import load_dataset

    arguments = ["data", "synth", "--out", str(tmp_path / "city"), "--photos", "40", "--size", "32", "--areas", "10"]
    assert main([*arguments, "--votes", "300", "--workers", "1"]) == 0
    dataset = load_dataset(tmp_path / "city" / "dataset")
    votes = dataset.votes()
    assert len(votes) == 300 and set(votes["left"]) <= set(dataset.photos.index) and set(votes["question"]) == set(QUESTIONS)
    assert dataset.manifest["counts"]["votes"]["usable"] == 300
    # The same collection with two photos gone, and a votes file that still names them:
    city = tmp_path / "city"
    meta = pd.read_csv(city / "metadata.csv")
    meta.iloc[2:].to_csv(tmp_path / "fewer.csv", index=False)
    gone = set(meta["image"].iloc[:2])
    raw = pd.read_csv(city / "votes.csv")
    named = raw["left"].isin(gone) | raw["right"].isin(gone)
    ingest = [
        "data",
        "ingest",
        "--photos",
        str(city),
        "--meta",
        str(tmp_path / "fewer.csv"),
        "--imd",
        str(city / "synthetic_deciles_file2.csv"),
    ]
    ingest += ["--boundaries", str(city / "lsoa_boundaries.geojson"), "--out", str(tmp_path / "fewer"), "--size", "32"]
    assert main([*ingest, "--votes", str(city / "votes.csv"), "--workers", "1"]) == 0
    assert f"votes: {300 - named.sum()} of 300 usable" in capsys.readouterr().out
    problems = pd.read_csv(tmp_path / "fewer" / "vote_problems.csv")
    assert len(problems) == named.sum() > 0 and problems["problem"].str.contains("not in the collection").all()
    (tmp_path / "broken.csv").write_text("left,right\nx,y\n")
    shutil.rmtree(tmp_path / "fewer")
    assert main([*ingest, "--votes", str(tmp_path / "broken.csv"), "--workers", "1"]) == 2
    assert "no column winner, question" in capsys.readouterr().err and not (tmp_path / "fewer").exists()


def test_thisineq_predict_rank_scores_every_photo_and_judges_the_ranker_on_held_out_votes(tmp_path, monkeypatch, capsys):
    import torch

    from thisineq.cli import main
    from thisineq.predict import features as cache

    class MeanColour(torch.nn.Module):  # cheap features on the real path
        def forward(self, images):
            return torch.cat([images.mean(dim=(2, 3)), images.std(dim=(2, 3))], dim=1)

    monkeypatch.setattr(cache, "feature_network", lambda backbone: MeanColour())
    city = tmp_path / "city"
    assert (
        main(
            [
                "data",
                "synth",
                "--out",
                str(city),
                "--photos",
                "120",
                "--size",
                "32",
                "--areas",
                "12",
                "--votes",
                "2000",
                "--workers",
                "1",
            ]
        )
        == 0
    )
    out = tmp_path / "rank"
    arguments = ["predict", "rank", "--dataset", str(city / "dataset"), "--out", str(out), "--steps", "200"]
    assert main([*arguments, "--truth", str(city / "ground_truth.csv"), "--model", "bradley-terry"]) == 0
    ranking = pd.read_csv(out / "ranking.csv")
    assert set(ranking["question"]) == set(QUESTIONS) and (ranking["votes_test"] > 0).all()
    assert ranking[["ranker_accuracy", "baseline_accuracy", "ceiling_accuracy"]].apply(lambda c: c.between(0, 1)).all().all()
    assert (ranking["ranker"] == "bradley-terry").all() and ranking["ranker_prior"].gt(0).all()
    # With the truth, far more votes between the held-out photos judge the ranker against its ceiling.
    assert (ranking["votes_simulated"] == 40000).all()
    assert (ranking["ceiling_accuracy_simulated"] > ranking["ranker_accuracy_simulated"]).all()
    assert ranking["ceiling_accuracy_simulated"].between(0.8, 0.97).all() and ranking["ranker_accuracy_simulated"].gt(0.5).all()
    # Each gap to the ceiling has its 95% interval around it, far narrower on the many simulated votes.
    for suffix in ("", "_simulated"):
        gap = ranking[f"ceiling_accuracy{suffix}"] - ranking[f"ranker_accuracy{suffix}"]
        low, high = ranking[f"ceiling_gap_low{suffix}"], ranking[f"ceiling_gap_high{suffix}"]
        assert (low <= gap + 1e-4).all() and (gap - 1e-4 <= high).all() and (low < high).all(), suffix
    assert (
        (ranking["ceiling_gap_high_simulated"] - ranking["ceiling_gap_low_simulated"])
        < (ranking["ceiling_gap_high"] - ranking["ceiling_gap_low"])
    ).all()
    scores = pd.read_csv(out / "perception_scores.csv", dtype={"photo_id": str})
    assert len(scores) == 120 and set(QUESTIONS) <= set(scores.columns)
    correlations = pd.read_csv(out / "correlations.csv")
    assert {"income", "health"} <= set(correlations["domain"]) and correlations["spearman"].between(-1, 1).all()
    assert main([*arguments, "--questions", "happier"]) == 2
    assert "no votes ask happier" in capsys.readouterr().err
    # The saved rankers score as the fitted ones did (float16 weights: within a hair), images as their cached photos.
    from thisineq.data.dataset import load_dataset
    from thisineq.images import from_uint8
    from thisineq.models.stylegan2 import CheckpointError
    from thisineq.perception.fitted import load_rankers

    rankers = load_rankers(out / "ranker.pt")
    assert set(rankers.rankers) == set(QUESTIONS) and rankers.backbone == cache.PERCEPTION_BACKBONE
    dataset = load_dataset(city / "dataset")
    features = cache.photo_features(dataset, rankers.backbone, progress=False, log=lambda _: None)
    reloaded = rankers.predict(features)
    order = dataset.photos.sort_values("cache_index").index
    fitted = scores.set_index("photo_id").loc[order, list(QUESTIONS)].reset_index(drop=True)
    for question in QUESTIONS:
        assert stats.spearmanr(reloaded[question], fitted[question]).statistic > 0.999
    images = from_uint8(torch.from_numpy(np.array(dataset.images()[:5])).permute(0, 3, 1, 2))
    np.testing.assert_allclose(rankers.score_images(images, MeanColour()).to_numpy(), reloaded.iloc[:5].to_numpy(), atol=1e-5)
    # A votes file of its own, some of whose votes name photos the dataset lacks: those are counted, the rest ranked.
    votes = pd.read_csv(city / "dataset" / "votes.csv", dtype=str).iloc[:1500][["left", "right", "winner", "question"]]
    votes.loc[:9, "left"] = "nowhere.png"
    votes.to_csv(tmp_path / "mine.csv", index=False)
    own = [*arguments[:-2], "--steps", "50", "--votes", str(tmp_path / "mine.csv"), "--out", str(tmp_path / "own")]
    assert main([*own, "--model", "siamese", "--hidden", "16"]) == 0
    assert "10 of 1,500 votes left out: 10 left image is not in the collection" in capsys.readouterr().out
    own_ranking = pd.read_csv(tmp_path / "own" / "ranking.csv")
    assert own_ranking["votes_train"].sum() < ranking["votes_train"].sum() and (own_ranking["ranker"] == "siamese").all()
    siamese = load_rankers(tmp_path / "own" / "ranker.pt").rankers["safer"]
    assert isinstance(siamese, PairwiseRanker) and siamese.hidden == 16
    saved = pd.read_csv(tmp_path / "own" / "perception_scores.csv", dtype={"photo_id": str}).set_index("photo_id")
    assert np.allclose(siamese.decision_function(features), saved.loc[order, "safer"], atol=2e-3)
    # The pixel ranker: one network for every question, reading the photos themselves; saved and reloaded alike.
    pixels = [*own[:-1], str(tmp_path / "pixels"), "--model", "pixels", "--epochs", "2", "--width", "4"]
    assert main(pixels) == 0
    pixel_ranking = pd.read_csv(tmp_path / "pixels" / "ranking.csv")
    assert (pixel_ranking["ranker"] == "pixels").all() and pixel_ranking["ranker_accuracy"].between(0, 1).all()
    pixel = load_rankers(tmp_path / "pixels" / "ranker.pt")
    assert pixel.backbone == "pixels" and pixel.questions == sorted(QUESTIONS)
    saved = pd.read_csv(tmp_path / "pixels" / "perception_scores.csv", dtype={"photo_id": str}).set_index("photo_id")
    read = pixel.score_images(from_uint8(torch.from_numpy(np.array(dataset.images())).permute(0, 3, 1, 2)))
    np.testing.assert_allclose(read.to_numpy(), saved.loc[order, pixel.questions].to_numpy(), atol=2e-3)
    assert main([*pixels[:-4], "--epochs", "0"]) == 2
    assert "epochs and width of at least 1" in capsys.readouterr().err
    # The ensemble (the default): both rankers, each on unit spread over the photos they learned from, averaged.
    assert main([*own[:-1], str(tmp_path / "ensemble"), "--epochs", "30", "--width", "4"]) == 0
    ensemble = load_rankers(tmp_path / "ensemble" / "ranker.pt")
    assert ensemble.backbone == cache.PERCEPTION_BACKBONE and ensemble.pixels.questions == ensemble.questions
    assert (pd.read_csv(tmp_path / "ensemble" / "ranking.csv")["ranker"] == "ensemble").all()
    saved = pd.read_csv(tmp_path / "ensemble" / "perception_scores.csv", dtype={"photo_id": str}).set_index("photo_id")
    photos = from_uint8(torch.from_numpy(np.array(dataset.images())).permute(0, 3, 1, 2))
    read = ensemble.score_images(photos, MeanColour())
    # float16 weights: within a hundredth of the unit spread (a tiny model's pixel scores spread little to begin with)
    np.testing.assert_allclose(read.to_numpy(), saved.loc[order, ensemble.questions].to_numpy(), atol=0.01)
    record = torch.load(tmp_path / "ensemble" / "ranker.pt", weights_only=True)  # damaged copies are named, not crashed on
    for damage, named in (("scales", "incomplete or damaged"), ("rankers", "different questions"), ("pixels", "damaged")):
        broken = {**record}
        if damage == "rankers":
            broken["rankers"] = {q: r for q, r in record["rankers"].items() if q != "safer"}
        elif damage == "pixels":
            broken["pixels"] = {**record["pixels"], "width": 5}
        else:
            del broken["scales"]
        torch.save(broken, tmp_path / "broken.pt")
        with pytest.raises(CheckpointError, match=named):
            load_rankers(tmp_path / "broken.pt")
    parts = ensemble.features.score_images(photos, MeanColour()), ensemble.pixels.score_images(photos)
    for question in ensemble.questions:  # every photo has votes here: the scales are the spread over them all
        by_features, by_pixels = parts[0][question], parts[1][question]
        expected = [by_features.mean(), by_features.std(ddof=0), by_pixels.mean(), max(by_pixels.std(ddof=0), 0.01)]
        np.testing.assert_allclose(ensemble.scales[question], expected, rtol=0.01, atol=1e-3)
    (tmp_path / "none.csv").write_text("left,right,winner,question\nnowhere.png,elsewhere.png,left,safer\n", encoding="utf-8")
    assert main([*arguments[:-2], "--votes", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o2")]) == 2
    assert "no vote in" in capsys.readouterr().err and not (tmp_path / "o2").exists()
