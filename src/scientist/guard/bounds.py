"""Cautious bounds on the probability of harm, from a posterior over theories.

Every function here takes per-theory log-posteriors ``log_post[..., K]`` (they may be
unnormalised: each row is normalised) and per-theory harm probabilities
``harm[..., K]`` (``P(harm | theory k, query)``, in ``[0, 1]``), and returns a bound on the harm
probability under the true but unknown theory. They know nothing of causal graphs, so any family
of theories can use them.

Batching: the last axis indexes theories; the leading axes of ``harm`` are independent queries.
The leading axes of ``log_post`` broadcast against them with numpy's rules (aligned on the
right): one posterior for every query is ``log_post`` of shape ``(K,)``; one posterior per row
``b`` of ``harm[b, a, k]`` is ``log_post[:, None, :]``. Results have the broadcast leading shape.

Precision: posteriors are normalised in float64; the products over theories are computed in the
floating dtype of ``harm`` (float64 unless ``harm`` is float32, which is faster on large batches).

The bounds (numbering of the arXiv version, UAI numbering in brackets):

========================  ==================================================================
:func:`posterior_predictive`  ``sum_k P(k | D) harm_k``: the Bayes-optimal estimate, not a bound
:func:`prop33`            Prop 3.4 [3.3], i.i.d. data: harm of ``argmax_k P(k | D) harm_k``
:func:`prop45`            Prop 4.6 [4.5], non-i.i.d. data: max harm over the plausible set
                          ``I^alpha`` (:func:`plausible_set`)
:func:`prop43`            Prop 4.4 [4.3], the weak bound
                          ``max_k P(k | D) harm_k / (delta * P(true))``
:func:`tail_mass`,        beyond the paper: the posterior mass of theories whose harm exceeds a
:func:`credible_bound`    threshold, and the posterior upper ``(1 - q)``-quantile of harm
========================  ==================================================================

Each returns a small NamedTuple with the ``value`` and the theory (``theory``) or theories
(``mask``) that drive it, so that a guard can name them.

References
----------
.. [1] Y. Bengio, M. K. Cohen, N. Malkin, M. MacDermott, D. Fornasiere, P. Greiner and
   Y. Kaddar, "Can a Bayesian Oracle Prevent Harm from an Agent?", UAI 2025, arXiv:2408.05284.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from scientist.errors import InputError, bad_value

__all__ = [
    "Bound",
    "PlausibleBound",
    "TailMass",
    "credible_bound",
    "normalise",
    "plausible_set",
    "posterior_predictive",
    "prop33",
    "prop43",
    "prop45",
    "tail_mass",
]

Ties = Literal["group", "index"]


class Bound(NamedTuple):
    """A harm bound and the theory that attains it.

    Attributes
    ----------
    value : ndarray
        The bound, one per query (the broadcast leading shape of ``log_post`` and ``harm``).
    theory : ndarray of intp
        The theory (its position on the last axis) that drives the bound, one per query.
    """

    value: NDArray[np.floating]
    theory: NDArray[np.intp]


class PlausibleBound(NamedTuple):
    """The Prop 4.5 bound, the theory that attains it and the plausible set it ranges over.

    Attributes
    ----------
    value : ndarray
        ``max_{k in I^alpha} harm_k``, one per query.
    theory : ndarray of intp
        The theory of ``I^alpha`` with the largest harm (the lowest index among equals).
    mask : ndarray of bool
        ``I^alpha``: shape ``log_post.shape`` (it depends on the posterior only).
    """

    value: NDArray[np.floating]
    theory: NDArray[np.intp]
    mask: NDArray[np.bool_]


class TailMass(NamedTuple):
    """The posterior mass of the theories whose harm exceeds a threshold.

    Attributes
    ----------
    value : ndarray
        ``sum_k P(k | D) [harm_k > threshold]``, one per query.
    mask : ndarray of bool
        The tail ``harm > threshold``: shape of ``harm``.
    """

    value: NDArray[np.floating]
    mask: NDArray[np.bool_]


# --------------------------------------------------------------------------------------------
# validation


def _log_post(log_post: ArrayLike) -> NDArray[np.float64]:
    try:
        lp = np.asarray(log_post, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"log_post could not be read as an array of floats ({exc}). Pass one log-posterior "
            "per theory on the last axis."
        ) from None
    if lp.ndim == 0 or lp.shape[-1] == 0:
        raise bad_value(
            "log_post.shape",
            lp.shape,
            "at least one axis, with one entry per theory on the last (K >= 1)",
            "Pass log_post of shape (..., K).",
        )
    if np.isnan(lp).any() or np.isposinf(lp).any():
        bad = lp[np.isnan(lp) | np.isposinf(lp)].flat[0]
        raise bad_value(
            "log_post",
            f"an array containing {bad}",
            "finite log-posteriors, or -inf for a theory with zero posterior",
            "Check the scores that produced it.",
        )
    if lp.size and np.isneginf(lp).all(axis=-1).any():
        raise bad_value(
            "log_post",
            "a row where every entry is -inf",
            "at least one theory with positive posterior in every row",
            "The data rule out every theory: widen the family of theories.",
        )
    return lp


def _harm(harm: ArrayLike, k: int) -> NDArray[np.floating]:
    try:
        h = np.asarray(harm)
        if not np.issubdtype(h.dtype, np.floating):
            h = h.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"harm could not be read as an array of probabilities ({exc}). Pass one harm "
            "probability per theory on the last axis."
        ) from None
    if h.ndim == 0 or h.shape[-1] != k:
        raise bad_value(
            "harm.shape",
            h.shape,
            f"one harm probability per theory on the last axis, like log_post (K = {k})",
            "Put theories on the last axis of harm.",
        )
    if h.size:
        lo, hi = h.min(), h.max()
        if not (lo >= 0.0 and hi <= 1.0):  # also catches NaN
            bad = lo if not lo >= 0.0 else hi
            raise bad_value(
                "harm",
                f"an array containing {bad}",
                "probabilities in [0, 1]",
                "Pass P(harm | theory, query), not a log-probability or a score.",
            )
    return h


def _check_broadcast(lp: NDArray[np.float64], h: NDArray[np.floating]) -> None:
    try:
        np.broadcast_shapes(lp.shape[:-1], h.shape[:-1])
    except ValueError:
        raise bad_value(
            "log_post.shape",
            lp.shape,
            f"leading axes that broadcast against those of harm.shape = {h.shape}",
            "For one posterior per row b of harm[b, a, k], pass log_post[:, None, :].",
        ) from None


def _unit(name: str, value: float, *, low_open: bool = True) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise bad_value(name, value, "a real number in (0, 1]") from None
    ok = (0.0 < v <= 1.0) if low_open else (0.0 <= v < 1.0)
    if not ok:
        expected = "a number in (0, 1]" if low_open else "a number in [0, 1)"
        raise bad_value(name, value, expected)
    return v


def _inputs(
    log_post: ArrayLike, harm: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.floating], NDArray[np.floating]]:
    """Validate; return the normalised posterior (float64), harm, and the posterior in harm's dtype."""
    lp = _log_post(log_post)
    h = _harm(harm, lp.shape[-1])
    _check_broadcast(lp, h)
    p = _normalise(lp)
    return p, h, p.astype(h.dtype, copy=False)


def _normalise(lp: NDArray[np.float64]) -> NDArray[np.float64]:
    p = np.exp(lp - lp.max(axis=-1, keepdims=True))  # rows are checked to have a finite max
    p /= p.sum(axis=-1, keepdims=True)
    return p


def normalise(log_post: ArrayLike) -> NDArray[np.float64]:
    """The normalised posterior ``P(k | D)`` of each row of (possibly unnormalised) ``log_post``.

    Parameters
    ----------
    log_post : array_like, shape (..., K)
        Log-posteriors up to a constant per row; ``-inf`` for a theory ruled out.

    Returns
    -------
    ndarray of float64, shape (..., K)
        Probabilities summing to one along the last axis.

    References
    ----------
    .. [1] Bengio et al., "Can a Bayesian Oracle Prevent Harm from an Agent?", UAI 2025.
    """
    return _normalise(_log_post(log_post))


def _take(a: NDArray, index: NDArray[np.intp]) -> NDArray:
    return np.take_along_axis(a, index[..., None], axis=-1)[..., 0]


# --------------------------------------------------------------------------------------------
# the bounds


def posterior_predictive(log_post: ArrayLike, harm: ArrayLike) -> Bound:
    """The posterior predictive probability of harm, ``sum_k P(k | D) harm_k``.

    The Bayes-optimal estimate when the prior is right; it is not a bound on the harm under the
    true theory, which is what the other functions of this module give.

    Parameters
    ----------
    log_post : array_like, shape (..., K)
        Log-posteriors of the theories, up to a constant per row.
    harm : array_like, shape (..., K)
        ``P(harm | theory k, query)`` for each query (leading axes) and theory.

    Returns
    -------
    Bound
        ``value``: the estimate per query; ``theory``: the theory with the largest contribution
        ``P(k | D) harm_k`` (the lowest index among equals).

    References
    ----------
    .. [1] Bengio et al., "Can a Bayesian Oracle Prevent Harm from an Agent?", UAI 2025
       (arXiv:2408.05284), the posterior predictive guardrail of section 5.
    """
    _, h, p = _inputs(log_post, harm)
    return _posterior_predictive(h, p)


def _posterior_predictive(h: NDArray[np.floating], p: NDArray[np.floating]) -> Bound:
    contrib = h * p
    value = np.minimum(contrib.sum(axis=-1), 1)  # a sum of probabilities can round above 1
    return Bound(np.asarray(value), np.asarray(contrib.argmax(axis=-1)))


def prop33(log_post: ArrayLike, harm: ArrayLike) -> Bound:
    """The i.i.d. bound: the harm of the theory that maximises ``P(k | D) harm_k``.

    Prop 3.4 of the arXiv version (3.3 at UAI): with i.i.d. data, as data accumulate this theory's
    harm upper-bounds the harm under the true theory.

    Ties: among the theories of positive posterior that attain the maximum of
    ``P(k | D) harm_k`` the bound takes the largest harm (the cautious choice), and ``theory`` is
    the lowest index among those. Ties are exact float equalities of the products.

    Parameters
    ----------
    log_post : array_like, shape (..., K)
        Log-posteriors of the theories, up to a constant per row.
    harm : array_like, shape (..., K)
        ``P(harm | theory k, query)``.

    Returns
    -------
    Bound
        ``value``: the harm of the maximiser; ``theory``: the maximiser.

    References
    ----------
    .. [1] Bengio et al., "Can a Bayesian Oracle Prevent Harm from an Agent?", UAI 2025,
       Proposition 3.3 (arXiv:2408.05284, Proposition 3.4).
    """
    _, h, p = _inputs(log_post, harm)
    return _prop33(h, p)


def _prop33(h: NDArray[np.floating], p: NDArray[np.floating]) -> Bound:
    contrib = h * p
    best = contrib.max(axis=-1, keepdims=True)
    tied = (contrib == best) & (p > 0)
    index = np.where(tied, h, -1).argmax(axis=-1)
    return Bound(np.asarray(_take(h, index)), np.asarray(index))


def prop43(log_post: ArrayLike, harm: ArrayLike, delta: float, prior_true: ArrayLike) -> Bound:
    """The weak non-i.i.d. bound ``max_k P(k | D) harm_k / (delta * P(true))``, capped at 1.

    With probability at least ``1 - delta`` the posterior of the true theory stays above
    ``delta`` times its prior, so the harm under the true theory is at most this bound. It needs
    the prior ``P(true)`` of the (unknown) true theory, or a lower bound on it.

    Parameters
    ----------
    log_post : array_like, shape (..., K)
        Log-posteriors of the theories, up to a constant per row.
    harm : array_like, shape (..., K)
        ``P(harm | theory k, query)``.
    delta : float in (0, 1]
        Allowed probability of failure.
    prior_true : float or array_like in (0, 1]
        Prior probability of the true theory (or a lower bound); broadcasts against the queries.

    Returns
    -------
    Bound
        ``value``: the bound, capped at 1; ``theory``: the maximiser of ``P(k | D) harm_k``
        (the lowest index among equals).

    References
    ----------
    .. [1] Bengio et al., "Can a Bayesian Oracle Prevent Harm from an Agent?", UAI 2025,
       Proposition 4.3 (arXiv:2408.05284, Proposition 4.4).
    """
    d = _unit("delta", delta)
    pt = np.asarray(prior_true, dtype=np.float64)
    if pt.size == 0 or not (np.all(pt > 0) and np.all(pt <= 1)):
        raise bad_value(
            "prior_true", prior_true, "prior probabilities in (0, 1]", "Pass P(true theory)."
        )
    _, h, p = _inputs(log_post, harm)
    contrib = h * p
    index = contrib.argmax(axis=-1)
    value = np.minimum(_take(contrib, index) / (d * pt), 1.0).astype(h.dtype, copy=False)
    return Bound(np.asarray(value), np.asarray(index))


def plausible_set(
    log_post: ArrayLike, alpha: float | ArrayLike, *, ties: Ties = "group"
) -> NDArray[np.bool_]:
    """The plausible set ``I^alpha`` of Prop 4.5.

    Sort the theories by decreasing posterior ``i_1, i_2, ...`` and keep ``i_n`` while
    ``P(i_n | D) >= alpha * sum_{m <= n} P(i_m | D)``. Any theory with ``P(k | D) >= alpha`` is
    in it, so it holds the true theory whenever the true theory's posterior has stayed above
    ``alpha``: with probability at least ``1 - alpha / P(true)`` at all times.

    Ties. Theories with equal posterior (exact float equality of the normalised posterior) have
    no order, and cutting a tied group in the middle would make the set depend on how theories
    happen to be numbered. Two rules:

    ``"group"`` (default)
        A tied group enters or leaves as a whole: it enters if its first member would, that is
        if ``p >= alpha * (S + p)`` with ``p`` the group's posterior and ``S`` the mass of all
        theories of larger posterior. The set is the union of ``I^alpha`` over every order of
        the tied theories, so it is at least as cautious as any tie-break, it does not depend on
        the numbering of theories, and it always holds the most probable theories.
    ``"index"``
        Ties are broken by index, lowest first (a stable sort), and the rule is applied theory
        by theory; a tied group can be cut. This reproduces the paper's reference code; use it
        only for comparison.

    Parameters
    ----------
    log_post : array_like, shape (..., K)
        Log-posteriors of the theories, up to a constant per row.
    alpha : float in (0, 1], or 1-d array of them
        Smaller is more cautious (a larger set). Several values share one sort.
    ties : {"group", "index"}
        How equal posteriors are ordered; see above.

    Returns
    -------
    ndarray of bool, shape ``log_post.shape``, or ``(len(alpha),) + log_post.shape``
        Membership of ``I^alpha``; never empty.

    References
    ----------
    .. [1] Bengio et al., "Can a Bayesian Oracle Prevent Harm from an Agent?", UAI 2025,
       Proposition 4.5 (arXiv:2408.05284, Proposition 4.6).
    """
    a = _alphas(alpha)
    _ties(ties)
    return _plausible(normalise(log_post), a, ties)


def _alphas(alpha: float | ArrayLike) -> NDArray[np.float64]:
    try:
        a = np.asarray(alpha, dtype=np.float64)
    except (TypeError, ValueError):
        raise bad_value("alpha", alpha, "a number in (0, 1], or a 1-d array of them") from None
    if a.ndim > 1 or a.size == 0 or not (np.all(a > 0) and np.all(a <= 1)):
        raise bad_value("alpha", alpha, "a number in (0, 1], or a 1-d array of them")
    return a


def _ties(ties: str) -> None:
    if ties not in ("group", "index"):
        raise bad_value("ties", ties, "'group' or 'index'")


def _plausible(p: NDArray[np.float64], a: NDArray[np.float64], ties: str) -> NDArray[np.bool_]:
    k = p.shape[-1]
    if ties == "group":
        p_desc = np.flip(np.sort(p, axis=-1), axis=-1).copy()
    else:
        order = np.argsort(-p, axis=-1, kind="stable")
        p_desc = np.take_along_axis(p, order, axis=-1)
    # cum[n] = fl(cum[n - 1] + p_desc[n]): the mass up to and including theory n.
    cum = np.cumsum(p_desc, axis=-1)
    fail = p_desc < a.reshape(a.shape + (1,) * p.ndim) * cum
    if ties == "group":  # a tied group is judged by its first member alone
        fail[..., 1:] &= p_desc[..., 1:] != p_desc[..., :-1]
    # "keep while": the set is the prefix before the first failure (the top always passes).
    n = np.where(fail.any(axis=-1), np.argmax(fail, axis=-1), k)
    if ties == "group":
        last = np.take_along_axis(np.broadcast_to(p_desc, fail.shape), (n - 1)[..., None], -1)
        return p >= last
    in_sorted = np.arange(k) < n[..., None]
    mask = np.empty_like(in_sorted)
    np.put_along_axis(mask, np.broadcast_to(order, in_sorted.shape), in_sorted, axis=-1)
    return mask


def prop45(
    log_post: ArrayLike, harm: ArrayLike, alpha: float, *, ties: Ties = "group"
) -> PlausibleBound:
    """The non-i.i.d. bound: the largest harm over the plausible set ``I^alpha``.

    With probability at least ``1 - alpha / P(true)``, at all times, the harm under the true
    theory is at most this value (Prop 4.6 of the arXiv version, 4.5 at UAI).

    Parameters
    ----------
    log_post : array_like, shape (..., K)
        Log-posteriors of the theories, up to a constant per row.
    harm : array_like, shape (..., K)
        ``P(harm | theory k, query)``.
    alpha : float in (0, 1]
        Smaller is more cautious.
    ties : {"group", "index"}
        How theories of equal posterior enter ``I^alpha``; see :func:`plausible_set`. The
        default ``"group"`` lets a tied group enter or leave as a whole.

    Returns
    -------
    PlausibleBound
        ``value``: ``max_{k in I^alpha} harm_k``; ``theory``: that theory (the lowest index among
        equals); ``mask``: ``I^alpha``, shape of ``log_post``.

    References
    ----------
    .. [1] Bengio et al., "Can a Bayesian Oracle Prevent Harm from an Agent?", UAI 2025,
       Proposition 4.5 (arXiv:2408.05284, Proposition 4.6).
    """
    a = _unit("alpha", alpha)
    _ties(ties)
    lp = _log_post(log_post)
    h = _harm(harm, lp.shape[-1])
    _check_broadcast(lp, h)
    return _prop45(h, _normalise(lp), a, ties)


def _prop45(h: NDArray[np.floating], p: NDArray[np.float64], a: float, ties: str) -> PlausibleBound:
    mask = _plausible(p, np.asarray(a), ties)
    masked = h * mask.astype(h.dtype)  # harm >= 0, so theories outside the set drop to 0
    index = masked.argmax(axis=-1)
    value = _take(masked, index)
    zero = value == 0  # every theory of the set is harmless: name the first one of the set
    if zero.any():
        first = np.broadcast_to(mask.argmax(axis=-1), index.shape)
        index = np.where(zero, first, index)
    return PlausibleBound(np.asarray(value), np.asarray(index), mask)


def tail_mass(log_post: ArrayLike, harm: ArrayLike, threshold: float) -> TailMass:
    """The posterior mass of the theories whose harm exceeds ``threshold``.

    ``P(harm_true > threshold | D) = sum_k P(k | D) [harm_k > threshold]``: when the prior is
    right, the probability that the true theory's harm is above the threshold. A guard that
    blocks when this exceeds ``q`` is the guard that blocks when :func:`credible_bound` at level
    ``q`` exceeds ``threshold`` (the two are the same test), but it costs one pass over the
    theories instead of a sort.

    Parameters
    ----------
    log_post : array_like, shape (..., K)
        Log-posteriors of the theories, up to a constant per row.
    harm : array_like, shape (..., K)
        ``P(harm | theory k, query)``.
    threshold : float
        The harm level, e.g. a guard's threshold ``C``.

    Returns
    -------
    TailMass
        ``value``: the tail mass per query; ``mask``: the tail ``harm > threshold``.

    References
    ----------
    .. [1] Bengio et al., "Can a Bayesian Oracle Prevent Harm from an Agent?", UAI 2025; this
       rule is not in the paper (see ``docs/results.md``).
    """
    try:
        c = float(threshold)
    except (TypeError, ValueError):
        raise bad_value("threshold", threshold, "a real number") from None
    if np.isnan(c):
        raise bad_value("threshold", threshold, "a real number, not NaN")
    _, h, p = _inputs(log_post, harm)
    tail = h > c
    mass = np.minimum(np.einsum("...k,...k->...", tail, p), 1)  # rounding can pass 1
    return TailMass(np.asarray(mass), tail)


def credible_bound(log_post: ArrayLike, harm: ArrayLike, q: float) -> Bound:
    """The posterior upper ``(1 - q)``-quantile of harm: a Bayesian credible bound.

    ``min { h : P(harm_true > h | D) <= q }``, taken over the theories' harms. When the prior is
    right, the true theory's harm exceeds it with posterior probability at most ``q``. Unlike
    Prop 4.5 it weighs the cautious theories by their mass: many improbable harmful theories add
    up, and one improbable harmful theory alone does not block. Its guarantee holds on average
    over the prior, not for every true theory (see ``docs/results.md`` for when that matters).

    Parameters
    ----------
    log_post : array_like, shape (..., K)
        Log-posteriors of the theories, up to a constant per row.
    harm : array_like, shape (..., K)
        ``P(harm | theory k, query)``.
    q : float in [0, 1)
        Allowed posterior mass above the bound; ``q = 0`` gives the largest harm of any theory
        of positive posterior.

    Returns
    -------
    Bound
        ``value``: the quantile; ``theory``: the theory of positive posterior whose harm is the
        quantile (the lowest index among equals).

    References
    ----------
    .. [1] Bengio et al., "Can a Bayesian Oracle Prevent Harm from an Agent?", UAI 2025; this
       rule is not in the paper (see ``docs/results.md``).
    """
    qq = _unit("q", q, low_open=False)
    _, h, p = _inputs(log_post, harm)
    return _credible_bound(h, p, qq)


def _credible_bound(h: NDArray[np.floating], p: NDArray[np.floating], qq: float) -> Bound:
    shape = np.broadcast_shapes(p.shape, h.shape)
    hb, pb = np.broadcast_to(h, shape), np.broadcast_to(p, shape)
    order = np.argsort(-hb, axis=-1, kind="stable")
    p_sorted = np.take_along_axis(pb, order, axis=-1)
    cum = np.cumsum(p_sorted, axis=-1)
    j = (cum <= qq).sum(axis=-1)  # first position where the mass exceeds q
    last_positive = shape[-1] - 1 - np.argmax(p_sorted[..., ::-1] > 0, axis=-1)
    j = np.minimum(j, last_positive)  # q close to 1 and rounding: stay on the support
    value = _take(hb, _take(order, j))
    index = ((hb == value[..., None]) & (pb > 0)).argmax(axis=-1)  # name the first such theory
    return Bound(np.asarray(value), np.asarray(index))


def guard_rules(
    log_post: ArrayLike, harm: ArrayLike, alpha: float, q: float
) -> tuple[Bound, Bound, PlausibleBound, Bound]:
    """:func:`posterior_predictive`, :func:`prop33`, :func:`prop45` and :func:`credible_bound`.

    The same four results as the four calls (``ties="group"``), with the inputs checked and the
    posterior normalised once: what a guard computes for every decision.
    """
    a = _unit("alpha", alpha)
    qq = _unit("q", q, low_open=False)
    p64, h, p = _inputs(log_post, harm)
    return (
        _posterior_predictive(h, p),
        _prop33(h, p),
        _prop45(h, p64, a, "group"),
        _credible_bound(h, p, qq),
    )
