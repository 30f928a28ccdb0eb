"""The black-box lie detector: a logistic regression on answers to elicitation questions.

After a language model answers a question, it is asked a fixed set of unrelated yes/no
"elicitation questions"; its answers (``log P(yes) - log P(no)``, or only whether it said yes)
are features for a logistic-regression classifier that says whether the first answer was a
lie. Pacchiardi et al. show that a detector trained on GPT-3.5's prompted lies generalises to
other models, other lie instructions and other question sets.

The saved format is JSON, versioned::

    {
      "format": "scientist.lie_detector",   # fixed
      "version": 1,                          # this module reads versions <= 1
      "params": {"groups": [...], "features": "logprob" | "binary", "C": 1.0, "max_iter": 1000},
      "n_probes": 65,                         # length of the input feature vectors
      "probes_sha256": "...",                 # which elicitation questions the columns mean
      "columns": [...],                       # feature columns read (the groups' probes)
      "scaler": {"mean": [...], "scale": [...]},
      "logistic": {"coef": [...], "intercept": float},
      "n_train": int, "n_train_lie": int
    }

and ``P(lie | x) = sigmoid(coef . ((x[columns] - mean) / scale) + intercept)``, with
``x[columns] > 0`` in place of ``x[columns]`` for binary features.

References
----------
.. [1] L. Pacchiardi, A. J. Chan, S. Mindermann, I. Moscovitz, A. Y. Pan, Y. Gal, O. Evans and
   J. Brauner, "How to Catch an AI Liar: Lie Detection in Black-Box LLMs by Asking Unrelated
   Questions", ICLR 2024, arXiv:2309.15840.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from scientist.errors import FileFormatError, InputError, NotFittedError
from scientist.monitors.data import GROUPS, N_PROBES, _check_groups, group_indices, load_probes

__all__ = ["FORMAT", "FORMAT_VERSION", "LieDetector"]

FORMAT = "scientist.lie_detector"
"""The ``format`` field of a saved detector."""

FORMAT_VERSION = 1
"""The newest ``version`` of the saved format that this module reads and writes."""

Features = Literal["logprob", "binary"]
_FEATURES = ("logprob", "binary")


def probes_digest() -> str:
    """SHA-256 of the elicitation questions, in order; saved detectors record it."""
    text = "\n".join(f"{p.kind}\t{p.text}" for p in load_probes())
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class LieDetector:
    """Black-box lie detector of Pacchiardi et al. (2024).

    Parameters
    ----------
    groups
        Probe groups whose columns the detector reads: any of ``"lie"`` (24 lie-related
        questions), ``"factual"`` (10 easily knowable facts) and ``"ambiguous"`` (14
        unanswerable or nonsensical questions). The default, all three, is the paper's
        48-question detector.
    features
        ``"logprob"``: the log-probability differences ``log P(yes) - log P(no)`` themselves;
        ``"binary"``: only their sign (did the model say yes?), which needs no log-probabilities
        from the model.
    C
        Inverse L2-regularisation strength of the logistic regression.
    max_iter
        Iteration cap of the L-BFGS solver.

    Attributes
    ----------
    columns_ : tuple of int
        Feature columns read, sorted.
    scaler_ : sklearn.preprocessing.StandardScaler
    classifier_ : sklearn.linear_model.LogisticRegression
    n_train_ : int
        Number of training answers; ``n_train_lie_`` of them were lies.

    Notes
    -----
    ``X`` always has 65 columns in the order of :func:`scientist.monitors.load_probes`; the
    detector reads only its groups' columns. ``predict_proba`` returns one column, the
    probability that the answer was a lie (scikit-learn's returns one column per class). The
    fit is deterministic (L-BFGS, no random state).

    The probability is calibrated for the model the detector was trained on. On another model
    the ranking transfers but the probabilities do not. Trained on the shipped GPT-3.5
    features, the detector ranks Alpaca's and Vicuna's answers with AUC about 0.92, yet at a
    0.5 threshold it calls nearly all of them lies (the log-probability scales differ). Choose
    the threshold on labelled answers of the model you monitor (``docs/results.md``).

    References
    ----------
    .. [1] L. Pacchiardi et al., "How to Catch an AI Liar: Lie Detection in Black-Box LLMs by
       Asking Unrelated Questions", ICLR 2024, arXiv:2309.15840.

    Examples
    --------
    >>> from scientist.monitors import LieDetector, load_lie_detector_data
    >>> data = load_lie_detector_data("text-davinci-003")
    >>> detector = LieDetector(groups=("lie",)).fit(data.X, data.is_lie)
    >>> p = detector.predict_proba(data.X[:2])  # rows 0 and 1: a lie and a truthful answer
    >>> bool(p[0] > 0.5 > p[1])
    True
    """

    def __init__(
        self,
        groups: Sequence[str] | str = GROUPS,
        features: Features = "logprob",
        C: float = 1.0,
        max_iter: int = 1000,
    ) -> None:
        self.groups = groups
        self.features = features
        self.C = C
        self.max_iter = max_iter

    # ------------------------------------------------------------------ fitting
    def _check_params(self) -> tuple[tuple[str, ...], tuple[int, ...]]:
        if self.features not in _FEATURES:
            raise InputError(
                f"features={self.features!r} is invalid: expected 'logprob' (log-probability "
                "differences) or 'binary' (yes/no answers only)."
            )
        if not (isinstance(self.C, int | float) and np.isfinite(self.C) and self.C > 0):
            raise InputError(f"C={self.C!r} is invalid: expected a positive finite number.")
        if isinstance(self.max_iter, bool) or not isinstance(self.max_iter, int):
            raise InputError(f"max_iter={self.max_iter!r} is invalid: expected an integer >= 1.")
        if self.max_iter < 1:
            raise InputError(f"max_iter={self.max_iter!r} is invalid: expected an integer >= 1.")
        names = _check_groups(self.groups)
        return names, group_indices(names)

    def _transform(self, X: NDArray[np.float64], columns: Sequence[int]) -> NDArray[np.float64]:
        Z = X[:, list(columns)]
        if self.features == "binary":
            return (Z > 0).astype(np.float64)
        return Z

    def fit(self, X: ArrayLike, is_lie: ArrayLike) -> LieDetector:
        """Fit the standardiser and the logistic regression.

        Parameters
        ----------
        X
            ``(n, 65)`` elicitation features (log-probability differences, or 0/1 answers for
            a binary detector).
        is_lie
            ``(n,)`` labels, True (or 1) where the answer was a lie; both classes must occur.

        Returns
        -------
        LieDetector
            ``self``, fitted.
        """
        _, columns = self._check_params()
        features = _check_X(X, "X", allow_inf=self.features == "binary")
        labels = _check_labels(is_lie, features.shape[0])
        Z = self._transform(features, columns)
        scaler = StandardScaler().fit(Z)
        classifier = LogisticRegression(C=float(self.C), max_iter=self.max_iter)
        classifier.fit(scaler.transform(Z), labels.astype(np.int64))
        self.columns_ = columns
        self.scaler_ = scaler
        self.classifier_ = classifier
        self.n_train_ = int(labels.size)
        self.n_train_lie_ = int(labels.sum())
        return self

    def _fitted(self) -> None:
        if not hasattr(self, "classifier_"):
            raise NotFittedError(
                "this LieDetector is not fitted yet: call fit(X, is_lie) or LieDetector.load(path)."
            )

    # --------------------------------------------------------------- prediction
    def decision_function(self, X: ArrayLike) -> NDArray[np.float64]:
        """Log-odds that each answer was a lie, shape ``(n,)`` (or a scalar array for one row)."""
        self._fitted()
        features = _check_X(X, "X", allow_inf=self.features == "binary")
        Z = self.scaler_.transform(self._transform(features, self.columns_))
        scores: NDArray[np.float64] = self.classifier_.decision_function(Z)
        return scores[0] if np.ndim(X) == 1 else scores

    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        """Probability that each answer was a lie.

        Parameters
        ----------
        X
            ``(n, 65)`` elicitation features, or one 65-long vector.

        Returns
        -------
        numpy.ndarray
            Shape ``(n,)``, or a 0-d array for a single vector.
        """
        scores = self.decision_function(X)
        result: NDArray[np.float64] = 1.0 / (1.0 + np.exp(-scores))
        return result

    def predict(self, X: ArrayLike, threshold: float = 0.5) -> NDArray[np.bool_]:
        """True where the probability of a lie is at least ``threshold``."""
        if not 0.0 <= threshold <= 1.0:
            raise InputError(f"threshold={threshold!r} is invalid: expected a number in [0, 1].")
        result: NDArray[np.bool_] = self.predict_proba(X) >= threshold
        return result

    # --------------------------------------------------------------- save / load
    def to_dict(self) -> dict[str, Any]:
        """The fitted detector as a JSON-ready dict (the saved format, see the module doc)."""
        self._fitted()
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "params": {
                "groups": list(_check_groups(self.groups)),
                "features": self.features,
                "C": float(self.C),
                "max_iter": int(self.max_iter),
            },
            "n_probes": N_PROBES,
            "probes_sha256": probes_digest(),
            "columns": [int(c) for c in self.columns_],
            "scaler": {
                "mean": [float(v) for v in self.scaler_.mean_],
                "scale": [float(v) for v in self.scaler_.scale_],
            },
            "logistic": {
                "coef": [float(v) for v in self.classifier_.coef_[0]],
                "intercept": float(self.classifier_.intercept_[0]),
            },
            "n_train": self.n_train_,
            "n_train_lie": self.n_train_lie_,
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the detector as JSON, atomically (a temporary file, then a rename).

        Parameters
        ----------
        path
            Destination file; its folder must exist. An existing file is replaced only once the
            new one is completely written.

        Returns
        -------
        pathlib.Path
            The path written.
        """
        text = json.dumps(self.to_dict(), indent=1) + "\n"
        target = Path(path)
        _atomic_write_text(target, text)
        return target

    @classmethod
    def from_dict(cls, document: Any, source: str = "the document") -> LieDetector:
        """Rebuild a fitted detector from :meth:`to_dict`'s output; see :meth:`load`."""
        return _from_dict(cls, document, source)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LieDetector:
        """Read a detector written by :meth:`save`.

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist.
        FileFormatError
            If the file is not JSON, not a lie-detector file, of a newer version, or corrupt.
        """
        target = Path(path)
        raw = target.read_bytes()
        try:
            document = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise FileFormatError(
                f"{target} is not a lie-detector file: it is not valid JSON ({exc}). "
                "Pass a file written by LieDetector.save or `scientist lie-detector train`."
            ) from None
        return _from_dict(cls, document, str(target))

    def __repr__(self) -> str:
        groups = tuple(self.groups) if not isinstance(self.groups, str) else self.groups
        return (
            f"LieDetector(groups={groups!r}, features={self.features!r}, C={self.C!r}, "
            f"max_iter={self.max_iter!r})"
        )


# ---------------------------------------------------------------------- helpers
def _check_X(X: ArrayLike, name: str, allow_inf: bool) -> NDArray[np.float64]:
    try:
        array = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(
            f"{name} is invalid: expected a numeric array of shape (n, {N_PROBES}), got "
            f"values that are not numbers. Pass the feature vectors of interrogate()."
        ) from None
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != N_PROBES:
        raise InputError(
            f"{name} has shape {np.shape(X)}: expected (n, {N_PROBES}), one column per "
            "elicitation question in the order of scientist.monitors.load_probes()."
        )
    if array.shape[0] == 0:
        raise InputError(f"{name} has no rows: expected at least one feature vector.")
    bad = np.isnan(array) if allow_inf else ~np.isfinite(array)
    if bad.any():
        rows, cols = np.nonzero(bad)
        raise InputError(
            f"{name} has missing or non-finite values (first at row {rows[0]}, column "
            f"{cols[0]}; {bad.sum()} in all): expected finite numbers. A backend without "
            "log-probabilities gives only binary features: use LieDetector(features='binary') "
            "with interrogate(...).binary."
        )
    return array


def _check_labels(is_lie: ArrayLike, n: int) -> NDArray[np.bool_]:
    labels = np.asarray(is_lie)
    if labels.ndim != 1 or labels.shape[0] != n:
        raise InputError(
            f"is_lie has shape {labels.shape}: expected ({n},), one label per row of X."
        )
    if labels.dtype != np.bool_:
        if not np.isin(labels, (0, 1)).all():
            raise InputError(
                "is_lie is invalid: expected booleans or 0/1 with True (1) meaning a lie, got "
                f"values {np.unique(labels)[:5].tolist()}."
            )
        labels = labels.astype(bool)
    if labels.all() or not labels.any():
        raise InputError(
            "is_lie holds a single class: expected both lies (True) and truthful answers "
            "(False) to fit a detector."
        )
    return labels


def _atomic_write_text(target: Path, text: str) -> None:
    folder = target.parent
    if not folder.is_dir():
        raise InputError(
            f"path={str(target)!r} is invalid: its folder {str(folder)!r} does not exist. "
            "Create it first or choose another path."
        )
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _floats(value: Any, length: int, field: str, source: str) -> NDArray[np.float64]:
    if not isinstance(value, list) or len(value) != length:
        raise FileFormatError(f"{source}: field {field!r} should be a list of {length} numbers.")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        raise FileFormatError(f"{source}: field {field!r} holds values that are not numbers.")
    array = np.asarray(value, dtype=np.float64)
    if not np.isfinite(array).all():
        raise FileFormatError(f"{source}: field {field!r} holds non-finite numbers.")
    return array


def _from_dict(cls: type[LieDetector], document: Any, source: str) -> LieDetector:
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise FileFormatError(
            f"{source} is not a lie-detector file: expected a JSON object with "
            f'"format": {FORMAT!r}. Pass a file written by LieDetector.save or '
            "`scientist lie-detector train`."
        )
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise FileFormatError(f"{source}: field 'version' should be a positive integer.")
    if version > FORMAT_VERSION:
        raise FileFormatError(
            f"{source} was written by a newer version of scientist (format version {version}; "
            f"this one reads up to {FORMAT_VERSION}). Upgrade scientist-ai to load it."
        )
    try:
        params = document["params"]
        columns = document["columns"]
        scaler_doc = document["scaler"]
        logistic = document["logistic"]
        n_train = document["n_train"]
        n_train_lie = document["n_train_lie"]
    except (KeyError, TypeError) as exc:
        raise FileFormatError(f"{source} is corrupt: missing field {exc}.") from None
    if document.get("n_probes") != N_PROBES or document.get("probes_sha256") != probes_digest():
        raise FileFormatError(
            f"{source} was trained on other elicitation questions than the {N_PROBES} shipped "
            "with this version of scientist, so its columns would be misread. Retrain it."
        )
    try:
        detector = cls(
            groups=tuple(params["groups"]),
            features=params["features"],
            C=params["C"],
            max_iter=params["max_iter"],
        )
        _, expected_columns = detector._check_params()
    except (KeyError, TypeError, InputError) as exc:
        raise FileFormatError(f"{source} is corrupt: bad 'params' ({exc}).") from None
    if columns != list(expected_columns):
        raise FileFormatError(f"{source} is corrupt: 'columns' do not match its groups.")
    k = len(columns)
    if not isinstance(scaler_doc, dict) or not isinstance(logistic, dict):
        raise FileFormatError(f"{source} is corrupt: 'scaler' and 'logistic' must be objects.")
    mean = _floats(scaler_doc.get("mean"), k, "scaler.mean", source)
    scale = _floats(scaler_doc.get("scale"), k, "scaler.scale", source)
    coef = _floats(logistic.get("coef"), k, "logistic.coef", source)
    intercept = _floats([logistic.get("intercept")], 1, "logistic.intercept", source)
    if (scale <= 0).any():
        raise FileFormatError(f"{source} is corrupt: 'scaler.scale' must be positive.")
    if not (
        isinstance(n_train, int) and isinstance(n_train_lie, int) and 0 < n_train_lie < n_train
    ):
        raise FileFormatError(f"{source} is corrupt: bad 'n_train' / 'n_train_lie'.")

    scaler = StandardScaler()
    scaler.mean_ = mean
    scaler.scale_ = scale
    scaler.var_ = scale**2
    scaler.n_features_in_ = k
    scaler.n_samples_seen_ = n_train
    classifier = LogisticRegression(C=float(detector.C), max_iter=detector.max_iter)
    classifier.coef_ = coef[None, :]
    classifier.intercept_ = intercept
    classifier.classes_ = np.array([0, 1])
    classifier.n_features_in_ = k
    detector.columns_ = tuple(expected_columns)
    detector.scaler_ = scaler
    detector.classifier_ = classifier
    detector.n_train_ = n_train
    detector.n_train_lie_ = n_train_lie
    return detector
