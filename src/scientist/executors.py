"""Where independent work runs: in this process, or as Ray tasks on a cluster.

An executor maps a function over independent items (sampler chains, chunks of guard
decisions) that all read one large shared object (the family table of local scores, the
posterior). :class:`LocalExecutor` runs them one after the other in this process;
:class:`RayExecutor` runs each item as a Ray task on whatever cluster ``ray.init`` reaches and
ships the shared object once through Ray's object store: it is put there once per call, and
each Ray worker process deserialises it once and keeps it for the later tasks of that call.

The results come back in the order of the items, and a function that takes its randomness
from its item (a chain's seed) gives the same results on either executor.

This is the only module of the library that runs Ray tasks; Ray is an optional extra
(``pip install 'scientist-ai[ray]'``) imported only when a :class:`RayExecutor` first runs.

References
----------
.. [1] P. Moritz et al., "Ray: a distributed framework for emerging AI applications", OSDI 2018.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from scientist.errors import InputError, MissingDependencyError

__all__ = ["EXECUTORS", "Executor", "LocalExecutor", "RayExecutor", "make_executor", "require_ray"]

EXECUTORS = ("local", "ray")
RAY_INSTALL = "pip install 'scientist-ai[ray]'"

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")


class Executor(Protocol):
    """Runs ``fn(shared, item)`` for every item; results in the order of the items."""

    name: str

    def map(self, fn: Callable[[Any, Any], Any], items: Sequence[Any], *, shared: Any) -> list[Any]:
        """``[fn(shared, item) for item in items]``, wherever the executor runs them."""
        ...

    @property
    def n_workers(self) -> int:
        """How many items can run at the same time."""
        ...


class LocalExecutor:
    """Run every item in this process, one after the other."""

    name = "local"

    def map(self, fn: Callable[[S, T], R], items: Sequence[T], *, shared: S) -> list[R]:
        """``[fn(shared, item) for item in items]``."""
        return [fn(shared, item) for item in items]

    @property
    def n_workers(self) -> int:
        """Always 1."""
        return 1

    def __repr__(self) -> str:
        return "LocalExecutor()"


def require_ray(feature: str = "executor='ray'") -> Any:
    """Import and return the ``ray`` module, or say how to install it.

    Raises
    ------
    MissingDependencyError
        Ray is not installed; the message names the extra to install.
    """
    try:
        import ray
    except ImportError as exc:
        raise MissingDependencyError(
            f"{feature} needs Ray, which is not installed: run `{RAY_INSTALL}` (or "
            "`pip install 'ray[serve]'`), or use executor='local'."
        ) from exc
    return ray


class RayExecutor:
    """Run every item as a Ray task; the shared object goes through the object store once.

    Parameters
    ----------
    address
        The cluster to join when Ray is not initialised yet: ``"auto"`` (a cluster started on
        this machine with ``ray start``), ``"ray://host:10001"`` (Ray Client) or ``None``
        (``$RAY_ADDRESS`` if set, else a new local instance). Ignored when this process
        already called ``ray.init``.
    num_cpus
        CPUs per task (default 1).

    Notes
    -----
    Each task is a plain Ray task: Ray retries a task whose worker died, and a task that
    raises re-raises the same exception here. The first call of a process pays for
    ``ray.init`` (seconds); later calls pay Ray's per-task overhead (about a millisecond).
    """

    name = "ray"

    def __init__(self, address: str | None = None, *, num_cpus: float = 1.0) -> None:
        if address is not None and not isinstance(address, str):
            raise InputError(
                f"address={address!r} is invalid: expected None, 'auto' or 'ray://host:port'."
            )
        if not isinstance(num_cpus, int | float) or isinstance(num_cpus, bool) or num_cpus <= 0:
            raise InputError(f"num_cpus={num_cpus!r} is invalid: expected a number > 0.")
        self.address = address
        self.num_cpus = float(num_cpus)
        require_ray()

    def _ray(self) -> Any:
        ray = require_ray()
        if not ray.is_initialized():
            ray.init(address=self.address)
        return ray

    def map(self, fn: Callable[[S, T], R], items: Sequence[T], *, shared: S) -> list[R]:
        """Run ``fn(shared, item)`` as one Ray task per item and wait for all of them."""
        ray = self._ray()
        if not items:
            return []
        ref = ray.put(shared)
        task = ray.remote(num_cpus=self.num_cpus)(_run_task)
        # the reference travels inside a list so that Ray does not resolve it per task: the
        # worker resolves it once and keeps the object for the next task with the same ref
        futures = [task.remote(fn, [ref], item) for item in items]
        return list(ray.get(futures))

    @property
    def n_workers(self) -> int:
        """Tasks that can run at once: the cluster's CPUs divided by ``num_cpus``."""
        ray = self._ray()
        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        return max(1, int(cpus // self.num_cpus))

    def __repr__(self) -> str:
        return f"RayExecutor(address={self.address!r}, num_cpus={self.num_cpus:g})"


_SHARED: OrderedDict[str, Any] = OrderedDict()
_SHARED_LOCK = threading.Lock()
_SHARED_KEPT = 2


def _run_task(fn: Callable[[Any, Any], Any], boxed: list[Any], item: Any) -> Any:
    """Body of a Ray task: resolve the shared object once per worker process, then call ``fn``."""
    import ray

    ref = boxed[0]
    key = ref.hex()
    with _SHARED_LOCK:
        shared = _SHARED.get(key)
        if shared is None:
            shared = ray.get(ref)
            _SHARED[key] = shared
            while len(_SHARED) > _SHARED_KEPT:
                _SHARED.popitem(last=False)
        else:
            _SHARED.move_to_end(key)
    return fn(shared, item)


def make_executor(executor: str | Executor) -> Executor:
    """``"local"``, ``"ray"`` or an executor instance -> an executor.

    Raises
    ------
    InputError
        ``executor`` is neither a known name nor an executor.
    MissingDependencyError
        ``executor="ray"`` without Ray installed.
    """
    if isinstance(executor, str):
        if executor == "local":
            return LocalExecutor()
        if executor == "ray":
            return RayExecutor()
    elif callable(getattr(type(executor), "map", None)) and hasattr(type(executor), "n_workers"):
        # looked up on the type: reading ``n_workers`` of a RayExecutor would start Ray
        return executor
    raise InputError(
        f"executor={executor!r} is invalid: expected 'local', 'ray', or an executor such as "
        "scientist.RayExecutor(address='auto')."
    )
