"""The guard: spec parsing, decisions on posteriors with known answers, audit-before-return."""

import datetime as dt
import json

import numpy as np
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from scientist import InputError, Posterior, Theory, ask, datasets
from scientist.cli import app
from scientist.guard import AuditError, AuditStore, Guard, HarmSpec
from scientist.theory import CategoricalFamily

SPEC = """
principles:
  - name: no-dyspnoea
    description: The action must not cause shortness of breath.
    interpretations:
      - event: dysp=yes
        weight: 1.0
"""


@pytest.fixture
def store(tmp_path):
    return AuditStore(f"sqlite:///{tmp_path / 'audit.db'}")


@pytest.fixture(scope="module")
def asia_post():
    return Posterior.from_theories([datasets.load_network("asia")])


def two_theories(harm_a: float, harm_b: float, w_a: float) -> Posterior:
    """Two one-node worlds where P(Y=bad) is harm_a or harm_b, with weights w_a and 1 - w_a."""
    from scientist.data import Variable

    variables = [
        Variable("X", "categorical", ("off", "on")),
        Variable("Y", "categorical", ("ok", "bad")),
    ]
    theories = []
    for h in (harm_a, harm_b):
        cpt = np.array([[1 - h, h], [1 - h, h]])
        fams = [CategoricalFamily((), np.array([0.5, 0.5])), CategoricalFamily((0,), cpt)]
        adj = np.array([[False, True], [False, False]])
        theories.append(Theory(variables, adj, fams))
    return Posterior.from_theories(theories, weights=[w_a, 1 - w_a])


Y_SPEC = HarmSpec.from_dict({"principles": [{"name": "y-ok", "interpretations": ["Y=bad"]}]})


def test_spec_parses_and_validates():
    spec = HarmSpec.from_yaml(SPEC)
    assert spec.principles[0].name == "no-dyspnoea"
    assert str(spec.principles[0].interpretations[0].event) == "dysp=yes"
    with pytest.raises(InputError, match=r"'bad-one'.*'Outcome=='"):
        HarmSpec.from_dict({"principles": [{"name": "bad-one", "interpretations": ["Outcome=="]}]})
    with pytest.raises(InputError, match=r"'two'.*one condition on one variable"):
        HarmSpec.from_dict({"principles": [{"name": "two", "interpretations": ["A=1, B=2"]}]})
    with pytest.raises(InputError, match="weight"):
        HarmSpec.from_dict(
            {"principles": [{"name": "w", "interpretations": [{"event": "A=1", "weight": 2}]}]}
        )
    with pytest.raises(InputError, match="principles"):
        HarmSpec.from_dict({"rules": []})
    with pytest.raises(InputError, match="not valid YAML"):
        HarmSpec.from_yaml("principles: [\n  - : :")
    with pytest.raises(InputError, match=r"'Nope'.*not a variable"):
        HarmSpec.from_dict(
            {"principles": [{"name": "n", "interpretations": ["Nope=1"]}]}
        ).validate_against(["A"])


def test_decisions_match_the_exact_harm(asia_post, store):
    truth = ask(asia_post, "P(dysp=yes | do(smoke=yes))").mean
    g_block = Guard(asia_post, SPEC, threshold=truth - 0.01, audit=store)
    g_allow = Guard(asia_post, SPEC, threshold=truth + 0.01, audit=store)
    v = g_block.decide("do(smoke=yes)")
    assert v.decision == "block" and v.estimate == pytest.approx(truth, abs=1e-12)
    assert set(v.estimates) == {"posterior_predictive", "prop33", "prop45", "credible"}
    assert g_allow.decide({"smoke": "yes"}).decision == "allow"
    records = store.tail(10)
    assert [r["decision"] for r in records] == ["block", "allow"]
    assert records[0]["verdict"]["estimate"] == pytest.approx(truth)
    assert records[0]["posterior"] == asia_post.fingerprint()


def test_tail_takes_naive_and_aware_times_as_utc(asia_post, store):
    g = Guard(asia_post, SPEC, threshold=0.5, audit=store)
    g.decide("do(smoke=yes)")
    cut = dt.datetime.now(dt.UTC)
    g.decide("do(smoke=no)")
    for since in (
        cut,
        cut.replace(tzinfo=None),
        cut.astimezone(dt.timezone(dt.timedelta(hours=5))),
    ):
        records = store.tail(10, since=since)
        assert [r["action"] for r in records] == ["do(smoke=no)"]
    assert [r["action"] for r in store.tail(10)] == ["do(smoke=yes)", "do(smoke=no)"]
    assert all(
        dt.datetime.fromisoformat(r["time"]).utcoffset() == dt.timedelta(0) for r in store.tail(10)
    )


def test_rules_that_disagree_escalate(store):
    # posterior predictive 0.9*0.01 + 0.1*0.5 = 0.059; Prop 4.5 with alpha = 0.05 keeps both theories
    post = two_theories(0.01, 0.5, 0.9)
    v = Guard(post, Y_SPEC, threshold=0.1, alpha=0.05, audit=store).decide("do(X=on)")
    assert v.estimates["posterior_predictive"] == pytest.approx(0.059)
    assert v.estimates["prop45"] == pytest.approx(0.5)
    assert v.decision == "escalate" and "disagree" in v.reason
    assert any(d["harm"] == pytest.approx(0.5) for d in v.drivers)
    assert "driver" in v.explain()


def test_monte_carlo_error_straddling_the_threshold_escalates(store):
    # every rule is above 0.24, but the estimate 0.25 rests on 4 samples (s.e. 0.025)
    post = two_theories(0.2, 0.3, 0.5)
    post.weighting = "empirical"
    post.info["n_samples"] = 4
    g = Guard(post, Y_SPEC, threshold=0.24, rule="posterior_predictive", audit=store)
    v = g.decide("do(X=on)")
    assert v.decision == "escalate" and "Monte-Carlo" in v.reason


def test_impossible_context_escalates(asia_post, store):
    v = Guard(asia_post, SPEC, threshold=0.5, audit=store).decide(
        "do(smoke=yes)", "tub=yes, either=no"
    )
    assert v.decision == "escalate" and "probability zero" in v.reason
    assert store.tail(1)[0]["decision"] == "escalate"


def test_no_decision_without_an_audit_record(asia_post, store):
    g = Guard(asia_post, SPEC, threshold=0.5, audit=store)
    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE decisions"))
    with pytest.raises(AuditError, match="no decision is returned"):
        g.decide("do(smoke=yes)")


def test_no_memory_between_calls(asia_post, store):
    g = Guard(asia_post, SPEC, threshold=0.5, audit=store)
    a, b = g.decide("do(smoke=no)"), g.decide("do(smoke=no)")
    da, db = a.to_dict(), b.to_dict()
    for key in ("audit_id", "time"):
        da.pop(key), db.pop(key)
    assert da == db and a.audit_id != b.audit_id


def test_bad_guard_input(asia_post, store):
    with pytest.raises(InputError, match="rule="):
        Guard(asia_post, SPEC, rule="vibes", audit=store)
    with pytest.raises(InputError, match="threshold="):
        Guard(asia_post, SPEC, threshold=2, audit=store)
    g = Guard(asia_post, SPEC, audit=store)
    with pytest.raises(InputError, match="action="):
        g.decide("")
    with pytest.raises(Exception, match="Unknown variable 'rocket'"):
        g.decide("do(rocket=1)")


def test_cli_exit_codes(tmp_path):
    runner = CliRunner()
    post = tmp_path / "asia.npz"
    Posterior.from_theories([datasets.load_network("asia")]).save(post)
    spec = tmp_path / "harms.yaml"
    spec.write_text(SPEC)
    db = f"sqlite:///{tmp_path / 'a.db'}"
    base = ["guard", str(post), "--spec", str(spec), "--db", db]
    assert (
        runner.invoke(app, [*base, "--action", "do(smoke=no)", "--threshold", "0.5"]).exit_code == 0
    )
    res = runner.invoke(app, [*base, "--action", "do(smoke=yes)", "--threshold", "0.5", "--json"])
    assert res.exit_code == 3 and json.loads(res.output)["decision"] == "block"
    res = runner.invoke(
        app, [*base, "--action", "do(smoke=yes)", "--context", "tub=yes, either=no"]
    )
    assert res.exit_code == 4
    res = runner.invoke(app, ["audit", "tail", "--db", db, "--json"])
    assert res.exit_code == 0 and len(res.output.strip().splitlines()) == 3


def test_an_action_outside_the_observed_support_escalates(store):
    from scientist import WorldModel

    w = np.zeros((3, 3))
    w[0, 2], w[1, 2] = 1.0, 2.0
    truth = Theory.linear_gaussian(["load", "bypass", "temp"], w)
    data = truth.sample(200, rng=0)
    values = data.values.copy()
    values[:, 1] = 0.0  # the bypass valve never moved in the data
    from scientist import Dataset

    post = WorldModel(sampler="exact").fit(Dataset(data.variables, values)).posterior_
    assert post.info["support"]["bypass"] == {"min": 0.0, "max": 0.0}
    spec = HarmSpec.from_dict({"principles": [{"name": "hot", "interpretations": ["temp > 3"]}]})
    g = Guard(post, spec, threshold=0.05, audit=store)
    v = g.decide("do(bypass=1)")
    assert v.decision == "escalate" and "never showed" in v.reason
    assert (
        g.decide("do(load=0.5)").decision != "escalate"
        or "never showed" not in g.decide("do(load=0.5)").reason
    )
