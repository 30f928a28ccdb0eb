"""Structure priors: decomposable log-densities over DAGs, log P(G) = sum_j f_j(Pa(j)).

Every prior here also carries hard constraints (required and forbidden edges, a maximum
in-degree, tiers), which set the log-density of a family to ``-inf``. Because the prior
decomposes over families, it is folded into the local score table
(:class:`scientist.scores.table.FamilyTable`).

References
----------
.. [1] N. Friedman and D. Koller, "Being Bayesian about network structure", Machine Learning 50,
   2003 (modular structure priors).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from scientist.errors import InputError

__all__ = ["EdgePrior", "StructurePrior", "UniformPrior", "make_prior"]

Edge = tuple[str, str]


class StructurePrior:
    """Base class: a uniform density over the DAGs that satisfy the constraints.

    Parameters
    ----------
    required
        Edges ``(parent, child)`` by variable name that every DAG must contain.
    forbidden
        Edges that no DAG may contain.
    max_parents
        Maximum in-degree (None: no limit).
    tiers
        Ordered groups of variable names; no edge may point from a later tier into an earlier
        one (for example ``[["age", "sex"], ["smoking"], ["cancer"]]``).
    """

    def __init__(
        self,
        *,
        required: Iterable[Edge] = (),
        forbidden: Iterable[Edge] = (),
        max_parents: int | None = None,
        tiers: Sequence[Sequence[str]] | None = None,
    ) -> None:
        self.required = tuple(tuple(e) for e in required)
        self.forbidden = tuple(tuple(e) for e in forbidden)
        self.max_parents = max_parents
        self.tiers = None if tiers is None else [list(t) for t in tiers]

    def edge_log_odds(self, d: int) -> float:
        """Log prior odds added per edge; 0 for the uniform prior."""
        return 0.0

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if v not in ((), None))
        return f"{type(self).__name__}({params})"

    def constraint_masks(self, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Per node, bit masks of the required and of the forbidden parents."""
        index = {n: i for i, n in enumerate(names)}
        d = len(names)

        def idx(edge: object, what: str) -> tuple[int, int]:
            if not (isinstance(edge, tuple) and len(edge) == 2):
                raise InputError(
                    f"{what} entry {edge!r} is invalid: expected a (parent, child) pair."
                )
            a, b = edge
            for n in (a, b):
                if n not in index:
                    raise InputError(
                        f"{what} names {n!r} in {edge!r}, which is not a variable; the variables "
                        f"are {list(names)}."
                    )
            if a == b:
                raise InputError(f"{what} entry {edge!r} is a self-loop; a DAG has none.")
            return index[a], index[b]

        req = np.zeros(d, dtype=np.int64)
        forb = np.zeros(d, dtype=np.int64)
        for e in self.required:
            a, b = idx(e, "required")
            req[b] |= np.int64(1) << a
        for e in self.forbidden:
            a, b = idx(e, "forbidden")
            forb[b] |= np.int64(1) << a
        if self.tiers is not None:
            tier_of: dict[int, int] = {}
            for k, group in enumerate(self.tiers):
                for n in group:
                    if n not in index:
                        raise InputError(
                            f"tiers names {n!r}, which is not a variable; the variables are "
                            f"{list(names)}."
                        )
                    tier_of[index[n]] = k
            for a, ta in tier_of.items():
                for b, tb in tier_of.items():
                    if ta > tb:
                        forb[b] |= np.int64(1) << a
        clash = req & forb
        if clash.any():
            b = int(np.flatnonzero(clash)[0])
            a = int(np.log2(clash[b] & -clash[b]))
            raise InputError(
                f"The edge ({names[a]!r}, {names[b]!r}) is both required and forbidden "
                "(directly or through tiers): remove it from one of them."
            )
        if self.max_parents is not None:
            if not isinstance(self.max_parents, int | np.integer) or self.max_parents < 0:
                raise InputError(
                    f"max_parents={self.max_parents!r} is invalid: expected a non-negative integer."
                )
            too_many = [
                names[j] for j in range(d) if bin(int(req[j])).count("1") > self.max_parents
            ]
            if too_many:
                raise InputError(
                    f"max_parents={self.max_parents} is below the number of required parents of "
                    f"{too_many}: raise max_parents or require fewer edges."
                )
        return req, forb

    def family_log_prior(self, node: int, masks: np.ndarray, names: Sequence[str]) -> np.ndarray:
        """log f_j(Pa) for an array of parent bit masks of ``node`` (``-inf`` when forbidden)."""
        req, forb = self.constraint_masks(names)
        masks = np.asarray(masks, dtype=np.int64)
        sizes = np.bitwise_count(masks)
        out = self.edge_log_odds(len(names)) * sizes.astype(float)
        bad = ((masks & req[node]) != req[node]) | ((masks & forb[node]) != 0)
        if self.max_parents is not None:
            bad |= sizes > self.max_parents
        return np.where(bad, -np.inf, out)


class UniformPrior(StructurePrior):
    """Uniform over all DAGs that satisfy the constraints (the default)."""


class EdgePrior(StructurePrior):
    """Edge-count sparsity: each edge is present with prior probability ``edge_prob``.

    ``log P(G) = |E| log(p / (1 - p)) + const``, so ``edge_prob < 0.5`` favours sparse graphs.
    ``expected_edges`` sets ``p = expected_edges / (d (d - 1) / 2)`` instead.
    """

    def __init__(
        self,
        edge_prob: float | None = None,
        *,
        expected_edges: float | None = None,
        **constraints: object,
    ) -> None:
        super().__init__(**constraints)  # type: ignore[arg-type]
        if (edge_prob is None) == (expected_edges is None):
            raise InputError("EdgePrior needs exactly one of edge_prob and expected_edges.")
        self.edge_prob = edge_prob
        self.expected_edges = expected_edges

    def edge_log_odds(self, d: int) -> float:
        """log(p / (1 - p))."""
        if self.edge_prob is not None:
            p, name = float(self.edge_prob), "edge_prob"
        else:
            p, name = float(self.expected_edges) / max(d * (d - 1) / 2, 1), "expected_edges"  # type: ignore[arg-type]
        if not 0 < p < 1:
            raise InputError(
                f"{name}={getattr(self, name)!r} gives an edge probability of {p:.3g}; expected a "
                "value strictly between 0 and 1."
            )
        return float(np.log(p) - np.log1p(-p))


def make_prior(prior: str | StructurePrior | None) -> StructurePrior:
    """A prior from a name (``'uniform'``) or an instance."""
    if prior is None or (isinstance(prior, str) and prior.lower() == "uniform"):
        return UniformPrior()
    if isinstance(prior, StructurePrior):
        return prior
    raise InputError(
        f"prior={prior!r} is invalid: expected 'uniform' or a StructurePrior instance such as "
        "EdgePrior(edge_prob=0.2)."
    )
