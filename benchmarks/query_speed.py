"""Speed of the inference machine: one query over 1,000 theories, against a pgmpy loop.

Prints one Markdown table (kept in docs/results.md with this command):

* alarm (37 nodes): 1,000 theories around the true network with point parameters: 10 DAGs (the
  truth with up to three edges removed and up to three acyclic edges added) x 100 CPT sets
  drawn from their BDeu posterior given 5,000 sampled rows. One
  ``P(BP=LOW | do(INTUBATION=ESOPHAGEAL), HYPOVOLEMIA=TRUE)`` over all of them with
  ``scientist.ask``, against a loop of pgmpy ``VariableElimination`` over the same 1,000
  mutilated networks (models built before the clock starts); answers compared. Target: >= 100x
  faster than the pgmpy loop. A second row uses 1,000 distinct DAGs (posterior-mean CPTs), the
  hardest case for batching.
* Sachs (d = 11): the 1,000 most probable linear-Gaussian theories of a BGe posterior; one
  ``E[p44/42 | do(pmek=1)]``. Target: < 50 ms.

Each time is measured as wall-clock time and as CPU time of this process (``time.process_time``);
on a busy shared machine the CPU-time ratio is the steadier of the two.

Usage::

    python benchmarks/query_speed.py [--repeat 6]
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from scientist import Posterior, WorldModel, ask, datasets
from scientist.graphs import is_dag, parent_masks
from scientist.scores import BDeu

QUERY = "P(BP=LOW | do(INTUBATION=ESOPHAGEAL), HYPOVOLEMIA=TRUE)"


def alarm_posterior(n_theories: int, seed: int) -> Posterior:
    truth = datasets.load_network("alarm")
    data = truth.sample(5000, rng=seed)
    scorer = BDeu().fit(data)
    rng = np.random.default_rng(seed)
    base = truth.adjacency
    d = base.shape[0]
    seen: set[bytes] = set()
    dags = []
    while len(dags) < n_theories:
        adj = base.copy()
        edges = np.argwhere(adj)
        for e in edges[rng.choice(len(edges), size=rng.integers(0, 4), replace=False)]:
            adj[e[0], e[1]] = False
        added = 0
        while added < rng.integers(0, 4):
            i, j = rng.choice(d, size=2, replace=False)
            if adj[i, j] or adj[j, i] or adj[:, j].sum() >= 4:
                continue
            adj[i, j] = True
            if not is_dag(adj):
                adj[i, j] = False
                continue
            added += 1
        key = adj.tobytes()
        if key not in seen:
            seen.add(key)
            dags.append(adj)
    masks = parent_masks(np.stack(dags))
    return Posterior(
        truth.variables,
        masks,
        np.zeros(len(dags)),
        weighting="empirical",
        scorer=scorer,
        counts=np.ones(len(dags), dtype=np.int64),
        info={"n_samples": len(dags)},
    )


def pgmpy_models(post: Posterior, do: dict[str, str]) -> list[object]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgmpy.factors.discrete import TabularCPD
        from pgmpy.inference import VariableElimination
        from pgmpy.models import DiscreteBayesianNetwork

        engines = []
        names = post.names
        for k in range(post.n_theories):
            theory = post.theory(k)
            model = DiscreteBayesianNetwork()
            model.add_nodes_from(names)
            cpds = []
            for j, fam in enumerate(theory.families):
                var = theory.variables[j]
                if var.name in do:
                    values = np.zeros((var.cardinality, 1))
                    values[list(var.states).index(do[var.name])] = 1.0
                    cpds.append(
                        TabularCPD(
                            var.name,
                            var.cardinality,
                            values,
                            state_names={var.name: list(var.states)},
                        )
                    )
                    continue
                for p in fam.parents:
                    model.add_edge(names[p], var.name)
                states = {names[p]: list(theory.variables[p].states) for p in fam.parents}
                states[var.name] = list(var.states)
                cpds.append(
                    TabularCPD(
                        var.name,
                        var.cardinality,
                        np.moveaxis(fam.cpt, -1, 0).reshape(var.cardinality, -1),
                        evidence=[names[p] for p in fam.parents] or None,
                        evidence_card=[theory.variables[p].cardinality for p in fam.parents]
                        or None,
                        state_names=states,
                    )
                )
            model.add_cpds(*cpds)
            engines.append(VariableElimination(model))
    return engines


def pgmpy_loop(engines: list[object]) -> np.ndarray:
    """The baseline: one pgmpy VariableElimination query per theory."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.array(
            [
                e.query(  # type: ignore[attr-defined]
                    ["BP"],
                    evidence={"HYPOVOLEMIA": "TRUE", "INTUBATION": "ESOPHAGEAL"},
                    show_progress=False,
                ).get_value(BP="LOW")
                for e in engines
            ]
        )


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """``fn()``, its wall-clock seconds and its CPU seconds."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=6)
    ap.add_argument("--theories", type=int, default=1000)
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    base = alarm_posterior(10, seed=0)
    per = args.theories // 10
    drawn = Posterior.from_theories(
        [base.theory(k).draw_parameters(rng) for k in range(10) for _ in range(per)]
    )
    rows = [
        (f"10 DAGs x {per} CPT draws", drawn),
        (f"{args.theories:,} distinct DAGs", alarm_posterior(args.theories, seed=1)),
    ]
    alarm_rows = []
    for label, post in rows:
        ours = [timed(lambda post=post: ask(post, QUERY, n_draws=0)) for _ in range(args.repeat)]
        answer = ours[-1][0]
        engines = pgmpy_models(post, {"INTUBATION": "ESOPHAGEAL"})
        theirs = [timed(lambda e=engines: pgmpy_loop(e)) for _ in range(max(1, args.repeat // 2))]
        ref = theirs[-1][0]
        got = np.empty(post.n_theories)
        got[answer.per_theory["theory"]] = answer.per_theory["value"]
        alarm_rows.append(
            (
                label,
                post.n_theories,
                ours[0][1],
                float(np.median([t[1] for t in ours[1:]])),
                float(np.median([t[2] for t in ours[1:]])),
                float(np.median([t[1] for t in theirs])),
                float(np.median([t[2] for t in theirs])),
                float(np.abs(got - ref).max()),
            )
        )

    sachs = datasets.load_sachs(standardize=True)
    wm = WorldModel(
        score="bge", sampler="order_mcmc", n_samples=10_000, n_chains=4, thin=5, seed=0
    ).fit(sachs)
    full = wm.posterior_
    k = min(1000, full.n_theories)
    top = Posterior(
        full.variables,
        full.masks[:k],
        full.log_weights[:k],
        weighting=full.weighting,
        scorer=full.scorer,
        info=full.info,
    )
    q2 = "E[p44/42 | do(pmek=1)]"
    times_g = [timed(lambda: ask(top, q2, n_draws=0)) for _ in range(args.repeat)]
    times_gd = [timed(lambda: ask(top, q2, n_draws=32)) for _ in range(args.repeat)]

    print(
        f"| workload | ours (median of {args.repeat - 1} repeat calls; CPU time) | baseline (median; CPU time) "
        "| ratio | ratio of CPU times | max abs difference | target |"
    )
    print("|---|---:|---:|---:|---:|---:|---|")
    for label, n, first, med, med_cpu, theirs, theirs_cpu, err in alarm_rows:
        print(
            f"| alarm, {n:,} theories ({label}), `{QUERY}` | {med * 1e3:.0f} ms; {med_cpu * 1e3:.0f} ms "
            f"(first call {first * 1e3:.0f} ms) | pgmpy VE loop {theirs:.2f} s; {theirs_cpu:.2f} s "
            f"| {theirs / med:.0f}x ({theirs / first:.0f}x first call) | {theirs_cpu / med_cpu:.0f}x "
            f"| {err:.1e} | >= 100x, equal to 1e-9 |"
        )
    for label, runs, target in (
        ("point parameters", times_g, "< 50 ms"),
        ("32 parameter draws each", times_gd, ""),
    ):
        wall = np.median([t[1] for t in runs]) * 1e3
        cpu = np.median([t[2] for t in runs]) * 1e3
        print(
            f"| Sachs, {k:,} linear-Gaussian theories, `{q2}`, {label} | {wall:.1f} ms; {cpu:.1f} ms "
            f"| | | | | {target} |"
        )


if __name__ == "__main__":
    main()
