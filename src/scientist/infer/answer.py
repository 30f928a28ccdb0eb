"""The answer of the inference machine: a probability or expectation with its uncertainty.

Uncertainty is split three ways (the Scientist AI's "explicit notion of uncertainty"):

* **epistemic**: the spread of the answer across plausible theories (structures and their
  parameters). For an event, the mutual information (nats) between the event and the theory,
  ``H(mean) - E_theory[H(p_theory)]``; for an expectation, the variance across theories of the
  theory's expectation.
* **aleatoric**: the randomness left inside a theory: ``E_theory[H(p_theory)]`` for an event,
  ``E_theory[Var(Y | theory)]`` for an expectation.
* **mc_stderr**: the computational (Monte-Carlo) standard error of ``mean`` itself, from the
  finite sample of structures (zero for exact weights) and from parameter draws where the mean
  needs them. An optimistic estimate for MCMC posteriors: it ignores autocorrelation.

``interval`` is the central credible interval of the answer (the true probability or
expectation) under the posterior over theories and their parameters.

References
----------
.. [1] S. Depeweg, J. M. Hernandez-Lobato, F. Doshi-Velez and S. Udluft, "Decomposition of
   uncertainty in Bayesian deep learning for efficient and risk-sensitive learning", ICML 2018.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = ["Answer", "weighted_quantile"]


@dataclass
class Answer:
    """The answer to one query; JSON-serialisable with :meth:`to_dict` / :meth:`to_json`."""

    query: str
    kind: str
    mean: float
    interval: tuple[float, float]
    level: float
    epistemic: float
    aleatoric: float
    mc_stderr: float
    per_theory: dict[str, list[Any]] = field(repr=False)
    support: list[dict[str, Any]] = field(repr=False)
    dropped_mass: float = 0.0
    n_theories: int = 0
    weighting: str = "exact"
    seed: int | None = None
    n_draws: int = 0

    def to_dict(self, max_theories: int | None = 1000) -> dict[str, Any]:
        """Plain Python types only; ``per_theory`` truncated to the heaviest ``max_theories``."""
        out = asdict(self)
        out["interval"] = list(self.interval)
        if max_theories is not None and len(self.per_theory.get("weight", [])) > max_theories:
            out["per_theory"] = {k: v[:max_theories] for k, v in self.per_theory.items()}
            out["per_theory_truncated"] = True
        return out

    def to_json(self, **kwargs: Any) -> str:
        """The answer as JSON."""
        return json.dumps(self.to_dict(), **kwargs)

    def __str__(self) -> str:
        lo, hi = self.interval
        lines = [
            f"{self.query} = {self.mean:.4f}  [{lo:.4f}, {hi:.4f}] ({self.level:.0%} credible)",
            f"  epistemic {self.epistemic:.4g}, aleatoric {self.aleatoric:.4g}, "
            f"Monte-Carlo s.e. {self.mc_stderr:.2g}; {self.n_theories:,} theories ({self.weighting} weights)",
        ]
        if self.dropped_mass > 0:
            lines.append(
                f"  {self.dropped_mass:.3g} of the posterior mass was dropped: its theories give the evidence probability zero"
            )
        for s in self.support:
            lines.append(
                f"  pushes {s['direction']}: theory #{s['theory']} (P = {s['weight']:.3f}) gives {s['value']:.4f}; {s['description']}"
            )
        return "\n".join(lines)


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Quantiles ``q`` of a weighted sample (inverse of the weighted empirical CDF)."""
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cdf = np.cumsum(w)
    cdf /= cdf[-1]
    idx = np.searchsorted(cdf, np.asarray(q) - 1e-12, side="left")
    return v[np.clip(idx, 0, v.size - 1)]
