"""Value candidates do(X=x) and "X=*": the Monte-Carlo gain against brute-force enumeration."""

import itertools
import json

import numpy as np
import pytest
from scipy.special import logsumexp
from typer.testing import CliRunner

from scientist import InputError, Theory, WorldModel, datasets
from scientist.cli import app
from scientist.data import Dataset, Variable
from scientist.design import run_design_loop, suggest
from scientist.scores.bdeu import BDeu
from scientist.theory import CategoricalFamily

VARS = [Variable(n, "categorical", ("0", "1")) for n in ("A", "B", "C")]


def tiny_posterior():
    """The exact BDeu posterior over all 25 DAGs on three binary variables, from 12 rows."""
    truth = Theory(
        VARS,
        np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]], bool),
        [
            CategoricalFamily((), np.array([0.8, 0.2])),
            CategoricalFamily((0,), np.array([[0.85, 0.15], [0.2, 0.8]])),
            CategoricalFamily((1,), np.array([[0.7, 0.3], [0.25, 0.75]])),
        ],
    )
    data = truth.sample(12, rng=0)
    post = WorldModel(sampler="exact").fit(data).posterior_
    assert post.n_theories == 25
    return data, post


def brute_force_gain(data, post, nodes, row_values, target):
    """Exact I(G; Y) (or sum_e I(e; Y)) of rows i = 1..n under do(nodes[i] = row_values[i]).

    Every outcome of the other cells is enumerated; ``p(y | G, D)`` is the ratio of BDeu
    marginal likelihoods with and without the new rows (a family skips the rows that set its
    node), and ``row_values`` is averaged over when it is a list of value vectors.
    """
    d, n = len(post.names), len(nodes)
    log_w = post.log_weights - logsumexp(post.log_weights)
    parents = [
        [tuple(np.flatnonzero(post.adjacency(k)[:, j])) for j in range(d)] for k in range(25)
    ]
    before = BDeu().fit(data)
    mask = np.zeros((n, d), bool)
    mask[np.arange(n), nodes] = True
    edges = np.array([post.adjacency(k).ravel() for k in range(25)], float)
    gains = []
    for xs in row_values:
        logp = []
        for ys in itertools.product((0, 1), repeat=int((~mask).sum())):
            rows = np.zeros((n, d))
            rows[np.arange(n), nodes] = xs
            rows[~mask] = ys
            after = BDeu().fit(
                Dataset(
                    data.variables,
                    np.concatenate([data.values, rows]),
                    np.concatenate([data.interventions, mask]),
                )
            )
            logp.append(
                [
                    sum(
                        after.local(j, parents[k][j]) - before.local(j, parents[k][j])
                        for j in range(d)
                    )
                    for k in range(25)
                ]
            )
        logp = np.array(logp)  # (outcomes, theories)
        joint = logp + log_w[None, :]
        marg = logsumexp(joint, axis=1)
        if target == "edges":

            def h(p):
                p = np.clip(p, 1e-12, 1 - 1e-12)
                return -(p * np.log(p) + (1 - p) * np.log1p(-p))

            w_post = np.exp(joint - marg[:, None])
            gains.append(
                h(np.exp(log_w) @ edges).sum() - np.exp(marg) @ h(w_post @ edges).sum(axis=1)
            )
        else:
            gains.append(float((np.exp(joint) * (logp - marg[:, None])).sum()))
    return float(np.mean(gains))


@pytest.mark.parametrize("target", [None, "edges"])
def test_value_candidates_match_brute_force(target):
    data, post = tiny_posterior()
    n = 2
    ranked = suggest(post, ["A=*"], n_samples=n, n_outer=3000, max_theories=25, target=target)
    assert sorted(e.value for e in ranked) == ["0", "1"]
    for e in ranked:
        want = brute_force_gain(data, post, [0] * n, [[int(e.value)] * n], target)
        assert abs(e.eig - want) < 4 * e.eig_stderr, (e, want)
        assert e.eig_stderr < 0.03
    # do(A) with values spread: the average over the 4 equally likely value vectors
    spread = suggest(post, ["A"], n_samples=n, n_outer=3000, max_theories=25, target=target)[0]
    want = brute_force_gain(data, post, [0] * n, list(itertools.product((0, 1), repeat=n)), target)
    assert spread.value is None and abs(spread.eig - want) < 4 * spread.eig_stderr


@pytest.mark.parametrize("target", [None, "edges"])
def test_greedy_batch_gain_is_the_joint_gain(target):
    # the rows of a batch share each world's parameters and are scored jointly
    data, post = tiny_posterior()
    names = post.names
    cands = ["A=1", "B=1", "C=0", "B=0"]
    batch = suggest(post, cands, n_samples=1, n_outer=3000, max_theories=25, batch=2, target=target)
    single = suggest(post, cands, n_samples=1, n_outer=3000, max_theories=25, target=target)
    assert batch[0].variable == single[0].variable and batch[0].value == single[0].value
    nodes = [names.index(e.variable) for e in batch]
    want = brute_force_gain(data, post, nodes, [[int(e.value) for e in batch]], target)
    assert abs(batch[1].eig - want) < 4 * batch[1].eig_stderr, (batch, want)
    assert batch[1].eig > batch[0].eig


def test_star_expands_to_every_state_once():
    _, post = tiny_posterior()
    ranked = suggest(post, ["B=*", "B=1", ("C", "*"), "C"], n_samples=3, n_outer=16)
    assert sorted((e.variable, str(e.value)) for e in ranked) == [
        ("B", "0"),
        ("B", "1"),
        ("C", "0"),
        ("C", "1"),
        ("C", "None"),
    ]


def test_value_candidate_errors():
    _, post = tiny_posterior()
    with pytest.raises(InputError, match="'A=\\*,B' is a string"):
        suggest(post, "A=*,B")
    with pytest.raises(InputError, match="Unknown candidate variable 'Q'"):
        suggest(post, ["Q=*"])
    with pytest.raises(InputError, match="expected a \\(name, value\\) pair"):
        suggest(post, [("A", "0", "1")])
    with pytest.raises(InputError, match="Candidate 3 is invalid"):
        suggest(post, [3])
    w = np.zeros((2, 2))
    w[0, 1] = 1.0
    truth = Theory.linear_gaussian(["a", "b"], w)
    gpost = WorldModel(sampler="exact").fit(truth.sample(20, rng=0)).posterior_
    with pytest.raises(InputError, match=r"'a' is continuous, so '\*'.*'a=1\.5'"):
        suggest(gpost, ["a=*"])
    with pytest.raises(InputError, match="candidates is empty"):
        run_design_loop(truth, truth.sample(10, rng=0), candidates=[])
    with pytest.raises(InputError, match="is a string"):
        run_design_loop(truth, truth.sample(10, rng=0), candidates="a")


def test_loop_runs_the_chosen_value():
    truth = datasets.load_network("asia")
    wm = {"n_samples": 100, "n_chains": 1}
    kw = {"rounds": 2, "n_per_round": 10, "world_model": wm, "n_outer": 8, "max_theories": 20}
    cands = ["smoke=*", "either"]
    hist = run_design_loop(truth, truth.sample(100, rng=0), candidates=cands, **kw)
    for h in hist[:-1]:
        assert h["experiment"] in ("smoke", "either")
        assert (h["value"] in ("yes", "no")) == (h["experiment"] == "smoke")
    assert hist[-1]["experiment"] is None and hist[-1]["value"] is None
    # the baselines choose among the named variables, values spread
    rr = run_design_loop(
        truth, truth.sample(100, rng=0), candidates=cands, strategy="round_robin", **kw
    )
    assert [h["experiment"] for h in rr] == ["smoke", "either", None]
    assert all(h["value"] is None for h in rr)


def test_cli_value_candidates(tmp_path):
    _, post = tiny_posterior()
    path = tmp_path / "p.npz"
    post.save(path)
    args = ["design", str(path), "--outer", "16", "--samples", "3", "--json"]
    res = CliRunner().invoke(app, [*args, "--candidates", "A=*,B"])
    assert res.exit_code == 0, res.output
    got = sorted((e["variable"], e["value"]) for e in json.loads(res.output))
    assert got == [("A", "0"), ("A", "1"), ("B", None)]
    res = CliRunner().invoke(app, [*args, "--candidates", "A=2"])
    assert res.exit_code == 2 and "Unknown state '2'" in res.output


def test_loop_with_several_experiments_per_round():
    truth = datasets.load_network("asia")
    wm = {"n_samples": 100, "n_chains": 1}
    kw = {"rounds": 2, "n_per_round": 10, "world_model": wm, "n_outer": 8, "max_theories": 20}
    start = truth.sample(100, rng=0)
    rr = run_design_loop(truth, start, strategy="round_robin", per_round=2, **kw)
    assert [h["experiments"] for h in rr[:2]] == [
        [(truth.names[0], None), (truth.names[1], None)],
        [(truth.names[2], None), (truth.names[3], None)],
    ]
    assert [h["n_rows"] for h in rr] == [100, 110, 120]
    rnd = run_design_loop(truth, start, strategy="random", per_round=5, **kw)
    assert all(len({v for v, _ in h["experiments"]}) == 5 for h in rnd[:2])
    eig = run_design_loop(truth, start, candidates=["smoke=*", "either"], per_round=2, **kw)
    assert all(len(set(h["experiments"])) == 2 for h in eig[:2])
    with pytest.raises(InputError, match="per_round=3 does not divide n_per_round=10"):
        run_design_loop(truth, start, per_round=3, **kw)
    with pytest.raises(InputError, match="per_round=5 is larger than the 3 candidate"):
        run_design_loop(truth, start, candidates=["smoke=*", "either"], per_round=5, **kw)
    with pytest.raises(InputError, match="per_round=0 is invalid"):
        run_design_loop(truth, start, per_round=0, **kw)


@pytest.mark.parametrize("target", [None, "edges"])
def test_a_repeated_pick_brings_new_rows(target):
    """With ``repeats``, picking ``do(A=1)`` twice is worth two fresh rows at A=1 (the exact
    gain of that experiment with ``n_samples=2``), not the same row counted twice."""
    data, post = tiny_posterior()
    kw = {"n_outer": 3000, "max_theories": 25, "target": target}
    batch = suggest(post, ["A=1"], n_samples=1, batch=2, repeats=True, **kw)
    assert [(e.variable, e.value, e.n_samples) for e in batch] == [("A", "1", 1)] * 2
    want = brute_force_gain(data, post, [0, 0], [[1, 1]], target)
    assert abs(batch[1].eig - want) < 4 * batch[1].eig_stderr, (batch, want)
    once = brute_force_gain(data, post, [0], [[1]], target)
    assert want > once + 8 * batch[1].eig_stderr  # the test can tell one row from two
    # repeats may also pick other candidates: every pick is a candidate, and the gain grows
    mixed = suggest(post, ["A=1", "C=0"], n_samples=1, batch=4, repeats=True, **kw)
    assert len(mixed) == 4 and {(e.variable, e.value) for e in mixed} <= {("A", "1"), ("C", "0")}
    assert all(a.eig < b.eig for a, b in itertools.pairwise(mixed))
