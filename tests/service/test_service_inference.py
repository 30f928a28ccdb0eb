"""Cache misses in worker processes: the same answers as inline, errors carried over, a dead
worker answered with 503 and replaced."""

import os
import signal

import pytest

from scientist import InputError
from scientist.service import Service
from scientist.service.inference import InferenceUnavailable

SPEC = "principles: [{name: no-dyspnoea, interpretations: [dysp=yes]}]"


@pytest.fixture(scope="module")
def pooled(asia, tmp_path_factory):
    db = f"sqlite:///{tmp_path_factory.mktemp('pool') / 'audit.db'}"
    svc = Service(
        {"asia": asia}, {"asia": SPEC}, audit=db, threshold=0.5, processes=1, cache_size=0
    )
    yield svc
    svc.close()


def test_pooled_results_equal_inline_results(pooled, asia, db):
    inline = Service({"asia": asia}, {"asia": SPEC}, audit=db, threshold=0.5)
    for action, context in [("do(smoke=yes)", None), ({"smoke": "no"}, "xray=yes")]:
        a = pooled.decide("asia", action, context)
        b = inline.decide("asia", action, context)
        for v in (a, b):
            v.pop("audit_id"), v.pop("time")
        assert a == b
    q = "P(dysp=yes | do(smoke=yes), xray=yes)"
    assert pooled.ask("asia", q, seed=1) == inline.ask("asia", q, seed=1)
    inline.close()


def test_pooled_errors_are_the_parsers(pooled):
    with pytest.raises(InputError, match="Unknown state 'maybe'"):
        pooled.decide("asia", {"smoke": "maybe"})
    with pytest.raises(InputError, match="Cannot parse"):
        pooled.ask("asia", "P(dysp=")


def test_wait_ready_sees_every_worker_process(asia, db):
    svc = Service({"asia": asia}, {"asia": SPEC}, audit=db, threshold=0.5, processes=2)
    try:
        assert svc.inference.wait_ready() == 2
        assert svc.inference.wait_ready() == 2  # ready stays ready
        assert len(svc.inference._pool._processes) == 2
    finally:
        svc.close()
    assert svc.inference.wait_ready() == 0  # closed
    inline = Service({"asia": asia}, {"asia": SPEC}, audit=db, threshold=0.5)
    assert inline.inference.wait_ready() == 0
    inline.close()


def test_a_dead_worker_is_replaced(pooled):
    pid = next(iter(pooled.inference._pool._processes))
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(InferenceUnavailable, match="Retry"):
        for _ in range(3):  # the pool notices the death on the next submission at the latest
            pooled.decide("asia", "do(smoke=yes)")
    assert pooled.decide("asia", "do(smoke=yes)")["decision"] == "block"
