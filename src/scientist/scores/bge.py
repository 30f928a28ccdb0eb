"""BGe: the linear-Gaussian marginal likelihood with a Normal-Wishart parameter prior.

Geiger & Heckerman's BGe score with the correction of Kuipers, Moffa & Heckerman (2014): the
local score of node ``j`` with parents ``P`` is ``log p(D_F) - log p(D_P)`` with ``F = P + {j}``,
where for a set ``Y`` of ``l`` variables and ``n`` rows

    log p(D_Y) = l/2 log(a_mu / (n + a_mu)) - l n / 2 log(pi)
                 + log Gamma_l((n + a_w - d + l) / 2) - log Gamma_l((a_w - d + l) / 2)
                 + (a_w - d + l) / 2 log det T_YY - (n + a_w - d + l) / 2 log det R_YY,

``R = T + S_n + n a_mu / (n + a_mu) (nu - xbar)(nu - xbar)^T`` and ``S_n`` the scatter matrix.
Only the rows where ``j`` was not intervened on enter node ``j``'s family.

References
----------
.. [1] D. Geiger and D. Heckerman, "Parameter priors for directed acyclic graphical models and
   the characterization of several probability distributions", Annals of Statistics 30(5), 2002.
.. [2] J. Kuipers, G. Moffa and D. Heckerman, "Addendum on the scoring of Gaussian directed
   acyclic graphical models", Annals of Statistics 42(4), 2014.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import multigammaln

from scientist.data import Dataset, Variable
from scientist.errors import InputError
from scientist.scores.base import LocalScorer, Score

__all__ = ["BGe", "BGeScorer"]


class BGe(Score):
    """Linear-Gaussian BGe score.

    Parameters
    ----------
    alpha_mu
        Equivalent sample size of the prior on the mean (default 1).
    alpha_w
        Degrees of freedom of the Wishart prior; default ``d + 2``. Must exceed ``d - 1``.
    mean
        Prior mean (scalar or length-d); default 0.
    t
        The prior scale matrix is ``T = t * I``; default ``alpha_mu * (alpha_w - d - 1) /
        (alpha_mu + 1)``.

    Notes
    -----
    The data are used as given: no hidden standardisation. Standardise first
    (:meth:`scientist.Dataset.standardize`) when the scales differ a lot.

    References
    ----------
    .. [1] J. Kuipers, G. Moffa and D. Heckerman, Annals of Statistics 42(4), 2014.
    """

    name = "bge"

    def __init__(
        self,
        alpha_mu: float = 1.0,
        alpha_w: float | None = None,
        mean: float | Sequence[float] = 0.0,
        t: float | None = None,
    ) -> None:
        self.alpha_mu = alpha_mu
        self.alpha_w = alpha_w
        self.mean = mean
        self.t = t

    def fit(self, data: Dataset) -> BGeScorer:
        """Compute the per-node posterior statistics; error on non-continuous data."""
        if data.kind != "continuous":
            cats = [v.name for v in data.variables if v.kind != "continuous"]
            raise InputError(
                f"score='bge' needs continuous variables, but {cats} are categorical. Use "
                "score='bdeu' for categorical data."
            )
        d = data.n_vars
        if not np.isfinite(self.alpha_mu) or self.alpha_mu <= 0:
            raise InputError(f"alpha_mu={self.alpha_mu!r} is invalid: expected a positive number.")
        alpha_w = float(d + 2) if self.alpha_w is None else float(self.alpha_w)
        if alpha_w <= d - 1:
            raise InputError(
                f"alpha_w={self.alpha_w!r} is invalid: expected a number > d - 1 = {d - 1}; the "
                f"default is d + 2 = {d + 2}."
            )
        t = self.alpha_mu * (alpha_w - d - 1) / (self.alpha_mu + 1) if self.t is None else self.t
        if t <= 0:
            raise InputError(
                f"t={t!r} is invalid: the prior scale must be positive (with the default t, "
                "alpha_w must exceed d + 1)."
            )
        nu = np.broadcast_to(np.asarray(self.mean, dtype=float), (d,)).copy()
        x = data.values
        r_all = np.empty((d, d, d))
        n_all = np.empty(d)
        mean_all = np.empty((d, d))
        cache: dict[bytes, tuple[np.ndarray, float, np.ndarray]] = {}
        for j in range(d):
            keep = ~data.interventions[:, j]
            key = np.packbits(keep).tobytes()
            if key not in cache:
                cache[key] = _posterior_stats(x[keep], nu, float(self.alpha_mu), float(t))
            r_all[j], n_all[j], mean_all[j] = cache[key]
        return BGeScorer(
            data.variables,
            r=r_all,
            n=n_all,
            post_mean=mean_all,
            alpha_mu=float(self.alpha_mu),
            alpha_w=alpha_w,
            t=float(t),
        )


def _posterior_stats(
    x: np.ndarray, nu: np.ndarray, alpha_mu: float, t: float
) -> tuple[np.ndarray, float, np.ndarray]:
    n, d = x.shape
    if n == 0:
        return t * np.eye(d), 0.0, nu.copy()
    xbar = x.mean(axis=0)
    centred = x - xbar
    scatter = centred.T @ centred
    diff = (nu - xbar)[:, None]
    r = t * np.eye(d) + scatter + (n * alpha_mu / (n + alpha_mu)) * (diff @ diff.T)
    post_mean = (alpha_mu * nu + n * xbar) / (alpha_mu + n)
    return r, float(n), post_mean


class BGeScorer(LocalScorer):
    """BGe local scores from per-node posterior statistics (see :class:`BGe`)."""

    kind = "bge"

    def __init__(
        self,
        variables: Sequence[Variable],
        *,
        r: np.ndarray,
        n: np.ndarray,
        post_mean: np.ndarray,
        alpha_mu: float,
        alpha_w: float,
        t: float,
    ) -> None:
        super().__init__(variables)
        self.r, self.n, self.post_mean = r, n, post_mean
        self.alpha_mu, self.alpha_w, self.t = alpha_mu, alpha_w, t

    def _log_marginal(self, node: int, sets: np.ndarray) -> np.ndarray:
        """log p(D_Y) for a batch of variable sets of equal size (rows: index arrays)."""
        k, size = sets.shape
        if size == 0:
            return np.zeros(k)
        d, n = self.d, self.n[node]
        aw = self.alpha_w - d + size
        sub = self.r[node][sets[:, :, None], sets[:, None, :]]
        _, logdet = np.linalg.slogdet(sub)
        const = (
            0.5 * size * np.log(self.alpha_mu / (n + self.alpha_mu))
            - 0.5 * size * n * np.log(np.pi)
            + multigammaln(0.5 * (n + aw), size)
            - multigammaln(0.5 * aw, size)
            + 0.5 * aw * size * np.log(self.t)
        )
        return const - 0.5 * (n + aw) * logdet

    def _local_many(self, node: int, masks: np.ndarray) -> np.ndarray:
        out = np.empty(masks.shape, dtype=float)
        flat = masks.ravel()
        res = out.reshape(-1)
        bits = ((flat[:, None] >> np.arange(self.d, dtype=np.int64)) & 1).astype(bool)
        sizes = bits.sum(axis=1)
        for size in np.unique(sizes):
            rows = np.flatnonzero(sizes == size)
            parents = np.nonzero(bits[rows])[1].reshape(len(rows), size)
            family = np.concatenate([parents, np.full((len(rows), 1), node)], axis=1)
            res[rows] = self._log_marginal(node, family) - self._log_marginal(node, parents)
        return out

    def family_posterior(self, node: int, parents: tuple[int, ...]) -> dict[str, Any]:
        """Normal-inverse-gamma posterior of ``x_j = c + b . x_P + e``, ``e ~ N(0, s2)``.

        From the Normal-Wishart posterior: ``s2 ~ InvGamma(shape, scale)`` with
        ``shape = (n + alpha_w - d + 1) / 2`` and ``scale = R_{j|P} / 2``;
        ``b | s2 ~ N(R_PP^-1 R_Pj, s2 R_PP^-1)``; the intercept ``c`` is the plug-in
        ``nu_j - b . nu_P`` at the posterior mean ``nu``.
        """
        r, p = self.r[node], list(parents)
        if p:
            rpp_inv = np.linalg.inv(r[np.ix_(p, p)])
            coef = rpp_inv @ r[p, node]
            cond = float(r[node, node] - r[node, p] @ coef)
        else:
            rpp_inv = np.zeros((0, 0))
            coef = np.zeros(0)
            cond = float(r[node, node])
        mean = self.post_mean[node]
        return {
            "coef": coef,
            "coef_cov_unit": rpp_inv,
            "intercept": float(mean[node] - coef @ mean[p]) if p else float(mean[node]),
            "shape": 0.5 * (self.n[node] + self.alpha_w - self.d + 1),
            "scale": 0.5 * cond,
        }

    def state(self) -> dict[str, Any]:
        """Posterior statistics and hyperparameters (no raw data)."""
        return {
            "r": self.r,
            "n": self.n,
            "post_mean": self.post_mean,
            "alpha_mu": self.alpha_mu,
            "alpha_w": self.alpha_w,
            "t": self.t,
        }

    @classmethod
    def from_state(cls, variables: Sequence[Variable], state: dict[str, Any]) -> BGeScorer:
        """Inverse of :meth:`state`."""
        return cls(
            variables,
            r=np.asarray(state["r"]),
            n=np.asarray(state["n"]),
            post_mean=np.asarray(state["post_mean"]),
            alpha_mu=float(state["alpha_mu"]),
            alpha_w=float(state["alpha_w"]),
            t=float(state["t"]),
        )
