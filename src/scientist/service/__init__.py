"""The guard service: the guardrail and the inference machine over HTTP, authenticated, audited.

Agents run in other processes and other languages; they call the service before each tool
call. ``scientist serve --posterior NAME=PATH --spec NAME=harms.yaml`` runs it;
:func:`create_app` builds the FastAPI app around a :class:`Service` (for tests or embedding);
:class:`scientist.client.GuardClient` calls it from Python.

Modules: :mod:`~scientist.service.core` (what is served), :mod:`~scientist.service.app`
(routes, errors, limits), :mod:`~scientist.service.auth` (API keys),
:mod:`~scientist.service.models` (request and response bodies),
:mod:`~scientist.service.metrics` (Prometheus text), :mod:`~scientist.service.cli` (the
``serve`` and ``keys`` commands), :mod:`~scientist.service.testing` (``scientist serve`` in a
child process, for integration tests). FastAPI is imported only when the app is built, so the
command line starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scientist.service.app import create_app
    from scientist.service.auth import KeyStore
    from scientist.service.core import Service

__all__ = ["KeyStore", "Service", "create_app"]

_WHERE = {
    "create_app": "scientist.service.app",
    "KeyStore": "scientist.service.auth",
    "Service": "scientist.service.core",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'scientist.service' has no attribute {name!r}")
