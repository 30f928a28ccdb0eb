"""DAG-GFlowNet: its exact terminating distribution, training against the exact posterior,
reproducibility and checkpoints."""

import itertools
from dataclasses import replace

import numpy as np
import pytest
import torch

from scientist import WorldModel
from scientist.errors import FileFormatError, InputError, SamplerError
from scientist.graphs import all_dags
from scientist.priors import UniformPrior
from scientist.samplers.gflownet import (
    DAGEnv,
    GFlowNet,
    GFlowNetConfig,
    StateGraph,
    exact_log_posterior,
    jensen_shannon,
)
from scientist.samplers.gflownet.states import DAGStates
from scientist.scores import make_score
from scientist.scores.table import FamilyTable

FAST = GFlowNetConfig(hidden=64, n_envs=16, warmup=256)


def _table(data, prior=None):
    return FamilyTable(make_score("bge").fit(data), prior or UniformPrior(), None)


@pytest.fixture(scope="module")
def gaussian3(gaussian4):
    from scientist import Dataset

    return Dataset.from_pandas(gaussian4.to_pandas()[["X0", "X1", "X2"]])


def _trajectory_sum(gfn: GFlowNet) -> dict[bytes, float]:
    """P_T by brute force: the probability of every complete trajectory, summed by endpoint."""
    env, d = gfn.env, gfn.table.d
    out: dict[bytes, float] = {}

    def walk(adj: np.ndarray, prob: float) -> None:
        states = DAGStates.from_adjacency(torch.as_tensor(adj[None]))
        valid = env.valid_actions(states)
        with torch.no_grad():
            p = gfn.policy(states.adj, valid).exp()[0].double().numpy()
        key = states.parent_masks()[0].tobytes()
        out[key] = out.get(key, 0.0) + prob * p[-1]
        for a in np.flatnonzero(valid[0, :-1].numpy()):
            nxt = adj.copy()
            nxt[a // d, a % d] = True
            walk(nxt, prob * p[a])

    walk(np.zeros((d, d), dtype=bool), 1.0)
    return out


KINDS = ["child-parent", "joint"]


@pytest.mark.parametrize("kind", KINDS)
def test_terminating_distribution_equals_the_sum_over_trajectories(gaussian3, kind):
    gfn = GFlowNet(_table(gaussian3), replace(FAST, policy=kind), seed=0)
    masks, p_t = gfn.terminating_distribution()
    assert p_t.sum() == pytest.approx(1.0, abs=1e-6)
    brute = _trajectory_sum(gfn)
    assert len(brute) == len(all_dags(3)) == masks.shape[0]
    for m, p in zip(masks, p_t, strict=True):
        assert p == pytest.approx(brute[m.tobytes()], rel=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_draws_follow_the_terminating_distribution(gaussian4, kind):
    """Empirical frequencies of 40,000 draws against P_T, |z| <= 4.5 with binomial errors."""
    gfn = GFlowNet(_table(gaussian4), replace(FAST, policy=kind), seed=1).train(steps=200)
    masks, p_t = gfn.terminating_distribution()
    draws = gfn.sample(40_000, seed=2)
    index = {m.tobytes(): k for k, m in enumerate(masks)}
    counts = np.bincount([index[m.tobytes()] for m in draws], minlength=len(masks))
    top = np.argsort(-p_t)[:20]
    n = draws.shape[0]
    z = (counts[top] / n - p_t[top]) / np.sqrt(p_t[top] * (1 - p_t[top]) / n)
    assert np.abs(z).max() < 4.5


@pytest.fixture(scope="module")
def trained(gaussian4):
    gfn = GFlowNet(_table(gaussian4), FAST, seed=0)
    before = gfn.exact_jsd()
    gfn.train(steps=1500, eval_every=500)
    return gfn, before


def test_training_approaches_the_exact_posterior(trained):
    gfn, before = trained
    after = gfn.history[-1]["jsd"]
    assert before > 0.2
    assert after < 0.05
    assert [r["step"] for r in gfn.history] == [500.0, 1000.0, 1500.0]
    assert all(r["seconds"] > 0 for r in gfn.history)


def test_the_accuracy_check_can_fail(trained, gaussian4):
    """Against the posterior of other data (same margins, no dependence), the trained sampler
    is far off: the JSD check has power."""
    from scientist import Dataset

    gfn, _ = trained
    rng = np.random.default_rng(0)
    shuffled = np.stack([rng.permutation(col) for col in gaussian4.values.T], axis=1)
    other = Dataset(gaussian4.variables, shuffled)
    target = np.exp(exact_log_posterior(DAGEnv(_table(other)), StateGraph(4)))
    _, p_t = gfn.terminating_distribution()
    assert jensen_shannon(p_t, target) > 0.1


def test_same_seed_same_draws_and_checkpoints_resume(gaussian4, tmp_path):
    table = _table(gaussian4)
    a = GFlowNet(table, FAST, seed=5).train(steps=150)
    b = GFlowNet(table, FAST, seed=5).train(steps=150)
    np.testing.assert_array_equal(a.sample(500, seed=1), b.sample(500, seed=1))
    path = a.save(tmp_path / "ck.pt")
    c = GFlowNet.load(path, table)
    assert c.steps == 150 and c.history == a.history
    np.testing.assert_array_equal(a.sample(500, seed=1), c.sample(500, seed=1))
    a.train(steps=50)
    c.train(steps=50)
    assert c.steps == 200
    for pa, pc in zip(a.policy.parameters(), c.policy.parameters(), strict=True):
        torch.testing.assert_close(pa, pc)


def test_checkpoints_keep_the_policy_kind(gaussian4, tmp_path):
    """A joint-softmax sampler reloads as one, also from a checkpoint written before the
    policy kind was recorded."""
    table = _table(gaussian4)
    a = GFlowNet(table, replace(FAST, policy="joint"), seed=0).train(steps=20)
    path = a.save(tmp_path / "joint.pt")
    state = torch.load(path, weights_only=True)
    del state["config"]["policy"]
    torch.save(state, tmp_path / "old.pt")
    for p in (path, tmp_path / "old.pt"):
        b = GFlowNet.load(p, table)
        assert b.config.policy == "joint"
        np.testing.assert_array_equal(a.sample(300, seed=1), b.sample(300, seed=1))


def test_checkpoint_errors(gaussian4, gaussian3, tmp_path):
    table = _table(gaussian4)
    bad = tmp_path / "bad.pt"
    bad.write_text("not a checkpoint")
    with pytest.raises(FileFormatError, match="not a GFlowNet checkpoint"):
        GFlowNet.load(bad, table)
    with pytest.raises(InputError, match="does not exist"):
        GFlowNet.load(tmp_path / "missing.pt", table)
    path = GFlowNet(_table(gaussian3), FAST, seed=0).save(tmp_path / "three.pt")
    with pytest.raises(InputError, match="trained on variables"):
        GFlowNet.load(path, table)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.pt", "three.pt"]


def test_bad_arguments_name_the_parameter(gaussian4):
    table = _table(gaussian4)
    with pytest.raises(InputError, match="epsilon=2"):
        GFlowNetConfig(epsilon=2)
    with pytest.raises(InputError, match="hidden=0"):
        GFlowNetConfig(hidden=0)
    with pytest.raises(InputError, match=r"policy='tree'.*child-parent"):
        GFlowNetConfig(policy="tree")
    gfn = GFlowNet(table, FAST, seed=0)
    with pytest.raises(InputError, match="budget"):
        gfn.train()
    with pytest.raises(InputError, match="budget=-1"):
        gfn.train(-1)
    with pytest.raises(InputError, match="n=0"):
        gfn.sample(0)
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA device"):
            GFlowNet(table, FAST, device="cuda")
    with pytest.raises(InputError, match="device='tpu'"):
        GFlowNet(table, FAST, device="tpu")


def test_exact_distribution_needs_small_graphs():
    with pytest.raises(SamplerError, match="d <= 5"):
        StateGraph(6)


def test_required_and_forbidden_edges_hold_in_every_draw(gaussian4):
    prior = UniformPrior(required=[("X0", "X1")], forbidden=[("X2", "X3")])
    gfn = GFlowNet(_table(gaussian4, prior), FAST, seed=0).train(steps=300)
    draws = gfn.sample(2000, seed=0)
    assert ((draws[:, 1] >> 0) & 1).all()
    assert not ((draws[:, 3] >> 2) & 1).any()
    _, p_t = gfn.terminating_distribution()
    assert p_t.sum() == pytest.approx(1.0, abs=1e-6)


def test_world_model_gflownet_end_to_end(gaussian4, tmp_path):
    wm = WorldModel(sampler="gflownet", budget=3, n_samples=500, seed=0, gflownet=FAST).fit(
        gaussian4
    )
    post = wm.posterior_
    assert post.info["sampler"] == "gflownet" and post.info["train_steps"] > 0
    assert 0 < post.n_theories <= 500
    assert post.edge_marginals().shape == (4, 4)
    ck = wm.gflownet_.save(tmp_path / "wm.pt")
    again = WorldModel(sampler="gflownet", budget=0, checkpoint=ck, n_samples=200, seed=1).fit(
        gaussian4
    )
    assert again.posterior_.info["train_steps"] == post.info["train_steps"]
    with pytest.raises(InputError, match="budget=0"):
        WorldModel(sampler="gflownet", budget=0).fit(gaussian4)
    with pytest.raises(InputError, match="budget=-2"):
        WorldModel(sampler="gflownet", budget=-2).fit(gaussian4)


def test_interventional_rows_reach_the_reward(asia_small):
    """With BDeu and interventions, the reward is the world model's score of the same data."""
    from scientist import Dataset

    df = asia_small.to_pandas()
    mask = np.zeros((len(df), 4), dtype=bool)
    mask[:100, 1] = True
    data = Dataset(asia_small.variables, asia_small.values, interventions=mask)
    table = FamilyTable(make_score("bdeu").fit(data), UniformPrior(), None)
    gfn = GFlowNet(table, FAST, seed=0)
    masks = np.array(list(itertools.islice(all_dags(4, as_masks=True), 50)))
    np.testing.assert_allclose(gfn.env.log_reward(masks), table.graph_scores(masks))
    gfn.train(steps=600)
    assert gfn.exact_jsd() < 0.1


@pytest.mark.parametrize("kind", KINDS)
def test_loss_terms_equal_those_of_the_full_action_distribution(gaussian4, kind):
    """The loss computes only the probabilities it needs; they equal the entries of the whole
    action distribution, so the residuals are those of eq. 6 of Deleu et al. (2022)."""
    from scientist.samplers.gflownet.losses.modified_db import modified_db_residuals

    gfn = GFlowNet(_table(gaussian4), replace(FAST, policy=kind), seed=3).train(steps=30)
    batch = gfn.buffer.sample(256, torch.Generator().manual_seed(0))
    d, rows = gfn.table.d, torch.arange(256)
    adj_next = batch.adj.clone()
    adj_next[rows, batch.action // d, batch.action % d] = True
    with torch.no_grad():
        log_p = gfn.policy(batch.adj, batch.valid)
        log_p_next = gfn.policy(adj_next, batch.valid_next)
        n_edges = adj_next.sum(dim=(1, 2)).double()
        expected = (
            batch.delta.double()
            - torch.log(n_edges)
            + log_p[:, -1].double()
            - log_p[rows, batch.action].double()
            - log_p_next[:, -1].double()
        )
        got = modified_db_residuals(gfn.policy, batch)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got.double(), expected, atol=1e-4, rtol=1e-5)


def test_target_network_gives_the_next_stop_and_follows_the_policy(gaussian4, tmp_path):
    """With ``target_every=k`` the loss takes ``P_F(stop | G')`` from a copy of the policy,
    held out of the gradient and refreshed every ``k`` steps; checkpoints keep the copy."""
    from scientist.samplers.gflownet.losses.modified_db import modified_db_residuals

    table = _table(gaussian4)
    gfn = GFlowNet(table, replace(FAST, target_every=10), seed=4).train(steps=20)
    assert gfn.target is not None and not any(p.requires_grad for p in gfn.target.parameters())
    for pt, pp in zip(gfn.target.parameters(), gfn.policy.parameters(), strict=True):
        torch.testing.assert_close(pt, pp)  # refreshed at step 20
    gfn.train(steps=5)
    assert any(
        not torch.equal(pt, pp)
        for pt, pp in zip(gfn.target.parameters(), gfn.policy.parameters(), strict=True)
    )

    batch = gfn.buffer.sample(128, torch.Generator().manual_seed(0))
    d, rows = table.d, torch.arange(128)
    adj_next = batch.adj.clone()
    adj_next[rows, batch.action // d, batch.action % d] = True
    with torch.no_grad():
        online = modified_db_residuals(gfn.policy, batch)
        shift = (
            gfn.policy(adj_next, batch.valid_next)[:, -1]
            - gfn.target(adj_next, batch.valid_next)[:, -1]
        )
    got = modified_db_residuals(gfn.policy, batch, target=gfn.target)
    torch.testing.assert_close(got.detach(), online + shift, atol=1e-4, rtol=1e-5)
    got.sum().backward()
    assert all(p.grad is None for p in gfn.target.parameters())
    assert any(p.grad is not None for p in gfn.policy.parameters())

    path = gfn.save(tmp_path / "target.pt")
    again = GFlowNet.load(path, table)
    for pt, pa in zip(gfn.target.parameters(), again.target.parameters(), strict=True):
        torch.testing.assert_close(pt, pa)
    gfn.train(steps=10)
    again.train(steps=10)
    for pa, pb in zip(gfn.policy.parameters(), again.policy.parameters(), strict=True):
        torch.testing.assert_close(pa, pb)
    with pytest.raises(InputError, match="target_every=-1"):
        GFlowNetConfig(target_every=-1)
    assert GFlowNet(table, FAST, seed=0).target is None


def test_training_with_a_target_network_approaches_the_exact_posterior(gaussian4):
    gfn = GFlowNet(_table(gaussian4), replace(FAST, target_every=100), seed=0)
    before = gfn.exact_jsd()
    gfn.train(steps=1500, eval_every=500)
    assert before > 0.2
    assert gfn.history[-1]["jsd"] < 0.05
