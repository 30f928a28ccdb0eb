"""The exception tree of ``scientist``.

Every error raised on purpose by the library derives from :class:`ScientistError`, so a caller
can catch them all in one place. User mistakes also derive from the matching built-in
(``ValueError``, ``FileNotFoundError``) so that generic code keeps working::

    ScientistError
    ├── InputError (ValueError)            bad user input: a parameter, a value, a file's content
    │   ├── DataError                      a dataset that cannot be used (NaN, one-state column, ...)
    │   └── QueryError                     a question the inference machine cannot parse or answer
    │       └── ImpossibleEvidenceError    evidence of probability zero under every theory
    ├── FileFormatError (ValueError)       a saved file that is corrupt, foreign or of a newer version
    ├── NotFittedError (AttributeError)    a fitted attribute read before ``fit``
    ├── SamplerError (RuntimeError)        a sampler that cannot run on this problem (e.g. d too large)
    ├── AuditError (RuntimeError)          the audit store failed; no decision is returned (scientist.guard)
    ├── MissingDependencyError (ImportError)  an optional extra is needed (e.g. Ray: scientist-ai[ray])
    └── BackendError (RuntimeError)        an LLM backend failed (scientist.monitors.backends)

Messages name the parameter, the value received, what was expected and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "DataError",
    "FileFormatError",
    "ImpossibleEvidenceError",
    "InputError",
    "MissingDependencyError",
    "NotFittedError",
    "QueryError",
    "SamplerError",
    "ScientistError",
]


class ScientistError(Exception):
    """Base class of every error raised on purpose by ``scientist``."""


class InputError(ScientistError, ValueError):
    """A parameter or input value is invalid; the message says which and how to fix it."""


class DataError(InputError):
    """A dataset cannot be used as given (no rows, NaN, a one-state categorical, ...)."""


class QueryError(InputError):
    """A query cannot be parsed or answered."""


class ImpossibleEvidenceError(QueryError):
    """The evidence of a query has probability zero under every theory: nothing to condition on."""


class FileFormatError(ScientistError, ValueError):
    """A saved file is corrupt, of a foreign format, or written by a newer version."""


class NotFittedError(ScientistError, AttributeError):
    """A fitted attribute was read before ``fit`` was called."""


class SamplerError(ScientistError, RuntimeError):
    """A sampler cannot run on this problem (for example exact enumeration with d > 5)."""


class MissingDependencyError(ScientistError, ImportError):
    """An optional dependency is not installed; the message says which extra to install."""


def bad_value(name: str, value: object, expected: str, fix: str | None = None) -> InputError:
    """Build an :class:`InputError` that names the parameter, the value and the expectation."""
    message = f"{name}={value!r} is invalid: expected {expected}."
    if fix:
        message += f" {fix}"
    return InputError(message)
