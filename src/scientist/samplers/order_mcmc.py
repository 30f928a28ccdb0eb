"""Order MCMC: a Metropolis-Hastings chain over topological orders of the nodes.

The state is a node order ``<``. Its score sums, over nodes, the log-sum-exp of the family
scores of every candidate parent set made of predecessors (Friedman & Koller 2003):
``s(<) = sum_j log sum_{Pa subset of pred(j)} exp(s_j(Pa))``. Proposals swap two positions
(symmetric). Given an order, a DAG is drawn exactly: each node picks its parent set among the
compatible candidates with probability proportional to ``exp(s_j(Pa))``.

For ``d <= 16`` the score of every predecessor set is tabulated once (a subset-sum transform in
log space, as in Koivisto & Sood 2004), so a step costs ``O(d)`` lookups.

The chain targets the order-modular prior, which weighs DAGs by the number of their
linear extensions; the world model corrects this by re-scoring the distinct DAGs it sampled
(``weighting='rescored'``).

All arrays carry a leading chain axis, so ``C`` chains advance in one vectorised step.

References
----------
.. [1] N. Friedman and D. Koller, "Being Bayesian about network structure: a Bayesian approach
   to structure discovery in Bayesian networks", Machine Learning 50, 2003.
.. [2] M. Koivisto and K. Sood, "Exact Bayesian structure discovery in Bayesian networks",
   JMLR 5, 2004.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from scientist.scores.table import FamilyTable

__all__ = [
    "OrderMCMCInfo",
    "OrderMCMCState",
    "build_kernel",
    "init",
    "order_scores",
    "sample_dags",
]


class OrderMCMCState(NamedTuple):
    """Orders ``(C, d)`` (node at each position) and their log scores ``(C,)``."""

    order: np.ndarray
    log_score: np.ndarray


class OrderMCMCInfo(NamedTuple):
    """Whether each chain accepted its proposal, and the proposal's log acceptance ratio."""

    accepted: np.ndarray
    log_ratio: np.ndarray


def _predecessors(order: np.ndarray) -> np.ndarray:
    """Bit mask of the predecessors of every node, shape ``(C, d)`` indexed by node."""
    bits = np.int64(1) << order.astype(np.int64)
    cum = np.bitwise_or.accumulate(bits, axis=1)
    before = np.concatenate([np.zeros((order.shape[0], 1), np.int64), cum[:, :-1]], axis=1)
    pred = np.empty_like(before)
    np.put_along_axis(pred, order, before, axis=1)
    return pred


DENSE_MAX_D = 16


def _lse(x: np.ndarray, axis: int) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return np.log(np.sum(np.exp(x - m), axis=axis)) + np.squeeze(m, axis=axis)


def predecessor_table(table: FamilyTable) -> np.ndarray | None:
    """``out[j, S] = log sum_{Pa subset of S} exp(s_j(Pa))`` for every set S, or None if d > 16."""
    d = table.d
    if d > DENSE_MAX_D:
        return None
    out = np.full((d, 2**d), -np.inf)
    for j in range(d):
        f = out[j]
        f[table.masks[j]] = table.scores[j]
        for b in range(d):  # subset-sum (zeta) transform over bit b, in log space
            g = f.reshape(-1, 2, 2**b)
            g[:, 1, :] = np.logaddexp(g[:, 1, :], g[:, 0, :])
    return out


def order_scores(
    table: FamilyTable, order: np.ndarray, dense: np.ndarray | None = None
) -> np.ndarray:
    """Log score of each order, ``(C,)``; ``dense`` is :func:`predecessor_table` (optional)."""
    pred = _predecessors(order)
    if dense is not None:
        return dense[np.arange(table.d), pred].sum(axis=1)
    total = np.zeros(order.shape[0])
    for j in range(table.d):
        ok = (table.masks[j][None, :] & ~pred[:, j : j + 1]) == 0
        total += _lse(np.where(ok, table.scores[j][None, :], -np.inf), axis=1)
    return total


def sample_dags(rng: Any, table: FamilyTable, order: np.ndarray, n_draws: int = 1) -> np.ndarray:
    """Draw ``n_draws`` DAGs per order exactly from ``P(G | <, D)``; masks ``(C, n_draws, d)``.

    Each node's parent set is drawn by inverse-CDF sampling over its compatible candidates
    (one uniform per node and draw).
    """
    pred = _predecessors(order)
    c = order.shape[0]
    out = np.empty((c, n_draws, table.d), dtype=np.int64)
    u = rng.random((c, n_draws, table.d))
    for j in range(table.d):
        ok = (table.masks[j][None, :] & ~pred[:, j : j + 1]) == 0
        s = np.where(ok, table.scores[j][None, :], -np.inf)
        w = np.exp(s - s.max(axis=1, keepdims=True))
        cdf = np.cumsum(w, axis=1)
        target = u[:, :, j] * cdf[:, -1:]
        idx = (cdf[:, None, :] <= target[:, :, None]).sum(axis=2)
        out[:, :, j] = table.masks[j][np.minimum(idx, table.masks[j].size - 1)]
    return out


def init(rng: Any, table: FamilyTable, n_chains: int = 1) -> OrderMCMCState:
    """Random initial orders, one per chain (``rng`` draws ``(n_chains, d)`` arrays)."""
    order = np.argsort(rng.random((n_chains, table.d)), axis=1)
    return OrderMCMCState(order, order_scores(table, order, predecessor_table(table)))


def build_kernel(
    table: FamilyTable,
) -> Callable[[Any, OrderMCMCState], tuple[OrderMCMCState, OrderMCMCInfo]]:
    """The Metropolis-Hastings step with a random-transposition proposal."""
    dense = predecessor_table(table)

    def step(rng: Any, state: OrderMCMCState) -> tuple[OrderMCMCState, OrderMCMCInfo]:
        n, d = state.order.shape
        if d < 2:
            return state, OrderMCMCInfo(np.zeros(n, bool), np.zeros(n))
        i = rng.integers(0, d, size=n)
        j = (i + rng.integers(1, d, size=n)) % d
        rows = np.arange(n)
        proposal = state.order.copy()
        proposal[rows, i], proposal[rows, j] = state.order[rows, j], state.order[rows, i]
        new_score = order_scores(table, proposal, dense)
        log_ratio = new_score - state.log_score
        accept = np.log(rng.random(n)) < log_ratio
        order = np.where(accept[:, None], proposal, state.order)
        score = np.where(accept, new_score, state.log_score)
        return OrderMCMCState(order, score), OrderMCMCInfo(accept, log_ratio)

    return step
