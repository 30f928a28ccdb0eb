"""The guard service on PostgreSQL (run with ``SCIENTIST_TEST_POSTGRES=postgresql+psycopg://...``;
``make postgres`` starts a local server). Skipped otherwise: the test suite needs no database server.
"""

import asyncio
import datetime as dt
import os

import httpx
import pytest

from scientist.service import Service, create_app

URL = os.environ.get("SCIENTIST_TEST_POSTGRES")
pytestmark = [
    pytest.mark.skipif(not URL, reason="SCIENTIST_TEST_POSTGRES is not set (see make postgres)"),
    pytest.mark.anyio,
]
SPEC = "principles: [{name: no-dyspnoea, interpretations: [dysp=yes]}]"


async def test_concurrent_decisions_on_postgres(asia):
    svc = Service({"asia": asia}, {"asia": SPEC}, audit=URL, threshold=0.5)
    token = svc.keys.create(["decide", "admin"])[1]
    before = svc.audit.count()
    start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    transport = httpx.ASGITransport(app=create_app(svc))
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://pg", headers=headers) as c:
        actions = [{"smoke": "yes"}, {"smoke": "no"}, {"asia": "yes"}]
        responses = await asyncio.gather(
            *(
                c.post("/v1/decide", json={"posterior": "asia", "action": actions[i % 3]})
                for i in range(60)
            )
        )
        assert {r.status_code for r in responses} == {200}
        assert len({r.json()["audit_id"] for r in responses}) == 60
        assert svc.audit.count() == before + 60
        page = (await c.get("/v1/audit", params={"since": start.isoformat(), "limit": 1000})).json()
        assert {r["id"] for r in page["records"]} >= {r.json()["audit_id"] for r in responses}
    svc.audit.close()


async def test_bursts_reuse_the_pooled_connections(asia):
    # Opening a PostgreSQL connection costs far more than a commit; the store keeps a fixed
    # pool, so a second burst opens no new connection and none is ever opened past the pool.
    import sqlalchemy as sa

    from scientist.guard.audit import POOL_SIZE

    svc = Service({"asia": asia}, {"asia": SPEC}, audit=URL, threshold=0.5)
    token = svc.keys.create(["decide"])[1]
    opened = []
    sa.event.listen(svc.audit.engine, "connect", lambda *_: opened.append(1))
    transport = httpx.ASGITransport(app=create_app(svc))
    headers = {"Authorization": f"Bearer {token}"}
    body = {"posterior": "asia", "action": {"smoke": "yes"}}
    async with httpx.AsyncClient(transport=transport, base_url="http://pg", headers=headers) as c:
        counts = []
        for _ in range(2):
            responses = await asyncio.gather(*(c.post("/v1/decide", json=body) for _ in range(40)))
            assert {r.status_code for r in responses} == {200}
            counts.append(len(opened))
    assert 1 <= counts[0] <= POOL_SIZE
    assert counts[1] == counts[0]
    svc.close()


async def test_open_pool_opens_every_connection_before_the_first_burst(asia):
    import sqlalchemy as sa

    from scientist.guard.audit import POOL_SIZE

    svc = Service({"asia": asia}, {"asia": SPEC}, audit=URL, threshold=0.5)
    token = svc.keys.create(["decide"])[1]
    assert svc.audit.open_pool() == POOL_SIZE
    opened = []
    sa.event.listen(svc.audit.engine, "connect", lambda *_: opened.append(1))
    transport = httpx.ASGITransport(app=create_app(svc))
    headers = {"Authorization": f"Bearer {token}"}
    body = {"posterior": "asia", "action": {"smoke": "yes"}}
    async with httpx.AsyncClient(transport=transport, base_url="http://pg", headers=headers) as c:
        responses = await asyncio.gather(*(c.post("/v1/decide", json=body) for _ in range(40)))
    assert {r.status_code for r in responses} == {200}
    assert opened == []
    svc.close()
