"""The inference machine: answers causal questions by averaging over plausible theories."""

from scientist.infer.answer import Answer
from scientist.infer.engine import ask
from scientist.infer.query import EdgeQuery, Event, ExpectationQuery, ProbabilityQuery, parse_query

__all__ = [
    "Answer",
    "EdgeQuery",
    "Event",
    "ExpectationQuery",
    "ProbabilityQuery",
    "ask",
    "parse_query",
]
