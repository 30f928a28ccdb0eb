"""One training loop with data selection: select n_b of each big batch, take a step, repeat.

Everything here composes from the public pieces (a selector's ``select``, a gradient step on
the kept points, :class:`SelectionRecord`); the loop only adds step counting, evaluation every
``eval_every`` steps, recording and a progress bar. With ``selector=None`` it trains on whole
batches: the same loop fits the irreducible-loss model on the holdout set and replays a record.

References
----------
.. [1] S. Mindermann et al., "Prioritized Training on Points that are Learnable, Worth
   Learning, and Not Yet Learnt", ICML 2022, arXiv:2206.07137, algorithm 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from scientist.errors import InputError
from scientist.progress import progress_bar
from scientist.selection.batches import Batch, unpack_batch
from scientist.selection.goldilocks import SelectionRecord
from scientist.selection.losses import LossFn, cross_entropy, per_example_loss
from scientist.selection.selectors import Selector

__all__ = ["TrainResult", "train_with_selection"]

EvalFn = Callable[[nn.Module], Mapping[str, float] | float]


@dataclass
class TrainResult:
    """What :func:`train_with_selection` did.

    Attributes
    ----------
    steps : int
        Gradient steps taken (fewer than asked only if ``batches`` was a one-shot iterator).
    history : list of dict
        One row per evaluation: ``{"step": k, **eval_fn(model)}`` at step 0, every
        ``eval_every`` steps and after the last step.
    train_losses : torch.Tensor
        The mean training loss of the kept points at every step, shape (steps,).
    record : SelectionRecord or None
        The point indices kept at every step, when ``record=True``.
    """

    steps: int
    history: list[dict[str, float]] = field(default_factory=list)
    train_losses: torch.Tensor = field(default_factory=lambda: torch.zeros(0))
    record: SelectionRecord | None = None

    def curve(self, metric: str) -> tuple[list[int], list[float]]:
        """``(steps, values)`` of an evaluated metric, for plotting."""
        rows = [row for row in self.history if metric in row]
        if not rows:
            known = sorted({k for row in self.history for k in row} - {"step"})
            raise InputError(f"metric={metric!r} was not evaluated: expected one of {known}.")
        return [int(row["step"]) for row in rows], [float(row[metric]) for row in rows]


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name}={value!r} is invalid: expected an integer >= 1.")
    return value


def _cycle(batches: Iterable[Any], steps: int | None) -> Iterator[Any]:
    """Yield batches, starting a new pass (epoch) when one ends, until ``steps`` are served."""
    served = 0
    while True:
        fresh = False
        for batch in batches:
            fresh = True
            yield batch
            served += 1
            if steps is not None and served >= steps:
                return
        if steps is None or not fresh or iter(batches) is batches:
            return


@torch.no_grad()
def _evaluate(model: nn.Module, eval_fn: EvalFn, step: int) -> dict[str, float]:
    was_training = model.training
    model.eval()
    try:
        result = eval_fn(model)
    finally:
        model.train(was_training)
    values = dict(result) if isinstance(result, Mapping) else {"metric": result}
    return {"step": float(step), **{k: float(v) for k, v in values.items()}}


def train_with_selection(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Iterable[Any],
    selector: Selector | None = None,
    *,
    loss_fn: LossFn = cross_entropy,
    steps: int | None = None,
    eval_fn: EvalFn | None = None,
    eval_every: int | None = None,
    record: bool = False,
    device: torch.device | str | None = None,
    progress: bool = False,
    description: str = "training",
) -> TrainResult:
    """Train ``model``, taking each gradient step on the points ``selector`` keeps.

    Parameters
    ----------
    model : torch.nn.Module
        The model trained (and, for the built-in selectors, the one that scores points).
    optimizer : torch.optim.Optimizer
        Over ``model``'s parameters.
    batches : iterable of (inputs, targets, indices)
        Big batches of n_B points (:class:`TensorBatches`, a ``DataLoader`` over an
        :class:`IndexedDataset`, or :meth:`SelectionRecord.batches`). Re-iterated for a new
        epoch while ``steps`` are not done.
    selector : Selector, optional
        ``RhoLoss``, ``HighestLoss``, ``Uniform`` or your own; None trains on whole batches.
    loss_fn : callable
        Per-point loss (``reduction="none"``); the step minimises its mean over kept points.
    steps : int, optional
        Gradient steps to take; by default one pass over ``batches``.
    eval_fn : callable, optional
        ``eval_fn(model)`` returning a float or a dict of floats (for example test accuracy);
        called in eval mode without gradients.
    eval_every : int, optional
        Evaluate every this many steps (and at steps 0 and the last); default: at 0 and the end.
    record : bool
        Keep the selected point indices of every step in ``result.record`` (Goldilocks).
    device : torch.device or str, optional
        Where batches go; by default the device of ``model``'s first parameter.
    progress : bool
        Show a Rich progress bar with the latest loss and evaluation.
    description : str
        The progress bar's label.

    Returns
    -------
    TrainResult

    Raises
    ------
    InputError
        For a batch that is not ``(inputs, targets, indices)`` of one length, indices without a
        stored irreducible loss, a big batch smaller than ``n_b``, a loss that is not per point,
        or bad ``steps`` / ``eval_every``.
    """
    if selector is not None and not isinstance(selector, Selector):
        raise InputError(
            f"selector is a {type(selector).__name__}: expected an object with n_b and "
            "select(model, inputs, targets, indices), such as RhoLoss or Uniform."
        )
    if steps is not None:
        _positive_int("steps", steps)
    if eval_every is not None:
        _positive_int("eval_every", eval_every)
    if device is None:
        first = next(iter(model.parameters()), None)
        device = first.device if first is not None else torch.device("cpu")
    dev = torch.device(device)
    total = steps if steps is not None else (len(batches) if hasattr(batches, "__len__") else 0)  # type: ignore[arg-type]
    result = TrainResult(steps=0, record=SelectionRecord() if record else None)
    if eval_fn is not None:
        result.history.append(_evaluate(model, eval_fn, 0))
    losses: list[torch.Tensor] = []
    refresh = max(1, total // 200)
    shown: dict[str, object] = {}
    with progress_bar(progress, description, total) as advance:
        for raw in _cycle(batches, steps):
            batch: Batch = unpack_batch(raw, dev)
            inputs, targets, indices = batch
            if selector is not None:
                kept = selector.select(model, inputs, targets, indices).positions
                inputs, targets, indices = inputs[kept], targets[kept], indices[kept]
            model.train()
            loss = per_example_loss(model, loss_fn, inputs, targets).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
            result.steps += 1
            if result.record is not None:
                result.record.append(indices)
            if eval_fn is not None and eval_every is not None and result.steps % eval_every == 0:
                result.history.append(_evaluate(model, eval_fn, result.steps))
                shown.update({k: f"{v:.4g}" for k, v in result.history[-1].items() if k != "step"})
            if progress and result.steps % refresh == 0:
                shown["loss"] = f"{loss.item():.4f}"  # a device sync, so not every step
            advance(**shown)
    if eval_fn is not None and int(result.history[-1]["step"]) != result.steps:
        result.history.append(_evaluate(model, eval_fn, result.steps))
    if losses:
        result.train_losses = torch.stack(losses).float().cpu()
    return result
