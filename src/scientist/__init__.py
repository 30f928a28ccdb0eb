"""scientist: a non-agentic Scientist AI.

It explains data with a Bayesian posterior over causal theories (the world model), answers
questions by averaging over plausible theories, and never acts in the world.
"""

from scientist import datasets
from scientist.data import Dataset, Variable
from scientist.errors import (
    DataError,
    FileFormatError,
    ImpossibleEvidenceError,
    InputError,
    MissingDependencyError,
    NotFittedError,
    QueryError,
    SamplerError,
    ScientistError,
)
from scientist.executors import LocalExecutor, RayExecutor
from scientist.infer import Answer, ask, parse_query
from scientist.posterior import Posterior
from scientist.priors import EdgePrior, StructurePrior, UniformPrior
from scientist.scores import BDeu, BGe
from scientist.theory import Theory
from scientist.world import WorldModel

__all__ = [
    "Answer",
    "BDeu",
    "BGe",
    "DataError",
    "Dataset",
    "EdgePrior",
    "FileFormatError",
    "ImpossibleEvidenceError",
    "InputError",
    "LocalExecutor",
    "MissingDependencyError",
    "NotFittedError",
    "Posterior",
    "QueryError",
    "RayExecutor",
    "SamplerError",
    "ScientistError",
    "StructurePrior",
    "Theory",
    "UniformPrior",
    "Variable",
    "WorldModel",
    "ask",
    "datasets",
    "parse_query",
]
__version__ = "0.1.0"
