"""Theories: sampling, interventions, parameter posteriors, descriptions, bundled networks."""

import re

import numpy as np
import pytest

from scientist import InputError, Theory, WorldModel, datasets


def test_linear_gaussian_sampling_moments():
    w = np.array([[0, 2.0], [0, 0]])
    t = Theory.linear_gaussian(["a", "b"], w, intercepts=[1.0, -1.0], noise_sd=[1.0, 0.5])
    x = t.sample(20000, rng=0).values
    assert x[:, 0].mean() == pytest.approx(1.0, abs=0.03)
    assert x[:, 1].mean() == pytest.approx(1.0, abs=0.05)  # -1 + 2 * 1
    assert x[:, 1].var() == pytest.approx(4 + 0.25, rel=0.05)


def test_interventions_cut_incoming_edges():
    w = np.array([[0, 2.0], [0, 0]])
    t = Theory.linear_gaussian(["a", "b"], w)
    ds = t.sample(5000, rng=1, do={"b": 3.0})
    assert np.all(ds.values[:, 1] == 3.0)
    assert ds.interventions[:, 1].all() and not ds.interventions[:, 0].any()
    ds = t.sample(5000, rng=1, do={"a": 1.0})
    assert ds.values[:, 1].mean() == pytest.approx(2.0, abs=0.05)
    with pytest.raises(InputError, match="not a variable"):
        t.sample(10, do={"zzz": 1})
    with pytest.raises(InputError, match="n="):
        t.sample(0)


def test_categorical_sampling_matches_cpts():
    asia = datasets.load_network("asia")
    ds = asia.sample(40000, rng=2)
    j = asia.names.index("smoke")
    p_yes = asia.families[j].cpt[asia.variables[j].states.index("yes")]
    assert (ds.codes()[:, j] == asia.variables[j].states.index("yes")).mean() == pytest.approx(
        p_yes, abs=0.01
    )
    lung = asia.names.index("lung")
    rows = ds.codes()[:, j] == 0
    freq = np.bincount(ds.codes()[rows, lung], minlength=2) / rows.sum()
    assert np.allclose(freq, asia.families[lung].cpt[0], atol=0.02)
    with pytest.raises(InputError, match="states"):
        asia.sample(5, do={"smoke": "maybe"})


@pytest.mark.parametrize("name", datasets.NETWORKS)
def test_bundled_networks_are_valid(name):
    t = datasets.load_network(name)
    for fam in t.families:
        assert np.allclose(fam.cpt.sum(axis=-1), 1.0)
    sizes = {
        "asia": (8, 8),
        "sachs": (11, 17),
        "child": (20, 25),
        "insurance": (27, 52),
        "alarm": (37, 46),
    }
    assert (len(t.names), len(t.edges())) == sizes[name]
    assert t.sample(50, rng=0).n_rows == 50


def test_pgmpy_cpds_are_mapped_correctly():
    """Our CPT layout agrees with pgmpy's own query of the asia network."""
    import gzip
    import warnings
    from importlib import resources

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgmpy.inference import VariableElimination
        from pgmpy.readwrite import BIFReader

        text = gzip.decompress(
            resources.files("scientist.datasets").joinpath("data", "asia.bif.gz").read_bytes()
        ).decode()
        model = BIFReader(string=text).get_model()
        q = VariableElimination(model).query(
            ["either"], evidence={"tub": "no", "lung": "yes"}, show_progress=False
        )
    asia = datasets.load_network("asia")
    fam = asia.families[asia.names.index("either")]
    tub, lung = asia.names.index("tub"), asia.names.index("lung")
    idx = [0, 0]
    idx[fam.parents.index(tub)] = asia.variables[tub].states.index("no")
    idx[fam.parents.index(lung)] = asia.variables[lung].states.index("yes")
    ours = fam.cpt[tuple(idx)]
    theirs = q.values[
        [
            q.state_names["either"].index(s)
            for s in asia.variables[asia.names.index("either")].states
        ]
    ]
    assert np.allclose(ours, theirs)


def test_describe_gaussian_posterior_has_intervals():
    w = np.zeros((3, 3))
    w[0, 1], w[1, 2] = 0.8, -0.5
    truth = Theory.linear_gaussian(["Raf", "Mek", "Erk"], w, noise_sd=0.3)
    post = WorldModel(sampler="exact").fit(truth.sample(2000, rng=0)).posterior_
    text = post.theory(0).describe()
    match = re.search(r"Raf -> Mek \(weight ([+-][0-9.]+) \[([0-9.-]+), ([0-9.-]+)\]\)", text)
    assert match, text
    assert abs(float(match.group(1)) - 0.8) < 0.05
    effects = {(e["parent"], e["child"]): e for e in post.theory(0).edge_effects()}
    lo, hi = effects[("Raf", "Mek")]["interval"]
    assert lo < 0.8 < hi and hi - lo < 0.1


def test_parameter_draws_vary_around_the_mean(asia_small):
    post = WorldModel(sampler="exact").fit(asia_small).posterior_
    theory = post.theory(0)
    rng = np.random.default_rng(0)
    draws = np.array([theory.draw_parameters(rng).families[0].cpt for _ in range(2000)])
    assert np.allclose(draws.mean(axis=0), theory.families[0].cpt, atol=0.01)
    assert draws.std(axis=0).max() > 0
