"""Selectors: from a big batch of n_B points, keep the n_b to take a gradient step on.

Every selector has ``n_b`` and ``select(model, inputs, targets, indices) -> Selection``, so it
fits any training loop. ``RhoLoss`` ranks by the reducible holdout loss

    L[y | x; D_t] - L[y | x; D_ho],

the training loss under the current model minus the stored irreducible loss (Mindermann et al.,
ICML 2022, eq. 3): points that are learnable (low irreducible loss), worth learning and not yet
learnt (high training loss). ``Uniform`` and ``HighestLoss`` (Loshchilov & Hutter 2015;
Kawaguchi & Lu 2020) are the baselines. For Goldilocks selection pass a small proxy model as
``model`` and record the selection (see :mod:`scientist.selection.goldilocks`).

References
----------
.. [1] S. Mindermann et al., "Prioritized Training on Points that are Learnable, Worth
   Learning, and Not Yet Learnt", ICML 2022, arXiv:2206.07137.
.. [2] I. Loshchilov and F. Hutter, "Online Batch Selection for Faster Training of Neural
   Networks", ICLR workshop 2016, arXiv:1511.06343.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable

import torch
from torch import nn

from scientist.errors import InputError
from scientist.selection.irreducible import IrreducibleLosses
from scientist.selection.losses import LossFn, cross_entropy, scored_loss

__all__ = ["HighestLoss", "RhoLoss", "Selection", "Selector", "Uniform"]


class Selection(NamedTuple):
    """The kept points of a big batch.

    Attributes
    ----------
    positions : torch.Tensor
        Row positions in the big batch of the n_b kept points (int64, on the batch's device).
    scores : torch.Tensor or None
        The score of every point of the big batch (higher is kept first), or None (uniform).
    """

    positions: torch.Tensor
    scores: torch.Tensor | None


@runtime_checkable
class Selector(Protocol):
    """What ``train_with_selection`` needs from a selector."""

    n_b: int

    def select(
        self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, indices: torch.Tensor
    ) -> Selection:
        """Choose ``n_b`` of the big batch's points."""
        ...


def _check_n_b(n_b: object) -> int:
    if isinstance(n_b, bool) or not isinstance(n_b, int) or n_b < 1:
        raise InputError(
            f"n_b={n_b!r} is invalid: expected an integer >= 1 (points kept per step)."
        )
    return n_b


def _check_fits(n_b: int, n_big: int) -> None:
    if n_b > n_big:
        raise InputError(
            f"n_b={n_b} is larger than the big batch n_B={n_big}: expected n_b <= n_B. Raise the "
            "loader's batch size, lower n_b, or drop a short last batch (drop_last=True)."
        )


class Uniform:
    """Keep ``n_b`` points of the big batch drawn uniformly without replacement.

    Parameters
    ----------
    n_b : int
        Points kept per step.
    seed : int
        Seed of the draws (a private ``torch.Generator``; the global RNG is not touched).
    """

    def __init__(self, n_b: int, *, seed: int = 0) -> None:
        self.n_b = _check_n_b(n_b)
        self._generator = torch.Generator().manual_seed(seed)

    def __repr__(self) -> str:
        return f"Uniform(n_b={self.n_b})"

    def select(
        self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, indices: torch.Tensor
    ) -> Selection:
        """Draw ``n_b`` positions; the model is not evaluated."""
        n_big = inputs.shape[0]
        _check_fits(self.n_b, n_big)
        positions = torch.randperm(n_big, generator=self._generator)[: self.n_b]
        return Selection(positions.to(inputs.device), None)


class _TopScore:
    """Keep the ``n_b`` points of the big batch with the highest :meth:`score`."""

    n_b: int
    loss_fn: LossFn

    def score(
        self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, indices: torch.Tensor
    ) -> torch.Tensor:
        """One score per point of the big batch (eval mode, no gradients)."""
        raise NotImplementedError

    def select(
        self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, indices: torch.Tensor
    ) -> Selection:
        """Score the big batch (eval mode, no gradients) and keep the top ``n_b``."""
        _check_fits(self.n_b, inputs.shape[0])
        scores = self.score(model, inputs, targets, indices)
        return Selection(torch.topk(scores, self.n_b, sorted=False).indices, scores)


class HighestLoss(_TopScore):
    """Keep the ``n_b`` points with the highest training loss under the current model.

    Parameters
    ----------
    n_b : int
        Points kept per step.
    loss_fn : callable
        Per-point loss (``reduction="none"``); cross-entropy by default.
    """

    def __init__(self, n_b: int, loss_fn: LossFn = cross_entropy) -> None:
        self.n_b = _check_n_b(n_b)
        self.loss_fn = loss_fn

    def __repr__(self) -> str:
        return f"HighestLoss(n_b={self.n_b})"

    def score(
        self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, indices: torch.Tensor
    ) -> torch.Tensor:
        """The training loss of every point."""
        return scored_loss(model, self.loss_fn, inputs, targets)


class RhoLoss(_TopScore):
    """Keep the ``n_b`` points with the highest reducible holdout loss (RHO-LOSS).

    Parameters
    ----------
    irreducible : IrreducibleLosses
        The irreducible loss of every training point (:func:`compute_irreducible_losses`).
    n_b : int
        Points kept per step.
    loss_fn : callable
        Per-point loss (``reduction="none"``), the same one the irreducible losses used;
        cross-entropy by default.

    Raises
    ------
    InputError
        At selection, if a point of the big batch has no stored irreducible loss (mismatched
        indices) or the big batch holds fewer than ``n_b`` points.

    References
    ----------
    .. [1] S. Mindermann et al., ICML 2022, algorithm 1.
    """

    def __init__(
        self, irreducible: IrreducibleLosses, n_b: int, loss_fn: LossFn = cross_entropy
    ) -> None:
        if not isinstance(irreducible, IrreducibleLosses):
            raise InputError(
                f"irreducible is a {type(irreducible).__name__}: expected IrreducibleLosses (from "
                "compute_irreducible_losses or IrreducibleLosses.load)."
            )
        self.irreducible = irreducible
        self.n_b = _check_n_b(n_b)
        self.loss_fn = loss_fn

    def __repr__(self) -> str:
        return f"RhoLoss(n_b={self.n_b}, {self.irreducible!r})"

    def score(
        self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, indices: torch.Tensor
    ) -> torch.Tensor:
        """The reducible loss of every point: training loss minus irreducible loss."""
        irreducible = self.irreducible[indices.to(inputs.device)]
        return scored_loss(model, self.loss_fn, inputs, targets) - irreducible
