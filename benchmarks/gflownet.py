"""DAG-GFlowNet (``scientist.samplers.gflownet``) against the exact posterior, order MCMC and
torchgfn.

Prints Markdown tables (kept in docs/results.md with the command):

* **d = 5**: the 20 linear-Gaussian datasets of ``posterior_accuracy.py`` (N = 100, BGe). Our
  sampler trains for ``--budget`` seconds per dataset; every ``--every`` steps the JSD of its
  *exact* terminating distribution (probability pushed through all 29,281 DAGs, no sampling
  noise) to the exact posterior is recorded against training time (evaluation time excluded).
  Order MCMC (4 chains, rescored estimate) runs with a ladder of sample sizes, and torchgfn's
  DAG-GFlowNet (``benchmarks/torchgfn_baseline.py``, its example's default settings) trains on
  the first ``--torchgfn`` datasets for ``--torchgfn-budget`` seconds. Each policy of
  ``--policies`` (child-parent, joint), with each target-network period of ``--target-every``
  (0: none), is trained on every dataset (and at d = 20). Reported: median JSD at
  fixed times, median time to JSD <= 0.02, final JSD and edge-marginal RMSE; a plot of the
  curves goes to ``docs/gflownet_d5.png``.
* **d = 20** (``--d20``): a linear-Gaussian graph with 2d expected edges, N = 100, BGe with at
  most 4 parents. Edge AUROC against the true graph of the GFlowNet trained for ``--d20-budget``
  seconds (10,000 draws) and of order MCMC run for the same time, and the mean log-reward of
  their draws; the time to draw 10,000 DAGs from each trained sampler on 1 and 2 threads
  (target <= 1 s).
* ``--device cuda``: the d = 5 part on the GPU (time to JSD <= 0.02), with the same datasets
  also trained on the CPU of that machine in the same run for the ratio.

Usage::

    python benchmarks/gflownet.py [--datasets 20] [--budget 60] [--torchgfn 3] [--d20]
    python benchmarks/gflownet.py --device cuda --datasets 10 --budget 20 --torchgfn 0
    python benchmarks/gflownet.py --d20-only --policies joint --target-every 0,1000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).parent))
from posterior_accuracy import estimates, gaussian_dataset, random_dag
from scientist import Theory, WorldModel
from scientist.priors import make_prior
from scientist.samplers.gflownet import GFlowNet, GFlowNetConfig
from scientist.scores import make_score
from scientist.scores.table import FamilyTable

TARGET = 0.02
TIMES = (5, 10, 30, 60, 120, 360)


def curve_value(curve: list[tuple[float, float]], t: float) -> float:
    """JSD of the last evaluation at or before time ``t`` (nan if none, or if ``t`` is past
    the end of the run)."""
    if not curve or t > curve[-1][0] * 1.05:
        return float("nan")
    before = [j for s, j in curve if s <= t]
    return before[-1] if before else float("nan")


def time_to(curve: list[tuple[float, float]], target: float = TARGET) -> float:
    """First time the curve is at or below ``target`` (inf if never)."""
    return next((s for s, j in curve if j <= target), float("inf"))


def variants(args: argparse.Namespace) -> list[tuple[str, GFlowNetConfig]]:
    """(name, config) of every GFlowNet compared: each policy of ``--policies`` with each
    target-network period of ``--target-every``."""
    out = []
    for policy in args.policies.split(","):
        for k in (int(v) for v in args.target_every.split(",")):
            name = f"{policy} policy" + (f", target net every {k:,} steps" if k else "")
            out.append((name, GFlowNetConfig(policy=policy, target_every=k)))
    return out


def gflownet_run(
    data, budget: float, every: int, device: str, seed: int, config: GFlowNetConfig
) -> dict:
    table = FamilyTable(make_score("bge").fit(data), make_prior("uniform"), None)
    gfn = GFlowNet(table, config, device=device, seed=seed)
    start_jsd = gfn.exact_jsd()
    gfn.train(budget, eval_every=every)
    curve = [(0.0, start_jsd)] + [(r["seconds"], r["jsd"]) for r in gfn.history]
    masks, p_t = gfn.terminating_distribution()
    exact = gfn.exact_posterior()[1]  # over the same DAGs, in the same order
    marg_g = np.stack([p_t @ ((masks >> i) & 1) for i in range(5)])
    marg_e = np.stack([exact @ ((masks >> i) & 1) for i in range(5)])
    off = ~np.eye(5, dtype=bool)
    rmse = float(np.sqrt(((marg_g - marg_e)[off] ** 2).mean()))
    return {"curve": curve, "rmse": rmse, "steps": gfn.steps}


def order_mcmc_run(data, seed: int, ladder: tuple[int, ...]) -> dict:
    exact = WorldModel(sampler="exact").fit(data).posterior_
    curve, rmse = [], float("nan")
    for n in ladder:
        t0 = time.perf_counter()
        wm = WorldModel(sampler="order_mcmc", n_samples=n, n_chains=4, seed=seed).fit(data)
        secs = time.perf_counter() - t0
        post = wm.posterior_
        jsd, rmse = estimates(exact, np.repeat(post.masks, post.counts, axis=0))["rescored"]
        curve.append((secs, jsd))
    return {"curve": curve, "rmse": rmse}


def summarise(name: str, runs: list[dict], times: tuple[float, ...]) -> str:
    curves = [r["curve"] for r in runs]
    cells = []
    for t in times:
        vals = np.array([curve_value(c, t) for c in curves])
        cells.append("" if np.isnan(vals).all() else f"{np.nanmedian(vals):.4f}")
    tt = np.array([time_to(c) for c in curves])
    reached = np.isfinite(tt).sum()
    med_tt = np.median(tt)
    final = np.array([c[-1][1] for c in curves])
    rmse = np.array([r["rmse"] for r in runs])
    return (
        f"| {name} | {len(runs)} | " + " | ".join(cells) + f" | {reached}/{len(runs)} | "
        f"{med_tt:.1f} | {np.median(final):.4f} | {final.max():.4f} | {np.median(rmse):.4f} |"
    )


def plot(series: dict[str, list[dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, runs in series.items():
        if not runs:
            continue
        end = max(c["curve"][-1][0] for c in runs)
        grid = np.geomspace(0.5, end, 60)
        vals = np.array([[curve_value(r["curve"], t) for t in grid] for r in runs])
        med = np.nanmedian(vals, axis=0)
        ax.plot(grid, med, label=f"{name} (median of {len(runs)})")
        if len(runs) >= 3:
            lo, hi = np.nanpercentile(vals, [25, 75], axis=0)
            ax.fill_between(grid, lo, hi, alpha=0.2)
    ax.axhline(TARGET, color="grey", ls="--", lw=1, label="target JSD 0.02")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="training / sampling time (s, CPU)",
        ylabel="JSD to the exact posterior (nats)",
        title="d = 5 linear-Gaussian, BGe: time to accuracy",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    print(f"\nplot written to {path}", file=sys.stderr)


def part_d5(args: argparse.Namespace) -> None:
    configs = {f"scientist GFlowNet, {name}": cfg for name, cfg in variants(args)}
    series: dict[str, list[dict]] = {name: [] for name in configs}
    series.update({"order MCMC": [], "torchgfn": []})
    for s in range(args.datasets):
        data = gaussian_dataset(s)
        for name, cfg in configs.items():
            series[name].append(
                gflownet_run(data, args.budget, args.every, args.device, seed=s, config=cfg)
            )
            if args.device != "cpu" and args.cpu_too:
                series.setdefault(f"{name} (CPU, same machine)", []).append(
                    gflownet_run(data, args.budget, args.every, "cpu", seed=s, config=cfg)
                )
        if args.device == "cpu":
            series["order MCMC"].append(order_mcmc_run(data, s, (250, 1000, 4000, 16000, 64000)))
        if s < args.torchgfn:
            from torchgfn_baseline import available, run_torchgfn

            hint = available()
            if hint is None:
                curve = run_torchgfn(data, args.torchgfn_budget, 30.0, seed=0)
                series["torchgfn"].append({"curve": curve, "rmse": float("nan")})
            elif s == 0:
                print(f"torchgfn not run: {hint}", file=sys.stderr)
        last = series[next(iter(configs))][-1]
        print(
            f"dataset {s + 1}/{args.datasets}: GFlowNet JSD {last['curve'][-1][1]:.4f} after "
            f"{last['curve'][-1][0]:.0f} s, time to {TARGET}: {time_to(last['curve']):.1f} s",
            file=sys.stderr,
            flush=True,
        )
    times = tuple(
        t for t in TIMES if t <= max(args.budget, args.torchgfn_budget if args.torchgfn else 0)
    )
    device = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "CPU, 1 thread"
    print(
        f"\nd = 5 linear-Gaussian (N = 100, BGe), {args.datasets} datasets; JSD over all 29,281 "
        f"DAGs in nats (exact terminating distribution for the GFlowNets, rescored 4-chain "
        f"estimate for order MCMC); GFlowNet on {device}, budget {args.budget:.0f} s per "
        "dataset. Target: median JSD <= 0.02 within 600 s.\n"
    )
    head = " | ".join(f"JSD at {t} s" for t in times)
    print(
        f"| method | datasets | {head} | reached 0.02 | median s to 0.02 | final JSD (median) | "
        "final JSD (max) | edge RMSE (median) |"
    )
    print("|---|---:|" + "---:|" * (len(times) + 5))
    for name, runs in series.items():
        if runs:
            print(summarise(name, runs, times))
    if args.device == "cpu":
        plot(series, Path(args.plot))
    out = os.environ.get("OUT")
    if out:
        import json

        Path(out, "gflownet_d5.json").write_text(
            json.dumps({k: [r["curve"] for r in v] for k, v in series.items()})
        )


def part_d20(args: argparse.Namespace) -> None:
    d = 20
    rng = np.random.default_rng(0)
    adj = random_dag(rng, d, 2 * d / (d * (d - 1) / 2))
    w = np.where(adj, rng.normal(size=adj.shape), 0.0)
    names = [f"X{i}" for i in range(d)]
    data = Theory.linear_gaussian(names, w, noise_sd=0.1).sample(100, rng=rng)
    off = ~np.eye(d, dtype=bool)

    def auroc(marg: np.ndarray) -> float:
        return float(roc_auc_score(adj[off], marg[off]))

    rows, gfn_secs = [], 0.0
    for name, cfg in variants(args):
        t0 = time.perf_counter()
        gfn_wm = WorldModel(
            sampler="gflownet",
            budget=args.d20_budget,
            n_samples=10_000,
            seed=0,
            gflownet=replace(cfg, hidden=args.d20_hidden),
            device=args.device,
        ).fit(data)
        secs = time.perf_counter() - t0
        gfn_secs = max(gfn_secs, secs)
        gfn = gfn_wm.gflownet_
        timings = {}
        for threads in (1, 2):
            gfn.config = replace(gfn.config, cpu_threads=threads)
            draws = gfn.sample(10_000, seed=1)  # warm
            runs = []
            for k in range(5):
                t1 = time.perf_counter()
                draws = gfn.sample(10_000, seed=2 + k)
                runs.append(time.perf_counter() - t1)
            timings[threads] = float(np.median(runs))
        marg = np.stack([((draws >> i) & 1).mean(axis=0) for i in range(d)])
        log_r = float(gfn_wm.table_.graph_scores(draws).mean())
        rows.append((name, gfn.steps, secs, marg, timings, log_r))

    t0 = time.perf_counter()
    n = 1000
    while True:  # order MCMC with (at least) the same wall time
        om = WorldModel(sampler="order_mcmc", n_samples=n, n_chains=4, seed=0).fit(data)
        om_secs = time.perf_counter() - t0
        if om_secs >= gfn_secs or n > 10**7:
            break
        n *= 2
    marg_om = om.posterior_.edge_marginals()
    counts = om.posterior_.counts
    log_r_om = float((om.posterior_.log_scores * counts).sum() / counts.sum())
    print(
        f"\nd = 20 linear-Gaussian, {int(adj.sum())} true edges, N = 100, BGe, at most 4 parents "
        f"(edge AUROC of the edge marginals against the true graph; load average "
        f"{os.getloadavg()[0]:.1f}):\n"
    )
    print(
        "| sampler | wall s | draws | edge AUROC | expected edges | mean log R of draws "
        "| 10,000 DAGs, 1 thread (s) | 10,000 DAGs, 2 threads (s) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, steps, secs, marg, timings, log_r in rows:
        print(
            f"| GFlowNet, {name} ({steps:,} steps, hidden {args.d20_hidden}) | "
            f"{secs:.0f} | 10,000 | {auroc(marg):.3f} | {marg.sum():.1f} | {log_r:.1f} | "
            f"{timings[1]:.2f} | {timings[2]:.2f} |"
        )
    print(
        f"| order MCMC (4 chains; the last run of a doubling ladder) | {om_secs:.0f} (cumulative) | "
        f"{4 * n:,} | {auroc(marg_om):.3f} | {marg_om.sum():.1f} | {log_r_om:.1f} | | |"
    )
    print("\nSampling times: median of 5 draws of 10,000 DAGs after one warm-up (target <= 1 s).")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", type=int, default=20)
    ap.add_argument("--budget", type=float, default=60.0, help="GFlowNet seconds per dataset")
    ap.add_argument("--every", type=int, default=250, help="steps between JSD evaluations")
    ap.add_argument("--torchgfn", type=int, default=3, help="datasets for torchgfn (0: none)")
    ap.add_argument("--torchgfn-budget", type=float, default=360.0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--cpu-too", action="store_true", help="with --device cuda: CPU as well")
    ap.add_argument("--d20", action="store_true", help="run the d = 20 part")
    ap.add_argument("--d20-only", action="store_true")
    ap.add_argument("--d20-budget", type=float, default=300.0)
    ap.add_argument("--d20-hidden", type=int, default=64)
    ap.add_argument("--plot", default="docs/gflownet_d5.png")
    ap.add_argument(
        "--policies",
        default="child-parent,joint",
        help="GFlowNet policies to compare (comma-separated: child-parent, joint)",
    )
    ap.add_argument(
        "--target-every",
        default="0",
        help="target-network periods in steps to compare, each with every policy "
        "(comma-separated; 0: no target network)",
    )
    args = ap.parse_args()
    torch.set_num_threads(1)
    if not args.d20_only:
        part_d5(args)
    if args.d20 or args.d20_only:
        part_d20(args)


if __name__ == "__main__":
    main()
