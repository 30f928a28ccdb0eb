"""Does choosing experiments by expected information gain teach the world model faster?

Prints one Markdown table (kept in docs/results.md with this command). Two ground truths: the
bundled discrete sachs network (11 nodes, BDeu) and a random d = 10 linear-Gaussian graph
(expected 15 edges, weights +-U(0.5, 2), noise sd 1, BGe; interventions draw values from
N(0, 2^2)). Start from 50 observational rows; 10 rounds of 20 interventional rows each; the
intervened variable chosen by expected information gain (``scientist.design.suggest``), at
random, or round-robin. The gain is about the DAG with the parameters integrated out (each
hypothesis scores a simulated outcome by its posterior predictive, the score's own update);
``--parameters mean`` gives the earlier plug-in gain, ``--target edges`` the gain about each
edge. By default every strategy runs its experiment the same way (20 rows, values spread
uniformly over the states or drawn from N(0, 2^2)) and refits the same world model.
``--values both`` lets EIG on sachs also choose ``do(X=x)`` for one state x (all the
experiment's rows at x; candidates ``X`` and ``X=*``); ``--per-round k`` lets EIG split a
round's 20 rows over a greedy batch of k experiments (``--baseline-per-round k``: random and
round-robin over k distinct variables); with ``--strategies eig,eig_repeats,...`` the batch may
also pick an experiment more than once (``repeats=True``). Random and round-robin always spread
the values. After every round: the
mean absolute error of the edge marginals and the SHD of the most probable theory, averaged over
seeds. Target: EIG reaches random's final (round-10) error in at most half the rounds.

Usage::

    python benchmarks/experiment_design.py [--seeds 10] [--rounds 10] [--target edges] [--jobs 2]
        [--truths sachs,gaussian] [--values spread|each|both] [--per-round 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

import numpy as np

from scientist import Theory, datasets
from scientist.design import run_design_loop


def gaussian_truth(seed: int) -> Theory:
    rng = np.random.default_rng(seed)
    d = 10
    perm = rng.permutation(d)
    w = np.zeros((d, d))
    for a in range(d):
        for b in range(a + 1, d):
            if rng.random() < 15 / 45:
                w[perm[a], perm[b]] = rng.choice([-1, 1]) * rng.uniform(0.5, 2.0)
    return Theory.linear_gaussian([f"X{i}" for i in range(d)], w, noise_sd=1.0)


SETTINGS = ("sachs (discrete, BDeu)", "d=10 linear-Gaussian (BGe)")
STRATEGIES = ("eig", "random", "round_robin")


def run_one(
    label: str,
    strategy: str,
    seed: int,
    rounds: int,
    parameters: str,
    target: str,
    n_outer: int = 64,
    max_theories: int = 300,
    values: str = "spread",
    per_round: int = 1,
    baseline_per_round: int = 1,
) -> tuple[list[float], list[int]]:
    """One simulation study: edge-marginal error and SHD after every round."""
    if label == SETTINGS[0]:
        truth, wm, sd = datasets.load_network("sachs"), {}, 1.0
        candidates = {
            "spread": truth.names,
            "each": [f"{n}=*" for n in truth.names],
            "both": [*truth.names, *(f"{n}=*" for n in truth.names)],
        }[values]
    else:  # continuous: values always drawn from N(0, 2^2)
        truth, wm, sd = gaussian_truth(100 + seed), {"score": "bge"}, 2.0
        candidates = truth.names
    eig = strategy.startswith("eig")
    hist = run_design_loop(
        truth,
        truth.sample(50, rng=np.random.default_rng(seed)),
        strategy="eig" if eig else strategy,
        repeats=strategy == "eig_repeats",
        rounds=rounds,
        n_per_round=20,
        world_model=wm,
        value_sd=sd,
        seed=seed,
        parameters=parameters,
        target=None if target == "dag" else target,
        n_outer=n_outer,
        max_theories=max_theories,
        candidates=candidates,
        per_round=per_round if eig else baseline_per_round,
    )
    return [h["edge_error"] for h in hist], [h["shd"] for h in hist]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--parameters", choices=("integrated", "mean"), default="integrated")
    ap.add_argument("--target", choices=("dag", "edges"), default="dag")
    ap.add_argument("--jobs", type=int, default=1, help="Worker processes (same results).")
    ap.add_argument(
        "--strategies",
        default=",".join(STRATEGIES),
        help="Comma-separated: eig, eig_repeats (a batch may repeat an experiment), random,"
        " round_robin.",
    )
    ap.add_argument("--outer", type=int, default=64, help="EIG Monte-Carlo outcomes.")
    ap.add_argument("--theories", type=int, default=300, help="EIG hypotheses.")
    ap.add_argument(
        "--values",
        choices=("spread", "each", "both"),
        default="spread",
        help="sachs EIG candidates: do(X) with values spread over the states, do(X=x) for"
        " every state x, or both (random and round-robin always spread).",
    )
    ap.add_argument(
        "--per-round",
        type=int,
        default=1,
        help="EIG experiments per round (a greedy batch; the 20 rows are split evenly).",
    )
    ap.add_argument(
        "--baseline-per-round",
        type=int,
        default=1,
        help="Random and round-robin experiments per round (distinct variables).",
    )
    ap.add_argument("--truths", default="sachs,gaussian", help="Comma-separated: sachs, gaussian.")
    ap.add_argument("--save", default="", help="Write every run's errors and SHDs as JSON.")
    args = ap.parse_args()
    strategies = [s for s in args.strategies.split(",") if s]
    t_start = time.perf_counter()
    keys = {"sachs": SETTINGS[0], "gaussian": SETTINGS[1]}
    settings = [keys[t] for t in args.truths.split(",") if t]
    tasks = [(label, st, s) for label in settings for st in strategies for s in range(args.seeds)]
    extra = (
        args.rounds,
        args.parameters,
        args.target,
        args.outer,
        args.theories,
        args.values,
        args.per_round,
        args.baseline_per_round,
    )
    out: dict[tuple[str, str, int], tuple[list[float], list[int]]] = {}
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(run_one, *task, *extra): task for task in tasks}
        for future in as_completed(futures):
            label, strategy, s = futures[future]
            out[(label, strategy, s)] = future.result()
            print(f"[{label}] {strategy} seed {s + 1}/{args.seeds}", file=sys.stderr, flush=True)
    results: dict[tuple[str, str], np.ndarray] = {}
    shd: dict[tuple[str, str], np.ndarray] = {}
    for label in settings:
        for strategy in strategies:
            runs = [out[(label, strategy, s)] for s in range(args.seeds)]
            results[(label, strategy)] = np.array([r[0] for r in runs])
            shd[(label, strategy)] = np.array([r[1] for r in runs])
    rounds = list(range(0, args.rounds + 1, 2))
    print(
        f"\nEIG about the {args.target} with {args.parameters} parameters;"
        f" sachs EIG candidates: {args.values}; experiments per round: EIG {args.per_round},"
        f" random and round-robin {args.baseline_per_round}."
        f" {args.seeds} seeds; mean over seeds (± s.e.) of the edge-marginal mean absolute error after each round;"
        " SHD of the most probable theory after the last round.\n"
    )
    print(
        "| truth | strategy | "
        + " | ".join(f"round {r}" for r in rounds)
        + " | SHD final | rounds to reach random's final error |"
    )
    print("|---|---|" + "---:|" * (len(rounds) + 2))
    for (label, strategy), e in results.items():
        mean, se = (
            e.mean(0),
            e.std(0, ddof=1) / np.sqrt(e.shape[0]) if e.shape[0] > 1 else np.zeros(e.shape[1]),
        )
        reach: object = "n/a (random not run)"
        if (label, "random") in results:
            target = results[(label, "random")].mean(0)[-1]
            reach = next((r for r in range(e.shape[1]) if mean[r] <= target), "not reached")
        cells = " | ".join(f"{mean[r]:.3f} ± {se[r]:.3f}" for r in rounds)
        print(
            f"| {label} | {strategy} | {cells} | {shd[(label, strategy)][:, -1].mean():.1f} | "
            f"{reach} |"
        )
    if args.save:
        with open(args.save, "w") as f:
            json.dump([[*k, *v] for k, v in out.items()], f)
    print(f"\nTotal time {time.perf_counter() - t_start:.0f} s.")


if __name__ == "__main__":
    main()
