"""The normals archive (BoundarySet) and the inversion-method registry: one owner each."""

from __future__ import annotations

import numpy as np
import pytest

from thisineq.errors import ConfigError, ThisIneqError
from thisineq.invert.methods import BOUNDED, ENCODERS, METHODS, NAMES, method
from thisineq.latent.normals import BoundarySet, Direction

ARRAYS = {
    "e4e/income": np.eye(4)[0],
    "e4e/income/sigma": np.array(2.0),
    "e4e/health": (np.eye(4)[0] + np.eye(4)[1]) / 2**0.5,
    "e4e/health/sigma": np.array(0.5),
    "restyle/income": np.eye(4)[2],
    "restyle/income/sigma": np.array(1.0),
}


def test_the_registry_says_what_each_method_is():
    assert NAMES == ("e4e", "restyle", "projector", "hybrid")
    assert BOUNDED == ("e4e", "restyle", "projector") and ENCODERS == ("e4e", "restyle")
    assert method("hybrid").walks == "e4e" and method("hybrid").optimises and method("hybrid").encoder == "e4e"
    assert not method("e4e").optimises and method("projector").encoder is None
    assert all(METHODS[m.walks].bounded for m in METHODS.values())  # every method walks a bounded method's boundaries
    with pytest.raises(ConfigError, match="no inversion method 'stylegan'.*e4e, restyle"):
        method("stylegan")


def test_directions_read_the_archive_by_method():
    boundaries = BoundarySet.from_arrays(ARRAYS)
    plain = boundaries.directions("e4e")
    assert list(plain) == ["income", "health"] and plain["income"].sigma == 2.0
    assert list(boundaries.directions("e4e", ["health", "education", "income"])) == ["health", "income"]
    assert np.array_equal(boundaries.directions("hybrid")["health"].normal, plain["health"].normal)  # the hybrid walks e4e's
    conditional = boundaries.directions("e4e", conditional=True)
    assert abs(conditional["health"].normal @ plain["income"].normal) < 1e-12 and conditional["health"].sigma == 0.5
    assert np.linalg.norm(conditional["health"].normal) == pytest.approx(1.0)
    assert boundaries.directions("projector") == {} and list(boundaries.directions("restyle", conditional=True)) == ["income"]
    assert boundaries.directions("no such method") == {}
    assert boundaries.methods() == ["e4e", "restyle"] and not boundaries.has_principal("hybrid")


def test_principal_boundaries_sit_beside_the_full_space_ones():
    boundaries = BoundarySet.from_arrays(
        ARRAYS | {"principal/e4e/income": np.eye(4)[3], "principal/e4e/income/sigma": np.array(3.0)}
    )
    principal = boundaries.directions("hybrid", principal=True)
    assert list(principal) == ["income"] and principal["income"].sigma == 3.0 and principal["income"].normal[3] == 1.0
    assert list(boundaries.directions("e4e")) == ["income", "health"]  # the full-space ones are untouched
    assert boundaries.has_principal("e4e") and not boundaries.has_principal("restyle")
    assert boundaries.methods() == ["e4e", "restyle"]  # principal fits are not methods of their own


def test_the_archive_round_trips_and_keeps_its_key_format(tmp_path):
    boundaries = BoundarySet()
    assert len(BoundarySet.load(tmp_path / "missing.npz")) == 0
    boundaries.add("e4e", Direction("income", np.eye(4)[0], 2.0))
    boundaries.add("e4e", Direction("income", np.eye(4)[1], 0.5), principal=True)
    boundaries.save(tmp_path / "normals.npz")
    with np.load(tmp_path / "normals.npz") as archive:
        assert sorted(archive.files) == ["e4e/income", "e4e/income/sigma", "principal/e4e/income", "principal/e4e/income/sigma"]
    again = BoundarySet.load(tmp_path / "normals.npz")
    assert again.directions("e4e")["income"].sigma == 2.0 and again.directions("e4e", principal=True)["income"].normal[1] == 1


def test_a_malformed_archive_is_named():
    with pytest.raises(ThisIneqError, match="'e4e' that is not method/domain"):
        BoundarySet.from_arrays({"e4e": np.eye(4)[0], "e4e/sigma": np.array(1.0)})
    with pytest.raises(ThisIneqError, match="with a σ beside it"):
        BoundarySet.from_arrays({"e4e/income": np.eye(4)[0]})


def test_direction_from_latents_is_unit_with_sigma_of_the_latents():
    latents = np.random.default_rng(0).normal(size=(2000, 4)) * np.array([3.0, 1, 1, 1])
    direction = Direction.from_latents("income", np.eye(4)[0] * 5, latents)
    assert np.linalg.norm(direction.normal) == pytest.approx(1.0) and direction.sigma == pytest.approx(3.0, rel=0.05)
