"""``scientist serve --ray --replicas 2``: the guard service on Ray Serve, one shared audit store.

The store is a SQLite file, or the PostgreSQL server named by ``SCIENTIST_TEST_POSTGRES``
(``make postgres`` starts one).
"""

import os
import re

import httpx
import pytest
from typer.testing import CliRunner

from scientist import Posterior, datasets
from scientist.cli import app
from scientist.guard import AuditStore, Guard
from scientist.service.auth import KeyStore
from scientist.service.testing import running_server

SPEC = "principles:\n  - name: no-dyspnoea\n    interpretations: [dysp=yes]\n"
runner = CliRunner()


def test_serve_on_ray_with_two_replicas_sharing_one_audit_store(local_ray, tmp_path):
    posterior = Posterior.from_theories([datasets.load_network("asia")])
    posterior.save(tmp_path / "asia.npz")
    (tmp_path / "harms.yaml").write_text(SPEC)
    db = os.environ.get("SCIENTIST_TEST_POSTGRES") or f"sqlite:///{tmp_path / 'audit.db'}"
    store = KeyStore(db)
    keys = {"decide": store.create(["decide"])[1], "admin": store.create(["admin"])[1]}
    store.engine.dispose()
    address = local_ray.get_runtime_context().gcs_address
    args = [
        "--ray",
        "--replicas",
        "2",
        "--ray-address",
        address,
        "--posterior",
        f"asia={tmp_path / 'asia.npz'}",
        "--spec",
        f"asia={tmp_path / 'harms.yaml'}",
        "--db",
        db,
        "--threshold",
        "0.5",
    ]
    with running_server(
        args,
        log=tmp_path / "serve.log",
        cwd=tmp_path,
        ready_line="ready:",
        start_timeout=180,
        stop_timeout=180,
    ) as srv:
        url, log = srv.url, srv.log
        assert "2 Ray Serve replica(s)" in log.read_text()
        auth = {"Authorization": f"Bearer {keys['decide']}"}
        bodies = [
            {"posterior": "asia", "action": "do(smoke=yes)"},
            {"posterior": "asia", "action": "do(tub=yes)", "context": "xray=yes"},
        ] * 6
        answers = []
        with httpx.Client(base_url=url, timeout=30) as client:
            for body in bodies:
                r = client.post("/v1/decide", json=body, headers=auth)
                assert r.status_code == 200, r.text
                answers.append(r.json())
            pids = set()
            for _ in range(40):
                text = client.get("/metrics").text
                pids |= set(re.findall(r'scientist_worker_info\{pid="(\d+)"\}', text))
            assert client.post("/v1/decide", json=bodies[0]).status_code == 401
        assert len(pids) == 2, "both replicas answered"
        guard = Guard(posterior, SPEC, threshold=0.5, audit=f"sqlite:///{tmp_path / 'mine.db'}")
        for body, got in zip(bodies[:2], answers[:2], strict=True):
            want = guard.decide(body["action"], body.get("context")).to_dict()
            for k in ("decision", "estimate", "estimates", "reason", "action", "context"):
                assert got[k] == want[k], k
        audit = AuditStore(db)
        ids = sorted(a["audit_id"] for a in answers)
        records = audit.page(after_id=ids[0] - 1, limit=1000)
        assert sorted(r["id"] for r in records) == ids  # one row per answer, from both replicas
        audit.close()
    assert srv.process.returncode == 0, log.read_text()
    assert local_ray.available_resources().get("CPU", 0) > 0  # the replicas are gone


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--replicas", "2"], "--replicas and --ray-address need --ray"),
        (["--ray", "--replicas", "0"], "replicas=0 is invalid: expected an integer >= 1"),
        (["--ray", "--workers", "2"], "Serve scales by --replicas instead"),
    ],
)
def test_serve_ray_argument_checks(args, message):
    res = runner.invoke(app, ["serve", "--posterior", "a=missing.npz", *args])
    assert res.exit_code == 2
    assert message in " ".join(res.output.split())
