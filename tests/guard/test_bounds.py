"""The harm bounds against hand-computed cases, ties included."""

import itertools

import numpy as np
import pytest

from scientist.errors import InputError
from scientist.guard import (
    credible_bound,
    plausible_set,
    posterior_predictive,
    prop33,
    prop43,
    prop45,
    tail_mass,
)

LP3 = np.log([0.5, 0.3, 0.2])
H3 = np.array([0.1, 0.5, 0.9])


# -- posterior predictive ---------------------------------------------------------------------


def test_posterior_predictive_hand_case():
    b = posterior_predictive(LP3, H3)
    assert b.value == pytest.approx(0.5 * 0.1 + 0.3 * 0.5 + 0.2 * 0.9)
    assert b.theory == 2  # contributions 0.05, 0.15, 0.18


def test_log_post_may_be_unnormalised():
    for fn in (posterior_predictive, prop33):
        a, b = fn(LP3, H3), fn(LP3 + 123.4, H3)
        assert a.value == pytest.approx(b.value) and a.theory == b.theory
    a, b = prop45(LP3, H3, 0.3), prop45(LP3 - 50.0, H3, 0.3)
    assert a.value == b.value and (a.mask == b.mask).all()


def test_zero_posterior_theory_is_ignored():
    lp = np.array([0.0, 0.0, -np.inf])
    h = np.array([0.2, 0.4, 1.0])
    assert posterior_predictive(lp, h).value == pytest.approx(0.3)
    assert prop33(lp, h).value == 0.4
    assert prop45(lp, h, 1e-9).value == 0.4
    assert credible_bound(lp, h, 0.0).value == 0.4


# -- Prop 3.3 ----------------------------------------------------------------------------------


def test_prop33_hand_case():
    b = prop33(LP3, H3)
    assert b.value == 0.9 and b.theory == 2  # products 0.05, 0.15, 0.18


def test_prop33_tie_takes_the_largest_harm():
    # P = (2/3, 1/3) exactly doubles; harm (0.25, 0.5): both products are 1/6, bit for bit.
    lp = np.array([np.log(2.0), 0.0])
    h = np.array([0.25, 0.5])
    b = prop33(lp, h)
    assert b.value == 0.5 and b.theory == 1
    # tied posteriors and tied harms: the lowest index is named
    b = prop33(np.zeros(4), np.array([0.2, 0.6, 0.6, 0.1]))
    assert b.value == 0.6 and b.theory == 1


def test_prop33_all_products_zero_ignores_impossible_theories():
    # every possible theory is harmless; the harmful one has zero posterior
    b = prop33(np.array([0.0, 0.0, -np.inf]), np.array([0.0, 0.0, 1.0]))
    assert b.value == 0.0 and b.theory == 0


# -- Prop 4.3 ----------------------------------------------------------------------------------


def test_prop43_hand_case_and_cap():
    lp = np.log([0.5, 0.5])
    b = prop43(lp, [0.02, 0.01], delta=0.5, prior_true=0.25)
    assert b.value == pytest.approx(0.01 / 0.125) and b.theory == 0
    assert prop43(LP3, H3, delta=0.5, prior_true=0.2).value == 1.0  # 0.18 / 0.1 capped
    # prior_true broadcasts against the queries
    b = prop43(lp, [[0.02, 0.01], [0.0, 0.04]], delta=1.0, prior_true=[0.5, 0.25])
    np.testing.assert_allclose(b.value, [0.02, 0.08])


# -- Prop 4.5 and the plausible set ------------------------------------------------------------


def test_prop45_hand_case():
    # sorted 0.5, 0.3, 0.2; cumulative 0.5, 0.8, 1.0
    b = prop45(LP3, H3, 0.3)  # 0.3 >= 0.24 in, 0.2 < 0.3 out
    assert b.mask.tolist() == [True, True, False]
    assert b.value == 0.5 and b.theory == 1
    assert prop45(LP3, H3, 0.1).value == 0.9  # 0.2 >= 0.1: all in
    assert prop45(LP3, H3, 1.0).mask.tolist() == [True, False, False]


def test_prop45_tied_group_enters_as_a_whole():
    # posteriors 0.4, 0.2, 0.2, 0.1, 0.1; the 0.2 group: its first member passes at alpha
    # <= 0.2 / 0.6, its second at alpha <= 0.2 / 0.8. At alpha = 0.3 the group rule takes both,
    # a tie-break by index takes only theory 1.
    lp = np.log([4.0, 2.0, 2.0, 1.0, 1.0])
    h = np.array([0.1, 0.2, 0.7, 0.9, 0.9])
    g = prop45(lp, h, 0.3)
    assert g.mask.tolist() == [True, True, True, False, False]
    assert g.value == 0.7 and g.theory == 2
    i = prop45(lp, h, 0.3, ties="index")
    assert i.mask.tolist() == [True, True, False, False, False]
    assert i.value == 0.2
    # the 0.1 group: first member passes at alpha <= 0.1 / 0.9
    assert plausible_set(lp, 0.11).tolist() == [True, True, True, True, True]
    assert plausible_set(lp, 0.12).tolist() == [True, True, True, False, False]
    # by index theory 3 passes (0.1 >= 0.11 * 0.9) and theory 4 does not (0.1 < 0.11 * 1.0)
    assert plausible_set(lp, 0.11, ties="index").tolist() == [True, True, True, True, False]


def test_uniform_posterior_under_both_tie_rules():
    lp = np.zeros(8)
    for alpha in (1.0, 0.5, 0.1, 1e-5):
        assert plausible_set(lp, alpha).all()  # one tied group: always whole
    # by index: keep theory n while 1/8 >= alpha * n / 8, i.e. n <= 1 / alpha
    assert plausible_set(lp, 1.0, ties="index").tolist() == [True] + [False] * 7
    assert plausible_set(lp, 0.3, ties="index").tolist() == [True] * 3 + [False] * 5


def test_group_rule_is_the_union_over_tie_orders():
    """Brute force: the group rule equals the union of the theory-by-theory rule over every
    order of the tied theories, and does not depend on how theories are numbered."""
    rng = np.random.default_rng(0)
    for _ in range(40):
        weights = rng.integers(1, 4, size=6).astype(float)
        p = weights / weights.sum()
        lp = np.log(weights)
        alpha = float(rng.choice([0.05, 0.1, 0.2, 0.3, 0.5]))
        union = np.zeros(6, dtype=bool)
        for perm in itertools.permutations(range(6)):
            order = sorted(perm, key=lambda k: -p[k])  # stable: perm breaks the ties
            cum = 0.0
            for k in order:
                cum += p[k]
                if p[k] < alpha * cum:
                    break
                union[k] = True
        got = plausible_set(lp, alpha)
        assert got.tolist() == union.tolist(), (weights, alpha)
        perm = rng.permutation(6)
        assert plausible_set(lp[perm], alpha).tolist() == got[perm].tolist()


def test_plausible_set_holds_every_theory_above_alpha():
    rng = np.random.default_rng(1)
    lp = rng.normal(size=(50, 30)) * 3
    p = np.exp(lp) / np.exp(lp).sum(-1, keepdims=True)
    for alpha in (1e-3, 1e-2, 0.1, 0.5):
        for ties in ("group", "index"):
            m = plausible_set(lp, alpha, ties=ties)
            assert m[p >= alpha].all()
            assert m.any(axis=-1).all()


def test_prop45_index_names_a_theory_of_the_set_when_all_harmless():
    lp = np.log([0.5, 0.3, 0.2])
    b = prop45(lp, [0.0, 0.0, 0.8], 0.5)  # set {0, 1}: both harmless
    assert b.value == 0.0 and b.theory == 0 and b.mask[b.theory]


# -- batches -----------------------------------------------------------------------------------


def test_batches_match_one_query_at_a_time():
    rng = np.random.default_rng(2)
    k = 12
    lp = np.log(rng.integers(1, 4, size=(3, 1, k)).astype(float))  # with ties
    h = rng.random((3, 4, k))
    results = {
        "pp": posterior_predictive(lp, h),
        "p33": prop33(lp, h),
        "p45": prop45(lp, h, 0.05),
        "p43": prop43(lp, h, 0.1, 0.01),
        "cb": credible_bound(lp, h, 0.1),
    }
    for b, a in itertools.product(range(3), range(4)):
        one = {
            "pp": posterior_predictive(lp[b, 0], h[b, a]),
            "p33": prop33(lp[b, 0], h[b, a]),
            "p45": prop45(lp[b, 0], h[b, a], 0.05),
            "p43": prop43(lp[b, 0], h[b, a], 0.1, 0.01),
            "cb": credible_bound(lp[b, 0], h[b, a], 0.1),
        }
        for name, r in results.items():
            assert r.value.shape == (3, 4) and r.theory.shape == (3, 4)
            assert r.value[b, a] == pytest.approx(one[name].value, rel=1e-12), name
            assert r.theory[b, a] == one[name].theory, name
    assert results["p45"].mask.shape == (3, 1, k)
    # one posterior shared by every query
    shared = prop45(lp[0, 0], h, 0.05)
    assert shared.value.shape == (3, 4) and shared.mask.shape == (k,)


def test_float32_harm_is_kept_and_close():
    rng = np.random.default_rng(3)
    lp, h = rng.normal(size=(5, 1, 40)), rng.random((5, 6, 40))
    for fn in (posterior_predictive, prop33):
        a, b = fn(lp, h), fn(lp, h.astype(np.float32))
        assert b.value.dtype == np.float32
        np.testing.assert_allclose(a.value, b.value, rtol=1e-5)
    a, b = prop45(lp, h, 0.01), prop45(lp, h.astype(np.float32), 0.01)
    assert b.value.dtype == np.float32 and (a.theory == b.theory).all()


# -- tail mass and the credible bound ----------------------------------------------------------


def test_tail_mass_and_credible_bound_hand_case():
    # harms sorted down: 0.9 (mass 0.2), 0.5 (0.3), 0.1 (0.5)
    t = tail_mass(LP3, H3, 0.4)
    assert t.value == pytest.approx(0.5) and t.mask.tolist() == [False, True, True]
    assert credible_bound(LP3, H3, 0.1).value == 0.9  # mass above 0.9 is 0, above 0.5 is 0.2
    assert credible_bound(LP3, H3, 0.25).value == 0.5
    assert credible_bound(LP3, H3, 0.6).value == 0.1
    assert credible_bound(LP3, H3, 0.0).value == 0.9
    b = credible_bound(np.zeros(4), [0.3, 0.7, 0.7, 0.1], 0.3)  # tied harms: mass 0.5 above 0.3
    assert b.value == 0.7 and b.theory == 1


def test_tail_guard_and_credible_bound_agree():
    """Blocking when the tail mass above C exceeds q is blocking when the bound exceeds C."""
    rng = np.random.default_rng(4)
    lp = rng.normal(size=(200, 1, 25)) * 2
    h = np.round(rng.random((200, 3, 25)), 2)  # many tied harms
    for q in (0.01, 0.1, 0.3):
        for c in (0.105, 0.505, 0.905):  # off the grid of harms: no boundary ties
            tail = tail_mass(lp, h, c).value
            keep = np.abs(tail - q) > 1e-9
            assert ((credible_bound(lp, h, q).value > c) == (tail > q))[keep].all()


def test_credible_bound_brackets_the_predictive_and_the_max():
    rng = np.random.default_rng(5)
    lp, h = rng.normal(size=(100, 20)) * 2, rng.random((100, 20))
    assert (credible_bound(lp, h, 0.0).value == h.max(-1)).all()
    assert (prop45(lp, h, 1e-12).value == h.max(-1)).all()
    # harm <= 1 on the tail (mass <= q) and <= Q elsewhere, so the mean is at most q + Q
    pp = posterior_predictive(lp, h).value
    q = 0.2
    assert (pp <= q + credible_bound(lp, h, q).value + 1e-12).all()


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: prop33([0.0, np.nan], [0.1, 0.2]), "log_post"),
        (lambda: prop33([0.0, np.inf], [0.1, 0.2]), "log_post"),
        (lambda: prop33([-np.inf, -np.inf], [0.1, 0.2]), "log_post"),
        (lambda: prop33(np.zeros((2, 0)), np.zeros((2, 0))), "log_post.shape"),
        (lambda: prop33(0.0, 0.1), "log_post.shape"),
        (lambda: prop33(["a", "b"], [0.1, 0.2]), "log_post"),
        (lambda: prop33([0.0, 0.0], [0.1, 1.5]), "harm"),
        (lambda: prop33([0.0, 0.0], [-0.1, 0.5]), "harm"),
        (lambda: prop33([0.0, 0.0], [np.nan, 0.5]), "harm"),
        (lambda: prop33([0.0, 0.0], [0.1, 0.2, 0.3]), "harm.shape"),
        (lambda: prop33(np.zeros((3, 2)), np.zeros((4, 2))), "log_post.shape"),
        (lambda: prop45([0.0, 0.0], [0.1, 0.2], 0.0), "alpha"),
        (lambda: prop45([0.0, 0.0], [0.1, 0.2], 1.5), "alpha"),
        (lambda: prop45([0.0, 0.0], [0.1, 0.2], "x"), "alpha"),
        (lambda: prop45([0.0, 0.0], [0.1, 0.2], 0.1, ties="random"), "ties"),
        (lambda: prop43([0.0, 0.0], [0.1, 0.2], 0.0, 0.5), "delta"),
        (lambda: prop43([0.0, 0.0], [0.1, 0.2], 0.1, 0.0), "prior_true"),
        (lambda: credible_bound([0.0, 0.0], [0.1, 0.2], 1.0), "q"),
        (lambda: tail_mass([0.0, 0.0], [0.1, 0.2], float("nan")), "threshold"),
    ],
)
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(InputError) as info:
        call()
    message = str(info.value)
    assert message.startswith(f"{name}=") or message.startswith(f"{name} "), message
    assert isinstance(info.value, ValueError)


def test_broadcast_error_says_how_to_fix():
    with pytest.raises(InputError, match=r"log_post\[:, None, :\]"):
        prop45(np.zeros((3, 5)), np.zeros((3, 4, 5)), 0.1)


def test_several_alphas_share_one_sort():
    rng = np.random.default_rng(6)
    lp = np.log(rng.integers(1, 5, size=(4, 3, 16)).astype(float))  # with ties
    alphas = [1e-3, 0.05, 0.2, 1.0]
    for ties in ("group", "index"):
        many = plausible_set(lp, alphas, ties=ties)
        assert many.shape == (4, 4, 3, 16)
        for j, a in enumerate(alphas):
            assert (many[j] == plausible_set(lp, a, ties=ties)).all()
    # prop45 is the largest harm over the set
    h = rng.random((4, 3, 16))
    for a in alphas:
        b = prop45(lp, h, a)
        np.testing.assert_array_equal(b.value, np.where(b.mask, h, -1).max(-1))


def test_masses_never_exceed_one():
    """Float32 sums of many probabilities round above 1; a tail guard with q = 1 must never block."""
    rng = np.random.default_rng(7)
    lp = rng.normal(size=(500, 1, 1024)) * 0.01
    h = np.full((500, 3, 1024), 0.9, dtype=np.float32)
    assert (tail_mass(lp, h, 0.5).value <= 1).all()
    assert (posterior_predictive(lp, np.ones_like(h)).value <= 1).all()


def test_guard_rules_are_the_four_bounds():
    """The guard's one-pass version gives exactly what the four public functions give."""
    from scientist.guard.bounds import guard_rules

    rng = np.random.default_rng(0)
    lp = np.log(rng.dirichlet(np.ones(50)))
    lp[[3, 7]] = lp[5]  # a tied group
    lp[9] = -np.inf
    for harm in (rng.random(50), rng.random((4, 50)), np.zeros(50), np.round(rng.random(50), 1)):
        pp, p33, p45, cred = guard_rules(lp, harm, 0.05, 0.1)
        for got, want in (
            (pp, posterior_predictive(lp, harm)),
            (p33, prop33(lp, harm)),
            (p45, prop45(lp, harm, 0.05)),
            (cred, credible_bound(lp, harm, 0.1)),
        ):
            for a, b in zip(got, want, strict=True):
                assert np.array_equal(a, b)
    with pytest.raises(InputError, match="alpha"):
        guard_rules(lp, rng.random(50), 0.0, 0.1)
