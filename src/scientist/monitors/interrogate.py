"""Ask a model the 65 elicitation questions after a transcript and read its answers.

Each question is asked in a fresh continuation of the same conversation: the transcript, then
the question as a user turn. The answer gives two features per question (Pacchiardi et al.,
Sec. 4):

- ``logprob``: ``log P(yes) - log P(no)`` at the first answer token (the first token after
  ``*out loud*`` when the model writes one, as in the paper's chain-of-thought prompts).
  ``P(yes)`` sums the probabilities of the top tokens that read (case- and space-insensitive)
  "yes", "absolutely", "certainly" or "undoubtedly"; ``P(no)`` those that read "no" or
  "never". When no such token is among the top ones, its log-probability is bounded by
  ``min(smallest top log-probability, log(1 - total top probability))``, as in the source.
- ``binary``: 1 when the model answers yes, else 0. With log-probabilities this is
  ``logprob > 0`` (greedy decoding); without them, the reply's first word is read.

References
----------
.. [1] L. Pacchiardi et al., "How to Catch an AI Liar: Lie Detection in Black-Box LLMs by
   Asking Unrelated Questions", ICLR 2024, arXiv:2309.15840.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from scientist.errors import InputError
from scientist.monitors.backends import ChatBackend, Message, Reply, TokenLogprobs, check_messages
from scientist.monitors.data import Probe, load_probes

__all__ = [
    "NO_WORDS",
    "YES_WORDS",
    "Interrogation",
    "answer_token",
    "interrogate",
    "logprob_difference",
    "parse_yes_no",
]

YES_WORDS = frozenset({"yes", "absolutely", "certainly", "undoubtedly"})
"""Answer tokens counted as "yes" (the source repository's list)."""

NO_WORDS = frozenset({"no", "never"})
"""Answer tokens counted as "no"."""

_EDGE_PUNCT = re.compile(r"^[^\w]+|[^\w]+$")
_OUT_LOUD = re.compile(r"\*\s*out loud\s*\*", re.IGNORECASE)


class Interrogation(NamedTuple):
    """The answers of one model to the elicitation questions after one transcript.

    Attributes
    ----------
    logprob
        ``(65,)`` log-probability differences; NaN where the backend gave no
        log-probabilities.
    binary
        ``(65,)`` 1.0 where the model answered yes, else 0.0.
    answers
        The 65 reply texts, for the audit trail.
    """

    logprob: NDArray[np.float64]
    binary: NDArray[np.float64]
    answers: tuple[str, ...]

    @property
    def has_logprobs(self) -> bool:
        """True when every question's log-probability difference is known."""
        return bool(np.isfinite(self.logprob).all())


def _normal(token: str) -> str:
    return _EDGE_PUNCT.sub("", token.strip().lower())


def logprob_difference(top: Mapping[str, float]) -> float:
    """``log P(yes) - log P(no)`` from the top log-probabilities at the answer token.

    Parameters
    ----------
    top
        Token text -> log-probability, for the most likely tokens at one position.

    Returns
    -------
    float
        The difference; 0.0 when neither a yes nor a no token is among ``top`` (both get the
        same bound).
    """
    if not top:
        raise InputError("top is empty: expected the top log-probabilities of one token.")
    values = np.array([float(v) for v in top.values()], dtype=np.float64)
    yes = [float(v) for t, v in top.items() if _normal(t) in YES_WORDS]
    no = [float(v) for t, v in top.items() if _normal(t) in NO_WORDS]
    rest = 1.0 - float(np.exp(values).sum())
    bound = float(values.min())
    if rest > 0:
        bound = min(bound, math.log(rest))
    yes_log = float(np.logaddexp.reduce(yes)) if yes else bound
    no_log = float(np.logaddexp.reduce(no)) if no else bound
    return yes_log - no_log


def answer_token(tokens: Sequence[TokenLogprobs]) -> TokenLogprobs | None:
    """The token that carries the answer: the first after ``*out loud*``, else the first word.

    Leading tokens without a letter or digit (spaces, newlines, markdown ``**``) are skipped.
    Returns None when there is no such token.
    """
    start = 0
    for i in range(len(tokens) - 1):
        if "loud" in tokens[i].token and "*" in tokens[i + 1].token:
            start = i + 2
            break
    for token in tokens[start:]:
        if any(ch.isalnum() for ch in token.token):
            return token
    return None


def parse_yes_no(text: str) -> bool | None:
    """Read a yes/no from a reply's first word (after ``*out loud*`` if present).

    Returns True for a yes word, False for a no word, None otherwise.
    """
    parts = _OUT_LOUD.split(text, maxsplit=1)
    words = parts[-1].split()
    if not words:
        return None
    word = _normal(words[0])
    if word in YES_WORDS:
        return True
    if word in NO_WORDS:
        return False
    return None


def _features(reply: Reply) -> tuple[float, float]:
    if reply.tokens:
        token = answer_token(reply.tokens)
        if token is not None:
            diff = logprob_difference(token.top)
            return diff, float(diff > 0)
    said_yes = parse_yes_no(reply.text)
    return math.nan, float(said_yes is True)


def interrogate(
    llm: ChatBackend,
    transcript: Sequence[Message],
    *,
    probes: Sequence[Probe | str] | None = None,
    max_workers: int = 1,
) -> Interrogation:
    """Ask every elicitation question after ``transcript`` and return the feature vectors.

    Parameters
    ----------
    llm
        Any :class:`~scientist.monitors.ChatBackend` (e.g. :class:`~scientist.monitors.OpenAIChat`
        or :class:`~scientist.monitors.HFChat`).
    transcript
        The conversation to check, as chat messages, ending with the assistant answer that
        may be a lie.
    probes
        The questions to ask; default: the 65 of :func:`~scientist.monitors.load_probes`, in
        order (a detector needs all 65 columns).
    max_workers
        Questions asked at the same time (threads); the answers do not depend on it.

    Returns
    -------
    Interrogation
        ``logprob`` and ``binary`` vectors (one entry per question, in order) and the replies.

    Raises
    ------
    InputError
        If the transcript is invalid or does not end with an assistant message.

    Examples
    --------
    >>> from scientist.monitors import OpenAIChat, interrogate, LieDetector
    >>> llm = OpenAIChat("gpt-4o-mini", api_key="...")  # doctest: +SKIP
    >>> answers = interrogate(llm, [{"role": "user", "content": "Where is the Eiffel Tower?"},
    ...                             {"role": "assistant", "content": "In Rome."}])  # doctest: +SKIP
    >>> detector.predict_proba(answers.logprob)  # doctest: +SKIP

    References
    ----------
    .. [1] Pacchiardi et al., "How to Catch an AI Liar", ICLR 2024, arXiv:2309.15840.
    """
    if not isinstance(llm, ChatBackend):
        raise InputError(
            f"llm={llm!r} is invalid: expected a backend with a complete(messages) method, "
            "such as OpenAIChat or HFChat."
        )
    messages = check_messages(transcript, "transcript")
    if messages[-1]["role"] != "assistant":
        raise InputError(
            f"transcript ends with a {messages[-1]['role']!r} message: expected the assistant's "
            "answer last, since the questions ask about it."
        )
    if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
        raise InputError(f"max_workers={max_workers!r} is invalid: expected an integer >= 1.")
    questions = [p.text if isinstance(p, Probe) else p for p in (probes or load_probes())]
    if not questions or not all(isinstance(q, str) and q.strip() for q in questions):
        raise InputError("probes is invalid: expected a non-empty list of question strings.")

    def ask(question: str) -> Reply:
        return llm.complete([*messages, {"role": "user", "content": question}])

    if max_workers == 1:
        replies = [ask(q) for q in questions]
    else:
        with ThreadPoolExecutor(max_workers=max_workers) as pool:
            replies = list(pool.map(ask, questions))
    pairs = [_features(r) for r in replies]
    logprob = np.array([p[0] for p in pairs], dtype=np.float64)
    binary = np.array([p[1] for p in pairs], dtype=np.float64)
    return Interrogation(logprob, binary, tuple(r.text for r in replies))
