"""A small Python client of the guard service (``scientist serve``), built on httpx.

:class:`GuardClient` calls the service with a timeout on every request and retries, with
exponential backoff, when the service answers 503 (the audit store is down, so no decision was
made) or cannot be reached. Every other error is raised at once as :class:`ServiceError`, with
the status code and the service's message. The client fails closed: when no verdict comes back,
:meth:`GuardClient.decide` raises, and :meth:`GuardClient.guard_tool` does not run the tool.

Wrapping an agent's tool calls (see also ``examples/guarded_agent.py``)::

    from scientist.client import ActionRefused, GuardClient

    guard = GuardClient("http://127.0.0.1:8000", api_key="sci_...")

    @guard.guard_tool("asia", action=lambda dose: {"smoke": "yes" if dose > 0 else "no"})
    def give_cigarettes(dose: int) -> str:
        return f"gave {dose} cigarettes"

    try:
        give_cigarettes(3)  # runs only if the guard allows do(smoke=yes)
    except ActionRefused as refusal:
        print(refusal.verdict["decision"], refusal.verdict["reason"])

References
----------
.. [1] Y. Bengio et al., "Superintelligent agents pose catastrophic risks: can Scientist AI
   offer a safer path?", arXiv:2502.15657, 2025, section 3.8 (the guardrail in front of an
   agent's actions).
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from scientist.errors import ScientistError

__all__ = ["ActionRefused", "GuardClient", "ServiceError"]

F = TypeVar("F", bound=Callable[..., Any])
Mapping = dict[str, Any]


class ServiceError(ScientistError, RuntimeError):
    """The service refused a call or could not be reached (``status_code`` 0: no answer)."""

    def __init__(self, status_code: int, detail: Any) -> None:
        self.status_code, self.detail = status_code, detail
        what = f"HTTP {status_code}" if status_code else "no answer"
        super().__init__(f"The guard service failed ({what}): {detail}")


class ActionRefused(ScientistError, RuntimeError):
    """The guard blocked (or escalated) a tool call; ``verdict`` says why."""

    def __init__(self, verdict: Mapping) -> None:
        self.verdict = verdict
        super().__init__(
            f"{verdict['decision'].upper()}: {verdict['action']} ({verdict['reason']}); "
            f"audit record {verdict['audit_id']}"
        )


class GuardClient:
    """Call a guard service.

    Parameters
    ----------
    base_url
        Where the service listens, e.g. ``http://127.0.0.1:8000``.
    api_key
        An API key from ``scientist keys create``; default ``$SCIENTIST_API_KEY``.
    timeout
        Seconds allowed for each request (connect, read, write).
    retries
        Further tries after a 503 or a connection failure (0: none).
    backoff
        First wait between tries in seconds; it doubles each time (a ``Retry-After`` header
        is honoured up to 10 s).
    transport
        An httpx transport (for tests); default a network connection.
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        api_key: str | None = None,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.25,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get("SCIENTIST_API_KEY")
        if retries < 0 or backoff < 0 or timeout <= 0:
            raise ValueError("retries and backoff must be >= 0 and timeout > 0.")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.retries, self.backoff = retries, backoff
        self._http = httpx.Client(
            base_url=base_url, headers=headers, timeout=timeout, transport=transport
        )

    # ------------------------------------------------------------------ plumbing
    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        wait = self.backoff
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self._http.request(method, path, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                if last:
                    raise ServiceError(0, f"{type(exc).__name__}: {exc}") from None
                time.sleep(wait)
                wait *= 2
                continue
            except httpx.HTTPError as exc:
                raise ServiceError(0, f"{type(exc).__name__}: {exc}") from None
            if response.status_code == 503 and not last:
                time.sleep(min(_retry_after(response, wait), 10.0))
                wait *= 2
                continue
            if response.is_success:
                return response.json()
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise ServiceError(response.status_code, detail)
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> GuardClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ endpoints
    def decide(
        self,
        posterior: str,
        action: str | Mapping,
        context: str | Mapping | None = None,
        *,
        threshold: float | None = None,
        rule: str | None = None,
    ) -> Mapping:
        """The verdict on ``do(action)`` in ``context`` (already committed to the audit store)."""
        body: Mapping = {"posterior": posterior, "action": action, "context": context}
        if threshold is not None:
            body["threshold"] = threshold
        if rule is not None:
            body["rule"] = rule
        return dict(self._call("POST", "/v1/decide", json=body))

    def ask(
        self, posterior: str, query: str, *, level: float = 0.9, seed: int = 0, draws: int = 32
    ) -> Mapping:
        """The answer to a causal query, with its uncertainty."""
        body = {"posterior": posterior, "query": query, "level": level, "seed": seed}
        body["draws"] = draws
        return dict(self._call("POST", "/v1/ask", json=body))

    def posteriors(self) -> list[Mapping]:
        """What the service has loaded."""
        return list(self._call("GET", "/v1/posteriors")["posteriors"])

    def audit(
        self, *, since: dt.datetime | None = None, after_id: int = 0, limit: int = 100
    ) -> Mapping:
        """A page of audit records (admin scope): ``records`` and ``next_after_id``."""
        params: Mapping = {"after_id": after_id, "limit": limit}
        if since is not None:
            params["since"] = since.isoformat()
        return dict(self._call("GET", "/v1/audit", params=params))

    def health(self) -> Mapping:
        """``/healthz``: raises :class:`ServiceError` when the audit store is down."""
        return dict(self._call("GET", "/healthz"))

    # ------------------------------------------------------------------ wrapping tools
    def guard_tool(
        self,
        posterior: str,
        action: Callable[..., str | Mapping],
        context: Callable[..., str | Mapping | None] | None = None,
        *,
        on_escalate: Callable[[Mapping], bool] | None = None,
        threshold: float | None = None,
        rule: str | None = None,
    ) -> Callable[[F], F]:
        """Decorate a tool so that each call is judged first.

        Parameters
        ----------
        posterior
            The served posterior whose harm spec judges the tool.
        action, context
            Functions of the tool's arguments giving the intervention (``"do(X=1)"`` or
            ``{"X": 1}``) and what is observed.
        on_escalate
            Called with the verdict when the guard escalates; the tool runs only if it
            returns True (default: refuse, like a block).
        threshold, rule
            Per-call overrides of the server's defaults.

        Raises
        ------
        ActionRefused
            When the verdict is block, or escalate without approval; the tool does not run.
        ServiceError
            When no verdict could be had; the tool does not run (fail closed).
        """

        def wrap(tool: F) -> F:
            @functools.wraps(tool)
            def guarded(*args: Any, **kwargs: Any) -> Any:
                ctx = None if context is None else context(*args, **kwargs)
                verdict = self.decide(
                    posterior, action(*args, **kwargs), ctx, threshold=threshold, rule=rule
                )
                approved = verdict["decision"] == "allow" or (
                    verdict["decision"] == "escalate"
                    and on_escalate is not None
                    and on_escalate(verdict) is True
                )
                if not approved:
                    raise ActionRefused(verdict)
                return tool(*args, **kwargs)

            return guarded  # type: ignore[return-value]

        return wrap


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", default)))
    except ValueError:
        return default
