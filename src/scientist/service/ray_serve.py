"""The guard service on Ray Serve: N replicas of the same app behind Ray's HTTP proxy.

``scientist serve --ray --replicas N`` deploys the app of :func:`scientist.service.create_app`
as a Ray Serve deployment of ``N`` replicas on the cluster that ``ray.init`` reaches (a local
instance by default, ``--ray-address auto`` for a cluster started with ``ray start``). Every
replica loads the posteriors and specs from the same paths and opens the same audit and key
store, so every decision any replica makes lands in one audit log: on more than one machine
the store must be a server every node reaches (PostgreSQL), and the posterior files must be
readable at the same path on every node (a shared file system, or copied there first).

A replica runs its inference in its own process (``processes=0``): Serve scales by replicas, one
CPU each, instead of the inference processes of ``scientist serve --workers``.

References
----------
.. [1] Ray Serve documentation, "FastAPI HTTP deployments" and "Deploy on a cluster".
"""

from __future__ import annotations

import json
import time
import warnings
from typing import Any

from scientist.errors import InputError
from scientist.executors import require_ray

__all__ = ["APP_NAME", "deploy", "import_serve", "shutdown"]

APP_NAME = "scientist-guard"


def import_serve() -> Any:
    """Import ``ray.serve`` (installing hint if missing) without its import-time warning.

    Ray Serve's config models still pass extra keywords to pydantic's ``Field``, which pydantic 2
    reports with a ``PydanticDeprecatedSince20`` warning on import; that is Ray's to fix and says
    nothing about this library, so only that message is silenced, only during the import.
    """
    require_ray("the guard service on Ray Serve (--ray)")
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message="Using extra keyword arguments on `Field`",
            category=DeprecationWarning,
        )
        from ray import serve
    return serve


def _app_builder(config: dict[str, Any]) -> Any:
    """A function (Serve calls it in each replica) that builds the app from ``config``."""
    text = json.dumps(config)

    def build() -> Any:
        import os

        from scientist.service.app import CONFIG_ENV, app_from_env

        os.environ[CONFIG_ENV] = text  # the same factory as `scientist serve`
        return app_from_env()

    return build


def deploy(
    config: dict[str, Any],
    *,
    replicas: int = 1,
    host: str = "127.0.0.1",
    port: int = 8000,
    address: str | None = None,
    max_ongoing_requests: int = 32,
    timeout_s: float = 120.0,
) -> str:
    """Deploy the guard service on Ray Serve and return its URL once every replica answers.

    Parameters
    ----------
    config
        What ``scientist serve`` passes to its workers: ``posteriors`` and ``specs`` (name ->
        path), ``db``, ``threshold``, ``rule``, ``alpha``, ``cache_size``, ``max_body``.
    replicas
        Copies of the app; Serve's proxy spreads the requests over them.
    host, port
        Where Serve's HTTP proxy listens (once per Ray cluster: a later deployment keeps the
        first one's address).
    address
        The Ray cluster to join if this process has not called ``ray.init`` (None: a new local
        instance, or ``$RAY_ADDRESS``).
    max_ongoing_requests
        Requests a replica works on at once (Serve's default is 5). A cached verdict takes a
        few milliseconds, mostly the audit commit, so a replica serves more of them at once
        than Serve's default allows: 32 gave 75 decisions/s against 56 with 5, one replica,
        on the 2-core machine of ``benchmarks/scale.py``.
    timeout_s
        How long to wait for the replicas to start.

    Raises
    ------
    InputError
        ``replicas`` is not a positive integer.
    MissingDependencyError
        Ray Serve is not installed.
    """
    for name, value in (("replicas", replicas), ("max_ongoing_requests", max_ongoing_requests)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InputError(f"{name}={value!r} is invalid: expected an integer >= 1.")
    serve = import_serve()
    import ray

    if not ray.is_initialized():
        ray.init(address=address)
    config = {**config, "processes": 0}
    serve.start(http_options={"host": host, "port": port})
    deployment = serve.deployment(
        serve.ingress(_app_builder(config))(),
        name="guard",
        num_replicas=replicas,
        max_ongoing_requests=max_ongoing_requests,
    )
    serve.run(deployment.bind(), name=APP_NAME, route_prefix="/", blocking=False)
    start = time.monotonic()
    while True:
        status = serve.status().applications.get(APP_NAME)
        if status is not None and str(status.status).endswith("RUNNING"):
            break
        if time.monotonic() - start > timeout_s:
            raise TimeoutError(f"the Serve replicas did not start within {timeout_s:g} s: {status}")
        time.sleep(0.25)
    return f"http://{host}:{port}"


def shutdown() -> None:
    """Delete the guard deployment and stop Serve on this cluster."""
    serve = import_serve()
    serve.shutdown()
