"""The modified detailed-balance loss of DAG-GFlowNet (Deleu et al. 2022, eq. 6).

When every state is terminating, detailed balance with the flow ``F(G) = R(G) / P_F(stop | G)``
gives, for each transition ``G -> G'``:

``log R(G') + log P_B(G | G') + log P_F(stop | G) = log R(G) + log P_F(G' | G) +
log P_F(stop | G')``.

The loss is the Huber loss of the difference between the two sides. ``P_B`` is fixed to the
uniform distribution over the removable edges of ``G'``; the log-reward difference is the
family-score change of the transition (the "delta score"), so no full score is ever computed.
``log P_F(stop | G')`` may come from a *target network*, a copy of the policy refreshed every
so many steps and held out of the gradient, as in the code of [1]_ (a device taken from
deep Q-learning [2]_); by default it comes from the policy itself.

References
----------
.. [1] T. Deleu et al., "Bayesian structure learning with generative flow networks", UAI 2022.
.. [2] V. Mnih et al., "Human-level control through deep reinforcement learning", Nature
   518, 2015.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from scientist.samplers.gflownet.buffer import Transitions
from scientist.samplers.gflownet.estimator import AdjacencyPolicy, log_stop_prob

__all__ = ["modified_db_loss", "modified_db_residuals"]


def modified_db_residuals(
    policy: AdjacencyPolicy,
    batch: Transitions,
    n_required: int = 0,
    target: AdjacencyPolicy | None = None,
) -> torch.Tensor:
    """Per-transition residual of the modified detailed-balance condition, ``(B,)``.

    Only the probabilities in the condition are computed: stopping in ``G`` and ``G'`` and the
    edge of the transition (not the whole action distribution). With ``target``, stopping in
    ``G'`` is that network's probability, computed without gradient.
    """
    n, d = len(batch), policy.d
    rows = torch.arange(n, device=batch.action.device)
    adj_next = batch.adj.clone()
    adj_next[rows, batch.action // d, batch.action % d] = True
    if target is None:
        h, stop_logit = policy.state(policy.embedding(torch.cat([batch.adj, adj_next])))
        stop_logit, stop_logit_next = stop_logit[:n], stop_logit[n:]
    else:
        h, stop_logit = policy.state(policy.embedding(batch.adj))
        with torch.no_grad():
            stop_logit_next = target.state(target.embedding(adj_next))[1]
    log_stop = log_stop_prob(stop_logit, batch.valid)
    log_stop_next = log_stop_prob(stop_logit_next, batch.valid_next)
    log_pf = F.logsigmoid(-stop_logit) + policy.edge_log_prob(
        h[:n], batch.valid[:, :-1], batch.action
    )
    removable = adj_next.sum(dim=(1, 2)) - n_required
    log_pb = -torch.log(removable.to(log_pf.dtype))
    return batch.delta + log_pb + log_stop - log_pf - log_stop_next


def modified_db_loss(
    policy: AdjacencyPolicy,
    batch: Transitions,
    n_required: int = 0,
    huber_delta: float = 1.0,
    target: AdjacencyPolicy | None = None,
) -> torch.Tensor:
    """Mean Huber loss of :func:`modified_db_residuals`."""
    res = modified_db_residuals(policy, batch, n_required, target)
    return F.huber_loss(res, torch.zeros_like(res), delta=huber_delta)
