"""torchgfn baseline: DAG-GFlowNet (Deleu et al. 2022) as the torchgfn library trains it.

Trains torchgfn's DAG-GFlowNet (package ``torchgfn`` 2.4.1: the environment
``gfn.gym.bayesian_structure.BayesianStructure`` and the BGe score of
``gfn.gym.helpers.bayesian_structure.scores``) with the default settings of the library's own
example script, ``tutorials/examples/train_bayesian_structure.py`` in the GitHub repository
``GFNOrg/torchgfn``, and follows the Jensen-Shannon divergence between the sampler's exact
distribution over terminal DAGs and our exact posterior while it trains.

The script's defaults, used here: the forward policy is its ``gnn_v2`` network (two graph-network
layers of width 128, then 4-head self-attention over the nodes; an edge's logit is a
sender-receiver dot product over a learned temperature, the exit logit an MLP of the global
feature), the backward policy uniform, the trajectory balance loss (``TBGFlowNet``, log Z
initialised at 0); Adam with learning rate 1e-4 (cut tenfold after 5,000 steps) for the
networks, SGD with momentum 0.8 and learning rate 0.1 for log Z; 32 trajectories sampled per
iteration into a replay buffer of 100,000 after 100 prefill iterations, one gradient step per
iteration on 32 trajectories drawn from it; epsilon-noisy exploration, epsilon decayed linearly
from 1.0 to 0.1 over the first half of the script's 10,100 iterations (epsilon for the edge
choice, epsilon / d^2 for the exit-or-edge choice); uniform graph prior. Training here stops at a
wall-clock budget instead of after 10,000 iterations, with the schedules still counted in
iterations as in the script.

The exact terminating distribution is computed by pushing probability from the empty graph through
the state graph of all DAGs (the method of ``posterior_exact`` in
``gfn.gym.helpers.bayesian_structure.jsd``, vectorised here, since that helper builds its state
graph in networkx from all 2^(d (d - 1)) directed graphs and takes minutes per evaluation).

On the d = 5 linear-Gaussian datasets of ``posterior_accuracy.py``, torchgfn's BGe score with its
defaults (alpha_mu = 1, alpha_w = d + 2, prior mean 0) gives the same posterior as
:class:`scientist.scores.BGe` up to its float32 rounding (largest log-probability difference
4e-5, JSD 2e-11 nats), so the JSD is taken to our exact posterior only.

torchgfn 2.4.1 pins ``numpy<2``, which conflicts with the project's numpy 2 (it runs fine on it),
so it is not in an extra: install it with ``pip install --no-deps torchgfn==2.4.1 dill einops
linear-attention-transformer tensordict torch_geometric`` plus their missing light dependencies
(pyvers, xxhash, axial-positional-embedding, linformer, local-attention, product-key-memory,
hyper-connections, colt5-attention, torch-einops-utils), which also keeps the project's torch. Usage::

    python benchmarks/torchgfn_baseline.py [--seeds 0 1 2] [--budget 360] [--every 30]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from scientist import Dataset
from scientist.metrics import jensen_shannon

__all__ = ["available", "run_torchgfn"]

log = logging.getLogger(__name__)

# Defaults of tutorials/examples/train_bayesian_structure.py (torchgfn).
N_ITERATIONS = 10_000
PREFILL = 100
SAMPLING_BATCH = 32
BATCH = 32
BUFFER_CAPACITY = 100_000
LR = 1e-4
LR_Z = 1e-1
MAX_EPSILON = 1.0
MIN_EPSILON = 0.1
N_LAYERS = 2
EMBEDDING = 128
N_HEADS = 4

_MODULES = (
    "gfn.gym.bayesian_structure",
    "gfn.gym.helpers.bayesian_structure.scores",
    "gfn.gflownet.trajectory_balance",
)


def available() -> str | None:
    """None if torchgfn is importable, else an install hint."""
    try:
        for name in _MODULES:
            __import__(name)
    except ImportError as exc:
        return (
            f"torchgfn is not importable ({exc}); install it with "
            "`pip install --no-deps torchgfn==2.4.1 dill einops linear-attention-transformer "
            "tensordict torch_geometric` and their missing light dependencies"
        )
    return None


def _scatter_sum(src: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    return src.new_zeros(size, src.shape[-1]).index_add_(0, index, src)


class _GraphNetworkPolicy(nn.Module):
    """The example script's ``gnn_v2`` forward policy (after GFN_vs_HVI's DAG-GFlowNet network)."""

    def __init__(self, n_nodes: int, num_node_classes: int, num_edge_classes: int) -> None:
        super().__init__()
        e = EMBEDDING
        self.n_nodes, self.num_node_classes = n_nodes, num_node_classes
        self.num_edge_classes = num_edge_classes
        self.input_dim, self.edges_dim = 1, n_nodes**2
        self.output_dim = n_nodes**2 + 1
        self.is_backward = False

        def mlp(n_in: int, n_out: int) -> nn.Sequential:
            return nn.Sequential(nn.Linear(n_in, e), nn.ReLU(), nn.Linear(e, n_out))

        self.node_embedding = nn.Embedding(num_node_classes, e)
        self.edge_embedding = nn.Parameter(torch.randn(1, e).clamp(-2.0, 2.0))
        self.layers = nn.ModuleList(
            nn.ModuleDict({k: mlp(3 * e, e) for k in ("edge", "node", "global")})
            for _ in range(N_LAYERS)
        )
        self.projection = nn.Linear(e, 3 * e)
        self.attention = nn.MultiheadAttention(e, N_HEADS)
        self.senders, self.receivers, self.stop = mlp(e, e), mlp(e, e), mlp(e, 1)
        self.temperature = nn.Parameter(torch.tensor(1.0))

    def forward(self, batch: Any) -> Any:
        from gfn.actions import GraphActions as GA
        from gfn.actions import GraphActionType
        from tensordict import TensorDict

        edge_index, ptr = batch.edge_index, batch.ptr
        n_graphs, n_rows = ptr.shape[0] - 1, batch.x.shape[0]
        graph_of = torch.repeat_interleave(torch.arange(n_graphs), ptr[1:] - ptr[:-1])
        h = self.node_embedding(batch.x.squeeze(-1).long())
        edges = self.edge_embedding.expand(edge_index.shape[1], -1)
        glob = h.new_zeros(n_graphs, h.shape[-1])
        for layer in self.layers:  # residual edge, node and global updates
            edges = edges + layer["edge"](
                torch.cat([h[edge_index[0]], h[edge_index[1]], edges], -1)
            )
            incoming = _scatter_sum(edges, edge_index[1], n_rows)
            h = h + layer["node"](torch.cat([h, incoming, glob[graph_of]], -1))
            glob = glob + layer["global"](
                torch.cat(
                    [
                        _scatter_sum(h, graph_of, n_graphs),
                        _scatter_sum(incoming, graph_of, n_graphs),
                        glob,
                    ],
                    -1,
                )
            )
        q, k, v = (
            self.projection(h.reshape(n_graphs, self.n_nodes, -1)).transpose(0, 1).chunk(3, -1)
        )
        attended = self.attention(q, k, v)[0].transpose(0, 1)
        logits = self.senders(attended) @ self.receivers(attended).transpose(1, 2)
        logits = logits.reshape(n_graphs, -1) / nn.functional.softplus(self.temperature)
        stop = self.stop(glob).squeeze(-1)
        action_type = torch.full((n_graphs, 3), -torch.inf)
        action_type[:, GraphActionType.ADD_EDGE] = nn.functional.logsigmoid(-stop)
        action_type[:, GraphActionType.EXIT] = nn.functional.logsigmoid(stop)
        zeros = torch.zeros
        return TensorDict(
            {
                GA.ACTION_TYPE_KEY: action_type,
                GA.EDGE_CLASS_KEY: zeros(n_graphs, self.num_edge_classes),
                GA.NODE_CLASS_KEY: zeros(n_graphs, self.num_node_classes),
                GA.NODE_INDEX_KEY: zeros(n_graphs, self.n_nodes),
                GA.EDGE_INDEX_KEY: logits,
            },
            batch_size=n_graphs,
        )


class _ExactTerminal:
    """Exact terminating distribution of a forward policy over the given DAGs (all DAGs on d nodes).

    A DAG is a parent-mask row (bit i of ``masks[k, j]``: edge i -> j); torchgfn's action for
    edge i -> j is ``i * d + j``.
    """

    def __init__(self, env: Any, masks: np.ndarray, chunk: int = 2048) -> None:
        from torch_geometric.data import Data

        k_dags, d = masks.shape
        bits = (masks[:, None, :] >> np.arange(d)[None, :, None]) & 1  # [k, i, j]: edge i -> j
        adjacency = bits.reshape(k_dags, d * d).astype(np.int64)
        codes = adjacency @ (1 << np.arange(d * d, dtype=np.int64))
        index = {int(c): k for k, c in enumerate(codes)}
        if 0 not in index:
            raise ValueError("the DAGs must include the empty graph")
        self.root = index[0]
        child = np.full((k_dags, d * d), -1, dtype=np.int64)
        for k, c in enumerate(codes):
            for e in np.flatnonzero(adjacency[k] == 0):
                child[k, e] = index.get(int(c) | (1 << int(e)), -1)
        order_by_size = adjacency.sum(1)
        self.levels = []
        for size in range(int(order_by_size.max()) + 1):
            rows, cols = np.nonzero(child[order_by_size == size] >= 0)
            parents = np.flatnonzero(order_by_size == size)[rows]
            self.levels.append((parents, cols, child[parents, cols]))
        graphs = np.empty(k_dags, dtype=object)
        for k in range(k_dags):
            src, dst = np.nonzero(bits[k])
            graphs[k] = Data(
                x=env.s0.x,
                edge_attr=env.s0.edge_attr,
                edge_index=torch.as_tensor(np.stack([src, dst]), dtype=torch.long),
            )
        self.states = [env.States(graphs[s : s + chunk]) for s in range(0, k_dags, chunk)]

    @torch.no_grad()
    def __call__(self, pf: Any) -> np.ndarray:
        """Probability that a trajectory from ``pf`` (no exploration) stops at each DAG."""
        from gfn.actions import GraphActions as GA
        from gfn.actions import GraphActionType

        log_exit, log_edge = [], []
        for states in self.states:
            dist = pf.to_probability_distribution(states, pf(states)).dists
            type_logp = dist[GA.ACTION_TYPE_KEY].logits
            log_exit.append(type_logp[:, GraphActionType.EXIT])
            log_edge.append(
                type_logp[:, GraphActionType.ADD_EDGE, None] + dist[GA.EDGE_INDEX_KEY].logits
            )
        p_exit = torch.cat(log_exit).double().exp().numpy()
        p_edge = torch.cat(log_edge).double().exp().numpy()
        flow = np.zeros(len(p_exit))
        flow[self.root] = 1.0
        for parents, edges, children in self.levels:  # by edge count: parents are done first
            np.add.at(flow, children, flow[parents] * p_edge[parents, edges])
        return flow * p_exit


_jsd = jensen_shannon  # nats


def _our_exact_posterior(data: Dataset) -> tuple[np.ndarray, np.ndarray]:
    from scientist.priors import make_prior
    from scientist.samplers.exact import enumerate_posterior
    from scientist.scores import make_score
    from scientist.scores.table import FamilyTable

    table = FamilyTable(make_score("bge").fit(data), make_prior("uniform"), None)
    masks, log_post = enumerate_posterior(table)
    return masks, np.exp(log_post)


def run_torchgfn(
    data: Dataset,
    budget_s: float,
    eval_every_s: float,
    seed: int = 0,
    exact_posterior: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[tuple[float, float]]:
    """Train for budget_s seconds of wall time (training time only; pause the clock while
    evaluating), every eval_every_s seconds record (elapsed_training_seconds, jsd).

    ``exact_posterior`` is (parent masks (K, d), probabilities (K,)) of every DAG on the data's
    d variables; without it, our exact BGe posterior with a uniform graph prior is enumerated. The
    JSD (nats) is between it and the sampler's exact terminating distribution; the first record is
    at 0 s (the untrained sampler), the others at the first iteration boundary after each multiple
    of ``eval_every_s``, with the training seconds actually elapsed.
    """
    import pandas as pd
    from gfn.actions import GraphActions as GA
    from gfn.containers.replay_buffer import ReplayBuffer
    from gfn.estimators import DiscreteGraphPolicyEstimator
    from gfn.gflownet.trajectory_balance import TBGFlowNet
    from gfn.gym.bayesian_structure import BayesianStructure
    from gfn.gym.helpers.bayesian_structure.priors import UniformPrior
    from gfn.gym.helpers.bayesian_structure.scores import BGeScore
    from gfn.utils.common import set_seed
    from gfn.utils.modules import GraphActionUniform

    masks, probs = exact_posterior if exact_posterior is not None else _our_exact_posterior(data)
    masks, probs = np.asarray(masks, dtype=np.int64), np.asarray(probs, dtype=np.float64)
    d = masks.shape[1]

    set_seed(seed)
    torch.manual_seed(seed)
    frame = pd.DataFrame(np.asarray(data.values, dtype=np.float64), columns=list(data.names))
    scorer = BGeScore(frame, UniformPrior())
    env = BayesianStructure(n_nodes=d, state_evaluator=scorer.state_evaluator, device="cpu")
    pf = DiscreteGraphPolicyEstimator(
        module=_GraphNetworkPolicy(d, env.num_node_classes, env.num_edge_classes)
    )
    uniform = GraphActionUniform(env.n_actions - 1, env.num_edge_classes, env.num_node_classes)
    pb = DiscreteGraphPolicyEstimator(module=uniform, is_backward=True)
    gflownet = TBGFlowNet(pf, pb)
    named = dict(gflownet.named_parameters())
    optimizer = torch.optim.Adam([v for k, v in named.items() if k != "logZ"], lr=LR)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, [N_ITERATIONS // 2], gamma=0.1)
    optimizer_z = torch.optim.SGD([named["logZ"]], lr=LR_Z, momentum=0.8)
    buffer = ReplayBuffer(env, capacity=BUFFER_CAPACITY)
    terminal = _ExactTerminal(env, masks)

    curve = [(0.0, _jsd(probs, terminal(pf)))]
    total_iterations = N_ITERATIONS + PREFILL
    elapsed, it = 0.0, 0
    while elapsed < budget_s:
        start = time.perf_counter()
        eps = MIN_EPSILON + (MAX_EPSILON - MIN_EPSILON) * max(
            0.0, 1.0 - it / (total_iterations // 2)
        )
        epsilon = defaultdict(float, {GA.ACTION_TYPE_KEY: eps / d**2, GA.EDGE_INDEX_KEY: eps})
        trajectories = gflownet.sample_trajectories(
            env, n=SAMPLING_BATCH, save_logprobs=False, epsilon=epsilon
        )
        with torch.no_grad():
            buffer.add(gflownet.to_training_samples(trajectories))
        if it >= PREFILL and len(buffer) >= BATCH:
            samples = buffer.sample(n_samples=BATCH)
            optimizer.zero_grad()
            optimizer_z.zero_grad()
            loss = gflownet.loss(env, samples, recalculate_all_logprobs=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            optimizer_z.step()
        it += 1
        elapsed += time.perf_counter() - start
        if elapsed >= len(curve) * eval_every_s or elapsed >= budget_s:
            curve.append((elapsed, _jsd(probs, terminal(pf))))
            log.info(
                "%.1f s, %d iterations, epsilon %.3f, log Z %.3f: JSD %.4f",
                elapsed,
                it,
                eps,
                float(named["logZ"]),
                curve[-1][1],
            )
    return curve


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--budget", type=float, default=360.0)
    ap.add_argument("--every", type=float, default=30.0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if (hint := available()) is not None:
        raise SystemExit(hint)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(Path(__file__).parent))
    from posterior_accuracy import gaussian_dataset

    for seed in args.seeds:
        curve = run_torchgfn(gaussian_dataset(seed), args.budget, args.every, seed=seed)
        print(f"\nDataset seed {seed}\n\n| training s | JSD (nats) |\n|---:|---:|")
        for t, j in curve:
            print(f"| {t:.1f} | {j:.4f} |", flush=True)


if __name__ == "__main__":
    main()
