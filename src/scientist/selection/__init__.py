"""Data selection for training PyTorch models faster: RHO-LOSS and Goldilocks selection.

From each big batch of n_B points, train only on the n_b points with the highest reducible
holdout loss: the current training loss minus the loss of a model trained on a holdout set
(the irreducible loss). Such points are learnable, worth learning and not yet learnt; noisy,
redundant and already-learnt points are skipped. Works with any ``torch.nn.Module`` and
per-point loss, on CPU or CUDA::

    il_model  <- train on the holdout points              (train_with_selection, selector=None)
    il        =  compute_irreducible_losses(il_model, train batches, holdout_indices=...)
    result    =  train_with_selection(model, optimizer, big batches, RhoLoss(il, n_b=32))

Pieces: :class:`IrreducibleLosses` (stored, saved, looked up by point index);
selectors :class:`RhoLoss`, :class:`Uniform`, :class:`HighestLoss` (each ``select(model,
inputs, targets, indices)``, usable in your own loop); :class:`SelectionRecord` to record what
a small proxy selects and replay it to train another architecture (Goldilocks);
:class:`TensorBatches` / :class:`IndexedDataset` for ``(inputs, targets, indices)`` batches.

References
----------
.. [1] S. Mindermann, J. Brauner, M. Razzak, M. Sharma, A. Kirsch, W. Xu, B. Höltgen,
   A. N. Gomez, A. Morisot, S. Farquhar and Y. Gal, "Prioritized Training on Points that are
   Learnable, Worth Learning, and Not Yet Learnt", ICML 2022, arXiv:2206.07137.
.. [2] S. Mindermann et al., "Prioritized training on points that are learnable, worth
   learning, and not yet learned" (Goldilocks selection), arXiv:2107.02565, 2021.
"""

from scientist.selection._index import check_disjoint
from scientist.selection.batches import IndexedDataset, TensorBatches
from scientist.selection.goldilocks import Replay, SelectionRecord
from scientist.selection.irreducible import IrreducibleLosses, compute_irreducible_losses
from scientist.selection.loop import TrainResult, train_with_selection
from scientist.selection.losses import cross_entropy
from scientist.selection.selectors import HighestLoss, RhoLoss, Selection, Selector, Uniform

__all__ = [
    "HighestLoss",
    "IndexedDataset",
    "IrreducibleLosses",
    "Replay",
    "RhoLoss",
    "Selection",
    "SelectionRecord",
    "Selector",
    "TensorBatches",
    "TrainResult",
    "Uniform",
    "check_disjoint",
    "compute_irreducible_losses",
    "cross_entropy",
    "train_with_selection",
]
