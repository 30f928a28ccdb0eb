"""Parameter-integrated gains: posterior predictives against the scores and closed forms."""

import numpy as np
import pytest
from scipy.stats import multivariate_t

from scientist import Theory, WorldModel, datasets
from scientist.data import Dataset
from scientist.design import expected_information_gain, suggest
from scientist.design.eig import _predictive_loglik
from scientist.scores.bdeu import BDeu
from scientist.theory import CategoricalFamily, GaussianFamily, family_from_scorer


def test_dirichlet_predictive_is_the_bdeu_score_update():
    truth = datasets.load_network("asia")
    data = truth.sample(60, rng=0)
    new = truth.sample(15, rng=1, do={"smoke": "yes"})
    both = Dataset(
        data.variables,
        np.concatenate([data.values, new.values]),
        np.concatenate([data.interventions, new.interventions]),
    )
    before, after = BDeu().fit(data), BDeu().fit(both)
    names = truth.names
    for node, parents in [("bronc", ("smoke",)), ("dysp", ("bronc", "either")), ("asia", ())]:
        j, pa = names.index(node), tuple(sorted(names.index(p) for p in parents))
        fam = family_from_scorer(before, j, pa)
        got = _predictive_loglik(fam, new.values[None], j)[0]
        assert got == pytest.approx(after.local(j, pa) - before.local(j, pa), rel=1e-10)


def test_student_t_predictive_matches_the_multivariate_t():
    rng = np.random.default_rng(0)
    n, coef, cov = 6, np.array([0.7, -1.2]), np.array([[0.5, 0.1], [0.1, 0.3]])
    fam = GaussianFamily((0, 1), coef, 0.4, 1.0, cov, shape=3.5, scale=2.0)
    x = rng.normal(size=(2, n, 3))
    got = _predictive_loglik(fam, x, 2)
    for m in range(2):
        z = x[m, :, :2]
        shape = fam.scale / fam.shape * (np.eye(n) + z @ cov @ z.T)
        want = multivariate_t(0.4 + z @ coef, shape, df=2 * fam.shape).logpdf(x[m, :, 2])
        assert got[m] == pytest.approx(want, rel=1e-10)


def test_known_parameters_give_the_plain_likelihood():
    fam = CategoricalFamily((0,), np.array([[0.9, 0.1], [0.2, 0.8]]))
    x = np.array([[[0, 0], [1, 1], [1, 0]]], float)
    assert _predictive_loglik(fam, x, 1)[0] == pytest.approx(np.log(0.9 * 0.8 * 0.2))


def test_tiny_dirichlet_concentrations_draw_valid_tables():
    conc = np.full((27, 3), 1 / 81)
    fam = CategoricalFamily((0, 1, 2), np.full((27, 3), 1 / 3), conc)
    cpt = fam.draw(np.random.default_rng(0)).cpt
    assert np.isfinite(cpt).all() and np.allclose(cpt.sum(-1), 1)


def test_integrated_gain_is_smaller_than_the_plug_in_gain_with_few_data():
    # with 15 rows the parameters are uncertain: the plug-in gain overstates what 20 rows can tell
    w = np.zeros((3, 3))
    w[0, 1], w[1, 2] = 0.8, 0.8
    truth = Theory.linear_gaussian(["a", "b", "c"], w)
    post = WorldModel(sampler="exact").fit(truth.sample(15, rng=0)).posterior_
    kw = {"n_samples": 20, "n_outer": 400, "value_sd": 2.0, "seed": 2}
    integ = expected_information_gain(post, "b", parameters="integrated", **kw)
    plug = expected_information_gain(post, "b", parameters="mean", **kw)
    assert integ.eig < plug.eig
    assert 0 < integ.eig < np.log(post.n_theories)
    ranked = suggest(post, ["a", "b", "c"], n_samples=20, n_outer=64, value_sd=2.0)
    assert all(np.isfinite(e.eig) for e in ranked)


def test_parameters_is_checked():
    from scientist import InputError

    w = np.zeros((2, 2))
    w[0, 1] = 1.0
    post = (
        WorldModel(sampler="exact")
        .fit(Theory.linear_gaussian(["a", "b"], w).sample(10, rng=0))
        .posterior_
    )
    with pytest.raises(InputError, match="parameters='median'"):
        suggest(post, ["a"], parameters="median")
