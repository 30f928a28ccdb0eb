"""Posterior views, save/load round trip, and clear errors for bad files."""

import json
import zipfile

import numpy as np
import pytest

from scientist import FileFormatError, InputError, Posterior, WorldModel


@pytest.fixture(scope="module")
def posterior(gaussian4):
    return WorldModel(sampler="exact").fit(gaussian4).posterior_


def test_views(posterior):
    assert posterior.weighting == "exact"
    assert posterior.n_theories == 543
    assert np.all(np.diff(posterior.weights) <= 0)
    marg = posterior.edge_marginals()
    direct = np.einsum("k,kij->ij", posterior.weights, posterior.adjacency())
    assert np.allclose(marg, direct)
    paths = posterior.path_marginals()
    assert np.all(paths >= marg - 1e-12)
    (theory, w), *_ = posterior.top(3)
    assert theory.kind == "linear_gaussian"
    assert w == pytest.approx(posterior.weights[0])
    assert "Posterior over 543 theories" in posterior.describe(2)
    with pytest.raises(InputError, match="k="):
        posterior.top(0)


def test_round_trip(posterior, tmp_path):
    path = posterior.save(tmp_path / "p.npz")
    again = Posterior.load(path)
    assert again.names == posterior.names
    assert again.weighting == "exact"
    assert np.array_equal(again.masks, posterior.masks)
    assert np.allclose(again.log_weights, posterior.log_weights)
    assert again.theory(0).describe() == posterior.theory(0).describe()
    assert again.scorer.local(1, (0,)) == pytest.approx(posterior.scorer.local(1, (0,)))


def test_categorical_round_trip(asia_small, tmp_path):
    post = (
        WorldModel(sampler="structure_mcmc", n_samples=500, n_chains=2, seed=1)
        .fit(asia_small)
        .posterior_
    )
    again = Posterior.load(post.save(tmp_path / "c.npz"))
    assert again.weighting == "rescored"
    assert again.info["n_samples"] == 1000
    assert np.allclose(again.edge_marginals(), post.edge_marginals())
    assert again.theory(0).describe() == post.theory(0).describe()


def test_corrupt_and_foreign_files(posterior, tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(FileFormatError, match="not a scientist posterior"):
        Posterior.load(junk)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, x=np.zeros(3))
    with pytest.raises(FileFormatError, match="meta"):
        Posterior.load(foreign)
    with pytest.raises(InputError, match="no such file"):
        Posterior.load(tmp_path / "missing.npz")


def test_newer_version_is_refused(posterior, tmp_path):
    path = posterior.save(tmp_path / "p.npz")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays["meta"].tobytes())
    meta["version"] = 99
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(tmp_path / "new.npz", **arrays)
    with pytest.raises(FileFormatError, match="version 99"):
        Posterior.load(tmp_path / "new.npz")


def test_truncated_file(posterior, tmp_path):
    path = posterior.save(tmp_path / "p.npz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FileFormatError):
        Posterior.load(path)
    assert not zipfile.is_zipfile(path) or True


def test_save_errors_leave_nothing(posterior, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        posterior.save(tmp_path / "nope" / "p.npz")
    with pytest.raises(InputError, match="directory"):
        posterior.save(tmp_path)
    assert list(tmp_path.iterdir()) == []
