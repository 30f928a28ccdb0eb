"""The world model: a Bayesian posterior over causal theories, learned from data.

``WorldModel(score=..., prior=..., sampler=...).fit(dataset)`` follows the scikit-learn estimator
contract: ``__init__`` only stores parameters, ``fit`` checks them and returns ``self``, and the
fitted attributes end with ``_``.

References
----------
.. [1] Y. Bengio et al., "Superintelligent agents pose catastrophic risks: can Scientist AI offer
   a safer path?", arXiv:2502.15657, 2025 (the world model of a Scientist AI).
.. [2] N. Friedman and D. Koller, Machine Learning 50, 2003 (order MCMC).
.. [3] T. Deleu et al., "Bayesian structure learning with generative flow networks", UAI 2022
   (the GFlowNet sampler).
"""

from __future__ import annotations

import time
from math import comb
from pathlib import Path
from typing import Any

import numpy as np

from scientist.data import Dataset
from scientist.errors import DataError, InputError, NotFittedError
from scientist.executors import Executor, make_executor
from scientist.posterior import Posterior
from scientist.priors import StructurePrior, make_prior
from scientist.samplers.diagnostics import edge_rhat
from scientist.samplers.driver import SAMPLERS as CHAIN_SAMPLERS
from scientist.samplers.driver import run_chains
from scientist.samplers.exact import enumerate_posterior
from scientist.scores import Score, make_score
from scientist.scores.table import MAX_CANDIDATES, FamilyTable

__all__ = ["WorldModel"]

SAMPLERS = (*CHAIN_SAMPLERS, "gflownet")
_ALIASES = {"order-mcmc": "order_mcmc", "structure-mcmc": "structure_mcmc", "mc3": "structure_mcmc"}


class WorldModel:
    """Learn a posterior over causal theories (DAG + mechanisms) from a :class:`Dataset`.

    Parameters
    ----------
    score
        ``"auto"`` (BGe for continuous data, BDeu for categorical), ``"bge"``, ``"bdeu"`` or a
        :class:`scientist.scores.Score` instance.
    prior
        ``"uniform"`` or a :class:`scientist.priors.StructurePrior`.
    sampler
        ``"auto"`` (``"exact"`` for d <= 5, else ``"order_mcmc"``), ``"exact"``,
        ``"order_mcmc"``, ``"structure_mcmc"`` or ``"gflownet"`` (an amortized sampler trained
        for ``budget`` seconds, see :class:`scientist.samplers.gflownet.GFlowNet`).
    n_samples
        DAG samples kept per chain (MCMC samplers), or drawn from the trained GFlowNet.
    n_chains
        Independent chains; R-hat over edge marginals is reported across them.
    burn_in
        Steps discarded per chain; default ``n_samples * thin // 4``.
    thin
        Steps between kept samples.
    draws_per_order
        Order MCMC only: DAGs drawn from each kept order (exact draws given the order; more
        draws find more distinct DAGs at little cost). ``n_samples`` counts DAGs.
    max_parents
        Maximum in-degree of the candidate parent sets; default: none for d <= 12, else 4, or
        less where 4 would exceed the family table's candidate limit (3 for alarm's 37 nodes).
    weighting
        ``"rescored"`` (default) or ``"empirical"`` weights for MCMC posteriors (see
        :class:`scientist.Posterior`).
    budget
        GFlowNet only: seconds of training (0 with ``checkpoint`` only draws from it).
    device
        GFlowNet only: ``"cpu"``, ``"cuda"`` or ``"auto"``.
    checkpoint
        GFlowNet only: a checkpoint written by ``gflownet_.save`` to resume from.
    gflownet
        GFlowNet only: a :class:`~scientist.samplers.gflownet.GFlowNetConfig` of
        hyper-parameters (default settings when None).
    executor
        Where the chains run: ``"local"`` (default: one vectorised batch in this process),
        ``"ray"`` (one Ray task per chain on the cluster ``ray.init`` reaches; needs
        ``pip install 'scientist-ai[ray]'``) or a :class:`scientist.RayExecutor`. The same
        ``seed`` gives the same posterior on every executor.
    seed
        Seed of the chains' generators (None: fresh entropy).
    progress
        Show progress bars.

    Attributes
    ----------
    posterior_ : Posterior
        The learned posterior.
    table_ : FamilyTable
        The cached local scores.
    rhat_ : ndarray or None
        Split R-hat of every edge indicator (MCMC samplers with at least 2 chains).
    fit_seconds_ : float
        Wall time of ``fit``.
    gflownet_ : GFlowNet
        The trained sampler (``sampler="gflownet"``): ``gflownet_.sample(n)`` draws new
        theories without retraining, ``gflownet_.save(path)`` writes a checkpoint.

    Examples
    --------
    >>> from scientist import WorldModel, datasets
    >>> truth = datasets.load_network("asia")
    >>> data = truth.sample(500, rng=0)
    >>> wm = WorldModel(sampler="order_mcmc", n_samples=500, seed=0).fit(data)
    >>> wm.posterior_.edge_marginals().shape
    (8, 8)
    """

    def __init__(
        self,
        score: str | Score = "auto",
        prior: str | StructurePrior = "uniform",
        sampler: str = "auto",
        *,
        n_samples: int = 5000,
        n_chains: int = 4,
        burn_in: int | None = None,
        thin: int = 1,
        draws_per_order: int = 1,
        max_parents: int | None = None,
        weighting: str = "rescored",
        budget: float = 60.0,
        device: str = "cpu",
        checkpoint: str | Path | None = None,
        gflownet: Any = None,
        executor: str | Executor = "local",
        seed: int | None = None,
        progress: bool = False,
    ) -> None:
        self.score = score
        self.prior = prior
        self.sampler = sampler
        self.n_samples = n_samples
        self.n_chains = n_chains
        self.burn_in = burn_in
        self.thin = thin
        self.draws_per_order = draws_per_order
        self.max_parents = max_parents
        self.weighting = weighting
        self.budget = budget
        self.device = device
        self.checkpoint = checkpoint
        self.gflownet = gflownet
        self.executor = executor
        self.seed = seed
        self.progress = progress

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters."""
        return {
            k: getattr(self, k)
            for k in (
                "score",
                "prior",
                "sampler",
                "n_samples",
                "n_chains",
                "burn_in",
                "thin",
                "draws_per_order",
                "max_parents",
                "weighting",
                "budget",
                "device",
                "checkpoint",
                "gflownet",
                "executor",
                "seed",
                "progress",
            )
        }

    def set_params(self, **params: Any) -> WorldModel:
        """Set constructor parameters; returns self."""
        valid = self.get_params()
        for k, v in params.items():
            if k not in valid:
                raise InputError(f"{k!r} is not a parameter of WorldModel; valid: {sorted(valid)}.")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        return f"WorldModel(score={self.score!r}, sampler={self.sampler!r}, seed={self.seed!r})"

    def _check(self, data: Dataset) -> str:
        if not isinstance(data, Dataset):
            raise DataError(
                f"data is a {type(data).__name__}; expected a scientist.Dataset (build one with "
                "Dataset.from_pandas, from_csv or from_numpy)."
            )
        for name in ("n_samples", "n_chains", "thin", "draws_per_order"):
            v = getattr(self, name)
            if not isinstance(v, int | np.integer) or isinstance(v, bool) or v < 1:
                raise InputError(f"{name}={v!r} is invalid: expected a positive integer.")
        if self.burn_in is not None and (
            not isinstance(self.burn_in, int | np.integer) or self.burn_in < 0
        ):
            raise InputError(f"burn_in={self.burn_in!r} is invalid: expected an integer >= 0.")
        if self.weighting not in ("rescored", "empirical"):
            raise InputError(
                f"weighting={self.weighting!r} is invalid: expected 'rescored' or 'empirical'."
            )
        make_executor(self.executor)  # a clear error now, not after scoring
        sampler = _ALIASES.get(str(self.sampler), str(self.sampler))
        if sampler == "auto":
            sampler = "exact" if data.n_vars <= 5 else "order_mcmc"
        if sampler not in SAMPLERS:
            raise InputError(
                f"sampler={self.sampler!r} is invalid: expected 'auto' or one of {list(SAMPLERS)}."
            )
        if sampler == "gflownet":
            b = self.budget
            if not isinstance(b, int | float) or isinstance(b, bool) or not 0 <= b < float("inf"):
                raise InputError(f"budget={b!r} is invalid: expected seconds of training >= 0.")
            if b == 0 and self.checkpoint is None:
                raise InputError(
                    "budget=0 trains nothing: give a checkpoint to draw from, or a budget > 0."
                )
            from scientist.samplers.gflownet import resolve_device

            resolve_device(self.device)
        if data.n_vars > 62:
            raise InputError(
                f"The data have d={data.n_vars} variables; this release supports d <= 62."
            )
        return sampler

    def fit(self, data: Dataset) -> WorldModel:
        """Learn the posterior over theories from ``data``; returns self."""
        start = time.perf_counter()
        sampler = self._check(data)
        score = make_score(
            "bge"
            if self.score == "auto" and data.kind == "continuous"
            else "bdeu"
            if self.score == "auto"
            else self.score
        )
        if self.score == "auto" and data.kind == "mixed":
            raise DataError(
                "The data mix categorical and continuous variables; no bundled score handles both. "
                "Discretise the continuous columns or pass categorical=[...] when loading."
            )
        prior = make_prior(self.prior)
        scorer = score.fit(data)
        max_parents = self.max_parents
        if max_parents is None and data.n_vars > 12:
            max_parents = default_max_parents(data.n_vars)
        table = FamilyTable(scorer, prior, max_parents, progress=self.progress)
        info: dict[str, Any] = {
            "sampler": sampler,
            "score": score.name,
            "prior": repr(prior),
            "max_parents": table.max_parents,
            "seed": self.seed,
        }
        self.rhat_ = None
        if sampler == "exact":
            masks, log_post = enumerate_posterior(table)
            posterior = Posterior(
                data.variables,
                masks,
                log_post,
                weighting="exact",
                scorer=scorer,
                log_scores=log_post,
                info=info,
            )
        elif sampler == "gflownet":
            posterior = self._from_samples(data, self._sample_gflownet(table, info), table, info)
        else:
            burn_in = self.n_samples * self.thin // 4 if self.burn_in is None else self.burn_in
            seeds = np.random.SeedSequence(self.seed).spawn(self.n_chains)
            run = run_chains(
                sampler,
                table,
                seeds=seeds,
                n_samples=self.n_samples,
                burn_in=burn_in,
                thin=self.thin,
                draws_per_step=self.draws_per_order,
                progress=self.progress,
                executor=self.executor,
            )
            samples = run.samples
            if self.n_chains >= 2:
                self.rhat_ = edge_rhat(samples)
            info.update(
                n_chains=self.n_chains,
                burn_in=burn_in,
                thin=self.thin,
                draws_per_order=self.draws_per_order if sampler == "order_mcmc" else None,
                acceptance=[round(float(a), 4) for a in run.acceptance],
                max_rhat=None if self.rhat_ is None else _finite_max(self.rhat_),
            )
            posterior = self._from_samples(data, samples, table, info)
        self.table_ = table
        self.scorer_ = scorer
        self.posterior_ = posterior
        self.fit_seconds_ = time.perf_counter() - start
        posterior.info["fit_seconds"] = round(self.fit_seconds_, 3)
        posterior.info["data_fingerprint"] = data.fingerprint()
        posterior.info["support"] = observed_support(data)
        return self

    def _from_samples(
        self, data: Dataset, samples: np.ndarray, table: FamilyTable, info: dict[str, Any]
    ) -> Posterior:
        """The posterior of sampled DAGs, weighted as ``weighting`` says."""
        return Posterior.from_samples(
            data.variables,
            samples,
            table.graph_scores,
            weighting=self.weighting,  # type: ignore[arg-type]
            scorer=table.scorer,
            info=info,
        )

    def _sample_gflownet(self, table: FamilyTable, info: dict[str, Any]) -> np.ndarray:
        """Train (or load) a GFlowNet, keep it as ``gflownet_``, and draw ``n_samples`` DAGs."""
        from scientist.samplers.gflownet import GFlowNet

        if self.checkpoint is not None:
            gfn = GFlowNet.load(self.checkpoint, table, device=self.device)
        else:
            gfn = GFlowNet(table, self.gflownet, device=self.device, seed=self.seed)
        if self.budget > 0:
            gfn.train(float(self.budget), progress=self.progress)
        samples = gfn.sample(self.n_samples, seed=self.seed)
        info.update(
            device=str(gfn.device),
            train_steps=gfn.steps,
            train_seconds=round(gfn.seconds, 3),
            last_loss=gfn.history[-1]["loss"] if gfn.history else None,
            jsd=gfn.history[-1].get("jsd") if gfn.history else None,
        )
        self.gflownet_ = gfn
        return samples

    def __getattr__(self, name: str) -> Any:
        if name.endswith("_") and not name.startswith("_"):
            raise NotFittedError(f"{name} is not available: call fit(dataset) first.")
        raise AttributeError(name)


def default_max_parents(d: int, ceiling: int = 4) -> int:
    """The largest in-degree up to ``ceiling`` whose candidate families fit the table's limit."""
    for k in range(ceiling, 0, -1):
        if d * sum(comb(d - 1, i) for i in range(k + 1)) <= MAX_CANDIDATES:
            return k
    return 1


def _finite_max(r: np.ndarray) -> float | None:
    vals = r[~np.isnan(r)]
    return float(vals.max()) if vals.size else None


def observed_support(data: Dataset) -> dict[str, dict[str, Any]]:
    """What the data showed of each variable: its observed states, or its observed range.

    Kept in ``Posterior.info["support"]`` so that a guard can tell when an action sets a
    variable to a value the world model has never seen (an unseen mechanism).
    """
    out: dict[str, dict[str, Any]] = {}
    for j, v in enumerate(data.variables):
        col = data.values[:, j]
        if v.kind == "categorical":
            seen = sorted({int(c) for c in col})
            out[v.name] = {"states": [v.states[c] for c in seen]}  # type: ignore[index]
        else:
            out[v.name] = {"min": float(col.min()), "max": float(col.max())}
    return out
