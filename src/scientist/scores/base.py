"""The score contract: a decomposable log marginal likelihood log P(D | G).

A :class:`Score` holds hyperparameters only. ``score.fit(dataset)`` checks that the data suit the
score and returns a :class:`LocalScorer`, which computes local scores ``log P(D_j | D_Pa(j))``
for a node and its parent set (leaving out the rows where the node was intervened on), caches
them per ``(node, parent set)``, and gives the conjugate posterior of the family's parameters.
A fitted scorer round-trips through :meth:`LocalScorer.state` / :func:`scorer_from_state`, which
is how a saved posterior keeps its parameter model without keeping a copy of the data when it can.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from scientist.data import Dataset, Variable
from scientist.graphs import parent_masks

__all__ = ["LocalScorer", "Score", "scorer_from_state"]

_REGISTRY: dict[str, type[LocalScorer]] = {}


def mask_to_parents(mask: int, d: int) -> tuple[int, ...]:
    """Indices of the set bits of ``mask``."""
    return tuple(i for i in range(d) if (int(mask) >> i) & 1)


class Score(ABC):
    """Hyperparameters of a decomposable score; :meth:`fit` binds it to data."""

    name: ClassVar[str]

    @abstractmethod
    def fit(self, data: Dataset) -> LocalScorer:
        """Check the data and return a fitted :class:`LocalScorer`."""

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({params})"


class LocalScorer(ABC):
    """Local scores of a fitted decomposable score, cached per (node, parent set).

    Subclasses implement :meth:`_local_many` (a batch of parent masks for one node),
    :meth:`family_posterior`, :meth:`state` and :meth:`from_state`.
    """

    kind: ClassVar[str]

    def __init__(self, variables: Sequence[Variable]) -> None:
        self.variables = tuple(variables)
        self.d = len(self.variables)
        self._cache: dict[tuple[int, int], float] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            _REGISTRY[cls.kind] = cls

    @property
    def names(self) -> list[str]:
        """Variable names."""
        return [v.name for v in self.variables]

    def local(self, node: int, parents: Sequence[int] | int) -> float:
        """Local score of ``node`` with ``parents`` (indices, or a bit mask); cached."""
        mask = (
            parents if isinstance(parents, int | np.integer) else sum(1 << int(p) for p in parents)
        )
        key = (int(node), int(mask))
        if key not in self._cache:
            self._cache[key] = float(
                self._local_many(key[0], np.array([key[1]], dtype=np.int64))[0]
            )
        return self._cache[key]

    def local_many(self, node: int, masks: np.ndarray) -> np.ndarray:
        """Local scores of ``node`` for an array of parent bit masks (vectorised, uncached)."""
        masks = np.asarray(masks, dtype=np.int64)
        if masks.size and ((masks >> node) & 1).any():
            raise ValueError(f"a parent mask of node {node} contains the node itself")
        return self._local_many(int(node), masks)

    def total(self, adj: np.ndarray) -> np.ndarray | float:
        """log P(D | G) for one DAG ``(d, d)`` or a batch ``(K, d, d)``."""
        masks = parent_masks(adj)
        out = np.zeros(masks.shape[:-1])
        for j in range(self.d):
            col = masks[..., j]
            uniq, inv = np.unique(col, return_inverse=True)
            out = out + self.local_many(j, uniq)[inv.reshape(col.shape)]
        return float(out) if out.ndim == 0 else out

    @abstractmethod
    def _local_many(self, node: int, masks: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def family_posterior(self, node: int, parents: tuple[int, ...]) -> dict[str, Any]:
        """The conjugate posterior of the parameters of ``node`` given ``parents``."""

    @abstractmethod
    def state(self) -> dict[str, Any]:
        """Arrays and scalars that :meth:`from_state` turns back into an equal scorer."""

    @classmethod
    @abstractmethod
    def from_state(cls, variables: Sequence[Variable], state: dict[str, Any]) -> LocalScorer:
        """Inverse of :meth:`state`."""


def scorer_from_state(
    kind: str, variables: Sequence[Variable], state: dict[str, Any]
) -> LocalScorer:
    """Rebuild a fitted scorer saved with :meth:`LocalScorer.state`."""
    if kind not in _REGISTRY:
        raise KeyError(f"unknown scorer kind {kind!r}; known: {sorted(_REGISTRY)}")
    return _REGISTRY[kind].from_state(variables, state)
