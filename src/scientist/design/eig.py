"""Experiment design: recommend the interventions that would teach the world model the most.

For each candidate experiment ``do(X = x)`` (or ``do(X)`` with values spread uniformly over X's
states, or drawn from N(0, sd) for a continuous X; ``"X=*"`` gives ``do(X=x)`` for every state
x, so that the value is chosen too) with ``n`` samples, the expected information gain about the
causal structure is

    EIG = I(G; Y) = E_{k ~ P(k | D), y ~ p(y | k, D, do)} [ log p(y | k, D) - log sum_j P(j | D) p(y | j, D) ],

estimated by Monte Carlo over ``n_outer`` simulated outcomes, with the inner sum exact over the
posterior's most probable theories. By default the parameters are integrated out: an outcome is
drawn with parameters from the theory's posterior, and ``p(y | j, D)`` is the theory's posterior
predictive, the same closed-form update of the marginal likelihood that the score makes when
the rows are added (BDeu: Dirichlet-multinomial; BGe: Student-t regression), so the gain is the
mutual information between the DAG and the outcome that the next fit will see
(``parameters="mean"``: plug-in posterior means). ``target="edges"`` sums the information about
each edge instead, ``sum_e I(e; Y)``, which is what the edge-marginal error rewards. Given a
query as ``target``, the gain is about the answer: ``E_y[1/2 log(Var(answer) / Var(answer | y))]``
(exact for a Gaussian-distributed answer). Every candidate is simulated in the same worlds (the
same theory and parameter draw for outer draw m), so candidates are compared on common random
numbers. A batch of experiments is chosen greedily by their joint gain: the rows of all its
experiments come from each world's one parameter draw, and every hypothesis scores them jointly.
With ``repeats=True`` the batch may pick an experiment again; each pick brings new simulated rows
from the same worlds. Nothing is ever run: the module only recommends.

References
----------
.. [1] K. P. Murphy, "Active learning of causal Bayes net structure", technical report, 2001.
.. [2] S. Tong and D. Koller, "Active learning for structure in Bayesian networks", IJCAI 2001.
.. [3] R. Agrawal, C. Squires, K. Yang, K. Shanmugam and C. Uhler, "ABCD-Strategy: budgeted
   experimental design for targeted causal structure discovery", AISTATS 2019.
.. [4] Y. Bengio et al., "Superintelligent agents pose catastrophic risks: can Scientist AI
   offer a safer path?", arXiv:2502.15657, 2025, section 3.8.1.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.special import gammaln, logsumexp

from scientist.errors import InputError
from scientist.infer.engine import ask
from scientist.posterior import Posterior
from scientist.theory import CategoricalFamily, Family, Theory, family_from_scorer

__all__ = ["Experiment", "expected_information_gain", "suggest", "to_json"]


@dataclass
class Experiment:
    """A recommended intervention with its expected information gain (nats) and its s.e."""

    variable: str
    value: str | float | None
    n_samples: int
    eig: float
    eig_stderr: float
    about: str = "structure"

    def __str__(self) -> str:
        what = (
            f"do({self.variable}={self.value})"
            if self.value is not None
            else f"do({self.variable})"
        )
        return f"{what} x {self.n_samples}: EIG {self.eig:.4f} ± {self.eig_stderr:.4f} nats about the {self.about}"

    def to_dict(self) -> dict[str, Any]:
        """Plain Python types."""
        return asdict(self)


class _Hypotheses:
    """The posterior's top theories with point parameters, for simulating and scoring data."""

    def __init__(self, posterior: Posterior, max_theories: int, integrate: bool = True) -> None:
        k = min(max_theories, posterior.n_theories)
        self.post = posterior
        self.integrate = integrate
        self.masks = posterior.masks[:k]
        self.log_w = posterior.log_weights[:k] - logsumexp(posterior.log_weights[:k])
        self.d = len(posterior.names)
        self._fam: dict[tuple[int, int], Family] = {}

    def family(self, k: int, j: int) -> Family:
        if self.post.theories is not None:
            return self.post.theories[k].families[j]
        key = (j, int(self.masks[k, j]))
        if key not in self._fam:
            parents = tuple(i for i in range(self.d) if key[1] >> i & 1)
            self._fam[key] = family_from_scorer(self.post.scorer, j, parents)  # type: ignore[arg-type]
        return self._fam[key]

    def theory(self, k: int) -> Theory:
        return Theory(
            self.post.variables, self.post.adjacency(k), [self.family(k, j) for j in range(self.d)]
        )

    def loglik(self, x: np.ndarray, intervened: int | np.ndarray) -> np.ndarray:
        """``log p(rows | theory k, do)`` for data ``x`` of shape (M, n, d) -> (M, K).

        ``intervened``: the node set in every row, or one node per row (length n) when the
        rows come from several experiments; a node's family skips the rows that set it, and
        each family scores all its other rows jointly (they share its parameters).
        """
        m = x.shape[0]
        per_row = np.broadcast_to(np.asarray(intervened), (x.shape[1],))
        full = x
        out = np.zeros((m, self.masks.shape[0]))
        for j in range(self.d):
            keep = per_row != j
            if not keep.any():
                continue
            x = full if keep.all() else full[:, keep]
            col = self.masks[:, j]
            uniq, inv = np.unique(col, return_inverse=True)
            vals = np.empty((m, uniq.size))
            if self.post.theories is not None:  # explicit theories: parameters differ per theory
                out += np.column_stack(
                    [self._family_loglik(self.family(k, j), x, j) for k in range(col.size)]
                )
                continue
            for u, mask in enumerate(uniq):
                k = int(np.flatnonzero(col == mask)[0])
                vals[:, u] = self._family_loglik(self.family(k, j), x, j)
            out += vals[:, inv.ravel()]
        return out

    def _family_loglik(self, fam: Family, x: np.ndarray, j: int) -> np.ndarray:
        return _predictive_loglik(fam, x, j) if self.integrate else _family_loglik(fam, x, j)


def _family_loglik(fam: Family, x: np.ndarray, j: int) -> np.ndarray:
    """Sum over rows of ``log p(x_j | x_parents)`` for data (M, n, d) -> (M,)."""
    if isinstance(fam, CategoricalFamily):
        idx = (*(x[..., p].astype(int) for p in fam.parents), x[..., j].astype(int))
        return np.log(np.clip(fam.cpt[idx], 1e-300, None)).sum(axis=1)
    mean = fam.intercept + x[..., list(fam.parents)] @ fam.coef
    var = fam.noise_var
    return (-0.5 * (np.log(2 * np.pi * var) + (x[..., j] - mean) ** 2 / var)).sum(axis=1)


def _predictive_loglik(fam: Family, x: np.ndarray, j: int) -> np.ndarray:
    """Sum over rows of ``log p(x_j | x_parents)`` with the parameters integrated out, (M,).

    The rows are scored jointly under the family's parameter posterior (the posterior
    predictive, so later rows learn from earlier ones): Dirichlet-multinomial for a categorical
    family (the BDeu score of the data plus the rows, minus that of the data), Student-t
    regression for a Normal-inverse-gamma Gaussian family. Known parameters: the plain
    likelihood.
    """
    if isinstance(fam, CategoricalFamily):
        if fam.concentration is None:
            return _family_loglik(fam, x, j)
        conc = fam.concentration.reshape(-1, fam.concentration.shape[-1])  # (q, r)
        q, r = conc.shape
        config = np.zeros(x.shape[:2], dtype=np.int64)
        for p, card in zip(fam.parents, fam.concentration.shape[:-1], strict=True):
            config = config * card + x[..., p].astype(np.int64)
        m = x.shape[0]
        flat = (np.arange(m)[:, None] * q + config) * r + x[..., j].astype(np.int64)
        counts = np.bincount(flat.ravel(), minlength=m * q * r).reshape(m, q, r)
        a_k = conc.sum(axis=1)
        return (gammaln(a_k) - gammaln(a_k + counts.sum(axis=2))).sum(axis=1) + (
            gammaln(conc + counts) - gammaln(conc)
        ).sum(axis=(1, 2))
    if fam.shape is None or fam.scale is None or fam.coef_cov_unit is None:
        return _family_loglik(fam, x, j)
    # u = z b + e, b | s2 ~ N(coef, s2 V), s2 ~ InvGamma(a, s): the marginal of u is closed form
    n, p = x.shape[1], len(fam.parents)
    z = x[..., list(fam.parents)]
    u = x[..., j] - fam.intercept - z @ fam.coef  # residual at the prior mean of b
    a, s = fam.shape, fam.scale
    if p:
        lam0 = np.linalg.inv(fam.coef_cov_unit)
        lam = lam0 + np.einsum("mni,mnk->mik", z, z)
        zu = np.einsum("mni,mn->mi", z, u)
        sol = np.linalg.solve(lam, zu[..., None])[..., 0]
        quad = (u * u).sum(axis=1) - (zu * sol).sum(axis=1)
        logdet = np.linalg.slogdet(lam0)[1] - np.linalg.slogdet(lam)[1]
    else:
        quad, logdet = (u * u).sum(axis=1), np.zeros(x.shape[0])
    return (
        -0.5 * n * np.log(2 * np.pi)
        + 0.5 * logdet
        + a * np.log(s)
        - (a + 0.5 * n) * np.log(s + 0.5 * quad)
        + gammaln(a + 0.5 * n)
        - gammaln(a)
    )


def _values(
    var: Any, value: str | float | None, n: int, rng: np.random.Generator, sd: float
) -> list[Any]:
    if value is not None:
        return [value] * n
    if var.kind == "categorical":
        return list(rng.choice(var.states, size=n))
    return list(rng.normal(0.0, sd, size=n))


def _worlds(hyp: _Hypotheses, who: np.ndarray, rng: np.random.Generator) -> list[Theory]:
    """The world of each outer draw: theory ``who[m]``, with parameters drawn from their
    posterior when they are integrated out (``y ~ p(y | theory, data)``).

    Every candidate experiment is simulated in the same worlds: the gains of two candidates
    are compared on common random numbers, and the experiments of a batch share each world's
    parameters, as the rows of one real experiment and the next would.
    """
    cache: dict[int, Theory] = {}
    out = []
    for k in who:
        theory = cache.setdefault(int(k), hyp.theory(int(k)))
        out.append(theory.draw_parameters(rng) if hyp.integrate else theory)
    return out


def _simulate(
    hyp: _Hypotheses,
    worlds: Sequence[Theory],
    j: int,
    value: Any,
    n: int,
    rng: np.random.Generator,
    sd: float,
) -> np.ndarray:
    """Outcomes (M, n, d): for each outer draw, n rows from ``worlds[m]`` under do(X_j)."""
    var = hyp.post.variables[j]
    out = np.empty((len(worlds), n, hyp.d))
    for m, theory in enumerate(worlds):
        vals = _values(var, value, n, rng, sd)
        rows = []
        for v in dict.fromkeys(vals):  # each distinct value once, keeping the row counts
            count = sum(1 for w in vals if w == v)
            rows.append(theory.sample(count, rng, do={var.name: v}).values)
        out[m] = np.concatenate(rows)
    return out


def _gain(
    loglik: np.ndarray,
    who: np.ndarray,
    log_w: np.ndarray,
    answer: np.ndarray | None,
    edges: np.ndarray | None = None,
) -> tuple[float, float]:
    """Monte-Carlo EIG (about the DAG, the ``edges``, or ``answer``) and its standard error."""
    post = log_w[None, :] + loglik
    norm = logsumexp(post, axis=1)
    if edges is not None:  # sum over edges of I(edge; y) = E_y[H(edge) - H(edge | y)]
        w = np.exp(post - norm[:, None])
        terms = _entropy(np.exp(log_w) @ edges).sum() - _entropy(w @ edges).sum(axis=1)
    elif answer is None:
        terms = loglik[np.arange(who.size), who] - norm
    else:
        prior_var = float(np.exp(log_w) @ (answer - np.exp(log_w) @ answer) ** 2)
        w = np.exp(post - norm[:, None])
        mean = w @ answer
        var = np.maximum((w * (answer[None, :] - mean[:, None]) ** 2).sum(axis=1), 1e-300)
        terms = 0.5 * (np.log(max(prior_var, 1e-300)) - np.log(var))
    se = float(terms.std(ddof=1) / np.sqrt(terms.size)) if terms.size > 1 else float("nan")
    return float(terms.mean()), se


def _entropy(p: np.ndarray) -> np.ndarray:
    """Binary entropy (nats), elementwise."""
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return -(p * np.log(p) + (1 - p) * np.log1p(-p))


def expected_information_gain(
    posterior: Posterior,
    variable: str,
    value: str | float | None = None,
    *,
    n_samples: int = 20,
    target: str | None = None,
    n_outer: int = 128,
    max_theories: int = 500,
    value_sd: float = 1.0,
    parameters: str = "integrated",
    seed: int = 0,
) -> Experiment:
    """The expected information gain of one experiment ``do(variable=value)`` x ``n_samples``."""
    return suggest(
        posterior,
        [(variable, value)],
        target=target,
        n_samples=n_samples,
        n_outer=n_outer,
        max_theories=max_theories,
        value_sd=value_sd,
        parameters=parameters,
        seed=seed,
    )[0]


def suggest(
    posterior: Posterior,
    candidates: Sequence[str | tuple[str, Any]],
    *,
    target: str | None = None,
    n_samples: int = 20,
    batch: int = 1,
    repeats: bool = False,
    n_outer: int = 128,
    max_theories: int = 500,
    value_sd: float = 1.0,
    parameters: str = "integrated",
    seed: int = 0,
) -> list[Experiment]:
    """Rank candidate experiments by expected information gain (or pick a greedy batch).

    Parameters
    ----------
    posterior
        The current posterior over theories.
    candidates
        Experiments to rank: ``"X"`` (``do(X)`` with each row's value drawn uniformly from X's
        states, or from N(0, value_sd) for a continuous X), ``"X=x"`` (every row at
        ``do(X=x)``), ``"X=*"`` (one candidate ``do(X=x)`` for every state x of a categorical
        X), or ``(name, value)`` pairs (value None: spread; ``"*"``: every state). Repeated
        experiments are ranked once.
    target
        None: the gain is about the DAG (the mutual information between the theory and the
        outcome). ``"edges"``: about the edges, the sum over ordered pairs of the mutual
        information between the edge's presence and the outcome (what the edge-marginal
        error rewards). A query (``"P(Y=y | do(X=x))"``, ``"E[Y | ...]"``): about its answer.
    n_samples
        Rows per experiment: a batch of ``k`` experiments is ``k * n_samples`` rows, and each
        :class:`Experiment` reports its own ``n_samples``.
    batch
        ``1``: every candidate ranked by its own gain. ``k > 1``: ``k`` distinct experiments
        chosen greedily by their joint gain; each reports the joint gain of the batch up to it.
        Without ``repeats``, a batch never repeats an experiment, and ``k`` must not exceed the
        number of distinct candidates.
    repeats
        Let a batch pick an experiment again: each pick is another ``n_samples`` new rows of
        it (simulated afresh in the same worlds), so the batch can put more rows where they
        teach the most. A repeated experiment appears once per pick.
    n_outer
        Monte-Carlo outcomes per experiment.
    max_theories
        The most probable theories kept as hypotheses.
    parameters
        ``"integrated"`` (default): outcomes are drawn with parameters from their posterior and
        every hypothesis scores them by its posterior predictive (the marginal likelihood
        update of the score: BDeu's Dirichlet-multinomial, BGe's Student-t regression), so the
        gain is the mutual information between the DAG and the outcome. ``"mean"``: every
        theory at its posterior-mean parameters (cheaper; overstates how well close theories
        can be told apart when the data are few).
    seed
        Seed of the simulations (the same seed and inputs give the same ranking).
    """
    if not isinstance(posterior, Posterior):
        raise InputError(
            f"posterior is a {type(posterior).__name__}; expected a scientist.Posterior."
        )
    if posterior.scorer is None and posterior.theories is None:
        raise InputError("The posterior holds structures only; experiment design needs mechanisms.")
    for name, v in (
        ("n_samples", n_samples),
        ("batch", batch),
        ("n_outer", n_outer),
        ("max_theories", max_theories),
    ):
        if not isinstance(v, int) or v < 1:
            raise InputError(f"{name}={v!r} is invalid: expected a positive integer.")
    if parameters not in ("integrated", "mean"):
        raise InputError(f"parameters={parameters!r} is invalid: expected 'integrated' or 'mean'.")
    if n_outer < 2:
        raise InputError(
            f"n_outer={n_outer!r} is invalid: at least 2 outcomes are needed for a standard error."
        )
    if isinstance(candidates, str):
        raise InputError(
            f"candidates={candidates!r} is a string: pass a list such as {candidates.split(',')!r}."
        )
    # each distinct experiment once ("X=*" and "X=x" may both name do(X=x))
    parsed = list(dict.fromkeys(p for c in candidates for p in _candidate(posterior.variables, c)))
    if not parsed:
        raise InputError("candidates is empty: name at least one variable to intervene on.")
    if not isinstance(repeats, bool):
        raise InputError(f"repeats={repeats!r} is invalid: expected True or False.")
    if batch > len(parsed) and not repeats:
        raise InputError(
            f"batch={batch} is larger than the {len(parsed)} candidates: pass repeats=True to"
            " let the batch pick an experiment more than once, or a smaller batch."
        )
    hyp = _Hypotheses(posterior, max_theories, integrate=parameters == "integrated")
    rng = np.random.default_rng(seed)
    who = rng.choice(hyp.log_w.size, size=n_outer, p=np.exp(hyp.log_w))
    answer = edges = None
    if target == "edges":
        bits = (hyp.masks[:, None, :] >> np.arange(hyp.d)[None, :, None]) & 1  # (K, i, j)
        edges = bits.reshape(hyp.masks.shape[0], -1).astype(float)
    elif target is not None:
        sub = Posterior(
            posterior.variables,
            hyp.masks,
            hyp.log_w,
            weighting="exact",
            scorer=posterior.scorer,
            theories=None if posterior.theories is None else posterior.theories[: hyp.log_w.size],
        )
        ans = ask(sub, target, n_draws=0, seed=seed)
        answer = np.zeros(hyp.log_w.size)
        answer[ans.per_theory["theory"]] = ans.per_theory["value"]
    about = {None: "structure", "edges": "edges"}.get(target, f"answer to {target}")
    worlds = _worlds(hyp, who, rng)
    xs = [_simulate(hyp, worlds, j, value, n_samples, rng, value_sd) for j, value in parsed]
    names = posterior.names
    if batch == 1:
        out = []
        for (j, value), x in zip(parsed, xs, strict=True):
            eig, se = _gain(hyp.loglik(x, j), who, hyp.log_w, answer, edges)
            out.append(Experiment(names[j], value, n_samples, eig, se, about))
        return sorted(out, key=lambda e: -e.eig)
    # greedy: add the experiment whose rows, scored jointly with the batch's so far, gain most
    chosen: list[int] = []
    rows = np.empty((n_outer, 0, hyp.d))
    nodes = np.empty(0, dtype=np.int64)
    result = []
    for _ in range(batch):
        gains = {}
        for c in range(len(parsed)):
            if c in chosen and not repeats:
                continue
            ll = hyp.loglik(
                np.concatenate([rows, xs[c]], axis=1),
                np.concatenate([nodes, np.full(n_samples, parsed[c][0])]),
            )
            gains[c] = _gain(ll, who, hyp.log_w, answer, edges)
        best = max(gains, key=lambda c: gains[c][0])
        chosen.append(best)
        rows = np.concatenate([rows, xs[best]], axis=1)
        nodes = np.concatenate([nodes, np.full(n_samples, parsed[best][0])])
        j, value = parsed[best]
        result.append(Experiment(names[j], value, n_samples, *gains[best], about))
        if repeats:  # a second pick of the same experiment brings new rows, not the same ones
            xs[best] = _simulate(hyp, worlds, j, value, n_samples, rng, value_sd)
    return result


def _candidate(variables: Sequence[Any], c: str | tuple[str, Any]) -> list[tuple[int, Any]]:
    """Parse one candidate into ``(variable index, value)`` pairs (``"X=*"``: one per state)."""
    names = [v.name for v in variables]
    if isinstance(c, tuple):
        if len(c) != 2:
            raise InputError(f"Candidate {c!r} is invalid: expected a (name, value) pair.")
        name, value = c
    elif isinstance(c, str) and "=" in c:
        name, raw = (s.strip() for s in c.split("=", 1))
        value = raw
    elif isinstance(c, str):
        name, value = c.strip(), None
    else:
        raise InputError(
            f"Candidate {c!r} is invalid: expected 'X', 'X=x', 'X=*' or a (name, value) pair."
        )
    if name not in names:
        raise InputError(f"Unknown candidate variable {name!r}; the variables are {names}.")
    j = names.index(name)
    var = variables[j]
    if isinstance(value, str) and value.strip() == "*":
        if var.kind != "categorical":
            raise InputError(
                f"Candidate {c!r}: {name!r} is continuous, so '*' (every state) has no meaning;"
                f" give the values to try, for example '{name}=1.5', or '{name}' for N(0, value_sd)."
            )
        return [(j, str(s)) for s in var.states or ()]
    if value is not None:
        if var.kind == "categorical":
            value = str(value)
            if value not in (var.states or ()):
                raise InputError(
                    f"Unknown state {value!r} of {name!r}; its states are {list(var.states or [])}."
                )
        else:
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise InputError(
                    f"{name!r} is continuous: its value must be a number, got {value!r}."
                ) from None
    return [(j, value)]


def to_json(experiments: Sequence[Experiment]) -> str:
    """A JSON list of experiments."""
    return json.dumps([e.to_dict() for e in experiments])
