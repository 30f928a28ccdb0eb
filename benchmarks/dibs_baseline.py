"""DiBS baseline: marginal DiBS (SVGD over latent graph particles) with the BGe likelihood.

Runs the reference implementation of DiBS [1]_ (package ``dibs-lib``, on JAX) for a wall-clock
budget and returns its final particles' graphs with the two particle weightings of the paper:
empirical ("DiBS") and mixture by unnormalised posterior ("DiBS+").

Install with ``pip install 'scientist-ai[bench]'`` (``dibs-lib`` and a CPU ``jax``). The module
imports JAX and DiBS only when :func:`run_dibs` is called, so it can be imported without them;
for an environment that has them apart from the project's, run it as a subprocess::

    python benchmarks/dibs_baseline.py IN.npz OUT.npz

``IN.npz`` holds ``x`` (N, d) and optionally ``seconds`` (default 60), ``seed`` (default 0) and
``n_particles`` (default 20); ``OUT.npz`` gets every entry of the dict that :func:`run_dibs`
returns. JAX's CPU threads follow the environment (e.g. ``XLA_FLAGS``, ``taskset``).

References
----------
.. [1] L. Lorch, J. Rothfuss, B. Schölkopf and A. Krause, "DiBS: Differentiable Bayesian
   Structure Learning", Advances in Neural Information Processing Systems 34 (NeurIPS), 2021.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["run_dibs"]


class _BudgetSpent(Exception):
    """Raised from DiBS's callback to stop SVGD once the time budget is spent."""


def run_dibs(
    x: np.ndarray,
    seconds: float,
    n_particles: int = 20,
    seed: int = 0,
    *,
    expected_edges: float | None = None,
    chunk_steps: int = 10,
) -> dict[str, Any]:
    """Run marginal DiBS with the BGe marginal likelihood for a wall-clock budget.

    DiBS [1]_ transports ``n_particles`` latent particles ``Z`` by Stein variational gradient
    descent (SVGD) towards the posterior ``p(Z | D)``; each particle's hard graph is
    ``G_ij = 1[u_i . v_j > 0]`` (the limit of infinite inverse temperature).

    Model (``dibs.models``): ``BGe`` with its defaults, which equal the BGe score of
    :class:`scientist.scores.BGe`: ``alpha_mu = 1``, ``alpha_lambd = d + 2`` (our ``alpha_w``),
    prior mean 0 and ``T = t I`` with ``t = alpha_mu (alpha_w - d - 1) / (alpha_mu + 1)``;
    graph prior ``ErdosReniDAGDistribution`` with ``expected_edges`` edges in expectation
    (``p = expected_edges / (d (d - 1) / 2)`` per pair). Inference: ``MarginalDiBS`` with its
    defaults (additive Frobenius SE kernel with ``h = 5``, RMSprop with step size 0.005,
    ``alpha_t = t``, ``beta_t = t``, ``tau = 1``, 128 score-function gradient samples,
    32 acyclicity samples, latent dimension ``k = d``).

    SVGD runs in chunks of ``chunk_steps`` steps (one compiled loop) until the budget is spent:
    a further chunk starts only if it is expected to finish within ``seconds``, counted from the
    model's set-up (after JAX and DiBS are imported), JIT compilation included. The first chunk
    always runs.

    Parameters
    ----------
    x
        Data of shape (N, d), used as given (no standardisation; cast to JAX's float32).
    seconds
        Wall-clock budget in seconds, JIT compilation included.
    n_particles
        Number of SVGD particles K.
    seed
        Seed of JAX's PRNG (initial particles and Monte Carlo gradient samples).
    expected_edges
        Expected number of edges of the Erdős–Rényi graph prior; default d (5 for d = 5, which
        makes the prior uniform over graphs: ``p = 1/2``).
    chunk_steps
        SVGD steps per compiled chunk: the granularity of the time budget.

    Returns
    -------
    dict
        ``adjacency``: (K, d, d) bool, the final particles' hard graphs (``[k, i, j]``: edge
        ``i -> j``; duplicates kept). ``weights_empirical``: (K,), ``1 / K_dag`` for each acyclic
        particle, where ``K_dag`` is the number of acyclic particles. ``weights_mixture``: (K,),
        DiBS+: each distinct acyclic graph ``G`` gets ``p(G) p(D | G)`` (ER prior times BGe
        marginal likelihood, by DiBS's own model) normalised over the distinct acyclic graphs,
        split equally among its duplicate particles, so summing weights per graph gives the
        mixture. Cyclic particles get weight 0 in both, as in DiBS's own metrics; if no particle
        is acyclic, all particles are weighted instead. Both sum to 1.
        ``is_dag``: (K,) bool. ``steps``: SVGD steps done. ``seconds``: wall time from the
        model's set-up to the end of the last step. ``compile_seconds``: time of JIT compilation (the first
        chunk's time less that of a compiled chunk), part of ``seconds``.

    References
    ----------
    .. [1] L. Lorch, J. Rothfuss, B. Schölkopf and A. Krause, "DiBS: Differentiable Bayesian
       Structure Learning", NeurIPS 34, 2021.
    """
    import jax
    import jax.numpy as jnp
    from dibs.inference import MarginalDiBS
    from dibs.models import BGe, ErdosReniDAGDistribution

    start = time.perf_counter()
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] < 2 or x.shape[0] < 1:
        raise ValueError(f"x must have shape (N, d) with d >= 2, got {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise ValueError("x has non-finite values.")
    if seconds <= 0 or n_particles < 1 or chunk_steps < 1:
        raise ValueError("seconds, n_particles and chunk_steps must be positive.")
    d = x.shape[1]
    n_pairs = d * (d - 1) / 2
    edges = float(d) if expected_edges is None else float(expected_edges)
    if not 0 < edges < n_pairs:
        raise ValueError(f"expected_edges must lie in (0, {n_pairs:g}), got {edges}.")

    graph_model = ErdosReniDAGDistribution(n_vars=d, n_edges_per_node=edges / d)
    # alpha_mu = 1, alpha_lambd = d + 2 and mean 0 are also BGe's defaults; the mean must be left
    # None (the model tests it with ``or``, which an array fails).
    likelihood_model = BGe(n_vars=d, alpha_mu=1.0, alpha_lambd=float(d + 2))
    x_jax = jnp.asarray(x)
    model = MarginalDiBS(x=x_jax, graph_model=graph_model, likelihood_model=likelihood_model)

    state: dict[str, Any] = {"z": None, "steps": 0, "marks": [], "last": None}
    t_loop = time.perf_counter()
    state["last"] = t_loop

    def callback(*, dibs: Any, t: int, zs: Any) -> None:
        z = jax.block_until_ready(zs)
        now = time.perf_counter()
        state["marks"].append(now - state["last"])
        state["last"] = now
        state["z"], state["steps"] = z, t
        chunk = state["marks"][-1] if len(state["marks"]) > 1 else 0.0
        if now - start + chunk > seconds:
            raise _BudgetSpent

    try:
        model.sample(
            key=jax.random.PRNGKey(seed),
            n_particles=n_particles,
            steps=chunk_steps * 10**9,
            callback=callback,
            callback_every=chunk_steps,
        )
    except _BudgetSpent:
        pass
    elapsed = state["last"] - start
    marks = state["marks"]
    steady = float(np.median(marks[1:])) if len(marks) > 1 else 0.0
    compile_seconds = (t_loop - start) + max(marks[0] - steady, 0.0)

    z = state["z"]
    adjacency = np.asarray(model.particle_to_g_lim(z)).astype(bool)
    is_dag = _is_dag(adjacency)
    keep = is_dag if is_dag.any() else np.ones(len(adjacency), dtype=bool)

    weights_empirical = keep / keep.sum()

    score = jax.jit(
        lambda g: (
            graph_model.unnormalized_log_prob_soft(soft_g=g)
            + likelihood_model.log_marginal_likelihood(
                g=g, x=x_jax, interv_targets=jnp.zeros(x_jax.shape, dtype=bool)
            )
        )
    )
    uniq, inverse, counts = np.unique(
        adjacency[keep], axis=0, return_inverse=True, return_counts=True
    )
    log_post = np.array([float(score(jnp.asarray(g, dtype=jnp.int32))) for g in uniq])
    post = np.exp(log_post - log_post.max())
    post /= post.sum()
    weights_mixture = np.zeros(len(adjacency))
    weights_mixture[keep] = (post / counts)[inverse.ravel()]

    return {
        "adjacency": adjacency,
        "weights_empirical": weights_empirical,
        "weights_mixture": weights_mixture,
        "is_dag": is_dag,
        "steps": int(state["steps"]),
        "seconds": float(elapsed),
        "compile_seconds": float(compile_seconds),
    }


def _is_dag(adjacency: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Acyclicity of each (d, d) graph in a batch: no node reaches itself in at most d steps."""
    a = adjacency.astype(np.int64)
    reach = a.copy()
    for _ in range(a.shape[-1] - 1):
        reach = np.minimum(reach @ a + reach, 1)
    return ~np.any(np.diagonal(reach, axis1=-2, axis2=-1), axis=-1)


def main(argv: list[str] | None = None) -> None:
    """``python dibs_baseline.py IN.npz OUT.npz``: run :func:`run_dibs` on the file's ``x``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        raise SystemExit("usage: python dibs_baseline.py IN.npz OUT.npz")
    with np.load(args[0]) as f:
        x = np.asarray(f["x"], dtype=float)
        seconds = float(f["seconds"]) if "seconds" in f else 60.0
        seed = int(f["seed"]) if "seed" in f else 0
        n_particles = int(f["n_particles"]) if "n_particles" in f else 20
    out = run_dibs(x, seconds=seconds, n_particles=n_particles, seed=seed)
    np.savez(Path(args[1]), **{k: np.asarray(v) for k, v in out.items()})


if __name__ == "__main__":
    main()
