"""Decomposable scores: log P(D | G) as a sum of cached local family scores."""

from scientist.scores.base import LocalScorer, Score, scorer_from_state
from scientist.scores.bdeu import BDeu, BDeuScorer
from scientist.scores.bge import BGe, BGeScorer

__all__ = [
    "BDeu",
    "BDeuScorer",
    "BGe",
    "BGeScorer",
    "LocalScorer",
    "Score",
    "make_score",
    "scorer_from_state",
]


def make_score(score: "str | Score") -> Score:
    """A :class:`Score` from a name (``'bge'``, ``'bdeu'``) or an instance."""
    from scientist.errors import InputError

    if isinstance(score, Score):
        return score
    table = {"bge": BGe, "bdeu": BDeu}
    if isinstance(score, str) and score.lower() in table:
        return table[score.lower()]()
    raise InputError(
        f"score={score!r} is invalid: expected one of {sorted(table)} or a Score instance."
    )
