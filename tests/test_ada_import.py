"""Importing stylegan2-ada-pytorch snapshots: read as data with a restricted unpickler, never running what they carry."""

from __future__ import annotations

import pickle
import sys
import types
from pathlib import Path

import pytest
import torch

from thisineq.models.ada_snapshot import UnsafeSnapshotError, read_ada_snapshot
from thisineq.models.stylegan2 import minibatch_stddev

FIXTURE = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "stylegan2-ada-pytorch-32"
SNAPSHOT = FIXTURE / "network-snapshot-000100.pkl"
needs_fixture = pytest.mark.skipif(not SNAPSHOT.is_file(), reason=f"the stylegan2-ada-pytorch fixture is not at {FIXTURE}")


@needs_fixture
def test_a_real_snapshot_reads_as_inert_records_with_every_tensor():
    import json

    snapshot = read_ada_snapshot(SNAPSHOT)
    config = json.loads((FIXTURE / "config.json").read_text())
    assert set(snapshot.networks) == {"G", "D", "G_ema"}
    g = snapshot.networks["G_ema"]
    assert g.class_name == "Generator" and g.init_kwargs == config["G_kwargs"]
    assert snapshot.networks["D"].init_kwargs == config["D_kwargs"]
    weights = g.state_dict()
    assert weights["synthesis.b4.const"].shape == (64, 4, 4) and weights["mapping.w_avg"].shape == (64,)
    assert weights["synthesis.b32.conv1.noise_const"].shape == (32, 32)
    assert all(isinstance(v, torch.Tensor) for v in weights.values())
    assert not torch.equal(weights["mapping.fc0.weight"], snapshot.networks["G"].state_dict()["mapping.fc0.weight"])
    assert snapshot.extras["training_set_kwargs"]["resolution"] == 32 and len(snapshot.sha256) == 64


class _Persistent:
    """Pickles as a stylegan2-ada-pytorch persistent network does: the rebuild function and a meta dict with source code."""

    def __init__(self, source: str):
        self.meta = {
            "type": "class",
            "version": 6,
            "module_src": source,
            "class_name": "Generator",
            "state": {"_parameters": {"w": torch.ones(2)}, "_buffers": {}, "_modules": {}, "_init_kwargs": {"z_dim": 2}},
        }

    def __reduce__(self):
        from torch_utils.persistence import _reconstruct_persistent_obj  # the stand-in below

        return _reconstruct_persistent_obj, (self.meta,)


@pytest.fixture
def persistence_stand_in(monkeypatch):
    """A stand-in `torch_utils.persistence`, only so that pickle can write the reference NVIDIA's snapshots hold."""
    package, module = types.ModuleType("torch_utils"), types.ModuleType("torch_utils.persistence")

    def _reconstruct_persistent_obj(meta):  # what NVIDIA's does: run the stored source
        exec(meta["module_src"], {})

    _reconstruct_persistent_obj.__module__ = module.__name__
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    module._reconstruct_persistent_obj = _reconstruct_persistent_obj
    package.persistence = module
    monkeypatch.setitem(sys.modules, "torch_utils", package)
    monkeypatch.setitem(sys.modules, "torch_utils.persistence", module)


def test_a_snapshot_whose_stored_code_would_do_harm_imports_with_nothing_run(tmp_path, persistence_stand_in):
    marker = tmp_path / "pwned"
    source = f"open({str(marker)!r}, 'w').write('ran')"
    path = tmp_path / "network-snapshot-evil.pkl"
    path.write_bytes(pickle.dumps({"G_ema": _Persistent(source), "augment_pipe": None}))
    snapshot = read_ada_snapshot(path)
    assert not marker.exists()  # the stored source was never run
    g = snapshot.networks["G_ema"]
    assert g.init_kwargs == {"z_dim": 2} and torch.equal(g.state_dict()["w"], torch.ones(2))
    # and the same file under an ordinary pickle.load would have run it: the test's premise holds
    pickle.loads(path.read_bytes())
    assert marker.read_text() == "ran"


class _Shell:
    def __reduce__(self):
        import os

        return os.system, ("echo unsafe",)


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ({"G_ema": _Shell()}, "asks for posix.system|asks for os.system"),
        ({"G": [1, 2]}, "holds no G, D or G_ema network"),
        ([1, 2, 3], "holds no G, D or G_ema network"),
    ],
)
def test_anything_else_is_refused_with_its_name(tmp_path, content, named):
    path = tmp_path / "snapshot.pkl"
    path.write_bytes(pickle.dumps(content))
    with pytest.raises(UnsafeSnapshotError, match=named):
        read_ada_snapshot(path)


def test_files_that_are_not_pickles_are_named(tmp_path):
    for name, data in {"empty.pkl": b"", "text.pkl": b"hello", "torch.pkl": None}.items():
        path = tmp_path / name
        if data is None:
            torch.save({"w": torch.ones(1)}, path)  # a zip, not a pickle stream
        else:
            path.write_bytes(data)
        with pytest.raises(UnsafeSnapshotError):
            read_ada_snapshot(path)
    with pytest.raises(UnsafeSnapshotError, match="cannot read"):
        read_ada_snapshot(tmp_path / "missing.pkl")


@needs_fixture
def test_the_converted_generator_and_discriminator_reproduce_the_reference_outputs():
    from thisineq.models.ada_convert import ada_config, ada_discriminator, ada_generator

    snapshot = read_ada_snapshot(SNAPSHOT)
    inputs = torch.load(FIXTURE / "inputs.pt", weights_only=True)
    expected = torch.load(FIXTURE / "expected.pt", weights_only=True)
    g = ada_generator(snapshot.networks["G_ema"])
    assert g.num_ws == int(inputs["num_ws"]) and g.config.channels == {4: 64, 8: 64, 16: 64, 32: 32}
    with torch.no_grad():
        for psi, name in ((1.0, "psi1"), (0.7, "psi07")):
            ws = g.mapping(inputs["z"], psi)[:, None].expand(-1, g.num_ws, -1)
            torch.testing.assert_close(ws, expected[f"ws_{name}"], atol=1e-4, rtol=0)
            torch.testing.assert_close(g.synthesis(ws), expected[f"img_const_{name}"], atol=1e-4, rtol=0)
        torch.testing.assert_close(
            g.synthesis(expected["ws_psi1"], noise_mode="none"), expected["img_none_psi1"], atol=1e-4, rtol=0
        )
        torch.testing.assert_close(g.synthesis(expected["ws_mixed"]), expected["img_from_ws_mixed"], atol=1e-4, rtol=0)
        d = ada_discriminator(snapshot.networks["D"], ada_config(snapshot.networks["G_ema"]))
        torch.testing.assert_close(d(expected["img_const_psi1"]), expected["d_logits_on_img_const_psi1"], atol=1e-4, rtol=0)


@needs_fixture
def test_what_the_conversion_cannot_reproduce_is_refused_by_name():
    import copy

    from thisineq.models.ada_convert import UnsupportedNetworkError, ada_config

    g = read_ada_snapshot(SNAPSHOT).networks["G_ema"]
    for change, named in (
        ({"c_dim": 10, "mapping_kwargs": {"num_layers": 2, "embed_features": 32}}, "class embedding is not w's width"),
        ({"synthesis_kwargs": {**g.init_kwargs["synthesis_kwargs"], "architecture": "resnet"}}, "synthesis architecture"),
    ):
        other = copy.copy(g)
        other.init_kwargs = {**g.init_kwargs, **change}
        with pytest.raises(UnsupportedNetworkError, match=named):
            ada_config(other)


@needs_fixture
def test_a_clamping_snapshot_keeps_its_clamp_where_stylegan2_ada_applies_it():
    """No reference output with a clamp exists here: the clamp is checked for what it must do (a loose one changes
    nothing, a tight one bounds every layer's output), where StyleGAN2-ADA puts it."""
    import copy

    from thisineq.models.ada_convert import ada_config, ada_generator

    snapshot = read_ada_snapshot(SNAPSHOT)
    expected = torch.load(FIXTURE / "expected.pt", weights_only=True)
    record = copy.copy(snapshot.networks["G_ema"])
    for limit, same in ((1e6, True), (0.05, False)):
        record.init_kwargs = {
            **snapshot.networks["G_ema"].init_kwargs,
            "synthesis_kwargs": {**snapshot.networks["G_ema"].init_kwargs["synthesis_kwargs"], "conv_clamp": limit},
        }
        assert ada_config(record).conv_clamp == limit
        g = ada_generator(record)
        outputs: list[torch.Tensor] = []
        clamps = [m for m in g.modules() if type(m).__name__ == "Clamp"]
        hooks = [m.register_forward_hook(lambda m, i, o, outputs=outputs: outputs.append(o)) for m in clamps]
        with torch.no_grad():
            images = g.synthesis(expected["ws_psi1"])
        for hook in hooks:
            hook.remove()
        assert len(outputs) == 7 + 4  # after every StyledConv and ToRGB: 7 convolutions and 4 ToRGBs at 32 px
        assert torch.allclose(images, expected["img_const_psi1"], atol=1e-4) == same
        assert all(o.abs().max() <= limit for o in outputs)


@needs_fixture
def test_a_clamping_discriminator_bounds_every_convolution():
    import copy

    from thisineq.models.ada_convert import ada_config, ada_discriminator

    snapshot = read_ada_snapshot(SNAPSHOT)
    expected = torch.load(FIXTURE / "expected.pt", weights_only=True)
    record = copy.copy(snapshot.networks["D"])
    record.init_kwargs = {**record.init_kwargs, "conv_clamp": 0.05}
    d = ada_discriminator(record, ada_config(snapshot.networks["G_ema"]))
    outputs: list[torch.Tensor] = []
    for m in d.modules():
        if type(m).__name__ == "Clamp":
            m.register_forward_hook(lambda m, i, o, outputs=outputs: outputs.append(o))
    with torch.no_grad():
        logits = d(expected["img_const_psi1"])
    # FromRGB, then conv, downsampling conv and skip of each of the 3 blocks, then the epilogue's conv
    assert len(outputs) == 1 + 3 * 3 + 1 and all(o.abs().max() <= 0.05 for o in outputs)
    assert not torch.allclose(logits, expected["d_logits_on_img_const_psi1"], atol=1e-4)


def test_z_may_have_other_dimensions_than_w():
    from thisineq.models.stylegan2 import Generator, StyleGAN2Config, sample_z

    config = StyleGAN2Config(size=8, style_dim=16, z_dim=24, n_mlp=2, channels={4: 8, 8: 8})
    g = Generator(config).eval()
    z = sample_z(g, 3, seed=0)
    assert z.shape == (3, 24) and g.mapping(z).shape == (3, 16) and g(z).shape == (3, 3, 8, 8)
    assert StyleGAN2Config.from_dict(config.to_dict()) == config
    assert "z_dim" not in StyleGAN2Config(size=8, channels={4: 8, 8: 8}).to_dict()  # unset: records stay as before


@needs_fixture
def test_thisineq_import_writes_the_projects_generator_with_a_model_card(tmp_path):
    from thisineq.cli import main
    from thisineq.models.stylegan2 import load_generator

    expected = torch.load(FIXTURE / "expected.pt", weights_only=True)
    assert main(["import", str(SNAPSHOT), "--out", str(tmp_path / "lab"), "--discriminator"]) == 0
    g = load_generator(tmp_path / "lab" / "generator.pt")  # the loader every page and command uses
    with torch.no_grad():
        torch.testing.assert_close(g.synthesis(expected["ws_psi1"]), expected["img_const_psi1"], atol=1e-4, rtol=0)
    card = (tmp_path / "lab" / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert read_ada_snapshot(SNAPSHOT).sha256 in card and "no code stored in it was run" in card
    assert (tmp_path / "lab" / "samples.png").stat().st_size > 0
    record = torch.load(tmp_path / "lab" / "discriminator.pt", weights_only=True)
    assert record["format"] == "thisineq-stylegan2-discriminator" and record["imported_from"]["sha256"] in card
    from thisineq.models.importers import load_saved_discriminator

    d = load_saved_discriminator(tmp_path / "lab" / "discriminator.pt")  # the realism scorer's loader
    with torch.no_grad():
        torch.testing.assert_close(d(expected["img_const_psi1"]), expected["d_logits_on_img_const_psi1"], atol=1e-4, rtol=0)


def test_thisineq_import_names_a_bad_file_and_writes_nothing(tmp_path, capsys):
    from thisineq.cli import main

    bad = tmp_path / "network-snapshot-000000.pkl"
    bad.write_bytes(pickle.dumps({"G_ema": _Shell()}))
    assert main(["import", str(bad), "--out", str(tmp_path / "out")]) == 2
    assert "not on the importer's allow-list" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_rosinality_training_checkpoint_loads_its_g_ema_safely(tmp_path):
    """rosinality's train.py saves {"g", "d", "g_ema", "g_optim", "d_optim", "args": Namespace, "ada_aug_p"}, which a
    plain weights_only load refuses for the Namespace; the generator loads from it, and nothing else is let in."""
    import argparse

    from thisineq.models.stylegan2 import CheckpointError, Generator, StyleGAN2Config, load_generator

    config = StyleGAN2Config(size=8, style_dim=16, n_mlp=2, channels={4: 8, 8: 8})
    g = Generator(config)
    checkpoint = {
        "g": g.state_dict(),
        "d": {},
        "g_ema": g.state_dict(),
        "g_optim": {},
        "d_optim": {},
        "args": argparse.Namespace(size=8, iter=800000, batch=16, arch="stylegan2"),
        "ada_aug_p": 0.1,
    }
    torch.save(checkpoint, tmp_path / "080000.pt")
    loaded = load_generator(tmp_path / "080000.pt")
    assert loaded.config.size == 8 and torch.equal(loaded.style[1].weight, g.style[1].weight)
    torch.save({"g_ema": g.state_dict(), "hook": _Shell()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="not a safe PyTorch checkpoint"):
        load_generator(tmp_path / "evil.pt")


def _ada_mapping_reference(ada: dict, z: torch.Tensor, c: torch.Tensor, layers: int, lr: float = 0.01) -> torch.Tensor:
    """StyleGAN2-ADA's conditional mapping written from its description: normalise z and the class embedding apart,
    side by side through the fully connected layers (weights scaled by lr/√fan-in, leaky ReLU × √2)."""

    def normalise(x):
        return x * (x.square().mean(1, keepdim=True) + 1e-8).rsqrt()

    def dense(x, name, lr_mul, act):
        weight = ada[f"{name}.weight"] * (lr_mul / x.shape[1] ** 0.5)
        x = x @ weight.T + ada[f"{name}.bias"] * lr_mul
        return torch.nn.functional.leaky_relu(x, 0.2) * 2**0.5 if act else x

    x = torch.cat([normalise(z), normalise(dense(c, "mapping.embed", 1.0, False))], dim=1)
    for i in range(layers):
        x = dense(x, f"mapping.fc{i}", lr, True)
    return x


@needs_fixture
def test_a_conditional_generator_maps_its_class_as_stylegan2_ada_does_and_draws_the_chosen_one():
    import copy

    from thisineq.models.ada_convert import UnsupportedNetworkError, ada_generator
    from thisineq.models.ada_snapshot import NetworkRecord

    g = copy.deepcopy(read_ada_snapshot(SNAPSHOT).networks["G_ema"])
    torch.manual_seed(0)
    mapping = g.modules["mapping"]
    mapping.modules["embed"] = NetworkRecord(
        "FullyConnectedLayer", "", 6, (), {}, {"weight": torch.randn(64, 5), "bias": torch.randn(64)}, {}, {}
    )
    mapping.modules["fc0"].parameters["weight"] = torch.randn(64, 128)  # z and the class embedding side by side
    g.init_kwargs = {**g.init_kwargs, "c_dim": 5}
    converted = ada_generator(g, class_index=3)
    z, c = torch.randn(4, 64), torch.nn.functional.one_hot(torch.tensor([0, 1, 3, 4]), 5).float()
    with torch.no_grad():
        torch.testing.assert_close(converted.mapping(z, c=c), _ada_mapping_reference(g.state_dict(), z, c, 2), atol=1e-5, rtol=0)
        torch.testing.assert_close(converted.mapping(z), converted.mapping(z, c=c[[2, 2, 2, 2]]))  # class 3 by default
        assert converted(z).shape == (4, 3, 32, 32)
    assert converted.config.c_dim == 5
    with pytest.raises(UnsupportedNetworkError, match="class 7 is not one of this generator's 5 classes"):
        ada_generator(g, class_index=7)


def _ada_class_map_reference(ada: dict, c: torch.Tensor, layers: int, lr: float = 0.01) -> torch.Tensor:
    """StyleGAN2-ADA's discriminator mapping written from its description: no z, the class embedding normalised,
    then the fully connected layers (weights scaled by lr/√fan-in, leaky ReLU × √2)."""

    def dense(x, name, lr_mul, act):
        x = x @ (ada[f"{name}.weight"] * (lr_mul / x.shape[1] ** 0.5)).T + ada[f"{name}.bias"] * lr_mul
        return torch.nn.functional.leaky_relu(x, 0.2) * 2**0.5 if act else x

    x = dense(c, "mapping.embed", 1.0, False)
    x = x * (x.square().mean(1, keepdim=True) + 1e-8).rsqrt()
    for i in range(layers):
        x = dense(x, f"mapping.fc{i}", lr, True)
    return x


@needs_fixture
def test_a_conditional_discriminator_projects_onto_its_class_map_as_stylegan2_ada_does(tmp_path):
    """The epilogue's output becomes a cmap_dim vector, scored by its projection on the mapped class (÷ √cmap_dim)."""
    import copy

    from thisineq.models.ada_convert import UnsupportedNetworkError, ada_config, ada_discriminator
    from thisineq.models.ada_snapshot import NetworkRecord
    from thisineq.models.importers import load_saved_discriminator, save_discriminator

    snapshot = read_ada_snapshot(SNAPSHOT)
    config = ada_config(snapshot.networks["G_ema"])
    plain = ada_discriminator(snapshot.networks["D"], config)
    d = copy.deepcopy(snapshot.networks["D"])
    torch.manual_seed(0)
    cmap, layers, classes = 16, 3, 4

    def fc(rows, cols):
        return NetworkRecord(
            "FullyConnectedLayer", "", 6, (), {}, {"weight": torch.randn(rows, cols), "bias": torch.randn(rows)}, {}, {}
        )

    d.modules["mapping"] = NetworkRecord(
        "MappingNetwork", "", 6, (), {}, {}, {}, {"embed": fc(cmap, classes), **{f"fc{i}": fc(cmap, cmap) for i in range(layers)}}
    )
    d.modules["b4"].modules["out"] = fc(cmap, config.channels[4])
    d.init_kwargs = {**d.init_kwargs, "c_dim": classes, "cmap_dim": cmap, "mapping_kwargs": {"num_layers": layers}}
    converted = ada_discriminator(d, config, class_index=2)
    ada = d.state_dict()
    images = torch.randn(4, 3, 32, 32)
    c = torch.nn.functional.one_hot(torch.tensor([0, 1, 2, 3]), classes).float()
    with torch.no_grad():
        # The unconditional part (checked against the reference above) up to the epilogue's hidden layer.
        hidden = plain.final_linear[0](plain.final_conv(minibatch_stddev(plain.convs(images), plain.stddev_group)).flatten(1))
        out = hidden @ (ada["b4.out.weight"] / config.channels[4] ** 0.5).T + ada["b4.out.bias"]
        expected = (out * _ada_class_map_reference(ada, c, layers)).sum(1, keepdim=True) / cmap**0.5
        torch.testing.assert_close(converted(images, c), expected, atol=1e-4, rtol=0)
        torch.testing.assert_close(converted(images), converted(images, c[[2, 2, 2, 2]]))  # class 2 by default
        save_discriminator(converted, tmp_path / "d.pt")
        torch.testing.assert_close(load_saved_discriminator(tmp_path / "d.pt")(images, c), expected, atol=1e-4, rtol=0)
    with pytest.raises(UnsupportedNetworkError, match="class 4 is not one of this discriminator's 4 classes"):
        ada_discriminator(d, config, class_index=4)
    d.init_kwargs = {**d.init_kwargs, "mapping_kwargs": {"num_layers": layers, "layer_features": 32}}
    with pytest.raises(UnsupportedNetworkError, match="class mapping's widths"):
        ada_discriminator(d, config)


def test_thisineq_import_takes_a_rosinality_training_checkpoint_with_its_discriminator(tmp_path):
    import argparse

    from thisineq.cli import main
    from thisineq.models.stylegan2 import Discriminator, Generator, StyleGAN2Config, load_generator

    config = StyleGAN2Config(size=8, style_dim=16, n_mlp=2, channels={4: 8, 8: 8})
    g, d = Generator(config), Discriminator(config)
    checkpoint = {"g": g.state_dict(), "d": d.state_dict(), "g_ema": g.state_dict(), "g_optim": {}, "d_optim": {}}
    torch.save({**checkpoint, "args": argparse.Namespace(size=8, batch=4), "ada_aug_p": 0.2}, tmp_path / "010000.pt")
    assert main(["import", str(tmp_path / "010000.pt"), "--out", str(tmp_path / "lab"), "--discriminator"]) == 0
    assert torch.equal(load_generator(tmp_path / "lab" / "generator.pt").style[1].weight, g.style[1].weight)
    stored = torch.load(tmp_path / "lab" / "discriminator.pt", weights_only=True)
    assert all(torch.equal(stored["d"][k], v) for k, v in d.state_dict().items())
    assert '"batch": 4' in (tmp_path / "lab" / "MODEL_CARD.md").read_text(encoding="utf-8")


def test_the_import_draws_fewer_card_samples_for_larger_generators():
    from thisineq.models.importers import sample_count

    assert [sample_count(size) for size in (32, 64, 128, 256, 512, 1024)] == [16, 16, 16, 4, 1, 1]
