"""Per-chain random streams behind one generator-like object.

A batched kernel advances ``C`` chains in one vectorised step and asks its generator for arrays
whose first axis is the chain. :class:`ChainGenerators` answers each row from that chain's own
``numpy.random.Generator``, so a chain's draws depend only on its own seed: the same chain gives
the same samples whether it runs alone (one Ray task per chain) or batched with others.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["ChainGenerators"]


class ChainGenerators:
    """A batch of generators, one per chain; every draw's first axis is the chain.

    Parameters
    ----------
    generators
        One ``numpy.random.Generator`` per chain.
    """

    def __init__(self, generators: Sequence[np.random.Generator]) -> None:
        self.generators = list(generators)

    @classmethod
    def from_seeds(cls, seeds: Sequence[np.random.SeedSequence]) -> ChainGenerators:
        """One generator per seed sequence."""
        return cls([np.random.default_rng(s) for s in seeds])

    def __len__(self) -> int:
        return len(self.generators)

    def _rows(self, size: int | tuple[int, ...]) -> tuple[int, ...]:
        shape = (size,) if isinstance(size, int | np.integer) else tuple(size)
        if not shape or shape[0] != len(self.generators):
            raise ValueError(f"the first axis of size={size!r} must be the {len(self)} chains")
        return shape[1:]

    def random(self, size: int | tuple[int, ...]) -> np.ndarray:
        """Uniform [0, 1) draws."""
        rest = self._rows(size)
        if not rest:
            return np.array([g.random() for g in self.generators])
        return np.stack([g.random(rest) for g in self.generators])

    def integers(self, low: int, high: int, size: int | tuple[int, ...]) -> np.ndarray:
        """Integers in [low, high)."""
        rest = self._rows(size)
        if not rest:
            return np.array([g.integers(low, high) for g in self.generators])
        return np.stack([g.integers(low, high, size=rest) for g in self.generators])

    def gumbel(self, size: int | tuple[int, ...]) -> np.ndarray:
        """Standard Gumbel draws."""
        rest = self._rows(size)
        return np.stack([g.gumbel(size=rest) for g in self.generators])
