"""The guard service on PostgreSQL (run with ``SCIENTIST_TEST_POSTGRES=postgresql+psycopg://...``;
``make postgres`` starts a local server). Skipped otherwise: the test suite needs no database server.
"""

import asyncio
import datetime as dt
import os

import httpx
import pytest
import sqlalchemy as sa

from scientist.guard.audit import POOL_SIZE
from scientist.service import Service, create_app

URL = os.environ.get("SCIENTIST_TEST_POSTGRES")
pytestmark = [
    pytest.mark.skipif(not URL, reason="SCIENTIST_TEST_POSTGRES is not set (see make postgres)"),
    pytest.mark.anyio,
]
SPEC = "principles: [{name: no-dyspnoea, interpretations: [dysp=yes]}]"
SMOKE = {"posterior": "asia", "action": {"smoke": "yes"}}


@pytest.fixture
def pg_service(asia):
    svc = Service({"asia": asia}, {"asia": SPEC}, audit=URL, threshold=0.5)
    yield svc
    svc.close()


def client(svc: Service, *scopes: str) -> httpx.AsyncClient:
    """An in-process client of ``svc`` with a new key of these scopes."""
    token = svc.keys.create(list(scopes))[1]
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(svc)),
        base_url="http://pg",
        headers={"Authorization": f"Bearer {token}"},
    )


async def burst(c: httpx.AsyncClient, bodies: list[dict]) -> list[httpx.Response]:
    """All ``bodies`` posted to ``/v1/decide`` at once; each must get 200."""
    responses = await asyncio.gather(*(c.post("/v1/decide", json=b) for b in bodies))
    assert {r.status_code for r in responses} == {200}
    return list(responses)


def count_connects(svc: Service) -> list[int]:
    """A list that grows by one each time the store opens a new database connection."""
    opened: list[int] = []
    sa.event.listen(svc.audit.engine, "connect", lambda *_: opened.append(1))
    return opened


async def test_concurrent_decisions_on_postgres(pg_service):
    before = pg_service.audit.count()
    start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    actions = [{"smoke": "yes"}, {"smoke": "no"}, {"asia": "yes"}]
    async with client(pg_service, "decide", "admin") as c:
        bodies = [{"posterior": "asia", "action": actions[i % 3]} for i in range(60)]
        responses = await burst(c, bodies)
        ids = {r.json()["audit_id"] for r in responses}
        assert len(ids) == 60
        assert pg_service.audit.count() == before + 60
        page = (await c.get("/v1/audit", params={"since": start.isoformat(), "limit": 1000})).json()
        assert {r["id"] for r in page["records"]} >= ids


async def test_bursts_reuse_the_pooled_connections(pg_service):
    # Opening a PostgreSQL connection costs far more than a commit; the store keeps a fixed
    # pool, so a second burst opens no new connection and none is ever opened past the pool.
    opened = count_connects(pg_service)
    async with client(pg_service, "decide") as c:
        counts = []
        for _ in range(2):
            await burst(c, [SMOKE] * 40)
            counts.append(len(opened))
    assert 1 <= counts[0] <= POOL_SIZE
    assert counts[1] == counts[0]


async def test_open_pool_opens_every_connection_before_the_first_burst(pg_service):
    async with client(pg_service, "decide") as c:
        assert pg_service.audit.open_pool() == POOL_SIZE
        opened = count_connects(pg_service)
        await burst(c, [SMOKE] * 40)
    assert opened == []
