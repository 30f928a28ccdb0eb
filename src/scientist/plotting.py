"""Plots of posteriors (matplotlib, written straight to files)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from scientist.posterior import Posterior

__all__ = ["plot_edge_marginals"]


def plot_edge_marginals(
    posterior: Posterior,
    path: str | Path,
    *,
    truth: np.ndarray | None = None,
    title: str | None = None,
) -> Path:
    """Write a heatmap of ``P(i -> j | D)`` to ``path`` (PNG); ``truth`` edges are outlined."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    marg = posterior.edge_marginals()
    names = posterior.names
    d = len(names)
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * d, 0.6 + 0.5 * d), dpi=120)
    im = ax.imshow(marg, vmin=0, vmax=1, cmap="viridis")
    ax.set_xticks(range(d), names, rotation=60, ha="right")
    ax.set_yticks(range(d), names)
    ax.set_xlabel("child")
    ax.set_ylabel("parent")
    for i in range(d):
        for j in range(d):
            if i != j:
                ax.text(
                    j,
                    i,
                    f"{marg[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if marg[i, j] < 0.6 else "black",
                )
            if truth is not None and truth[i, j]:
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="red", lw=1.5))
    fig.colorbar(im, ax=ax, label="posterior edge probability")
    ax.set_title(title or f"Edge marginals ({posterior.weighting} weights)")
    fig.tight_layout()
    path = Path(path)
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        Path(tmp).unlink(missing_ok=True)
    return path
