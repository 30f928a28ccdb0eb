"""Irreducible losses: how well a model trained on a holdout set fits each training point.

RHO-LOSS approximates a point's irreducible loss ``L[y | x; D_ho]`` by the loss of a model
trained only on a holdout set ``D_ho``. The approximation is computed once for every training
point before training and never updated with the points trained on (Mindermann et al., ICML
2022, section 3), so selection costs one extra table lookup per point. A noisy label gets a high irreducible
loss (the holdout model cannot predict it either), a redundant point a low training loss: both
are skipped.

References
----------
.. [1] S. Mindermann, J. Brauner, M. Razzak, M. Sharma, A. Kirsch, W. Xu, B. Höltgen,
   A. N. Gomez, A. Morisot, S. Farquhar and Y. Gal, "Prioritized Training on Points that are
   Learnable, Worth Learning, and Not Yet Learnt", ICML 2022, arXiv:2206.07137.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn

from scientist.errors import FileFormatError, InputError
from scientist.progress import progress_bar
from scientist.selection._index import IndexMap, as_index_tensor, check_disjoint
from scientist.selection._store import load_npz, save_npz
from scientist.selection.batches import unpack_batch
from scientist.selection.losses import LossFn, cross_entropy, scored_loss

__all__ = ["IrreducibleLosses", "compute_irreducible_losses"]


class IrreducibleLosses:
    """The stored irreducible loss of every training point, looked up by point index.

    Parameters
    ----------
    indices : array-like of int, shape (n,)
        The point index of each loss (each point once).
    losses : array-like of float, shape (n,)
        The irreducible-loss model's loss on each point.
    holdout_indices : array-like of int, optional
        The points the irreducible-loss model was trained on. Checked to be disjoint from
        ``indices`` and kept, so the provenance travels with the file.

    Examples
    --------
    >>> il = IrreducibleLosses([3, 7], [0.1, 2.5])
    >>> il[torch.tensor([7, 3])]
    tensor([2.5000, 0.1000])
    """

    def __init__(
        self,
        indices: ArrayLike | torch.Tensor,
        losses: ArrayLike | torch.Tensor,
        holdout_indices: ArrayLike | torch.Tensor | None = None,
    ) -> None:
        self._map = IndexMap(indices, "irreducible losses")
        values = torch.as_tensor(
            np.asarray(losses) if not torch.is_tensor(losses) else losses
        ).detach()
        if values.shape != (len(self._map),):
            raise InputError(
                f"losses has shape {tuple(values.shape)}: expected one loss per index, "
                f"shape ({len(self._map)},)."
            )
        values = values.to(torch.float32).cpu()
        if not bool(torch.isfinite(values).all()):
            bad = int((~torch.isfinite(values)).sum())
            raise InputError(
                f"losses holds {bad} value(s) that are NaN or infinite: the irreducible-loss "
                "model diverged or the loss is undefined for some targets."
            )
        self.holdout_indices: torch.Tensor | None = None
        if holdout_indices is not None:
            check_disjoint(self._map.indices, holdout_indices)
            self.holdout_indices = as_index_tensor("holdout_indices", holdout_indices).cpu()
        self.losses = values
        self._on: dict[torch.device, torch.Tensor] = {}

    @property
    def indices(self) -> torch.Tensor:
        """The point indices, in the order of :attr:`losses`."""
        return self._map.indices

    def __len__(self) -> int:
        return len(self._map)

    def __repr__(self) -> str:
        holdout = (
            "" if self.holdout_indices is None else f", holdout of {len(self.holdout_indices)}"
        )
        return (
            f"IrreducibleLosses({len(self)} points, mean {float(self.losses.mean()):.4f}{holdout})"
        )

    def __getitem__(self, indices: ArrayLike | torch.Tensor) -> torch.Tensor:
        """The irreducible losses of ``indices``, on their device; unknown indices raise."""
        idx = as_index_tensor("indices", indices)
        device = idx.device
        if device not in self._on:
            self._on[device] = self.losses.to(device)
        return self._on[device][self._map.rows(idx)]

    def save(self, path: str | Path) -> Path:
        """Write to a versioned ``.npz`` file (atomic; no pickles)."""
        arrays = {"indices": self.indices.numpy(), "losses": self.losses.numpy()}
        if self.holdout_indices is not None:
            arrays["holdout_indices"] = self.holdout_indices.numpy()
        return save_npz(path, "irreducible", arrays, {})

    @classmethod
    def load(cls, path: str | Path) -> IrreducibleLosses:
        """Read a file written by :meth:`save`; a clear error for a corrupt or foreign file."""
        arrays, _ = load_npz(path, "irreducible")
        try:
            return cls(arrays["indices"], arrays["losses"], arrays.get("holdout_indices"))
        except (KeyError, InputError) as exc:
            raise FileFormatError(
                f"{str(path)!r} is a corrupt irreducible-loss file: {exc}"
            ) from None


def compute_irreducible_losses(
    model: nn.Module,
    batches: Iterable[Any],
    loss_fn: LossFn = cross_entropy,
    *,
    holdout_indices: ArrayLike | torch.Tensor | None = None,
    device: torch.device | str | None = None,
    progress: bool = False,
) -> IrreducibleLosses:
    """Score every training point once with a model trained on the holdout set.

    Parameters
    ----------
    model : torch.nn.Module
        The irreducible-loss model, already trained on the holdout points only.
    batches : iterable of (inputs, targets, indices)
        One pass over the training points (for example ``TensorBatches(..., shuffle=False,
        drop_last=False)`` or a ``DataLoader`` over an :class:`IndexedDataset`).
    loss_fn : callable
        ``loss_fn(outputs, targets)`` giving one loss per point; cross-entropy by default.
    holdout_indices : array-like of int, optional
        The points ``model`` was trained on; a training point among them raises.
    device : torch.device or str, optional
        Where to run ``model``; by default where each batch already is.
    progress : bool
        Show a progress bar.

    Returns
    -------
    IrreducibleLosses

    Raises
    ------
    InputError
        If the holdout overlaps the training points, a point appears twice, a batch is not
        ``(inputs, targets, indices)`` of one length, or ``loss_fn`` is not per point.

    Notes
    -----
    The model runs in eval mode without gradients (Mindermann et al., ICML 2022, algorithm 1).
    """
    dev = torch.device(device) if device is not None else None
    holdout = (
        None if holdout_indices is None else as_index_tensor("holdout_indices", holdout_indices)
    )
    total = len(batches) if hasattr(batches, "__len__") else 0  # type: ignore[arg-type]
    all_indices, all_losses = [], []
    with progress_bar(progress, "irreducible losses", total) as advance:
        for batch in batches:
            inputs, targets, indices = unpack_batch(batch, dev)
            if holdout is not None:
                check_disjoint(indices, holdout)
            all_losses.append(scored_loss(model, loss_fn, inputs, targets).cpu())
            all_indices.append(indices.cpu())
            advance()
    if not all_indices:
        raise InputError(
            "batches is empty: expected at least one (inputs, targets, indices) batch."
        )
    return IrreducibleLosses(torch.cat(all_indices), torch.cat(all_losses), holdout)
