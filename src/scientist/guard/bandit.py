"""The exploding bandit of Bengio et al. (section 5), vectorised over episodes.

A theory is a weight vector ``v`` in ``{0, 1}^dim`` (``dim = 10``: 1,024 theories, uniform prior;
theory ``k`` has ``v_j = (k >> j) & 1``). Each episode draws the true ``v*`` from the prior and
``n_arms`` arms with features ``f_a`` uniform in ``{0, 1}^dim``. Pulling arm ``a`` pays
``r ~ N(f_a . v*, noise_sd^2)``; a reward above the explosion threshold ``E`` is harm: it ends the
episode (its reward still counts). So ``P(harm | v, a) = 1 - Phi((E - f_a . v) / noise_sd)``, and
the exact posterior over the theories is updated after every pull.

The agent is Boltzmann over the posterior-mean rewards ``f_a . E[v | D]`` with inverse temperature
``beta``. A guard sees the log-posterior and the per-theory harm of every arm and rejects the arms
whose estimate exceeds its limit; the agent resamples among the others, which is the same as
sampling its Boltzmann distribution restricted to the allowed arms. When every arm is rejected
the episode ends, and it counts as no death.

Guards are functions of ``(log_post[b, 1, k], harm[b, a, k])``, so the bounds of
:mod:`scientist.guard.bounds` plug in unchanged. Episodes are drawn once (:meth:`ExplodingBandit.draw`)
and can be replayed under every guard: the same true theories, arms, reward noise and agent draws
(common random numbers), which makes the comparison between guards sharper.

References
----------
.. [1] Y. Bengio, M. K. Cohen, N. Malkin, M. MacDermott, D. Fornasiere, P. Greiner and
   Y. Kaddar, "Can a Bayesian Oracle Prevent Harm from an Agent?", UAI 2025, arXiv:2408.05284,
   section 5.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

from scientist.errors import bad_value
from scientist.guard import bounds

__all__ = [
    "GUARD_NAMES",
    "BanditGuard",
    "Episodes",
    "ExplodingBandit",
    "Outcome",
    "Tightness",
    "explosion_threshold",
    "make_guard",
    "run",
    "tightness",
]

GuardFn = Callable[[NDArray[np.float64], NDArray[np.floating]], NDArray[np.floating]]
Policy = Literal["boltzmann", "uniform"]


class Episodes(NamedTuple):
    """Everything random in a batch of episodes, drawn up front.

    Attributes
    ----------
    truth : ndarray of intp, shape (n,)
        Index of the true theory ``v*``.
    features : ndarray of int8, shape (n, n_arms, dim)
        Arm features ``f_a``.
    noise : ndarray, shape (n, horizon)
        Standard normal reward noise of each step.
    uniform : ndarray, shape (n, horizon)
        Uniform ``[0, 1)`` draws that pick the agent's arm at each step.
    """

    truth: NDArray[np.intp]
    features: NDArray[np.int8]
    noise: NDArray[np.float64]
    uniform: NDArray[np.float64]

    @property
    def n(self) -> int:
        """Number of episodes."""
        return int(self.truth.shape[0])

    def take(self, rows: slice | NDArray[np.intp]) -> Episodes:
        """The episodes ``rows``."""
        return Episodes(self.truth[rows], self.features[rows], self.noise[rows], self.uniform[rows])


class BanditGuard(NamedTuple):
    """A guard: reject an arm when ``estimate(log_post, harm) > limit``.

    Attributes
    ----------
    name : str
        Name shown in tables.
    estimate : callable or None
        ``(log_post[b, 1, K], harm[b, A, K]) -> estimate[b, A]``; ``None`` rejects nothing.
    limit : float
        Arms with an estimate above it are rejected.
    oracle : bool
        The "cheating" guard: the estimate is the harm under the true theory (what any bound
        gives for a posterior that is a point mass on it), and ``estimate`` is not called.
    """

    name: str
    estimate: GuardFn | None = None
    limit: float = np.inf
    oracle: bool = False


class Outcome(NamedTuple):
    """What happened in each episode.

    Attributes
    ----------
    reward : ndarray, shape (n,)
        Total reward, the reward of an explosion included.
    died : ndarray of bool, shape (n,)
        An explosion (harm) ended the episode.
    steps : ndarray of int, shape (n,)
        Arms pulled.
    stopped : ndarray of bool, shape (n,)
        The guard rejected every arm, which ended the episode (not a death).
    worst : ndarray, shape (n,)
        The largest true harm probability among the arms pulled (0 if none): an episode
        violated a guard's threshold ``C`` if ``worst > C``.
    """

    reward: NDArray[np.float64]
    died: NDArray[np.bool_]
    steps: NDArray[np.int64]
    stopped: NDArray[np.bool_]
    worst: NDArray[np.float64]


class Tightness(NamedTuple):
    """How often Prop 4.5 is at least the true harm, per episode and alpha.

    Attributes
    ----------
    query_rate : ndarray, shape (n, len(alphas))
        Fraction of the episode's queries (every arm at every step) where the estimate is at
        least the true harm.
    all_steps : ndarray of bool, shape (n, len(alphas))
        Whether it was at least the true harm for every query of the episode: the event that
        Prop 4.5 guarantees with probability at least ``1 - alpha / P(v*)``.
    """

    query_rate: NDArray[np.float64]
    all_steps: NDArray[np.bool_]


@dataclass(frozen=True)
class ExplodingBandit:
    """The exploding bandit: its sizes and constants (defaults: the paper's section 5).

    Parameters
    ----------
    n_arms : int
        Arms per episode.
    dim : int
        Length of ``v`` and ``f_a``; there are ``2**dim`` theories (``dim <= 16``).
    horizon : int
        Steps per episode.
    explosion : float
        ``E``: a reward above it is harm. ``4`` is :func:`explosion_threshold` for the defaults.
    noise_sd : float
        Standard deviation of the reward noise, known to the agent.
    beta : float
        Inverse temperature of the Boltzmann agent.

    References
    ----------
    .. [1] Bengio et al., "Can a Bayesian Oracle Prevent Harm from an Agent?", UAI 2025, §5.
    """

    n_arms: int = 10
    dim: int = 10
    horizon: int = 25
    explosion: float = 4.0
    noise_sd: float = 1.0
    beta: float = 0.5

    def __post_init__(self) -> None:
        for name, lo, hi in (("n_arms", 1, None), ("dim", 1, 16), ("horizon", 1, None)):
            v = getattr(self, name)
            if not isinstance(v, int | np.integer) or v < lo or (hi is not None and v > hi):
                expected = f"an integer >= {lo}" + (f" and <= {hi}" if hi else "")
                raise bad_value(name, v, expected)
        if not np.isfinite(self.explosion):
            raise bad_value("explosion", self.explosion, "a finite number")
        if not (np.isfinite(self.noise_sd) and self.noise_sd > 0):
            raise bad_value("noise_sd", self.noise_sd, "a positive number")
        if not np.isfinite(self.beta):
            raise bad_value("beta", self.beta, "a finite number")

    @property
    def n_theories(self) -> int:
        """``2**dim``."""
        return 1 << self.dim

    @property
    def theories(self) -> NDArray[np.int8]:
        """All theories, shape ``(2**dim, dim)``: row ``k`` has ``v_j = (k >> j) & 1``."""
        k = np.arange(self.n_theories)
        return ((k[:, None] >> np.arange(self.dim)) & 1).astype(np.int8)

    def harm_of_mean(self, mean: NDArray | float) -> NDArray[np.float64]:
        """``P(r > E)`` for ``r ~ N(mean, noise_sd^2)``."""
        return np.asarray(
            ndtr((np.asarray(mean, dtype=np.float64) - self.explosion) / self.noise_sd)
        )

    def draw(self, n: int, rng: np.random.Generator, *, p_one: float = 0.5) -> Episodes:
        """Draw ``n`` episodes: true theories, arms, reward noise and the agent's draws.

        Parameters
        ----------
        n : int
            Number of episodes.
        rng : numpy.random.Generator
            The only source of randomness.
        p_one : float in [0, 1]
            Each coordinate of the true ``v*`` is 1 with this probability. ``0.5`` draws ``v*``
            from the agent's uniform prior (the paper's setting); any other value makes the
            prior wrong, which is how ``docs/results.md`` shows when a guard's guarantee fails.

        Returns
        -------
        Episodes
        """
        if not isinstance(n, int | np.integer) or n < 0:
            raise bad_value("n", n, "an integer >= 0")
        if not isinstance(rng, np.random.Generator):
            raise bad_value(
                "rng", rng, "a numpy.random.Generator", "Use np.random.default_rng(seed)."
            )
        if not 0.0 <= p_one <= 1.0:
            raise bad_value("p_one", p_one, "a probability in [0, 1]")
        if p_one == 0.5:
            truth = rng.integers(0, self.n_theories, size=n).astype(np.intp)
        else:
            bits = rng.random((n, self.dim)) < p_one
            truth = (bits.astype(np.intp) << np.arange(self.dim)).sum(axis=1)
        features = rng.integers(0, 2, size=(n, self.n_arms, self.dim), dtype=np.int8)
        noise = rng.standard_normal((n, self.horizon))
        uniform = rng.random((n, self.horizon))
        return Episodes(truth, features, noise, uniform)

    def means(self, episodes: Episodes) -> NDArray[np.int8]:
        """``f_a . v`` for every episode, arm and theory: shape ``(n, n_arms, 2**dim)``."""
        n = episodes.n
        f = episodes.features.reshape(n * self.n_arms, self.dim).astype(np.float32)
        out = (f @ self.theories.T.astype(np.float32)).astype(np.int8)  # exact small integers
        return out.reshape(n, self.n_arms, self.n_theories)


def explosion_threshold(env: ExplodingBandit, rng: np.random.Generator, n: int = 100_000) -> float:
    """The paper's ``E``: the Monte-Carlo mean of ``max_a f_a . v*``, rounded to an integer.

    References
    ----------
    .. [1] Bengio et al., "Can a Bayesian Oracle Prevent Harm from an Agent?", UAI 2025, §5.
    """
    v = rng.integers(0, 2, size=(n, 1, env.dim))
    f = rng.integers(0, 2, size=(n, env.n_arms, env.dim))
    return float(np.round((f * v).sum(-1).max(-1).mean()))


# --------------------------------------------------------------------------------------------
# guards

GUARD_NAMES = ("none", "cheating", "posterior", "prop33", "prop45", "prop45-index", "tail")


def make_guard(name: str, limit: float | None = None, alpha: float | None = None) -> BanditGuard:
    """A guard of the paper's section 5, or the tail-mass guard.

    Parameters
    ----------
    name : str
        ``"none"``; ``"cheating"`` (the harm under the true theory); ``"posterior"`` (the
        posterior predictive); ``"prop33"``; ``"prop45"`` (ties enter as a group);
        ``"prop45-index"`` (ties broken by index, as in the paper's code); ``"tail"`` (reject when
        the posterior mass of theories with harm above ``limit`` exceeds ``alpha``: the
        credible bound at level ``alpha`` above ``limit``).
    limit : float
        The threshold ``C`` on the harm estimate.
    alpha : float
        ``alpha`` of Prop 4.5, or the tail mass ``q`` of the tail guard.

    Returns
    -------
    BanditGuard

    References
    ----------
    .. [1] Bengio et al., "Can a Bayesian Oracle Prevent Harm from an Agent?", UAI 2025, §5.
    """
    if name not in GUARD_NAMES:
        raise bad_value("name", name, f"one of {GUARD_NAMES}")
    if name == "none":
        return BanditGuard("none")
    if limit is None or not np.isfinite(limit):
        raise bad_value("limit", limit, "a finite threshold C for this guard")
    c = float(limit)
    if name == "cheating":
        return BanditGuard(name, None, c, oracle=True)
    if name == "posterior":
        return BanditGuard(name, lambda lp, h: bounds.posterior_predictive(lp, h).value, c)
    if name == "prop33":
        return BanditGuard(name, lambda lp, h: bounds.prop33(lp, h).value, c)
    if alpha is None:
        raise bad_value("alpha", alpha, f"a number in (0, 1] for the {name!r} guard")
    a = float(alpha)
    if name == "tail":
        if not 0.0 < a <= 1.0:
            raise bad_value("alpha", alpha, "a tail mass q in (0, 1]")
        return BanditGuard(name, lambda lp, h: bounds.tail_mass(lp, h, c).value, a)
    ties: bounds.Ties = "index" if name == "prop45-index" else "group"
    bounds.plausible_set(np.zeros(1), a, ties=ties)  # validates alpha now
    return BanditGuard(name, lambda lp, h: bounds.prop45(lp, h, a, ties=ties).value, c)


# --------------------------------------------------------------------------------------------
# running episodes


def _check(env: ExplodingBandit, episodes: Episodes, chunk: int) -> None:
    if episodes.features.shape[1:] != (env.n_arms, env.dim) or episodes.noise.shape[1:] != (
        env.horizon,
    ):
        raise bad_value(
            "episodes",
            f"features {episodes.features.shape}, noise {episodes.noise.shape}",
            f"episodes of this bandit: features (n, {env.n_arms}, {env.dim}), "
            f"noise (n, {env.horizon})",
            "Draw them with env.draw(n, rng).",
        )
    if not isinstance(chunk, int | np.integer) or chunk < 1:
        raise bad_value("chunk", chunk, "an integer >= 1")


def run(
    env: ExplodingBandit,
    episodes: Episodes,
    guards: Sequence[BanditGuard],
    *,
    policy: Policy = "boltzmann",
    chunk: int = 1000,
) -> list[Outcome]:
    """Play the same ``episodes`` under each guard.

    Parameters
    ----------
    env : ExplodingBandit
    episodes : Episodes
        From ``env.draw``; every guard replays them (common random numbers).
    guards : sequence of BanditGuard
        See :func:`make_guard`; ``BanditGuard("none")`` rejects nothing.
    policy : {"boltzmann", "uniform"}
        The agent: Boltzmann over posterior-mean rewards, or uniform over the allowed arms.
    chunk : int
        Episodes processed at once (memory grows as ``chunk * n_arms * 2**dim``).

    Returns
    -------
    list of Outcome
        One per guard, in order.

    References
    ----------
    .. [1] Bengio et al., "Can a Bayesian Oracle Prevent Harm from an Agent?", UAI 2025, §5.
    """
    _check(env, episodes, chunk)
    if policy not in ("boltzmann", "uniform"):
        raise bad_value("policy", policy, "'boltzmann' or 'uniform'")
    guards = list(guards)
    for g in guards:
        if not isinstance(g, BanditGuard):
            raise bad_value("guards", g, "a sequence of BanditGuard", "Build them with make_guard.")
    parts: list[list[Outcome]] = [[] for _ in guards]
    for s in range(0, episodes.n, chunk):
        world = _World.build(env, episodes.take(slice(s, s + chunk)))
        for g, part in zip(guards, parts, strict=True):
            part.append(_play(env, world, g, policy))
    return [_concat(part) for part in parts]


def _concat(parts: list[Outcome]) -> Outcome:
    if not parts:
        z = np.zeros(0)
        return Outcome(z, z.astype(bool), z.astype(np.int64), z.astype(bool), z)
    return Outcome(*(np.concatenate(x) for x in zip(*parts, strict=True)))


class _World(NamedTuple):
    """A chunk of episodes with what every guard needs, computed once."""

    ep: Episodes
    mu: NDArray[np.int8]  # (n, A, K): f_a . v
    harm: NDArray[np.float32]  # (n, A, K)
    true_mu: NDArray[np.float64]  # (n, A)
    true_harm: NDArray[np.float64]  # (n, A)
    features: NDArray[np.float64]  # (n, A, dim)

    @classmethod
    def build(cls, env: ExplodingBandit, ep: Episodes) -> _World:
        mu = env.means(ep)
        table = env.harm_of_mean(np.arange(env.dim + 1)).astype(np.float32)
        true_mu = np.take_along_axis(mu, ep.truth[:, None, None], axis=-1)[..., 0].astype(
            np.float64
        )
        features = ep.features.astype(np.float64)
        return cls(ep, mu, table[mu], true_mu, env.harm_of_mean(true_mu), features)


def _play(env: ExplodingBandit, world: _World, guard: BanditGuard, policy: Policy) -> Outcome:
    ep = world.ep
    n, k = ep.n, env.n_theories
    theories = env.theories.astype(np.float64)
    uses_harm = guard.estimate is not None and not guard.oracle

    reward = np.zeros(n)
    died = np.zeros(n, dtype=bool)
    stopped = np.zeros(n, dtype=bool)
    steps = np.zeros(n, dtype=np.int64)
    worst = np.zeros(n)

    rows = np.arange(n)  # episodes held in the working arrays below
    live = np.ones(n, dtype=bool)  # which of them are still running
    log_post = np.zeros((n, k))
    mu, harm, feat = world.mu, world.harm, world.features
    true_mu, true_harm = world.true_mu, world.true_harm
    for t in range(env.horizon):
        if not live.any():
            break
        if live.sum() < 0.9 * live.size:  # drop finished episodes from the working arrays
            rows, log_post, mu, feat = rows[live], log_post[live], mu[live], feat[live]
            true_mu, true_harm = true_mu[live], true_harm[live]
            harm = harm[live] if uses_harm else harm
            live = np.ones(rows.size, dtype=bool)
        m = rows.size

        if guard.oracle:
            allowed = true_harm <= guard.limit
        elif guard.estimate is not None:
            allowed = np.asarray(guard.estimate(log_post[:, None, :], harm)) <= guard.limit
        else:
            allowed = np.ones((m, env.n_arms), dtype=bool)

        if policy == "boltzmann":
            # Theories below e^-700 of the most probable cannot move E[v | D] in float64;
            # flooring them avoids the slow underflow and subnormal paths of exp and matmul.
            post = np.exp(np.maximum(log_post, -700.0))
            mean_v = (post @ theories) / post.sum(axis=-1, keepdims=True)
            score = env.beta * np.einsum("mad,md->ma", feat, mean_v)
            weight = np.exp(score - score.max(axis=-1, keepdims=True)) * allowed
        else:
            weight = allowed.astype(np.float64)
        total = weight.sum(axis=-1)
        blocked = total == 0
        cdf = np.cumsum(weight, axis=-1) / np.where(blocked, 1.0, total)[:, None]
        arm = np.argmax(cdf > ep.uniform[rows, t][:, None], axis=-1)
        r = true_mu[np.arange(m), arm] + env.noise_sd * ep.noise[rows, t]

        pulled = live & ~blocked
        boom = pulled & (r > env.explosion)
        reward[rows[pulled]] += r[pulled]
        steps[rows[pulled]] += 1
        pulled_harm = true_harm[np.arange(m), arm]
        worst[rows[pulled]] = np.maximum(worst[rows[pulled]], pulled_harm[pulled])
        died[rows[boom]] = True
        stopped[rows[live & blocked]] = True
        live = pulled & ~boom

        _update(log_post, mu[np.arange(m), arm], r, env.noise_sd)
    return Outcome(reward, died, steps, stopped, worst)


def _update(
    log_post: NDArray[np.float64], mean: NDArray[np.int8], r: NDArray[np.float64], sd: float
) -> None:
    """Bayes' rule in place: add ``log N(r | mean_k, sd^2)`` (up to a constant), re-centre."""
    sq = np.subtract(r[:, None], mean, dtype=np.float64)
    np.square(sq, out=sq)
    sq *= 0.5 / sd**2
    log_post -= sq
    log_post -= log_post.max(axis=-1, keepdims=True)


def tightness(
    env: ExplodingBandit,
    episodes: Episodes,
    alphas: Sequence[float],
    *,
    ties: bounds.Ties = "group",
    chunk: int = 1000,
) -> Tightness:
    """How often Prop 4.5 is at least the true harm, for a uniformly random agent.

    Nothing explodes; at every step the Prop 4.5 estimate of every arm's harm is compared with
    the harm under the true theory, then a uniformly random arm is pulled and the posterior
    updated.

    Parameters
    ----------
    env : ExplodingBandit
    episodes : Episodes
        From ``env.draw``.
    alphas : sequence of float
        The ``alpha`` values of Prop 4.5 to check (all on the same episodes).
    ties : {"group", "index"}
        Tie rule of the plausible set, see :func:`scientist.guard.bounds.plausible_set`.
    chunk : int
        Episodes processed at once.

    Returns
    -------
    Tightness

    References
    ----------
    .. [1] Bengio et al., "Can a Bayesian Oracle Prevent Harm from an Agent?", UAI 2025, §5
       (Prop 4.5 and its guarantee ``1 - alpha / P(v*)``).
    """
    _check(env, episodes, chunk)
    alphas = [float(a) for a in alphas]
    bounds.plausible_set(np.zeros(1), alphas, ties=ties)  # validates alphas and ties
    rates, alls = [], []
    for s in range(0, episodes.n, chunk):
        ep = episodes.take(slice(s, s + chunk))
        n = ep.n
        mu = env.means(ep)
        harm = env.harm_of_mean(np.arange(env.dim + 1)).astype(np.float32)[mu]
        true_harm = np.take_along_axis(harm, ep.truth[:, None, None], axis=-1)[..., 0]
        true_mu = np.take_along_axis(mu, ep.truth[:, None, None], axis=-1)[..., 0]
        over = np.zeros((n, len(alphas)), dtype=np.int64)
        log_post = np.zeros((n, env.n_theories))
        for t in range(env.horizon):
            # Prop 4.5 for every alpha: the plausible sets share one sort of the posterior.
            sets = bounds.plausible_set(log_post, alphas, ties=ties).astype(np.float32)
            for j in range(len(alphas)):
                est = (harm * sets[j][:, None, :]).max(axis=-1)
                over[:, j] += (est >= true_harm).sum(axis=-1)
            arm = np.minimum((ep.uniform[:, t] * env.n_arms).astype(np.intp), env.n_arms - 1)
            r = true_mu[np.arange(n), arm] + env.noise_sd * ep.noise[:, t]
            _update(log_post, mu[np.arange(n), arm], r, env.noise_sd)
        queries = env.horizon * env.n_arms
        rates.append(over / queries)
        alls.append(over == queries)
    if not rates:
        z = np.zeros((0, len(alphas)))
        return Tightness(z, z.astype(bool))
    return Tightness(np.concatenate(rates), np.concatenate(alls))
