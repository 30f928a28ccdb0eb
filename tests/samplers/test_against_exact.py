"""Every sampler against the exact posterior at d = 4, with Monte-Carlo standard errors.

Each check compares a sampler's empirical frequencies (DAG probabilities of the 12 most probable
DAGs and all 12 edge marginals) with the exact target. Standard errors come from batch means
(20 batches per chain), which account for autocorrelation. A check fails when a |z| exceeds 4.5;
with 24 comparisons per test the false-failure probability of a correct sampler is about
24 * 7e-6 < 2e-4 per test (seeds are fixed, so the outcome is deterministic).
"""

import math

import numpy as np
import pytest

from scientist import WorldModel
from scientist.graphs import adjacency_from_masks, all_dags, topological_order
from scientist.priors import EdgePrior, UniformPrior
from scientist.samplers.driver import run_chains
from scientist.samplers.exact import enumerate_posterior
from scientist.samplers.rng import ChainGenerators
from scientist.scores import make_score
from scientist.scores.table import FamilyTable

Z_MAX = 4.5


def n_linear_extensions(adj: np.ndarray) -> int:
    d = adj.shape[0]
    count = {0: 1}
    for mask in range(1 << d):  # DP over placed sets
        if mask not in count:
            continue
        for j in range(d):
            if not mask >> j & 1:
                parents = sum(1 << i for i in np.flatnonzero(adj[:, j]))
                if parents & mask == parents:
                    count[mask | 1 << j] = count.get(mask | 1 << j, 0) + count[mask]
    return count[(1 << d) - 1]


def z_scores(samples: np.ndarray, target_masks: np.ndarray, target_p: np.ndarray) -> np.ndarray:
    """Batch-means z-scores of DAG frequencies and edge marginals."""
    c, s, d = samples.shape
    batches = 20
    per = s // batches
    samples = samples[:, : per * batches]
    top = np.argsort(-target_p)[:12]
    stats, targets = [], []
    for k in top:  # indicator of each top DAG
        stats.append(np.all(samples == target_masks[k], axis=-1))
        targets.append(target_p[k])
    adj_t = adjacency_from_masks(target_masks)
    for i in range(d):
        for j in range(d):
            if i != j:
                stats.append(((samples[..., j] >> i) & 1).astype(bool))
                targets.append(float(target_p @ adj_t[:, i, j]))
    z = []
    for x, t in zip(stats, targets, strict=True):
        means = x.reshape(c * batches, per).mean(axis=1)
        se = means.std(ddof=1) / math.sqrt(means.size)
        se = max(se, 1.0 / (c * s))  # floor for events never or always seen
        z.append((x.mean() - t) / se)
    return np.array(z)


def table_for(data, prior=None):
    scorer = make_score("bge" if data.kind == "continuous" else "bdeu").fit(data)
    return FamilyTable(scorer, prior or UniformPrior())


@pytest.mark.parametrize("which", ["gaussian4", "asia_small"])
def test_structure_mcmc_matches_exact(which, request):
    data = request.getfixturevalue(which)
    table = table_for(data)
    masks, log_post = enumerate_posterior(table)
    seeds = np.random.SeedSequence(11).spawn(4)
    run = run_chains("structure_mcmc", table, seeds=seeds, n_samples=20000, burn_in=2000, thin=1)
    z = z_scores(run.samples, masks, np.exp(log_post))
    assert np.abs(z).max() < Z_MAX, z


@pytest.mark.parametrize("which", ["gaussian4", "asia_small"])
def test_order_mcmc_matches_order_modular_target(which, request):
    """Order MCMC's DAG draws follow P(G | D) weighted by G's number of linear extensions."""
    data = request.getfixturevalue(which)
    table = table_for(data)
    masks, log_post = enumerate_posterior(table)
    ext = np.array([n_linear_extensions(a) for a in adjacency_from_masks(masks)])
    target = np.exp(log_post) * ext
    target /= target.sum()
    seeds = np.random.SeedSequence(12).spawn(4)
    run = run_chains("order_mcmc", table, seeds=seeds, n_samples=20000, burn_in=1000, thin=1)
    z = z_scores(run.samples, masks, target)
    assert np.abs(z).max() < Z_MAX, z


def test_exact_kernel_draws_iid_from_exact(gaussian4):
    table = table_for(gaussian4)
    masks, log_post = enumerate_posterior(table)
    run = run_chains(
        "exact", table, seeds=np.random.SeedSequence(5).spawn(2), n_samples=20000, burn_in=0, thin=1
    )
    z = z_scores(run.samples, masks, np.exp(log_post))
    assert np.abs(z).max() < Z_MAX, z


def test_a_wrong_target_is_detected(gaussian4):
    """The check has power: structure-MCMC draws fail against the order-modular target."""
    table = table_for(gaussian4)
    masks, log_post = enumerate_posterior(table)
    ext = np.array([n_linear_extensions(a) for a in adjacency_from_masks(masks)])
    wrong = np.exp(log_post) * ext
    wrong /= wrong.sum()
    run = run_chains(
        "structure_mcmc",
        table,
        seeds=np.random.SeedSequence(11).spawn(4),
        n_samples=20000,
        burn_in=2000,
        thin=1,
    )
    assert np.abs(z_scores(run.samples, masks, wrong)).max() > Z_MAX


def test_exact_posterior_is_normalised_and_complete(gaussian4):
    table = table_for(gaussian4)
    masks, log_post = enumerate_posterior(table)
    assert masks.shape == (543, 4)
    assert np.exp(log_post).sum() == pytest.approx(1.0)
    # matches a direct sum over the scorer
    direct = table.scorer.total(adjacency_from_masks(masks))
    p = np.exp(direct - direct.max())
    assert np.allclose(p / p.sum(), np.exp(log_post))


def test_rescored_weights_equal_exact_ratios(gaussian4):
    wm = WorldModel(sampler="order_mcmc", n_samples=2000, n_chains=2, seed=0).fit(gaussian4)
    exact = WorldModel(sampler="exact").fit(gaussian4).posterior_
    lookup = {tuple(m): lp for m, lp in zip(exact.masks.tolist(), exact.log_weights, strict=True)}
    post = wm.posterior_
    ref = np.array([lookup[tuple(m)] for m in post.masks.tolist()])
    assert np.allclose(post.log_weights - post.log_weights[0], ref - ref[0])


def test_priors_enter_the_exact_posterior(gaussian4):
    plain = table_for(gaussian4)
    sparse = table_for(gaussian4, EdgePrior(edge_prob=0.1))
    m0, lp0 = enumerate_posterior(plain)
    m1, lp1 = enumerate_posterior(sparse)
    assert np.array_equal(m0, m1)
    n_edges = np.bitwise_count(m0).sum(axis=1)
    expected = lp0 + n_edges * np.log(0.1 / 0.9)
    expected -= np.log(np.exp(expected).sum())
    assert np.allclose(lp1, expected)
    required = table_for(gaussian4, UniformPrior(required=[("X0", "X1")], forbidden=[("X2", "X3")]))
    m2, _ = enumerate_posterior(required)
    adj = adjacency_from_masks(m2)
    assert adj[:, 0, 1].all() and not adj[:, 2, 3].any()


def test_chain_is_the_same_alone_or_batched(gaussian4):
    table = table_for(gaussian4)
    seeds = np.random.SeedSequence(3).spawn(3)
    for name in ("order_mcmc", "structure_mcmc"):
        batch = run_chains(name, table, seeds=seeds, n_samples=300, burn_in=50, thin=2)
        alone = run_chains(name, table, seeds=[seeds[1]], n_samples=300, burn_in=50, thin=2)
        assert np.array_equal(batch.samples[1], alone.samples[0])


def test_all_dags_enumeration_counts():
    for d, n in [(1, 1), (2, 3), (3, 25), (4, 543), (5, 29281)]:
        adj = all_dags(d)
        assert len(adj) == n
        assert len({a.tobytes() for a in adj}) == n
        for a in adj[:: max(1, n // 50)]:
            topological_order(a)  # acyclic


def test_chain_generators_check_the_chain_axis():
    rng = ChainGenerators.from_seeds(np.random.SeedSequence(0).spawn(2))
    with pytest.raises(ValueError, match="chains"):
        rng.random(3)
