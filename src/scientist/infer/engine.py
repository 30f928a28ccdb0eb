"""The inference machine: answer a query by averaging over every plausible theory.

``ask(posterior, "P(Y=y | do(X=x), Z=z)")`` resolves the query against the posterior's
variables, computes the answer inside every theory exactly (variable elimination for categorical
theories, Gaussian conditioning for linear-Gaussian ones), batched across theories, and
combines the per-theory answers with the posterior weights into an :class:`Answer`.

Parameter uncertainty: the mean of a categorical answer and of ``E[Y | do(...)]`` without
evidence is computed in closed form (for a single new case, the posterior predictive equals the
answer at the posterior-mean parameters, because each parameter enters once and the families'
posteriors are independent). The credible interval, and means that have no closed form
(Gaussian answers with evidence or on a range of a continuous target), use ``n_draws``
parameter draws per theory. Draws come from a generator seeded by ``(seed, node, parent set)``,
so the same posterior, query and seed always give the same answer.

References
----------
.. [1] Y. Bengio et al., "Superintelligent agents pose catastrophic risks: can Scientist AI
   offer a safer path?", arXiv:2502.15657, 2025 (the inference machine).
.. [2] J. Pearl, *Causality*, 2009.
"""

from __future__ import annotations

import weakref
from typing import Any, NamedTuple

import numpy as np
from scipy.stats import norm

from scientist.errors import ImpossibleEvidenceError, InputError, QueryError
from scientist.graphs import transitive_closure
from scientist.infer.answer import Answer, weighted_quantile
from scientist.infer.discrete import CategoricalBatch, event_probabilities
from scientist.infer.gaussian import intervened_moments
from scientist.infer.query import EdgeQuery, ExpectationQuery, ProbabilityQuery, Query, parse_query
from scientist.posterior import Posterior
from scientist.theory import CategoricalFamily, Family, GaussianFamily, family_from_scorer

__all__ = ["PointAnswers", "ask", "point_answers"]

# what is computed from a posterior alone (families from its scorer, its majority structure),
# kept while the posterior lives: pure functions of it, so answers never depend on earlier calls
_DERIVED: weakref.WeakKeyDictionary[Posterior, dict[Any, Any]] = weakref.WeakKeyDictionary()


def _derived(post: Posterior) -> dict[Any, Any]:
    return _DERIVED.setdefault(post, {})


def ask(
    posterior: Posterior,
    query: str | Query,
    *,
    level: float = 0.9,
    seed: int = 0,
    n_draws: int = 32,
) -> Answer:
    """Answer ``query`` under ``posterior``.

    Parameters
    ----------
    posterior
        The posterior over theories.
    query
        A query string (see :mod:`scientist.infer.query`) or a parsed query.
    level
        Mass of the credible interval.
    seed
        Seed of the parameter draws.
    n_draws
        Parameter draws per theory for intervals (0: point parameters only).

    Raises
    ------
    QueryError
        Unparseable query, unknown variable or state, or a question the theories cannot answer.
    ImpossibleEvidenceError
        The evidence has probability zero under every theory.
    """
    if not isinstance(posterior, Posterior):
        raise InputError(
            f"posterior is a {type(posterior).__name__}; expected a scientist.Posterior."
        )
    if not (isinstance(level, float | int) and 0 < level < 1):
        raise InputError(f"level={level!r} is invalid: expected a number strictly between 0 and 1.")
    if not isinstance(n_draws, int) or n_draws < 0:
        raise InputError(f"n_draws={n_draws!r} is invalid: expected an integer >= 0.")
    q = parse_query(query) if isinstance(query, str) else query
    if isinstance(q, EdgeQuery):
        return _structural(posterior, q, level, seed)
    machine = _Machine(posterior, seed, n_draws)
    return machine.answer(q, level)


class PointAnswers(NamedTuple):
    """The per-theory answers of one query at the point parameters, before any summary.

    ``theory`` holds the positions of the theories kept (those that give the evidence positive
    probability), ``value`` their answers, ``mc_stderr`` and ``dropped_mass`` what
    :func:`ask` reports with ``n_draws=0``.
    """

    theory: np.ndarray
    value: np.ndarray
    mc_stderr: float
    dropped_mass: float


def point_answers(
    posterior: Posterior, query: ProbabilityQuery | ExpectationQuery, *, seed: int = 0
) -> PointAnswers:
    """The per-theory answers ``ask(posterior, query, seed=seed, n_draws=0)`` summarises.

    The same numbers as that answer's ``per_theory`` ``"theory"`` and ``"value"``, its
    ``mc_stderr`` and ``dropped_mass``, without the interval, the uncertainty split and the
    supporting theories: what the guard needs per decision.

    Raises
    ------
    QueryError, ImpossibleEvidenceError
        As :func:`ask`.
    """
    return _Machine(posterior, seed, 0).point_answers(query)


def _index(posterior: Posterior, name: str) -> int:
    if name not in posterior.names:
        raise QueryError(f"Unknown variable {name!r}; the variables are {posterior.names}.")
    return posterior.names.index(name)


def _structural(post: Posterior, q: EdgeQuery, level: float, seed: int) -> Answer:
    i, j = _index(post, q.source), _index(post, q.target)
    if q.kind == "edge":
        values = ((post.masks[:, j] >> i) & 1).astype(float)
    else:
        values = transitive_closure(post.adjacency())[:, i, j].astype(float)
    w = post.weights
    mean = float(w @ values)
    se = _structural_se(post, values, mean)
    z = norm.ppf(0.5 + level / 2)
    h = _entropy(np.array(mean))
    return Answer(
        query=str(q),
        kind="structural",
        mean=mean,
        interval=(max(0.0, mean - z * se), min(1.0, mean + z * se)),
        level=level,
        epistemic=float(h),
        aleatoric=0.0,
        mc_stderr=se,
        per_theory={
            "theory": list(range(post.n_theories)),
            "weight": w.tolist(),
            "value": values.tolist(),
        },
        support=_support(post, np.arange(post.n_theories), w, values, mean),
        n_theories=post.n_theories,
        weighting=post.weighting,
        seed=seed,
        n_draws=0,
    )


def _structural_se(post: Posterior, values: np.ndarray, mean: float) -> float:
    if post.weighting == "exact":
        return 0.0
    n = max(int(post.info.get("n_samples", 0)), 1)
    return float(np.sqrt(post.weights @ (values - mean) ** 2 / n))


def _entropy(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(np.where(p > 0, p * np.log(p), 0.0) + np.where(p < 1, (1 - p) * np.log1p(-p), 0.0))
    return h


class _Machine:
    """One query's worth of state: the posterior, the seed and a family cache."""

    def __init__(self, posterior: Posterior, seed: int, n_draws: int) -> None:
        self.post = posterior
        self.seed = seed
        self.n_draws = n_draws
        self.names = posterior.names
        self.variables = posterior.variables
        self.kind = posterior.variables[0].kind
        self._families = _derived(posterior)
        if posterior.theories is None and posterior.scorer is None:
            raise QueryError(
                "This posterior holds structures only; it can answer P(X -> Y) and P(X ~> Y)."
            )

    # ------------------------------------------------------------------ parameters
    def family(self, k: int, j: int) -> Family:
        if self.post.theories is not None:
            return self.post.theories[k].families[j]
        mask = int(self.post.masks[k, j])
        key = (j, mask)
        if key not in self._families:
            parents = tuple(i for i in range(len(self.names)) if mask >> i & 1)
            self._families[key] = family_from_scorer(self.post.scorer, j, parents)  # type: ignore[arg-type]
        return self._families[key]

    def _rng(self, k: int, j: int) -> np.random.Generator:
        # same family -> same draws, whatever theory or batch asks for them
        key = k if self.post.theories is not None else int(self.post.masks[k, j])
        tag = 1 if self.post.theories is not None else 0
        return np.random.default_rng([self.seed, j, key, tag])

    def uncertain(self) -> bool:
        if self.n_draws == 0:
            return False
        fam = self.family(0, 0)
        return (isinstance(fam, CategoricalFamily) and fam.concentration is not None) or (
            isinstance(fam, GaussianFamily) and fam.shape is not None
        )

    # ------------------------------------------------------------------ resolving
    def resolve_value(self, j: int, value: Any, what: str) -> float:
        var = self.variables[j]
        if var.kind == "categorical":
            label = (
                value
                if isinstance(value, str)
                else (str(int(value)) if float(value).is_integer() else str(value))
            )
            if label not in (var.states or ()):
                raise QueryError(
                    f"Unknown state {label!r} of {var.name!r} in the {what}; its states are {list(var.states or [])}."
                )
            return float(var.states.index(label))  # type: ignore[union-attr]
        if isinstance(value, str):
            raise QueryError(
                f"{var.name!r} is continuous: its value in the {what} must be a number, got {value!r}."
            )
        return float(value)

    def conditions(
        self, q: ProbabilityQuery | ExpectationQuery
    ) -> tuple[dict[int, float], dict[int, float]]:
        do: dict[int, float] = {}
        for name, value in q.do:
            j = _index(self.post, name)
            if j in do:
                raise QueryError(f"{name!r} is intervened on twice.")
            do[j] = self.resolve_value(j, value, "intervention")
        evidence: dict[int, float] = {}
        for name, value in q.evidence:
            j = _index(self.post, name)
            v = self.resolve_value(j, value, "evidence")
            if j in do:
                if do[j] != v:
                    raise ImpossibleEvidenceError(
                        f"The evidence {name}={value} contradicts the intervention on {name}: it has "
                        "probability zero under every theory."
                    )
                continue
            if j in evidence and evidence[j] != v:
                raise ImpossibleEvidenceError(f"The evidence gives {name!r} two different values.")
            evidence[j] = v
        return do, evidence

    # ------------------------------------------------------------------ answering
    def answer(self, q: ProbabilityQuery | ExpectationQuery, level: float) -> Answer:
        do, evidence = self.conditions(q)
        if self.kind == "categorical":
            point, draws, exact_mean, kind = self._categorical(q, do, evidence)
        else:
            point, draws, exact_mean, kind = self._gaussian(q, do, evidence)
        return self._summarise(q, kind, point, draws, exact_mean, level)

    def point_answers(self, q: ProbabilityQuery | ExpectationQuery) -> PointAnswers:
        """Per-theory point answers (``n_draws`` must be 0); see :func:`point_answers`."""
        assert self.n_draws == 0
        do, evidence = self.conditions(q)
        if self.kind == "categorical":
            point, _, _, kind = self._categorical(q, do, evidence)
        else:
            point, _, _, kind = self._gaussian(q, do, evidence)
        keep, value_point = self._point_values(q, kind, point)
        w_all = self.post.weights
        idx = np.flatnonzero(keep)
        se2 = self._structural_se2(w_all, keep, value_point)
        return PointAnswers(idx, value_point[idx], float(np.sqrt(se2)), float(w_all[~keep].sum()))

    def _point_values(self, q: Any, kind: str, point: Any) -> tuple[np.ndarray, np.ndarray]:
        """The theories kept (evidence of positive probability) and every theory's answer."""
        if kind == "probability" and self.kind == "categorical":
            joint, ev = point
            keep = ev[:] > 0
            if not keep.any():
                raise ImpossibleEvidenceError(
                    f"The evidence of {q} has probability zero under every theory: nothing to condition on."
                )
            return keep, np.where(keep, joint / np.where(keep, ev, 1.0), 0.0)
        return np.ones(self.post.n_theories, dtype=bool), point[0][:, 0]

    def _structural_se2(
        self, w_all: np.ndarray, keep: np.ndarray, value_point: np.ndarray
    ) -> float:
        """Squared Monte-Carlo error of the mean from the finite sample of structures."""
        return (
            _structural_se(
                self.post, value_point, float(w_all[keep] @ value_point[keep]) / w_all[keep].sum()
            )
            ** 2
        )

    def _categorical(
        self, q: Any, do: dict[int, float], evidence: dict[int, float]
    ) -> tuple[Any, Any, bool, str]:
        if isinstance(q, ExpectationQuery):
            j = _index(self.post, q.target)
            raise QueryError(
                f"E[...] needs a continuous target; {q.target!r} is categorical. Ask P({q.target}=state) "
                f"for one of its states {list(self.variables[j].states or [])}."
            )
        indicators: dict[int, np.ndarray] = {}
        for ev in q.targets:
            j = _index(self.post, ev.name)
            if ev.op not in ("=", "!="):
                raise QueryError(
                    f"{ev.name!r} is categorical: use '=' or '!=' in {ev}, not {ev.op!r}."
                )
            code = int(self.resolve_value(j, ev.value, "target"))
            vec = np.zeros(self.variables[j].cardinality)
            vec[code] = 1.0
            if ev.op == "!=":
                vec = 1.0 - vec
            indicators[j] = indicators.get(j, np.ones_like(vec)) * vec
        masks = self.post.masks.copy()
        for j in do:
            masks[:, j] = 0
        fixed = {j: int(v) for j, v in {**do, **evidence}.items()}
        card = np.array([v.cardinality for v in self.variables])
        rows = np.arange(self.post.n_theories)

        explicit = self.post.theories is not None
        # a family's CPT is shared by every theory with that parent set, unless theories carry
        # their own parameters; an intervened node's point mass is always shared
        shared = np.full(card.size, not explicit)
        shared[list(do)] = True

        def point_cpt(j: int, members: np.ndarray) -> np.ndarray:
            if j in do:
                return _delta(card[j], int(do[j]))[None, None]
            if explicit:  # each theory has its own CPTs
                idx, stacked = self.post.stacked_parameters(j)[int(self.post.masks[members[0], j])]
                if len(idx) == len(members) and (idx == members).all():
                    return stacked[:, None]  # every theory with this family, in order: no copy
                return stacked[np.searchsorted(idx, members)][:, None]
            fam = self.family(int(members[0]), j)
            assert isinstance(fam, CategoricalFamily)
            return fam.cpt[None, None]

        joint, ev_p = event_probabilities(
            CategoricalBatch(masks, card, point_cpt, shared=shared), rows, fixed, indicators
        )
        point = (joint[:, 0], ev_p[:, 0])
        draws = None
        if self.uncertain():
            m = self.n_draws

            def draw_one(k: int, j: int) -> np.ndarray:
                fam = self.family(k, j)
                assert isinstance(fam, CategoricalFamily) and fam.concentration is not None
                g = self._rng(k, j).standard_gamma(
                    fam.concentration, size=(m, *fam.concentration.shape)
                )
                return g / g.sum(axis=-1, keepdims=True)

            def draw_cpt(j: int, members: np.ndarray) -> np.ndarray:
                if j in do:
                    return _delta(card[j], int(do[j]))[None, None].repeat(m, 1)
                if explicit:  # each theory draws from its own parameter posterior
                    return np.stack([draw_one(int(k), j) for k in members])
                return draw_one(int(members[0]), j)[None]

            jd, ed = event_probabilities(
                CategoricalBatch(masks, card, draw_cpt, m, shared=shared), rows, fixed, indicators
            )
            draws = (jd, ed)
        return point, draws, True, "probability"

    def _gaussian_params(self, m: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        k_all, d = self.post.n_theories, len(self.names)
        size = 1 if m is None else m
        b = np.zeros((k_all, size, d, d))
        c = np.zeros((k_all, size, d))
        v = np.zeros((k_all, size, d))
        for j in range(d):
            masks = self.post.masks[:, j]
            groups = (
                [np.array([k]) for k in range(k_all)]
                if self.post.theories is not None
                else [np.flatnonzero(masks == mask) for mask in np.unique(masks)]
            )
            for members in groups:
                fam = self.family(int(members[0]), j)
                assert isinstance(fam, GaussianFamily)
                p = list(fam.parents)
                if m is None or fam.shape is None or fam.coef_cov_unit is None or fam.scale is None:
                    coef = np.broadcast_to(fam.coef, (size, len(p)))
                    var = np.full(size, fam.noise_var)
                else:
                    rng = self._rng(int(members[0]), j)
                    var = fam.scale / rng.standard_gamma(fam.shape, size=size)
                    z = rng.standard_normal((size, len(p)))
                    chol = (
                        np.linalg.cholesky(fam.coef_cov_unit + 1e-300 * np.eye(len(p)))
                        if p
                        else np.zeros((0, 0))
                    )
                    coef = fam.coef + np.sqrt(var)[:, None] * (z @ chol.T)
                b[np.ix_(members, np.arange(size), np.asarray(p, dtype=int), np.array([j]))] = coef[
                    None, :, :, None
                ]
                c[members, :, j] = fam.intercept
                v[members, :, j] = var
        return b.reshape(-1, d, d), c.reshape(-1, d), v.reshape(-1, d)

    def _gaussian(
        self, q: Any, do: dict[int, float], evidence: dict[int, float]
    ) -> tuple[Any, Any, bool, str]:
        if isinstance(q, ExpectationQuery):
            targets = [_index(self.post, q.target)]
            kind = "expectation"
            op, threshold = None, 0.0
        else:
            if len(q.targets) != 1:
                raise QueryError(
                    "For continuous variables ask about one target, e.g. P(Y > 2 | ...)."
                )
            ev = q.targets[0]
            targets = [_index(self.post, ev.name)]
            if ev.op in ("=", "!="):
                raise QueryError(
                    f"{ev.name!r} is continuous: P({ev}) is {'0' if ev.op == '=' else '1'} under every theory. "
                    f"Ask about a range, e.g. P({ev.name} > {ev.value}), or E[{ev.name} | ...]."
                )
            op, threshold = ev.op, self.resolve_value(targets[0], ev.value, "target")
            kind = "probability"
        k_all = self.post.n_theories

        def evaluate(m: int | None) -> tuple[np.ndarray, np.ndarray]:
            b, c, v = self._gaussian_params(m)
            mean, cov = intervened_moments(b, c, v, do, evidence, targets)
            mu, var = mean[:, 0], np.maximum(cov[:, 0, 0], 0.0)
            size = 1 if m is None else m
            if op is None:
                return mu.reshape(k_all, size), var.reshape(k_all, size)
            sd = np.sqrt(var)
            with np.errstate(divide="ignore", invalid="ignore"):
                zscore = (threshold - mu) / sd
            above = np.where(sd > 0, norm.sf(zscore), (mu > threshold).astype(float))
            prob = above if op in (">", ">=") else 1.0 - above
            return prob.reshape(k_all, size), np.zeros((k_all, size))

        point = evaluate(None)
        draws = evaluate(self.n_draws) if self.uncertain() else None
        exact_mean = draws is None or (op is None and not evidence)
        return point, draws, exact_mean, kind

    # ------------------------------------------------------------------ summarising
    def _summarise(
        self, q: Any, kind: str, point: Any, draws: Any, exact_mean: bool, level: float
    ) -> Answer:
        w_all = self.post.weights
        keep, value_point = self._point_values(q, kind, point)
        if kind == "probability" and self.kind == "categorical":
            if draws is not None:
                jd, ed = draws
                ok = ed > 0
                values = np.where(ok, jd / np.where(ok, ed, 1.0), value_point[:, None])
                within = None
            else:
                values, within = None, None
        else:
            within = point[1][:, 0] if kind == "expectation" else None
            values = None
            if draws is not None:
                values, within_d = draws
                if not exact_mean:
                    value_point = values.mean(axis=1)
                if kind == "expectation":
                    within = within_d
        dropped = float(w_all[~keep].sum())
        idx = np.flatnonzero(keep)
        w = w_all[idx] / w_all[idx].sum()
        p = value_point[idx]
        mean = float(w @ p)
        samples = values[idx] if values is not None else p[:, None]
        m = samples.shape[1]
        flat_w = np.repeat(w / m, m)
        lo, hi = weighted_quantile(
            samples.ravel(), flat_w, np.array([0.5 - level / 2, 0.5 + level / 2])
        ).tolist()
        if kind == "probability":
            aleatoric = float(flat_w @ _entropy(samples.ravel()))
            epistemic = max(float(_entropy(np.array(mean))) - aleatoric, 0.0)
        else:
            epistemic = float(flat_w @ (samples.ravel() - mean) ** 2)
            wv = within[idx].reshape(idx.size, -1) if within is not None else np.zeros_like(samples)
            aleatoric = float(flat_w @ np.broadcast_to(wv, samples.shape).ravel())
        se2 = self._structural_se2(w_all, keep, value_point)
        if not exact_mean and values is not None:
            se2 += float((w**2) @ samples.var(axis=1, ddof=1)) / m if m > 1 else 0.0
        return Answer(
            query=str(q),
            kind=kind,
            mean=mean,
            interval=(float(lo), float(hi)),
            level=level,
            epistemic=epistemic,
            aleatoric=aleatoric,
            mc_stderr=float(np.sqrt(se2)),
            per_theory={"theory": idx.tolist(), "weight": w.tolist(), "value": p.tolist()},
            support=_support(self.post, idx, w, p, mean),
            dropped_mass=dropped,
            n_theories=int(idx.size),
            weighting=self.post.weighting,
            seed=self.seed,
            n_draws=m if values is not None else 0,
        )


def _delta(r: int, code: int) -> np.ndarray:
    out = np.zeros(r)
    out[code] = 1.0
    return out


def _support(
    post: Posterior, idx: np.ndarray, w: np.ndarray, values: np.ndarray, mean: float, n: int = 2
) -> list[dict[str, Any]]:
    """The theories that push the answer most up and most down, described by how they differ."""
    push = w * (values - mean)
    derived = _derived(post)
    if "majority" not in derived:
        derived["majority"] = post.edge_marginals() >= 0.5
    majority = derived["majority"]
    names = post.names
    out: list[dict[str, Any]] = []
    for direction, order in (("up", np.argsort(-push)), ("down", np.argsort(push))):
        for i in order[:n]:
            if (direction == "up" and push[i] <= 0) or (direction == "down" and push[i] >= 0):
                break
            k = int(idx[i])
            adj = post.adjacency(k)
            extra = [
                f"{names[a]} -> {names[b]}"
                for a, b in zip(*np.nonzero(adj & ~majority), strict=True)
            ]
            missing = [
                f"{names[a]} -> {names[b]}"
                for a, b in zip(*np.nonzero(~adj & majority), strict=True)
            ]
            parts = []
            if extra:
                parts.append("has " + ", ".join(extra[:4]) + (" ..." if len(extra) > 4 else ""))
            if missing:
                parts.append(
                    "lacks " + ", ".join(missing[:4]) + (" ..." if len(missing) > 4 else "")
                )
            desc = (
                "; ".join(parts) + " (unlike the majority)" if parts else "the majority structure"
            )
            out.append(
                {
                    "direction": direction,
                    "theory": k,
                    "weight": float(w[i]),
                    "value": float(values[i]),
                    "push": float(push[i]),
                    "description": desc,
                }
            )
    return out
