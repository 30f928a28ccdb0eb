"""Exact inference in categorical causal networks, batched over theories and parameter draws.

For a query ``P(targets | do(X=x), Z=z)`` every theory's network is mutilated (the intervened
nodes lose their parents and are fixed), pruned to the ancestors of the query variables (the
other nodes sum to one), and the remaining factors are contracted with ``opt_einsum`` (a greedy
elimination order over einsum contractions). Theories are batched: a batch shares one factor
graph whose node families are the *union* of the theories' parent sets, each theory's CPT
broadcast along the parents it does not have, so one contraction answers the whole batch. Fixed
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

from collections.abc import Callable, Sequence

import numpy as np
import opt_einsum

__all__ = ["CategoricalBatch", "event_probabilities"]

MAX_FACTOR = 2**24  # elements per factor (batch included) before a batch is split


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
    """

    def __init__(
        self,
        parents: np.ndarray,
        card: np.ndarray,
        cpt: Callable[[int, np.ndarray], np.ndarray],
    ) -> None:
        self.parents = parents
        self.card = card
        self.cpt = cpt


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
    parents = batch.parents[rows]
    d = batch.card.size
    query = 0
    for j in (*fixed, *indicators):
        query |= 1 << j
    relevant = _ancestral_set(parents, query)
    union = np.bitwise_or.reduce(parents, axis=0)
    size = len(rows)
    for j in range(d):
        if relevant >> j & 1:
            free = [p for p in range(d) if (int(union[j]) >> p & 1 or p == j) and p not in fixed]
            size = max(size, len(rows) * int(np.prod([batch.card[p] for p in free])))
    if size > MAX_FACTOR and len(rows) > 1:
        half = len(rows) // 2
        a = event_probabilities(batch, rows[:half], fixed, indicators)
        b = event_probabilities(batch, rows[half:], fixed, indicators)
        return np.concatenate([a[0], b[0]]), np.concatenate([a[1], b[1]])

    factors: list[np.ndarray] = []
    subscripts: list[str] = []
    m_draws = 1
    sym = {j: opt_einsum.get_symbol(j + 2) for j in range(d)}
    head = opt_einsum.get_symbol(0) + opt_einsum.get_symbol(1)  # theory, parameter draw
    for j in range(d):
        if not relevant >> j & 1:
            continue
        family = [p for p in range(d) if int(union[j]) >> p & 1]
        factor = _union_factor(batch, j, rows, family)  # (n, M, *cards(family), r_j)
        m_draws = factor.shape[1]
        index: list[object] = [slice(None), slice(None)]
        keep = []
        for a in [*family, j]:
            if a in fixed:
                index.append(fixed[a])
            else:
                index.append(slice(None))
                keep.append(a)
        factors.append(factor[tuple(index)])
        subscripts.append(head + "".join(sym[a] for a in keep))
    denom = _contract(factors, subscripts, head, len(rows), m_draws)
    scale = 1.0
    extra_f, extra_s = [], []
    for j, vec in indicators.items():
        if j in fixed:  # a target that is also fixed: its indicator is a constant
            scale *= float(vec[fixed[j]])
        else:
            extra_f.append(np.asarray(vec, dtype=float))
            extra_s.append(sym[j])
    joint = scale * _contract(factors + extra_f, subscripts + extra_s, head, len(rows), m_draws)
    return joint, denom


def _contract(
    factors: list[np.ndarray], subscripts: list[str], out: str, n: int, m: int
) -> np.ndarray:
    if not factors:
        return np.ones((n, m))
    expr = ",".join(subscripts) + "->" + out
    res = opt_einsum.contract(expr, *factors, optimize="greedy")
    return np.broadcast_to(np.asarray(res, dtype=float), (n, m)).copy()


def _union_factor(
    batch: CategoricalBatch, j: int, rows: np.ndarray, family: Sequence[int]
) -> np.ndarray:
    """CPTs of node ``j`` for ``rows``, broadcast to the union family, ``(n, M, *cards, r)``."""
    masks = batch.parents[rows, j]
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
