"""Fuzzing the guard service with hypothesis: whatever the body, no 500, and the OpenAPI spec
documents every status the app returns; every 200 body matches its response model.

Bodies are drawn three ways: shaped like the request models (with known and unknown
posteriors, variables, states, query fragments, out-of-range numbers), arbitrary JSON, and
arbitrary bytes. Heavier runs: ``pytest -m slow tests/service/test_service_fuzz.py``.
"""

import asyncio
import json

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scientist.service import Service, create_app
from scientist.service.models import (
    AnswerOut,
    AuditPage,
    ErrorOut,
    PosteriorsOut,
    VerdictOut,
)

SPEC = "principles:\n  - name: no-dyspnoea\n    interpretations: [dysp=yes, xray=yes]\n"
GAUSS_SPEC = "principles:\n  - name: not-hot\n    interpretations: ['X2 > 1', 'X1 <= -2']\n"
NAMES = ["asia", "tub", "smoke", "lung", "bronc", "either", "xray", "dysp", "X0", "X1", "X2"]
MODELS = {
    ("post", "/v1/decide"): VerdictOut,
    ("post", "/v1/ask"): AnswerOut,
    ("get", "/v1/audit"): AuditPage,
    ("get", "/v1/posteriors"): PosteriorsOut,
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
posteriors = st.sampled_from(["asia", "plain", "gauss", "nope", "", "a" * 200])
variables = st.sampled_from([*NAMES, "rocket", "", "do", "P"]) | st.text(max_size=6)
values = (
    st.sampled_from(["yes", "no", "maybe", "", "'yes'"])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([1e308, -1e308, 1e200, 5e-324])
    | st.integers(-3, 3)
    | st.booleans()
)
TOKENS = [
    "P(",
    "E[",
    "do(",
    ")",
    "]",
    "|",
    ",",
    "=",
    "!=",
    "<",
    ">=",
    "->",
    "~>",
    " ",
    "'",
    '"',
    "1.5",
    "-",
    "yes",
    "no",
]
fragments = st.lists(st.sampled_from([*TOKENS, *NAMES]), max_size=14).map("".join)
texts = fragments | st.text(max_size=40)
assignments = st.dictionaries(variables, values, max_size=4)
numbers = st.floats() | st.integers(-2, 2) | st.none() | st.text(max_size=3)

decide_bodies = st.fixed_dictionaries(
    {"posterior": posteriors, "action": texts | assignments | json_values},
    optional={
        "context": texts | assignments | st.none(),
        "threshold": numbers,
        "rule": st.sampled_from(["prop45", "prop33", "credible", "posterior_predictive", "x"]),
        "extra": json_values,
    },
)
ask_bodies = st.fixed_dictionaries(
    {"posterior": posteriors, "query": texts},
    optional={
        "level": numbers,
        "seed": st.integers(-5, 2**40) | numbers,
        "draws": st.integers(-1, 300),
    },
)
audit_queries = st.fixed_dictionaries(
    {},
    optional={
        "limit": st.integers(-5, 5000) | st.text(max_size=4),
        "after_id": st.integers(-5, 2**70) | st.text(max_size=4),
        "since": st.datetimes().map(lambda d: d.isoformat()) | st.text(max_size=12),
    },
)


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory):
    from scientist import Posterior, Theory, datasets

    tmp = tmp_path_factory.mktemp("fuzz")
    asia = Posterior.from_theories([datasets.load_network("asia")])
    weights = np.array([[0, 1.5, 0], [0, 0, -0.7], [0, 0, 0]])
    gauss = Posterior.from_theories(
        [
            Theory.linear_gaussian(["X0", "X1", "X2"], weights, noise_sd=0.5),
            Theory.linear_gaussian(["X0", "X1", "X2"], weights.T, noise_sd=0.2),
        ],
        weights=[0.7, 0.3],
    )
    service = Service(
        {"asia": asia, "plain": asia, "gauss": gauss},
        {"asia": SPEC, "gauss": GAUSS_SPEC},
        audit=f"sqlite:///{tmp / 'audit.db'}",
        cache_size=64,
    )
    token = service.keys.create(["decide", "ask", "admin"])[1]
    app = create_app(service, max_body=4096)
    spec = app.openapi()
    runner = asyncio.Runner()
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://fuzz.test",
        headers={"Authorization": f"Bearer {token}"},
    )
    yield runner, client, spec
    runner.run(client.aclose())
    runner.close()
    service.audit.close()


def check(env, method: str, path: str, body=None, **kwargs) -> httpx.Response:
    """Send one request; NaN and Infinity go out as Python's JSON literals, which servers may parse."""
    runner, client, spec = env
    if body is not None:
        kwargs["content"] = json.dumps(body).encode()
        kwargs["headers"] = {"Content-Type": "application/json"}
    r = runner.run(client.request(method.upper(), path, **kwargs))
    assert r.status_code != 500, r.text
    documented = spec["paths"][path][method]["responses"]
    assert str(r.status_code) in documented, (r.status_code, r.text)
    data = json.loads(r.text, parse_constant=_not_json)  # strict JSON: no NaN or Infinity
    if r.status_code == 200:
        MODELS[(method, path)].model_validate(data)
    else:
        ErrorOut.model_validate(data)
    return r


def _not_json(name: str) -> None:
    raise AssertionError(f"the response holds {name}, which is not JSON")


# `make test` draws the same examples every run (a CI gate must not fail by chance); the slow
# test below draws new ones each time, to keep exploring.
FAST = settings(
    max_examples=120,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FAST
@given(body=decide_bodies)
def test_decide_bodies(fuzz_env, body):
    check(fuzz_env, "post", "/v1/decide", body=body)


@FAST
@given(body=ask_bodies)
def test_ask_bodies(fuzz_env, body):
    check(fuzz_env, "post", "/v1/ask", body=body)


@settings(FAST, max_examples=60)
@given(body=json_values, path=st.sampled_from(["/v1/decide", "/v1/ask"]))
def test_arbitrary_json(fuzz_env, body, path):
    check(fuzz_env, "post", path, body=body)


@settings(FAST, max_examples=40)
@given(body=st.binary(max_size=5000), path=st.sampled_from(["/v1/decide", "/v1/ask"]))
def test_arbitrary_bytes(fuzz_env, body, path):
    check(fuzz_env, "post", path, content=body, headers={"Content-Type": "application/json"})


@settings(FAST, max_examples=40)
@given(params=audit_queries)
def test_audit_queries(fuzz_env, params):
    check(fuzz_env, "get", "/v1/audit", params=params)


@pytest.mark.slow
@settings(FAST, max_examples=3000, derandomize=False)
@given(body=decide_bodies | ask_bodies, path=st.sampled_from(["/v1/decide", "/v1/ask"]))
def test_many_bodies(fuzz_env, body, path):
    check(fuzz_env, "post", path, body=body)
