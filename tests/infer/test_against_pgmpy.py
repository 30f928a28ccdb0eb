"""Answers inside one theory equal pgmpy's variable elimination on the mutilated network."""

import warnings

import numpy as np
import pytest

from scientist import Posterior, datasets
from scientist.infer import Event, ProbabilityQuery, ask, parse_query

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.inference import VariableElimination
    from pgmpy.models import DiscreteBayesianNetwork


def to_pgmpy(theory, do):
    """The mutilated network as a pgmpy model (do-nodes lose parents, point mass at the value)."""
    names = theory.names
    model = DiscreteBayesianNetwork()
    model.add_nodes_from(names)
    cpds = []
    for j, fam in enumerate(theory.families):
        var = theory.variables[j]
        states = {names[p]: list(theory.variables[p].states) for p in fam.parents}
        states[var.name] = list(var.states)
        if var.name in do:
            values = np.zeros((var.cardinality, 1))
            values[var.states.index(do[var.name])] = 1.0
            cpds.append(
                TabularCPD(
                    var.name, var.cardinality, values, state_names={var.name: list(var.states)}
                )
            )
            continue
        for p in fam.parents:
            model.add_edge(names[p], var.name)
        cpt = np.moveaxis(fam.cpt, -1, 0).reshape(var.cardinality, -1)
        cpds.append(
            TabularCPD(
                var.name,
                var.cardinality,
                cpt,
                evidence=[names[p] for p in fam.parents] or None,
                evidence_card=[theory.variables[p].cardinality for p in fam.parents] or None,
                state_names=states,
            )
        )
    model.add_cpds(*cpds)
    return model


def random_query(rng, theory):
    names = theory.names
    picks = rng.choice(len(names), size=rng.integers(2, 5), replace=False)
    target, rest = picks[0], picks[1:]
    n_do = rng.integers(0, len(rest) + 1)
    do = {names[j]: str(rng.choice(theory.variables[j].states)) for j in rest[:n_do]}
    ev = {names[j]: str(rng.choice(theory.variables[j].states)) for j in rest[n_do:]}
    y = str(rng.choice(theory.variables[target].states))
    return names[target], y, do, ev


@pytest.mark.parametrize(
    ("name", "n_queries"), [("asia", 200), ("sachs", 200), ("child", 200), ("alarm", 200)]
)
def test_random_queries_match_pgmpy(name, n_queries):
    theory = datasets.load_network(name)
    post = Posterior.from_theories([theory])
    rng = np.random.default_rng(42)
    checked = impossible = 0
    for _ in range(n_queries):
        target, y, do, ev = random_query(rng, theory)
        model = to_pgmpy(theory, do)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            evidence = {**ev, **do}
            # pgmpy needs evidence with positive probability; skip the impossible ones
            p_ev = (
                VariableElimination(model).query(list(evidence), show_progress=False)
                if evidence
                else None
            )
            if p_ev is not None and p_ev.get_value(**evidence) == 0:
                impossible += 1
                continue
            ref = (
                VariableElimination(model).query([target], evidence=ev or None, show_progress=False)
                if target not in do
                else None
            )
        query = ProbabilityQuery((Event(target, "=", y),), tuple(do.items()), tuple(ev.items()))
        text = str(query)  # states like '>=7.5' come out quoted
        assert parse_query(text) == query
        got = ask(post, text).mean
        expected = (
            (1.0 if do[target] == y else 0.0) if ref is None else ref.get_value(**{target: y})
        )
        assert got == pytest.approx(expected, abs=1e-9), text
        checked += 1
    assert checked >= n_queries * 0.8, (checked, impossible)
