"""``scientist serve`` for real: uvicorn on a loopback port, two workers, the Python client."""

import importlib.util
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from scientist import Posterior, datasets
from scientist.client import GuardClient, ServiceError
from scientist.guard import AuditStore
from scientist.service.auth import KeyStore
from scientist.service.testing import ServerError, running_server

SPEC = "principles:\n  - name: no-dyspnoea\n    interpretations: [dysp=yes]\n"
EXAMPLE = Path(__file__).parents[2] / "examples" / "guarded_agent.py"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A running `scientist serve` (two workers); yields (url, keys, db, log path)."""
    tmp = tmp_path_factory.mktemp("serve")
    Posterior.from_theories([datasets.load_network("asia")]).save(tmp / "asia.npz")
    (tmp / "harms.yaml").write_text(SPEC)
    db = f"sqlite:///{tmp / 'audit.db'}"
    store = KeyStore(db)
    keys = {"decide": store.create(["decide"])[1], "admin": store.create(["admin", "ask"])[1]}
    store.engine.dispose()
    args = [
        "--posterior",
        f"asia={tmp / 'asia.npz'}",
        "--spec",
        f"asia={tmp / 'harms.yaml'}",
        "--db",
        db,
        "--workers",
        "2",
        "--threshold",
        "0.5",
    ]
    with running_server(args, log=tmp / "serve.log", cwd=tmp) as srv:
        yield srv.url, keys, db, srv.log


def test_over_real_http(server):
    url, keys, _, _ = server
    with GuardClient(url, keys["decide"], timeout=30) as guard:
        verdict = guard.decide("asia", "do(smoke=yes)")
        assert verdict["decision"] == "block" and verdict["audit_id"] >= 1
        assert guard.decide("asia", {"smoke": "no"})["decision"] == "allow"
        assert guard.posteriors()[0]["name"] == "asia"
        assert guard.health()["status"] == "ok"
        with pytest.raises(ServiceError) as err:
            guard.ask("asia", "P(dysp=yes)")
        assert err.value.status_code == 403
        with pytest.raises(ServiceError, match="Unknown variable 'rocket'") as err:
            guard.decide("asia", "do(rocket=1)")
        assert err.value.status_code == 422
    with GuardClient(url, keys["admin"]) as admin:
        assert admin.ask("asia", "P(dysp=yes | do(smoke=yes))", draws=0)["mean"] > 0.5
        page = admin.audit(limit=1000)
        assert verdict["audit_id"] in [r["id"] for r in page["records"]]
    text = httpx.get(f"{url}/metrics").text
    assert "scientist_requests_total" in text


def test_two_workers_lose_no_record(server):
    url, keys, db, _ = server
    store = AuditStore(db)
    before = store.count()

    def one(i: int) -> int:
        with GuardClient(url, keys["decide"], timeout=30) as guard:
            action = {"smoke": "yes" if i % 2 else "no"}
            return int(guard.decide("asia", action, threshold=0.5)["audit_id"])

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(one, range(80)))
    assert len(set(ids)) == 80 and store.count() == before + 80
    store.close()


def test_the_guarded_agent_example(server, capsys):
    url, keys, _, _ = server
    spec = importlib.util.spec_from_file_location("guarded_agent", EXAMPLE)
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    with GuardClient(url, keys["decide"]) as guard:
        outcomes = example.run(guard)
    assert outcomes == [
        ("offer_cigarette", "block"),
        ("prescribe_quitting", "ran"),
        ("treat_bronchitis", "ran"),
        ("book_trip_to_asia", "escalate"),
    ]
    assert "escalated to a human" in capsys.readouterr().out


def test_keys_are_not_in_the_server_log(server):
    url, keys, _, log = server
    httpx.get(f"{url}/v1/posteriors", headers={"Authorization": f"Bearer {keys['decide']}"})
    text = log.read_text()
    assert "GET /v1/posteriors" in text or "Uvicorn running" in text or "Started" in text
    for token in keys.values():
        assert token not in text and token.split("_", 2)[2] not in text
    assert os.path.exists(log)


def test_running_server_reports_a_service_that_exits(tmp_path):
    log = tmp_path / "serve.log"
    with pytest.raises(ServerError, match="exited with status 2") as err:
        with running_server(["--posterior", f"a={tmp_path / 'missing.npz'}"], log=log):
            pass  # pragma: no cover - never reached
    assert "missing.npz" in str(err.value)


def test_running_server_checks_its_timeouts(tmp_path):
    with pytest.raises(ValueError, match="start_timeout=0"):
        with running_server([], log=tmp_path / "serve.log", start_timeout=0):
            pass  # pragma: no cover - never reached
    assert not (tmp_path / "serve.log").exists()


def test_running_server_moves_to_another_port_when_its_port_is_taken(tmp_path, monkeypatch):
    """Another process may bind the port between ``free_port()`` and the service's bind."""
    import socket

    from scientist.service import testing

    Posterior.from_theories([datasets.load_network("asia")]).save(tmp_path / "asia.npz")
    args = [
        *("--posterior", f"asia={tmp_path / 'asia.npz'}", "--db", f"sqlite:///{tmp_path}/a.db"),
        *("--inference-processes", "0"),
    ]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = iter([taken.getsockname()[1]])
        real = testing.free_port
        monkeypatch.setattr(testing, "free_port", lambda: next(ports, None) or real())
        with running_server(args, log=tmp_path / "serve.log", cwd=tmp_path) as srv:
            assert srv.url != f"http://127.0.0.1:{taken.getsockname()[1]}"
            assert httpx.get(f"{srv.url}/healthz").status_code == 200
        # with no try left, the error is raised with the service's log
        monkeypatch.setattr(testing, "_BIND_ATTEMPTS", 1)
        ports = iter([taken.getsockname()[1]])
        with pytest.raises(ServerError, match="address already in use"):
            with running_server(args, log=tmp_path / "serve.log", cwd=tmp_path):
                pass  # pragma: no cover - never reached
