"""Goldilocks selection: record the points a small proxy model selects, replay them elsewhere.

Selection costs a forward pass over every big batch. Goldilocks selection (Mindermann et al.
2021) lets a small, cheap proxy model do the selecting: train the proxy with a selector and
record which points it kept at every step, then train a different, larger architecture on the
recorded sequence, with no selection cost at all. How well a sequence transfers to another
architecture is an empirical question: ``benchmarks/rho_loss.py`` measures it.

References
----------
.. [1] S. Mindermann, M. Razzak, W. Xu, A. Kirsch, M. Sharma, A. Morisot, A. N. Gomez,
   S. Farquhar, J. Brauner and Y. Gal, "Prioritized training on points that are learnable,
   worth learning, and not yet learned" (Goldilocks selection), arXiv:2107.02565, 2021.
.. [2] S. Mindermann et al., "Prioritized Training on Points that are Learnable, Worth
   Learning, and Not Yet Learnt", ICML 2022, arXiv:2206.07137.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from numpy.typing import ArrayLike

from scientist.errors import FileFormatError, InputError
from scientist.selection._index import IndexMap, as_index_tensor
from scientist.selection._store import load_npz, save_npz
from scientist.selection.batches import Batch

__all__ = ["Replay", "SelectionRecord"]


class SelectionRecord:
    """The point indices kept at each training step, in order.

    Build one with ``train_with_selection(..., record=True)`` (or :meth:`append` in your own
    loop), save it, and replay it with :meth:`batches`.
    """

    def __init__(self) -> None:
        self._steps: list[torch.Tensor] = []

    def __len__(self) -> int:
        return len(self._steps)

    def __repr__(self) -> str:
        return f"SelectionRecord({len(self)} steps, {self.n_points} points)"

    @property
    def n_points(self) -> int:
        """Total points over all steps (a point kept twice counts twice)."""
        return sum(int(step.numel()) for step in self._steps)

    def append(self, indices: ArrayLike | torch.Tensor) -> None:
        """Add one step's kept point indices."""
        self._steps.append(as_index_tensor("indices", indices).detach().cpu())

    def step(self, k: int) -> torch.Tensor:
        """The point indices kept at step ``k`` (0-based)."""
        if not -len(self) <= k < len(self):
            raise InputError(f"k={k!r} is out of range: the record has {len(self)} steps.")
        return self._steps[k]

    def indices(self) -> torch.Tensor:
        """All kept point indices, step after step, as one 1-d tensor."""
        return torch.cat(self._steps) if self._steps else torch.zeros(0, dtype=torch.int64)

    def batches(
        self,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        *,
        indices: ArrayLike | torch.Tensor | None = None,
    ) -> Replay:
        """Replay the record as ``(inputs, targets, indices)`` batches, one per recorded step.

        Parameters
        ----------
        inputs, targets : torch.Tensor
            The data (any device; batches come out there), one row per point.
        indices : array-like of int, optional
            The point index of every row (default ``0 .. n-1``).

        Raises
        ------
        InputError
            If a recorded point has no row in the data (mismatched indices).
        """
        return Replay(self, inputs, targets, indices)

    def save(self, path: str | Path) -> Path:
        """Write to a versioned ``.npz`` file (atomic; no pickles)."""
        sizes = np.array([step.numel() for step in self._steps], dtype=np.int64)
        return save_npz(path, "record", {"indices": self.indices().numpy(), "sizes": sizes}, {})

    @classmethod
    def load(cls, path: str | Path) -> SelectionRecord:
        """Read a file written by :meth:`save`; a clear error for a corrupt or foreign file."""
        arrays, _ = load_npz(path, "record")
        flat, sizes = arrays.get("indices"), arrays.get("sizes")
        if (
            flat is None
            or sizes is None
            or flat.ndim != 1
            or sizes.ndim != 1
            or (sizes < 0).any()
            or int(sizes.sum()) != flat.size
        ):
            raise FileFormatError(f"{str(path)!r} is a corrupt selection-record file.")
        record = cls()
        for step in np.split(flat, np.cumsum(sizes)[:-1]) if sizes.size else []:
            record.append(torch.from_numpy(step.astype(np.int64)))
        return record


class Replay:
    """Re-iterable batches of a :class:`SelectionRecord` (see :meth:`SelectionRecord.batches`)."""

    def __init__(
        self,
        record: SelectionRecord,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        indices: ArrayLike | torch.Tensor | None,
    ) -> None:
        if len(targets) != len(inputs):
            raise InputError(
                f"targets has {len(targets)} rows but inputs has {len(inputs)}: expected one "
                "target per input."
            )
        idx = torch.arange(len(inputs)) if indices is None else as_index_tensor("indices", indices)
        if len(idx) != len(inputs):
            raise InputError(
                f"indices has {len(idx)} entries but inputs has {len(inputs)} rows: expected "
                "one index per row."
            )
        rows = IndexMap(idx, "row in the replay data").rows(record.indices())
        sizes = [int(step.numel()) for step in record._steps]
        self._rows = list(torch.split(rows.to(inputs.device), sizes))
        self._indices = list(torch.split(record.indices().to(inputs.device), sizes))
        self.inputs, self.targets = inputs, targets

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[Batch]:
        for rows, idx in zip(self._rows, self._indices, strict=True):
            yield self.inputs[rows], self.targets[rows], idx
