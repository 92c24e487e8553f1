"""The normals archive (BoundarySet) and the inversion-method registry: one owner each."""

from __future__ import annotations

import numpy as np
import pytest

from thisineq.errors import ConfigError, ThisIneqError
from thisineq.invert.methods import BOUNDED, ENCODERS, METHODS, NAMES, method
from thisineq.latent.normals import BoundarySet, Direction, orthogonalised
from thisineq.latent.wspace import WSpace

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


def test_directions_read_the_archive_by_method_and_fit():
    boundaries = BoundarySet.from_arrays(ARRAYS)  # keys without a fit kind: an archive from before fit kinds
    assert boundaries.fits("e4e") == ["standardised"] and boundaries.default_fit("e4e") == "standardised"
    assert boundaries.directions("e4e") == {}  # no whitened fits in this archive
    plain = boundaries.directions("e4e", fit=None)  # the set's default fit
    assert list(plain) == ["income", "health"] and plain["income"].sigma == 2.0
    assert list(boundaries.directions("e4e", ["health", "education", "income"], fit=None)) == ["health", "income"]
    assert np.array_equal(
        boundaries.directions("hybrid", fit=None)["health"].normal, plain["health"].normal
    )  # the hybrid walks e4e's
    conditional = boundaries.directions("e4e", fit="standardised", walk="conditional")
    assert abs(conditional["health"].normal @ plain["income"].normal) < 1e-12 and conditional["health"].sigma == 0.5
    assert np.linalg.norm(conditional["health"].normal) == pytest.approx(1.0)
    assert boundaries.directions("projector", fit=None) == {}
    assert list(boundaries.directions("restyle", fit="standardised", walk="conditional")) == ["income"]
    assert boundaries.directions("no such method", fit=None) == {} and boundaries.fits("no such method") == []
    assert boundaries.methods() == ["e4e", "restyle"] and boundaries.fits("hybrid") == ["standardised"]
    with pytest.raises(ValueError, match="walk must be one of plain, conditional, orthogonal"):
        boundaries.directions("e4e", walk="sideways")


def test_legacy_principal_boundaries_sit_beside_the_full_space_ones():
    boundaries = BoundarySet.from_arrays(
        ARRAYS | {"principal/e4e/income": np.eye(4)[3], "principal/e4e/income/sigma": np.array(3.0)}
    )
    principal = boundaries.directions("hybrid", fit="principal")
    assert list(principal) == ["income"] and principal["income"].sigma == 3.0 and principal["income"].normal[3] == 1.0
    assert list(boundaries.directions("e4e", fit="standardised")) == ["income", "health"]  # the full-space ones are untouched
    assert boundaries.fits("e4e") == ["standardised", "principal"] and boundaries.fits("restyle") == ["standardised"]
    assert boundaries.methods() == ["e4e", "restyle"]  # principal fits are not methods of their own


def whitened_set() -> tuple[BoundarySet, WSpace]:
    rng = np.random.default_rng(0)
    A = rng.normal(size=(4, 4))
    wspace = WSpace(rng.normal(size=4), A @ A.T + 0.5 * np.eye(4))
    boundaries = BoundarySet(wspace=wspace)
    for domain, a in {"income": [1.0, 0.2, 0, 0], "health": [0.6, 1.0, 0, 0.3], "education": [0.5, 0.5, 1.0, 0]}.items():
        u = wspace.unwhiten_direction(np.array(a))
        boundaries.add("e4e", Direction(domain, u, wspace.spread(u)), fit="whitened")
    return boundaries, wspace


def test_orthogonal_walks_are_mutually_orthogonal_in_whitened_units_and_their_sigma_is_their_own():
    boundaries, wspace = whitened_set()
    plain = boundaries.directions("e4e")
    independent = boundaries.directions("e4e", walk="orthogonal")
    whitened = np.stack([wspace.whiten_direction(d.normal) for d in independent.values()])
    assert np.allclose(whitened @ whitened.T, np.eye(3), atol=1e-9)  # independent of each other where they were fitted
    for domain, direction in independent.items():
        assert np.linalg.norm(direction.normal) == pytest.approx(1.0)
        assert direction.sigma == pytest.approx(np.sqrt(direction.normal @ wspace.cov @ direction.normal))  # along the walk
        assert direction.normal @ plain[domain].normal > 0.5  # nearest orthogonal set: each stays near its own boundary
    conditional = boundaries.directions("e4e", walk="conditional")
    income = wspace.whiten_direction(conditional["income"].normal)
    others = [wspace.whiten_direction(plain[d].normal) for d in ("health", "education")]
    assert np.allclose([income @ o for o in others], 0, atol=1e-9)  # off the span of the others'
    assert conditional["income"].sigma != pytest.approx(plain["income"].sigma)  # σ measured along the conditional normal


def test_orthogonalised_is_order_free_and_refuses_dependent_normals():
    normals = np.array([[1.0, 0.3, 0], [0.2, 1.0, 0.1], [0, 0.4, 1.0]])
    forward, backward = orthogonalised(normals), orthogonalised(normals[::-1])[::-1]
    assert np.allclose(forward @ forward.T, np.eye(3)) and np.allclose(forward, backward)
    with pytest.raises(ValueError, match="linearly dependent"):
        orthogonalised(np.array([[1.0, 0, 0], [2.0, 0, 0]]))


def test_the_archive_round_trips_with_fits_and_w_statistics(tmp_path):
    boundaries, wspace = whitened_set()
    assert len(BoundarySet.load(tmp_path / "missing.npz")) == 0
    boundaries.add("e4e", Direction("income", np.eye(4)[1], 0.5), fit="principal")
    boundaries.save(tmp_path / "normals.npz")
    with np.load(tmp_path / "normals.npz") as archive:
        assert {"whitened/e4e/income", "whitened/e4e/income/sigma", "principal/e4e/income", "w/mean", "w/cov"} <= set(
            archive.files
        )
    again = BoundarySet.load(tmp_path / "normals.npz")
    assert np.allclose(again.wspace.cov, wspace.cov) and again.fits("e4e") == ["whitened", "principal"]
    assert again.directions("e4e", fit="principal")["income"].normal[1] == 1
    assert np.allclose(
        again.directions("e4e", walk="orthogonal")["health"].normal,
        boundaries.directions("e4e", walk="orthogonal")["health"].normal,
    )
    with pytest.raises(ValueError, match="fit must be one of"):
        boundaries.add("e4e", Direction("income", np.eye(4)[1], 0.5), fit="sideways")


def test_a_malformed_archive_is_named():
    with pytest.raises(ThisIneqError, match="'e4e' that is not fit/method/domain"):
        BoundarySet.from_arrays({"e4e": np.eye(4)[0], "e4e/sigma": np.array(1.0)})
    with pytest.raises(ThisIneqError, match="with a σ beside it"):
        BoundarySet.from_arrays({"e4e/income": np.eye(4)[0]})
    with pytest.raises(ThisIneqError, match="'sideways/e4e/income' that is not"):
        BoundarySet.from_arrays({"sideways/e4e/income": np.eye(4)[0], "sideways/e4e/income/sigma": np.array(1.0)})
    with pytest.raises(ThisIneqError, match="W statistics are unusable"):
        BoundarySet.from_arrays({"w/mean": np.zeros(3), "w/cov": np.zeros((2, 2))})


def test_direction_from_latents_is_unit_with_sigma_of_the_latents():
    latents = np.random.default_rng(0).normal(size=(2000, 4)) * np.array([3.0, 1, 1, 1])
    direction = Direction.from_latents("income", np.eye(4)[0] * 5, latents)
    assert np.linalg.norm(direction.normal) == pytest.approx(1.0) and direction.sigma == pytest.approx(3.0, rel=0.05)
