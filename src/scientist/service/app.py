"""The guard service's FastAPI app: the guardrail and the inference machine over HTTP.

Endpoints (all JSON; see ``/openapi.json`` or ``/docs`` of a running server):

======================  =========  ==========================================================
``POST /v1/decide``     decide     judge ``do(action)`` in ``context``: the verdict, returned
                                   only after its audit record is committed (503 if the store
                                   is down: never a silent allow)
``POST /v1/ask``        ask        answer a causal query with its uncertainty
``GET /v1/posteriors``  any key    what is loaded: variables, theories, fingerprint
``GET /v1/audit``       admin      committed decisions, oldest first, paged by ``after_id``
``GET /v1/whoami``      any key    the calling key's id and scopes
``GET /v1/posteriors/   ask        ``P(i -> j | data)`` for every pair of variables
{name}/edges``
``GET /v1/posteriors/   ask        the top theories: weights, edges with their posterior
{name}/theories``                  probability, effect size, interval and mechanism
``GET /v1/decisions``   admin      committed decisions, newest first, filtered by decision
``GET /v1/decisions/    admin      one decision with its explanation
{audit_id}``
``GET /healthz``        none       200 when the audit store answers, 503 otherwise
``GET /metrics``        none       Prometheus text format
``GET /``               none       the web page (:mod:`scientist.service.web`); it asks for a
                                   key and calls the endpoints above with it
======================  =========  ==========================================================

Errors: 400 (a body that is not UTF-8 text), 401 (missing, malformed, unknown or revoked key),
403 (the key lacks the scope), 404 (an unknown posterior or decision in the path), 413 (body over the size limit), 422 (a body that does not
validate, with pydantic's list of errors without the offending input; or an unknown posterior,
variable or state, or an unparseable query, with the parser's message), 503 (the audit or key
store is down, or an inference process died). Any other exception is logged and answered with
a generic 500 that reveals nothing; the worker keeps serving.

Build it with :func:`create_app` (tests, embedding) or run it with ``scientist serve``.

References
----------
.. [1] FastAPI documentation, "Security - HTTP Bearer" and "Handling Errors".
"""

import contextlib
import datetime as dt
import gc
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scientist.errors import InputError
from scientist.guard import AuditError
from scientist.service.auth import Principal
from scientist.service.core import Service
from scientist.service.inference import InferenceUnavailable
from scientist.service.metrics import CONTENT_TYPE
from scientist.service.models import (
    AnswerOut,
    AskRequest,
    AuditPage,
    DecideRequest,
    DecisionOut,
    DecisionsPage,
    EdgesOut,
    ErrorOut,
    HealthOut,
    PosteriorsOut,
    TheoriesOut,
    VerdictOut,
    WhoAmIOut,
)
from scientist.service.web import add_page

__all__ = ["CONFIG_ENV", "MAX_BODY", "app_from_env", "create_app"]

log = logging.getLogger("scientist.service")
MAX_BODY = 64 * 1024
CONFIG_ENV = "SCIENTIST_SERVICE_CONFIG"


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


_AUTH: dict[int | str, dict[str, Any]] = {
    401: _error("No key, or a malformed, unknown or revoked key."),
    403: _error("The key lacks the scope this endpoint needs."),
}
_BODY: dict[int | str, dict[str, Any]] = {
    400: _error("The body cannot be read (not UTF-8, or a bad Content-Length)."),
    413: _error("The body is larger than the limit."),
    422: _error("The body does not validate, or names an unknown posterior, variable or state."),
}
_STORE: dict[int | str, dict[str, Any]] = {
    503: _error("The audit or key store is down; retry later.")
}
_QUERY: dict[int | str, dict[str, Any]] = {422: _error("A query parameter does not validate.")}


class _TooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes.")


class _Edge:
    """Outer ASGI layer: the body-size limit (declared or streamed) and request metrics."""

    def __init__(self, app: ASGIApp, service: Service, max_body: int, paths: set[str]) -> None:
        self.app, self.service, self.max_body, self.paths = app, service, max_body, paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        path = scope["path"] if scope["path"] in self.paths else "other"
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            status = 413 if declared.isdigit() else 400
            detail = _TooLarge(self.max_body).detail if status == 413 else "Bad Content-Length."
            await JSONResponse({"detail": detail}, status_code=status)(scope, receive, send)
            self.service.metrics.observe_request(scope["method"], path, status, 0.0)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise _TooLarge(self.max_body)
            return message

        async def tracked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, limited, tracked)
        finally:
            self.service.metrics.observe_request(
                scope["method"], path, status, time.perf_counter() - start
            )


def create_app(
    service: Service, *, max_body: int = MAX_BODY, close_service: bool = False
) -> FastAPI:
    """The FastAPI app over ``service``.

    Parameters
    ----------
    service
        The loaded posteriors, specs and stores.
    max_body
        The largest request body accepted, in bytes (413 above it).
    close_service
        Close the service (its inference processes and connections) when the server stops.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Open the audit store's connections and start the inference processes before the
        # first request, not during a burst.
        await run_in_threadpool(service.audit.open_pool)
        await run_in_threadpool(service.inference.wait_ready)
        yield
        if close_service:
            await run_in_threadpool(service.close)

    app = FastAPI(
        lifespan=lifespan,
        title="scientist guard service",
        version="1",
        description=(
            "The guardrail and the inference machine of scientist over HTTP. Send an API key "
            "as 'Authorization: Bearer <key>' (create one with `scientist keys create`)."
        ),
    )
    app.state.service = service
    bearer = HTTPBearer(auto_error=False, description="An API key from `scientist keys create`.")
    Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]

    async def principal(creds: Credentials) -> Principal:
        if creds is None:
            raise HTTPException(
                401,
                "Missing API key: send the header 'Authorization: Bearer <key>'.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        # a key checked a moment ago is answered from memory; otherwise the store is asked
        # off the event loop
        who = service.keys.cached(creds.credentials) or await run_in_threadpool(
            service.keys.verify, creds.credentials
        )
        if who is None:
            raise HTTPException(
                401,
                "Invalid or revoked API key.",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return who

    def scope(name: str) -> Any:
        async def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
            if name not in who.scopes:
                raise HTTPException(
                    403,
                    f"This key (id {who.key_id}) lacks the '{name}' scope; its scopes are "
                    f"{sorted(who.scopes)}. Create one with `scientist keys create --scope {name}`.",
                    headers={"WWW-Authenticate": 'Bearer error="insufficient_scope"'},
                )
            return who

        return Depends(check)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # pydantic's errors without "input" and "ctx": they may hold NaN, bytes or exceptions
        errors = [
            {
                "type": str(e.get("type")),
                "loc": [str(x) for x in e.get("loc", ())],
                "msg": str(e.get("msg")),
            }
            for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(InputError)
    async def _input_error(request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(AuditError)
    async def _store_down(request: Request, exc: AuditError) -> JSONResponse:
        log.error("store unavailable on %s: %s", request.url.path, service.mask(str(exc)))
        return JSONResponse(
            {"detail": "The audit store is unavailable, so no decision is returned; retry later."},
            status_code=503,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(InferenceUnavailable)
    async def _inference_down(request: Request, exc: InferenceUnavailable) -> JSONResponse:
        log.error("inference unavailable on %s: %s", request.url.path, exc)
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return JSONResponse({"detail": "Internal error; it was logged."}, status_code=500)

    @app.post(
        "/v1/decide",
        response_model=VerdictOut,
        responses={**_AUTH, **_BODY, **_STORE},
        summary="Judge an agent's proposed action",
    )
    def decide(req: DecideRequest, who: Annotated[Principal, scope("decide")]) -> Response:
        """Allow, block or escalate ``do(action)`` in ``context``; audited before it returns."""
        out = service.decide(
            req.posterior, req.action, req.context, threshold=req.threshold, rule=req.rule
        )
        return Response(json.dumps(out).encode(), media_type="application/json")

    @app.post(
        "/v1/ask",
        response_model=AnswerOut,
        responses={**_AUTH, **_BODY, **_STORE},
        summary="Answer a causal question",
    )
    def ask(req: AskRequest, who: Annotated[Principal, scope("ask")]) -> Response:
        """The posterior's answer with its epistemic, aleatoric and Monte-Carlo uncertainty."""
        body = service.ask(
            req.posterior, req.query, level=req.level, seed=req.seed, draws=req.draws
        )
        return Response(body, media_type="application/json")

    @app.get(
        "/v1/posteriors",
        response_model=PosteriorsOut,
        responses={**_AUTH, **_STORE},
        summary="List the loaded posteriors",
    )
    def posteriors(who: Annotated[Principal, Depends(principal)]) -> dict[str, Any]:
        """Variables, number of theories, fingerprint and principles of each posterior."""
        return {"posteriors": service.info()}

    @app.get(
        "/v1/audit",
        response_model=AuditPage,
        responses={**_AUTH, 422: _BODY[422], **_STORE},
        summary="Read committed decisions",
    )
    def audit(
        who: Annotated[Principal, scope("admin")],
        since: Annotated[
            dt.datetime | None,
            Query(description="Only records after this time (ISO 8601; UTC if naive)."),
        ] = None,
        after_id: Annotated[
            int, Query(ge=0, le=2**62, description="Only records with a larger id.")
        ] = 0,
        limit: Annotated[int, Query(ge=1, le=1000, description="Records per page.")] = 100,
    ) -> dict[str, Any]:
        """Decisions oldest first; pass ``next_after_id`` as ``after_id`` to read on."""
        records = service.audit.page(after_id=after_id, since=since, limit=limit)
        return {"records": records, "next_after_id": records[-1]["id"] if records else after_id}

    @app.get(
        "/v1/whoami",
        response_model=WhoAmIOut,
        responses={**_AUTH, **_STORE},
        summary="The calling key's id and scopes",
    )
    def whoami(who: Annotated[Principal, Depends(principal)]) -> dict[str, Any]:
        """Which key is calling and what it may do (the web page checks a key with it)."""
        return {"key_id": who.key_id, "scopes": sorted(who.scopes)}

    def loaded(name: str) -> str:
        if name not in service.loaded:
            raise HTTPException(
                404,
                f"posterior={name!r} is not loaded; the loaded posteriors are "
                f"{sorted(service.loaded)}.",
            )
        return name

    _missing: dict[int | str, dict[str, Any]] = {
        404: _error("No posterior of that name is loaded.")
    }
    PosteriorName = Annotated[str, Depends(loaded)]

    @app.get(
        "/v1/posteriors/{name}/edges",
        response_model=EdgesOut,
        responses={**_AUTH, **_missing, **_STORE},
        summary="Edge marginals of a posterior",
    )
    def edges(name: PosteriorName, who: Annotated[Principal, scope("ask")]) -> dict[str, Any]:
        """``edge_marginals[i][j]`` is the posterior probability of the edge ``i -> j``."""
        return service.edges(name)

    @app.get(
        "/v1/posteriors/{name}/theories",
        response_model=TheoriesOut,
        responses={**_AUTH, **_missing, **_QUERY, **_STORE},
        summary="The most probable theories of a posterior",
    )
    def theories(
        name: PosteriorName,
        who: Annotated[Principal, scope("ask")],
        top: Annotated[int, Query(ge=1, le=20, description="How many theories.")] = 5,
        level: Annotated[
            float,
            Query(gt=0.0, lt=1.0, allow_inf_nan=False, description="Credible-interval mass."),
        ] = 0.9,
    ) -> dict[str, Any]:
        """Each theory's weight and edges, with effect sizes, intervals and mechanisms."""
        return service.theories(name, top=top, level=level)

    @app.get(
        "/v1/decisions",
        response_model=DecisionsPage,
        responses={**_AUTH, **_QUERY, **_STORE},
        summary="Recent decisions, newest first",
    )
    def decisions(
        who: Annotated[Principal, scope("admin")],
        decision: Annotated[
            Literal["allow", "block", "escalate"] | None,
            Query(description="Only this kind of decision."),
        ] = None,
        before_id: Annotated[
            int | None, Query(ge=1, le=2**62, description="Only records with a smaller id.")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=500, description="Records per page.")] = 50,
    ) -> dict[str, Any]:
        """Committed decisions newest first; pass ``next_before_id`` as ``before_id`` to go back."""
        records = service.decisions(decision=decision, before_id=before_id, limit=limit)
        last = records[-1]["id"] if len(records) == limit else None
        return {"records": records, "next_before_id": last}

    @app.get(
        "/v1/decisions/{audit_id}",
        response_model=DecisionOut,
        responses={
            **_AUTH,
            404: _error("No decision has that id."),
            **_QUERY,
            **_STORE,
        },
        summary="One decision with its explanation",
    )
    def decision(
        audit_id: Annotated[int, Path(ge=1, le=2**62)],
        who: Annotated[Principal, scope("admin")],
    ) -> dict[str, Any]:
        """The audit record, its verdict, and the explanation with the theories behind the risk."""
        record = service.decision(audit_id)
        if record is None:
            raise HTTPException(404, f"audit_id={audit_id}: no decision has this id.")
        return record

    @app.get("/healthz", response_model=HealthOut, responses={503: {"model": HealthOut}})
    def healthz() -> JSONResponse:
        """200 when the audit store answers, 503 otherwise."""
        ok = service.audit.ping()
        body = {
            "status": "ok" if ok else "unavailable",
            "audit": ok,
            "posteriors": len(service.loaded),
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics() -> PlainTextResponse:
        """Request counts, latencies, decisions by kind, cache lookups, audit failures."""
        return PlainTextResponse(service.metrics.render(), media_type=CONTENT_TYPE)

    add_page(app)
    paths = {route.path for route in app.routes if hasattr(route, "path")}
    app.add_middleware(_Edge, service=service, max_body=max_body, paths=paths)
    return app


def app_from_env() -> FastAPI:
    """The app described by the JSON in ``$SCIENTIST_SERVICE_CONFIG`` (used by ``scientist serve``).

    The JSON holds ``posteriors`` and ``specs`` (name -> path), ``db``, ``threshold``,
    ``rule``, ``alpha``, ``cache_size``, ``processes`` and ``max_body``.
    """
    raw = os.environ.get(CONFIG_ENV)
    if not raw:
        raise RuntimeError(f"${CONFIG_ENV} is not set; start the service with `scientist serve`.")
    cfg = json.loads(raw)
    service = Service(
        cfg["posteriors"],
        cfg.get("specs") or {},
        audit=cfg.get("db", "sqlite:///audit.db"),
        threshold=cfg.get("threshold", 0.01),
        rule=cfg.get("rule", "prop45"),
        alpha=cfg.get("alpha", 0.01),
        cache_size=cfg.get("cache_size", 4096),
        processes=cfg.get("processes", 0),
    )
    app = create_app(service, max_body=cfg.get("max_body", MAX_BODY), close_service=True)
    # What is loaded now (the libraries, the posteriors, the app) lives as long as the server:
    # out of the garbage collector's reach, a full collection scans only what requests left
    # behind. Scanning all of it (about 175,000 objects with the benchmark's posterior) took
    # 150 ms, during which the worker answered nothing, about once a minute at 100 requests/s.
    gc.collect()
    gc.freeze()
    return app
