"""Time of a new guard decision: the computation behind a verdict-cache miss of the service.

Builds the posterior of ``benchmarks/service_load.py`` (the 1,000 heaviest distinct DAGs of an
order-MCMC run on 2,000 rows from Asia) and its harm spec (``dysp=yes``), and times the
service's own ``verdict`` function (a ``Guard.decide`` on that posterior) in this process, on
one BLAS thread like the service's inference processes, for the 32 decisions the load benchmark
cycles through: first each decision once (the first query of its shape also compiles the
elimination plan), then each again with a new threshold (the plan is reused; the answer is
computed again).

Usage::

    python benchmarks/decision_time.py [--theories 1000] [--repeat 3]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from scientist.guard import HarmSpec
from scientist.service.inference import verdict
from service_load import SPEC, build_posterior, requests


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--theories", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        post = build_posterior(args.theories, Path(tmp) / "bench.npz")
    spec = HarmSpec.from_yaml(SPEC)
    bodies = requests(post)
    first, again = [], []
    for rep in range(1 + args.repeat):
        for i, r in enumerate(bodies):
            threshold = 0.01 + 1e-3 * rep + 1e-6 * i  # never sent before
            t0 = time.perf_counter()
            verdict(post, spec, r["action"], r["context"], threshold, "prop45", 0.01)
            (first if rep == 0 else again).append(time.perf_counter() - t0)
    print(
        "| decisions | first of each query shape (median, max) | again, new threshold (median, p90) |"
    )
    print("|---|---:|---:|")
    print(
        f"| {len(bodies)} on {post.n_theories:,} theories | {np.median(first) * 1e3:.1f} ms, "
        f"{max(first) * 1e3:.1f} ms | {np.median(again) * 1e3:.1f} ms, "
        f"{np.quantile(again, 0.9) * 1e3:.1f} ms |"
    )


if __name__ == "__main__":
    main()
