"""The DAG-building environment of DAG-GFlowNet (Deleu et al., UAI 2022).

A state is a DAG; it starts from the graph of the required edges (empty for most priors). An
action adds one edge ``i -> j`` (action ``i * d + j``) or stops (action ``d * d``). Every state is
also a terminating state: stopping at ``G`` yields the theory ``G``. An edge is allowed when it
is not present, does not close a cycle (``j`` does not reach ``i``), is not forbidden by the
structure prior and keeps ``j`` within the maximum in-degree; these are exactly the DAGs with a
finite score in the :class:`~scientist.scores.table.FamilyTable`.

The reward is ``R(G) = exp(log P(D | G) + log P(G))``, modular over families, so the log-reward
change of adding ``i -> j`` is the change of node ``j``'s family score alone (the "delta score"
of the paper), looked up in the family table.

References
----------
.. [1] T. Deleu, A. Góis, C. Emezue, M. Rankawat, S. Lacoste-Julien, S. Bauer and Y. Bengio,
   "Bayesian structure learning with generative flow networks", UAI 2022.
"""

from __future__ import annotations

import numpy as np
import torch

from scientist.errors import InputError
from scientist.samplers.gflownet.states import DAGStates, column_masks
from scientist.scores.table import FamilyTable

__all__ = ["DAGEnv"]


class DAGEnv:
    """Add-edge actions over DAGs scored by a family table.

    Parameters
    ----------
    table
        Local scores plus log prior of every candidate family; its prior's required and
        forbidden edges, tiers and maximum in-degree become the action masks.
    device
        Where states live.
    """

    def __init__(self, table: FamilyTable, device: torch.device | str = "cpu") -> None:
        self.table = table
        self.d = d = table.d
        self.device = torch.device(device)
        required, forbidden = table.prior.constraint_masks(table.scorer.names)
        bits = np.arange(d, dtype=np.int64)[:, None]  # row i: the parent
        forb = ((forbidden[None, :] >> bits) & 1).astype(bool)  # [i, j]: i -> j forbidden
        req = ((required[None, :] >> bits) & 1).astype(bool)
        allowed = ~forb & ~np.eye(d, dtype=bool)
        self.allowed = torch.as_tensor(allowed, device=self.device)
        self.required = torch.as_tensor(req, device=self.device)
        self.n_required = int(req.sum())
        self.max_parents = int(table.max_parents)
        self.n_actions = d * d + 1
        start = DAGStates.from_adjacency(self.required[None])
        if bool((start.ancestors & start.ancestors.transpose(1, 2)).sum() > d):
            raise InputError("The prior's required edges form a cycle: remove one of them.")
        if np.isneginf(table.graph_scores(start.parent_masks())).any():
            raise InputError(
                "The graph of the required edges has no score under the prior (too many required "
                "parents for max_parents?): relax the constraints."
            )
        self._start = start
        self._keys = torch.as_tensor(table._keys, device=self.device)
        self._scores = torch.as_tensor(table._flat, dtype=torch.float64, device=self.device)
        self._bits = torch.as_tensor(
            np.int64(1) << np.arange(d, dtype=np.int64), device=self.device
        )

    @property
    def stop(self) -> int:
        """The index of the stop action."""
        return self.d * self.d

    def reset(self, n: int) -> DAGStates:
        """``n`` copies of the initial state (the graph of the required edges)."""
        s = self._start
        return DAGStates(
            s.adj.expand(n, -1, -1).clone(),
            s.ancestors.expand(n, -1, -1).clone(),
            s.indegree.expand(n, -1).clone(),
        )

    def valid_edges(self, states: DAGStates) -> torch.Tensor:
        """Mask ``(B, d * d)`` of the edges that may be added."""
        edge_ok = self.allowed & ~(states.adj | states.ancestors)
        if self.max_parents < self.d - 1:
            edge_ok &= (states.indegree < self.max_parents)[:, None, :]
        return edge_ok.reshape(states.batch_size, -1)

    def valid_actions(self, states: DAGStates) -> torch.Tensor:
        """Mask ``(B, d * d + 1)`` of allowed actions; stopping is always allowed."""
        edge_ok = self.valid_edges(states)
        stop = torch.ones(states.batch_size, 1, dtype=torch.bool, device=edge_ok.device)
        return torch.cat([edge_ok, stop], dim=1)

    def step(self, states: DAGStates, actions: torch.Tensor) -> torch.Tensor:
        """Apply ``actions`` in place; returns the mask of rows that stopped."""
        stopped = actions == self.stop
        rows = torch.nonzero(~stopped).flatten()
        a = actions[rows]
        states.add_edges(rows, a // self.d, a % self.d)
        return stopped

    def reset_rows(self, states: DAGStates, rows: torch.Tensor) -> None:
        """Put the graphs ``rows`` back to the initial state, in place."""
        if rows.numel():
            states.adj[rows] = self._start.adj[0]
            states.ancestors[rows] = self._start.ancestors[0]
            states.indegree[rows] = self._start.indegree[0]

    def _family_score(self, node: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        keys = node * (1 << self.d) + mask
        pos = torch.searchsorted(self._keys, keys).clamp_(max=self._keys.numel() - 1)
        found = self._keys[pos] == keys
        return torch.where(found, self._scores[pos], torch.full_like(self._scores[pos], -np.inf))

    def delta_log_reward(self, adj: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``log R(G + i -> j) - log R(G)`` for graphs ``(B, d, d)`` and edge actions ``(B,)``.

        Computed on the states' device from the family table (float64).
        """
        src, dst = actions // self.d, actions % self.d
        rows = torch.arange(adj.shape[0], device=adj.device)
        old = (adj[rows, :, dst].to(torch.int64) * self._bits).sum(dim=1)
        new = old | self._bits[src]
        return self._family_score(dst, new) - self._family_score(dst, old)

    def parent_masks(self, adj: torch.Tensor) -> torch.Tensor:
        """Parent bit masks ``(B, d)`` of graphs ``(B, d, d)``, on their device."""
        return column_masks(adj)

    def log_reward(self, masks: np.ndarray) -> np.ndarray:
        """``log R(G)`` of parent masks ``(..., d)``."""
        return self.table.graph_scores(masks)
