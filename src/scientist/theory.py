"""A theory: a causal DAG plus the posterior over its mechanisms' parameters.

Two families of mechanisms are supported:

* categorical: each node has a conditional probability table; its parameter posterior is a
  Dirichlet per parent configuration (conjugate to BDeu);
* linear-Gaussian: ``x_j = c_j + b_j . x_Pa(j) + e_j``, ``e_j ~ N(0, s2_j)``; the parameter
  posterior is Normal-inverse-gamma (implied by BGe's Normal-Wishart posterior).

A ground-truth theory (for example one loaded from a BIF file) has known parameters: its
families carry no posterior spread. Theories sample observational data and data under perfect
interventions.

References
----------
.. [1] J. Pearl, *Causality*, Cambridge University Press, 2009 (causal Bayesian networks and
   interventions).
.. [2] D. Heckerman, D. Geiger and D. Chickering, Machine Learning 20, 1995 (Dirichlet parameter
   posteriors).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from scientist.data import Dataset, Variable
from scientist.errors import InputError
from scientist.graphs import is_dag, topological_order
from scientist.scores.base import LocalScorer

__all__ = ["CategoricalFamily", "GaussianFamily", "Theory", "family_from_scorer"]


@dataclass(frozen=True)
class CategoricalFamily:
    """A node's CPT ``cpt[*parent_states, state]`` and its Dirichlet posterior (None: known)."""

    parents: tuple[int, ...]
    cpt: np.ndarray
    concentration: np.ndarray | None = None

    def draw(self, rng: np.random.Generator) -> CategoricalFamily:
        """A family with a CPT drawn from the Dirichlet posterior."""
        if self.concentration is None:
            return self
        g = rng.standard_gamma(self.concentration)
        total = g.sum(axis=-1, keepdims=True)
        under = total[..., 0] <= 0  # every draw underflowed: tiny concentrations (sparse BDeu)
        if under.any():  # Gamma(a) = Gamma(a + 1) U^(1/a), in log space
            a = self.concentration[under]
            log_g = np.log(rng.standard_gamma(a + 1)) + np.log(rng.random(a.shape)) / a
            g, total = g.astype(float), total.astype(float)
            g[under] = np.exp(log_g - log_g.max(axis=-1, keepdims=True))
            total[under] = g[under].sum(axis=-1, keepdims=True)
        return CategoricalFamily(self.parents, g / total, None)


@dataclass(frozen=True)
class GaussianFamily:
    """``x = intercept + coef . x_parents + N(0, noise_var)`` with a Normal-inverse-gamma posterior.

    ``noise_var`` is the posterior mean of the noise variance. When ``shape`` is None the
    parameters are known; otherwise ``noise_var ~ InvGamma(shape, scale)`` and
    ``coef | noise_var ~ N(coef, noise_var * coef_cov_unit)``.
    """

    parents: tuple[int, ...]
    coef: np.ndarray
    intercept: float
    noise_var: float
    coef_cov_unit: np.ndarray | None = None
    shape: float | None = None
    scale: float | None = None

    def coef_interval(self, level: float = 0.9) -> np.ndarray:
        """Marginal credible intervals of the weights, ``(k, 2)`` (Student-t, 2*shape dof)."""
        if self.shape is None or self.coef_cov_unit is None or self.scale is None:
            return np.column_stack([self.coef, self.coef])
        sd = np.sqrt(self.scale / self.shape * np.diag(self.coef_cov_unit))
        q = stats.t.ppf(0.5 + level / 2, df=2 * self.shape)
        return np.column_stack([self.coef - q * sd, self.coef + q * sd])

    def draw(self, rng: np.random.Generator) -> GaussianFamily:
        """A family with weights and noise variance drawn from the posterior."""
        if self.shape is None or self.coef_cov_unit is None or self.scale is None:
            return self
        var = self.scale / rng.standard_gamma(self.shape)
        coef = (
            rng.multivariate_normal(self.coef, var * self.coef_cov_unit)
            if self.coef.size
            else self.coef
        )
        return GaussianFamily(self.parents, coef, self.intercept, float(var))


Family = CategoricalFamily | GaussianFamily


def family_from_scorer(scorer: LocalScorer, node: int, parents: tuple[int, ...]) -> Family:
    """The mechanism of ``node`` given ``parents`` with the fitted score's parameter posterior."""
    post = scorer.family_posterior(node, parents)
    if "concentration" in post:
        conc = post["concentration"]
        return CategoricalFamily(parents, conc / conc.sum(-1, keepdims=True), conc)
    shape = float(post["shape"])
    return GaussianFamily(
        parents,
        post["coef"],
        post["intercept"],
        post["scale"] / (shape - 1) if shape > 1 else np.inf,
        post["coef_cov_unit"],
        shape,
        post["scale"],
    )


class Theory:
    """A causal Bayesian network: a DAG over named variables plus its mechanisms.

    Parameters
    ----------
    variables
        The variables (all categorical, or all continuous).
    adjacency
        ``(d, d)`` boolean matrix, ``adjacency[i, j]`` for the edge ``i -> j``.
    families
        One family per node whose parents match the adjacency.
    """

    def __init__(
        self, variables: Sequence[Variable], adjacency: np.ndarray, families: Sequence[Family]
    ) -> None:
        self.variables = tuple(variables)
        self.adjacency = np.asarray(adjacency, dtype=bool)
        d = len(self.variables)
        if self.adjacency.shape != (d, d) or not is_dag(self.adjacency):
            raise InputError(f"adjacency must be a ({d}, {d}) acyclic matrix.")
        self.families = tuple(families)
        for j, fam in enumerate(self.families):
            if tuple(np.flatnonzero(self.adjacency[:, j])) != tuple(fam.parents):
                raise InputError(f"family {j} has parents {fam.parents}, unlike the adjacency.")
        kinds = {type(f) for f in self.families}
        if len(kinds) != 1:
            raise InputError("A theory's families must all be categorical or all Gaussian.")
        self.kind = "categorical" if kinds.pop() is CategoricalFamily else "linear_gaussian"

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_scorer(cls, scorer: LocalScorer, adjacency: np.ndarray) -> Theory:
        """The theory of a DAG with the parameter posterior given by a fitted score."""
        adjacency = np.asarray(adjacency, dtype=bool)
        families = [
            family_from_scorer(scorer, j, tuple(int(i) for i in np.flatnonzero(adjacency[:, j])))
            for j in range(scorer.d)
        ]
        return cls(scorer.variables, adjacency, families)

    @classmethod
    def linear_gaussian(
        cls,
        names: Sequence[str],
        weights: np.ndarray,
        *,
        intercepts: np.ndarray | float = 0.0,
        noise_sd: np.ndarray | float = 1.0,
    ) -> Theory:
        """A linear-Gaussian SEM with known parameters; ``weights[i, j]`` is the weight of i -> j."""
        w = np.asarray(weights, dtype=float)
        d = len(names)
        if w.shape != (d, d):
            raise InputError(f"weights has shape {w.shape}; expected ({d}, {d}).")
        c = np.broadcast_to(np.asarray(intercepts, dtype=float), (d,))
        sd = np.broadcast_to(np.asarray(noise_sd, dtype=float), (d,))
        if np.any(sd <= 0):
            raise InputError(f"noise_sd={noise_sd!r} is invalid: expected positive values.")
        adj = w != 0
        fams = [
            GaussianFamily(
                tuple(int(i) for i in np.flatnonzero(adj[:, j])),
                w[adj[:, j], j],
                float(c[j]),
                float(sd[j] ** 2),
            )
            for j in range(d)
        ]
        return cls([Variable(n, "continuous") for n in names], adj, fams)

    # ------------------------------------------------------------------ queries
    @property
    def names(self) -> list[str]:
        """Variable names."""
        return [v.name for v in self.variables]

    def edges(self) -> list[tuple[str, str]]:
        """Edges as ``(parent, child)`` name pairs."""
        n = self.names
        return [(n[i], n[j]) for i, j in zip(*np.nonzero(self.adjacency), strict=True)]

    def draw_parameters(self, rng: np.random.Generator) -> Theory:
        """The same DAG with parameters drawn from their posterior (known ones stay fixed)."""
        return Theory(self.variables, self.adjacency, [f.draw(rng) for f in self.families])

    def edge_effects(self, level: float = 0.9, n_draws: int = 200) -> list[dict[str, object]]:
        """Every edge with its effect size and a credible interval.

        Linear-Gaussian: the weight (Student-t interval). Categorical: the *strength*, the mean
        over the other parents' configurations of the largest total-variation distance between
        the child's distributions for two states of this parent; its interval comes from
        ``n_draws`` Dirichlet draws with a fixed seed (so it is reproducible).
        """
        out: list[dict[str, object]] = []
        names = self.names
        rng = np.random.default_rng(0)
        for j, fam in enumerate(self.families):
            if isinstance(fam, GaussianFamily):
                iv = fam.coef_interval(level)
                for k, p in enumerate(fam.parents):
                    out.append(
                        {
                            "parent": names[p],
                            "child": names[j],
                            "measure": "weight",
                            "value": float(fam.coef[k]),
                            "interval": iv[k].tolist(),
                        }
                    )
            else:
                draws = (
                    [fam.draw(rng).cpt for _ in range(n_draws)]
                    if fam.concentration is not None
                    else []
                )
                for k, p in enumerate(fam.parents):
                    value = _strength(fam.cpt, k)
                    bounds = [value, value]
                    if draws:
                        s = np.array([_strength(c, k) for c in draws])
                        bounds = np.quantile(s, [0.5 - level / 2, 0.5 + level / 2]).tolist()
                    out.append(
                        {
                            "parent": names[p],
                            "child": names[j],
                            "measure": "strength",
                            "value": value,
                            "interval": bounds,
                        }
                    )
        return out

    def describe(self, level: float = 0.9) -> str:
        """The mechanisms in plain words, one edge per line, e.g. ``Raf -> Mek (weight +0.81 [0.74, 0.88])``."""
        lines = []
        for e in self.edge_effects(level):
            interval: list[float] = e["interval"]  # type: ignore[assignment]
            lo, hi = interval
            lines.append(
                f"{e['parent']} -> {e['child']} ({e['measure']} {e['value']:+.2f} [{lo:.2f}, {hi:.2f}])"
            )
        for j, fam in enumerate(self.families):
            if not fam.parents:
                lines.append(f"{self.names[j]} has no parents (exogenous)")
        return "\n".join(lines) if lines else "no variables"

    def __repr__(self) -> str:
        return f"Theory({len(self.variables)} {self.kind} variables, {int(self.adjacency.sum())} edges)"

    # ------------------------------------------------------------------ simulation
    def sample(
        self,
        n: int,
        rng: np.random.Generator | int | None = None,
        *,
        do: Mapping[str, object] | None = None,
    ) -> Dataset:
        """Draw ``n`` rows by ancestral sampling at the posterior-mean parameters.

        Parameters
        ----------
        n
            Number of rows (>= 1).
        rng
            A generator or a seed.
        do
            Perfect interventions ``{name: value}``: the variable is set to the value (a state
            label for categorical variables) and marked as intervened in every row.
        """
        if not isinstance(n, int | np.integer) or n < 1:
            raise InputError(f"n={n!r} is invalid: expected a positive integer number of rows.")
        rng = np.random.default_rng(rng)
        names = self.names
        d = len(names)
        fixed: dict[int, float] = {}
        for name, value in (do or {}).items():
            if name not in names:
                raise InputError(
                    f"do names {name!r}, which is not a variable; the variables are {names}."
                )
            j = names.index(name)
            var = self.variables[j]
            if var.kind == "categorical":
                if str(value) not in var.states:  # type: ignore[operator]
                    raise InputError(
                        f"do={{{name!r}: {value!r}}} is invalid: {name} takes the states {list(var.states or [])}."
                    )
                fixed[j] = float(var.states.index(str(value)))  # type: ignore[union-attr]
            else:
                fixed[j] = float(value)  # type: ignore[arg-type]
        x = np.empty((n, d))
        for j in topological_order(self.adjacency):
            if j in fixed:
                x[:, j] = fixed[j]
                continue
            fam = self.families[j]
            if isinstance(fam, GaussianFamily):
                mean = fam.intercept + x[:, list(fam.parents)] @ fam.coef
                x[:, j] = mean + np.sqrt(fam.noise_var) * rng.standard_normal(n)
            else:
                idx = tuple(x[:, p].astype(int) for p in fam.parents)
                probs = fam.cpt[idx] if idx else np.broadcast_to(fam.cpt, (n, fam.cpt.shape[-1]))
                cdf = np.cumsum(probs, axis=-1)
                u = rng.random(n)[:, None] * cdf[:, -1:]
                x[:, j] = np.minimum((u > cdf).sum(axis=-1), fam.cpt.shape[-1] - 1)
        mask = np.zeros((n, d), dtype=bool)
        mask[:, list(fixed)] = True
        return Dataset(self.variables, x, mask)


def _strength(cpt: np.ndarray, axis: int) -> float:
    """Mean over other parents' configurations of the max total variation along ``axis``."""
    moved = np.moveaxis(cpt, axis, 0)  # (r_p, ..., r_child)
    diff = 0.5 * np.abs(moved[:, None] - moved[None, :]).sum(axis=-1)  # (r_p, r_p, ...)
    return float(diff.max(axis=(0, 1)).mean())
