"""The web page of the guard service: posteriors, questions and decisions in a browser.

``GET /`` serves ``static/index.html``; ``/static/`` serves its script, style sheet and the
vendored Cytoscape.js (MIT, ``static/vendor/cytoscape/LICENSE``). Nothing is built: the files
are served as they are installed. The page holds no data of its own: it asks for an API key
and calls the JSON endpoints with it (``/v1/whoami``, ``/v1/posteriors``,
``/v1/posteriors/{name}/edges`` and ``/theories``, ``/v1/ask``, ``/v1/decisions``), so a
visitor sees only what the key's scopes allow, and nothing without a key. The key is kept in
the tab's session storage (gone when the tab closes; "Sign out" forgets it at once).

The page is served with a strict Content-Security-Policy (scripts and connections to this
origin only, no inline script) and renders every value as text, never as markup: audit
records hold what agents sent.

References
----------
.. [1] M. Franz et al., "Cytoscape.js 2023 update: a graph theory library for visualization
   and analysis", Bioinformatics 39(1), 2023.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["HEADERS", "add_page"]

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class _Static(StaticFiles):
    """Static files with the page's security headers."""

    async def get_response(self, path: str, scope):  # type: ignore[no-untyped-def]
        response = await super().get_response(path, scope)
        response.headers.update({"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"})
        return response


def add_page(app: FastAPI) -> None:
    """Serve the page at ``/`` and its files under ``/static`` (neither is in the OpenAPI spec)."""
    static = resources.files("scientist.service") / "static"
    index = (static / "index.html").read_text(encoding="utf-8")
    app.mount("/static", _Static(directory=str(static)), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(index, headers=HEADERS)
