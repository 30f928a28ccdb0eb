"""scientist: a non-agentic Scientist AI."""

from scientist.data import Dataset, Variable

__all__ = ["Dataset", "Variable"]
__version__ = "0.1.0"
