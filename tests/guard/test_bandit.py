"""The exploding bandit: exact against a slow reference, and statistically against its model."""

import numpy as np
import pytest
from scipy.stats import norm

from scientist.errors import InputError
from scientist.guard.bandit import (
    BanditGuard,
    Episodes,
    ExplodingBandit,
    explosion_threshold,
    make_guard,
    run,
    tightness,
)

ENV = ExplodingBandit()


def test_theories_and_harm_model():
    v = ENV.theories
    assert v.shape == (1024, 10) and len({tuple(r) for r in v}) == 1024
    assert v[0].sum() == 0 and v[1023].sum() == 10 and v[5].tolist()[:3] == [1, 0, 1]
    np.testing.assert_allclose(ENV.harm_of_mean([4, 3, 0]), [0.5, norm.sf(1), norm.sf(4)])


def test_explosion_threshold_is_four():
    assert explosion_threshold(ENV, np.random.default_rng(0), n=20_000) == 4.0


def test_draw_is_reproducible_and_shaped():
    a = ENV.draw(50, np.random.default_rng(3))
    b = ENV.draw(50, np.random.default_rng(3))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert a.features.shape == (50, 10, 10) and a.noise.shape == (50, 25)
    assert ((a.uniform >= 0) & (a.uniform < 1)).all() and a.truth.max() < 1024
    assert (ENV.draw(5, np.random.default_rng(0), p_one=1.0).truth == 1023).all()
    assert (ENV.draw(5, np.random.default_rng(0), p_one=0.0).truth == 0).all()


def reference(env: ExplodingBandit, ep: Episodes, guard: BanditGuard, policy: str):
    """One episode at a time, with Bayes' rule written out (scipy's normal log-density)."""
    v = env.theories.astype(float)
    table = env.harm_of_mean(np.arange(env.dim + 1)).astype(np.float32)
    rows = []
    for b in range(ep.n):
        f = ep.features[b].astype(float)
        mu = f @ v.T  # (A, K)
        harm = table[mu.astype(int)]
        truth = ep.truth[b]
        log_post = np.zeros(env.n_theories)
        reward, died, steps, stopped, worst = 0.0, False, 0, False, 0.0
        for t in range(env.horizon):
            if guard.oracle:
                allowed = harm[:, truth] <= guard.limit
            elif guard.estimate is not None:
                est = guard.estimate(log_post[None, None, :], harm[None])[0]
                allowed = est <= guard.limit
            else:
                allowed = np.ones(env.n_arms, dtype=bool)
            if policy == "boltzmann":
                post = np.exp(log_post - log_post.max())
                post /= post.sum()
                score = env.beta * f @ (post @ v)
                w = np.exp(score - score.max()) * allowed
            else:
                w = allowed.astype(float)
            if w.sum() == 0:
                stopped = True
                break
            cdf = np.cumsum(w) / w.sum()
            arm = int(np.argmax(cdf > ep.uniform[b, t]))
            r = mu[arm, truth] + env.noise_sd * ep.noise[b, t]
            reward += r
            steps += 1
            worst = max(worst, float(env.harm_of_mean(mu[arm, truth])))
            if r > env.explosion:
                died = True
                break
            log_post = log_post + norm.logpdf(r, mu[arm], env.noise_sd)
        rows.append((reward, died, steps, stopped, worst))
    return [np.array(c) for c in zip(*rows, strict=True)]


@pytest.mark.parametrize(
    ("name", "c", "alpha", "policy"),
    [
        ("none", None, None, "boltzmann"),
        ("cheating", 0.1, None, "boltzmann"),
        ("prop45", 0.1, 0.01, "boltzmann"),
        ("prop45-index", 0.1, 0.07, "boltzmann"),  # not 1/j: no knife-edge ties
        ("tail", 0.1, 0.05, "boltzmann"),
        ("posterior", 0.1, None, "uniform"),
        ("prop33", 0.01, None, "uniform"),
    ],
)
def test_vectorised_run_matches_the_reference(name, c, alpha, policy):
    ep = ENV.draw(24, np.random.default_rng(11))
    guard = make_guard(name, c, alpha)
    got = run(ENV, ep, [guard], policy=policy, chunk=7)[0]  # chunks and compaction
    want = reference(ENV, ep, guard, policy)
    np.testing.assert_allclose(got.reward, want[0], rtol=1e-9, atol=1e-9)
    for field, w in zip(("died", "steps", "stopped"), want[1:4], strict=True):
        np.testing.assert_array_equal(getattr(got, field), w, err_msg=field)
    np.testing.assert_allclose(got.worst, want[4])


def test_common_random_numbers_and_chunking():
    ep = ENV.draw(60, np.random.default_rng(5))
    guards = [make_guard("prop45", 0.1, 1e-3), make_guard("tail", 0.1, 1e-3)]
    a = run(ENV, ep, guards, chunk=1000)
    b = run(ENV, ep, guards[::-1], chunk=13)[::-1]
    for x, y in zip(a, b, strict=True):
        for u, w in zip(x, y, strict=True):
            np.testing.assert_array_equal(u, w)


def test_rejecting_every_arm_ends_the_episode_without_death():
    ep = ENV.draw(20, np.random.default_rng(0))
    o = run(ENV, ep, [BanditGuard("block all", lambda lp, h: np.ones(h.shape[:-1]), limit=0.5)])[0]
    assert o.stopped.all() and not o.died.any() and (o.steps == 0).all() and (o.reward == 0).all()


def test_cheating_guard_never_pulls_a_harmful_arm():
    ep = ENV.draw(300, np.random.default_rng(1))
    o = run(ENV, ep, [make_guard("cheating", 0.01)])[0]
    assert (o.worst <= 0.01).all()
    assert o.steps.sum() > 1000  # it did play


def test_first_pull_explodes_at_the_model_rate():
    """Horizon 1, uniform agent: deaths ~ Bernoulli(harm of the pulled arm under v*)."""
    env = ExplodingBandit(horizon=1)
    ep = env.draw(20_000, np.random.default_rng(2))
    o = run(env, ep, [BanditGuard("none")], policy="uniform")[0]
    arm = np.minimum((ep.uniform[:, 0] * env.n_arms).astype(int), env.n_arms - 1)
    mean = (ep.features[np.arange(ep.n), arm] * env.theories[ep.truth]).sum(-1)
    p = env.harm_of_mean(mean)
    se = np.sqrt((p * (1 - p)).sum()) / ep.n
    assert abs(o.died.mean() - p.mean()) < 4 * se  # false failure ~ 6e-5
    se_r = np.sqrt(ep.n) / ep.n  # reward noise sd 1 around the known means
    assert abs(o.reward.mean() - mean.mean()) < 4 * se_r


def test_tightness_keeps_the_guarantee_of_prop45():
    """P(estimate >= true harm at every query of an episode) >= 1 - alpha * 1024."""
    ep = ENV.draw(300, np.random.default_rng(4))
    alphas = [3e-5, 1e-4, 3e-4]
    res = tightness(ENV, ep, alphas)
    assert res.query_rate.shape == (300, 3) and res.all_steps.dtype == bool
    for j, a in enumerate(alphas):
        rate = res.all_steps[:, j].mean()
        se = np.sqrt(max(rate * (1 - rate), 1 / 300) / 300)
        assert rate >= 1 - a * 1024 - 3 * se, (a, rate)
    # smaller alpha, larger plausible set: coverage is monotone, episode by episode
    assert (np.diff(res.query_rate, axis=1) <= 0).all()


def test_bad_input():
    ep = ENV.draw(3, np.random.default_rng(0))
    with pytest.raises(InputError, match="name="):
        make_guard("prop99", 0.1)
    with pytest.raises(InputError, match="limit="):
        make_guard("prop45", None, 0.1)
    with pytest.raises(InputError, match="alpha="):
        make_guard("prop45", 0.1)
    with pytest.raises(InputError, match="alpha="):
        make_guard("tail", 0.1, 2.0)
    with pytest.raises(InputError, match="episodes="):
        run(ExplodingBandit(n_arms=5), ep, [BanditGuard("none")])
    with pytest.raises(InputError, match="policy="):
        run(ENV, ep, [BanditGuard("none")], policy="greedy")
    with pytest.raises(InputError, match="chunk="):
        run(ENV, ep, [BanditGuard("none")], chunk=0)
    with pytest.raises(InputError, match="guards="):
        run(ENV, ep, ["prop45"])
    with pytest.raises(InputError, match="dim="):
        ExplodingBandit(dim=20)
    with pytest.raises(InputError, match="p_one="):
        ENV.draw(3, np.random.default_rng(0), p_one=1.5)
    with pytest.raises(InputError, match="rng="):
        ENV.draw(3, 0)
