"""Fixtures of the guard-service tests: a small served posterior, keys, an in-process client."""

from collections.abc import AsyncIterator

import httpx
import pytest

from scientist import Posterior, datasets
from scientist.service import Service, create_app

SPEC = """
principles:
  - name: no-dyspnoea
    description: The action must not cause shortness of breath.
    interpretations:
      - event: dysp=yes
"""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def asia() -> Posterior:
    return Posterior.from_theories([datasets.load_network("asia")])


@pytest.fixture
def db(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'audit.db'}"


@pytest.fixture
def service(asia, db) -> Service:
    svc = Service({"asia": asia, "plain": asia}, {"asia": SPEC}, audit=db, threshold=0.5)
    yield svc
    svc.audit.close()


@pytest.fixture
def keys(service) -> dict[str, str]:
    """One key per scope, plus one with every scope."""
    out = {s: service.keys.create([s])[1] for s in ("decide", "ask", "admin")}
    out["all"] = service.keys.create(["decide", "ask", "admin"])[1]
    return out


@pytest.fixture
async def client(service) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://guard.test") as c:
        yield c
