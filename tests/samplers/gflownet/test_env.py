"""The DAG environment: masks, incremental reachability, and delta scores."""

import numpy as np
import pytest
import torch

from scientist.errors import InputError
from scientist.graphs import is_dag, transitive_closure
from scientist.priors import UniformPrior
from scientist.samplers.gflownet import DAGEnv, DAGStates, sample_actions
from scientist.samplers.gflownet.states import PackedDAGs
from scientist.scores import make_score
from scientist.scores.table import FamilyTable


def _table(data, prior=None, max_parents=None):
    return FamilyTable(make_score("bge").fit(data), prior or UniformPrior(), max_parents)


def _random_walk(env, n, steps, seed):
    gen = torch.Generator().manual_seed(seed)
    states = env.reset(n)
    for _ in range(steps):
        valid = env.valid_actions(states)
        logits = torch.zeros(valid.shape).masked_fill(~valid, float("-inf"))
        logits[:, -1] = -5.0  # mostly add edges
        env.step(states, sample_actions(torch.log_softmax(logits, 1), valid, gen))
    return states


def test_masks_allow_exactly_the_acyclic_additions(gaussian4):
    env = DAGEnv(_table(gaussian4))
    states = _random_walk(env, 64, 4, seed=0)
    valid = env.valid_actions(states).numpy()
    adj = states.adj.numpy()
    d = env.d
    for b in range(adj.shape[0]):
        for i in range(d):
            for j in range(d):
                nxt = adj[b].copy()
                ok = not nxt[i, j] and i != j
                nxt[i, j] = True
                assert valid[b, i * d + j] == (ok and bool(is_dag(nxt)))
        assert valid[b, -1]


def test_incremental_closure_equals_recomputed(gaussian4):
    env = DAGEnv(_table(gaussian4))
    states = _random_walk(env, 128, 6, seed=1)
    adj = states.adj.numpy()
    expected = np.stack([transitive_closure(a) | np.eye(env.d, dtype=bool) for a in adj])
    np.testing.assert_array_equal(states.ancestors.numpy(), expected.transpose(0, 2, 1))
    again = DAGStates.from_adjacency(states.adj)
    np.testing.assert_array_equal(again.ancestors.numpy(), expected.transpose(0, 2, 1))


def test_delta_score_is_the_change_of_the_graph_score(gaussian4):
    env = DAGEnv(_table(gaussian4))
    states = _random_walk(env, 64, 3, seed=2)
    valid = env.valid_actions(states)
    gen = torch.Generator().manual_seed(3)
    valid[:, -1] = False
    actions = sample_actions(torch.zeros(valid.shape).masked_fill(~valid, -np.inf), valid, gen)
    before = states.parent_masks()
    delta = env.delta_log_reward(states.adj, actions).numpy()
    env.step(states, actions)
    after = states.parent_masks()
    np.testing.assert_allclose(delta, env.log_reward(after) - env.log_reward(before), atol=1e-9)


def test_prior_constraints_become_masks(gaussian4):
    prior = UniformPrior(required=[("X0", "X1")], forbidden=[("X2", "X3")], max_parents=1)
    env = DAGEnv(_table(gaussian4, prior))
    start = env.reset(1)
    assert bool(start.adj[0, 0, 1]) and int(start.n_edges()[0]) == 1
    states = _random_walk(env, 256, 6, seed=4)
    adj = states.adj.numpy()
    assert adj[:, 0, 1].all()
    assert not adj[:, 2, 3].any()
    assert adj.sum(axis=1).max() <= 1
    assert np.isfinite(env.log_reward(states.parent_masks())).all()


def test_cyclic_required_edges_are_refused(gaussian4):
    prior = UniformPrior(required=[("X0", "X1"), ("X1", "X0")])
    with pytest.raises(InputError, match="cycle"):
        DAGEnv(_table(gaussian4, prior))


@pytest.mark.parametrize(
    "prior", [UniformPrior(), UniformPrior(forbidden=[("X2", "X3")], max_parents=2)]
)
def test_packed_graphs_follow_the_same_edges(gaussian4, prior):
    """Bit-packed graphs (used to draw DAGs) keep the same closure and allowed edges as
    DAGStates along random walks, including graphs that stop moving."""
    env = DAGEnv(_table(gaussian4, prior))
    d, nodes = env.d, torch.arange(env.d)
    allowed = (env.allowed.to(torch.int64) << nodes[:, None]).sum(dim=0)
    gen = torch.Generator().manual_seed(5)
    states = env.reset(300)
    packed = PackedDAGs.from_states(states)
    for _ in range(8):
        bits = packed.valid_parents(allowed, env.max_parents)
        unpacked = ((bits[:, None, :] >> nodes[:, None]) & 1).bool().reshape(-1, d * d)
        valid = env.valid_actions(states)
        assert torch.equal(unpacked, valid[:, :-1])
        logits = torch.zeros(valid.shape).masked_fill(~valid, float("-inf"))
        actions = sample_actions(torch.log_softmax(logits, 1), valid, gen)
        moved = actions != env.stop
        packed.add_edges_where(moved, (actions // d).clamp(max=d - 1), actions % d)
        env.step(states, actions)
        again = PackedDAGs.from_states(DAGStates.from_adjacency(states.adj))
        for name in ("parents", "ancestors", "descendants", "indegree"):
            assert torch.equal(getattr(packed, name), getattr(again, name)), name
        assert torch.equal(packed.parents, env.parent_masks(states.adj))
