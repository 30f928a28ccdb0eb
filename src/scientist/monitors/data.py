"""The lie detector's shipped data: elicitation questions, probe groups and features.

Everything is read from ``scientist/monitors/data/`` inside the installed package (see the
``PROVENANCE.md`` there): the 65 elicitation questions ("probes") of Pacchiardi et al. in the
order that every 65-long feature vector follows, the paper's three probe groups, and the
per-answer features of six of the paper's eleven question sets for GPT-3.5
(``text-davinci-003``), Alpaca and Vicuna.

References
----------
.. [1] L. Pacchiardi, A. J. Chan, S. Mindermann, I. Moscovitz, A. Y. Pan, Y. Gal, O. Evans and
   J. Brauner, "How to Catch an AI Liar: Lie Detection in Black-Box LLMs by Asking Unrelated
   Questions", ICLR 2024, arXiv:2309.15840.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from functools import lru_cache
from importlib import resources
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from scientist.errors import FileFormatError, InputError

__all__ = [
    "GROUPS",
    "MODELS",
    "N_PROBES",
    "LieDetectorData",
    "Probe",
    "group_indices",
    "load_lie_detector_data",
    "load_probes",
]

N_PROBES = 65
"""Number of elicitation questions; every feature vector has this length."""

GROUPS = ("lie", "factual", "ambiguous")
"""The paper's probe groups: lie-related, factual ("knowable") and ambiguous ("no_lie")."""

MODELS = ("text-davinci-003", "alpaca", "vicuna")
"""Models whose elicitation features are shipped (GPT-3.5 is ``text-davinci-003``)."""

_PACKAGE = "scientist.monitors"


class Probe(NamedTuple):
    """One elicitation question: its category in the source (``probe_type``) and its text."""

    kind: str
    text: str


class LieDetectorData(NamedTuple):
    """Elicitation features of answers that are lies or truthful, with their question set.

    Rows come in pairs: rows ``2k`` and ``2k + 1`` are the lie and the truthful answer to the
    same question (see :attr:`pair`), so a split that keeps :attr:`pair` together never puts
    one question in both the training and the test set.

    Attributes
    ----------
    X
        ``(n, 65)`` float array of ``log P(yes) - log P(no)`` at the first answer token after
        each elicitation question; the binary features of the paper are ``X > 0``.
    is_lie
        ``(n,)`` bool array, True where the answer was a lie. (The source repository uses the
        opposite convention, 1 = truthful.)
    dataset
        ``(n,)`` array of the question set's name of each row.
    """

    X: NDArray[np.float64]
    is_lie: NDArray[np.bool_]
    dataset: NDArray[np.str_]

    @property
    def pair(self) -> NDArray[np.int64]:
        """``(n,)`` id of the question each row answers; lie and truth share it."""
        return np.arange(len(self.is_lie)) // 2


def _read_bytes(name: str) -> bytes:
    try:
        return resources.files(_PACKAGE).joinpath("data", name).read_bytes()
    except FileNotFoundError as exc:  # an install without package data
        raise FileFormatError(
            f"the packaged data file scientist/monitors/data/{name} is missing; reinstall "
            "scientist-ai (the wheel must include its package data)."
        ) from exc


@lru_cache(maxsize=1)
def _probes() -> tuple[Probe, ...]:
    text = _read_bytes("probes.csv").decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    probes = tuple(Probe(row["probe_type"], row["probe"]) for row in rows)
    if len(probes) != N_PROBES:
        raise FileFormatError(f"probes.csv holds {len(probes)} probes, expected {N_PROBES}")
    return probes


def load_probes() -> tuple[Probe, ...]:
    """Return the 65 elicitation questions, in the order of the feature columns.

    Returns
    -------
    tuple of Probe
        ``(kind, text)`` pairs; ``kind`` is the source's category (``Confession``,
        ``Easily knowable``, ``New_unknowable``, ...).

    References
    ----------
    .. [1] Pacchiardi et al., "How to Catch an AI Liar", ICLR 2024, Appendix (elicitation
       questions).
    """
    return _probes()


@lru_cache(maxsize=1)
def _groups() -> dict[str, tuple[int, ...]]:
    document = json.loads(_read_bytes("probe_groups.json"))
    if document.get("format") != "scientist.lie_detector.probe_groups":
        raise FileFormatError("probe_groups.json is not a scientist probe-groups file")
    groups = {name: tuple(int(i) for i in idx) for name, idx in document["groups"].items()}
    if set(groups) != set(GROUPS):
        raise FileFormatError(f"probe_groups.json names {sorted(groups)}, expected {GROUPS}")
    return groups


def _check_groups(groups: Iterable[str] | str) -> tuple[str, ...]:
    if isinstance(groups, str):
        groups = (groups,)
    names = tuple(groups)
    if not names:
        raise InputError(
            "groups=() is invalid: expected one or more of "
            f"{', '.join(GROUPS)}. Pass for example groups=('lie',)."
        )
    for name in names:
        if name not in GROUPS:
            raise InputError(
                f"groups contains {name!r}, which is not a probe group: expected one or more of "
                f"{', '.join(GROUPS)} (the paper's lie-related, factual and ambiguous "
                "questions)."
            )
    return names


def group_indices(groups: Sequence[str] | str = GROUPS) -> tuple[int, ...]:
    """Return the sorted feature columns (probe indices) of one or more probe groups.

    Parameters
    ----------
    groups
        Names among ``"lie"`` (24 lie-related questions), ``"factual"`` (10 easily knowable
        facts; the source calls them "knowable") and ``"ambiguous"`` (14 unanswerable or
        nonsensical questions; the source calls them "no_lie"). All three together give the
        paper's 48 questions.

    Returns
    -------
    tuple of int
        Column indices into a 65-long feature vector, sorted, without repeats.

    Raises
    ------
    InputError
        If a name is not a probe group.
    """
    names = _check_groups(groups)
    table = _groups()
    return tuple(sorted({i for name in names for i in table[name]}))


@lru_cache(maxsize=1)
def _features() -> dict[str, NDArray[np.generic]]:
    raw = _read_bytes("features.npz")
    with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def load_lie_detector_data(model: str = "text-davinci-003") -> LieDetectorData:
    """Load the shipped elicitation features of one model's lies and truthful answers.

    Parameters
    ----------
    model
        ``"text-davinci-003"`` (GPT-3.5, the paper's training model; 491 question pairs),
        ``"alpaca"`` (287 pairs) or ``"vicuna"`` (180 pairs).

    Returns
    -------
    LieDetectorData
        ``(X, is_lie, dataset)``; rows alternate lie / truth of the same question.

    Raises
    ------
    InputError
        If ``model`` is not one of the shipped models.

    Notes
    -----
    Only six of the paper's eleven question sets are shipped (wikidata, CommonsenseQA 2.0,
    SciQ and the two Tatoeba translation sets are missing from the source snapshot), so there
    are 491 GPT-3.5 pairs instead of the paper's 916. See ``PROVENANCE.md`` in the data folder.

    References
    ----------
    .. [1] Pacchiardi et al., "How to Catch an AI Liar", ICLR 2024, arXiv:2309.15840.
    """
    if model not in MODELS:
        raise InputError(
            f"model={model!r} is invalid: expected one of {', '.join(MODELS)} "
            "(the models whose elicitation features are shipped)."
        )
    arrays = _features()
    lie = np.asarray(arrays[f"{model}.lie"], dtype=np.float64)
    truth = np.asarray(arrays[f"{model}.truth"], dtype=np.float64)
    names = np.asarray(arrays["datasets"])
    codes = np.asarray(arrays[f"{model}.dataset"], dtype=np.int64)
    n = lie.shape[0]
    X = np.empty((2 * n, N_PROBES), dtype=np.float64)
    X[0::2] = lie
    X[1::2] = truth
    is_lie = np.zeros(2 * n, dtype=bool)
    is_lie[0::2] = True
    dataset = np.repeat(names[codes], 2)
    return LieDetectorData(X, is_lie, dataset)
