"""Exact posterior over DAGs by enumeration (d <= 5).

Every DAG on ``d`` nodes (29,281 at d = 5) is scored from the family table and normalised:
``P(G | D) = exp(s(G)) / sum_G' exp(s(G'))`` with ``s = log P(D | G) + log P(G)``. The kernel
draws i.i.d. DAGs from that posterior, so the exact sampler follows the same contract as the
Markov chains.

References
----------
.. [1] M. Koivisto and K. Sood, "Exact Bayesian structure discovery in Bayesian networks",
   JMLR 5, 2004 (exact posterior computation for small networks).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from scipy.special import logsumexp

from scientist.graphs import all_dags
from scientist.scores.table import FamilyTable

__all__ = ["ExactInfo", "ExactState", "build_kernel", "enumerate_posterior", "init"]


class ExactState(NamedTuple):
    """All DAGs with positive posterior, as parent masks, and their normalised log posterior."""

    masks: np.ndarray
    log_post: np.ndarray
    cdf: np.ndarray
    last: np.ndarray


class ExactInfo(NamedTuple):
    """Indices of the DAGs drawn in this step."""

    drawn: np.ndarray


def enumerate_posterior(table: FamilyTable) -> tuple[np.ndarray, np.ndarray]:
    """Parent masks ``(K, d)`` of every DAG with positive posterior and its log probability.

    Raises :class:`scientist.errors.SamplerError` for ``d > 5``.
    """
    masks = all_dags(table.d, as_masks=True)
    scores = table.graph_scores(masks)
    keep = np.isfinite(scores)
    masks, scores = masks[keep], scores[keep]
    return masks, scores - logsumexp(scores)


def init(table: FamilyTable, n_chains: int = 1) -> ExactState:
    """Enumerate the posterior once; ``n_chains`` independent draws per step."""
    masks, log_post = enumerate_posterior(table)
    cdf = np.cumsum(np.exp(log_post))
    return ExactState(masks, log_post, cdf, np.zeros((n_chains, table.d), dtype=np.int64))


def build_kernel() -> Callable[[Any, ExactState], tuple[ExactState, ExactInfo]]:
    """A kernel that draws one i.i.d. DAG per chain from the exact posterior."""

    def step(rng: Any, state: ExactState) -> tuple[ExactState, ExactInfo]:
        n = state.last.shape[0]
        u = rng.random(n) * state.cdf[-1]
        idx = np.minimum(np.searchsorted(state.cdf, u, side="right"), state.cdf.size - 1)
        return state._replace(last=state.masks[idx]), ExactInfo(idx)

    return step
