"""Convergence diagnostics over edge indicators: split R-hat.

References
----------
.. [1] A. Gelman and D. Rubin, "Inference from iterative simulation using multiple sequences",
   Statistical Science 7, 1992.
.. [2] A. Vehtari, A. Gelman, D. Simpson, B. Carpenter and P.-C. Buerkner, "Rank-normalization,
   folding, and localization: an improved R-hat", Bayesian Analysis 16, 2021 (split chains).
"""

from __future__ import annotations

import numpy as np

__all__ = ["edge_rhat"]


def edge_rhat(samples: np.ndarray) -> np.ndarray:
    """Split R-hat of every edge indicator ``i -> j``, shape ``(d, d)``.

    Parameters
    ----------
    samples
        Parent masks ``(C, S, d)`` of ``C`` chains of ``S`` samples each.

    Returns
    -------
    ndarray
        R-hat per edge; 1.0 where an edge is constant across every chain, ``inf`` where it is
        constant within each chain but differs between chains, NaN on the diagonal.
    """
    samples = np.asarray(samples, dtype=np.int64)
    _, s, d = samples.shape
    half = s // 2
    if half < 2:
        return np.full((d, d), np.nan)
    split = np.concatenate([samples[:, :half], samples[:, half : 2 * half]], axis=0)
    m, n = split.shape[0], half
    out = np.full((d, d), np.nan)
    for i in range(d):
        x = ((split >> i) & 1).astype(float)  # (m, n, d): edge i -> j for every j
        means = x.mean(axis=1)
        within = x.var(axis=1, ddof=1).mean(axis=0)
        between = n * means.var(axis=0, ddof=1) if m > 1 else np.zeros(d)
        var_plus = (n - 1) / n * within + between / n
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.sqrt(var_plus / within)
        r = np.where(within > 0, r, np.where(between > 0, np.inf, 1.0))
        out[i] = r
    np.fill_diagonal(out, np.nan)
    return out
