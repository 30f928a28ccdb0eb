"""Irreducible losses: computed once in eval mode, looked up by index, saved, and refused when wrong."""

import numpy as np
import pytest
import torch
from torch import nn

from scientist import FileFormatError, InputError
from scientist.selection import (
    IrreducibleLosses,
    TensorBatches,
    check_disjoint,
    compute_irreducible_losses,
)


def test_lookup_by_index_in_any_order_and_device_of_the_query():
    il = IrreducibleLosses([10, 3, 7], [1.0, 0.3, 0.7])
    assert il[torch.tensor([7, 10, 3, 7])].tolist() == pytest.approx([0.7, 1.0, 0.3, 0.7])
    assert il[np.array([3])].tolist() == pytest.approx([0.3])
    assert len(il) == 3 and il.indices.tolist() == [10, 3, 7]


def test_unknown_index_is_a_mismatch_error_naming_it():
    il = IrreducibleLosses([0, 1, 2], [0.1, 0.2, 0.3])
    with pytest.raises(InputError, match=r"indices mismatch: 2 point.*\[5, 9\]"):
        il[torch.tensor([1, 9, 5])]


@pytest.mark.parametrize(
    ("indices", "losses", "match"),
    [
        ([1, 1, 2], [0.0, 0.0, 0.0], "duplicated"),
        ([1, 2], [0.0], r"expected one loss per index"),
        ([1, 2], [0.0, float("nan")], "NaN or infinite"),
        ([[1, 2]], [0.0, 0.0], "1-d array"),
        ([0.5, 2.0], [0.0, 0.0], "integer point indices"),
    ],
)
def test_bad_construction_is_refused(indices, losses, match):
    with pytest.raises(InputError, match=match):
        IrreducibleLosses(indices, losses)


def test_holdout_overlapping_the_training_set_is_refused():
    with pytest.raises(
        InputError, match=r"holdout_indices overlap the training set: 2 point.*\[2, 3\]"
    ):
        IrreducibleLosses([0, 1, 2, 3], [0.0] * 4, holdout_indices=[2, 3, 4])
    check_disjoint([0, 1], [2, 3])  # disjoint: no error


def test_compute_matches_eval_mode_losses_and_refuses_an_overlapping_holdout():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 3))
    model.train()
    x, y = torch.randn(50, 4), torch.randint(0, 3, (50,))
    idx = torch.arange(100, 150)
    batches = TensorBatches(x, y, 16, indices=idx, shuffle=True, drop_last=False)
    il = compute_irreducible_losses(model, batches, holdout_indices=torch.arange(100))
    model.eval()
    with torch.no_grad():
        expected = nn.functional.cross_entropy(model(x), y, reduction="none")
    assert il[idx].tolist() == pytest.approx(expected.tolist(), abs=1e-6)
    assert model.training is False  # it was put back in eval mode by us above, not by compute
    model.train()
    compute_irreducible_losses(model, batches)
    assert model.training  # the mode it had is restored
    assert all(p.grad is None for p in model.parameters())  # no gradients were taken
    with pytest.raises(InputError, match="holdout_indices overlap"):
        compute_irreducible_losses(model, batches, holdout_indices=[120, 500])


def test_a_loss_that_is_not_per_point_is_refused():
    model = nn.Linear(4, 3)
    batches = TensorBatches(torch.randn(8, 4), torch.randint(0, 3, (8,)), 8)
    with pytest.raises(InputError, match=r"reduction='none'"):
        compute_irreducible_losses(model, batches, loss_fn=nn.CrossEntropyLoss())


def test_bad_batches_are_refused():
    model = nn.Linear(4, 3)
    with pytest.raises(InputError, match=r"expected \(inputs, targets, indices\)"):
        compute_irreducible_losses(model, [(torch.randn(4, 4), torch.zeros(4, dtype=torch.long))])
    with pytest.raises(InputError, match="batch lengths mismatch"):
        compute_irreducible_losses(
            model, [(torch.randn(4, 4), torch.zeros(4, dtype=torch.long), torch.arange(3))]
        )
    with pytest.raises(InputError, match="batches is empty"):
        compute_irreducible_losses(model, [])


def test_save_load_round_trip(tmp_path):
    il = IrreducibleLosses([5, 1, 9], [0.5, 0.1, 0.9], holdout_indices=[0, 2])
    back = IrreducibleLosses.load(il.save(tmp_path / "il.npz"))
    assert back.indices.tolist() == [5, 1, 9]
    assert back[torch.tensor([9, 5])].tolist() == pytest.approx([0.9, 0.5])
    assert back.holdout_indices is not None and back.holdout_indices.tolist() == [0, 2]


def test_bad_files_give_clear_errors_and_no_partial_file(tmp_path):
    il = IrreducibleLosses([1], [0.1])
    with pytest.raises(InputError, match="does not exist"):
        il.save(tmp_path / "missing" / "il.npz")
    assert not (tmp_path / "missing").exists()
    with pytest.raises(InputError, match="no such file"):
        IrreducibleLosses.load(tmp_path / "nope.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(FileFormatError, match=r"not a readable \.npz"):
        IrreducibleLosses.load(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(FileFormatError, match="no readable 'meta'"):
        IrreducibleLosses.load(tmp_path / "other.npz")
    from scientist.selection import SelectionRecord

    SelectionRecord().save(tmp_path / "record.npz")
    with pytest.raises(FileFormatError, match="not a scientist irreducible file"):
        IrreducibleLosses.load(tmp_path / "record.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.npz", "other.npz", "record.npz"]
