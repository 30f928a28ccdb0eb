"""DAG-GFlowNet: train an amortized sampler of causal theories, then draw from it.

Training follows Deleu et al. (2022): a batch of environments steps forward with the current
policy (plus epsilon-uniform exploration), every edge transition goes to a replay buffer, and
each iteration takes one optimiser step of the modified detailed-balance loss on transitions
drawn from the buffer. The reward is ``exp(log P(D | G) + log P(G))`` from the world model's
family table (BGe or BDeu, interventions included), so a trained sampler targets the same
posterior as the exact and MCMC samplers.

Everything lives on one ``torch.device`` chosen at construction; one seed fixes the network's
initialisation, the environments and the buffer draws.

References
----------
.. [1] T. Deleu, A. Góis, C. Emezue, M. Rankawat, S. Lacoste-Julien, S. Bauer and Y. Bengio,
   "Bayesian structure learning with generative flow networks", UAI 2022.
.. [2] Y. Bengio et al., "Superintelligent agents pose catastrophic risks: can Scientist AI offer
   a safer path?", arXiv:2502.15657, 2025 (amortized inference over theories).
"""

from __future__ import annotations

import copy
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from scientist.errors import FileFormatError, InputError
from scientist.progress import progress_bar
from scientist.samplers.gflownet.buffer import ReplayBuffer, Transitions
from scientist.samplers.gflownet.env import DAGEnv
from scientist.samplers.gflownet.estimator import POLICIES, make_policy
from scientist.samplers.gflownet.losses import modified_db_loss
from scientist.samplers.gflownet.sampler import draw_dags, sample_actions
from scientist.samplers.gflownet.states import DAGStates
from scientist.samplers.gflownet.terminating import (
    StateGraph,
    exact_log_posterior,
    jensen_shannon,
    terminating_distribution,
)
from scientist.scores.table import FamilyTable

__all__ = ["GFlowNet", "GFlowNetConfig", "resolve_device"]

CHECKPOINT_FORMAT = "scientist-gflownet/1"


@dataclass(frozen=True)
class GFlowNetConfig:
    """Hyper-parameters of DAG-GFlowNet training.

    Parameters
    ----------
    policy
        ``"joint"`` (the default) is the paper's single softmax over the ``d * d`` edges;
        ``"child-parent"`` draws an edge as a child and then one of its parents, ``O(d)`` work
        per drawn edge: about 3.5x faster drawing at ``d = 20``, but it learns more slowly
        per second of training (see :mod:`~scientist.samplers.gflownet.estimator` and
        docs/results.md).
    hidden, layers
        Width and depth of the policy network.
    batch_size
        Transitions per optimiser step.
    n_envs
        Environments stepped in parallel (new transitions per iteration, at most).
    lr
        Adam learning rate.
    epsilon
        Share of exploratory (uniform) actions while collecting transitions.
    buffer_size
        Replay-buffer capacity.
    warmup
        Transitions collected before the first optimiser step.
    huber_delta
        Threshold of the Huber loss.
    target_every
        Optimiser steps between copies of the policy into a *target network* that gives the
        next state's stop probability in the loss (the authors' code copies every 1,000
        steps); ``0`` (the default) uses the policy itself. See
        :mod:`~scientist.samplers.gflownet.losses.modified_db` and docs/results.md.
    cpu_threads
        Threads torch uses on the CPU while training and sampling (restored afterwards); the
        policy is small, and one thread avoids synchronisation costs on busy machines.
    """

    policy: str = "joint"
    hidden: int = 128
    layers: int = 2
    batch_size: int = 128
    n_envs: int = 32
    lr: float = 1e-3
    epsilon: float = 0.1
    buffer_size: int = 100_000
    warmup: int = 1_000
    huber_delta: float = 1.0
    cpu_threads: int = 1
    target_every: int = 0

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise InputError(
                f"policy={self.policy!r} is invalid: expected one of {sorted(POLICIES)}."
            )
        for name in ("hidden", "layers", "batch_size", "n_envs", "buffer_size", "cpu_threads"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise InputError(f"{name}={v!r} is invalid: expected a positive integer.")
        for name in ("warmup", "target_every"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise InputError(f"{name}={v!r} is invalid: expected an integer >= 0.")
        if not (isinstance(self.lr, int | float) and self.lr > 0 and math.isfinite(self.lr)):
            raise InputError(f"lr={self.lr!r} is invalid: expected a positive number.")
        if not (isinstance(self.epsilon, int | float) and 0.0 <= self.epsilon <= 1.0):
            raise InputError(f"epsilon={self.epsilon!r} is invalid: expected a number in [0, 1].")
        if not (isinstance(self.huber_delta, int | float) and self.huber_delta > 0):
            raise InputError(
                f"huber_delta={self.huber_delta!r} is invalid: expected a positive number."
            )


@contextmanager
def _threads(device: torch.device, n: int) -> Iterator[None]:
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None`` or ``"auto"``: CUDA when available, else CPU; otherwise check the name."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InputError(
            f"device={device!r} is invalid: expected 'cpu', 'cuda', 'cuda:N' or 'auto'."
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(
            f"device={device!r}: no CUDA device is available here; use device='cpu' or 'auto'."
        )
    if dev.type not in ("cpu", "cuda"):
        raise InputError(f"device={device!r} is invalid: expected 'cpu', 'cuda' or 'auto'.")
    return dev


class GFlowNet:
    """An amortized sampler of DAGs trained to draw ``G`` with probability ``∝ R(G)``.

    Parameters
    ----------
    table
        Family scores and prior (the reward), as built by :class:`scientist.WorldModel`.
    config
        Training hyper-parameters.
    device
        ``"cpu"``, ``"cuda"`` or ``"auto"``.
    seed
        Seed of the network initialisation and of every random draw.

    Attributes
    ----------
    steps : int
        Optimiser steps taken so far.
    seconds : float
        Training wall time so far.
    history : list of dict
        ``{"step", "seconds", "loss"}`` and, for ``d <= 5``, ``"jsd"`` at each evaluation.

    Examples
    --------
    >>> from scientist import datasets
    >>> from scientist.scores import make_score
    >>> from scientist.priors import make_prior
    >>> from scientist.scores.table import FamilyTable
    >>> data = datasets.load_network("asia").sample(200, rng=0)
    >>> table = FamilyTable(make_score("bdeu").fit(data), make_prior("uniform"), 2)
    >>> gfn = GFlowNet(table, seed=0).train(steps=50)
    >>> gfn.sample(3, seed=1).shape
    (3, 8)
    """

    def __init__(
        self,
        table: FamilyTable,
        config: GFlowNetConfig | None = None,
        *,
        device: str | torch.device | None = "cpu",
        seed: int | None = None,
    ) -> None:
        self.config = config or GFlowNetConfig()
        self.device = resolve_device(device)
        self.table = table
        self.env = DAGEnv(table, self.device)
        self.seed = int(np.random.SeedSequence(seed).generate_state(1)[0])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.policy = make_policy(
                self.config.policy, table.d, self.config.hidden, self.config.layers
            ).to(self.device)
        self.target = (
            copy.deepcopy(self.policy).requires_grad_(False) if self.config.target_every else None
        )
        # fused: one kernel for all parameters (resolve_device admits only CPU and CUDA)
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=self.config.lr, fused=True)
        self.generator = torch.Generator(device=self.device).manual_seed(self.seed)
        self.buffer = ReplayBuffer(self.config.buffer_size, table.d, self.device)
        self._envs = self.env.reset(self.config.n_envs)
        self.steps = 0
        self.seconds = 0.0
        self.history: list[dict[str, float]] = []
        self._graph: StateGraph | None = None
        self._exact: np.ndarray | None = None
        self._paused = 0.0

    # ------------------------------------------------------------------ training
    @torch.no_grad()
    def _collect(self) -> None:
        """Step every environment once and store its edge transitions."""
        envs, env = self._envs, self.env
        valid = env.valid_actions(envs)
        self.policy.eval()
        log_p = self.policy(envs.adj, valid)
        actions = sample_actions(log_p, valid, self.generator, self.config.epsilon)
        moved = actions != env.stop
        rows = torch.nonzero(moved).flatten()
        adj_before = envs.adj[rows].clone()
        delta = env.delta_log_reward(adj_before, actions[rows])
        stopped = env.step(envs, actions)
        valid_next = env.valid_actions(envs[rows])
        self.buffer.add(
            Transitions(adj_before, valid[rows], actions[rows], delta.float(), valid_next)
        )
        env.reset_rows(envs, torch.nonzero(stopped).flatten())

    def _update(self) -> float:
        self.policy.train()
        batch = self.buffer.sample(self.config.batch_size, self.generator)
        loss = modified_db_loss(
            self.policy, batch, self.env.n_required, self.config.huber_delta, self.target
        )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    def train(
        self,
        budget: float | None = None,
        *,
        steps: int | None = None,
        eval_every: int = 500,
        progress: bool = False,
        callback: Callable[[GFlowNet, dict[str, float]], None] | None = None,
    ) -> GFlowNet:
        """Train for ``budget`` seconds and/or ``steps`` optimiser steps (whichever ends first).

        Training resumes where the last call (or a loaded checkpoint) stopped. Every
        ``eval_every`` steps a record goes to :attr:`history` (with the exact JSD to the
        posterior when ``d <= 5``) and to ``callback``; evaluations do not count against
        ``budget`` and :attr:`seconds`.
        """
        if budget is None and steps is None:
            raise InputError("Give budget (seconds) or steps: training needs a stopping rule.")
        if budget is not None and not (isinstance(budget, int | float) and budget > 0):
            raise InputError(
                f"budget={budget!r} is invalid: expected a positive number of seconds."
            )
        if steps is not None and (not isinstance(steps, int) or steps < 1):
            raise InputError(f"steps={steps!r} is invalid: expected a positive integer.")
        if not isinstance(eval_every, int) or eval_every < 1:
            raise InputError(f"eval_every={eval_every!r} is invalid: expected a positive integer.")
        # the bar counts steps, or whole seconds of the budget when steps are not given
        total = steps if steps is not None else math.ceil(budget or 1)
        shown = 0
        self._paused = 0.0
        start, target = time.perf_counter(), self.steps + (steps or 0)
        losses: list[float] = []
        with (
            _threads(self.device, self.config.cpu_threads),
            progress_bar(
                progress, "gflownet (steps)" if steps else "gflownet (s)", total=total
            ) as advance,
        ):
            while True:
                elapsed = time.perf_counter() - start - self._paused
                if steps is not None and self.steps >= target:
                    break
                if budget is not None and elapsed >= budget:
                    break
                self._collect()
                if len(self.buffer) < max(self.config.warmup, self.config.batch_size):
                    continue
                losses.append(self._update())
                self.steps += 1
                if self.target is not None and self.steps % self.config.target_every == 0:
                    self.target.load_state_dict(self.policy.state_dict())
                if self.steps % eval_every == 0:
                    record = self._record(float(np.mean(losses)), start)
                    losses.clear()
                    if callback is not None:
                        callback(self, record)
                    done = eval_every if steps is not None else int(elapsed) - shown
                    shown += done
                    advance(
                        done,
                        loss=f"{record['loss']:.3g}",
                        **({"jsd": f"{record['jsd']:.4f}"} if "jsd" in record else {}),
                    )
            if losses:
                self._record(float(np.mean(losses)), start)
            advance(max(0, total - shown))
        self.seconds += time.perf_counter() - start - self._paused
        return self

    def _record(self, loss: float, start: float) -> dict[str, float]:
        """Append an evaluation to the history; its own time does not count as training."""
        now = time.perf_counter()
        record = {
            "step": float(self.steps),
            "seconds": self.seconds + now - start - self._paused,
            "loss": float(loss),
        }
        if self.table.d <= 5:
            record["jsd"] = self.exact_jsd()
        self.history.append(record)
        self._paused += time.perf_counter() - now
        return record

    # ------------------------------------------------------------------ using it
    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        """``n`` DAGs drawn from the trained sampler, as parent masks ``(n, d)``."""
        if not isinstance(n, int | np.integer) or isinstance(n, bool) or n < 1:
            raise InputError(f"n={n!r} is invalid: expected a positive integer.")
        gen = torch.Generator(device=self.device)
        gen.manual_seed(int(np.random.SeedSequence(seed).generate_state(1)[0]))
        self.policy.eval()
        with _threads(self.device, self.config.cpu_threads):
            return draw_dags(self.env, self.policy, int(n), gen)

    def terminating_distribution(self) -> tuple[np.ndarray, np.ndarray]:
        """Every DAG (parent masks) and the exact probability that the sampler ends there
        (``d <= 5``)."""
        self._graph = self._graph or StateGraph(self.table.d)
        self.policy.eval()
        return terminating_distribution(self.env, self.policy, self._graph)

    def exact_posterior(self) -> tuple[np.ndarray, np.ndarray]:
        """Every DAG (parent masks, as in :meth:`terminating_distribution`) and its exact
        posterior probability (``d <= 5``)."""
        self._graph = self._graph or StateGraph(self.table.d)
        if self._exact is None:
            self._exact = np.exp(exact_log_posterior(self.env, self._graph))
        return self._graph.masks, self._exact

    def exact_jsd(self) -> float:
        """Jensen-Shannon divergence (nats) between the sampler and the exact posterior."""
        _, p_t = self.terminating_distribution()
        return jensen_shannon(p_t, self.exact_posterior()[1])

    # ------------------------------------------------------------------ checkpoints
    def save(self, path: str | Path) -> Path:
        """Write a checkpoint atomically: network, optimiser, counters, config, the replay
        buffer and the environments, so that training resumes exactly where it stopped (on
        the CPU, bit for bit)."""
        path = Path(path)
        state = {
            "format": CHECKPOINT_FORMAT,
            "names": list(self.table.scorer.names),
            "config": asdict(self.config),
            "policy": self.policy.config(),
            "model": self.policy.state_dict(),
            "target": None if self.target is None else self.target.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "steps": self.steps,
            "seconds": self.seconds,
            "seed": self.seed,
            "history": self.history,
            "generator": self.generator.get_state().cpu(),
            "buffer": self.buffer.state_dict(),
            "envs": {k: v.cpu() for k, v in vars(self._envs).items()},
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            torch.save(state, tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    @classmethod
    def load(
        cls, path: str | Path, table: FamilyTable, *, device: str | torch.device | None = "cpu"
    ) -> GFlowNet:
        """Rebuild a sampler from :meth:`save`'s checkpoint, for sampling or to resume training.

        ``table`` must score the same variables (its data may differ: training then adapts the
        sampler to the new posterior).
        """
        path = Path(path)
        if not path.is_file():
            raise InputError(f"checkpoint={str(path)!r} does not exist.")
        try:
            state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several types for foreign files
            raise FileFormatError(f"{path} is not a GFlowNet checkpoint ({exc}).") from exc
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise FileFormatError(f"{path} is not a {CHECKPOINT_FORMAT} checkpoint.")
        if state["names"] != list(table.scorer.names):
            raise InputError(
                f"The checkpoint was trained on variables {state['names']}, but the data have "
                f"{list(table.scorer.names)}: train a new sampler for these data."
            )
        config = {"policy": "joint", **state["config"]}  # checkpoints before the factorised policy
        gfn = cls(table, GFlowNetConfig(**config), device=device, seed=state["seed"])
        gfn.policy.load_state_dict(state["model"])
        if gfn.target is not None:
            gfn.target.load_state_dict(state.get("target") or state["model"])
        gfn.optimizer.load_state_dict(state["optimizer"])
        gfn.steps, gfn.seconds = int(state["steps"]), float(state["seconds"])
        gfn.history = list(state["history"])
        gfn.buffer.load_state_dict(state["buffer"])
        gfn._envs = DAGStates(**{k: v.to(gfn.device) for k, v in state["envs"].items()})
        if gfn.device.type == "cpu":
            gfn.generator.set_state(state["generator"])
        return gfn
