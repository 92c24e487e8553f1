"""The projected discriminator and the training recipes: frozen features, fixed projections, bf16, exact resume."""

from __future__ import annotations

import math

import pytest
import torch

from thisineq.data.synth import city
from thisineq.data.synth.build import SynthConfig, build_city_dataset
from thisineq.errors import ConfigError
from thisineq.models.projected import ProjectedConfig, ProjectedDiscriminator, d_hinge_loss, g_hinge_loss
from thisineq.models.stylegan2 import StyleGAN2Config, safe_load
from thisineq.training.gan import CHECKPOINT, GANTrainConfig, load_discriminator, new_state, train_gan, train_step
from thisineq.training.run import ImageBank, RunFolder

TINY = StyleGAN2Config(size=32, style_dim=32, n_mlp=2, channels={4: 32, 8: 32, 16: 16, 32: 8})
SMALL_PROJECTED = ProjectedConfig(input_size=32, mix_channels=(8, 8, 16, 16), head_min_size=4, head_max_channels=16)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    config = SynthConfig(n_photos=48, size=32, city=city.CityConfig(n_lsoas=30, seed=3))
    return build_city_dataset(tmp_path_factory.mktemp("city") / "city", config, workers=1, progress=False)


def recipe(dataset, run_dir, steps, discriminator, **changes) -> GANTrainConfig:
    settings = dict(
        dataset=str(dataset),
        run_dir=str(run_dir),
        model=TINY,
        discriminator=discriminator,
        projected=SMALL_PROJECTED,
        steps=steps,
        batch=4,
        d_reg_every=2,
        g_reg_every=2,
        checkpoint_every=2,
        sample_every=100,
        metric_every=0,
    )
    return GANTrainConfig(**{**settings, **changes})


def test_the_projected_discriminator_gives_patch_logits_at_every_scale():
    d = ProjectedDiscriminator(SMALL_PROJECTED)
    logits = d(torch.rand(3, 3, 32, 32) * 2 - 1)
    # Input 32: features at sides 8, 4, 2, 1, mixed up to 16, 8, 4, 2; heads halve to 4 or less: 16 + 16 + 16 + 4 patches.
    assert logits.shape == (3, 52)
    assert sum(p.numel() for p in d.parameters() if p.requires_grad) == sum(p.numel() for p in d.heads.parameters())
    assert all(k.startswith("heads.") for k in d.trainable_state_dict())


def test_the_projection_is_fixed_by_its_seed():
    a, b = ProjectedDiscriminator(SMALL_PROJECTED), ProjectedDiscriminator(SMALL_PROJECTED)
    for (name, x), y in zip(a.projection.state_dict().items(), b.projection.state_dict().values(), strict=True):
        assert torch.equal(x, y), name
    other = ProjectedDiscriminator(
        ProjectedConfig(**{**SMALL_PROJECTED.to_dict(), "mix_channels": (8, 8, 16, 16), "projection_seed": 1})
    )
    assert not torch.equal(a.projection.ccm[0].weight, other.projection.ccm[0].weight)


def test_a_projected_training_step_changes_the_heads_only(dataset):
    config = recipe(dataset, "unused", 1, "projected")
    state = new_state(config, torch.device("cpu"))
    d = state.discriminator
    frozen = {k: v.clone() for k, v in d.state_dict().items() if not k.startswith("heads.")}
    heads = {k: v.clone() for k, v in d.trainable_state_dict().items()}
    state.discriminator.train()
    logs = train_step(state, config, ImageBank(dataset, 32))
    assert set(logs) == {"loss_d", "loss_g", "path_length"}  # no R1 under the projected recipe
    assert not d.features.training  # .train() on D leaves the feature network's batch norm in eval mode
    for name, value in d.state_dict().items():
        if name in frozen:
            assert torch.equal(frozen[name], value), f"{name} changed: the feature network and projection must stay fixed"
    assert any(not torch.equal(heads[k], v) for k, v in d.trainable_state_dict().items())
    assert not any(p.requires_grad for p in d.features.parameters()) and not any(
        p.requires_grad for p in d.projection.parameters()
    )


def test_the_pixel_and_projected_pair_trains_both_and_keeps_the_features_frozen(dataset):
    config = recipe(dataset, "unused", 1, "stylegan2+projected")
    state = new_state(config, torch.device("cpu"))
    d = state.discriminator
    pixel_logits, patch_logits = d(torch.rand(3, 3, 32, 32) * 2 - 1)
    assert pixel_logits.shape == (3, 1) and patch_logits.shape == (3, 52)
    before = {k: v.clone() for k, v in d.state_dict().items()}
    d.train()
    logs = train_step(state, config, ImageBank(dataset, 32))
    assert set(logs) == {"loss_d", "r1", "loss_g", "path_length"}  # the pixel D keeps its R1
    assert all(math.isfinite(v) for v in logs.values())
    after = d.state_dict()
    frozen = [k for k in before if k.startswith(("projected.features.", "projected.projection."))]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)
    for part in ("pixel.", "projected.heads."):
        assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith(part)), f"{part} did not learn"
    assert set(d.trainable_state_dict()) == set(before) - set(frozen)
    assert config.resolved_r1_gamma > 0 and config.resolved_range_weight == 0


def test_hinge_losses():
    assert d_hinge_loss(torch.tensor([2.0, 0.0]), torch.tensor([-2.0, 0.0])) == pytest.approx(0.5 + 0.5)
    assert g_hinge_loss(torch.tensor([1.0, 3.0])) == pytest.approx(-2.0)


@pytest.mark.slow
@pytest.mark.parametrize("discriminator", ["stylegan2", "projected", "stylegan2+projected"])
def test_every_recipe_resumes_exactly(dataset, tmp_path, discriminator):
    train_gan(recipe(dataset, tmp_path / "straight", 5, discriminator), progress=False)
    train_gan(recipe(dataset, tmp_path / "resumed", 2, discriminator), progress=False)
    train_gan(recipe(dataset, tmp_path / "resumed", 5, discriminator), progress=False)
    a, b = safe_load(tmp_path / "straight" / CHECKPOINT), safe_load(tmp_path / "resumed" / CHECKPOINT)
    assert a["step"] == b["step"] == 5
    for part in ("g", "d", "g_ema"):
        for key in a[part]:
            assert torch.allclose(a[part][key].float(), b[part][key].float(), atol=1e-6), (part, key)
    d = load_discriminator(tmp_path / "straight" / CHECKPOINT)
    # A pair gives its pixel D as the realism scorer.
    assert type(d).__name__ == ("ProjectedDiscriminator" if discriminator == "projected" else "Discriminator")


def test_bf16_steps_keep_the_losses_and_regularisers_finite(dataset):
    config = recipe(dataset, "unused", 4, "stylegan2", precision="bf16")
    state = new_state(config, torch.device("cpu"))
    bank = ImageBank(dataset, 32)
    logs = [train_step(state, config, bank) for _ in range(4)]
    assert {"r1", "path_length"} <= set(logs[0]) | set(logs[2])
    assert all(math.isfinite(v) for entry in logs for v in entry.values())
    assert all(torch.isfinite(p).all() for p in state.generator.parameters())
    assert all(p.dtype == torch.float32 for p in state.generator.parameters())  # autocast: weights stay float32


def test_the_recipe_settings_are_checked_and_round_trip():
    with pytest.raises(ConfigError, match="discriminator must be one of stylegan2, projected, stylegan2\\+projected"):
        GANTrainConfig(dataset="d", run_dir="r", discriminator="patchgan")
    with pytest.raises(ConfigError, match="precision"):
        GANTrainConfig(dataset="d", run_dir="r", precision="fp8")
    with pytest.raises(ConfigError, match="multiple of 32"):
        ProjectedConfig(input_size=48)
    config = GANTrainConfig(dataset="d", run_dir="r", discriminator="projected", projected=SMALL_PROJECTED, precision="bf16")
    assert GANTrainConfig.from_dict(config.to_dict()) == config
    assert config.resolved_r1_gamma == 0 and GANTrainConfig(dataset="d", run_dir="r").resolved_r1_gamma > 0
    old = GANTrainConfig(dataset="d", run_dir="r").to_dict()
    del old["projected"], old["discriminator"], old["precision"]  # a run folder from before the projected recipe
    assert GANTrainConfig.from_dict(old).discriminator == "stylegan2"


def test_a_run_stops_on_its_time_limit_and_snapshots_on_the_minute(dataset, tmp_path):
    second = 1 / 60
    run = train_gan(
        recipe(dataset, tmp_path / "run", 10**6, "stylegan2", max_minutes=3.5 * second, snapshot_minutes=second), progress=False
    )
    checkpoint = safe_load(run / CHECKPOINT)
    assert 3.5 <= checkpoint["wall_seconds"] < 60 and checkpoint["step"] < 10**6
    snapshots = RunFolder(run, {}).snapshots()
    # One snapshot per whole second crossed: 1–3, and 4 too when a loaded machine's last step overran the mark.
    assert _counting_up(snapshots, 3, checkpoint["wall_seconds"])
    assert all(path.with_suffix(".png").is_file() for path in snapshots.values())
    # A longer limit trains the same run on; the snapshot times keep counting from where it stopped.
    train_gan(
        recipe(dataset, tmp_path / "run", 10**6, "stylegan2", max_minutes=5.5 * second, snapshot_minutes=second), progress=False
    )
    again = safe_load(run / CHECKPOINT)
    assert again["step"] > checkpoint["step"] and _counting_up(RunFolder(run, {}).snapshots(), 5, again["wall_seconds"])


def _counting_up(snapshots: dict, at_least: int, wall_seconds: float) -> bool:
    """Snapshots numbered 1, 2, … without a gap, at least `at_least` of them, and none past the run's wall time."""
    return list(snapshots) == list(range(1, len(snapshots) + 1)) and at_least <= len(snapshots) <= wall_seconds


def test_snapshot_times_crossed_by_a_step():
    from thisineq.training.gan import snapshot_times_crossed

    config = GANTrainConfig(dataset="d", run_dir="r", snapshot_minutes=10)
    assert snapshot_times_crossed(config, 599.0, 601.0) == [600]
    assert snapshot_times_crossed(config, 601.0, 1199.0) == []
    assert snapshot_times_crossed(config, 1199.0, 2500.0) == [1200, 1800, 2400]
    assert snapshot_times_crossed(GANTrainConfig(dataset="d", run_dir="r"), 0.0, 1e6) == []


@pytest.mark.parametrize("discriminator", ["stylegan2", "projected", "stylegan2+projected"])
def test_a_run_goes_on_elsewhere_from_its_small_continuation_file(dataset, tmp_path, discriminator):
    from thisineq.training.gan import continue_state, export_continuation

    run = train_gan(recipe(dataset, tmp_path / "first", 3, discriminator), progress=False)
    path = export_continuation(run, tmp_path / "continuation.pt")
    record = safe_load(path)
    assert all(v.dtype == torch.float16 for part in ("g", "g_ema", "d") for v in record[part].values() if v.is_floating_point())
    assert "g_optim" not in record and "d_optim" not in record
    # The frozen features and the seeded projection are not stored.
    assert not any(".features." in f".{k}" or ".projection." in f".{k}" for k in record["d"])
    if discriminator == "stylegan2+projected":
        assert any(k.startswith("pixel.") for k in record["d"]) and any(k.startswith("projected.heads.") for k in record["d"])
    later = recipe(dataset, tmp_path / "elsewhere", 5, discriminator, continue_from=str(path))
    state = new_state(later, torch.device("cpu"))
    continue_state(state, later, path)
    original = safe_load(run / CHECKPOINT)
    assert state.step == 3
    for key, value in state.ema.state_dict().items():  # as trained, but for float16 rounding
        assert torch.allclose(value.float(), original["g_ema"][key].float(), rtol=1e-3, atol=1e-4), key
    train_gan(later, progress=False)
    assert safe_load(tmp_path / "elsewhere" / CHECKPOINT)["step"] == 5
    with pytest.raises(ConfigError, match="other settings"):
        continue_state(new_state(later, torch.device("cpu")), recipe(dataset, tmp_path / "x", 5, discriminator, lr=0.1), path)
    with pytest.raises(ValueError, match="not a GAN continuation file"):
        continue_state(state, later, run / CHECKPOINT)


@pytest.mark.slow
def test_going_on_from_the_continuation_file_keeps_the_run_within_its_own_noise(dataset, tmp_path):
    """Issue 14: N steps from the small continuation file (fresh optimisers, no RNG state) land as close to the run that
    never stopped as that run's own repeats with another random stream do (measured: 1.03× their largest distance here;
    a warm start with a fresh D, which set the demo's run back, lands 1.3× away)."""
    import shutil

    from thisineq.models.stylegan2 import load_generator, sample_z
    from thisineq.training.gan import GENERATOR, export_continuation

    first, more = 40, 40
    run = tmp_path / "run"
    train_gan(recipe(dataset, run, first, "stylegan2"), progress=False)
    path = export_continuation(run, tmp_path / "continuation.pt")
    shutil.copytree(run, tmp_path / "at_first")
    finished = {}
    for name, seed in (("never_stopped", None), ("repeat_1", 123), ("repeat_2", 456)):
        shutil.rmtree(run)
        shutil.copytree(tmp_path / "at_first", run)
        if seed is not None:  # the same run from the same full checkpoint, on another random stream
            checkpoint = safe_load(run / CHECKPOINT)
            checkpoint["torch_rng"] = torch.Generator().manual_seed(seed).get_state()
            torch.save(checkpoint, run / CHECKPOINT)
        train_gan(recipe(dataset, run, first + more, "stylegan2"), progress=False)
        finished[name] = load_generator(run / GENERATOR).eval()
    continued = recipe(dataset, tmp_path / "elsewhere", first + more, "stylegan2", continue_from=str(path))
    finished["continued"] = load_generator(train_gan(continued, progress=False) / GENERATOR).eval()
    finished["at_first"] = load_generator(tmp_path / "at_first" / GENERATOR).eval()
    z = sample_z(finished["never_stopped"], 64, seed=7)
    with torch.no_grad():
        images = {name: g(z) for name, g in finished.items()}
    distance = {name: float((images[name] - images["never_stopped"]).abs().mean()) for name in images}
    noise = max(distance["repeat_1"], distance["repeat_2"])
    assert distance["continued"] <= 1.25 * noise, distance
    assert noise < 0.5 * distance["at_first"], distance  # the N steps moved the run well beyond its noise


def test_the_range_penalty_counts_only_what_leaves_the_image_range():
    from thisineq.training.gan import g_range_penalty

    assert g_range_penalty(torch.tensor([[-1.0, 0.0, 1.0]])) == 0
    assert g_range_penalty(torch.tensor([[3.0, -2.0, 0.5, 0.0]])) == pytest.approx((4 + 1) / 4)
    assert GANTrainConfig(dataset="d", run_dir="r", discriminator="projected").resolved_range_weight == 1.0
    assert GANTrainConfig(dataset="d", run_dir="r").resolved_range_weight == 0.0


def test_a_recipe_run_records_its_cores_and_threads_and_the_report_says_them(tmp_path):
    from thisineq.pipeline.recipes import conditions_line, conditions_text, record_conditions

    recorded = record_conditions(tmp_path / "stylegan2")
    assert recorded["torch_threads"] == torch.get_num_threads() and recorded["cpu_count"] >= 1
    text = conditions_text({r: conditions_line(tmp_path, r) for r in ("stylegan2", "projected")})
    assert f"{recorded['torch_threads']} torch thread(s)" in text
    assert "- projected: no record of its cores and threads" in text
