"""Exact inference in linear-Gaussian causal models, batched over theories and parameter draws.

A theory ``x = c + B^T x + e``, ``e ~ N(0, diag(s2))`` is intervened on by zeroing the incoming
weights of the intervened nodes, setting their intercepts to the intervention values and their
noise to zero. The intervened SEM is jointly Gaussian with mean ``A c`` and covariance
``A diag(s2) A^T``, ``A = (I - B^T)^-1``; evidence is then conditioned on by the usual Gaussian
formulas. Everything is a batched ``numpy.linalg`` call over the leading axis.

References
----------
.. [1] K. A. Bollen, *Structural Equations with Latent Variables*, Wiley, 1989.
.. [2] J. Pearl, *Causality*, 2009.
"""

from __future__ import annotations

import numpy as np

__all__ = ["intervened_moments"]


def intervened_moments(
    weights: np.ndarray,
    intercepts: np.ndarray,
    noise_var: np.ndarray,
    do: dict[int, float],
    evidence: dict[int, float],
    targets: list[int],
) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(n, t)`` and covariance ``(n, t, t)`` of the targets given do() and evidence.

    Parameters
    ----------
    weights
        ``(n, d, d)``; ``weights[:, i, j]`` is the weight of ``i -> j``.
    intercepts, noise_var
        ``(n, d)``.
    do
        Intervened nodes and their values.
    evidence
        Observed nodes (none of them intervened) and their values.
    targets
        Target nodes.
    """
    b = weights.copy()
    c = intercepts.copy()
    v = noise_var.copy()
    for j, value in do.items():
        b[:, :, j] = 0.0
        c[:, j] = value
        v[:, j] = 0.0
    d = b.shape[-1]
    a = np.linalg.inv(np.eye(d) - np.swapaxes(b, 1, 2))
    mean = np.einsum("nij,nj->ni", a, c)
    cov = np.einsum("nij,nj,nkj->nik", a, v, a)
    t = np.asarray(targets, dtype=int)
    if not evidence:
        return mean[:, t], cov[:, t][:, :, t]
    e = np.asarray(list(evidence), dtype=int)
    z = np.asarray(list(evidence.values()), dtype=float)
    s_ee = cov[:, e][:, :, e]
    s_te = cov[:, t][:, :, e]
    gain = np.swapaxes(np.linalg.solve(s_ee, np.swapaxes(s_te, 1, 2)), 1, 2)  # (n, t, e)
    cond_mean = mean[:, t] + np.einsum("nte,ne->nt", gain, z - mean[:, e])
    cond_cov = cov[:, t][:, :, t] - np.einsum("nte,nse->nts", gain, s_te)
    return cond_mean, cond_cov
