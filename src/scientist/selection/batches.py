"""Big batches of ``(inputs, targets, indices)``: what selectors and the training loop consume.

Any iterable of such triples works (a ``DataLoader`` over :class:`IndexedDataset`, or
:class:`TensorBatches` for data that fits in memory, which avoids per-item Python overhead and
keeps everything on the GPU).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from numpy.typing import ArrayLike
from torch.utils.data import Dataset

from scientist.errors import InputError
from scientist.selection._index import as_index_tensor

__all__ = ["Batch", "IndexedDataset", "TensorBatches", "unpack_batch"]

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def unpack_batch(batch: Any, device: torch.device | None = None) -> Batch:
    """Check a batch is ``(inputs, targets, indices)`` of one length; move it to ``device``."""
    if not isinstance(batch, tuple | list) or len(batch) != 3:
        got = f"a {type(batch).__name__}" + (
            f" of {len(batch)} items" if isinstance(batch, tuple | list) else ""
        )
        raise InputError(
            f"batch is {got}: expected (inputs, targets, indices). Wrap the dataset in "
            "IndexedDataset, or use TensorBatches."
        )
    inputs, targets, indices = batch
    indices = as_index_tensor("batch indices", indices)
    sizes = {len(inputs), len(targets), len(indices)}
    if len(sizes) != 1:
        raise InputError(
            f"batch lengths mismatch: {len(inputs)} inputs, {len(targets)} targets, "
            f"{len(indices)} indices; expected one index per point."
        )
    if device is not None:
        inputs, targets, indices = inputs.to(device), targets.to(device), indices.to(device)
    return inputs, targets, indices


class IndexedDataset(Dataset[tuple[Any, Any, int]]):
    """Wrap a map-style dataset of ``(input, target)`` so items are ``(input, target, index)``."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> tuple[Any, Any, int]:
        inputs, targets = self.dataset[i]
        return inputs, targets, i


class TensorBatches:
    """Shuffled big batches from in-memory tensors; iterate again for a new epoch.

    Parameters
    ----------
    inputs, targets : torch.Tensor
        One row per point (any device; batches come out on that device).
    batch_size : int
        Points per batch (the big batch n_B of RHO-LOSS).
    indices : array-like of int, optional
        The point index of every row (default ``0 .. n-1``); use the positions in the full
        dataset when ``inputs`` is a subset of it.
    shuffle : bool
        Draw a new permutation each epoch.
    drop_last : bool
        Drop a last batch smaller than ``batch_size`` (default), so every batch has n_B points.
    seed : int
        Seed of the permutations.
    """

    def __init__(
        self,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        batch_size: int,
        *,
        indices: ArrayLike | torch.Tensor | None = None,
        shuffle: bool = True,
        drop_last: bool = True,
        seed: int = 0,
    ) -> None:
        n = len(inputs)
        if len(targets) != n:
            raise InputError(
                f"targets has {len(targets)} rows but inputs has {n}: expected one target per input."
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(f"batch_size={batch_size!r} is invalid: expected an integer >= 1.")
        idx = torch.arange(n) if indices is None else as_index_tensor("indices", indices)
        if len(idx) != n:
            raise InputError(
                f"indices has {len(idx)} entries but inputs has {n} rows: expected one index per row."
            )
        if drop_last and n < batch_size:
            raise InputError(
                f"batch_size={batch_size} is larger than the {n} points, so every batch would be "
                "dropped: lower batch_size or pass drop_last=False."
            )
        self.inputs, self.targets = inputs, targets
        self.indices = idx.to(inputs.device)
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self._generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        n = len(self.inputs)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        n = len(self.inputs)
        order = torch.randperm(n, generator=self._generator) if self.shuffle else torch.arange(n)
        order = order.to(self.inputs.device)
        for k in range(len(self)):
            rows = order[k * self.batch_size : (k + 1) * self.batch_size]
            yield self.inputs[rows], self.targets[rows], self.indices[rows]
