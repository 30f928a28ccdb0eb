"""BGe against a direct dense computation of the Normal-Wishart marginal likelihood."""

import itertools

import numpy as np
import pytest
from scipy.stats import multivariate_t

from scientist import Dataset
from scientist.errors import InputError
from scientist.graphs import all_dags
from scientist.scores import BGe


def dense_log_marginal(x, alpha_mu, alpha_w_sub, t, nu):
    """log p(x_1..x_n) by the chain rule of Normal-inverse-Wishart predictive Student-t densities."""
    n, l = x.shape
    mu, kappa, dof, scale = nu.copy(), alpha_mu, alpha_w_sub, t * np.eye(l)
    total = 0.0
    for r in range(n):
        df = dof - l + 1
        shape = scale * (kappa + 1) / (kappa * df)
        total += multivariate_t(loc=mu, shape=shape, df=df).logpdf(x[r])
        diff = (x[r] - mu)[:, None]
        scale = scale + kappa / (kappa + 1) * (diff @ diff.T)
        mu = (kappa * mu + x[r]) / (kappa + 1)
        kappa, dof = kappa + 1, dof + 1
    return total


@pytest.fixture
def gaussian_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 4))
    x[:, 1] += 0.8 * x[:, 0]
    x[:, 3] -= 0.5 * x[:, 1] + 0.3 * x[:, 2]
    return Dataset.from_numpy(x + 0.5)


def test_complete_dag_equals_dense_joint_marginal(gaussian_data):
    d = gaussian_data.n_vars
    scorer = BGe().fit(gaussian_data)
    alpha_w = d + 2
    t = 1 * (alpha_w - d - 1) / 2
    dense = dense_log_marginal(gaussian_data.values, 1.0, alpha_w, t, np.zeros(d))
    for perm in itertools.permutations(range(d)):
        adj = np.zeros((d, d), dtype=bool)
        for a, b in itertools.combinations(range(d), 2):
            adj[perm[a], perm[b]] = True
        assert scorer.total(adj) == pytest.approx(dense, rel=1e-9, abs=1e-8)


def test_every_family_matches_dense_subset_marginals(gaussian_data):
    d = gaussian_data.n_vars
    x = gaussian_data.values
    scorer = BGe(alpha_mu=2.0, alpha_w=d + 4).fit(gaussian_data)
    t = scorer.t

    def dense(cols):
        if not cols:
            return 0.0
        return dense_log_marginal(x[:, cols], 2.0, d + 4 - d + len(cols), t, np.zeros(len(cols)))

    for j in range(d):
        others = [i for i in range(d) if i != j]
        for k in range(len(others) + 1):
            for parents in itertools.combinations(others, k):
                expected = dense([*parents, j]) - dense(list(parents))
                assert scorer.local(j, parents) == pytest.approx(expected, rel=1e-9, abs=1e-8)


def test_score_equivalence_on_observational_data(gaussian_data):
    scorer = BGe().fit(gaussian_data)
    # a -> b and b -> a are Markov equivalent; so are the chain and the fork of 3 nodes
    a = np.zeros((4, 4), bool)
    a[0, 1] = a[1, 3] = True
    b = np.zeros((4, 4), bool)
    b[1, 0] = b[1, 3] = True
    c = np.zeros((4, 4), bool)
    c[1, 0] = c[3, 1] = True
    assert scorer.total(a) == pytest.approx(scorer.total(b))
    assert scorer.total(a) == pytest.approx(scorer.total(c))
    # a v-structure is not equivalent to the chain
    v = np.zeros((4, 4), bool)
    v[0, 1] = v[3, 1] = True
    assert abs(scorer.total(v) - scorer.total(a)) > 1e-6


def test_all_dags_of_an_equivalence_class_share_a_score():
    rng = np.random.default_rng(1)
    ds = Dataset.from_numpy(rng.normal(size=(20, 3)))
    scorer = BGe().fit(ds)
    scores = scorer.total(all_dags(3))
    # 25 DAGs on 3 nodes fall into 11 Markov equivalence classes
    assert len(np.unique(np.round(scores, 8))) == 11


def test_intervened_rows_leave_the_family():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(40, 2))
    mask = np.zeros((40, 2), bool)
    mask[:10, 1] = True
    full = Dataset.from_numpy(x, interventions=mask)
    kept = Dataset.from_numpy(x[10:])
    assert BGe().fit(full).local(1, (0,)) == pytest.approx(BGe().fit(kept).local(1, (0,)))
    assert BGe().fit(full).local(0, ()) == pytest.approx(
        BGe().fit(Dataset.from_numpy(x)).local(0, ())
    )


def test_bge_rejects_categorical_and_bad_hyperparameters():
    cat = Dataset.from_numpy(
        np.array([[0, 1], [1, 0]]), states={"X0": ["a", "b"], "X1": ["a", "b"]}
    )
    with pytest.raises(InputError, match="bdeu"):
        BGe().fit(cat)
    cont = Dataset.from_numpy(np.zeros((3, 3)) + np.arange(3))
    with pytest.raises(InputError, match="alpha_w"):
        BGe(alpha_w=1.0).fit(cont)
    with pytest.raises(InputError, match="alpha_mu"):
        BGe(alpha_mu=-1).fit(cont)


def test_family_posterior_recovers_regression():
    rng = np.random.default_rng(3)
    x0 = rng.normal(size=5000)
    x1 = 2.0 + 0.7 * x0 + 0.3 * rng.normal(size=5000)
    scorer = BGe().fit(Dataset.from_numpy(np.column_stack([x0, x1])))
    post = scorer.family_posterior(1, (0,))
    assert post["coef"][0] == pytest.approx(0.7, abs=0.02)
    assert post["intercept"] == pytest.approx(2.0, abs=0.02)
    assert post["scale"] / (post["shape"] - 1) == pytest.approx(0.09, rel=0.1)
