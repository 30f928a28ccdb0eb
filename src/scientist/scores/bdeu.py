"""BDeu: the categorical marginal likelihood with a uniform Dirichlet parameter prior.

For node ``j`` with ``r`` states and parents of ``q`` joint configurations, with equivalent
sample size ``ess``, ``a_jk = ess / q`` and ``a_jkl = ess / (q r)``:

    score = sum_k [lgamma(a_jk) - lgamma(a_jk + N_jk)]
          + sum_kl [lgamma(a_jkl + N_jkl) - lgamma(a_jkl)],

where the counts ``N`` come from the rows where ``j`` was not intervened on.

References
----------
.. [1] W. Buntine, "Theory refinement on Bayesian networks", UAI 1991.
.. [2] D. Heckerman, D. Geiger and D. Chickering, "Learning Bayesian networks: the combination of
   knowledge and statistical data", Machine Learning 20, 1995.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import gammaln

from scientist.data import Dataset, Variable
from scientist.errors import InputError
from scientist.scores.base import LocalScorer, Score, mask_to_parents

__all__ = ["BDeu", "BDeuScorer"]


class BDeu(Score):
    """Categorical BDeu score.

    Parameters
    ----------
    ess
        Equivalent sample size of the Dirichlet prior (default 1).

    References
    ----------
    .. [1] D. Heckerman, D. Geiger and D. Chickering, Machine Learning 20, 1995.
    """

    name = "bdeu"

    def __init__(self, ess: float = 1.0) -> None:
        self.ess = ess

    def fit(self, data: Dataset) -> BDeuScorer:
        """Keep the integer codes; error on non-categorical data."""
        if data.kind != "categorical":
            cont = [v.name for v in data.variables if v.kind != "categorical"]
            raise InputError(
                f"score='bdeu' needs categorical variables, but {cont} are continuous. Use "
                "score='bge' for continuous data, or declare them categorical."
            )
        if not np.isfinite(self.ess) or self.ess <= 0:
            raise InputError(f"ess={self.ess!r} is invalid: expected a positive number.")
        return BDeuScorer(
            data.variables,
            codes=data.codes(),
            interventions=data.interventions,
            ess=float(self.ess),
        )


class BDeuScorer(LocalScorer):
    """BDeu local scores from the data's integer codes (see :class:`BDeu`)."""

    kind = "bdeu"

    def __init__(
        self,
        variables: Sequence[Variable],
        *,
        codes: np.ndarray,
        interventions: np.ndarray,
        ess: float,
    ) -> None:
        super().__init__(variables)
        self.codes = np.asarray(codes, dtype=np.int64)
        self.interventions = np.asarray(interventions, dtype=bool)
        self.ess = ess
        self.card = np.array([v.cardinality for v in self.variables], dtype=np.int64)
        self._rows = [np.flatnonzero(~self.interventions[:, j]) for j in range(self.d)]

    def counts(self, node: int, parents: tuple[int, ...]) -> np.ndarray:
        """Counts ``N[parent configuration, state]``, shape ``(q, r)`` (parents in index order)."""
        rows = self._rows[node]
        x = self.codes[rows]
        config = np.zeros(len(rows), dtype=np.int64)
        for p in parents:  # row-major over parents in increasing index order
            config = config * self.card[p] + x[:, p]
        q = int(np.prod(self.card[list(parents)])) if parents else 1
        r = int(self.card[node])
        flat = np.bincount(config * r + x[:, node], minlength=q * r)
        return flat.reshape(q, r)

    def _local_many(self, node: int, masks: np.ndarray) -> np.ndarray:
        out = np.empty(masks.size)
        r = float(self.card[node])
        for k, m in enumerate(masks.ravel()):
            n_jkl = self.counts(node, mask_to_parents(int(m), self.d))
            q = n_jkl.shape[0]
            a_jk, a_jkl = self.ess / q, self.ess / (q * r)
            n_jk = n_jkl.sum(axis=1)
            seen = n_jk > 0  # unseen configurations contribute zero
            out[k] = (
                seen.sum() * gammaln(a_jk)
                - gammaln(a_jk + n_jk[seen]).sum()
                + gammaln(a_jkl + n_jkl[seen]).sum()
                - seen.sum() * r * gammaln(a_jkl)
            )
        return out.reshape(masks.shape)

    def family_posterior(self, node: int, parents: tuple[int, ...]) -> dict[str, Any]:
        """Dirichlet posterior of each CPT row: ``concentration`` of shape ``(*card_P, r)``."""
        n_jkl = self.counts(node, parents)
        q, r = n_jkl.shape
        conc = n_jkl + self.ess / (q * r)
        shape = (*[int(self.card[p]) for p in parents], r)
        return {"concentration": conc.reshape(shape)}

    def state(self) -> dict[str, Any]:
        """The integer codes, the intervention mask and ``ess``."""
        small = np.int16 if self.card.max(initial=0) < 2**15 else np.int64
        return {
            "codes": self.codes.astype(small),
            "interventions": self.interventions,
            "ess": self.ess,
        }

    @classmethod
    def from_state(cls, variables: Sequence[Variable], state: dict[str, Any]) -> BDeuScorer:
        """Inverse of :meth:`state`."""
        return cls(
            variables,
            codes=np.asarray(state["codes"]),
            interventions=np.asarray(state["interventions"]),
            ess=float(state["ess"]),
        )
