"""Per-point losses: the quantity every selector ranks.

A loss function here maps ``(outputs, targets)`` to one loss per point (``reduction="none"``);
the training step averages it over the selected points. Scoring runs without gradients and with
the model in eval mode (dropout off, batch-norm statistics frozen), as in Mindermann et al.
(ICML 2022), and puts the model back in the mode it was in.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from scientist.errors import InputError

__all__ = ["LossFn", "cross_entropy", "per_example_loss", "scored_loss"]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def cross_entropy(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of class logits, one value per point (the default loss)."""
    return nn.functional.cross_entropy(outputs, targets, reduction="none")


def per_example_loss(
    model: nn.Module, loss_fn: LossFn, inputs: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """``loss_fn(model(inputs), targets)``, checked to give one loss per point.

    Raises
    ------
    InputError
        If ``loss_fn`` reduces over the batch or returns another shape.
    """
    losses = loss_fn(model(inputs), targets)
    n = inputs.shape[0]
    if not torch.is_tensor(losses) or losses.shape != (n,):
        shape = tuple(losses.shape) if torch.is_tensor(losses) else type(losses).__name__
        raise InputError(
            f"loss_fn returned shape {shape} for a batch of {n} points: expected one loss per "
            f"point, shape ({n},). Use reduction='none' (for example "
            "nn.CrossEntropyLoss(reduction='none'))."
        )
    return losses


@torch.no_grad()
def scored_loss(
    model: nn.Module, loss_fn: LossFn, inputs: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """Per-point loss in eval mode without gradients; the model's mode is restored after."""
    was_training = model.training
    model.eval()
    try:
        return per_example_loss(model, loss_fn, inputs, targets).float()
    finally:
        model.train(was_training)
