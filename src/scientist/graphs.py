"""Directed acyclic graphs as boolean adjacency matrices.

Convention: ``adj[i, j]`` is True when there is an edge ``i -> j`` (``i`` is a parent of ``j``).
Functions accept a single ``(d, d)`` matrix or a batch ``(..., d, d)`` where noted. Parent sets
are also written as bit masks: bit ``i`` of ``parent_masks(adj)[j]`` is set when ``i -> j``.

The number of labelled DAGs on d nodes is 1, 1, 3, 25, 543, 29281 for d = 0..5 (Robinson 1973);
:func:`all_dags` enumerates them for d <= 5.

References
----------
.. [1] R. W. Robinson, "Counting labeled acyclic digraphs", New Directions in the Theory of
   Graphs, 1973.
"""

from __future__ import annotations

import functools
import itertools
from math import comb

import networkx as nx
import numpy as np

from scientist.errors import InputError, SamplerError

__all__ = [
    "adjacency_from_masks",
    "all_dags",
    "ancestors",
    "count_dags",
    "is_dag",
    "parent_masks",
    "to_networkx",
    "topological_order",
    "transitive_closure",
]

MAX_ENUMERATION_D = 5


def transitive_closure(adj: np.ndarray) -> np.ndarray:
    """Reachability by paths of length >= 1, batched over leading axes.

    ``out[..., i, j]`` is True when there is a directed path ``i ~> j``.
    """
    a = np.asarray(adj, dtype=bool)
    d = a.shape[-1]
    # repeated squaring of (I + A): after k rounds paths of length < 2**k are covered
    r = (a | np.eye(d, dtype=bool)).astype(np.int32)
    steps = max(1, int(np.ceil(np.log2(max(d, 2)))))
    for _ in range(steps):
        r = ((r @ r) > 0).astype(np.int32)
    return (r @ a.astype(np.int32)) > 0


def is_dag(adj: np.ndarray) -> np.ndarray | bool:
    """Whether each graph is acyclic (no self-loops, no directed cycles); batched."""
    reach = transitive_closure(adj)
    out = np.asarray(~np.diagonal(reach, axis1=-2, axis2=-1).any(axis=-1))
    return bool(out) if out.ndim == 0 else out


def ancestors(adj: np.ndarray) -> np.ndarray:
    """``out[i, j]`` is True when ``i`` is a (proper) causal ancestor of ``j``."""
    return transitive_closure(adj)


def topological_order(adj: np.ndarray) -> list[int]:
    """A topological order of a single DAG (parents before children); error on a cycle."""
    a = np.asarray(adj, dtype=bool)
    indeg = a.sum(axis=0).astype(int)
    order: list[int] = []
    ready = [j for j in range(a.shape[0]) if indeg[j] == 0]
    while ready:
        i = ready.pop(0)
        order.append(i)
        for j in np.flatnonzero(a[i]):
            indeg[j] -= 1
            if indeg[j] == 0:
                ready.append(int(j))
    if len(order) != a.shape[0]:
        raise InputError("The graph has a directed cycle: expected a DAG.")
    return order


def parent_masks(adj: np.ndarray) -> np.ndarray:
    """Parent sets as int64 bit masks, shape ``(..., d)``; bit i of entry j means ``i -> j``."""
    a = np.asarray(adj, dtype=bool)
    d = a.shape[-1]
    weights = (np.int64(1) << np.arange(d, dtype=np.int64))[:, None]
    return (a.astype(np.int64) * weights).sum(axis=-2)


def adjacency_from_masks(masks: np.ndarray) -> np.ndarray:
    """Inverse of :func:`parent_masks`: ``(..., d)`` bit masks to ``(..., d, d)`` booleans."""
    m = np.asarray(masks, dtype=np.int64)
    d = m.shape[-1]
    bits = np.arange(d, dtype=np.int64)
    return ((m[..., None, :] >> bits[:, None]) & 1).astype(bool)


def count_dags(d: int) -> int:
    """Number of labelled DAGs on ``d`` nodes (Robinson's recurrence)."""
    a = [1]
    for n in range(1, d + 1):
        a.append(
            sum(
                (-1) ** (k + 1) * comb(n, k) * 2 ** (k * (n - k)) * a[n - k]
                for k in range(1, n + 1)
            )
        )
    return a[d]


@functools.lru_cache(maxsize=8)
def _all_dag_masks(d: int) -> np.ndarray:
    if d == 0:
        return np.zeros((1, 0), dtype=np.int64)
    pairs = [(a, b) for b in range(d) for a in range(b)]  # position a before position b
    n_pairs = len(pairs)
    edge_sets = ((np.arange(2**n_pairs)[:, None] >> np.arange(n_pairs)) & 1).astype(bool)
    codes = []
    for perm in itertools.permutations(range(d)):
        # code bit (i*d + j) for an edge i -> j
        bits = np.array([perm[a] * d + perm[b] for a, b in pairs], dtype=np.int64)
        codes.append((edge_sets * (np.int64(1) << bits)).sum(axis=1))
    unique = np.unique(np.concatenate(codes)) if codes else np.zeros(1, dtype=np.int64)
    flat = ((unique[:, None] >> np.arange(d * d, dtype=np.int64)) & 1).astype(bool)
    adj = flat.reshape(-1, d, d)
    masks = parent_masks(adj)
    masks.setflags(write=False)
    return masks


def all_dags(d: int, *, as_masks: bool = False) -> np.ndarray:
    """Every labelled DAG on ``d <= 5`` nodes, in a fixed canonical order.

    Parameters
    ----------
    d
        Number of nodes, 0 to 5 (29,281 DAGs at d = 5).
    as_masks
        Return ``(K, d)`` parent bit masks instead of ``(K, d, d)`` adjacency matrices.
    """
    if not isinstance(d, int | np.integer) or d < 0:
        raise InputError(f"d={d!r} is invalid: expected a non-negative integer.")
    if d > MAX_ENUMERATION_D:
        raise SamplerError(
            f"Enumerating all DAGs needs d <= {MAX_ENUMERATION_D}, got d={d} "
            f"({count_dags(d):,} DAGs). Use sampler='order_mcmc', 'structure_mcmc' or 'gflownet'."
        )
    masks = _all_dag_masks(int(d))
    return masks if as_masks else adjacency_from_masks(masks)


def to_networkx(adj: np.ndarray, names: list[str] | None = None) -> nx.DiGraph:
    """A ``networkx.DiGraph`` with the given node names."""
    a = np.asarray(adj, dtype=bool)
    names = names or [str(i) for i in range(a.shape[0])]
    g = nx.DiGraph()
    g.add_nodes_from(names)
    g.add_edges_from((names[i], names[j]) for i, j in zip(*np.nonzero(a), strict=True))
    return g
