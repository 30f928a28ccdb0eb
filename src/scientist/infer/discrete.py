"""Exact inference in categorical causal networks, batched over theories and parameter draws.

For a query ``P(targets | do(X=x), Z=z)`` every theory's network is mutilated (the intervened
nodes lose their parents and are fixed), pruned to the ancestors of the query variables (the
other nodes sum to one), and the remaining factors are contracted with ``opt_einsum`` (a greedy
elimination order over einsum contractions). Theories are batched: theories with the same relevant
structure (the parent sets of the query's ancestral nodes) share one contraction over all their
CPTs and parameter draws. (The code also supports a batch whose families are the *union* of its
theories' parent sets, each CPT broadcast along the parents it lacks; measured, that is slower
than one contraction per structure, so batches are formed per structure.) Fixed
variables (evidence and interventions) are sliced out of every factor before contracting.

References
----------
.. [1] N. L. Zhang and D. Poole, "A simple approach to Bayesian network computations",
   Canadian Conference on AI, 1994 (variable elimination).
.. [2] J. Pearl, *Causality*, 2009 (the truncated factorisation for do-interventions).
.. [3] D. G. A. Smith and J. Gray, "opt_einsum - A Python package for optimizing contraction
   order for einsum-like expressions", JOSS 3(26), 2018.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import opt_einsum

__all__ = ["CategoricalBatch", "event_probabilities"]

MAX_FACTOR = 2**22  # elements of the largest factor or intermediate before a batch is split


class CategoricalBatch:
    """The relevant structure of a set of theories for one query.

    Parameters
    ----------
    parents
        ``(K, d)`` parent bit masks of the (already mutilated) theories.
    card
        Number of states per node.
    cpt
        ``cpt(node, rows) -> (len(rows), M, *parent_cards, r)``: the CPTs (or ``M`` parameter
        draws of them) of ``node`` for theory indices ``rows``, parents in index order.
    n_draws
        ``M``, the number of parameter draws ``cpt`` returns per theory.
    """

    def __init__(
        self,
        parents: np.ndarray,
        card: np.ndarray,
        cpt: Callable[[int, np.ndarray], np.ndarray],
        n_draws: int = 1,
    ) -> None:
        self.parents = parents
        self.card = card
        self.cpt = cpt
        self.n_draws = n_draws


def _ancestral_set(parents: np.ndarray, query: int) -> int:
    """Bit mask of the query nodes and all their ancestors in any of the theories."""
    union = np.bitwise_or.reduce(parents, axis=0) if parents.size else np.zeros(0, np.int64)
    reach = query
    while True:
        grown = reach
        for j in range(union.size):
            if reach >> j & 1:
                grown |= int(union[j])
        if grown == reach:
            return reach
        reach = grown


def event_probabilities(
    batch: CategoricalBatch,
    rows: np.ndarray,
    fixed: dict[int, int],
    indicators: dict[int, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """``P(indicators and fixed | do)`` and ``P(fixed | do)`` for theories ``rows``.

    Theories with similar structure are batched together: a batch whose contraction would hold
    more than ``MAX_FACTOR`` numbers at once is split in two, recursively.

    Parameters
    ----------
    rows
        Theory indices to answer for.
    fixed
        Nodes fixed to a state code (evidence and intervened nodes).
    indicators
        Target nodes with a 0/1 vector over their states (the target event).

    Returns
    -------
    tuple of ndarray
        Two ``(len(rows), M)`` arrays: the joint probability and the evidence probability.
    """
    query = 0
    for j in (*fixed, *indicators):
        query |= 1 << j
    relevant = _ancestral_set(batch.parents[rows], query)
    keep = [j for j in range(batch.card.size) if relevant >> j & 1]
    signature = batch.parents[rows][:, keep]
    groups = _group_rows(signature) if keep else np.zeros(len(rows), int)
    out_j = np.empty((len(rows), batch.n_draws))
    out_d = np.empty_like(out_j)
    # one contraction per distinct relevant structure, batched over its theories and draws
    for g in range(groups.max() + 1):
        where = np.flatnonzero(groups == g)
        out_j[where], out_d[where] = _solve(batch, rows[where], fixed, indicators, query)
    return out_j, out_d


def _solve(
    batch: CategoricalBatch,
    rows: np.ndarray,
    fixed: dict[int, int],
    indicators: dict[int, np.ndarray],
    query: int,
) -> tuple[np.ndarray, np.ndarray]:
    parents = batch.parents[rows]
    d = batch.card.size
    relevant = _ancestral_set(parents, query)
    union = np.bitwise_or.reduce(parents, axis=0)
    sym = {j: opt_einsum.get_symbol(j + 2) for j in range(d)}
    head = opt_einsum.get_symbol(0) + opt_einsum.get_symbol(1)  # theory, parameter draw
    plan = []
    subscripts: list[str] = []
    shapes: list[tuple[int, ...]] = []
    for j in range(d):
        if not relevant >> j & 1:
            continue
        family = [p for p in range(d) if int(union[j]) >> p & 1]
        free = [a for a in (*family, j) if a not in fixed]
        plan.append((j, family))
        subscripts.append(head + "".join(sym[a] for a in free))
        shapes.append((len(rows), batch.n_draws, *[int(batch.card[a]) for a in free]))
    # targets stay open in the output: one contraction gives P(target states, evidence)
    open_targets = [j for j in indicators if j not in fixed]
    out = head + "".join(sym[j] for j in open_targets)
    n, m = len(rows), batch.n_draws
    if subscripts:
        expr = ",".join(subscripts) + "->" + out
        expression, largest = _plan(expr, tuple(shapes))
        too_big = max(int(np.prod(s)) for s in shapes) > MAX_FACTOR
        if (too_big or largest > MAX_FACTOR) and len(rows) > 1:
            half = len(rows) // 2
            a = _solve(batch, rows[:half], fixed, indicators, query)
            b = _solve(batch, rows[half:], fixed, indicators, query)
            return np.concatenate([a[0], b[0]]), np.concatenate([a[1], b[1]])
        factors = []
        for j, family in plan:
            factor = _union_factor(batch, j, rows, family)  # (n, M, *cards(family), r_j)
            index = [slice(None), slice(None)] + [fixed.get(a, slice(None)) for a in (*family, j)]
            factors.append(factor[tuple(index)])
        table = np.asarray(expression(*factors), dtype=float)
        table = np.broadcast_to(table, (n, m, *table.shape[2:]))
    else:
        table = np.ones((n, m, *[int(batch.card[j]) for j in open_targets]))
    scale = 1.0
    weights = np.ones(())
    for j, vec in indicators.items():
        if j in fixed:  # a target that is also fixed: its indicator is a constant
            scale *= float(vec[fixed[j]])
        else:
            weights = np.multiply.outer(weights, np.asarray(vec, dtype=float))
    axes = tuple(range(2, table.ndim))
    denom = table.sum(axis=axes) if axes else table.copy()
    joint = scale * ((table * weights).sum(axis=axes) if axes else table.copy())
    return joint, denom


def _group_rows(rows: np.ndarray) -> np.ndarray:
    """Label equal rows of an int64 matrix with the same group number (0, 1, ...)."""
    # a 64-bit polynomial hash makes grouping a 1-D unique; collisions are checked below
    weights = np.uint64(0x9E3779B97F4A7C15) ** np.arange(1, rows.shape[1] + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        keys = (rows.astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64)
    _, first, groups = np.unique(keys, return_index=True, return_inverse=True)
    if not np.array_equal(rows[first[groups]], rows):  # a collision: fall back to exact rows
        groups = np.unique(rows, axis=0, return_inverse=True)[1]
    return groups.ravel()


@functools.lru_cache(maxsize=4096)
def _plan(expr: str, shapes: tuple[tuple[int, ...], ...]) -> tuple[Any, int]:
    """A compiled contraction (greedy path) and its largest intermediate; cached, as a pure
    function of the expression and shapes (queries of the same shape on the same structures
    reuse it)."""
    path, info = opt_einsum.contract_path(expr, *shapes, shapes=True, optimize="greedy")
    return opt_einsum.contract_expression(expr, *shapes, optimize=path), int(
        info.largest_intermediate
    )


def _union_factor(
    batch: CategoricalBatch, j: int, rows: np.ndarray, family: Sequence[int]
) -> np.ndarray:
    """CPTs of node ``j`` for ``rows``, broadcast to the union family, ``(n, M, *cards, r)``."""
    masks = batch.parents[rows, j]
    if (masks == masks[0]).all() and int(np.bitwise_count(masks[0])) == len(family):
        return batch.cpt(j, rows)  # one structure: the CPTs as they are, no copy
    uniq = np.unique(masks)
    card = batch.card
    shape = [card[p] for p in family] + [card[j]]
    parts = []
    m_draws = None
    for mask in uniq:
        where = np.flatnonzero(masks == mask)
        members = rows[where]
        own = [p for p in family if int(mask) >> p & 1]
        cpt = batch.cpt(j, members)  # (len(members), M, *own cards, r)
        m_draws = cpt.shape[1]
        expand = (
            [slice(None), slice(None)]
            + [slice(None) if p in own else None for p in family]
            + [slice(None)]
        )
        parts.append((where, np.broadcast_to(cpt[tuple(expand)], (len(members), m_draws, *shape))))
    out = np.empty((len(rows), m_draws or 1, *shape))
    for where, arr in parts:
        out[where] = arr
    return out
