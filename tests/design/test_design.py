"""Experiment design: the Monte-Carlo EIG against an exact value, greedy batches, errors, CLI."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from scientist import InputError, Posterior, Theory, WorldModel, datasets
from scientist.cli import app
from scientist.data import Variable
from scientist.design import (
    edge_error,
    expected_information_gain,
    run_design_loop,
    structural_hamming_distance,
    suggest,
)
from scientist.theory import CategoricalFamily

VARS = [Variable("X", "categorical", ("0", "1")), Variable("Y", "categorical", ("0", "1"))]


def two_worlds(w_edge: float = 0.5) -> Posterior:
    """X -> Y with P(Y=1 | X) = (0.1, 0.9), or no edge with P(Y=1) = 0.5."""
    edge = Theory(
        VARS,
        np.array([[0, 1], [0, 0]], bool),
        [
            CategoricalFamily((), np.array([0.5, 0.5])),
            CategoricalFamily((0,), np.array([[0.9, 0.1], [0.1, 0.9]])),
        ],
    )
    none = Theory(
        VARS,
        np.zeros((2, 2), bool),
        [CategoricalFamily((), np.array([0.5, 0.5])), CategoricalFamily((), np.array([0.5, 0.5]))],
    )
    return Posterior.from_theories([edge, none], weights=[w_edge, 1 - w_edge])


def exact_mi(n: int) -> float:
    """I(theory; Y_1..n) under do(X=1) for the two worlds, by enumerating the count of Y=1."""
    from scipy.stats import binom

    k = np.arange(n + 1)
    p1, p0 = binom.pmf(k, n, 0.9), binom.pmf(k, n, 0.5)
    mix = 0.5 * p1 + 0.5 * p0
    return float(0.5 * (p1 * np.log(p1 / mix)).sum() + 0.5 * (p0 * np.log(p0 / mix)).sum())


@pytest.mark.parametrize("n", [1, 5])
def test_eig_matches_the_exact_mutual_information(n):
    e = expected_information_gain(two_worlds(), "X", "1", n_samples=n, n_outer=4000, seed=1)
    assert abs(e.eig - exact_mi(n)) < 4 * e.eig_stderr
    assert e.eig_stderr < 0.02


def test_an_uninformative_experiment_gains_nothing():
    # setting Y tells nothing about whether X -> Y: X's distribution is the same in both worlds
    e = expected_information_gain(two_worlds(), "Y", "1", n_samples=10, n_outer=200)
    assert e.eig == pytest.approx(0.0, abs=1e-12)
    ranked = suggest(two_worlds(), ["Y", "X"], n_samples=10, n_outer=200)
    assert ranked[0].variable == "X"


def test_greedy_batch_and_determinism():
    truth = datasets.load_network("asia")
    post = (
        WorldModel(sampler="order_mcmc", n_samples=500, n_chains=2, seed=0)
        .fit(truth.sample(200, rng=0))
        .posterior_
    )
    a = suggest(post, truth.names, n_samples=10, n_outer=32, seed=3)
    b = suggest(post, truth.names, n_samples=10, n_outer=32, seed=3)
    assert [e.to_dict() for e in a] == [e.to_dict() for e in b]
    batch = suggest(post, truth.names, n_samples=10, n_outer=32, seed=3, batch=3)
    assert len({e.variable for e in batch}) == 3
    assert batch[0].variable == a[0].variable
    assert batch[0].eig <= batch[1].eig + 1e-9 <= batch[2].eig + 2e-9  # joint gain grows
    about = suggest(post, ["smoke", "bronc"], target="P(dysp=yes | do(smoke=yes))", n_outer=32)
    assert about[0].about.startswith("answer")


def test_gaussian_candidates():
    w = np.zeros((3, 3))
    w[0, 1], w[1, 2] = 1.5, -1.0
    truth = Theory.linear_gaussian(["a", "b", "c"], w)
    post = WorldModel(sampler="exact").fit(truth.sample(30, rng=0)).posterior_
    ranked = suggest(post, ["a", "b", "c", "b=2.5"], n_samples=10, n_outer=64, value_sd=2.0)
    assert all(np.isfinite(e.eig) and e.eig >= -3 * e.eig_stderr for e in ranked)


def test_errors():
    post = two_worlds()
    with pytest.raises(InputError, match="Unknown candidate variable 'Z'"):
        suggest(post, ["Z"])
    with pytest.raises(InputError, match="states"):
        suggest(post, ["X=7"])
    with pytest.raises(InputError, match=r"batch=3 is larger than the 2 candidates.*repeats=True"):
        suggest(post, ["X", "Y"], batch=3)
    with pytest.raises(InputError, match="repeats='yes'"):
        suggest(post, ["X", "Y"], batch=3, repeats="yes")
    with pytest.raises(InputError, match="per_round=3 is larger"):
        run_design_loop(
            datasets.load_network("asia"),
            datasets.load_network("asia").sample(10, rng=0),
            candidates=["smoke", "bronc"],
            per_round=3,
            n_per_round=3,
        )
    with pytest.raises(InputError, match="n_samples=0"):
        suggest(post, ["X"], n_samples=0)
    with pytest.raises(InputError, match="strategy="):
        run_design_loop(
            datasets.load_network("asia"),
            datasets.load_network("asia").sample(10, rng=0),
            strategy="vibes",
        )


def test_loop_and_metrics():
    truth = datasets.load_network("asia")
    hist = run_design_loop(
        truth,
        truth.sample(100, rng=0),
        strategy="round_robin",
        rounds=2,
        n_per_round=10,
        world_model={"n_samples": 300},
        seed=0,
    )
    assert [h["round"] for h in hist] == [0, 1, 2]
    assert [h["n_rows"] for h in hist] == [100, 110, 120]
    assert hist[0]["experiment"] == truth.names[0] and hist[-1]["experiment"] is None
    assert structural_hamming_distance(truth.adjacency, truth.adjacency) == 0
    assert structural_hamming_distance(truth.adjacency, truth.adjacency.T) == int(
        truth.adjacency.sum()
    )
    exact = Posterior.from_theories([truth])
    assert edge_error(exact, truth.adjacency) == 0.0


def test_cli(tmp_path):
    path = tmp_path / "p.npz"
    two_worlds().save(path)
    res = CliRunner().invoke(
        app, ["design", str(path), "--candidates", "X,Y", "--outer", "64", "--json"]
    )
    assert res.exit_code == 0, res.output
    body = json.loads(res.output)
    assert body[0]["variable"] == "X" and body[0]["eig"] > body[1]["eig"]
    res = CliRunner().invoke(app, ["design", str(path), "--candidates", "Q"])
    assert res.exit_code == 2 and "Unknown candidate" in res.output


def test_gain_about_the_edges():
    # the two worlds differ in one edge: the information about the edges is that about the DAG
    e = expected_information_gain(two_worlds(), "X", "1", n_samples=5, n_outer=4000, target="edges")
    assert e.about == "edges"
    assert abs(e.eig - exact_mi(5)) < 4 * e.eig_stderr
    assert expected_information_gain(two_worlds(), "Y", "1", target="edges").eig == pytest.approx(
        0.0, abs=1e-9
    )


def test_cli_parameters_and_edges(tmp_path):
    path = tmp_path / "p.npz"
    two_worlds().save(path)
    args = ["design", str(path), "--candidates", "X,Y", "--outer", "32", "--json"]
    res = CliRunner().invoke(app, [*args, "--target", "edges", "--parameters", "mean"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)[0]["about"] == "edges"
    res = CliRunner().invoke(app, [*args, "--parameters", "median"])
    assert res.exit_code == 2 and "parameters='median'" in res.output
    # do(X) teaches the most, and a batch that may repeat picks it again
    res = CliRunner().invoke(app, [*args, "--batch", "3", "--repeats"])
    assert res.exit_code == 0, res.output
    assert [e["variable"] for e in json.loads(res.output)] == ["X", "X", "X"]
    res = CliRunner().invoke(app, [*args, "--batch", "3"])
    assert res.exit_code == 2 and "repeats=True" in res.output
