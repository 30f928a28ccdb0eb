"""The guard service in-process (httpx's ASGI transport): routes, auth, errors, audit, metrics."""

import asyncio
import logging

import pytest
import sqlalchemy as sa

from scientist import ask
from scientist.guard import AuditError, AuditStore
from scientist.service import Service, create_app
from scientist.service.models import AnswerOut, AuditPage, PosteriorsOut, VerdictOut

pytestmark = pytest.mark.anyio


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


DECIDE = {"posterior": "asia", "action": "do(smoke=yes)"}


async def test_decide_returns_the_committed_verdict(client, keys, service, asia):
    truth = ask(asia, "P(dysp=yes | do(smoke=yes))").mean
    r = await client.post("/v1/decide", json=DECIDE, headers=bearer(keys["decide"]))
    assert r.status_code == 200
    v = VerdictOut.model_validate(r.json())
    assert v.decision == "block" and v.estimate == pytest.approx(truth)
    rows = service.audit.page()
    assert [row["id"] for row in rows] == [v.audit_id]
    assert rows[0]["decision"] == "block" and rows[0]["posterior"] == asia.fingerprint()
    r = await client.post(
        "/v1/decide",
        json={**DECIDE, "action": {"smoke": "no"}, "threshold": 0.9, "rule": "credible"},
        headers=bearer(keys["all"]),
    )
    assert r.status_code == 200 and r.json()["decision"] == "allow"
    assert r.json()["rule"] == "credible" and r.json()["threshold"] == 0.9


async def test_a_repeated_request_is_audited_again(client, keys, service):
    first = (await client.post("/v1/decide", json=DECIDE, headers=bearer(keys["decide"]))).json()
    again = (await client.post("/v1/decide", json=DECIDE, headers=bearer(keys["decide"]))).json()
    assert again["audit_id"] == first["audit_id"] + 1
    for key in ("audit_id", "time"):
        first.pop(key), again.pop(key)
    assert first == again and service.audit.count() == 2


async def test_a_trailing_slash_is_redirected_and_records_nothing(client, keys, service):
    before = service.audit.count()
    r = await client.post("/v1/decide/", json=DECIDE, headers=bearer(keys["decide"]))
    assert r.status_code == 307 and r.headers["location"].endswith("/v1/decide")
    assert service.audit.count() == before


async def test_context_and_impossible_context(client, keys):
    h = bearer(keys["decide"])
    r = await client.post("/v1/decide", json={**DECIDE, "context": "xray=yes"}, headers=h)
    assert r.status_code == 200 and r.json()["context"] == "xray=yes"
    r = await client.post(
        "/v1/decide", json={**DECIDE, "context": {"tub": "yes", "either": "no"}}, headers=h
    )
    assert r.status_code == 200 and r.json()["decision"] == "escalate"


async def test_ask(client, keys, asia):
    body = {"posterior": "plain", "query": "P(dysp=yes | do(smoke=yes))", "seed": 3, "level": 0.8}
    r = await client.post("/v1/ask", json=body, headers=bearer(keys["ask"]))
    assert r.status_code == 200
    a = AnswerOut.model_validate(r.json())
    assert a.mean == pytest.approx(ask(asia, body["query"]).mean) and a.level == 0.8
    r = await client.post(
        "/v1/ask", json={**body, "query": "P(asia -> tub)"}, headers=bearer(keys["ask"])
    )
    assert r.status_code == 200 and r.json()["mean"] == 1.0


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/v1/decide", {**DECIDE, "posterior": "nope"}, "posterior='nope' is not loaded"),
        ("/v1/decide", {**DECIDE, "posterior": "plain"}, "has no harm spec"),
        ("/v1/decide", {**DECIDE, "action": "do(rocket=1)"}, "Unknown variable 'rocket'"),
        ("/v1/decide", {**DECIDE, "action": {"smoke": "maybe"}}, "Unknown state 'maybe'"),
        ("/v1/decide", {**DECIDE, "action": "do(smoke="}, "Cannot parse"),
        ("/v1/decide", {**DECIDE, "context": "do(asia=yes)"}, "holds an intervention"),
        ("/v1/ask", {"posterior": "asia", "query": "P(dysp=yes | do(smoke=))"}, "column 23"),
        (
            "/v1/ask",
            {"posterior": "asia", "query": "P(dysp=yes | tub=yes, either=no)"},
            "probability zero",
        ),
        ("/v1/ask", {"posterior": "asia", "query": "E[dysp]"}, "dysp"),
    ],
)
async def test_bad_requests_get_the_parsers_message(client, keys, path, body, message):
    r = await client.post(path, json=body, headers=bearer(keys["all"]))
    assert r.status_code == 422, r.text
    assert message in r.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {**DECIDE, "threshold": 1.5},
        {**DECIDE, "rule": "vibes"},
        {**DECIDE, "extra": 1},
        {**DECIDE, "action": {}},
        {**DECIDE, "action": ["do(smoke=yes)"]},
        {**DECIDE, "posterior": ""},
    ],
)
async def test_invalid_bodies_are_422(client, keys, body):
    r = await client.post("/v1/decide", json=body, headers=bearer(keys["decide"]))
    assert r.status_code == 422 and isinstance(r.json()["detail"], list)


async def test_malformed_json_and_oversized_bodies(client, keys):
    h = {**bearer(keys["decide"]), "Content-Type": "application/json"}
    r = await client.post("/v1/decide", content=b"{not json", headers=h)
    assert r.status_code == 422
    r = await client.post("/v1/decide", content=b"[" * 70_000, headers=h)
    assert r.status_code == 413 and "65536 bytes" in r.json()["detail"]

    async def chunks():  # no Content-Length: the limit is enforced while reading
        for _ in range(70):
            yield b" " * 1024

    r = await client.post("/v1/decide", content=chunks(), headers=h)
    assert r.status_code == 413


async def test_auth(client, keys, service):
    r = await client.post("/v1/decide", json=DECIDE)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    for bad in (
        "nope",
        keys["decide"][:-1] + ("A" if keys["decide"][-1] != "A" else "B"),
        "sci_000000000000_" + "x" * 43,
    ):
        r = await client.post("/v1/decide", json=DECIDE, headers=bearer(bad))
        assert r.status_code == 401, bad
    r = await client.post(
        "/v1/decide", json=DECIDE, headers={"Authorization": f"Basic {keys['decide']}"}
    )
    assert r.status_code == 401
    r = await client.post("/v1/decide", json=DECIDE, headers=bearer(keys["ask"]))
    assert r.status_code == 403 and "'decide' scope" in r.json()["detail"]
    r = await client.get("/v1/audit", headers=bearer(keys["decide"]))
    assert r.status_code == 403
    r = await client.post(
        "/v1/ask", json={"posterior": "asia", "query": "P(tub=yes)"}, headers=bearer(keys["admin"])
    )
    assert r.status_code == 403
    r = await client.get("/v1/posteriors", headers=bearer(keys["ask"]))
    assert r.status_code == 200
    assert service.audit.count() == 0


async def test_revoked_keys_stop_working(client, service):
    key_id, token = service.keys.create(["decide"])
    service.keys.cache_seconds = 0.0
    assert (await client.post("/v1/decide", json=DECIDE, headers=bearer(token))).status_code == 200
    assert service.keys.revoke(key_id)
    assert (await client.post("/v1/decide", json=DECIDE, headers=bearer(token))).status_code == 401


async def test_keys_are_never_logged(client, keys, caplog):
    caplog.set_level(logging.DEBUG)
    for token in (keys["decide"], keys["ask"], "sci_000000000000_" + "y" * 43):
        await client.post("/v1/decide", json=DECIDE, headers=bearer(token))
        await client.post(
            "/v1/decide", json={"posterior": "nope", "action": "x"}, headers=bearer(token)
        )
    assert caplog.records
    for token in (keys["decide"], keys["ask"], "y" * 43):
        assert token not in caplog.text


async def test_posteriors_and_audit_pages(client, keys, asia):
    r = await client.get("/v1/posteriors", headers=bearer(keys["decide"]))
    info = PosteriorsOut.model_validate(r.json()).posteriors
    assert [p.name for p in info] == ["asia", "plain"]
    assert info[0].fingerprint == asia.fingerprint() and info[0].n_theories == 1
    assert info[0].principles == ["no-dyspnoea"] and info[1].principles == []
    assert [v.name for v in info[0].variables] == asia.names
    for _ in range(5):
        await client.post("/v1/decide", json=DECIDE, headers=bearer(keys["decide"]))
    h = bearer(keys["admin"])
    page = AuditPage.model_validate((await client.get("/v1/audit?limit=3", headers=h)).json())
    assert [r.id for r in page.records] == [1, 2, 3] and page.next_after_id == 3
    page2 = (await client.get(f"/v1/audit?after_id={page.next_after_id}", headers=h)).json()
    assert [r["id"] for r in page2["records"]] == [4, 5]
    assert page2["records"][0]["verdict"]["decision"] == "block"
    assert page2["records"][0]["time"].endswith("+00:00")
    r = await client.get("/v1/audit?since=2999-01-01T00:00:00Z", headers=h)
    assert r.json() == {"records": [], "next_after_id": 0}
    r = await client.get("/v1/audit?since=2000-01-01T00:00:00", headers=h)
    assert len(r.json()["records"]) == 5
    for bad in ("limit=0", "limit=5000", "after_id=-1", "since=yesterday"):
        assert (await client.get(f"/v1/audit?{bad}", headers=h)).status_code == 422


async def test_store_down_is_503_and_never_a_silent_allow(client, keys, service):
    with service.audit.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE decisions"))
    body = {**DECIDE, "action": "do(smoke=no)", "threshold": 0.99}  # would be allowed
    r = await client.post("/v1/decide", json=body, headers=bearer(keys["decide"]))
    assert r.status_code == 503 and r.headers["Retry-After"] == "1"
    assert "decision" not in r.json() and "no decision" in r.json()["detail"]
    assert (await client.get("/healthz")).status_code == 503
    assert "scientist_audit_failures_total 1" in (await client.get("/metrics")).text


class _Down(AuditStore):
    """A store that accepts nothing (the database went away)."""

    def append(self, record):
        raise AuditError("connection refused")


async def test_store_failing_after_the_answer_is_cached(asia, db, keys):
    import httpx

    svc = Service(
        {"asia": asia}, {"asia": "principles: [{name: p, interpretations: [dysp=yes]}]"}, audit=db
    )
    _, token = svc.keys.create(["decide"])
    app = create_app(svc)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.post("/v1/decide", json=DECIDE, headers=bearer(token))).status_code == 200
        svc.audit.__class__ = _Down
        r = await c.post("/v1/decide", json=DECIDE, headers=bearer(token))
        assert r.status_code == 503
    svc.audit.close()


async def test_concurrent_requests_lose_no_record(client, keys, service):
    h = bearer(keys["decide"])
    actions = [{"smoke": "yes"}, {"smoke": "no"}, {"asia": "yes"}, {"bronc": "no"}]
    responses = await asyncio.gather(
        *(
            client.post("/v1/decide", json={**DECIDE, "action": actions[i % 4]}, headers=h)
            for i in range(60)
        )
    )
    assert {r.status_code for r in responses} == {200}
    ids = sorted(r.json()["audit_id"] for r in responses)
    assert ids == list(range(1, 61)) and service.audit.count() == 60


async def test_health_and_metrics(client, keys):
    r = await client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok", "audit": True, "posteriors": 2}
    await client.post("/v1/decide", json=DECIDE, headers=bearer(keys["decide"]))
    await client.post("/v1/decide", json=DECIDE, headers=bearer(keys["ask"]))
    await client.get("/no/such/path")
    r = await client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith(
        "text/plain; version=0.0.4"
    )
    text = r.text
    assert 'scientist_requests_total{method="POST",path="/v1/decide",status="200"} 1' in text
    assert 'scientist_requests_total{method="POST",path="/v1/decide",status="403"} 1' in text
    assert 'scientist_requests_total{method="GET",path="other",status="404"} 1' in text
    assert 'scientist_decisions_total{posterior="asia",decision="block"} 1' in text
    assert 'scientist_request_duration_seconds_bucket{path="/v1/decide",le="+Inf"} 2' in text
    assert "# TYPE scientist_request_duration_seconds histogram" in text
    assert 'scientist_audit_commit_seconds_bucket{le="+Inf"} 1' in text
    assert "scientist_audit_commit_seconds_count 1" in text
    # the one decision the cache did not hold was computed once
    assert 'scientist_inference_seconds_count{endpoint="decide"} 1' in text


async def test_openapi_documents_every_status(client):
    spec = (await client.get("/openapi.json")).json()
    decide = spec["paths"]["/v1/decide"]["post"]
    assert set(decide["responses"]) >= {"200", "401", "403", "413", "422", "503"}
    assert decide["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "DecideRequest"
    )
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert set(spec["paths"]) == {
        "/v1/decide",
        "/v1/ask",
        "/v1/posteriors",
        "/v1/audit",
        "/v1/whoami",
        "/v1/posteriors/{name}/edges",
        "/v1/posteriors/{name}/theories",
        "/v1/decisions",
        "/v1/decisions/{audit_id}",
        "/healthz",
        "/metrics",
    }


def test_service_refuses_bad_configuration(asia, db):
    from scientist import InputError

    with pytest.raises(InputError, match="names no loaded posterior"):
        Service({"asia": asia}, {"other": "x.yaml"}, audit=db)
    with pytest.raises(InputError, match="posterior name"):
        Service({"a b": asia}, audit=db)
    with pytest.raises(InputError, match="not a variable"):
        Service(
            {"asia": asia}, {"asia": "principles: [{name: p, interpretations: [Nope=1]}]"}, audit=db
        )
    with pytest.raises(InputError, match="posteriors is empty"):
        Service({}, audit=db)


async def test_a_failed_inference_is_503_and_not_audited(client, keys, service, monkeypatch):
    from scientist.service.inference import InferenceUnavailable

    def dead(*args, **kwargs):
        raise InferenceUnavailable("An inference worker process died; it was restarted.")

    monkeypatch.setattr(service.inference, "verdict", dead)
    r = await client.post("/v1/decide", json=DECIDE, headers=bearer(keys["decide"]))
    assert r.status_code == 503 and "died" in r.json()["detail"]
    assert service.audit.count() == 0


def test_server_backed_store_keeps_a_fixed_pool():
    # A burst must not open (and then close) connections past the pool: on PostgreSQL each
    # costs a server process and a handshake (see test_service_postgres.py for the burst).
    pytest.importorskip("psycopg")
    from scientist.guard.audit import POOL_SIZE, make_engine

    engine = make_engine("postgresql+psycopg://u:p@127.0.0.1:1/x")  # lazy: connects to nothing
    assert isinstance(engine.pool, sa.pool.QueuePool)
    assert engine.pool.size() == POOL_SIZE
    assert engine.pool._max_overflow == 0
    engine.dispose()


def test_open_pool_is_a_no_op_on_sqlite(db):
    assert AuditStore(db).open_pool() == 0


def test_open_pool_is_best_effort_when_the_server_is_down():
    pytest.importorskip("psycopg")
    store = AuditStore.__new__(AuditStore)  # no tables: nothing listens on port 1
    from scientist.guard.audit import make_engine

    store.url, store.engine = (
        "postgresql+psycopg://u:p@127.0.0.1:1/x",
        make_engine("postgresql+psycopg://u:p@127.0.0.1:1/x"),
    )
    assert store.open_pool() == 0
    store.engine.dispose()
