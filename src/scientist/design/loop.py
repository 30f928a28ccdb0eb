"""A simulation study of experiment design: learn, pick an experiment, run it on the true
world, learn again; and the errors it reports.

:func:`run_design_loop` compares choosing experiments by expected information gain
(:func:`~scientist.design.eig.suggest`) with random and round-robin choices, on data drawn from
a known ground-truth theory (``benchmarks/experiment_design.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from scientist.data import Dataset
from scientist.design.eig import _candidate, _values, suggest
from scientist.errors import InputError
from scientist.posterior import Posterior
from scientist.theory import Theory

__all__ = ["edge_error", "run_design_loop", "structural_hamming_distance"]


def structural_hamming_distance(a: np.ndarray, b: np.ndarray) -> int:
    """Edges to add, delete or reverse to turn DAG ``a`` into DAG ``b`` (a reversal counts once)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    diff = (a != b) | (a.T != b.T)
    return int(np.triu(diff, 1).sum())


def edge_error(posterior: Posterior, truth: np.ndarray) -> float:
    """Mean absolute difference between the edge marginals and the true adjacency (off-diagonal)."""
    m = posterior.edge_marginals()
    off = ~np.eye(m.shape[0], dtype=bool)
    return float(np.abs(m - np.asarray(truth, float))[off].mean())


def _concat(a: Dataset, b: Dataset) -> Dataset:
    return Dataset(
        a.variables,
        np.concatenate([a.values, b.values]),
        np.concatenate([a.interventions, b.interventions]),
    )


def run_design_loop(
    truth: Theory,
    initial: Dataset,
    *,
    strategy: str = "eig",
    rounds: int = 10,
    n_per_round: int = 20,
    per_round: int = 1,
    repeats: bool = False,
    candidates: Sequence[str | tuple[str, Any]] | None = None,
    world_model: dict[str, Any] | None = None,
    n_outer: int = 64,
    max_theories: int = 300,
    value_sd: float = 1.0,
    parameters: str = "integrated",
    target: str | None = None,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Simulation study: learn, pick an experiment, run it on the true world, repeat.

    Parameters
    ----------
    truth
        The ground-truth theory (it only generates data; the world model never sees it).
    initial
        The starting data (for example observational rows from ``truth``).
    strategy
        ``"eig"`` (the recommendation of :func:`suggest`), ``"random"`` or ``"round_robin"``.
    rounds, n_per_round
        Number of rounds (one refit of the world model each) and interventional rows added per
        round.
    per_round
        Experiments per round, ``n_per_round / per_round`` rows each: ``"eig"`` picks them as a
        greedy batch (:func:`suggest` with ``batch=per_round``), ``"random"`` draws that many
        distinct variables, ``"round_robin"`` takes the next ones in order.
    repeats
        ``"eig"`` only: the greedy batch may pick an experiment more than once (``repeats`` of
        :func:`suggest`), so a round may put more of its rows into one experiment.
    candidates
        The experiments ``"eig"`` chooses from, in the forms :func:`suggest` takes (default:
        every variable, ``"X"``, values spread). ``"X=*"`` lets it choose the value too: the
        chosen ``do(X=x)`` sets all ``n_per_round`` rows to x. ``"random"`` and
        ``"round_robin"`` choose among the variables the candidates name (random: uniformly;
        round-robin: in order) and always spread the values, as ``"X"`` does.
    world_model
        Keyword arguments of :class:`scientist.WorldModel` used at every round.
    n_outer, max_theories, value_sd, parameters, target
        Passed to :func:`suggest` (``"eig"`` only).

    Returns
    -------
    list of dict
        One entry per round (0 = before any experiment): ``round``, ``experiment`` (the
        variable intervened on after this round's fit; None in the last), ``value`` (its value,
        or None when spread), ``experiments`` (every ``(variable, value)`` of the round), ``edge_error`` (mean absolute error of the edge marginals),
        ``shd`` (of the most probable theory) and ``n_rows``.
    """
    from scientist.world import WorldModel

    if strategy not in ("eig", "random", "round_robin"):
        raise InputError(
            f"strategy={strategy!r} is invalid: expected 'eig', 'random' or 'round_robin'."
        )
    if isinstance(candidates, str):
        raise InputError(
            f"candidates={candidates!r} is a string: pass a list such as {candidates.split(',')!r}."
        )
    options = list(candidates) if candidates is not None else list(truth.names)
    parsed = list(dict.fromkeys(p for c in options for p in _candidate(truth.variables, c)))
    if not parsed:
        raise InputError("candidates is empty: name at least one variable to intervene on.")
    names = list(dict.fromkeys(truth.names[j] for j, _ in parsed))  # random, round-robin
    for name, v in (("rounds", rounds), ("n_per_round", n_per_round), ("per_round", per_round)):
        if not isinstance(v, int | np.integer) or v < 1:
            raise InputError(f"{name}={v!r} is invalid: expected a positive integer.")
    if n_per_round % per_round:
        raise InputError(
            f"per_round={per_round} does not divide n_per_round={n_per_round}: the rows of a"
            " round are split evenly between its experiments."
        )
    pool = len(parsed) if strategy == "eig" else len(names)
    if per_round > pool and not (strategy == "eig" and repeats):
        raise InputError(
            f"per_round={per_round} is larger than the {pool} candidate experiments of"
            f" strategy={strategy!r}."
        )
    n_each = n_per_round // per_round
    rng = np.random.default_rng(seed)
    params = {"sampler": "order_mcmc", "n_samples": 1000, "n_chains": 2, **(world_model or {})}
    data = initial
    history: list[dict[str, Any]] = []
    for r in range(rounds + 1):
        post = WorldModel(seed=seed + r, **params).fit(data).posterior_
        entry: dict[str, Any] = {
            "round": r,
            "edge_error": edge_error(post, truth.adjacency),
            "shd": structural_hamming_distance(post.adjacency(0), truth.adjacency),
            "n_rows": data.n_rows,
            "experiment": None,
            "value": None,
            "experiments": [],
        }
        history.append(entry)
        if r == rounds:
            break
        if strategy == "eig":
            ranked = suggest(
                post,
                options,
                n_samples=n_each,
                batch=per_round,
                repeats=repeats,
                n_outer=n_outer,
                max_theories=max_theories,
                value_sd=value_sd,
                parameters=parameters,
                target=target,
                seed=seed * 1000 + r,
            )
            chosen = [(e.variable, e.value) for e in ranked[:per_round]]
        elif strategy == "random" and per_round == 1:
            chosen = [(names[int(rng.integers(len(names)))], None)]
        elif strategy == "random":
            picks = rng.choice(len(names), size=per_round, replace=False)
            chosen = [(names[int(i)], None) for i in picks]
        else:
            chosen = [(names[(r * per_round + i) % len(names)], None) for i in range(per_round)]
        entry["experiment"], entry["value"] = chosen[0]
        entry["experiments"] = chosen
        for name, value in chosen:
            var = truth.variables[truth.names.index(name)]
            vals = _values(var, value, n_each, rng, value_sd)
            for v in dict.fromkeys(vals):
                count = sum(1 for w in vals if w == v)
                data = _concat(data, truth.sample(count, rng, do={name: v}))
    return history
