"""The forward policy of DAG-GFlowNet: a network over the adjacency matrix.

The network reads the current graph and its action mask (two ``d x d`` binary matrices) and
outputs one logit per edge and one stop logit. As in Deleu et al. (2022), the stop probability
is a sigmoid and the edge distribution a softmax over the allowed edges:

``log P_F(stop | G) = log sigmoid(s)``, ``log P_F(i -> j | G) = log sigmoid(-s) +
log softmax_{allowed}(l)_{ij}``.

A multilayer perceptron replaces the paper's linear transformer: on the small graphs this
sampler targets it reaches the same accuracy in far less CPU time.

References
----------
.. [1] T. Deleu et al., "Bayesian structure learning with generative flow networks", UAI 2022.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["EdgePolicy", "masked_log_probs"]


class EdgePolicy(nn.Module):
    """MLP forward policy ``(adjacency, mask) -> logits`` for ``d * d`` edges and stop.

    Parameters
    ----------
    d
        Number of nodes.
    hidden
        Width of the hidden layers.
    layers
        Number of hidden layers.
    """

    def __init__(self, d: int, hidden: int = 128, layers: int = 2) -> None:
        super().__init__()
        self.d, self.hidden, self.layers = d, hidden, layers
        blocks: list[nn.Module] = [nn.Linear(2 * d * d, hidden), nn.GELU()]
        for _ in range(layers - 1):
            blocks += [nn.Linear(hidden, hidden), nn.GELU()]
        self.body = nn.Sequential(*blocks)
        self.edges = nn.Linear(hidden, d * d)
        self.stop = nn.Linear(hidden, 1)

    def config(self) -> dict[str, int]:
        """Constructor arguments (saved with checkpoints)."""
        return {"d": self.d, "hidden": self.hidden, "layers": self.layers}

    def forward(self, adj: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Log-probabilities ``(B, d * d + 1)`` of every action; ``-inf`` where not allowed.

        ``adj`` is ``(B, d, d)`` and ``valid`` the ``(B, d * d + 1)`` action mask.
        """
        b = adj.shape[0]
        x = torch.cat([adj.reshape(b, -1), valid[:, :-1]], dim=1).to(self.edges.weight.dtype)
        h = self.body(x)
        return masked_log_probs(self.edges(h), self.stop(h).squeeze(-1), valid)


def masked_log_probs(
    edge_logits: torch.Tensor, stop_logit: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """Combine edge logits and a stop logit into action log-probabilities under a mask."""
    edge_valid = valid[:, :-1]
    logits = edge_logits.masked_fill(~edge_valid, float("-inf"))
    any_edge = edge_valid.any(dim=1)
    log_edges = torch.log_softmax(logits.masked_fill(~any_edge[:, None], 0.0), dim=1)
    log_stop = F.logsigmoid(stop_logit)
    log_go = F.logsigmoid(-stop_logit)
    log_stop = torch.where(any_edge, log_stop, torch.zeros_like(log_stop))
    out = (log_edges + log_go[:, None]).masked_fill(~edge_valid, float("-inf"))
    return torch.cat([out, log_stop[:, None]], dim=1)
