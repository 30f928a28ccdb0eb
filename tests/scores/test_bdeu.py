"""BDeu against pgmpy's implementation; score equivalence; interventions."""

import itertools

import numpy as np
import pandas as pd
import pytest
from pgmpy.structure_score import BDeu as PgmpyBDeu

from scientist import Dataset
from scientist.errors import InputError
from scientist.graphs import all_dags
from scientist.scores import BDeu


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    n = 300
    a = rng.integers(0, 2, n)
    b = (a + (rng.random(n) < 0.2)) % 3
    c = rng.integers(0, 2, n)
    e = ((b + c) % 2) ^ (rng.random(n) < 0.1)
    return pd.DataFrame({"A": a, "B": b, "C": c, "E": e}).astype(str)


@pytest.mark.parametrize("ess", [1.0, 5.0])
def test_matches_pgmpy(frame, ess):
    ds = Dataset.from_pandas(frame)
    ours = BDeu(ess=ess).fit(ds)
    theirs = PgmpyBDeu(
        frame,
        equivalent_sample_size=ess,
        state_names={v.name: list(v.states) for v in ds.variables},
    )
    names = ds.names
    for j, name in enumerate(names):
        others = [i for i in range(4) if i != j]
        for k in range(4):
            for parents in itertools.combinations(others, k):
                expected = theirs.local_score(name, tuple(names[p] for p in parents))
                assert ours.local(j, parents) == pytest.approx(expected, rel=1e-10)


def test_score_equivalence(frame):
    ds = Dataset.from_pandas(frame[["A", "B", "C"]])
    scores = BDeu(ess=2.0).fit(ds).total(all_dags(3))
    assert len(np.unique(np.round(scores, 8))) == 11


def test_intervened_rows_leave_the_family(frame):
    mask = np.zeros((len(frame), 4), bool)
    mask[:50, 1] = True
    full = BDeu().fit(Dataset.from_pandas(frame, interventions=mask))
    kept = BDeu().fit(Dataset.from_pandas(frame.iloc[50:]))
    assert full.local(1, (0,)) == pytest.approx(kept.local(1, (0,)))


def test_rejects_continuous():
    with pytest.raises(InputError, match="bge"):
        BDeu().fit(Dataset.from_numpy(np.random.default_rng(0).normal(size=(5, 2))))
    with pytest.raises(InputError, match="ess"):
        BDeu(ess=0).fit(Dataset.from_numpy(np.array([[0], [1]]), states={"X0": ["a", "b"]}))


def test_family_posterior_is_dirichlet(frame):
    ds = Dataset.from_pandas(frame)
    post = BDeu(ess=4.0).fit(ds).family_posterior(1, (0,))
    conc = post["concentration"]
    assert conc.shape == (2, 3)
    assert conc.sum() == pytest.approx(len(frame) + 4.0)
