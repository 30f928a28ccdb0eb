"""What the guard service serves, independent of HTTP: posteriors, harm specs, guards, the store.

:class:`Service` holds the loaded posteriors (each with an optional harm spec), the audit store
and the key store, and answers two calls:

* :meth:`Service.decide` judges an action with :class:`scientist.guard.Guard`, commits the
  verdict to the audit store and only then returns it (with its ``audit_id``); if the store
  fails, :class:`~scientist.guard.AuditError` propagates and nothing is returned.
* :meth:`Service.ask` answers a query with :func:`scientist.ask`.

It also serves what the web page shows (:mod:`scientist.service.views`): a posterior's edge
marginals and top theories (cached), and the audit store's recent decisions.

Both are pure functions of the loaded posterior and the request (the library keeps no state
between calls and fixes its seeds), so the service memoises them in a bounded LRU cache: a
repeated request skips the inference but is still audited, one record per call, with its own
time and id. ``cache_size=0`` turns the cache off. A miss runs in the calling thread or, with
``processes >= 1``, in worker processes (:mod:`scientist.service.inference`), so that a long
computation does not hold up the cached requests of the same server process.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from scientist.errors import InputError
from scientist.guard import RULES, AuditStore, Guard, HarmSpec
from scientist.posterior import Posterior
from scientist.service.auth import KeyStore
from scientist.service.inference import Inference, _Unrecorded
from scientist.service.metrics import Metrics
from scientist.service.views import decision_view, edges_view, theories_view

__all__ = ["Loaded", "Service"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Loaded:
    """One served posterior and its harm spec (None: it answers questions but judges nothing)."""

    name: str
    posterior: Posterior
    spec: HarmSpec | None
    fingerprint: str


class _LRU:
    """A small thread-safe least-recently-used map."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: str, value: Any) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)


class Service:
    """The posteriors, specs and stores behind the HTTP app.

    Parameters
    ----------
    posteriors
        Name -> a :class:`Posterior` or the path of a saved one. Names are 1-64 characters of
        letters, digits, ``_``, ``.`` and ``-``.
    specs
        Name -> a :class:`HarmSpec` or a YAML path; each name must be a posterior's.
    audit
        The audit store (an :class:`AuditStore` or a SQLAlchemy URL); API keys live in the same
        database unless ``keys`` is given.
    keys
        The key store (default: one on the audit store's database).
    threshold, rule, alpha
        Defaults of the guard (a request may override ``threshold`` and ``rule``).
    cache_size
        Entries of the answer cache (0: no cache).
    processes
        Worker processes that run the inference on a cache miss (0: the calling thread); see
        :mod:`scientist.service.inference`. Call :meth:`close` to stop them.
    """

    def __init__(
        self,
        posteriors: Mapping[str, Posterior | str | Path],
        specs: Mapping[str, HarmSpec | str | Path] | None = None,
        *,
        audit: AuditStore | str = "sqlite:///audit.db",
        keys: KeyStore | None = None,
        threshold: float = 0.01,
        rule: str = "prop45",
        alpha: float = 0.01,
        cache_size: int = 4096,
        processes: int = 0,
    ) -> None:
        if not posteriors:
            raise InputError(
                "posteriors is empty: serve at least one, e.g. --posterior asia=asia.npz."
            )
        specs = dict(specs or {})
        for name in specs:
            if name not in posteriors:
                raise InputError(
                    f"spec {name!r} names no loaded posterior; the posteriors are {sorted(posteriors)}."
                )
        if rule not in RULES:
            raise InputError(f"rule={rule!r} is invalid: expected one of {list(RULES)}.")
        if not isinstance(cache_size, int) or cache_size < 0:
            raise InputError(f"cache_size={cache_size!r} is invalid: expected an integer >= 0.")
        self.threshold, self.rule, self.alpha = float(threshold), rule, float(alpha)
        self.loaded: dict[str, Loaded] = {}
        for name, post in posteriors.items():
            if not isinstance(name, str) or not _NAME.match(name):
                raise InputError(
                    f"posterior name {name!r} is invalid: expected 1-64 letters, digits, '_', '.' "
                    "or '-', starting with a letter or digit."
                )
            p = post if isinstance(post, Posterior) else Posterior.load(post)
            raw = specs.get(name)
            spec = (
                None
                if raw is None
                else raw
                if isinstance(raw, HarmSpec)
                else HarmSpec.from_yaml(str(raw))
            )
            if spec is not None:  # validates the spec and the defaults now, not per request
                Guard(
                    p, spec, threshold=self.threshold, rule=rule, alpha=alpha, audit=_Unrecorded()
                )
            self.loaded[name] = Loaded(name, p, spec, p.fingerprint())
        self.audit = audit if isinstance(audit, AuditStore) else AuditStore(audit)
        self.keys = keys if keys is not None else KeyStore(self.audit.engine)
        self.metrics = Metrics()
        self._verdicts = _LRU(cache_size)
        self._answers = _LRU(min(cache_size, 256))
        self._views = _LRU(min(cache_size, 64))
        self.inference = Inference(
            {k: (v.posterior, v.spec) for k, v in self.loaded.items()}, processes
        )

    def close(self) -> None:
        """Stop the inference processes and close the stores' connections."""
        self.inference.close()
        self.audit.close()

    def mask(self, text: str) -> str:
        """``text`` with the store's URL shown without its password (for logs)."""
        url = self.audit.url
        try:
            safe = sa.engine.make_url(url).render_as_string(hide_password=True)
        except (sa.exc.ArgumentError, ValueError):
            safe = "<the audit store>"
        return text.replace(url, safe)

    # ------------------------------------------------------------------ reading
    def get(self, name: str) -> Loaded:
        """The loaded posterior ``name``; a clear error naming the loaded ones otherwise."""
        loaded = self.loaded.get(name)
        if loaded is None:
            raise InputError(
                f"posterior={name!r} is not loaded; the loaded posteriors are {sorted(self.loaded)}."
            )
        return loaded

    def info(self) -> list[dict[str, Any]]:
        """What is loaded: variables, number of theories, fingerprint, principles."""
        return [
            {
                "name": item.name,
                "variables": [v.to_dict() for v in item.posterior.variables],
                "n_theories": item.posterior.n_theories,
                "fingerprint": item.fingerprint,
                "weighting": item.posterior.weighting,
                "principles": [] if item.spec is None else [p.name for p in item.spec.principles],
            }
            for item in self.loaded.values()
        ]

    # ------------------------------------------------------------------ the web page's views
    def edges(self, name: str) -> dict[str, Any]:
        """The edge-marginal matrix of posterior ``name`` (see :mod:`~scientist.service.views`)."""
        item = self.get(name)
        key = json.dumps(["edges", name])
        out = self._views.get(key)
        if out is None:
            out = edges_view(name, item.posterior)
            self._views.put(key, out)
        return out

    def theories(self, name: str, *, top: int = 5, level: float = 0.9) -> dict[str, Any]:
        """The ``top`` theories of posterior ``name`` with their mechanisms and effect sizes."""
        item = self.get(name)
        key = json.dumps(["theories", name, top, level])
        out = self._views.get(key)
        if out is None:
            out = theories_view(name, item.posterior, top, level)
            self._views.put(key, out)
        return out

    def decisions(
        self, *, decision: str | None = None, before_id: int | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Audit records newest first, optionally of one kind of decision."""
        return self.audit.recent(before_id=before_id, decision=decision, limit=limit)

    def decision(self, audit_id: int) -> dict[str, Any] | None:
        """One audit record with its verdict's explanation; None if there is no such record."""
        record = self.audit.get(audit_id)
        return None if record is None else decision_view(record)

    # ------------------------------------------------------------------ deciding
    def decide(
        self,
        posterior: str,
        action: str | dict[str, Any],
        context: str | dict[str, Any] | None = None,
        *,
        threshold: float | None = None,
        rule: str | None = None,
    ) -> dict[str, Any]:
        """Judge an action and commit the verdict; returns the verdict with its ``audit_id``."""
        item = self.get(posterior)
        if item.spec is None:
            raise InputError(
                f"posterior={posterior!r} has no harm spec, so it cannot judge actions; "
                f"serve it with --spec {posterior}=harms.yaml."
            )
        threshold = self.threshold if threshold is None else float(threshold)
        rule = self.rule if rule is None else rule
        key = json.dumps([posterior, action, context, threshold, rule])
        base = self._verdicts.get(key)
        self.metrics.observe_cache("decide", base is not None)
        if base is None:
            started = time.perf_counter()
            base = self.inference.verdict(posterior, action, context, threshold, rule, self.alpha)
            self.metrics.observe_inference("decide", time.perf_counter() - started)
            self._verdicts.put(key, base)
        out = {**base, "audit_id": None, "time": dt.datetime.now(dt.UTC).isoformat()}
        started = time.perf_counter()
        try:
            out["audit_id"] = self.audit.append(
                {
                    "action": out["action"],
                    "context": out["context"],
                    "decision": out["decision"],
                    "rule": out["rule"],
                    "threshold": out["threshold"],
                    "estimate": out["estimate"],
                    "posterior": out["posterior"],
                    "verdict": out,
                }
            )
        except Exception:
            self.metrics.observe_audit_failure()
            raise
        self.metrics.observe_commit(time.perf_counter() - started)
        self.metrics.observe_decision(posterior, out["decision"])
        return out

    # ------------------------------------------------------------------ asking
    def ask(
        self, posterior: str, query: str, *, level: float = 0.9, seed: int = 0, draws: int = 32
    ) -> bytes:
        """The answer to ``query`` as JSON bytes (``Answer.to_dict()``)."""
        item = self.get(posterior)
        key = json.dumps([posterior, query, level, seed, draws])
        body = self._answers.get(key)
        self.metrics.observe_cache("ask", body is not None)
        if body is None:
            started = time.perf_counter()
            body = self.inference.answer(item.name, query, level, seed, draws)
            self.metrics.observe_inference("ask", time.perf_counter() - started)
            self._answers.put(key, body)
        return body
