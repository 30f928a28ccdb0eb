"""``scientist serve`` and ``scientist keys``: run the guard service and manage its API keys.

FastAPI and uvicorn are imported inside the commands, so ``scientist --help`` stays fast.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from scientist.cli_errors import friendly
from scientist.errors import InputError

__all__ = ["keys_app", "serve"]

_err = Console(stderr=True)
_out = Console()
F = TypeVar("F", bound=Callable[..., Any])
DB = "sqlite:///audit.db"
DbOption = Annotated[
    str, typer.Option("--db", help="Audit and key store (SQLAlchemy URL; PostgreSQL by URL).")
]

keys_app = typer.Typer(
    help="Create, list and revoke API keys of the guard service.", no_args_is_help=True
)


def _pairs(option: str, values: list[str]) -> dict[str, str]:
    """``["a=x.npz", "b=y.npz"]`` -> ``{"a": "x.npz", ...}`` with a clear error."""
    out: dict[str, str] = {}
    for item in values:
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise InputError(
                f"{option} {item!r} is invalid: expected NAME=PATH, e.g. asia=asia.npz."
            )
        if name.strip() in out:
            raise InputError(f"{option}: the name {name.strip()!r} is given twice.")
        out[name.strip()] = str(Path(path.strip()).resolve())
    return out


@keys_app.command("create")
@friendly
def keys_create(
    scope: Annotated[
        list[str],
        typer.Option("--scope", "-s", help="decide, ask or admin; repeat for several."),
    ],
    name: Annotated[str, typer.Option(help="A label for the key (who uses it).")] = "",
    db: DbOption = DB,
) -> None:
    """Create an API key and print it once (only its SHA-256 digest is stored)."""
    from scientist.service.auth import KeyStore

    key_id, token = KeyStore(db).create(scope, name=name)
    _err.print(
        f"key {key_id} with scopes {sorted(set(scope))}: store it now, it is not shown again",
        highlight=False,
    )
    typer.echo(token)


@keys_app.command("list")
@friendly
def keys_list(
    db: DbOption = DB,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """List the keys (ids, names, scopes, dates; never the keys themselves)."""
    from scientist.service.auth import KeyStore

    rows = KeyStore(db).list()
    if as_json:
        for r in rows:
            typer.echo(json.dumps(r))
        return
    table = Table(title=f"API keys in {db}")
    for col in ("id", "name", "scopes", "created", "revoked"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["id"], r["name"], " ".join(r["scopes"]), r["created"][:19], (r["revoked"] or "")[:19]
        )
    _out.print(table)


@keys_app.command("revoke")
@friendly
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (see `scientist keys list`).")],
    db: DbOption = DB,
) -> None:
    """Revoke a key; servers stop accepting it within a few seconds."""
    from scientist.service.auth import KeyStore

    if not KeyStore(db).revoke(key_id):
        raise InputError(f"key_id={key_id!r}: no such active key; see `scientist keys list`.")
    _err.print(f"revoked {key_id}", highlight=False)


@friendly
def serve(
    posterior: Annotated[
        list[str],
        typer.Option("--posterior", "-p", help="NAME=PATH of a saved posterior; repeatable."),
    ],
    spec: Annotated[
        list[str] | None,
        typer.Option("--spec", help="NAME=harms.yaml: the harm spec of posterior NAME."),
    ] = None,
    db: DbOption = DB,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    threshold: Annotated[float, typer.Option(help="Default largest acceptable P(harm).")] = 0.01,
    rule: Annotated[
        str,
        typer.Option(
            help="Default bound reported as the estimate: posterior_predictive, prop33, prop45 "
            "or credible (a decision needs every rule to agree)."
        ),
    ] = "prop45",
    alpha: Annotated[float, typer.Option(help="Plausibility level of Prop 4.5.")] = 0.01,
    cache_size: Annotated[int, typer.Option(help="Answer-cache entries (0: off).")] = 4096,
    inference_processes: Annotated[
        int,
        typer.Option(
            help="Processes per worker that run the inference on a cache miss, started before "
            "the worker accepts requests (0: in the worker)."
        ),
    ] = 1,
    max_body: Annotated[int, typer.Option(help="Largest request body in bytes.")] = 64 * 1024,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    access_log: Annotated[
        bool, typer.Option(help="Log one line per request (method, path, status; never a key).")
    ] = True,
    use_ray: Annotated[
        bool,
        typer.Option("--ray", help="Run on Ray Serve (needs `pip install 'scientist-ai[ray]'`)."),
    ] = False,
    replicas: Annotated[
        int, typer.Option(help="With --ray: replicas of the service, sharing one audit store.")
    ] = 1,
    ray_address: Annotated[
        str | None,
        typer.Option(help="With --ray: the Ray cluster to join ('auto', 'ray://host:10001')."),
    ] = None,
) -> None:
    """Serve the guard and the inference machine over HTTP (see /docs once it runs)."""
    import uvicorn

    from scientist.service.app import CONFIG_ENV
    from scientist.service.core import Service

    if workers < 1:
        raise InputError(f"workers={workers} is invalid: expected an integer >= 1.")
    if replicas < 1:
        raise InputError(f"replicas={replicas} is invalid: expected an integer >= 1.")
    if not use_ray and (replicas != 1 or ray_address is not None):
        raise InputError(
            "--replicas and --ray-address need --ray; on one machine without Ray use --workers."
        )
    if use_ray:
        if workers != 1:
            raise InputError(
                f"workers={workers} is invalid with --ray: Serve scales by --replicas instead."
            )
        from scientist.service.ray_serve import import_serve

        import_serve()  # says how to install Ray before anything is loaded
    if inference_processes < 0:
        raise InputError(
            f"inference_processes={inference_processes} is invalid: expected an integer >= 0."
        )
    if max_body < 1024:
        raise InputError(f"max_body={max_body} is invalid: expected at least 1024 bytes.")
    posteriors, specs = _pairs("--posterior", posterior), _pairs("--spec", spec or [])
    config = {
        "posteriors": posteriors,
        "specs": specs,
        "db": db,
        "threshold": threshold,
        "rule": rule,
        "alpha": alpha,
        "cache_size": cache_size,
        "processes": inference_processes,
        "max_body": max_body,
    }
    # Load and validate everything once here, so a mistake stops the command with a clear
    # message (exit 2) instead of failing in every worker; this also creates the tables.
    service = Service(
        posteriors,
        specs,
        audit=db,
        threshold=threshold,
        rule=rule,
        alpha=alpha,
        cache_size=cache_size,
    )
    if service.keys.count_active() == 0:
        _err.print(
            "[yellow]No API keys yet:[/] every call will get 401. Create one with "
            f"`scientist keys create --scope decide --db {escape(service.mask(db))}`.",
            highlight=False,
            soft_wrap=True,
        )
    service.audit.close()
    names = ", ".join(
        f"{item.name} ({item.posterior.n_theories} "
        f"{'theory' if item.posterior.n_theories == 1 else 'theories'}"
        f"{', spec' if item.spec is not None else ''})"
        for item in service.loaded.values()
    )
    _err.print(
        f"serving {names} on http://{host}:{port} with "
        + (f"{replicas} Ray Serve replica(s)" if use_ray else f"{workers} worker(s)")
        + f"; the web page is at http://{host}:{port}/",
        highlight=False,
        soft_wrap=True,
    )
    if use_ray:
        _serve_on_ray(config, replicas, host, port, ray_address, service.mask(db))
        return
    os.environ[CONFIG_ENV] = json.dumps(config)
    uvicorn.run(
        "scientist.service.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=access_log,
        http="scientist.service.protocol:NoDelayH11Protocol",
    )


def _serve_on_ray(
    config: dict[str, Any],
    replicas: int,
    host: str,
    port: int,
    address: str | None,
    db: str,
) -> None:
    """Deploy on Ray Serve, then wait until Ctrl-C (or SIGTERM) and take the deployment down."""
    import signal
    import threading

    from scientist.service import ray_serve

    if str(config["db"]).startswith("sqlite"):
        _err.print(
            f"[yellow]The audit store {escape(db)} is a SQLite file:[/] fine on one machine; "
            "replicas on other nodes need a shared server (--db postgresql+psycopg://...).",
            highlight=False,
            soft_wrap=True,
        )
    stop = threading.Event()
    # both stop the service, also when SIGINT was inherited as ignored (a background job)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        url = ray_serve.deploy(config, replicas=replicas, host=host, port=port, address=address)
        _err.print(f"ready: {url} ({replicas} replica(s)); Ctrl-C stops it", highlight=False)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        ray_serve.shutdown()
