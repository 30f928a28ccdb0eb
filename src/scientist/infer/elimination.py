"""Variable-elimination plans shared by many theories of one query.

A plan is symbolic: it depends on the theories' relevant structures, the node cardinalities and
which nodes are fixed or open targets, never on the numbers in the CPTs. Every theory is
eliminated in one common order (min-fill on the moral graph shared by most theories), so theories
whose structures differ only in part of the network produce the same messages for the rest:
a message is identified by the factors and messages it multiplies, and computed once. Messages of
the same shape at the same elimination step are stacked and computed by one ``numpy.einsum``, so
the work per call is a few hundred array operations whatever the number of theories. A theory
whose structure makes the common order expensive is eliminated in its own min-fill order.

References
----------
.. [1] R. Dechter, "Bucket elimination: a unifying framework for reasoning", Artificial
   Intelligence 113, 1999.
.. [2] U. Kjaerulff, "Triangulation of graphs: algorithms giving small total state space",
   Aalborg University, 1990 (min-fill).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Plan", "Step", "build_plan", "min_fill_order"]

# a theory whose bucket in the common order exceeds MAX_BUCKET and BUCKET_GROWTH times the
# largest bucket of the most frequent structure is eliminated in its own order
MAX_BUCKET = 2**12
BUCKET_GROWTH = 8
MAX_FACTOR = 2**22  # numbers in one batched message before a group of theories is split
_LETTERS = "defghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"  # a, b, c: stack, theory, draw


def _bits(mask: int) -> list[int]:
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


def min_fill_order(adj: dict[int, int], card: np.ndarray, eliminate: list[int]) -> list[int]:
    """Greedy min-fill order of ``eliminate`` on an undirected graph (ties: smallest clique).

    ``adj`` maps each node (of the nodes to eliminate and the nodes that stay) to the bit mask of
    its neighbours.
    """
    adj = dict(adj)
    left = set(eliminate)
    order = []
    while left:
        best, best_key = -1, (math.inf, math.inf)
        for v in sorted(left):
            nb = _bits(adj[v])
            fill = sum(bin(adj[v] & ~adj[u] & ~(1 << u)).count("1") for u in nb) // 2
            weight = math.prod(int(card[u]) for u in nb) * int(card[v])
            if (fill, weight) < best_key:
                best, best_key = v, (fill, weight)
        nb_mask = adj.pop(best)
        for u in _bits(nb_mask):
            adj[u] = (adj[u] | nb_mask) & ~(1 << u) & ~(1 << best)
        left.remove(best)
        order.append(best)
    return order


@dataclass
class Step:
    """One batched ``einsum``: item ``k`` multiplies ``inputs[i][k]`` over ``i`` into ``outputs[k]``."""

    subscripts: str
    inputs: list[list[int]]
    outputs: list[int]
    out_size: int  # numbers per item and leading row
    lead: int  # leading rows of every output (1, or the theories of one group)
    # per input position, how to gather the items' inputs (see ``_gather_specs``)
    gather: list[tuple] = field(default_factory=list)
    single: str = ""  # the subscripts for one item, without the stacking axis
    keep: list[tuple[int, int]] = field(default_factory=list)  # outputs kept one by one

    def __post_init__(self) -> None:
        self.single = self.subscripts.replace("a", "")


@dataclass
class Plan:
    """A compiled elimination for every theory of a query (see the module docstring).

    ``factors`` holds ``(value, node, family, group, shared, axes)``: the value is the CPT of
    ``node`` (its axes: ``family``, the parents then the node) for the theories of ``group``, or
    when shared the one CPT of every theory with that family, sliced at the fixed nodes and
    transposed by ``axes``. The other values are messages, made by ``steps`` and ``finals``
    (the final products over the open targets). ``theory_rows`` gives, per theory, its row in
    the concatenated outputs of the final steps.
    """

    factors: list[tuple[int, int, tuple[int, ...], int, bool, tuple[int, ...]]]
    n_values: int
    groups: list[np.ndarray]
    steps: list[Step]
    finals: list[Step]
    theory_rows: np.ndarray
    target_cards: tuple[int, ...]


@dataclass
class _Order:
    rank: dict[int, int]  # node -> position; eliminated nodes first, then the open targets
    n_elim: int
    scopes: dict[tuple[int, int], tuple[int, tuple[int, ...]]] = field(default_factory=dict)


class _Builder:
    def __init__(self, card: np.ndarray, fixed: frozenset[int], targets: tuple[int, ...]) -> None:
        self.card = card
        self.fixed = fixed
        self.targets = targets
        self.factors: list[tuple[int, int, tuple[int, ...], int, bool, tuple[int, ...]]] = []
        self.scope: list[int] = []
        self.lead: list[int] = []
        self.bucket: list[int] = []  # size of the bucket that made each message (1: a factor)
        self.keys: dict[tuple[int, ...], int] = {}  # factor and message identities -> value
        self.key_of: list[tuple[int, ...]] = []
        # (order, rank, signature) -> (subscripts, inputs per position, outputs, out size, lead)
        self.pending: dict[tuple, tuple[str, list[list[int]], list[int], int, int]] = {}
        self.finals: dict[tuple, tuple[str, list[list[int]], list[int], int, int]] = {}
        self.orders: list[_Order] = []
        self.sizes: dict[tuple[int, int], int] = {}

    def order(self, elim: list[int]) -> int:
        rank = {v: i for i, v in enumerate(elim)}
        for i, t in enumerate(self.targets):
            rank[t] = len(elim) + i
        self.orders.append(_Order(rank, len(elim)))
        return len(self.orders) - 1

    def size(self, o: int, mask: int) -> int:
        key = (o, mask)
        if key not in self.sizes:
            inv = {r: v for v, r in self.orders[o].rank.items()}
            self.sizes[key] = math.prod(int(self.card[inv[r]]) for r in _bits(mask))
        return self.sizes[key]

    def factor_scope(self, o: int, j: int, mask: int) -> tuple[int, tuple[int, ...]]:
        order = self.orders[o]
        key = (j, mask)
        if key not in order.scopes:
            axes = [p for p in _bits(mask) if p not in self.fixed]
            if j not in self.fixed:
                axes.append(j)
            ranks = [order.rank[a] for a in axes]
            perm = (0, 1, *[2 + int(i) for i in np.argsort(ranks)])
            order.scopes[key] = (sum(1 << r for r in ranks), perm)
        return order.scopes[key]

    def cost(self, o: int, structure: dict[int, int]) -> tuple[int, int]:
        """Largest bucket and largest message of one structure in order ``o``."""
        n_elim = self.orders[o].n_elim
        elim_mask = (1 << n_elim) - 1
        buckets: dict[int, int] = {}
        for j, mask in structure.items():
            s = self.factor_scope(o, j, mask)[0]
            if s & elim_mask:
                low = (s & -s).bit_length() - 1
                buckets[low] = buckets.get(low, 0) | s
        worst_bucket = worst_msg = 1
        for r in range(n_elim):
            u = buckets.pop(r, 0)
            if not u:
                continue
            worst_bucket = max(worst_bucket, self.size(o, u))
            out = u & ~(1 << r)
            worst_msg = max(worst_msg, self.size(o, out))
            if out & elim_mask:
                low = (out & -out).bit_length() - 1
                buckets[low] = buckets.get(low, 0) | out
        return worst_bucket, worst_msg

    def value(self, key: tuple[int, ...], scope: int, lead: int, bucket: int = 1) -> int:
        vid = len(self.scope)
        self.keys[key] = vid
        self.key_of.append(key)
        self.scope.append(scope)
        self.lead.append(lead)
        self.bucket.append(bucket)
        return vid

    def subscripts(self, scopes: list[int], out: int) -> str:
        letters = dict(zip(_bits(out | _or(scopes)), _LETTERS, strict=False))
        ins = ["abc" + "".join(letters[r] for r in _bits(s)) for s in scopes]
        return ",".join(ins) + "->abc" + "".join(letters[r] for r in _bits(out))

    def group(
        self,
        g: int,
        structure: dict[int, int],
        shared: np.ndarray,
        n: int,
        o: int,
        limit: float = math.inf,
    ) -> int | None:
        """Add the eliminations of one theory group; returns its final value.

        When a bucket of this group holds more than ``limit`` numbers, nothing is added and the
        answer is None.
        """
        order = self.orders[o]
        n_elim = order.n_elim
        elim_mask = (1 << n_elim) - 1
        start, n_factors, added = len(self.scope), len(self.factors), []
        keys, scope_of, lead_of = self.keys, self.scope, self.lead
        buckets: list[list[int]] = [[] for _ in range(n_elim)]
        final: list[int] = []
        worst = 1
        for j, mask in structure.items():
            scope, perm = self.factor_scope(o, j, mask)
            key = (0, o, j, mask, -1 if shared[j] else g)
            vid = keys.get(key)
            if vid is None:
                vid = self.value(key, scope, 1 if shared[j] else n)
                self.factors.append((vid, j, (*_bits(mask), j), g, bool(shared[j]), perm))
            if scope & elim_mask:
                buckets[(scope & -scope).bit_length() - 1].append(vid)
            else:
                final.append(vid)
        for r in range(n_elim):
            ins = buckets[r]
            if not ins:
                continue
            ins.sort()
            mkey = (1, *ins)
            vid = keys.get(mkey)
            if vid is None:
                union = _or([scope_of[v] for v in ins])
                out = union & ~(1 << r)
                size = self.size(o, union)
                vid = self.value(mkey, out, max(lead_of[v] for v in ins), size)
                added.append(self._add(self.pending, (o, r), ins, out, vid))
            worst = max(worst, self.bucket[vid])
            out = scope_of[vid]
            if out & elim_mask:
                buckets[(out & -out).bit_length() - 1].append(vid)
            else:
                final.append(vid)
        if worst > limit:  # undo this group's additions
            for table, sig in reversed(added):
                _, inputs, outputs, *_ = table[sig]
                outputs.pop()
                for vids in inputs:
                    vids.pop()
                if not outputs:
                    del table[sig]
            for old in self.key_of[start:]:
                del keys[old]
            for lst in (self.scope, self.lead, self.bucket, self.key_of):
                del lst[start:]
            del self.factors[n_factors:]
            return None
        final.sort()
        fkey = (2, *final)
        vid = keys.get(fkey)
        if vid is None:
            full = sum(1 << order.rank[t] for t in self.targets)
            vid = self.value(fkey, full, max([lead_of[v] for v in final], default=1))
            self._add(self.finals, (o, -1), final, full, vid)
        return vid

    def _add(
        self, table: dict, where: tuple[int, int], ins: list[int], out: int, vid: int
    ) -> tuple[dict, tuple]:
        # inputs in a canonical order of their shapes, so equal shapes stack whatever the values
        ins = sorted(ins, key=lambda v: (self.scope[v], self.lead[v]))
        sig = (*where, out, *[(self.scope[v], self.lead[v]) for v in ins])
        entry = table.get(sig)
        if entry is None:
            o = where[0]
            sub = self.subscripts([self.scope[v] for v in ins], out)
            no_inputs: list[list[int]] = [[] for _ in ins]
            no_outputs: list[int] = []
            lead = max([self.lead[v] for v in ins], default=1)
            entry = (sub, no_inputs, no_outputs, self.size(o, out), lead)
            table[sig] = entry
        for i, v in enumerate(ins):
            entry[1][i].append(v)
        entry[2].append(vid)
        return table, sig


def _or(masks: list[int]) -> int:
    out = 0
    for m in masks:
        out |= m
    return out


def build_plan(
    structures: np.ndarray,
    counts: np.ndarray,
    members: list[np.ndarray],
    card: np.ndarray,
    relevant: np.ndarray,
    fixed: frozenset[int],
    targets: tuple[int, ...],
    shared: np.ndarray,
    n_draws: int,
) -> Plan:
    """Compile the elimination of every theory group.

    Parameters
    ----------
    structures
        ``(G, d)`` parent masks of the distinct relevant structures.
    counts
        Number of theories per structure.
    members
        Theory positions of each structure.
    relevant
        ``(G,)`` bit masks of each structure's relevant nodes.
    fixed
        Fixed nodes (evidence and interventions): sliced out of every factor.
    targets
        Open target nodes, in the order of the output table's axes.
    shared
        ``(d,)``: whether a node's CPT depends on its family only (not on the theory).
    n_draws
        Parameter draws per theory (for the size of batched messages).
    """
    b = _Builder(card, fixed, targets)
    d = card.size
    structs = [
        {j: int(structures[g, j]) for j in range(d) if int(relevant[g]) >> j & 1}
        for g in range(len(structures))
    ]
    # the common order: min-fill on the moral edges that most theories have
    weight, free_nodes = _moral_weights(structures, counts, relevant, fixed)
    free = [int(v) for v in np.flatnonzero(free_nodes)]
    total = int(np.sum(counts))
    adj = {v: 0 for v in free}
    for u, v in zip(*np.nonzero(np.triu(2 * weight >= total, 1)), strict=True):
        if free_nodes[u] and free_nodes[v]:
            adj[int(u)] |= 1 << int(v)
            adj[int(v)] |= 1 << int(u)
    elim = [v for v in free if v not in targets]
    common = b.order(min_fill_order(adj, card, elim))
    # a structure gets its own order when the common one makes a bucket much larger than the
    # most frequent structure's largest
    limit = max(MAX_BUCKET, BUCKET_GROWTH * b.cost(common, structs[int(np.argmax(counts))])[0])
    groups: list[np.ndarray] = []
    finals: list[int] = []

    def own_order(s: dict[int, int]) -> int:
        """The structure's own min-fill order when it beats the common one, else the common."""
        own = b.order(
            min_fill_order(_moral(s, fixed), card, [v for v in elim if v in _nodes(s, fixed)])
        )
        return own if b.cost(own, s)[0] < b.cost(common, s)[0] else common

    for g, s in enumerate(structs):
        rows = members[g]
        if shared.all():  # one group of theories, tried in the common order first
            gid = len(groups)
            groups.append(rows)
            f = b.group(gid, s, shared, len(rows), common, limit=limit)
            if f is None:
                f = b.group(gid, s, shared, len(rows), own_order(s))
            assert f is not None  # without a limit a group is always added
            finals.append(f)
            continue
        o = common if b.cost(common, s)[0] <= limit else own_order(s)
        msg = b.cost(o, s)[1] * math.prod(int(card[t]) for t in targets)
        split = 1
        while split < len(rows) and -(-len(rows) // split) * n_draws * msg > MAX_FACTOR:
            split *= 2
        for part in np.array_split(rows, min(split, len(rows))):
            groups.append(part)
            f = b.group(len(groups) - 1, s, shared, len(part), o)
            assert f is not None
            finals.append(f)
    steps = [Step(*entry) for _, entry in sorted(b.pending.items(), key=lambda kv: kv[0][1])]
    final_steps = [Step(*entry) for entry in b.finals.values()]
    _gather_specs(steps + final_steps, len(steps))
    # where each final value lands in the concatenation of the final steps' leading rows
    offset: dict[int, int] = {}
    pos = 0
    for st in final_steps:
        for v in st.outputs:
            offset[v] = pos
            pos += b.lead[v]
    n_theories = sum(len(r) for r in groups)
    theory_rows = np.empty(n_theories, dtype=np.int64)
    for part, f in zip(groups, finals, strict=True):
        start = offset[f]
        theory_rows[part] = start + (np.arange(len(part)) if b.lead[f] > 1 else 0)
    return Plan(
        factors=b.factors,
        n_values=len(b.scope),
        groups=groups,
        steps=steps,
        finals=final_steps,
        theory_rows=theory_rows,
        target_cards=tuple(int(card[t]) for t in targets),
    )


def _gather_specs(steps: list[Step], n_steps: int) -> None:
    """Say, per step input, how its items' values are gathered with few array operations.

    ``("one", v)``: every item reads value ``v`` (broadcast along the stacking axis);
    ``("slice", s, a, b)``: rows ``a:b`` of step ``s``'s output; ``("take", s, index)``: those
    rows of it; ``("multi", parts, loose)``: rows of several steps' outputs, ``(s, index,
    positions)`` each, and values ``(position, v)`` one by one; ``("list", vids)``: stack the
    values one by one. Also sets which outputs of each step are kept as single values
    (``keep``); the first ``n_steps`` steps are eliminations, the rest final products.
    """
    source: dict[int, tuple[int, int]] = {}
    read: set[int] = set()  # values read one by one
    for i, st in enumerate(steps):
        if len(st.outputs) == 1:
            read.update(vids[0] for vids in st.inputs)
        for vids in st.inputs:
            where = [source.get(v, (-1, 0)) for v in vids]
            first = where[0][0]
            ks = [k for _, k in where]
            if len(set(vids)) == 1:
                st.gather.append(("one", vids[0]))
                read.add(vids[0])
            elif first >= 0 and all(s == first for s, _ in where):
                if ks == list(range(ks[0], ks[0] + len(ks))):
                    st.gather.append(("slice", first, ks[0], ks[0] + len(ks)))
                else:
                    st.gather.append(("take", first, np.array(ks)))
            else:
                by: dict[int, list[int]] = {}
                loose = []
                for pos, (s, _) in enumerate(where):
                    if s >= 0:
                        by.setdefault(s, []).append(pos)
                    else:
                        loose.append((pos, vids[pos]))
                if len(by) + len(loose) > len(vids) // 4:  # mostly scattered: one by one
                    st.gather.append(("list", vids))
                    read.update(vids)
                    continue
                parts = [
                    (s, np.array([ks[p] for p in pos]), np.array(pos)) for s, pos in by.items()
                ]
                st.gather.append(("multi", parts, loose))
                read.update(v for _, v in loose)
        for k, v in enumerate(st.outputs):
            source[v] = (i, k)
    for i, st in enumerate(steps):
        st.keep = [(k, v) for k, v in enumerate(st.outputs) if v in read] if i < n_steps else []


def _moral_weights(
    structures: np.ndarray, counts: np.ndarray, relevant: np.ndarray, fixed: frozenset[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Per node pair, the number of theories whose moral graph links them (fixed nodes left
    out), and which nodes are free in some theory."""
    g_all, d = structures.shape
    bit = np.arange(d)
    weight = np.zeros((d, d), dtype=np.int64)
    free = np.zeros(d, dtype=bool)
    keep = np.ones(d, dtype=bool)
    keep[list(fixed)] = False
    for lo in range(0, g_all, 512):
        st, rel = structures[lo : lo + 512], relevant[lo : lo + 512]
        inside = ((rel[:, None] >> bit) & 1).astype(bool)  # (G, d) relevant nodes
        fam = ((st[:, :, None] >> bit) & 1).astype(bool) & inside[:, :, None]
        fam[:, bit, bit] = inside
        fam &= keep
        f = fam.astype(np.int64)
        moral = np.einsum("gjx,gjy->gxy", f, f) > 0
        weight += np.einsum("g,gxy->xy", counts[lo : lo + 512].astype(np.int64), moral)
        free |= fam.any(axis=(0, 1))
    return weight, free


def _nodes(structure: dict[int, int], fixed: frozenset[int]) -> set[int]:
    out: set[int] = set()
    for j, mask in structure.items():
        out.update(p for p in _bits(mask) if p not in fixed)
        if j not in fixed:
            out.add(j)
    return out


def _moral(structure: dict[int, int], fixed: frozenset[int]) -> dict[int, int]:
    adj = {v: 0 for v in _nodes(structure, fixed)}
    for j, mask in structure.items():
        fam = [p for p in _bits(mask) if p not in fixed] + ([j] if j not in fixed else [])
        for u in fam:
            for v in fam:
                if u != v:
                    adj[u] |= 1 << v
    return adj
