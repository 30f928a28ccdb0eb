"""DAG-GFlowNet (Deleu et al., UAI 2022): an amortized, trainable sampler of causal theories.

Split as in torchgfn: the environment (:mod:`.env`) over batches of states (:mod:`.states`), the
policy network (:mod:`.estimator`), trajectory sampling (:mod:`.sampler`), the replay buffer
(:mod:`.buffer`), one loss per module (:mod:`.losses`), the exact terminating distribution for
small graphs (:mod:`.terminating`) and the training loop (:mod:`.trainer`).
"""

from scientist.samplers.gflownet.buffer import ReplayBuffer, Transitions
from scientist.samplers.gflownet.env import DAGEnv
from scientist.samplers.gflownet.estimator import (
    AdjacencyPolicy,
    ChildParentPolicy,
    EdgePolicy,
    make_policy,
)
from scientist.samplers.gflownet.losses import modified_db_loss
from scientist.samplers.gflownet.sampler import draw_dags, sample_actions
from scientist.samplers.gflownet.states import DAGStates
from scientist.samplers.gflownet.terminating import (
    StateGraph,
    exact_log_posterior,
    jensen_shannon,
    terminating_distribution,
)
from scientist.samplers.gflownet.trainer import GFlowNet, GFlowNetConfig, resolve_device

__all__ = [
    "AdjacencyPolicy",
    "ChildParentPolicy",
    "DAGEnv",
    "DAGStates",
    "EdgePolicy",
    "GFlowNet",
    "GFlowNetConfig",
    "ReplayBuffer",
    "StateGraph",
    "Transitions",
    "draw_dags",
    "exact_log_posterior",
    "jensen_shannon",
    "make_policy",
    "modified_db_loss",
    "resolve_device",
    "sample_actions",
    "terminating_distribution",
]
