"""A replay buffer of transitions ``G -> G + (i -> j)`` for off-policy GFlowNet training.

DAG-GFlowNet trains on transitions drawn uniformly from the recent past (Deleu et al. 2022,
section 3.3): the modified detailed-balance loss holds for any transition, so the buffer needs
no importance weights. Storage is a fixed circular block of tensors on the training device.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["ReplayBuffer", "Transitions"]


@dataclass
class Transitions:
    """A batch of transitions: source graphs, their action masks, actions, log-reward changes,
    and the action masks of the target graphs."""

    adj: torch.Tensor
    valid: torch.Tensor
    action: torch.Tensor
    delta: torch.Tensor
    valid_next: torch.Tensor

    def __len__(self) -> int:
        return int(self.action.shape[0])


class ReplayBuffer:
    """Circular storage of the last ``capacity`` transitions.

    Parameters
    ----------
    capacity
        Transitions kept.
    d
        Number of nodes.
    device
        Where the tensors live.
    """

    def __init__(self, capacity: int, d: int, device: torch.device | str = "cpu") -> None:
        self.capacity, self.d = int(capacity), d
        a = d * d + 1
        dev = torch.device(device)
        self._data = Transitions(
            adj=torch.zeros((self.capacity, d, d), dtype=torch.bool, device=dev),
            valid=torch.zeros((self.capacity, a), dtype=torch.bool, device=dev),
            action=torch.zeros(self.capacity, dtype=torch.int64, device=dev),
            delta=torch.zeros(self.capacity, dtype=torch.float32, device=dev),
            valid_next=torch.zeros((self.capacity, a), dtype=torch.bool, device=dev),
        )
        self._next = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, batch: Transitions) -> None:
        """Store a batch, overwriting the oldest transitions when full."""
        n = len(batch)
        if n == 0:
            return
        if n > self.capacity:
            raise ValueError(f"A batch of {n} transitions exceeds the capacity {self.capacity}.")
        idx = (torch.arange(n, device=batch.action.device) + self._next) % self.capacity
        for field in ("adj", "valid", "action", "delta", "valid_next"):
            getattr(self._data, field)[idx] = getattr(batch, field).to(
                getattr(self._data, field).dtype
            )
        self._next = (self._next + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def state_dict(self) -> dict[str, torch.Tensor | int]:
        """The filled part of the buffer and its write position, on the CPU."""
        out: dict[str, torch.Tensor | int] = {"next": self._next, "size": self.size}
        for field in ("adj", "valid", "action", "delta", "valid_next"):
            out[field] = getattr(self._data, field)[: self.size].cpu()
        return out

    def load_state_dict(self, state: dict[str, torch.Tensor | int]) -> None:
        """Restore :meth:`state_dict` (into a buffer of at least the same capacity)."""
        size = int(state["size"])
        if size > self.capacity:
            raise ValueError(f"The saved buffer holds {size} transitions, over the capacity.")
        for field in ("adj", "valid", "action", "delta", "valid_next"):
            value = state[field]
            assert isinstance(value, torch.Tensor)
            getattr(self._data, field)[:size] = value.to(getattr(self._data, field).device)
        self._next, self.size = int(state["next"]), size

    def sample(self, n: int, generator: torch.Generator) -> Transitions:
        """``n`` transitions drawn uniformly with replacement."""
        if self.size == 0:
            raise ValueError("The replay buffer is empty.")
        dev = self._data.action.device
        idx = torch.randint(self.size, (n,), generator=generator, device=dev)
        d = self._data
        return Transitions(d.adj[idx], d.valid[idx], d.action[idx], d.delta[idx], d.valid_next[idx])
