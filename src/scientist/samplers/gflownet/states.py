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

__all__ = ["DAGStates", "PackedDAGs", "column_masks"]


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


@dataclass
class PackedDAGs:
    """``B`` graphs on ``d <= 62`` nodes as bit masks, ``O(d)`` memory and work per graph.

    Used to draw DAGs from a trained policy: the acyclicity mask of every candidate parent of a
    node and the closure update after adding an edge are a few integer operations per node.

    Attributes
    ----------
    parents : Tensor, int64, ``(B, d)``
        Bit ``i`` of ``parents[b, j]``: the edge ``i -> j`` is present.
    ancestors, descendants : Tensor, int64, ``(B, d)``
        Reflexive ancestor and descendant sets of every node.
    indegree : Tensor, int64, ``(B, d)``
        Number of parents of each node.
    """

    parents: torch.Tensor
    ancestors: torch.Tensor
    descendants: torch.Tensor
    indegree: torch.Tensor

    @classmethod
    def from_states(cls, states: DAGStates) -> PackedDAGs:
        """Pack :class:`DAGStates` (``d <= 62``)."""
        anc = states.ancestors  # [b, a, c]: c is an ancestor of a
        return cls(
            column_masks(states.adj),
            column_masks(anc.transpose(-1, -2)),
            column_masks(anc),
            states.indegree.clone(),
        )

    @property
    def batch_size(self) -> int:
        """Number of graphs."""
        return int(self.parents.shape[0])

    def __getitem__(self, index: torch.Tensor) -> PackedDAGs:
        """The graphs at the rows ``index`` (integer indices), as a new batch."""
        return PackedDAGs(
            self.parents.index_select(0, index),
            self.ancestors.index_select(0, index),
            self.descendants.index_select(0, index),
            self.indegree.index_select(0, index),
        )

    def valid_parents(self, allowed: torch.Tensor, max_parents: int) -> torch.Tensor:
        """Bit masks ``(B, d)`` of the nodes that may become a parent of each node.

        ``allowed[j]`` is the bit mask of the parents the prior allows for ``j``. A parent ``i``
        of ``j`` is excluded when the edge exists or ``j`` reaches ``i`` (a cycle).
        """
        ok = allowed & ~(self.parents | self.descendants)
        return ok.masked_fill_(self.indegree >= max_parents, 0)

    def add_edges_where(self, moved: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> None:
        """Add ``src[b] -> dst[b]`` where ``moved[b]``, in place (must stay acyclic).

        Every descendant of ``dst`` gains the ancestors of ``src``, and every ancestor of ``src``
        the descendants of ``dst``.
        """
        d = self.parents.shape[1]
        nodes = torch.arange(d, device=self.parents.device)
        # both sets are emptied where nothing moves, so that those graphs stay unchanged
        anc_src = self.ancestors.gather(1, src[:, None]).masked_fill_(~moved[:, None], 0)
        desc_dst = self.descendants.gather(1, dst[:, None]).masked_fill_(~moved[:, None], 0)
        below = ((desc_dst >> nodes) & 1).bool()  # (B, d): descendants of dst
        above = ((anc_src >> nodes) & 1).bool()
        self.ancestors = torch.where(below, self.ancestors | anc_src, self.ancestors)
        self.descendants = torch.where(above, self.descendants | desc_dst, self.descendants)
        at_dst = (nodes == dst[:, None]) & moved[:, None]
        self.parents = torch.where(at_dst, self.parents | (1 << src[:, None]), self.parents)
        self.indegree += at_dst


def column_masks(m: torch.Tensor) -> torch.Tensor:
    """Bit masks of the columns of boolean matrices ``(..., d, d)`` -> ``(..., d)`` int64: bit
    ``i`` of ``out[..., j]`` is ``m[..., i, j]`` (for an adjacency matrix, the parents of ``j``)."""
    d = m.shape[-1]
    bits = torch.ones((), dtype=torch.int64, device=m.device) << torch.arange(d, device=m.device)
    return (m.to(torch.int64) * bits[:, None]).sum(dim=-2)
