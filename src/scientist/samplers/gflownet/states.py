"""A batch of partially built DAGs: adjacency, reachability and in-degrees, kept on one device.

The reflexive transitive closure is kept up to date edge by edge, stored by rows of ancestors
(``ancestors[b, a, c]``: ``c`` is ``a`` or reaches ``a``), so the acyclicity mask of the next
action is one elementwise operation instead of a graph search: ``i -> j`` closes a cycle exactly
when ``j`` is an ancestor of ``i`` (Deleu et al. 2022, appendix on masking).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["DAGStates"]


@dataclass
class DAGStates:
    """``B`` graphs on ``d`` nodes.

    Attributes
    ----------
    adj : Tensor, bool, ``(B, d, d)``
        ``adj[b, i, j]``: the edge ``i -> j`` is present.
    ancestors : Tensor, bool, ``(B, d, d)``
        Reflexive reachability by rows: ``ancestors[b, a, c]`` iff ``a == c`` or a directed
        path ``c -> ... -> a`` exists (the transpose of the transitive closure).
    indegree : Tensor, int64, ``(B, d)``
        Number of parents of each node.
    """

    adj: torch.Tensor
    ancestors: torch.Tensor
    indegree: torch.Tensor

    @property
    def batch_size(self) -> int:
        """Number of graphs."""
        return int(self.adj.shape[0])

    @property
    def d(self) -> int:
        """Number of nodes."""
        return int(self.adj.shape[-1])

    @classmethod
    def from_adjacency(cls, adj: torch.Tensor) -> DAGStates:
        """Build states from acyclic adjacency matrices ``(B, d, d)`` (closure by squaring)."""
        adj = adj.to(torch.bool)
        d = adj.shape[-1]
        eye = torch.eye(d, dtype=torch.bool, device=adj.device)
        reach = adj | eye
        for _ in range(max(1, int(np.ceil(np.log2(max(d, 2)))))):
            nxt = (reach.to(torch.float32) @ reach.to(torch.float32)) > 0
            if torch.equal(nxt, reach):
                break
            reach = nxt
        return cls(adj.clone(), reach.transpose(1, 2).contiguous(), adj.sum(dim=1).to(torch.int64))

    def __getitem__(self, index: torch.Tensor | slice) -> DAGStates:
        return DAGStates(self.adj[index], self.ancestors[index], self.indegree[index])

    def clone(self) -> DAGStates:
        """A deep copy."""
        return DAGStates(self.adj.clone(), self.ancestors.clone(), self.indegree.clone())

    def add_edges(self, rows: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> None:
        """Add the edge ``src[k] -> dst[k]`` to graph ``rows[k]`` in place (must stay acyclic).

        Every node that ``dst`` reaches (``dst`` included) gains the ancestors of ``src``
        (``src`` included).
        """
        if rows.numel() == 0:
            return
        self.adj[rows, src, dst] = True
        self.indegree[rows, dst] += 1
        below_dst = self.ancestors[rows, :, dst]  # (k, d): nodes that dst reaches
        above_src = self.ancestors[rows, src, :]  # (k, d): ancestors of src
        self.ancestors[rows] |= below_dst[:, :, None] & above_src[:, None, :]

    def add_edges_where(self, moved: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> None:
        """Full-batch form of :meth:`add_edges`: add ``src[b] -> dst[b]`` where ``moved[b]``.

        Cheaper than :meth:`add_edges` when most graphs move (no gather and scatter of rows).
        """
        rows = torch.arange(self.batch_size, device=self.adj.device)
        self.adj[rows, src, dst] |= moved
        self.indegree[rows, dst] += moved.to(self.indegree.dtype)
        below_dst = self.ancestors[rows, :, dst] & moved[:, None]
        above_src = self.ancestors[rows, src, :]
        self.ancestors |= below_dst[:, :, None] & above_src[:, None, :]

    def n_edges(self) -> torch.Tensor:
        """Number of edges of each graph, ``(B,)``."""
        return self.adj.sum(dim=(1, 2))

    def parent_masks(self) -> np.ndarray:
        """Parent bit masks ``(B, d)`` (int64, bit ``i`` of node ``j``: ``i -> j``), on the CPU."""
        adj = self.adj.to("cpu").numpy().astype(np.int64)
        weights = np.int64(1) << np.arange(self.d, dtype=np.int64)
        return np.einsum("bij,i->bj", adj, weights)
