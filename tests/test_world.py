"""The WorldModel estimator contract and its errors."""

import numpy as np
import pytest

from scientist import DataError, InputError, NotFittedError, SamplerError, WorldModel, datasets
from scientist.priors import EdgePrior


def test_init_stores_parameters_only():
    wm = WorldModel(sampler="nonsense", n_samples=-3)
    assert wm.get_params()["sampler"] == "nonsense"
    with pytest.raises(NotFittedError, match="fit"):
        _ = wm.posterior_


def test_fit_returns_self_and_sets_attributes(gaussian4):
    wm = WorldModel(seed=0)
    assert wm.fit(gaussian4) is wm
    assert wm.posterior_.weighting == "exact"
    assert wm.posterior_.info["sampler"] == "exact"
    assert wm.fit_seconds_ >= 0


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"sampler": "nonsense"}, "sampler='nonsense'"),
        ({"n_samples": 0}, "n_samples=0"),
        ({"n_chains": 1.5}, "n_chains=1.5"),
        ({"burn_in": -1}, "burn_in=-1"),
        ({"weighting": "magic"}, "weighting='magic'"),
        ({"score": "bic"}, "score='bic'"),
        ({"prior": "sparse"}, "prior='sparse'"),
        ({"score": "bdeu"}, "bdeu"),
    ],
)
def test_bad_parameters_are_named(gaussian4, params, match):
    with pytest.raises(InputError, match=match):
        WorldModel(**params).fit(gaussian4)


def test_exact_refuses_large_d_and_names_alternatives():
    data = datasets.load_network("asia").sample(50, rng=0)
    with pytest.raises(SamplerError, match="order_mcmc"):
        WorldModel(sampler="exact").fit(data)


def test_not_a_dataset():
    with pytest.raises(DataError, match="Dataset"):
        WorldModel().fit(np.zeros((3, 3)))


def test_same_seed_same_posterior(asia_small):
    a = (
        WorldModel(sampler="order_mcmc", n_samples=300, n_chains=2, seed=7)
        .fit(asia_small)
        .posterior_
    )
    b = (
        WorldModel(sampler="order-mcmc", n_samples=300, n_chains=2, seed=7)
        .fit(asia_small)
        .posterior_
    )
    assert np.array_equal(a.masks, b.masks) and np.allclose(a.log_weights, b.log_weights)


def test_learns_asia_structure_with_interventions():
    asia = datasets.load_network("asia")
    obs = asia.sample(3000, rng=0)
    assert obs.n_vars == 8
    wm = WorldModel(
        sampler="order_mcmc", n_samples=1000, n_chains=2, seed=0, prior=EdgePrior(0.2)
    ).fit(obs)
    marg = wm.posterior_.edge_marginals()
    names = asia.names
    either, xray = names.index("either"), names.index("xray")
    assert marg[either, xray] + marg[xray, either] > 0.9
    assert wm.rhat_.shape == (8, 8)


def test_default_in_degree_fits_the_family_table():
    from scientist.world import default_max_parents

    assert default_max_parents(13) == 4
    assert default_max_parents(37) == 3  # alarm: in-degree 4 would need 2.47M families
    assert default_max_parents(62) == 2
