"""The guard: cautious bounds on the probability that an agent's action causes harm.

:mod:`scientist.guard.bounds` holds the bounds of Bengio et al. (pure functions of per-theory
log-posteriors and harm probabilities); :mod:`scientist.guard.bandit` holds the exploding bandit
of the paper's section 5, on which they are compared.

References
----------
.. [1] Y. Bengio, M. K. Cohen, N. Malkin, M. MacDermott, D. Fornasiere, P. Greiner and
   Y. Kaddar, "Can a Bayesian Oracle Prevent Harm from an Agent?", UAI 2025, arXiv:2408.05284.
"""

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

__all__ = [
    "Bound",
    "PlausibleBound",
    "TailMass",
    "credible_bound",
    "plausible_set",
    "posterior_predictive",
    "prop33",
    "prop43",
    "prop45",
    "tail_mass",
]
