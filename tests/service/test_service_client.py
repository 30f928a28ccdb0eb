"""GuardClient: retries on 503 and unreachable servers, no retry otherwise, fail-closed tools."""

import httpx
import pytest

from scientist.client import ActionRefused, GuardClient, ServiceError

VERDICT = {
    "decision": "allow",
    "reason": "every rule puts P(harm) at or below 0.5",
    "action": "do(smoke=no)",
    "estimate": 0.3,
    "audit_id": 7,
}


def client_for(answers, calls):
    """A client whose transport replays ``answers`` (responses, or exceptions to raise)."""

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        answer = answers[min(len(calls), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return GuardClient(
        "http://guard.test",
        "sci_key",
        retries=3,
        backoff=0.0,
        transport=httpx.MockTransport(handler),
    )


def unavailable() -> httpx.Response:
    return httpx.Response(503, json={"detail": "store down"}, headers={"Retry-After": "0"})


def test_retries_on_503_then_succeeds():
    calls = []
    with client_for([unavailable(), unavailable(), httpx.Response(200, json=VERDICT)], calls) as c:
        assert c.decide("asia", {"smoke": "no"}, threshold=0.5)["audit_id"] == 7
    assert len(calls) == 3
    assert calls[0].headers["Authorization"] == "Bearer sci_key"
    assert calls[0].read() == (
        b'{"posterior":"asia","action":{"smoke":"no"},"context":null,"threshold":0.5}'
    )


def test_gives_up_after_the_retries():
    calls = []
    with client_for([unavailable()], calls) as c, pytest.raises(ServiceError) as err:
        c.decide("asia", "do(smoke=no)")
    assert err.value.status_code == 503 and err.value.detail == "store down" and len(calls) == 4
    calls = []
    refused = httpx.ConnectError("connection refused")
    with client_for([refused], calls) as c, pytest.raises(ServiceError, match="no answer"):
        c.posteriors()
    assert len(calls) == 4


@pytest.mark.parametrize("status", [401, 403, 413, 422, 500])
def test_other_errors_are_not_retried(status):
    calls = []
    with client_for([httpx.Response(status, json={"detail": "no"})], calls) as c:
        with pytest.raises(ServiceError, match=f"HTTP {status}"):
            c.ask("asia", "P(dysp=yes)")
    assert len(calls) == 1


def test_a_read_timeout_is_not_retried():
    calls = []
    with client_for([httpx.ReadTimeout("slow")], calls) as c, pytest.raises(ServiceError):
        c.decide("asia", "do(smoke=no)")
    assert len(calls) == 1


def test_guard_tool_runs_only_what_is_allowed():
    ran = []
    for decision, approve, runs in [
        ("allow", None, True),
        ("block", None, False),
        ("escalate", None, False),
        ("escalate", lambda v: True, True),
        ("escalate", lambda v: "yes", False),
    ]:
        calls = []
        c = client_for([httpx.Response(200, json={**VERDICT, "decision": decision})], calls)

        @c.guard_tool("asia", lambda dose: {"smoke": "yes" if dose else "no"}, on_escalate=approve)
        def smoke(dose: int) -> str:
            ran.append(dose)
            return "done"

        if runs:
            assert smoke(1) == "done"
        else:
            with pytest.raises(ActionRefused) as err:
                smoke(1)
            assert err.value.verdict["decision"] == decision
        assert b'"action":{"smoke":"yes"}' in calls[0].read()
        c.close()
    assert ran == [1, 1]


def test_guard_tool_fails_closed_when_the_service_is_unreachable():
    calls, ran = [], []
    c = client_for([httpx.ConnectError("refused")], calls)

    @c.guard_tool("asia", lambda: "do(smoke=no)")
    def tool() -> None:
        ran.append(1)

    with pytest.raises(ServiceError):
        tool()
    assert ran == [] and len(calls) == 4
    c.close()


def test_the_key_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("SCIENTIST_API_KEY", "sci_env")
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(200, json={"status": "ok", "audit": True, "posteriors": 1})

    with GuardClient("http://g.test", transport=httpx.MockTransport(handler)) as c:
        assert c.health()["status"] == "ok"
    assert calls[0].headers["Authorization"] == "Bearer sci_env"
