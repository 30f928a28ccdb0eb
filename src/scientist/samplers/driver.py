"""Drivers: run sampler kernels as chains and collect DAG samples.

Kernels (``exact``, ``order_mcmc``, ``structure_mcmc``) are pure steps with an explicit random
source. The driver owns everything around them: one generator per chain spawned from one seed
(:class:`~scientist.samplers.rng.ChainGenerators`, so a chain's draws do not depend on which
other chains share its batch), burn-in, thinning, progress, and acceptance rates. With the
local executor the chains advance together in one vectorised batch; with
:class:`~scientist.executors.RayExecutor` each chain is one Ray task, the family table is
shipped once through the object store, and the chains are stacked back in seed order: the
same seeds give the same samples on either executor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from scientist.errors import InputError
from scientist.executors import Executor, LocalExecutor, make_executor
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
    executor: str | Executor = "local",
) -> ChainRun:
    """Run one chain per seed: ``burn_in`` steps, then a draw every ``thin`` steps.

    Each kept step yields ``draws_per_step`` DAGs (order MCMC draws several DAGs from the same
    order; the other samplers use 1), until ``n_samples`` DAGs per chain are collected.
    ``executor`` is ``"local"`` (one vectorised batch in this process), ``"ray"`` or an
    executor (one task per chain; ``progress`` is then not shown).
    """
    runner = make_executor(executor)
    if not isinstance(runner, LocalExecutor):
        if name not in SAMPLERS:
            raise InputError(f"sampler={name!r} is invalid: expected one of {list(SAMPLERS)}.")
        job = {
            "name": name,
            "n_samples": n_samples,
            "burn_in": burn_in,
            "thin": thin,
            "draws_per_step": draws_per_step,
        }
        runs = runner.map(_one_chain, [(job, seed) for seed in seeds], shared=table)
        return ChainRun(
            np.concatenate([r.samples for r in runs]),
            np.concatenate([r.acceptance for r in runs]),
            runs[0].n_steps,
        )
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


def _one_chain(table: FamilyTable, job: tuple[dict[str, Any], np.random.SeedSequence]) -> ChainRun:
    """One chain, as an executor task: the table is shared, the seed is the chain's own."""
    kwargs, seed = job
    return run_chains(table=table, seeds=[seed], **kwargs)
