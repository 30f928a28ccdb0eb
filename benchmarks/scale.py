"""Scale-out on Ray: sampler chains as Ray tasks, and the guard service on Ray Serve replicas.

Chains. Order MCMC on alarm (37 nodes, BDeu, ``--rows`` rows sampled from the bundled alarm
network with seed 0, in-degree at most 3: with 4 the family table would hold 2.47 million
candidate families, over the 2 million limit). The family table is scored once; then the same
``--chains`` chains (seeds spawned from ``--seed``) run three ways:

* ``local``: the default executor, all chains advanced together in one vectorised batch;
* ``local, one chain at a time``: each chain alone in this process, one after the other (the
  work one Ray task does, done sequentially);
* ``ray``: ``executor=RayExecutor()`` on a local Ray instance with ``--workers`` CPUs, one task
  per chain, the family table shipped once through the object store.

Each run's samples become a rescored posterior; the table says whether its fingerprint (masks
and weights) equals the local run's, and gives the wall time of each, the largest R-hat, and
Ray's own overheads measured here: ``ray.init``, the round trip of an empty task, ``ray.put``
of the family table, and the first task's worker start-up. ``docs/scaling.md`` builds its
16-node estimate from these numbers.

Service. The posterior and the 32 decisions of ``benchmarks/service_load.py`` (1,000 asia
theories, harm ``dysp=yes``) served by ``scientist serve --ray`` with 1 and 2 replicas (and,
for reference, by ``scientist serve`` with 1 and 2 uvicorn workers, inference in the worker):
``--clients`` concurrent clients send decisions back to back for ``--seconds`` seconds (after
a warm-up) and the table gives completed decisions per second, with the verdict cache on (a
repeated request skips the inference but is audited) and off (every request runs the
inference over the 1,000 theories). The clients run in this process, on the same machine.

Usage::

    python benchmarks/scale.py [--rows 10000] [--samples 1000] [--thin 5] [--chains 4]
                               [--workers 2] [--seconds 15] [--clients 8]
                               [--skip-chains] [--skip-serve] [--json OUT]

Prints Markdown tables (the numbers in ``docs/results.md`` come from this command).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import pickle
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from scientist import Posterior, RayExecutor, datasets
from scientist.priors import make_prior
from scientist.samplers.diagnostics import edge_rhat
from scientist.samplers.driver import run_chains
from scientist.scores import make_score
from scientist.scores.table import FamilyTable
from scientist.service import ray_serve
from scientist.service.auth import KeyStore
from scientist.service.testing import free_port, running_server

_spec = importlib.util.spec_from_file_location(
    "service_load", Path(__file__).with_name("service_load.py")
)
assert _spec is not None and _spec.loader is not None
load = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(load)


# ------------------------------------------------------------------ chains
def start_ray(ray: Any, workers: int) -> None:
    """One local Ray instance for the whole script (a second ``ray.init`` is not measured)."""
    if not ray.is_initialized():
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)


def ray_overheads(ray: Any, table: FamilyTable, workers: int) -> dict[str, float]:
    """``ray.init``, an empty task's round trip, ``ray.put`` of the table, worker start-up."""
    start = time.perf_counter()
    start_ray(ray, workers)
    out = {"init_s": time.perf_counter() - start}

    @ray.remote(num_cpus=1)
    def noop(x: Any) -> Any:
        return x

    start = time.perf_counter()
    ray.get([noop.remote(i) for i in range(workers)])
    out["first_tasks_s"] = time.perf_counter() - start  # worker processes start here
    n = 200
    start = time.perf_counter()
    for i in range(n):
        ray.get(noop.remote(i))
    out["task_round_trip_ms"] = (time.perf_counter() - start) / n * 1e3
    start = time.perf_counter()
    ray.get([noop.remote(i) for i in range(n)])
    out["task_throughput_per_s"] = n / (time.perf_counter() - start)
    start = time.perf_counter()
    ref = ray.put(table)
    out["put_table_s"] = time.perf_counter() - start
    start = time.perf_counter()
    ray.get(noop.remote([ref]))
    out["get_table_in_task_s"] = time.perf_counter() - start
    del ref
    return out


def posterior_of(data: Any, samples: np.ndarray, table: FamilyTable, scorer: Any) -> Posterior:
    return Posterior.from_samples(
        data.variables, samples, table.graph_scores, weighting="rescored", scorer=scorer
    )


def bench_chains_local(args: argparse.Namespace) -> dict[str, Any]:
    """Score the family table once; run the chains in one batch, then one at a time."""
    data = datasets.load_network("alarm").sample(args.rows, rng=0)
    start = time.perf_counter()
    scorer = make_score("bdeu").fit(data)
    table = FamilyTable(scorer, make_prior("uniform"), max_parents=3)
    score_s = time.perf_counter() - start
    print(
        f"alarm: {data.n_rows} rows, {table.n_candidates:,} candidate families scored in "
        f"{score_s:.1f} s",
        file=sys.stderr,
    )
    seeds = np.random.SeedSequence(args.seed).spawn(args.chains)
    kw = dict(n_samples=args.samples, burn_in=args.samples * args.thin // 4, thin=args.thin)
    runs: dict[str, Any] = {}
    start = time.perf_counter()
    local = run_chains("order_mcmc", table, seeds=seeds, **kw)
    runs["local (one batch)"] = (time.perf_counter() - start, local.samples)
    print(f"local batch: {runs['local (one batch)'][0]:.1f} s", file=sys.stderr)
    start = time.perf_counter()
    alone = [run_chains("order_mcmc", table, seeds=[s], **kw).samples for s in seeds]
    per_chain = (time.perf_counter() - start) / len(seeds)
    runs["local, one chain at a time"] = (per_chain * len(seeds), np.concatenate(alone))
    print(f"local one at a time: {per_chain * len(seeds):.1f} s", file=sys.stderr)
    steps = kw["burn_in"] + args.samples * args.thin
    return {
        "data": data,
        "scorer": scorer,
        "table": table,
        "seeds": seeds,
        "kw": kw,
        "runs": runs,
        "score_s": score_s,
        "candidates": table.n_candidates,
        "steps_per_chain": steps,
        "chain_s": per_chain,
        "step_ms": per_chain / steps * 1e3,
    }


def bench_chains_ray(res: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The same chains on Ray; every run's posterior compared with the local batch's."""
    import ray

    data, scorer, table = res.pop("data"), res.pop("scorer"), res.pop("table")
    res["table_mb"] = len(pickle.dumps(table)) / 1e6
    res["overheads"] = ray_overheads(ray, table, args.workers)
    print(f"ray overheads: {res['overheads']}", file=sys.stderr)
    runs = res.pop("runs")
    start = time.perf_counter()
    remote = run_chains(
        "order_mcmc", table, seeds=res.pop("seeds"), executor=RayExecutor(), **res.pop("kw")
    )
    runs[f"ray ({args.workers} workers, one task per chain)"] = (
        time.perf_counter() - start,
        remote.samples,
    )
    local_samples = runs["local (one batch)"][1]
    reference = posterior_of(data, local_samples, table, scorer).fingerprint()
    base = runs["local (one batch)"][0]
    res["rows"] = []
    for name, (wall, samples) in runs.items():
        post = posterior_of(data, samples, table, scorer)
        rhat = edge_rhat(samples)
        res["rows"].append(
            {
                "run": name,
                "wall_s": wall,
                "speedup": base / wall,
                "theories": post.n_theories,
                "max_rhat": float(np.nanmax(rhat[np.isfinite(rhat)])),
                "fingerprint": post.fingerprint(),
                "identical": post.fingerprint() == reference,
            }
        )
    return res


def chains_table(res: dict[str, Any], args: argparse.Namespace) -> str:
    out = [
        f"Order MCMC on alarm (37 nodes, BDeu, {args.rows:,} rows, in-degree <= 3, "
        f"{res['candidates']:,} candidate families scored once in {res['score_s']:.0f} s), "
        f"{args.chains} chains of {res['steps_per_chain']:,} steps ({args.samples:,} DAGs each, "
        f"thin {args.thin}); one chain alone: {res['step_ms']:.2f} ms a step.",
        "",
        "| run | wall (s) | speed-up vs local | distinct DAGs | max R-hat | posterior = local |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in res["rows"]:
        out.append(
            f"| {r['run']} | {r['wall_s']:.1f} | {r['speedup']:.2f}x | {r['theories']:,} | "
            f"{r['max_rhat']:.2f} | {'yes' if r['identical'] else 'NO'} ({r['fingerprint']}) |"
        )
    o = res["overheads"]
    out += [
        "",
        "| Ray overhead (local instance) | measured |",
        "| --- | ---: |",
        f"| `ray.init(num_cpus={args.workers})` | {o['init_s']:.1f} s |",
        f"| first {args.workers} tasks (worker processes start) | {o['first_tasks_s']:.2f} s |",
        f"| empty task, round trip | {o['task_round_trip_ms']:.2f} ms |",
        f"| empty tasks, throughput | {o['task_throughput_per_s']:.0f} /s |",
        f"| `ray.put` of the family table | {o['put_table_s'] * 1e3:.0f} ms |",
        f"| a task reading the family table | {o['get_table_in_task_s'] * 1e3:.0f} ms |",
    ]
    return "\n".join(out)


# ------------------------------------------------------------------ service
async def closed_loop(url: str, token: str, bodies: list[bytes], clients: int, seconds: float):
    """``clients`` loops that each send a decision as soon as the last one is answered."""
    done, errors = 0, 0
    stop = time.perf_counter() + seconds

    async def one(k: int) -> None:
        nonlocal done, errors
        client = load.LoadClient(url, token)
        i = k
        while time.perf_counter() < stop:
            status = await client.post(bodies[i % len(bodies)])
            i += clients
            if status == 200:
                done += 1
            else:
                errors += 1
        await client.close()

    start = time.perf_counter()
    await asyncio.gather(*(one(k) for k in range(clients)))
    return done / (time.perf_counter() - start), errors


def measure(url: str, token: str, bodies: list[bytes], args: argparse.Namespace) -> float:
    asyncio.run(closed_loop(url, token, bodies, args.clients, 3.0))  # warm-up
    rate, errors = asyncio.run(closed_loop(url, token, bodies, args.clients, args.seconds))
    if errors:
        raise SystemExit(f"{errors} requests failed at {url}")
    return rate


def serve_setup(args: argparse.Namespace) -> dict[str, Any]:
    """The posterior, spec, request bodies, and one audit store and key per cache setting."""
    tmp = Path(tempfile.mkdtemp(prefix="scientist-scale-"))
    post_path, spec_path = tmp / "bench.npz", tmp / "harms.yaml"
    post = load.build_posterior(1000, post_path)
    spec_path.write_text(load.SPEC)
    stores = {}
    for cache in (4096, 0):
        db = f"sqlite:///{tmp / f'audit-{cache}.db'}"
        stores[cache] = (db, KeyStore(db).create(["decide"])[1])
    return {
        "tmp": tmp,
        "post": post_path,
        "spec": spec_path,
        "bodies": [json.dumps(b).encode() for b in load.requests(post)],
        "stores": stores,
    }


def bench_uvicorn(setup: dict[str, Any], args: argparse.Namespace) -> list[dict[str, Any]]:
    """``scientist serve --workers 1|2 --inference-processes 0`` (no Ray), for reference."""
    rows = []
    for cache, (db, token) in setup["stores"].items():
        for workers in (1, 2):
            log = setup["tmp"] / f"uvicorn-{cache}-{workers}.log"
            serve = load.serve_args(setup["post"], setup["spec"], db, workers, cache, 0)
            with running_server(serve, log=log, start_timeout=120, stop_timeout=60) as server:
                rate = measure(server.url, token, setup["bodies"], args)
            rows.append({"server": f"uvicorn, {workers} worker(s)", "cache": cache, "rate": rate})
            print(rows[-1], file=sys.stderr)
    return rows


def bench_serve(setup: dict[str, Any], args: argparse.Namespace) -> list[dict[str, Any]]:
    """The same service on Ray Serve with 1 and 2 replicas."""
    import ray

    start_ray(ray, args.workers)
    rows = []
    for cache, (db, token) in setup["stores"].items():
        config = {
            "posteriors": {"bench": str(setup["post"])},
            "specs": {"bench": str(setup["spec"])},
            "db": db,
            "threshold": 0.3,
            "rule": "prop45",
            "alpha": 0.01,
            "cache_size": cache,
            "max_body": 64 * 1024,
        }
        for replicas in (1, 2):
            url = ray_serve.deploy(config, replicas=replicas, port=free_port())
            try:
                rate = measure(url, token, setup["bodies"], args)
            finally:
                ray_serve.shutdown()
            rows.append(
                {"server": f"Ray Serve, {replicas} replica(s)", "cache": cache, "rate": rate}
            )
            print(rows[-1], file=sys.stderr)
    return rows


def serve_table(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    out = [
        f"Guard decisions per second, {args.clients} closed-loop clients for {args.seconds:g} s, "
        "1,000 asia theories, 32 distinct decisions, SQLite audit store.",
        "",
        "| server | decisions/s, verdict cache on | decisions/s, cache off (inference every time) |",
        "| --- | ---: | ---: |",
    ]
    for name in dict.fromkeys(r["server"] for r in rows):
        on = next(r["rate"] for r in rows if r["server"] == name and r["cache"])
        off = next(r["rate"] for r in rows if r["server"] == name and not r["cache"])
        out.append(f"| {name} | {on:.0f} | {off:.1f} |")
    return "\n".join(out)


# ------------------------------------------------------------------ 16-node estimate
BANDWIDTH_GB_S = 1.25  # assumed: 10 Gb/s between nodes (not measured: one machine here)


def chains_estimate(res: dict[str, Any], args: argparse.Namespace, nodes: int = 16) -> str:
    """Wall time of a fit with C chains, from the measured costs (see docs/scaling.md).

    ``local``: ``score + C * b * chain`` (one process, one vectorised batch; ``b`` is the
    measured cost of a chain in the batch relative to a chain alone). ``ray``: ``score + put +
    nodes * table / bandwidth + worker start + ceil(C / slots) * chain + C * task``, with
    ``slots = nodes * cores`` concurrent tasks.
    """
    o = res["overheads"]
    chain = res["chain_s"]
    b = res["rows"][0]["wall_s"] / (args.chains * chain)  # the local batch, first row
    score = res["score_s"]
    cores = args.workers
    fixed = o["put_table_s"] + o["first_tasks_s"] + o["get_table_in_task_s"]

    def ray_chains(c: int, n: int) -> float:
        transfer = n * res["table_mb"] / (BANDWIDTH_GB_S * 1e3) if n > 1 else 0.0
        return fixed + transfer + -(-c // (n * cores)) * chain + c * o["task_round_trip_ms"] / 1e3

    measured = next(r["wall_s"] for r in res["rows"] if r["run"].startswith("ray"))
    out = [
        f"Inputs (measured above): scoring {score:.0f} s; one chain alone {chain:.1f} s; a chain "
        f"in the local batch {b:.2f} of that; table {res['table_mb']:.1f} MB; Ray: put "
        f"{o['put_table_s'] * 1e3:.0f} ms, worker start {o['first_tasks_s']:.2f} s, task "
        f"{o['task_round_trip_ms']:.1f} ms; assumed {BANDWIDTH_GB_S:g} GB/s between nodes. "
        f"Check of the model on this machine ({args.chains} chains, 1 node x {cores} cores): "
        f"{ray_chains(args.chains, 1):.0f} s predicted, {measured:.0f} s measured.",
        "",
        f"| chains | local, 1 process: chains (s) | Ray, {nodes} nodes x {cores} cores: chains "
        f"(s) | speed-up, chains | whole fit local (s) | whole fit Ray (s) | speed-up, fit |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c in (4, 32, 128, 512):
        local = c * b * chain
        ray = ray_chains(c, nodes)
        out.append(
            f"| {c} | {local:,.0f} | {ray:,.1f} | {local / ray:.0f}x | {score + local:,.0f} | "
            f"{score + ray:,.0f} | {(score + local) / (score + ray):.1f}x |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--samples", type=int, default=1000, help="DAGs kept per chain")
    ap.add_argument("--thin", type=int, default=5)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2, help="CPUs of the local Ray instance")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--skip-chains", action="store_true")
    ap.add_argument("--skip-serve", action="store_true")
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--estimate-from", type=Path, help="print the tables and estimate of a saved --json run"
    )
    args = ap.parse_args(argv)
    if args.estimate_from:
        saved = json.loads(args.estimate_from.read_text())
        args = argparse.Namespace(**{**saved["args"], "json": None})
        print(chains_table(saved["chains"], args), "\n")
        print(chains_estimate(saved["chains"], args), "\n")
        print(serve_table(saved["serve"], args))
        return
    import ray

    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, Ray {ray.__version__}\n"
    )
    result: dict[str, Any] = {"args": vars(args) | {"json": str(args.json)}}
    # everything without Ray first, then one Ray instance for the rest
    chains = None if args.skip_chains else bench_chains_local(args)
    setup = None if args.skip_serve else serve_setup(args)
    serve_rows = [] if setup is None else bench_uvicorn(setup, args)
    if chains is not None:
        result["chains"] = bench_chains_ray(chains, args)
        print(chains_table(result["chains"], args), "\n", flush=True)
        print(chains_estimate(result["chains"], args), "\n", flush=True)
    if setup is not None:
        result["serve"] = serve_rows + bench_serve(setup, args)
        print(serve_table(result["serve"], args), flush=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=float))


if __name__ == "__main__":
    main()
