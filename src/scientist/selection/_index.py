"""Point indices: the one key that ties a training point to its stored loss and its replay.

Every point carries an integer index (its position in the user's full dataset). An
:class:`IndexMap` turns indices into rows of a stored array with a vectorised binary search and
refuses, with a clear error, any index it does not hold.
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import ArrayLike

from scientist.errors import InputError

__all__ = ["IndexMap", "as_index_tensor", "check_disjoint"]


def _preview(values: torch.Tensor, k: int = 5) -> str:
    shown = ", ".join(str(int(v)) for v in values[:k].tolist())
    return f"[{shown}{', ...' if values.numel() > k else ''}]"


def as_index_tensor(name: str, indices: ArrayLike | torch.Tensor) -> torch.Tensor:
    """Return ``indices`` as a 1-d ``int64`` tensor, or raise naming ``name``."""
    tensor = torch.as_tensor(np.asarray(indices) if not torch.is_tensor(indices) else indices)
    if tensor.dim() != 1:
        raise InputError(
            f"{name} has shape {tuple(tensor.shape)}: expected a 1-d array of point indices."
        )
    if tensor.is_floating_point() or tensor.is_complex() or tensor.dtype == torch.bool:
        raise InputError(
            f"{name} has dtype {tensor.dtype}: expected integer point indices (for example "
            "torch.arange(n))."
        )
    return tensor.to(torch.int64)


def check_disjoint(
    train_indices: ArrayLike | torch.Tensor, holdout_indices: ArrayLike | torch.Tensor
) -> None:
    """Raise if a holdout index is also a training index.

    The irreducible-loss model must never have seen the points it scores: a point it was trained
    on gets an irreducible loss near zero, so its reducible loss is inflated and it is picked
    for the wrong reason (Mindermann et al., ICML 2022, section 3).
    """
    train = as_index_tensor("train indices", train_indices).cpu()
    holdout = as_index_tensor("holdout_indices", holdout_indices).cpu()
    shared = train[torch.isin(train, holdout)].unique()
    if shared.numel():
        raise InputError(
            f"holdout_indices overlap the training set: {shared.numel()} point(s) are in both, "
            f"e.g. {_preview(shared)}. Train the irreducible-loss model on points that are not "
            "trained on (split the data first, for example with torch.randperm)."
        )


class IndexMap:
    """Sorted, unique point indices and a vectorised ``indices -> rows`` lookup.

    Parameters
    ----------
    indices : array-like of int, shape (n,)
        The index of every stored row, in row order; duplicates are refused.
    what : str
        What the rows hold, for error messages (``"irreducible losses"``).
    """

    def __init__(self, indices: ArrayLike | torch.Tensor, what: str) -> None:
        idx = as_index_tensor("indices", indices).cpu()
        order = torch.argsort(idx)
        ordered = idx[order]
        if ordered.numel() > 1:
            dup = ordered[1:][ordered[1:] == ordered[:-1]].unique()
            if dup.numel():
                raise InputError(
                    f"indices hold {dup.numel()} duplicated point index(es), e.g. {_preview(dup)}: "
                    "expected each point once."
                )
        self.what = what
        self.indices = idx
        self._sorted = ordered
        self._order = order
        self._cache: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    def __len__(self) -> int:
        return int(self.indices.numel())

    def _on(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        if device not in self._cache:
            self._cache[device] = (self._sorted.to(device), self._order.to(device))
        return self._cache[device]

    def rows(self, indices: torch.Tensor) -> torch.Tensor:
        """Rows of the given point indices (on their device); raise for an unknown index."""
        indices = as_index_tensor("indices", indices)
        ordered, order = self._on(indices.device)
        if ordered.numel() == 0:
            pos = torch.zeros_like(indices)
            found = torch.zeros_like(indices, dtype=torch.bool)
        else:
            pos = torch.searchsorted(ordered, indices).clamp_(max=ordered.numel() - 1)
            found = ordered[pos] == indices
        if not bool(found.all()):
            missing = indices[~found].unique().cpu()
            raise InputError(
                f"indices mismatch: {missing.numel()} point index(es) have no {self.what}, e.g. "
                f"{_preview(missing)} (held: {len(self)} points). Pass the same point indices "
                f"that the {self.what} were made with (a batch is (inputs, targets, indices))."
            )
        return order[pos]
