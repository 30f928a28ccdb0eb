"""What the web page shows, as JSON: edge marginals, top theories with mechanisms, decisions.

Pure functions of a :class:`~scientist.posterior.Posterior` or of an audit record, so the
service can cache them and the tests can check them against the library:

* :func:`edges_view`: ``P(i -> j | D)`` for every pair, with the variable names;
* :func:`theories_view`: the ``top`` theories with their weights, and for each edge its
  posterior probability, its effect size with a credible interval
  (:meth:`~scientist.theory.Theory.edge_effects`) and its mechanism in words;
* :func:`decision_view`: an audit record with the verdict's explanation
  (:meth:`~scientist.guard.Verdict.explain`).

A categorical mechanism is shown as ``P(child | parent)``: the child's distribution for each
state of the parent, averaged uniformly over the states of the child's other parents. A
linear-Gaussian one is its structural equation.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from scientist.guard import Verdict
from scientist.posterior import Posterior
from scientist.theory import CategoricalFamily, GaussianFamily, Theory

__all__ = ["decision_view", "edges_view", "theories_view"]


def edges_view(name: str, posterior: Posterior) -> dict[str, Any]:
    """The edge-marginal matrix of ``posterior`` (entry ``[i][j]`` is ``P(i -> j | D)``)."""
    marg = posterior.edge_marginals()
    return {
        "name": name,
        "variables": posterior.names,
        "edge_marginals": np.round(marg, 6).tolist(),
        "n_theories": posterior.n_theories,
        "weighting": posterior.weighting,
    }


def _categorical_mechanism(theory: Theory, fam: CategoricalFamily, j: int, k: int) -> str:
    """``P(child | parent)`` for each parent state, other parents averaged uniformly."""
    names = theory.names
    parent = theory.variables[fam.parents[k]]
    child = theory.variables[j]
    table = np.moveaxis(fam.cpt, k, 0)  # (r_parent, *other parents, r_child)
    table = table.reshape(table.shape[0], -1, table.shape[-1]).mean(axis=1)
    states = child.states or [str(i) for i in range(table.shape[-1])]
    pstates = parent.states or [str(i) for i in range(table.shape[0])]
    lines = [f"P({names[j]} | {names[fam.parents[k]]})"]
    for s, row in zip(pstates, table, strict=True):
        probs = ", ".join(f"{st} {p:.2f}" for st, p in zip(states, row, strict=True))
        lines.append(f"{names[fam.parents[k]]}={s}: {probs}")
    if len(fam.parents) > 1:
        lines.append("(averaged over the other parents' states)")
    return "\n".join(lines)


def _gaussian_mechanism(theory: Theory, fam: GaussianFamily, j: int) -> str:
    """The structural equation ``child = c + b . parents + N(0, s^2)``."""
    names = theory.names
    terms = [f"{fam.intercept:.2f}"]
    for b, p in zip(fam.coef, fam.parents, strict=True):
        terms.append(f"{'-' if b < 0 else '+'} {abs(b):.2f}·{names[p]}")
    return f"{names[j]} = {' '.join(terms)} + N(0, {np.sqrt(fam.noise_var):.2f}²)"


def _theory_edges(
    theory: Theory, marg: np.ndarray, level: float, index: dict[str, int]
) -> list[dict[str, Any]]:
    out = []
    for e in theory.edge_effects(level):
        parent, child = str(e["parent"]), str(e["child"])
        i, j = index[parent], index[child]
        fam = theory.families[j]
        if isinstance(fam, GaussianFamily):
            mechanism = _gaussian_mechanism(theory, fam, j)
        else:
            mechanism = _categorical_mechanism(theory, fam, j, fam.parents.index(i))
        interval: list[float] = e["interval"]  # type: ignore[assignment]
        out.append(
            {
                "parent": parent,
                "child": child,
                "probability": round(float(marg[i, j]), 6),
                "measure": e["measure"],
                "value": float(e["value"]),  # type: ignore[arg-type]
                "interval": [float(x) for x in interval],
                "mechanism": mechanism,
            }
        )
    return out


def theories_view(name: str, posterior: Posterior, top: int, level: float) -> dict[str, Any]:
    """The ``top`` most probable theories: weights, edges, effect sizes and mechanisms.

    A posterior that holds structures only (no parameter model) gives the edges without
    effects or mechanisms.
    """
    marg = posterior.edge_marginals()
    names = posterior.names
    index = {n: i for i, n in enumerate(names)}
    weights = posterior.weights
    has_params = posterior.theories is not None or posterior.scorer is not None
    theories = []
    for k in range(min(top, posterior.n_theories)):
        if has_params:
            edges = _theory_edges(posterior.theory(k), marg, level, index)
        else:
            adj = posterior.adjacency(k)
            edges = [
                {
                    "parent": names[a],
                    "child": names[b],
                    "probability": round(float(marg[a, b]), 6),
                    "measure": None,
                    "value": None,
                    "interval": None,
                    "mechanism": None,
                }
                for a, b in zip(*np.nonzero(adj), strict=True)
            ]
        theories.append({"rank": k, "weight": float(weights[k]), "edges": edges})
    return {
        "name": name,
        "variables": names,
        "n_theories": posterior.n_theories,
        "weighting": posterior.weighting,
        "level": level,
        "mass": float(weights[: len(theories)].sum()),
        "theories": theories,
    }


_VERDICT_FIELDS = {f.name for f in dataclasses.fields(Verdict)}


def decision_view(record: dict[str, Any]) -> dict[str, Any]:
    """An audit record with ``explanation``: the verdict's :meth:`Verdict.explain` text."""
    verdict = record["verdict"]
    try:
        explanation = Verdict(
            **{k: v for k, v in verdict.items() if k in _VERDICT_FIELDS}
        ).explain()
    except (TypeError, KeyError, ValueError):  # a record written by an older version
        explanation = f"{record['decision'].upper()}: {record['action']}"
    return {**record, "explanation": explanation}
