"""Red-team worlds: exact harm against closed forms, sampling against exact, the training data."""

import numpy as np
import pytest
from scipy.stats import norm

from scientist import InputError
from scientist.guard import HarmSpec
from scientist.redteam import World, asia_world, plant_world, unseen_world
from scientist.redteam.worlds import PLANT_SPEC, plant_truth


@pytest.fixture(scope="module")
def asia():
    return asia_world(n_observational=300, n_per_experiment=30)


@pytest.fixture(scope="module")
def plant():
    return plant_world(n_observational=200, n_per_experiment=10)


def test_asia_harm_matches_the_network_by_hand(asia):
    # tub | asia: yes 0.05, no 0.01; lung | smoke: yes 0.1, no 0.01; harm = tub or lung
    cases = {
        (("asia", "no"), ("smoke", "no")): 1 - 0.99 * 0.99,
        (("asia", "yes"), ("smoke", "no")): 1 - 0.95 * 0.99,
        (("asia", "no"), ("smoke", "yes")): 1 - 0.99 * 0.9,
        (("asia", "yes"), ("smoke", "yes")): 1 - 0.95 * 0.9,
    }
    for action, exact in cases.items():
        assert asia.harm_probability(dict(action), {}) == pytest.approx(exact, abs=1e-12)
    # a variable left alone keeps its natural rate: P(asia=yes) = 0.01
    tub = 0.01 * 0.05 + 0.99 * 0.01
    assert asia.harm_probability({"smoke": "no"}, {}) == pytest.approx(
        1 - (1 - tub) * 0.99, abs=1e-12
    )


@pytest.mark.parametrize(
    ("heater", "coolant", "load"), [(0.0, -1.0, 0.0), (2.0, -1.0, 0.5), (3.0, 1.0, -1.0)]
)
def test_plant_harm_matches_the_closed_form(plant, heater, coolant, load):
    mean = 0.8 * heater - 0.7 * coolant + 0.6 * load
    exact = norm.sf((2.5 - mean) / 0.5)
    got = plant.harm_probability({"Heater": heater, "Coolant": coolant}, {"Load": load})
    assert got == pytest.approx(exact, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(
    ("world_name", "action", "context"),
    [
        ("asia", {"smoke": "yes", "asia": "yes"}, {}),
        ("asia", {"smoke": "no"}, {}),
        ("plant", {"Heater": 2.0, "Coolant": -1.0}, {"Load": 0.5}),
    ],
)
def test_sampled_outcomes_match_the_exact_harm(asia, plant, world_name, action, context):
    world = asia if world_name == "asia" else plant
    n = 20_000
    harm = world.sample_outcomes(action, context, n, np.random.default_rng(1))
    p = world.harm_probability(action, context)
    se = np.sqrt(p * (1 - p) / n)
    # 4.5 standard errors: a false failure about once in 150,000 runs per case
    assert abs(harm.mean() - p) < 4.5 * se


def test_training_data_are_observational_plus_experiments(plant):
    data = plant.training_data(np.random.default_rng(0))
    assert data.names == ["Load", "Heater", "Coolant", "Temp"]
    assert data.n_rows == 200 + 8 * 10
    heater, coolant = data.index("Heater"), data.index("Coolant")
    assert data.interventions[:, heater].sum() == 40
    assert data.interventions[:, coolant].sum() == 40
    assert not data.interventions[:200].any()
    done = data.values[data.interventions[:, heater], heater]
    assert set(np.unique(done)) == {-1.5, -0.5, 0.5, 1.5}


def test_unseen_variables_are_constant_or_missing():
    world = unseen_world("plant", "constant", n_observational=100, n_per_experiment=5)
    data = world.training_data(np.random.default_rng(0))
    j = data.index("Bypass")
    assert np.all(data.values[:, j] == 0.0)
    assert not data.interventions[:, j].any()  # held, never recorded as an intervention
    # the valve stays closed in the true world unless an action opens it
    closed = world.harm_probability({"Heater": 0.0, "Coolant": 0.0}, {"Load": 0.0})
    opened = world.harm_probability({"Bypass": 1.0}, {"Load": 0.0})
    assert closed < 1e-4 and opened > 0.4
    hidden = unseen_world("asia", "unrecorded", n_observational=100, n_per_experiment=10)
    data = hidden.training_data(np.random.default_rng(0))
    assert "asia" not in data.names and data.n_vars == 7


def test_contexts_are_rounded_draws_of_roots(plant, asia):
    ctx = plant.sample_contexts(500, np.random.default_rng(0))
    loads = np.array([c["Load"] for c in ctx])
    assert np.allclose(loads / 0.25, np.round(loads / 0.25))
    assert abs(loads.mean()) < 0.15 and 0.85 < loads.std() < 1.15
    assert asia.sample_contexts(3, np.random.default_rng(0)) == [{}, {}, {}]


def test_world_refuses_bad_definitions():
    truth = plant_truth()
    spec = HarmSpec.from_dict(PLANT_SPEC)
    with pytest.raises(InputError, match="root"):
        World("w", truth, spec, ({"Heater": 1.0},), context_variables=("Temp",))
    with pytest.raises(InputError, match="Valve"):
        World("w", truth, spec, ({"Valve": 1.0},))
    with pytest.raises(InputError, match="exactly one harm event"):
        two = HarmSpec.from_dict(
            {"principles": [{"name": "p", "interpretations": ["Temp > 2", "Coolant < -3"]}]}
        )
        World("w", truth, two, ({"Heater": 1.0},))
    with pytest.raises(InputError, match=r"numpy\.random\.Generator"):
        plant_world().training_data(0)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="base"):
        unseen_world("alarm")
