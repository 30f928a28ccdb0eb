"""The training loop and Goldilocks record/replay: steps, evaluation, recording, errors."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from scientist import FileFormatError, InputError
from scientist.selection import (
    IndexedDataset,
    RhoLoss,
    SelectionRecord,
    TensorBatches,
    Uniform,
    train_with_selection,
)


def data(n=60, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 4, generator=g), torch.randint(0, 3, (n,), generator=g)


def fresh(seed=0):
    torch.manual_seed(seed)
    model = nn.Linear(4, 3)
    return model, torch.optim.AdamW(model.parameters(), lr=1e-2)


def test_steps_run_over_epochs_and_evaluation_lands_on_schedule():
    x, y = data()
    model, opt = fresh()
    batches = TensorBatches(x, y, 20)  # 3 batches per epoch
    calls = []
    result = train_with_selection(
        model, opt, batches, Uniform(5), steps=7, eval_every=3,
        eval_fn=lambda m: calls.append(m.training) or {"acc": 0.5, "loss": 1.0},
    )  # fmt: skip
    assert result.steps == 7 and result.train_losses.shape == (7,)
    assert [row["step"] for row in result.history] == [0, 3, 6, 7]
    assert calls == [False] * 4 and model.training  # evaluated in eval mode, restored after
    assert result.curve("acc") == ([0, 3, 6, 7], [0.5] * 4)
    with pytest.raises(InputError, match=r"metric='f1' was not evaluated.*\['acc', 'loss'\]"):
        result.curve("f1")


def test_default_is_one_pass_and_a_one_shot_iterator_stops_early():
    x, y = data()
    model, opt = fresh()
    assert train_with_selection(model, opt, TensorBatches(x, y, 20)).steps == 3
    once = iter(TensorBatches(x, y, 20))
    assert train_with_selection(model, opt, once, steps=10).steps == 3


def test_loss_decreases_and_a_dataloader_over_an_indexed_dataset_works():
    x, y = data(n=200)
    model, opt = fresh()
    loader = DataLoader(IndexedDataset(TensorDataset(x, y)), batch_size=40, shuffle=True)
    result = train_with_selection(model, opt, loader, Uniform(10), steps=100, record=True)
    assert result.train_losses[-20:].mean() < result.train_losses[:20].mean()
    assert result.record is not None and len(result.record) == 100
    assert result.record.indices().max() < 200


def test_replay_reproduces_the_selection_run_exactly(noisy_data, irreducible, make_mlp):
    """Training the same initial model on the recorded sequence gives bit-identical weights:
    the selection's forward passes (eval mode, no gradients) do not touch the model."""
    d = noisy_data
    torch.manual_seed(3)
    model = make_mlp()
    start = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    big = TensorBatches(d.x[d.train], d.y[d.train], 80, indices=d.train, seed=4)
    result = train_with_selection(model, opt, big, RhoLoss(irreducible, 8), steps=40, record=True)
    assert result.record is not None and len(result.record) == 40
    copy = make_mlp()
    with torch.no_grad():
        for p, q in zip(copy.parameters(), start, strict=True):
            p.copy_(q)
    opt2 = torch.optim.AdamW(copy.parameters(), lr=1e-3)
    replayed = train_with_selection(copy, opt2, result.record.batches(d.x, d.y))
    assert replayed.steps == 40
    for p, q in zip(model.parameters(), copy.parameters(), strict=True):
        assert torch.equal(p, q)


def test_replay_trains_another_architecture_on_a_subset_with_its_own_indices(
    noisy_data, irreducible
):
    d = noisy_data
    torch.manual_seed(0)
    proxy = nn.Linear(10, 3)
    big = TensorBatches(d.x[d.train], d.y[d.train], 100, indices=d.train)
    rec = train_with_selection(
        proxy, torch.optim.SGD(proxy.parameters(), lr=0.1), big, RhoLoss(irreducible, 10),
        steps=5, record=True,
    ).record  # fmt: skip
    assert rec is not None
    order = torch.randperm(len(d.train))
    x_sub, y_sub, idx_sub = d.x[d.train][order], d.y[d.train][order], d.train[order]
    batches = list(rec.batches(x_sub, y_sub, indices=idx_sub))
    for k, (xb, yb, ib) in enumerate(batches):
        assert ib.tolist() == rec.step(k).tolist()
        assert torch.equal(xb, d.x[ib]) and torch.equal(yb, d.y[ib])
    deep = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 3))
    opt = torch.optim.AdamW(deep.parameters(), lr=1e-3)
    assert train_with_selection(deep, opt, rec.batches(x_sub, y_sub, indices=idx_sub)).steps == 5
    with pytest.raises(InputError, match=r"indices mismatch.*row in the replay data"):
        rec.batches(d.x[:10], d.y[:10])


def test_record_save_load_round_trip_and_bad_files(tmp_path):
    rec = SelectionRecord()
    rec.append([4, 2, 9])
    rec.append(np.array([1]))
    rec.append(torch.tensor([7, 7]))
    back = SelectionRecord.load(rec.save(tmp_path / "rec.npz"))
    assert [back.step(k).tolist() for k in range(3)] == [[4, 2, 9], [1], [7, 7]]
    assert (
        back.n_points == 6
        and len(SelectionRecord.load(SelectionRecord().save(tmp_path / "e.npz"))) == 0
    )
    with pytest.raises(InputError, match="out of range"):
        back.step(3)
    np.savez(tmp_path / "bad.npz", indices=np.arange(3), sizes=np.array([5]))
    with pytest.raises(FileFormatError):
        SelectionRecord.load(tmp_path / "bad.npz")


def test_bad_arguments_and_batches_are_refused():
    x, y = data()
    model, opt = fresh()
    batches = TensorBatches(x, y, 20)
    with pytest.raises(InputError, match="expected an object with n_b and select"):
        train_with_selection(model, opt, batches, selector="rho")  # type: ignore[arg-type]
    for bad in ({"steps": 0}, {"eval_every": -1}, {"steps": 2.5}):
        with pytest.raises(InputError, match=next(iter(bad))):
            train_with_selection(model, opt, batches, **bad)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"n_b=30 is larger than the big batch n_B=20"):
        train_with_selection(model, opt, batches, Uniform(30))
    with pytest.raises(InputError, match=r"expected \(inputs, targets, indices\)"):
        train_with_selection(model, opt, DataLoader(TensorDataset(x, y), batch_size=10))
    with pytest.raises(InputError, match="batch_size=100 is larger than the 60 points"):
        TensorBatches(x, y, 100)
    with pytest.raises(InputError, match="indices has 3 entries"):
        TensorBatches(x, y, 10, indices=[1, 2, 3])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_runs_on_cuda(noisy_data, irreducible, make_mlp):
    d = noisy_data
    dev = torch.device("cuda")
    model = make_mlp().to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    big = TensorBatches(d.x[d.train].to(dev), d.y[d.train].to(dev), 160, indices=d.train)
    result = train_with_selection(
        model, opt, big, RhoLoss(irreducible, 16), steps=20, record=True,
        eval_fn=lambda m: float((m(d.x_test.to(dev)).argmax(1).cpu() == d.y_test).float().mean()),
    )  # fmt: skip
    assert result.steps == 20 and result.record is not None and result.record.n_points == 320
