"""Where the service runs the inference that its cache does not hold: in the calling thread, or
in a pool of worker processes.

A new verdict over 1,000 theories takes a few milliseconds of pure computation (about 2 ms on
the benchmark posterior of ``benchmarks/service_load.py``; the first query of each shape also
compiles its elimination plan, about 15 ms), all of it holding Python's global interpreter lock.
Run in the serving process, it stalls every other request of that process for as long. With
``processes >= 1`` the computation runs in separate processes (started with ``spawn``, each
holding its own copy of the posteriors, with one BLAS thread), so the serving process only waits
for the result and keeps answering cached requests meanwhile.

The inference processes run at the serving processes' priority. They once ran at nice 10, when a
verdict took 200 ms and could hold a core away from cached answers; with verdicts of a few
milliseconds that only made new decisions wait behind every other process of a busy machine
(at 100 new decisions per second, with other jobs keeping the load average at 5: p99 36 ms
niced, 14 ms not).

Results are identical either way: the guard and the inference machine are pure functions of
the posterior and the request.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np

from scientist.errors import InputError, ScientistError
from scientist.guard import AuditStore, Guard, HarmSpec
from scientist.infer import ask
from scientist.posterior import Posterior

__all__ = ["Inference", "InferenceUnavailable", "answer", "verdict"]

Sources = Mapping[str, tuple[Posterior, HarmSpec | None]]


class InferenceUnavailable(ScientistError, RuntimeError):
    """An inference worker process died; the request can be retried."""


class _Unrecorded(AuditStore):
    """An audit store that keeps nothing: the service commits each verdict itself."""

    def __init__(self) -> None:
        self.url = "unrecorded"

    def append(self, record: dict[str, Any]) -> int:
        return 0


def finite_json(obj: Any, what: str) -> bytes:
    """Strict JSON (no NaN or Infinity); an :class:`InputError` when a number overflowed."""
    import json

    try:
        return json.dumps(obj, allow_nan=False).encode()
    except ValueError:
        raise InputError(
            f"{what} is not a finite number: the values in the request overflow the model's "
            "arithmetic. Use values on the scale of the data."
        ) from None


def verdict(
    posterior: Posterior,
    spec: HarmSpec,
    action: str | dict[str, Any],
    context: str | dict[str, Any] | None,
    threshold: float,
    rule: str,
    alpha: float,
) -> dict[str, Any]:
    """The guard's verdict without ``audit_id`` and ``time`` (checked to be strict JSON)."""
    guard = Guard(posterior, spec, threshold=threshold, rule=rule, alpha=alpha, audit=_Unrecorded())
    with np.errstate(all="ignore"):  # an overflow shows up as a non-finite number
        out = guard.decide(action, context).to_dict()
    base = {k: v for k, v in out.items() if k not in ("audit_id", "time")}
    finite_json(base, f"the verdict on {action!r}")
    return base


def answer(posterior: Posterior, query: str, level: float, seed: int, draws: int) -> bytes:
    """The inference machine's answer as strict JSON bytes."""
    with np.errstate(all="ignore"):
        result = ask(posterior, query, seed=seed, level=level, n_draws=draws)
    return finite_json(result.to_dict(), f"the answer to {query!r}")


# ---------------------------------------------------------------------- worker processes
_CHILD: dict[str, tuple[Posterior, HarmSpec | None]] = {}


def _child_init(sources: dict[str, tuple[Posterior, HarmSpec | None]]) -> None:
    # One BLAS / OpenMP thread: the inference is a stream of small contractions (a third
    # faster single-threaded), and the other cores belong to the serving processes.
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - scikit-learn brings threadpoolctl
        pass
    _CHILD.update(sources)
    # The libraries and posteriors live as long as the process: a full garbage collection
    # need not scan them (135,000 objects, 110 ms, with the benchmark's posterior).
    gc.collect()
    gc.freeze()


def _child_pid() -> int:
    return os.getpid()


def _child_verdict(name: str, *args: Any) -> dict[str, Any]:
    posterior, spec = _CHILD[name]
    assert spec is not None
    return verdict(posterior, spec, *args)


def _child_answer(name: str, *args: Any) -> bytes:
    return answer(_CHILD[name][0], *args)


class Inference:
    """Run verdicts and answers inline (``processes=0``) or in ``processes`` worker processes.

    Parameters
    ----------
    sources
        Name -> (posterior, harm spec or None).
    processes
        Worker processes (0: compute in the calling thread).
    """

    def __init__(self, sources: Sources, processes: int = 0) -> None:
        if not isinstance(processes, int) or processes < 0:
            raise InputError(f"processes={processes!r} is invalid: expected an integer >= 0.")
        self.sources = dict(sources)
        self.processes = processes
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        if processes:
            self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_child_init,
            initargs=(self.sources,),
        )
        for _ in range(self.processes):  # start the workers now, not on the first request
            pool.submit(_child_pid)
        return pool

    def wait_ready(self, timeout: float = 120.0) -> int:
        """Block until every worker process has started and loaded the posteriors, or
        ``timeout`` seconds have passed; return how many were seen ready (0 inline).

        The service calls it before it accepts requests, so that a ready service (``/healthz``)
        answers its first requests without waiting for processes to start.
        """
        deadline = time.monotonic() + timeout
        seen: set[int] = set()
        while len(seen) < self.processes:
            with self._lock:
                pool = self._pool
            left = deadline - time.monotonic()
            if pool is None or left <= 0:
                break
            # a worker that is ready takes tasks until the others are: ask again until each
            # process has answered once
            futures = [pool.submit(_child_pid) for _ in range(self.processes)]
            try:
                seen.update(f.result(timeout=left) for f in futures)
            except (TimeoutError, BrokenProcessPool):
                break
            if len(seen) < self.processes:
                time.sleep(0.05)
        return len(seen)

    def _run(self, fn: Any, *args: Any) -> Any:
        with self._lock:
            pool = self._pool
        if pool is None:
            raise InferenceUnavailable("The inference pool is closed.")
        try:
            return pool.submit(fn, *args).result()
        except BrokenProcessPool:
            with self._lock:
                if self._pool is pool:
                    pool.shutdown(wait=False, cancel_futures=True)
                    self._pool = self._start()
            raise InferenceUnavailable(
                "An inference worker process died; it was restarted. Retry the request."
            ) from None

    def verdict(
        self,
        name: str,
        action: str | dict[str, Any],
        context: str | dict[str, Any] | None,
        threshold: float,
        rule: str,
        alpha: float,
    ) -> dict[str, Any]:
        """The verdict of the posterior ``name`` (see :func:`verdict`)."""
        if not self.processes:
            posterior, spec = self.sources[name]
            assert spec is not None
            return verdict(posterior, spec, action, context, threshold, rule, alpha)
        return dict(self._run(_child_verdict, name, action, context, threshold, rule, alpha))

    def answer(self, name: str, query: str, level: float, seed: int, draws: int) -> bytes:
        """The answer of the posterior ``name`` (see :func:`answer`)."""
        if not self.processes:
            return answer(self.sources[name][0], query, level, seed, draws)
        return bytes(self._run(_child_answer, name, query, level, seed, draws))

    def close(self) -> None:
        """Stop the worker processes."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
