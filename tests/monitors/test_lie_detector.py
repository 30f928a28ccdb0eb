"""LieDetector: accuracy on held-out GPT-3.5 pairs, input checks, and its saved file."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score

from scientist.errors import FileFormatError, InputError, NotFittedError
from scientist.monitors import LieDetector, group_indices, load_lie_detector_data
from scientist.monitors.detector import FORMAT, FORMAT_VERSION


@pytest.fixture(scope="module")
def data():
    return load_lie_detector_data("text-davinci-003")


@pytest.fixture(scope="module")
def split(data):
    """The paired 70/30 split of the paper's notebook: questions, not answers, are shuffled."""
    n = len(data.X) // 2
    perm = np.random.RandomState(42).permutation(n)
    cut = int(0.7 * n)

    def rows(pairs):
        return np.concatenate([2 * pairs, 2 * pairs + 1])

    return rows(perm[:cut]), rows(perm[cut:])


@pytest.fixture(scope="module")
def fitted(data):
    return LieDetector().fit(data.X, data.is_lie)


@pytest.mark.parametrize(
    ("groups", "features", "floor"),
    [
        (("lie", "factual", "ambiguous"), "logprob", 0.99),
        (("lie",), "logprob", 0.99),
        (("factual",), "logprob", 0.95),
        (("ambiguous",), "logprob", 0.95),
        (("lie", "factual", "ambiguous"), "binary", 0.99),
        (("ambiguous",), "binary", 0.90),
    ],
)
def test_held_out_auc(data, split, groups, features, floor):
    train, test = split
    assert not set(data.pair[train]) & set(data.pair[test])
    detector = LieDetector(groups=groups, features=features).fit(data.X[train], data.is_lie[train])
    auc = roc_auc_score(data.is_lie[test], detector.predict_proba(data.X[test]))
    assert auc >= floor


def test_shuffled_labels_give_chance(data, split):
    train, test = split
    labels = np.random.default_rng(0).permutation(data.is_lie[train])
    detector = LieDetector().fit(data.X[train], labels)
    auc = roc_auc_score(data.is_lie[test], detector.predict_proba(data.X[test]))
    assert 0.35 < auc < 0.65


def test_transfer_to_alpaca_and_vicuna_beats_chance(fitted):
    for model in ("alpaca", "vicuna"):
        other = load_lie_detector_data(model)
        assert roc_auc_score(other.is_lie, fitted.predict_proba(other.X)) > 0.85


def test_reads_only_its_groups_columns(data):
    detector = LieDetector(groups=("factual",)).fit(data.X, data.is_lie)
    assert detector.columns_ == group_indices("factual")
    X = data.X[:10].copy()
    others = [i for i in range(65) if i not in detector.columns_]
    X[:, others] = 123.0
    np.testing.assert_allclose(detector.predict_proba(X), detector.predict_proba(data.X[:10]))
    X[:, detector.columns_[0]] += 5.0
    assert not np.allclose(detector.predict_proba(X), detector.predict_proba(data.X[:10]))


def test_binary_features_are_the_sign(data):
    detector = LieDetector(features="binary").fit(data.X, data.is_lie)
    as_bits = (data.X > 0).astype(float)
    np.testing.assert_allclose(detector.predict_proba(data.X), detector.predict_proba(as_bits))


def test_probability_matches_the_formula(fitted, data):
    x = data.X[:5][:, list(fitted.columns_)]
    z = (x - fitted.scaler_.mean_) / fitted.scaler_.scale_
    logit = z @ fitted.classifier_.coef_[0] + fitted.classifier_.intercept_[0]
    np.testing.assert_allclose(fitted.predict_proba(data.X[:5]), 1 / (1 + np.exp(-logit)))
    np.testing.assert_array_equal(
        fitted.predict(data.X[:5]), fitted.predict_proba(data.X[:5]) >= 0.5
    )


def test_single_vector_gives_a_scalar(fitted, data):
    p = fitted.predict_proba(data.X[0])
    assert np.ndim(p) == 0 and p == pytest.approx(fitted.predict_proba(data.X[:1])[0])


def test_fit_is_deterministic(data):
    a = LieDetector().fit(data.X, data.is_lie).classifier_.coef_
    b = LieDetector().fit(data.X, data.is_lie).classifier_.coef_
    np.testing.assert_array_equal(a, b)


def test_integer_labels_are_accepted(data, fitted):
    other = LieDetector().fit(data.X, data.is_lie.astype(int))
    np.testing.assert_allclose(other.classifier_.coef_, fitted.classifier_.coef_)


def test_non_convergence_is_reported(data):
    with pytest.warns(ConvergenceWarning):
        LieDetector(max_iter=1).fit(data.X, data.is_lie)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"groups": ("lie", "nonsense")}, "'nonsense'"),
        ({"groups": ()}, "groups"),
        ({"features": "probs"}, "features='probs'"),
        ({"C": 0}, "C=0"),
        ({"max_iter": 0}, "max_iter=0"),
    ],
)
def test_bad_parameters_are_named_at_fit(data, kwargs, match):
    detector = LieDetector(**kwargs)  # __init__ only stores
    with pytest.raises(InputError, match=match):
        detector.fit(data.X, data.is_lie)


def test_bad_X_and_labels(data, fitted):
    with pytest.raises(InputError, match=r"shape \(4, 64\).*expected \(n, 65\)"):
        fitted.predict_proba(data.X[:4, :64])
    bad = data.X[:4].copy()
    bad[2, 7] = np.nan
    with pytest.raises(InputError, match=r"row 2, column 7.*features='binary'"):
        fitted.predict_proba(bad)
    with pytest.raises(InputError, match="not numbers"):
        fitted.predict_proba([["a"] * 65])
    with pytest.raises(InputError, match=r"is_lie has shape \(3,\)"):
        LieDetector().fit(data.X, data.is_lie[:3])
    with pytest.raises(InputError, match="single class"):
        LieDetector().fit(data.X[::2], data.is_lie[::2])
    with pytest.raises(InputError, match="0/1"):
        LieDetector().fit(data.X[:4], [0, 1, 2, 1])


def test_not_fitted():
    with pytest.raises(NotFittedError, match="fit"):
        LieDetector().predict_proba(np.zeros(65))


# --------------------------------------------------------------- save / load
def test_save_load_round_trip(tmp_path, data):
    detector = LieDetector(groups=("lie", "ambiguous"), features="binary", C=0.5)
    detector.fit(data.X, data.is_lie)
    path = detector.save(tmp_path / "d.json")
    document = json.loads(path.read_text())
    assert document["format"] == FORMAT and document["version"] == FORMAT_VERSION
    assert document["params"]["groups"] == ["lie", "ambiguous"]
    loaded = LieDetector.load(path)
    assert (loaded.groups, loaded.features, loaded.C) == (("lie", "ambiguous"), "binary", 0.5)
    np.testing.assert_array_equal(loaded.predict_proba(data.X), detector.predict_proba(data.X))
    assert os.listdir(tmp_path) == ["d.json"]  # no temporary file left


def test_save_is_atomic(tmp_path, fitted, monkeypatch):
    path = tmp_path / "d.json"
    path.write_text("previous content")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        fitted.save(path)
    assert path.read_text() == "previous content"
    assert os.listdir(tmp_path) == ["d.json"]


def test_save_into_a_missing_folder(tmp_path, fitted):
    with pytest.raises(InputError, match="does not exist"):
        fitted.save(tmp_path / "nope" / "d.json")


def _corrupt(tmp_path, fitted, change):
    document = fitted.to_dict()
    change(document)
    path = tmp_path / "d.json"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: d.update(format="something.else"), "not a lie-detector file"),
        (lambda d: d.update(version=FORMAT_VERSION + 1), "newer version"),
        (lambda d: d.update(version="1"), "version"),
        (lambda d: d.pop("scaler"), "missing field 'scaler'"),
        (lambda d: d["logistic"]["coef"].pop(), "logistic.coef"),
        (lambda d: d["scaler"]["scale"].__setitem__(0, -1.0), "positive"),
        (lambda d: d["scaler"]["mean"].__setitem__(0, "x"), "not numbers"),
        (lambda d: d.update(columns=[0, 1]), "columns"),
        (lambda d: d["params"].update(groups=["lies"]), "params"),
        (lambda d: d.update(probes_sha256="0" * 64), "other elicitation questions"),
        (lambda d: d.update(n_train_lie=0), "n_train"),
    ],
)
def test_load_rejects_corrupt_files(tmp_path, fitted, change, match):
    path = _corrupt(tmp_path, fitted, change)
    with pytest.raises(FileFormatError, match=match):
        LieDetector.load(path)


@pytest.mark.parametrize("content", [b"", b"{not json", b"\xff\xfe\x00", b"[1, 2, 3]", b"null"])
def test_load_rejects_foreign_files(tmp_path, content):
    path = tmp_path / "d.json"
    path.write_bytes(content)
    with pytest.raises(FileFormatError, match=str(path)):
        LieDetector.load(path)


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        LieDetector.load(tmp_path / "missing.json")
