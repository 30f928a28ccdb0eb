"""Selectors: the exact top-n_b by their score, uniform draws, and the errors of the issue."""

import math

import pytest
import torch
from torch import nn

from scientist import InputError
from scientist.selection import (
    HighestLoss,
    IrreducibleLosses,
    RhoLoss,
    Selector,
    TensorBatches,
    Uniform,
    train_with_selection,
)


def batch(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(n, 5, generator=g),
        torch.randint(0, 4, (n,), generator=g),
        torch.arange(n) * 3,
    )


def losses_of(model, x, y):
    with torch.no_grad():
        return nn.functional.cross_entropy(model(x), y, reduction="none")


def test_rho_loss_keeps_exactly_the_top_reducible_losses():
    torch.manual_seed(0)
    model = nn.Linear(5, 4)
    x, y, idx = batch()
    il_values = torch.rand(40) * 3
    il = IrreducibleLosses(idx.flip(0), il_values.flip(0))  # stored in another order
    sel = RhoLoss(il, n_b=7).select(model, x, y, idx)
    reducible = losses_of(model, x, y) - il_values
    assert set(sel.positions.tolist()) == set(torch.topk(reducible, 7).indices.tolist())
    assert sel.scores is not None and torch.allclose(sel.scores, reducible, atol=1e-6)


def test_highest_loss_keeps_exactly_the_top_losses_and_leaves_the_model_alone():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 4), nn.Dropout(0.5))
    model.train()
    x, y, idx = batch()
    sel = HighestLoss(n_b=5).select(model, x, y, idx)
    model.eval()
    expected = torch.topk(losses_of(model, x, y), 5).indices  # eval mode: dropout off
    assert set(sel.positions.tolist()) == set(expected.tolist())
    model.train()
    HighestLoss(n_b=5).select(model, x, y, idx)
    assert model.training and all(p.grad is None for p in model.parameters())


def test_uniform_draws_each_point_with_probability_n_b_over_n_big():
    """Inclusion frequencies over 4,000 draws within 4.5 Monte-Carlo s.e. (all 40 points:
    false-failure chance about 40 * 7e-6)."""
    x, y, idx = batch()
    selector = Uniform(n_b=8, seed=1)
    counts = torch.zeros(40)
    for _ in range(4000):
        positions = selector.select(nn.Identity(), x, y, idx).positions
        assert positions.unique().numel() == 8
        counts[positions] += 1
    p = 8 / 40
    se = math.sqrt(p * (1 - p) / 4000)
    assert ((counts / 4000 - p).abs() < 4.5 * se).all()
    again = Uniform(n_b=8, seed=1).select(nn.Identity(), x, y, idx).positions
    assert (
        again.tolist() == Uniform(n_b=8, seed=1).select(nn.Identity(), x, y, idx).positions.tolist()
    )


@pytest.mark.parametrize("make", [lambda n: Uniform(n), lambda n: HighestLoss(n)])
def test_n_b_larger_than_the_big_batch_is_refused(make):
    x, y, idx = batch(n=10)
    with pytest.raises(InputError, match=r"n_b=11 is larger than the big batch n_B=10"):
        make(11).select(nn.Linear(5, 4), x, y, idx)


def test_rho_loss_refuses_mismatched_indices_and_oversized_n_b():
    x, y, idx = batch(n=10)
    il = IrreducibleLosses(torch.arange(5) * 3, torch.zeros(5))  # only half the batch
    with pytest.raises(InputError, match=r"indices mismatch: 5 point"):
        RhoLoss(il, 2).select(nn.Linear(5, 4), x, y, idx)
    with pytest.raises(InputError, match=r"n_b=11 is larger"):
        RhoLoss(il, 11).select(nn.Linear(5, 4), x, y, idx)


@pytest.mark.parametrize("n_b", [0, -3, 2.5, True, "8"])
def test_bad_n_b_is_refused(n_b):
    with pytest.raises(InputError, match="n_b="):
        Uniform(n_b)
    with pytest.raises(InputError, match="n_b="):
        HighestLoss(n_b)


def test_rho_loss_needs_irreducible_losses():
    with pytest.raises(InputError, match="expected IrreducibleLosses"):
        RhoLoss({0: 1.0}, 4)  # type: ignore[arg-type]


def test_selectors_meet_the_protocol():
    il = IrreducibleLosses([0], [0.0])
    for selector in (Uniform(2), HighestLoss(2), RhoLoss(il, 2)):
        assert isinstance(selector, Selector)


def test_on_noisy_labels_rho_loss_skips_noise_and_highest_loss_seeks_it(
    noisy_data, irreducible, make_mlp
):
    """30% of training labels are redrawn (20% end up wrong). After 300 steps, RHO-LOSS keeps
    far fewer wrong labels than uniform, highest-loss far more, and RHO-LOSS tests best."""
    d = noisy_data
    base = float(d.noisy[d.train].float().mean())
    results = {}
    for name, selector in [
        ("rho", RhoLoss(irreducible, 16)),
        ("uniform", Uniform(16, seed=0)),
        ("highest", HighestLoss(16)),
    ]:
        torch.manual_seed(1)
        model = make_mlp()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        big = TensorBatches(d.x[d.train], d.y[d.train], 160, indices=d.train, seed=2)
        result = train_with_selection(
            model, opt, big, selector, steps=300, eval_fn=d.accuracy, record=True
        )
        assert result.record is not None
        noisy = float(d.noisy[result.record.indices()].float().mean())
        results[name] = (noisy, result.history[-1]["metric"])
    assert 0.15 < base < 0.25
    assert results["rho"][0] < base / 2
    assert results["highest"][0] > 2 * base
    assert abs(results["uniform"][0] - base) < 0.05
    assert results["rho"][1] > results["uniform"][1] > results["highest"][1]
