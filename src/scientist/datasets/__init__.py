"""Bundled data: the Sachs flow-cytometry data and classic discrete Bayesian networks.

* :func:`load_sachs` — Sachs et al. (2005), 7,466 single-cell measurements of 11 phosphorylated
  proteins and phospholipids (continuous), with :func:`sachs_consensus`, the consensus network.
* :func:`load_network` — ground-truth discrete networks ``asia``, ``sachs``, ``child``,
  ``insurance``, ``alarm`` from the bnlearn repository, parsed with pgmpy's BIF reader, as
  :class:`scientist.Theory` objects that can sample observational and interventional data.

See ``datasets/data/PROVENANCE.md`` for sources and licenses.

References
----------
.. [1] K. Sachs, O. Perez, D. Pe'er, D. Lauffenburger and G. Nolan, "Causal protein-signaling
   networks derived from multiparameter single-cell data", Science 308, 2005.
.. [2] M. Scutari, "Learning Bayesian networks with the bnlearn R package", JSS 35, 2010
   (the Bayesian network repository).
"""

from __future__ import annotations

import functools
import gzip
import warnings
from importlib import resources

import numpy as np
import pandas as pd

from scientist.data import Dataset, Variable
from scientist.errors import InputError
from scientist.theory import CategoricalFamily, Theory

__all__ = ["NETWORKS", "load_network", "load_sachs", "sachs_consensus"]

NETWORKS = ("asia", "sachs", "child", "insurance", "alarm")


def _path(name: str):  # type: ignore[no-untyped-def]
    return resources.files("scientist.datasets").joinpath("data", name)


def load_sachs(standardize: bool = False) -> Dataset:
    """The Sachs et al. (2005) flow-cytometry data: 7,466 rows x 11 continuous variables.

    The rows pool the study's experimental conditions; this copy carries no per-row
    intervention labels, so every row is treated as observational.

    Parameters
    ----------
    standardize
        Centre and scale every column to unit variance.
    """
    with _path("sachs_cyto.csv.gz").open("rb") as fh, gzip.open(fh) as gz:
        df = pd.read_csv(gz)
    data = Dataset.from_pandas(df)
    return data.standardize() if standardize else data


def sachs_consensus() -> np.ndarray:
    """The consensus network of Sachs et al. as a ``(11, 11)`` boolean adjacency matrix.

    Variables are in the column order of :func:`load_sachs`.
    """
    names = load_sachs().names
    with _path("sachs_consensus.csv").open("r") as fh:
        edges = pd.read_csv(fh)
    adj = np.zeros((len(names), len(names)), dtype=bool)
    for cause, effect in edges.itertuples(index=False):
        adj[names.index(cause), names.index(effect)] = True
    return adj


@functools.lru_cache(maxsize=8)
def load_network(name: str) -> Theory:
    """A ground-truth discrete Bayesian network as a :class:`Theory` with known CPTs.

    Parameters
    ----------
    name
        One of ``asia`` (8 nodes), ``sachs`` (11), ``child`` (20), ``insurance`` (27),
        ``alarm`` (37).
    """
    if name not in NETWORKS:
        raise InputError(f"name={name!r} is invalid: expected one of {list(NETWORKS)}.")
    from pgmpy.readwrite import BIFReader

    with _path(f"{name}.bif.gz").open("rb") as fh, gzip.open(fh) as gz:
        text = gz.read().decode()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = BIFReader(string=text)
        model = reader.get_model()
    names = list(reader.variable_names)
    states = reader.variable_states
    variables = [Variable(n, "categorical", tuple(str(s) for s in states[n])) for n in names]
    index = {n: i for i, n in enumerate(names)}
    adj = np.zeros((len(names), len(names)), dtype=bool)
    families = []
    for j, n in enumerate(names):
        cpd = model.get_cpds(n)
        evidence = list(cpd.variables[1:])
        # pgmpy orders a CPD's states by its own state names; map to ours
        values = cpd.get_values().reshape([cpd.cardinality[0], *cpd.cardinality[1:]])
        axes_states = [cpd.state_names[v] for v in cpd.variables]
        for ax, v in enumerate(cpd.variables):
            perm = [list(axes_states[ax]).index(s) for s in states[v]]
            values = np.take(values, perm, axis=ax)
        parents = sorted(index[e] for e in evidence)
        for p in parents:
            adj[p, j] = True
        order = [evidence.index(names[p]) + 1 for p in parents]
        cpt = np.transpose(values, [*order, 0])
        families.append(CategoricalFamily(tuple(parents), np.ascontiguousarray(cpt)))
    return Theory(variables, adj, families)
