"""Small synthetic classification data with label noise, for the selection tests."""

from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from scientist.selection import TensorBatches, compute_irreducible_losses, train_with_selection


@dataclass
class Noisy:
    """Three linearly separable classes in 10-d; 30% of the training labels redrawn uniformly."""

    x: torch.Tensor
    y: torch.Tensor  # labels as given (noisy on training points)
    noisy: torch.Tensor  # bool: the label differs from the true one
    train: torch.Tensor  # point indices
    holdout: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    def accuracy(self, model: nn.Module) -> float:
        return float((model(self.x_test).argmax(1) == self.y_test).float().mean())


def mlp(width: int = 32) -> nn.Module:
    return nn.Sequential(nn.Linear(10, width), nn.ReLU(), nn.Linear(width, 3))


@contextmanager
def single_thread():
    """Tiny models run fastest on one thread (and far faster on a shared, busy machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def one_thread():
    with single_thread():
        yield


@pytest.fixture(scope="session")
def make_mlp():
    return mlp


@pytest.fixture(scope="session")
def noisy_data() -> Noisy:
    g = torch.Generator().manual_seed(0)
    w = torch.randn(10, 3, generator=g)
    x = torch.randn(3000, 10, generator=g)
    truth = (x @ w).argmax(1)
    perm = torch.randperm(3000, generator=g)
    train, holdout = perm[:2000], perm[2000:]
    y = truth.clone()
    redraw = torch.zeros(3000, dtype=torch.bool)
    redraw[train] = torch.rand(2000, generator=g) < 0.3
    y[redraw] = torch.randint(0, 3, (int(redraw.sum()),), generator=g)
    x_test = torch.randn(2000, 10, generator=g)
    return Noisy(x, y, y != truth, train, holdout, x_test, (x_test @ w).argmax(1))


@pytest.fixture(scope="session")
def irreducible(noisy_data):
    """Irreducible losses of the training points from a model fitted on the clean holdout."""
    d = noisy_data
    torch.manual_seed(0)
    model = mlp()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    holdout = TensorBatches(d.x[d.holdout], d.y[d.holdout], 100, indices=d.holdout)
    batches = TensorBatches(
        d.x[d.train], d.y[d.train], 512, indices=d.train, shuffle=False, drop_last=False
    )
    with single_thread():
        train_with_selection(model, opt, holdout, steps=200)
        return compute_irreducible_losses(model, batches, holdout_indices=d.holdout)
