"""The guard: cautious bounds on the probability that an agent's action causes harm.

:class:`Guard` judges an agent's action with a :class:`HarmSpec` and records every
:class:`Verdict` in an :class:`AuditStore`. :mod:`scientist.guard.bounds` holds the bounds of Bengio et al. (pure functions of per-theory
log-posteriors and harm probabilities); :mod:`scientist.guard.bandit` holds the exploding bandit
of the paper's section 5, on which they are compared.

References
----------
.. [1] Y. Bengio, M. K. Cohen, N. Malkin, M. MacDermott, D. Fornasiere, P. Greiner and
   Y. Kaddar, "Can a Bayesian Oracle Prevent Harm from an Agent?", UAI 2025, arXiv:2408.05284.
"""

from scientist.guard.audit import AuditError, AuditStore
from scientist.guard.bounds import (
    Bound,
    PlausibleBound,
    TailMass,
    credible_bound,
    plausible_set,
    posterior_predictive,
    prop33,
    prop43,
    prop45,
    tail_mass,
)
from scientist.guard.guard import RULES, Guard, Verdict
from scientist.guard.spec import HarmSpec, Interpretation, Principle

__all__ = [
    "RULES",
    "AuditError",
    "AuditStore",
    "Bound",
    "Guard",
    "HarmSpec",
    "Interpretation",
    "PlausibleBound",
    "Principle",
    "TailMass",
    "Verdict",
    "credible_bound",
    "plausible_set",
    "posterior_predictive",
    "prop33",
    "prop43",
    "prop45",
    "tail_mass",
]
