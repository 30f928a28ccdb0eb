"""The forward policy of DAG-GFlowNet: a network over the adjacency matrix.

The network reads the current graph (its ``d x d`` adjacency matrix) and outputs one logit per
edge and one stop logit; the action mask (acyclicity, prior constraints) is applied to the
logits, not learned. As in Deleu et al. (2022), the stop probability
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
        self.embed = nn.Linear(d * d, hidden)
        blocks: list[nn.Module] = [nn.GELU()]
        for _ in range(layers - 1):
            blocks += [nn.Linear(hidden, hidden), nn.GELU()]
        self.trunk = nn.Sequential(*blocks)
        self.edges = nn.Linear(hidden, d * d)
        self.stop = nn.Linear(hidden, 1)

    def config(self) -> dict[str, int]:
        """Constructor arguments (saved with checkpoints)."""
        return {"d": self.d, "hidden": self.hidden, "layers": self.layers}

    def embedding(self, adj: torch.Tensor) -> torch.Tensor:
        """First-layer pre-activations ``(B, hidden)`` of graphs ``(B, d, d)``.

        Linear in the adjacency: adding edge ``a`` adds column ``a`` of ``embed.weight``, which
        is how :func:`~scientist.samplers.gflownet.sampler.draw_dags` updates it step by step.
        """
        return self.embed(adj.reshape(adj.shape[0], -1).to(self.embed.weight.dtype))

    def heads(self, pre: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Edge logits ``(B, d * d)`` and stop logits ``(B,)`` from first-layer pre-activations."""
        h = self.trunk(pre)
        return self.edges(h), self.stop(h).squeeze(-1)

    def forward(self, adj: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Log-probabilities ``(B, d * d + 1)`` of every action; ``-inf`` where not allowed.

        ``adj`` is ``(B, d, d)`` and ``valid`` the ``(B, d * d + 1)`` action mask.
        """
        edge_logits, stop_logit = self.heads(self.embedding(adj))
        return masked_log_probs(edge_logits, stop_logit, valid)


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
