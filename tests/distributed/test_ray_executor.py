"""Chains and batches of guard decisions as Ray tasks: the same results as a local run."""

import sys

import numpy as np
import pytest

from scientist import (
    InputError,
    LocalExecutor,
    MissingDependencyError,
    RayExecutor,
    WorldModel,
    datasets,
)
from scientist.executors import make_executor
from scientist.guard import Guard

SPEC = "principles:\n  - name: no-dyspnoea\n    interpretations: [dysp=yes]\n"


@pytest.fixture(scope="module")
def asia500():
    return datasets.load_network("asia").sample(500, rng=0)


def test_executors_map_in_order(local_ray):
    # a function defined here travels by value (cloudpickle); the test module is not importable
    # in Ray's workers
    def _square_plus(shared, item):
        return shared["offset"] + item * item

    items = list(range(9))
    shared = {"offset": np.float64(0.5)}
    local = LocalExecutor().map(_square_plus, items, shared=shared)
    remote = RayExecutor().map(_square_plus, items, shared=shared)
    assert local == remote == [0.5 + i * i for i in items]
    assert RayExecutor().map(_square_plus, [], shared=shared) == []
    assert RayExecutor().n_workers == 2 and LocalExecutor().n_workers == 1


@pytest.mark.parametrize("sampler", ["order_mcmc", "structure_mcmc"])
def test_chains_on_ray_give_the_local_posterior(local_ray, asia500, sampler):
    kw = dict(sampler=sampler, n_samples=200, n_chains=3, draws_per_order=2, seed=11)
    local = WorldModel(**kw).fit(asia500)
    remote = WorldModel(**kw, executor="ray").fit(asia500)
    a, b = local.posterior_, remote.posterior_
    assert a.fingerprint() == b.fingerprint()
    np.testing.assert_array_equal(a.masks, b.masks)
    np.testing.assert_array_equal(a.log_weights, b.log_weights)
    np.testing.assert_array_equal(local.rhat_, remote.rhat_)
    assert a.info["acceptance"] == b.info["acceptance"]
    assert b.info["max_rhat"] is not None


def test_decide_many_on_ray_gives_the_verdicts_of_decide(local_ray, asia500, tmp_path):
    posterior = WorldModel(sampler="order_mcmc", n_samples=200, n_chains=2, seed=3)
    posterior = posterior.fit(asia500).posterior_
    guard = Guard(posterior, SPEC, threshold=0.3, audit=f"sqlite:///{tmp_path / 'audit.db'}")
    requests = [
        ("do(smoke=yes)", None),
        ("do(smoke=no)", "xray=yes"),
        {"action": {"bronc": "yes"}, "context": {"asia": "yes"}},
        {"action": "do(lung=no)"},
        "do(tub=yes)",
        ("do(either=yes)", ""),
    ]
    one_by_one = [guard.decide(a, c) for a, c in [(r, None) for r in requests[4:5]]]
    local = guard.decide_many(requests)
    remote = guard.decide_many(requests, executor=RayExecutor(), chunk_size=2)

    def plain(v):
        d = v.to_dict()
        del d["time"], d["audit_id"]
        return d

    assert [plain(v) for v in local] == [plain(v) for v in remote]
    assert plain(local[4]) == plain(one_by_one[0])
    assert {v.decision for v in remote} <= {"allow", "block", "escalate"}
    ids = [v.audit_id for v in remote]
    assert ids == sorted(ids) and len(set(ids)) == len(requests)
    records = guard.audit.page(after_id=0, limit=100)
    assert len(records) == 1 + 2 * len(requests)
    assert guard.decide_many([], executor="ray") == []


def test_decide_many_names_the_bad_request_and_audits_nothing(asia500, tmp_path):
    posterior = WorldModel(sampler="order_mcmc", n_samples=50, n_chains=1, seed=0)
    guard = Guard(posterior.fit(asia500).posterior_, SPEC, audit=f"sqlite:///{tmp_path / 'a.db'}")
    with pytest.raises(InputError, match=r"requests\[1\]: Unknown variable 'nope'"):
        guard.decide_many(["do(smoke=yes)", "do(nope=1)"])
    with pytest.raises(InputError, match=r"requests\[0\]=42 is invalid"):
        guard.decide_many([42])
    with pytest.raises(InputError, match="chunk_size=0 is invalid"):
        guard.decide_many(["do(smoke=yes)"], chunk_size=0)
    with pytest.raises(InputError, match="executor='dask' is invalid"):
        guard.decide_many(["do(smoke=yes)"], executor="dask")
    assert guard.audit.page(after_id=0, limit=10) == []


def test_bad_executor_arguments(asia500):
    with pytest.raises(InputError, match="executor='threads' is invalid: expected 'local', 'ray'"):
        WorldModel(sampler="order_mcmc", executor="threads").fit(asia500)
    with pytest.raises(InputError, match="executor=3 is invalid"):
        make_executor(3)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="num_cpus=0 is invalid"):
        RayExecutor(num_cpus=0)
    with pytest.raises(InputError, match="address=5 is invalid"):
        RayExecutor(address=5)  # type: ignore[arg-type]


def test_without_ray_the_error_says_how_to_install(monkeypatch, asia500):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'scientist-ai\[ray\]'"):
        WorldModel(sampler="order_mcmc", n_samples=10, executor="ray").fit(asia500)
    with pytest.raises(ImportError, match="executor='ray' needs Ray"):
        RayExecutor()
    from scientist.service.ray_serve import import_serve

    with pytest.raises(MissingDependencyError, match=r"Ray Serve \(--ray\) needs Ray"):
        import_serve()


def test_learn_command_with_ray_chains(local_ray, asia500, tmp_path):
    from typer.testing import CliRunner

    from scientist import Posterior
    from scientist.cli import app

    csv = tmp_path / "asia.csv"
    asia500.to_pandas().to_csv(csv, index=False)
    runner = CliRunner()
    common = ["learn", str(csv), "--sampler", "order-mcmc", "--samples", "100", "--seed", "5"]
    outs = {}
    for executor in ("local", "ray"):
        outs[executor] = tmp_path / f"{executor}.npz"
        res = runner.invoke(app, [*common, "--executor", executor, "-o", str(outs[executor])])
        assert res.exit_code == 0, res.output
    local, remote = (Posterior.load(outs[k]) for k in ("local", "ray"))
    assert local.fingerprint() == remote.fingerprint()
    res = runner.invoke(app, [*common, "--executor", "spark", "-o", str(tmp_path / "x.npz")])
    assert res.exit_code == 2 and "executor='spark' is invalid" in res.output
