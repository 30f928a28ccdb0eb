"""Dataset construction and its clear errors."""

import numpy as np
import pandas as pd
import pytest

from scientist import DataError, Dataset


def test_from_pandas_infers_kinds():
    df = pd.DataFrame({"a": [1.0, 2.5, 3.0], "b": ["x", "y", "x"], "c": [True, False, True]})
    ds = Dataset.from_pandas(df)
    assert [v.kind for v in ds.variables] == ["continuous", "categorical", "categorical"]
    assert ds.variables[1].states == ("x", "y")
    assert ds.codes()[:, 1].tolist() == [0, 1, 0]
    assert ds.kind == "mixed"


def test_numeric_labels_sort_by_value():
    ds = Dataset.from_pandas(pd.DataFrame({"a": ["10", "2", "2", "10"]}), categorical=None)
    assert ds.variables[0].states == ("2", "10")


def test_csv_interventions_column(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("Raf,Mek,Erk,targets\n1,2,3,\n4,5,6,Raf;Mek\n7,8,9,Erk\n")
    ds = Dataset.from_csv(path, interventions_column="targets")
    assert ds.names == ["Raf", "Mek", "Erk"]
    assert ds.interventions.tolist() == [
        [False, False, False],
        [True, True, False],
        [False, False, True],
    ]
    out = tmp_path / "round.csv"
    ds.to_csv(out, interventions_column="targets")
    again = Dataset.from_csv(out, interventions_column="targets")
    assert np.array_equal(again.values, ds.values)
    assert np.array_equal(again.interventions, ds.interventions)


@pytest.mark.parametrize(
    ("frame", "kwargs", "match"),
    [
        (pd.DataFrame({"a": []}), {}, "no rows"),
        (pd.DataFrame({"a": [1.0, np.nan]}), {}, "non-finite"),
        (pd.DataFrame({"a": [1.0, np.inf]}), {}, "non-finite"),
        (pd.DataFrame({"a": ["x", "x"]}), {}, "at least two states"),
        (pd.DataFrame({"a": ["1", "x"]}), {}, "mixes numbers and labels"),
        (pd.DataFrame({"a": [1.0, 2.0], "t": ["Zed", ""]}), {"interventions_column": "t"}, "'Zed'"),
        (pd.DataFrame([[1.0, 2.0]], columns=["a", "a"]), {}, "Duplicate"),
        (pd.DataFrame({"a": [1.0]}), {"interventions_column": "nope"}, "nope"),
        (pd.DataFrame({"a": [1.0]}), {"categorical": ["b"]}, "unknown columns"),
    ],
)
def test_clear_errors(frame, kwargs, match):
    with pytest.raises(DataError, match=match):
        Dataset.from_pandas(frame, **kwargs)


def test_from_numpy_errors_and_states():
    with pytest.raises(DataError, match="2-D"):
        Dataset.from_numpy(np.zeros(3))
    with pytest.raises(DataError, match="names"):
        Dataset.from_numpy(np.zeros((2, 2)), names=["a"])
    with pytest.raises(DataError, match="codes"):
        Dataset.from_numpy(np.array([[0], [3]]), states={"X0": ["a", "b"]})
    with pytest.raises(DataError, match="interventions"):
        Dataset.from_numpy(np.zeros((2, 2)), interventions=np.zeros((3, 2), bool))
    ds = Dataset.from_numpy(
        np.array([[0, 1.5], [1, 2.5]]), names=["s", "x"], states={"s": ["lo", "hi"]}
    )
    assert ds.to_pandas()["s"].tolist() == ["lo", "hi"]


def test_pandas_round_trip_keeps_declared_states_and_their_order():
    # a constant column keeps its unused state; states keep their declared (unsorted) order
    ds = Dataset.from_numpy(
        np.array([[1, 0], [1, 1], [1, 0]]),
        names=["a", "b"],
        states={"a": ["no", "yes"], "b": ["lo", "hi"]},
    )
    back = Dataset.from_pandas(ds.to_pandas())
    assert [v.states for v in back.variables] == [("no", "yes"), ("lo", "hi")]
    np.testing.assert_array_equal(back.values, ds.values)


def test_missing_csv_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        Dataset.from_csv(tmp_path / "missing.csv")


def test_standardize_uses_observational_rows():
    x = np.array([[1.0], [3.0], [100.0]])
    mask = np.array([[False], [False], [True]])
    ds = Dataset.from_numpy(x, interventions=mask).standardize()
    assert ds.values[:2, 0].tolist() == [-1.0, 1.0]


def test_values_are_read_only():
    ds = Dataset.from_numpy(np.array([[0.0, 1.0], [1.0, 0.0]]))
    with pytest.raises(ValueError):
        ds.values[0, 0] = 5.0
