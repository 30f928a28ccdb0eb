"""Drawing actions and whole DAGs from a forward policy.

Actions are drawn with the Gumbel-max trick from one explicit ``torch.Generator``, so the same
seed gives the same DAGs. During training, an ``epsilon`` share of the actions is drawn
uniformly among the allowed ones, for exploration (Deleu et al. 2022, section 4).
"""

from __future__ import annotations

import numpy as np
import torch

from scientist.samplers.gflownet.env import DAGEnv
from scientist.samplers.gflownet.estimator import AdjacencyPolicy, ChildParentPolicy, EdgePolicy
from scientist.samplers.gflownet.states import PackedDAGs, column_masks

__all__ = ["draw_dags", "sample_actions"]


def _gumbel(shape: torch.Size, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    u = torch.rand(shape, generator=generator, device=device).clamp_(min=1e-20)
    return -torch.log(-torch.log(u))


def sample_actions(
    log_probs: torch.Tensor,
    valid: torch.Tensor,
    generator: torch.Generator,
    epsilon: float = 0.0,
) -> torch.Tensor:
    """One action per row from ``log_probs``; with probability ``epsilon``, uniform over ``valid``."""
    g = _gumbel(log_probs.shape, generator, log_probs.device)
    actions = torch.argmax(log_probs + g, dim=1)
    if epsilon > 0:
        uniform = torch.argmax(g.masked_fill(~valid, float("-inf")), dim=1)
        explore = torch.rand(actions.shape, generator=generator, device=actions.device) < epsilon
        # the same Gumbel noise is reused: conditionally on `explore` the two draws are still
        # exact draws from their own distributions, and the mixture is what is wanted
        actions = torch.where(explore, uniform, actions)
    return actions


@torch.no_grad()
def draw_dags(
    env: DAGEnv,
    policy: AdjacencyPolicy,
    n: int,
    generator: torch.Generator,
    *,
    chunk: int = 65536,
) -> np.ndarray:
    """``n`` DAGs from the trained policy, as parent masks ``(n, d)`` (int64, on the CPU).

    Trajectories run in chunks of ``chunk`` graphs and finished graphs leave the batch. Graphs
    are kept as bit masks (:class:`~scientist.samplers.gflownet.states.PackedDAGs`), and the
    policy's first layer, linear in the adjacency, is updated by one column per added edge
    instead of recomputed. Each step draws stop-or-go from the stop probability and the edge by
    inverse CDF over the allowed edges (for :class:`ChildParentPolicy`, the child and then one
    of its parents: ``O(d)`` work instead of ``O(d^2)``), from three uniforms per graph.
    """
    d = env.d
    out = np.empty((n, d), dtype=np.int64)
    w_embed = policy.embed.weight.t().contiguous()  # (d * d, hidden)
    nodes = torch.arange(d, device=env.device)
    allowed = column_masks(env.allowed)  # (d,): the parents each node may have
    start = env.reset(1)
    pre0 = policy.embedding(start.adj)
    for lo in range(0, n, chunk):
        m = min(chunk, n - lo)
        graphs = PackedDAGs.from_states(start)[torch.zeros(m, dtype=torch.int64, device=env.device)]
        pre = pre0.expand(m, -1).clone()
        ids = torch.arange(m, device=env.device)
        done = torch.empty((m, d), dtype=torch.int64, device=env.device)
        while graphs.batch_size:
            u = torch.rand((graphs.batch_size, 3), generator=generator, device=env.device)
            ok = graphs.valid_parents(allowed, env.max_parents)  # (B, d) bits
            open_ = ok != 0  # (B, d): the nodes that may still gain a parent
            h, stop_logit = policy.state(pre)
            src, dst = _draw_edges(policy, h, ok, open_, nodes, u[:, 1], u[:, 2])
            moved = (u[:, 0] >= torch.sigmoid(stop_logit)) & open_.any(dim=1)
            graphs.add_edges_where(moved, src, dst)
            pre.addcmul_(w_embed.index_select(0, src * d + dst), moved[:, None])
            if not bool(moved.all()):
                # one index per step for every tensor (cheaper than boolean masks each time)
                stop_rows = torch.nonzero(~moved).squeeze(1)
                done.index_copy_(
                    0, ids.index_select(0, stop_rows), graphs.parents.index_select(0, stop_rows)
                )
                keep = torch.nonzero(moved).squeeze(1)
                graphs, ids, pre = (
                    graphs[keep],
                    ids.index_select(0, keep),
                    pre.index_select(0, keep),
                )
        out[lo : lo + m] = done.cpu().numpy()
    return out


def _draw_edges(
    policy: AdjacencyPolicy,
    h: torch.Tensor,
    ok: torch.Tensor,
    open_: torch.Tensor,
    nodes: torch.Tensor,
    u1: torch.Tensor,
    u2: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One allowed edge ``src -> dst`` per graph from the policy's edge distribution, given the
    bit masks ``ok`` ``(B, d)`` of allowed parents and ``open_ = ok != 0`` (the result is
    meaningless in rows with no allowed edge)."""
    d = nodes.numel()
    if isinstance(policy, EdgePolicy):
        valid = ((ok[:, None, :] >> nodes[:, None]) & 1).bool().reshape(-1, d * d)  # [b, i, j]
        edge = _inverse_cdf(policy.edges(h), valid, u1)
        return edge // d, edge % d
    if not isinstance(policy, ChildParentPolicy):
        raise TypeError(f"No sampler for {type(policy).__name__}.")
    child = _inverse_cdf(policy.child(h), open_, u1)
    parent_ok = ((ok.gather(1, child[:, None]) >> nodes) & 1).bool()
    return _inverse_cdf(policy.parent_logits(h, child), parent_ok, u2), child


def _inverse_cdf(logits: torch.Tensor, mask: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Index drawn from ``softmax(logits)`` restricted to ``mask``, by inverse CDF of ``u``."""
    logits = logits.masked_fill(~mask, float("-inf"))
    top = logits.amax(dim=1, keepdim=True)
    top = top.masked_fill(top == float("-inf"), 0.0)
    # unnormalised probabilities, exactly 0 where not allowed; inverse CDF on their running sum
    cdf = torch.cumsum(torch.exp(logits - top), dim=1)
    index = torch.searchsorted(cdf, u[:, None] * cdf[:, -1:], right=True).squeeze(1)
    return index.clamp_(max=logits.shape[1] - 1)
