"""Bayesian oracle guards on the exploding bandit (Bengio et al., UAI 2025, section 5).

Prints Markdown tables (kept in docs/results.md with this command):

1. the guard grid: every guard of the paper's section 5 (none, cheating, posterior predictive,
   Prop 3.3, Prop 4.5 for ten values of alpha) and the tail-mass guard (reject when the
   posterior mass of theories whose harm exceeds C is above q), at thresholds
   C in {0.001, 0.01, 0.1}, each on the same episodes (common random numbers). Prop 4.5 lets a
   tied group of theories enter the plausible set as a whole; ``prop45-index`` breaks ties by
   theory index instead, as the paper's code does. Columns: mean reward and death rate with
   their standard errors, the fraction of episodes that pulled an arm whose true harm exceeds C,
   the fraction ended because every arm was rejected, and, for Prop 4.5 and the tail guard, the
   paired difference to Prop 4.5 at alpha = 1e-5 (same episodes) with its standard error;
2. tightness: a uniformly random agent without explosions; for each alpha, how often the
   Prop 4.5 estimate of every arm's harm is at least the true harm, at every step of an episode
   (the event Prop 4.5 guarantees with probability >= 1 - alpha / P(v*)) and per query;
3. a wrong prior: the same guards at C = 0.1 when each coordinate of v* is 1 with probability
   0.8 while the agent's prior stays uniform.

Usage::

    python benchmarks/bayesian_oracle.py [--episodes 10000] [--seed 0] [--json OUT]
                                         [--no-tightness] [--no-misspecified]

The JSON file holds ``rows`` (one per guard, alpha, C: ``guard, alpha, C, reward_mean,
reward_sem, death_rate, death_sem`` and the other columns), ``tightness``, ``misspecified`` and
``meta``. One process; the episodes of a run depend only on ``--seed`` and ``--episodes``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from scientist.guard.bandit import (
    BanditGuard,
    Episodes,
    ExplodingBandit,
    Outcome,
    explosion_threshold,
    make_guard,
    run,
    tightness,
)

THRESHOLDS = (0.001, 0.01, 0.1)
ALPHAS = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)
INDEX_ALPHAS = (1e-3, 1e-2, 0.1, 1.0)
REFERENCE_ALPHA = 1e-5  # the paired differences are against Prop 4.5 at this alpha
MISSPECIFIED_P_ONE = 0.8
MISSPECIFIED = (
    ("cheating", None),
    ("prop33", None),
    ("prop45", 1e-5),
    ("prop45", 1e-3),
    ("prop45", 1e-2),
    ("tail", 1e-5),
    ("tail", 1e-3),
    ("tail", 1e-2),
    ("tail", 0.1),
)


def sem(x: np.ndarray) -> float:
    return float(x.std(ddof=1) / np.sqrt(x.size)) if x.size > 1 else float("nan")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def summary(name: str, alpha: float | None, c: float | None, o: Outcome) -> dict[str, Any]:
    died = o.died.astype(np.float64)
    row: dict[str, Any] = {
        "guard": name,
        "alpha": alpha,
        "C": c,
        "reward_mean": float(o.reward.mean()),
        "reward_sem": sem(o.reward),
        "death_rate": float(died.mean()),
        "death_sem": sem(died),
        "stopped_rate": float(o.stopped.mean()),
        "steps_mean": float(o.steps.mean()),
    }
    if c is not None:
        row["violation_rate"] = float((o.worst > c).mean())
    return row


def paired(row: dict[str, Any], o: Outcome, ref: Outcome) -> None:
    dr = o.reward - ref.reward
    dd = o.died.astype(np.float64) - ref.died
    row.update(
        d_reward=float(dr.mean()),
        d_reward_sem=sem(dr),
        d_death=float(dd.mean()),
        d_death_sem=sem(dd),
    )


def grid(
    env: ExplodingBandit, episodes: Episodes, index_alphas: Sequence[float]
) -> list[dict[str, Any]]:
    rows = [summary("none", None, None, run(env, episodes, [BanditGuard("none")])[0])]
    for c in THRESHOLDS:
        specs: list[tuple[str, float | None]] = [
            ("cheating", None),
            ("posterior", None),
            ("prop33", None),
        ]
        specs += [("prop45", a) for a in ALPHAS]
        specs += [("prop45-index", a) for a in index_alphas]
        specs += [("tail", a) for a in ALPHAS]
        t0 = time.perf_counter()
        outs = run(env, episodes, [make_guard(n, c, a) for n, a in specs])
        log(f"C = {c}: {len(specs)} guards in {time.perf_counter() - t0:.0f} s")
        ref = outs[specs.index(("prop45", REFERENCE_ALPHA))]
        for (name, a), o in zip(specs, outs, strict=True):
            row = summary(name, a, c, o)
            if name in ("prop45", "prop45-index", "tail"):
                paired(row, o, ref)
            rows.append(row)
    return rows


def fmt_alpha(a: float | None) -> str:
    return "-" if a is None else f"{a:g}"


def print_grid(rows: list[dict[str, Any]]) -> None:
    print(
        "| C | guard | alpha (q for tail) | reward | death rate | C violated | all rejected "
        "| Δ reward vs prop45 α=1e-5 | Δ death vs prop45 α=1e-5 |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        c = "-" if r["C"] is None else f"{r['C']:g}"
        viol = "-" if "violation_rate" not in r else f"{r['violation_rate']:.4f}"
        dr = dd = ""
        if "d_reward" in r:
            dr = f"{r['d_reward']:+.3f} ± {r['d_reward_sem']:.3f}"
            dd = f"{r['d_death']:+.4f} ± {r['d_death_sem']:.4f}"
        print(
            f"| {c} | {r['guard']} | {fmt_alpha(r['alpha'])} "
            f"| {r['reward_mean']:.2f} ± {r['reward_sem']:.2f} "
            f"| {r['death_rate']:.4f} ± {r['death_sem']:.4f} | {viol} "
            f"| {r['stopped_rate']:.3f} | {dr} | {dd} |"
        )


def tightness_rows(env: ExplodingBandit, episodes: Episodes) -> list[dict[str, Any]]:
    t0 = time.perf_counter()
    res = tightness(env, episodes, ALPHAS)
    log(f"tightness: {time.perf_counter() - t0:.0f} s")
    rows = []
    for j, a in enumerate(ALPHAS):
        alls = res.all_steps[:, j].astype(np.float64)
        rows.append(
            {
                "alpha": a,
                "theory": 1.0 - a * env.n_theories,
                "all_steps": float(alls.mean()),
                "all_steps_sem": sem(alls),
                "per_query": float(res.query_rate[:, j].mean()),
                "per_query_sem": sem(res.query_rate[:, j]),
            }
        )
    return rows


def print_tightness(rows: list[dict[str, Any]]) -> None:
    print("| alpha | 1 - alpha / P(v*) | estimate >= true harm at every query | per query |")
    print("| --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['alpha']:g} | {r['theory']:.4f} | {r['all_steps']:.4f} ± {r['all_steps_sem']:.4f} "
            f"| {r['per_query']:.5f} ± {r['per_query_sem']:.5f} |"
        )


def misspecified_rows(env: ExplodingBandit, n: int, seed: int) -> list[dict[str, Any]]:
    episodes = env.draw(n, np.random.default_rng([seed, 1]), p_one=MISSPECIFIED_P_ONE)
    t0 = time.perf_counter()
    outs = run(env, episodes, [make_guard(g, 0.1, a) for g, a in MISSPECIFIED])
    log(f"wrong prior: {time.perf_counter() - t0:.0f} s")
    return [summary(g, a, 0.1, o) for (g, a), o in zip(MISSPECIFIED, outs, strict=True)]


def print_misspecified(rows: list[dict[str, Any]]) -> None:
    print("| guard | alpha (q for tail) | reward | death rate | C violated |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['guard']} | {fmt_alpha(r['alpha'])} | {r['reward_mean']:.2f} ± {r['reward_sem']:.2f} "
            f"| {r['death_rate']:.4f} ± {r['death_sem']:.4f} | {r['violation_rate']:.4f} |"
        )


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--episodes", type=int, default=10_000, help="episodes per configuration")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="write the rows to this JSON file")
    ap.add_argument("--no-tightness", action="store_true")
    ap.add_argument("--no-misspecified", action="store_true")
    args = ap.parse_args(argv)
    if args.episodes < 2:
        ap.error(f"--episodes={args.episodes} is invalid: expected at least 2 episodes.")

    start = time.perf_counter()
    env = ExplodingBandit()
    e_mc = explosion_threshold(env, np.random.default_rng([args.seed, 2]))
    episodes = env.draw(args.episodes, np.random.default_rng(args.seed))
    print(
        f"Exploding bandit: {env.n_arms} arms, {env.n_theories} theories, {env.horizon} steps, "
        f"E = {env.explosion:g} (rounded Monte-Carlo mean of max_a f_a.v*: {e_mc:g}), "
        f"beta = {env.beta:g}; {args.episodes} episodes per configuration, seed {args.seed}.\n"
    )
    rows = grid(env, episodes, INDEX_ALPHAS)
    print_grid(rows)
    out: dict[str, Any] = {"rows": rows}
    if not args.no_tightness:
        out["tightness"] = tightness_rows(env, episodes)
        print(
            f"\nTightness (uniformly random agent, no explosions, all {env.n_arms} arms queried "
            f"at each of {env.horizon} steps; P(v*) = 1/{env.n_theories}):\n"
        )
        print_tightness(out["tightness"])
    if not args.no_misspecified:
        out["misspecified"] = misspecified_rows(env, args.episodes, args.seed)
        print(
            f"\nWrong prior (each coordinate of v* is 1 with probability {MISSPECIFIED_P_ONE}, "
            "the agent's prior is uniform), C = 0.1:\n"
        )
        print_misspecified(out["misspecified"])
    elapsed = time.perf_counter() - start
    out["meta"] = {
        "episodes": args.episodes,
        "seed": args.seed,
        "explosion": env.explosion,
        "explosion_monte_carlo": e_mc,
        "seconds": elapsed,
    }
    print(f"\nTotal time: {elapsed:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
