"""Shared, batched elimination across many structures equals answering each theory alone."""

import numpy as np
import pytest

from scientist import Posterior, Theory, datasets
from scientist.data import Variable
from scientist.graphs import is_dag, parent_masks
from scientist.infer import ask, discrete, elimination
from scientist.scores import BDeu
from scientist.theory import CategoricalFamily


def perturbed(network: str, n: int, seed: int) -> Posterior:
    """``n`` distinct DAGs around a bundled network (edges dropped and added), BDeu parameters."""
    truth = datasets.load_network(network)
    scorer = BDeu().fit(truth.sample(1000, rng=seed))
    rng = np.random.default_rng(seed)
    base = truth.adjacency
    d = base.shape[0]
    seen: set[bytes] = set()
    dags = []
    while len(dags) < n:
        adj = base.copy()
        edges = np.argwhere(adj)
        for e in edges[rng.choice(len(edges), size=rng.integers(0, 3), replace=False)]:
            adj[e[0], e[1]] = False
        for _ in range(rng.integers(0, 3)):
            i, j = rng.choice(d, size=2, replace=False)
            if not adj[j, i] and adj[:, j].sum() < 4:
                adj[i, j] = True
                if not is_dag(adj):
                    adj[i, j] = False
        if adj.tobytes() not in seen:
            seen.add(adj.tobytes())
            dags.append(adj)
    return Posterior(
        truth.variables,
        parent_masks(np.stack(dags)),
        np.full(n, -np.log(n)),
        weighting="empirical",
        scorer=scorer,
        counts=np.ones(n, dtype=np.int64),
        info={"n_samples": n},
    )


def one_by_one(post: Posterior, query: str) -> np.ndarray:
    return np.array(
        [
            ask(Posterior.from_theories([post.theory(k)]), query, n_draws=0).mean
            for k in range(post.n_theories)
        ]
    )


def batched(post: Posterior, query: str) -> np.ndarray:
    a = ask(post, query, n_draws=0)
    out = np.full(post.n_theories, np.nan)
    out[a.per_theory["theory"]] = a.per_theory["value"]
    return out


QUERIES = {
    "asia": "P(dysp=yes | do(smoke=yes), xray=no)",
    "child": "P(LowerBodyO2='<5' | do(Disease=TGA), Age='0-3_days', CO2Report='<7.5')",
}


@pytest.mark.parametrize("network", sorted(QUERIES))
def test_shared_messages_equal_each_theory_alone(network):
    post = perturbed(network, 40, seed=3)
    np.testing.assert_allclose(
        batched(post, QUERIES[network]), one_by_one(post, QUERIES[network]), rtol=0, atol=1e-12
    )


def test_own_orders_and_split_groups_give_the_same_answers(monkeypatch):
    """A structure eliminated in its own order, and a group of theories split in parts."""
    post = perturbed("child", 30, seed=5)
    query = QUERIES["child"]
    expected = batched(post, query)
    drawn = Posterior.from_theories(
        [
            post.theory(k).draw_parameters(np.random.default_rng(k))
            for k in range(3)
            for _ in range(4)
        ]
    )
    expected_drawn = one_by_one(drawn, query)
    monkeypatch.setattr(elimination, "MAX_BUCKET", 1)
    monkeypatch.setattr(elimination, "BUCKET_GROWTH", 0)
    monkeypatch.setattr(elimination, "MAX_FACTOR", 64)
    monkeypatch.setattr(discrete, "MAX_FACTOR", 64)
    discrete._PLANS.clear()
    np.testing.assert_allclose(batched(post, query), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(batched(drawn, query), expected_drawn, rtol=0, atol=1e-12)
    discrete._PLANS.clear()


def test_plan_reused_for_other_values_of_the_same_query_shape():
    post = perturbed("asia", 25, seed=7)
    for query in ("P(dysp=yes | do(smoke=no), xray=yes)", "P(dysp=no | do(smoke=yes), xray=no)"):
        np.testing.assert_allclose(
            batched(post, query), one_by_one(post, query), rtol=0, atol=1e-12
        )


def test_plan_cache_keeps_the_most_recent_shapes(monkeypatch):
    post = perturbed("asia", 5, seed=3)
    monkeypatch.setattr(discrete, "_PLAN_CACHE_SIZE", 2)
    discrete._PLANS.clear()
    shapes = ["P(dysp=yes | do(smoke=no))", "P(dysp=yes | xray=yes)", "P(tub=yes | asia=yes)"]
    for query in shapes:
        batched(post, query)
    assert len(discrete._PLANS) == 2
    batched(post, shapes[1])  # still cached: no new plan, nothing evicted
    assert len(discrete._PLANS) == 2
    before = list(discrete._PLANS)
    batched(post, shapes[0])  # evicted earlier: planned again, the oldest goes
    after = list(discrete._PLANS)
    assert after[0] == before[1] and after[1] not in before
    discrete._PLANS.clear()


def test_explicit_theories_draw_their_own_parameters():
    """Two theories with one structure and opposite, confident parameter posteriors."""
    vs = [Variable("X", "categorical", ("0", "1")), Variable("Y", "categorical", ("0", "1"))]
    adj = np.array([[0, 1], [0, 0]], bool)

    def theory(p: float) -> Theory:
        conc = 1e4 * np.array([[1 - p, p], [1 - p, p]])
        return Theory(
            vs,
            adj,
            [
                CategoricalFamily((), np.array([0.5, 0.5]), np.array([50.0, 50.0])),
                CategoricalFamily((0,), conc / conc.sum(-1, keepdims=True), conc),
            ],
        )

    a = ask(Posterior.from_theories([theory(0.1), theory(0.9)]), "P(Y=1 | do(X=0))", n_draws=64)
    assert a.interval[0] < 0.15 and a.interval[1] > 0.85


def test_min_fill_order_of_a_tree_adds_no_edges():
    # a star: centre 0 with leaves 1..4; eliminating the centre before the leaves adds edges
    adj = {0: 0b11110, 1: 1, 2: 1, 3: 1, 4: 1}
    order = elimination.min_fill_order(adj, np.full(5, 2), [0, 1, 2, 3, 4])
    assert sorted(order) == [0, 1, 2, 3, 4] and order.index(0) >= 3
