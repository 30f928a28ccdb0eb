"""The family table: every candidate parent set of every node with its cached local score.

A sampler never calls a score directly: it looks up ``local score + log prior`` of a (node,
parent set) pair here. Candidate parent sets are all subsets of the other nodes up to
``max_parents`` that the prior allows, so pruning by in-degree (Friedman & Koller 2003) and hard
constraints cost nothing at sampling time. Lookups are vectorised: a pair is keyed by
``node * 2**d + mask`` in one sorted array.

References
----------
.. [1] N. Friedman and D. Koller, "Being Bayesian about network structure", Machine Learning 50,
   2003.
"""

from __future__ import annotations

import itertools
from math import comb

import numpy as np

from scientist.errors import InputError
from scientist.priors import StructurePrior
from scientist.progress import progress_bar
from scientist.scores.base import LocalScorer

__all__ = ["FamilyTable"]

MAX_CANDIDATES = 2_000_000


class FamilyTable:
    """Candidate parent sets and their scores (local log marginal likelihood + log prior).

    Parameters
    ----------
    scorer
        A fitted local scorer.
    prior
        The structure prior (its constraints prune candidates).
    max_parents
        Maximum in-degree considered; ``None`` allows every subset (only for small ``d``).
    progress
        Show a progress bar while scoring.

    Attributes
    ----------
    masks : list of ndarray
        Per node, the sorted candidate parent bit masks.
    scores : list of ndarray
        Per node, their scores.
    """

    def __init__(
        self,
        scorer: LocalScorer,
        prior: StructurePrior,
        max_parents: int | None = None,
        *,
        progress: bool = False,
    ) -> None:
        d = scorer.d
        names = scorer.names
        limit = d - 1 if max_parents is None else int(max_parents)
        if prior.max_parents is not None:
            limit = min(limit, int(prior.max_parents))
        if limit < 0:
            raise InputError(f"max_parents={max_parents!r} is invalid: expected an integer >= 0.")
        per_node = sum(comb(d - 1, k) for k in range(min(limit, d - 1) + 1))
        if d * per_node > MAX_CANDIDATES:
            raise InputError(
                f"max_parents={max_parents!r} gives {d * per_node:,} candidate families for d={d}, "
                f"more than {MAX_CANDIDATES:,}: set max_parents to 3 or 4 for a graph this large."
            )
        self.d, self.scorer, self.prior, self.max_parents = d, scorer, prior, limit
        self.masks: list[np.ndarray] = []
        self.scores: list[np.ndarray] = []
        with progress_bar(progress, "scoring families", total=d) as advance:
            for j in range(d):
                others = [i for i in range(d) if i != j]
                masks = np.array(
                    [
                        sum(1 << i for i in subset)
                        for k in range(min(limit, d - 1) + 1)
                        for subset in itertools.combinations(others, k)
                    ],
                    dtype=np.int64,
                )
                log_prior = prior.family_log_prior(j, masks, names)
                keep = np.isfinite(log_prior)
                if not keep.any():
                    raise InputError(
                        f"The prior allows no parent set for {names[j]!r}: relax its constraints."
                    )
                masks, log_prior = masks[keep], log_prior[keep]
                order = np.argsort(masks)
                masks, log_prior = masks[order], log_prior[order]
                self.masks.append(masks)
                self.scores.append(scorer.local_many(j, masks) + log_prior)
                advance()
        offsets = np.int64(1) << np.int64(d)
        self._keys = np.concatenate([np.int64(j) * offsets + m for j, m in enumerate(self.masks)])
        self._flat = np.concatenate(self.scores)

    @property
    def n_candidates(self) -> int:
        """Total number of candidate families."""
        return int(self._keys.size)

    def lookup(self, nodes: np.ndarray | int, masks: np.ndarray) -> np.ndarray:
        """Scores of (node, parent mask) pairs, broadcast together; ``-inf`` if not a candidate."""
        keys = np.asarray(nodes, dtype=np.int64) * (np.int64(1) << np.int64(self.d)) + np.asarray(
            masks, dtype=np.int64
        )
        pos = np.clip(np.searchsorted(self._keys, keys), 0, self._keys.size - 1)
        return np.where(self._keys[pos] == keys, self._flat[pos], -np.inf)

    def graph_scores(self, masks: np.ndarray) -> np.ndarray:
        """Unnormalised log posterior of DAGs given as ``(..., d)`` parent masks."""
        return self.lookup(np.arange(self.d), masks).sum(axis=-1)
