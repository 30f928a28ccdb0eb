"""The inference machine against brute force, closed forms, and its own contracts."""

import json

import numpy as np
import pytest

from scientist import ImpossibleEvidenceError, Posterior, QueryError, Theory, WorldModel, datasets
from scientist.graphs import transitive_closure
from scientist.infer import ask


@pytest.fixture(scope="module")
def asia4():
    data = datasets.load_network("asia").sample(400, rng=1)
    from scientist import Dataset

    return Dataset.from_pandas(data.to_pandas()[["smoke", "lung", "bronc", "dysp", "either"]])


@pytest.fixture(scope="module")
def exact5(asia4):
    return WorldModel(sampler="exact").fit(asia4).posterior_


def test_posterior_predictive_equals_brute_force_over_all_dags(exact5):
    """Sum over every one of the 29,281 DAGs, one theory at a time, against the batched answer."""
    query = "P(dysp=yes | do(smoke=yes), either=no)"
    batched = ask(exact5, query, n_draws=0)
    top = np.argsort(-exact5.weights)
    total = 0.0
    kept = 0.0
    for k in top[:300]:  # the heaviest theories one by one
        one = Posterior.from_theories([exact5.theory(int(k))])
        total += exact5.weights[k] * ask(one, query, n_draws=0).mean
        kept += exact5.weights[k]
    per = np.array(batched.per_theory["value"])
    idx = np.array(batched.per_theory["theory"])
    lookup = dict(zip(idx.tolist(), per.tolist(), strict=True))
    assert total == pytest.approx(
        sum(exact5.weights[k] * lookup[int(k)] for k in top[:300]), abs=1e-12
    )
    assert batched.mean == pytest.approx(
        float(np.dot(batched.per_theory["weight"], per)), abs=1e-12
    )
    assert batched.n_theories == 29281


def test_structural_queries_match_marginals(exact5):
    a = ask(exact5, "P(smoke -> lung)")
    assert a.mean == pytest.approx(exact5.edge_marginals()[0, 1])
    b = ask(exact5, "P(smoke ~> dysp)")
    closure = transitive_closure(exact5.adjacency())
    assert b.mean == pytest.approx(exact5.weights @ closure[:, 0, 3])
    assert a.mc_stderr == 0.0 and a.aleatoric == 0.0


def test_same_seed_same_answer_and_json(exact5):
    q = "P(lung=yes | do(smoke=no))"
    a, b = ask(exact5, q, seed=3), ask(exact5, q, seed=3)
    assert a.to_dict() == b.to_dict()
    body = json.loads(a.to_json())
    assert body["query"] == q and 0 <= body["mean"] <= 1 and len(body["interval"]) == 2
    assert body["interval"][0] <= body["mean"] <= body["interval"][1]
    assert {s["direction"] for s in body["support"]} <= {"up", "down"}


def test_categorical_mean_is_the_posterior_predictive(asia4):
    """With parameter draws, the mean stays the closed-form predictive; draws only widen the interval."""
    post = WorldModel(sampler="exact").fit(asia4).posterior_
    q = "P(dysp=yes | do(smoke=yes))"
    a0, a1 = ask(post, q, n_draws=0), ask(post, q, n_draws=64)
    assert a0.mean == pytest.approx(a1.mean, abs=1e-12)
    assert a1.interval[1] - a1.interval[0] > a0.interval[1] - a0.interval[0]


def test_linear_gaussian_closed_form():
    w = np.zeros((3, 3))
    w[0, 1], w[1, 2] = 2.0, -1.5
    t = Theory.linear_gaussian(
        ["a", "b", "c"], w, intercepts=[1.0, 0.5, 0.0], noise_sd=[1.0, 0.5, 0.2]
    )
    post = Posterior.from_theories([t])
    assert ask(post, "E[c | do(a=2)]").mean == pytest.approx(-1.5 * (0.5 + 2 * 2))
    assert ask(post, "E[c | do(b=1)]").mean == pytest.approx(-1.5)
    # observing b screens a off from c; E[a | c] by Gaussian conditioning
    assert ask(post, "E[c | a=3, b=1]").mean == pytest.approx(-1.5)
    var_c = 1.5**2 * (4 * 1 + 0.25) + 0.04
    cov_ac = -1.5 * 2 * 1
    mean_c = -1.5 * (0.5 + 2 * 1)
    assert ask(post, "E[a | c=0]").mean == pytest.approx(1 + cov_ac / var_c * (0 - mean_c))
    p = ask(post, "P(c > -6 | do(a=2))").mean
    from scipy.stats import norm

    sd = np.sqrt(1.5**2 * 0.25 + 0.04)
    assert p == pytest.approx(norm.sf((-6 - (-1.5 * 4.5)) / sd))


def test_gaussian_expectation_has_a_closed_form_mean():
    w = np.zeros((3, 3))
    w[0, 1], w[1, 2] = 0.8, 0.5
    data = Theory.linear_gaussian(["a", "b", "c"], w, noise_sd=0.5).sample(200, rng=0)
    post = WorldModel(sampler="exact").fit(data).posterior_
    a0 = ask(post, "E[c | do(a=1)]", n_draws=0)
    a1 = ask(post, "E[c | do(a=1)]", n_draws=200)
    assert a0.mean == pytest.approx(a1.mean, abs=1e-12)
    assert a1.interval[0] < 0.4 < a1.interval[1]
    assert a1.epistemic > 0 and a1.aleatoric > 0


def test_zero_probability_evidence():
    asia = datasets.load_network("asia")
    post = Posterior.from_theories([asia])
    # either is a deterministic OR of tub and lung
    with pytest.raises(ImpossibleEvidenceError, match="probability zero"):
        ask(post, "P(dysp=yes | tub=yes, either=no)")
    with pytest.raises(ImpossibleEvidenceError, match="contradicts"):
        ask(post, "P(dysp=yes | do(smoke=yes), smoke=no)")
    # a theory without the OR survives; the answer reports the dropped mass
    other = Theory(
        asia.variables,
        np.zeros((8, 8), bool),
        [
            type(f)((), f.cpt.mean(axis=tuple(range(f.cpt.ndim - 1))) if f.parents else f.cpt)
            for f in asia.families
        ],
    )
    mixed = Posterior.from_theories([asia, other], weights=[0.7, 0.3])
    ans = ask(mixed, "P(dysp=yes | tub=yes, either=no)")
    assert ans.dropped_mass == pytest.approx(0.7)
    assert ans.n_theories == 1


@pytest.mark.parametrize(
    ("query", "match"),
    [
        ("P(nothing=yes)", "Unknown variable 'nothing'"),
        ("P(smoke=maybe)", "states are"),
        ("P(smoke > 1)", "use '=' or '!='"),
        ("E[smoke]", "continuous target"),
        ("P(smoke=yes | do(lung=yes, lung=no))", "twice"),
        ("P(smoke=", "column"),
        ("P(dysp=yes | do(smoke=1e400))", "finite number"),
    ],
)
def test_clear_query_errors(query, match):
    post = Posterior.from_theories([datasets.load_network("asia")])
    with pytest.raises(QueryError, match=match):
        ask(post, query)


def test_continuous_point_event_is_refused():
    t = Theory.linear_gaussian(["a", "b"], np.array([[0, 1.0], [0, 0]]))
    with pytest.raises(QueryError, match="range"):
        ask(Posterior.from_theories([t]), "P(b=1 | do(a=0))")


def test_complement_event():
    post = Posterior.from_theories([datasets.load_network("asia")])
    a = ask(post, "P(dysp=yes | do(smoke=yes))").mean
    b = ask(post, "P(dysp!=yes | do(smoke=yes))").mean
    assert a + b == pytest.approx(1.0)


def test_grouping_rows_by_structure():
    from scientist.infer.discrete import _group_rows

    rows = np.array([[1, 2], [3, 4], [1, 2], [0, 0], [3, 4]], dtype=np.int64)
    g = _group_rows(rows)
    assert g[0] == g[2] and g[1] == g[4] and len({g[0], g[1], g[3]}) == 3


def test_point_answers_are_the_per_theory_answers_of_ask(exact5):
    """What the guard reads per decision: the same numbers as ``ask(..., n_draws=0)``."""
    from scientist.infer.engine import point_answers
    from scientist.infer.query import parse_query

    asia = datasets.load_network("asia")
    flat = [  # no parents, so no deterministic OR: the evidence below keeps this theory
        type(f)((), f.cpt.mean(axis=tuple(range(f.cpt.ndim - 1))) if f.parents else f.cpt)
        for f in asia.families
    ]
    other = Theory(asia.variables, np.zeros((8, 8), bool), flat)
    mixed = Posterior.from_theories([asia, other], weights=[0.6, 0.4])
    w = np.zeros((3, 3))
    w[0, 1], w[1, 2] = 0.8, 0.5
    gauss = (
        WorldModel(sampler="exact")
        .fit(Theory.linear_gaussian(["a", "b", "c"], w, noise_sd=0.5).sample(200, rng=0))
        .posterior_
    )
    cases = [
        (exact5, "P(dysp=yes | do(smoke=yes), either=no)"),
        (exact5, "P(dysp!=yes, bronc=yes | do(lung=no))"),
        (mixed, "P(dysp=yes | tub=yes, either=no)"),  # theories dropped: zero evidence
        (gauss, "P(c > 0.5 | do(a=1), b=0.2)"),
    ]
    for post, query in cases:
        full = ask(post, query, n_draws=0)
        point = point_answers(post, parse_query(query))
        assert point.theory.tolist() == full.per_theory["theory"]
        assert point.value.tolist() == full.per_theory["value"]
        assert point.mc_stderr == full.mc_stderr
        assert point.dropped_mass == full.dropped_mass
