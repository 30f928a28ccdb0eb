"""Divergences between distributions over theories, shared by samplers, tests and benchmarks."""

from __future__ import annotations

import numpy as np
from scipy.special import xlogy

__all__ = ["jensen_shannon"]


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (nats) between two distributions on the same support.

    ``0.5 * KL(p || m) + 0.5 * KL(q || m)`` with ``m = (p + q) / 2``; 0 for equal inputs,
    at most ``log 2``.
    """
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    m = 0.5 * (p + q)
    safe = np.where(m > 0, m, 1.0)
    return float(0.5 * (xlogy(p, p / safe).sum() + xlogy(q, q / safe).sum()))
