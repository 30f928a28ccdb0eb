"""Drivers: run sampler kernels as chains and collect DAG samples.

Kernels (``exact``, ``order_mcmc``, ``structure_mcmc``) are pure steps with an explicit random
source. The driver owns everything around them: one generator per chain spawned from one seed
(:class:`~scientist.samplers.rng.ChainGenerators`, so a chain's draws do not depend on which
other chains share its batch), burn-in, thinning, progress, and acceptance rates. Chains are
advanced together in one vectorised batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from scientist.errors import InputError
from scientist.progress import progress_bar
from scientist.samplers import exact, order_mcmc, structure_mcmc
from scientist.samplers.rng import ChainGenerators
from scientist.scores.table import FamilyTable

__all__ = ["SAMPLERS", "ChainRun", "run_chains"]

SAMPLERS = ("exact", "order_mcmc", "structure_mcmc")


@dataclass
class ChainRun:
    """DAG samples of a batch of chains (parent masks ``(C, S, d)``) and acceptance rates."""

    samples: np.ndarray
    acceptance: np.ndarray
    n_steps: int


def _parts(
    name: str, table: FamilyTable, rng: ChainGenerators, draws_per_step: int
) -> tuple[Any, Any, Any]:
    c = len(rng)
    if name == "order_mcmc":
        return (
            order_mcmc.init(rng, table, c),
            order_mcmc.build_kernel(table),
            lambda r, s: order_mcmc.sample_dags(r, table, s.order, draws_per_step),
        )
    if name == "structure_mcmc":
        return (
            structure_mcmc.init(rng, table, c),
            structure_mcmc.build_kernel(table),
            lambda r, s: s.masks[:, None, :],
        )
    if name == "exact":
        return exact.init(table, c), exact.build_kernel(), lambda r, s: s.last[:, None, :]
    raise InputError(f"sampler={name!r} is invalid: expected one of {list(SAMPLERS)}.")


def run_chains(
    name: str,
    table: FamilyTable,
    *,
    seeds: list[np.random.SeedSequence],
    n_samples: int,
    burn_in: int,
    thin: int,
    draws_per_step: int = 1,
    progress: bool = False,
) -> ChainRun:
    """Run one chain per seed: ``burn_in`` steps, then a draw every ``thin`` steps.

    Each kept step yields ``draws_per_step`` DAGs (order MCMC draws several DAGs from the same
    order; the other samplers use 1), until ``n_samples`` DAGs per chain are collected.
    """
    rng = ChainGenerators.from_seeds(seeds)
    per = draws_per_step if name == "order_mcmc" else 1
    state, step, draw = _parts(name, table, rng, per)
    n_keep = -(-n_samples // per)
    n_steps = burn_in + n_keep * thin
    out = np.empty((len(seeds), n_keep * per, table.d), dtype=np.int64)
    accepted = np.zeros(len(seeds))
    every = max(1, n_steps // 100)
    with progress_bar(progress, name.replace("_", "-"), total=n_steps - n_steps % every) as advance:
        for t in range(n_steps):
            state, info = step(rng, state)
            if name != "exact":
                accepted += info.accepted
            k = t - burn_in
            if k >= 0 and (k + 1) % thin == 0:
                i = k // thin
                out[:, i * per : (i + 1) * per] = draw(rng, state)
            if (t + 1) % every == 0:
                advance(every, acceptance=f"{accepted.mean() / (t + 1):.2f}")
    acceptance = accepted / n_steps if name != "exact" else np.ones(len(seeds))
    return ChainRun(out[:, :n_samples], acceptance, n_steps)
