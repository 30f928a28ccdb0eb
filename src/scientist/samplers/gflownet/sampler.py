"""Drawing actions and whole DAGs from a forward policy.

Actions are drawn with the Gumbel-max trick from one explicit ``torch.Generator``, so the same
seed gives the same DAGs. During training, an ``epsilon`` share of the actions is drawn
uniformly among the allowed ones, for exploration (Deleu et al. 2022, section 4).
"""

from __future__ import annotations

import numpy as np
import torch

from scientist.samplers.gflownet.env import DAGEnv
from scientist.samplers.gflownet.estimator import EdgePolicy

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
    policy: EdgePolicy,
    n: int,
    generator: torch.Generator,
    *,
    chunk: int = 8192,
) -> np.ndarray:
    """``n`` DAGs from the trained policy, as parent masks ``(n, d)`` (int64, on the CPU).

    Trajectories run in chunks of ``chunk`` graphs and finished graphs leave the batch. The
    policy's first layer is linear in the adjacency, so it is updated by one column per added
    edge instead of recomputed; each step then draws stop-or-go from the stop probability and
    the edge by inverse CDF over the allowed edges (two uniforms per graph and step).
    """
    out = np.empty((n, env.d), dtype=np.int64)
    w_embed = policy.embed.weight.t().contiguous()  # (d * d, hidden)
    for lo in range(0, n, chunk):
        m = min(chunk, n - lo)
        states = env.reset(m)
        pre = policy.embedding(states.adj)
        ids = torch.arange(m, device=env.device)
        done = torch.empty((m, env.d), dtype=torch.int64, device=env.device)
        while states.batch_size:
            valid = env.valid_edges(states)
            edge_logits, stop_logit = policy.heads(pre)
            u = torch.rand((states.batch_size, 2), generator=generator, device=env.device)
            any_edge = valid.view(torch.uint8).amax(dim=1) > 0
            stopped = (u[:, 0] < torch.sigmoid(stop_logit)) | ~any_edge
            # disallowed edges get a logit of -1e30: probability exactly 0 after the softmax
            edge_logits += (valid.to(edge_logits.dtype) - 1.0) * 1e30
            cdf = torch.cumsum(torch.softmax(edge_logits, dim=1), dim=1)
            target = (u[:, 1] * cdf[:, -1]).unsqueeze(1)
            actions = torch.searchsorted(cdf, target, right=True).squeeze(1)
            actions.clamp_(max=env.d * env.d - 1)
            moved = ~stopped
            states.add_edges_where(moved, actions // env.d, actions % env.d)
            pre += w_embed[actions] * moved[:, None]
            if bool(stopped.any()):
                fin = states.adj[stopped]
                done[ids[stopped]] = env.parent_masks(fin)
                states, ids, pre = states[moved], ids[moved], pre[moved]
        out[lo : lo + m] = done.cpu().numpy()
    return out
