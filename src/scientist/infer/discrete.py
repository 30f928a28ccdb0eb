"""Exact inference in categorical causal networks, batched over theories and parameter draws.

For a query ``P(targets | do(X=x), Z=z)`` every theory's network is mutilated (the intervened
nodes lose their parents and are fixed) and pruned to the ancestors of the query variables (the
other nodes sum to one). Theories are grouped by this relevant structure, and every group is
eliminated in one common order with shared, batched messages (:mod:`scientist.infer.elimination`):
fixed variables (evidence and interventions) are sliced out of every factor, and a group's
theories and parameter draws ride along the leading axes of each factor. The symbolic plan is
cached per (relevant structures, query shape), so a repeated query shape only does arithmetic.

References
----------
.. [1] N. L. Zhang and D. Poole, "A simple approach to Bayesian network computations",
   Canadian Conference on AI, 1994 (variable elimination).
.. [2] J. Pearl, *Causality*, 2009 (the truncated factorisation for do-interventions).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from scientist.infer.elimination import MAX_FACTOR, Plan, Step, build_plan

try:  # numpy's einsum without its Python-level dispatch (a third of a small call's time)
    from numpy._core.multiarray import c_einsum as _einsum
except ImportError:  # pragma: no cover - numpy < 2
    _einsum = np.einsum

__all__ = ["CategoricalBatch", "event_probabilities"]

_PLANS: OrderedDict[tuple, Plan] = OrderedDict()
# Elimination plans kept per process, least recently used first out. A plan of a 1,000-theory
# Asia posterior takes 16-122 KB (64 KB on average), so a full cache holds about 8 MB there; a
# query shape that falls out costs about 15 ms to plan again. A guard sees one shape per
# (intervened variables, context variables) pair of its actions.
_PLAN_CACHE_SIZE = 128
_PLANS_LOCK = threading.Lock()
_EMPTY = np.empty(0)


class CategoricalBatch:
    """The relevant structure of a set of theories for one query.

    Parameters
    ----------
    parents
        ``(K, d)`` parent bit masks of the (already mutilated) theories.
    card
        Number of states per node.
    cpt
        ``cpt(node, rows) -> (len(rows), M, *parent_cards, r)``: the CPTs (or ``M`` parameter
        draws of them) of ``node`` for theory indices ``rows``, parents in index order. For a
        shared node the leading axis has length 1.
    n_draws
        ``M``, the number of parameter draws ``cpt`` returns per theory.
    shared
        ``(d,)`` booleans: the CPT of a shared node depends only on its parent set, not on the
        theory (``cpt`` is then asked once per parent set, with one theory of that family).
    """

    def __init__(
        self,
        parents: np.ndarray,
        card: np.ndarray,
        cpt: Callable[[int, np.ndarray], np.ndarray],
        n_draws: int = 1,
        shared: np.ndarray | None = None,
    ) -> None:
        self.parents = parents
        self.card = card
        self.cpt = cpt
        self.n_draws = n_draws
        self.shared = np.zeros(card.size, bool) if shared is None else np.asarray(shared, bool)


def event_probabilities(
    batch: CategoricalBatch,
    rows: np.ndarray,
    fixed: dict[int, int],
    indicators: dict[int, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """``P(indicators and fixed | do)`` and ``P(fixed | do)`` for theories ``rows``.

    Parameters
    ----------
    rows
        Theory indices to answer for.
    fixed
        Nodes fixed to a state code (evidence and intervened nodes).
    indicators
        Target nodes with a 0/1 vector over their states (the target event).

    Returns
    -------
    tuple of ndarray
        Two ``(len(rows), M)`` arrays: the joint probability and the evidence probability.
    """
    m = batch.n_draws
    if len(rows) == 0:
        return np.empty((0, m)), np.empty((0, m))
    targets = tuple(j for j in indicators if j not in fixed)
    plan = _plan(batch, rows, fixed, targets)
    values: list[np.ndarray] = [_EMPTY] * plan.n_values
    whole = slice(None)
    for vid, j, family, g, shared, perm in plan.factors:
        cpt = batch.cpt(j, rows[plan.groups[g][:1] if shared else plan.groups[g]])
        sliced = cpt[(whole, whole, *[fixed.get(a, whole) for a in family])]
        values[vid] = sliced.transpose(perm)
    blocks: list[np.ndarray] = []
    for st in plan.steps:
        blocks.append(_run(st, values, blocks, m))
    tables = []
    for st in plan.finals:
        if st.inputs:
            out = _run(st, values, blocks, m)
        else:
            out = np.ones((len(st.outputs), 1, m, *plan.target_cards))
        tables.append(
            np.broadcast_to(out, (*out.shape[:2], m, *out.shape[3:])).reshape(
                -1, m, *plan.target_cards
            )
        )
    table = np.concatenate(tables) if len(tables) > 1 else tables[0]
    scale = 1.0
    weights = np.ones(())
    for j, vec in indicators.items():
        if j in fixed:  # a target that is also fixed: its indicator is a constant
            scale *= float(vec[fixed[j]])
        else:
            weights = np.multiply.outer(weights, np.asarray(vec, dtype=float))
    axes = tuple(range(2, table.ndim))
    denom = table.sum(axis=axes) if axes else table
    joint = scale * ((table * weights).sum(axis=axes) if axes else table)
    return joint[plan.theory_rows], denom[plan.theory_rows]


def _run(st: Step, values: list[np.ndarray], blocks: list[np.ndarray], m: int) -> np.ndarray:
    """One batched elimination step: gather its items' inputs, contract, store the outputs."""
    outputs = st.outputs
    if len(outputs) == 1:
        out = _einsum(st.single, *[values[vids[0]] for vids in st.inputs])
        values[outputs[0]] = out
        return out[None]
    chunk = max(1, MAX_FACTOR // max(1, st.lead * m * st.out_size))
    operands = [_gather(g, values, blocks) for g in st.gather]
    if chunk >= len(outputs):
        out = _einsum(st.subscripts, *operands)
    else:  # in parts, so that no output holds more than MAX_FACTOR numbers
        out = np.concatenate(
            [
                _einsum(
                    st.subscripts, *[op if len(op) == 1 else op[i : i + chunk] for op in operands]
                )
                for i in range(0, len(outputs), chunk)
            ]
        )
    for k, v in st.keep:
        values[v] = out[k]
    return out


def _gather(spec: tuple, values: list[np.ndarray], blocks: list[np.ndarray]) -> np.ndarray:
    kind = spec[0]
    if kind == "one":
        return values[spec[1]][None]
    if kind == "slice":
        return blocks[spec[1]][spec[2] : spec[3]]
    if kind == "take":
        return blocks[spec[1]][spec[2]]
    if kind == "multi":
        _, parts, loose = spec
        shape = blocks[parts[0][0]].shape[1:]
        out = np.empty((sum(len(p) for _, _, p in parts) + len(loose), *shape))
        for s, index, positions in parts:
            out[positions] = blocks[s][index]
        for pos, v in loose:
            out[pos] = values[v]
        return out
    return np.array([values[v] for v in spec[1]])


def _plan(
    batch: CategoricalBatch, rows: np.ndarray, fixed: dict[int, int], targets: tuple[int, ...]
) -> Plan:
    """The elimination plan of this query shape on these structures (cached)."""
    parents = np.ascontiguousarray(batch.parents[rows], dtype=np.int64)
    key = (
        hashlib.blake2b(parents.tobytes(), digest_size=16).digest(),
        parents.shape,
        batch.card.tobytes(),
        batch.shared.tobytes(),
        tuple(sorted(fixed)),
        targets,
        batch.n_draws,
    )
    with _PLANS_LOCK:  # queries may run in several threads of one process
        plan = _PLANS.get(key)
        if plan is not None:
            _PLANS.move_to_end(key)
            return plan
    query = 0
    for j in (*fixed, *targets):
        query |= 1 << j
    full = _group_rows(parents)
    first = np.unique(full, return_index=True)[1]
    distinct = parents[first]
    relevant = _ancestral_sets(distinct, query)
    d = batch.card.size
    inside = (relevant[:, None] >> np.arange(d)) & 1
    signature = np.where(inside == 1, distinct, -1)
    sig_group = _group_rows(np.concatenate([signature, relevant[:, None]], axis=1))
    groups = sig_group[full]
    n_groups = int(groups.max()) + 1
    order = np.argsort(groups, kind="stable")
    bounds = np.searchsorted(groups[order], np.arange(n_groups + 1))
    members = [order[bounds[g] : bounds[g + 1]] for g in range(n_groups)]
    reps = np.unique(sig_group, return_index=True)[1]
    plan = build_plan(
        signature[reps],
        np.diff(bounds),
        members,
        batch.card,
        relevant[reps],
        frozenset(fixed),
        targets,
        batch.shared,
        batch.n_draws,
    )
    with _PLANS_LOCK:
        _PLANS[key] = plan
        if len(_PLANS) > _PLAN_CACHE_SIZE:
            _PLANS.popitem(last=False)
    return plan


def _ancestral_sets(parents: np.ndarray, query: int) -> np.ndarray:
    """Per structure, the bit mask of the query nodes and all their ancestors."""
    d = parents.shape[1]
    reach = np.full(parents.shape[0], query, dtype=np.int64)
    while True:
        inside = (reach[:, None] >> np.arange(d)) & 1
        grown = reach | np.bitwise_or.reduce(np.where(inside == 1, parents, 0), axis=1)
        if np.array_equal(grown, reach):
            return reach
        reach = grown


def _group_rows(rows: np.ndarray) -> np.ndarray:
    """Label equal rows of an int64 matrix with the same group number (0, 1, ...)."""
    # a 64-bit polynomial hash makes grouping a 1-D unique; collisions are checked below
    weights = np.uint64(0x9E3779B97F4A7C15) ** np.arange(1, rows.shape[1] + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        keys = (rows.astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64)
    _, first, groups = np.unique(keys, return_index=True, return_inverse=True)
    if not np.array_equal(rows[first[groups]], rows):  # a collision: fall back to exact rows
        groups = np.unique(rows, axis=0, return_inverse=True)[1]
    return groups.ravel()
