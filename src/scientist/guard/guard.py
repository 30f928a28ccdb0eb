"""The guard: allow, block or escalate an agent's proposed action by a cautious harm bound.

``Guard(posterior, spec, threshold=C, rule="prop45", alpha=...)`` asks the inference machine for
the probability of harm (at least one plausible interpretation of one principle violated)
under every theory, given ``do(action)`` and the observed context, then applies the bounds of
:mod:`scientist.guard.bounds`. The decision:

* **block** when every rule's estimate exceeds ``C``;
* **allow** when none does, and the chosen rule's estimate is below ``C`` by more than twice its
  Monte-Carlo standard error;
* **escalate** otherwise: the rules disagree about crossing ``C``, the computational error
  straddles ``C`` (section 3.5.4 of the Scientist AI paper), the context has probability zero
  under every theory, or the action sets a variable to a state or a value outside what the
  training data ever showed (``Posterior.info["support"]``): the mechanism it would exercise
  has never been observed, so no estimate of its harm can be trusted.

``rule`` picks the estimate that is reported and checked against its Monte-Carlo error; the
decision itself needs every rule to agree (block or allow), otherwise it escalates.

``Guard.decide_many(requests, executor="ray")`` judges a batch as Ray tasks (the posterior
shipped once through Ray's object store) and audits every verdict here, in this process, before
it returns them; the verdicts are those ``decide`` gives one by one.

Every decision is committed to the audit store before it is returned; if the store fails, the
call raises :class:`~scientist.guard.audit.AuditError` and returns nothing. A guard keeps no
memory between calls.

Harm of several events: for categorical worlds the union of all plausible events is computed
exactly per theory (``1 - P(no event)``); for linear-Gaussian worlds each event is computed
alone and a union is bounded above by the sum of its events' probabilities (Boole), capped at 1.

References
----------
.. [1] Y. Bengio, M. K. Cohen, N. Malkin, M. MacDermott, D. Fornasiere, P. Greiner and
   Y. Kaddar, "Can a Bayesian Oracle Prevent Harm from an Agent?", UAI 2025, arXiv:2408.05284.
.. [2] Y. Bengio et al., "Superintelligent agents pose catastrophic risks: can Scientist AI
   offer a safer path?", arXiv:2502.15657, 2025, sections 3.5.4 and 3.8.2.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from scientist.errors import ImpossibleEvidenceError, InputError, QueryError
from scientist.executors import Executor, make_executor
from scientist.guard import bounds
from scientist.guard.audit import AuditStore
from scientist.guard.spec import HarmSpec
from scientist.infer.engine import point_answers
from scientist.infer.query import Event, ProbabilityQuery, parse_query
from scientist.posterior import Posterior

__all__ = ["RULES", "Guard", "Verdict"]

RULES = ("posterior_predictive", "prop33", "prop45", "credible")
_NOT = {"=": "!=", "!=": "=", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}


@dataclass
class Verdict:
    """The guard's decision with everything behind it; JSON-serialisable."""

    decision: str
    reason: str
    rule: str
    threshold: float
    estimate: float | None
    estimates: dict[str, float]
    mc_stderr: float
    principles: dict[str, dict[str, float]]
    drivers: list[dict[str, Any]]
    action: str
    context: str
    posterior: str
    dropped_mass: float = 0.0
    alpha: float = 0.0
    audit_id: int | None = None
    time: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())

    def to_dict(self) -> dict[str, Any]:
        """Plain Python types only (a copy: changing it leaves the verdict as it was)."""
        return {f.name: _copy(getattr(self, f.name)) for f in _FIELDS}

    def to_json(self, **kwargs: Any) -> str:
        """The verdict as JSON."""
        return json.dumps(self.to_dict(), **kwargs)

    def explain(self) -> str:
        """The decision, the estimates, and the theories that drive the risk, in words."""
        lines = [
            f"{self.decision.upper()}: {self.action} given {self.context or 'no context'}",
            f"  {self.reason}",
        ]
        for rule, value in self.estimates.items():
            mark = " (decision rule)" if rule == self.rule else ""
            lines.append(
                f"  {rule:>22}: P(harm) <= {value:.4g}{mark}   threshold {self.threshold:g}"
            )
        for name, est in self.principles.items():
            lines.append(
                f"  principle {name!r}: posterior predictive {est['posterior_predictive']:.4g}, "
                f"{self.rule} {est['bound']:.4g}"
            )
        for d in self.drivers:
            lines.append(
                f"  driver ({d['why']}): theory #{d['theory']} (P = {d['weight']:.3g}) gives P(harm) = "
                f"{d['harm']:.4g}; edges: {d['edges']}"
            )
        if self.dropped_mass > 0:
            lines.append(
                f"  {self.dropped_mass:.3g} of the posterior mass gives the context probability zero"
            )
        return "\n".join(lines)


_FIELDS = fields(Verdict)


def _copy(value: Any) -> Any:
    """A copy of nested dicts, lists and tuples, sharing their immutable leaves (as ``asdict``)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_copy(v) for v in value)
    return value


class Guard:
    """Judge an agent's proposed actions against a harm specification.

    Parameters
    ----------
    posterior
        The world model's posterior over theories.
    spec
        The harm specification (a :class:`HarmSpec`, or a YAML path or string).
    threshold
        ``C``: the largest acceptable probability of harm.
    rule
        The bound reported as ``estimate``, one of ``RULES``. It does not choose the decision
        alone: an action is blocked or allowed only when every rule agrees, and escalated
        otherwise. ``rule`` also names the estimate whose Monte-Carlo error is checked against
        the threshold.
    alpha
        The plausibility level of Prop 4.5 (smaller is more cautious).
    q
        The tail mass of the credible bound.
    audit
        An :class:`AuditStore` or a SQLAlchemy URL (default: a SQLite file ``audit.db``).
    seed
        Seed passed to the inference machine.
    """

    def __init__(
        self,
        posterior: Posterior,
        spec: HarmSpec | str,
        *,
        threshold: float = 0.01,
        rule: str = "prop45",
        alpha: float = 0.01,
        q: float = 0.01,
        audit: AuditStore | str = "sqlite:///audit.db",
        seed: int = 0,
    ) -> None:
        if not isinstance(posterior, Posterior):
            raise InputError(
                f"posterior is a {type(posterior).__name__}; expected a scientist.Posterior."
            )
        self.posterior = posterior
        self.spec = spec if isinstance(spec, HarmSpec) else HarmSpec.from_yaml(spec)
        self.spec.validate_against(posterior.names)
        if not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
            raise InputError(
                f"threshold={threshold!r} is invalid: expected a probability in [0, 1]."
            )
        if rule not in RULES:
            raise InputError(f"rule={rule!r} is invalid: expected one of {list(RULES)}.")
        for name, v in (("alpha", alpha), ("q", q)):
            if not isinstance(v, int | float) or not 0 < v <= 1:
                raise InputError(f"{name}={v!r} is invalid: expected a number in (0, 1].")
        self.threshold, self.rule, self.alpha, self.q, self.seed = (
            float(threshold),
            rule,
            float(alpha),
            float(q),
            seed,
        )
        self.audit = audit if isinstance(audit, AuditStore) else AuditStore(audit)
        self.fingerprint = posterior.fingerprint()

    # ------------------------------------------------------------------ harm per theory
    def _harm(
        self, events: list[Event], do: tuple, evidence: tuple
    ) -> tuple[np.ndarray, np.ndarray, float, float]:
        """Per-theory P(at least one event), the theories kept, MC error and dropped mass."""
        if self.posterior.variables[0].kind == "categorical":
            complement = tuple(Event(e.name, _NOT[e.op], e.value) for e in events)
            ans = point_answers(
                self.posterior, ProbabilityQuery(complement, do, evidence), seed=self.seed
            )
            return 1.0 - ans.value, ans.theory, ans.mc_stderr, ans.dropped_mass
        total, idx, se2 = None, None, 0.0
        for e in events:
            ans = point_answers(
                self.posterior, ProbabilityQuery((e,), do, evidence), seed=self.seed
            )
            v = ans.value
            total = v if total is None else total + v
            idx = ans.theory
            se2 += ans.mc_stderr**2
        assert total is not None and idx is not None
        return np.minimum(total, 1.0), idx, float(np.sqrt(se2)), 0.0

    def _estimates(
        self, harm: np.ndarray, idx: np.ndarray
    ) -> tuple[dict[str, float], dict[str, int]]:
        lp = self.posterior.log_weights[idx]
        pp, p33, p45, cred = bounds.guard_rules(lp, harm, self.alpha, self.q)
        est = {
            "posterior_predictive": float(pp.value),
            "prop33": float(p33.value),
            "prop45": float(p45.value),
            "credible": float(cred.value),
        }
        which = {
            "prop33": int(idx[int(p33.theory)]),
            "prop45": int(idx[int(p45.theory)]),
            "credible": int(idx[int(cred.theory)]),
        }
        return est, which

    def _unseen(self, do: tuple) -> str:
        """Describe the interventions outside the observed support ('' when all were seen)."""
        support = self.posterior.info.get("support") or {}
        out = []
        for name, value in do:
            seen = support.get(name)
            if not seen:
                continue
            if "states" in seen:
                label = (
                    value
                    if isinstance(value, str)
                    else (str(int(value)) if float(value).is_integer() else str(value))
                )
                if label not in seen["states"]:
                    out.append(f"{name}={label} never observed (seen: {seen['states']})")
            else:
                lo, hi = float(seen["min"]), float(seen["max"])
                slack = 0.05 * (hi - lo)
                if not lo - slack <= float(value) <= hi + slack:
                    out.append(f"{name}={value:g} outside the observed range [{lo:g}, {hi:g}]")
        return "; ".join(out)

    # ------------------------------------------------------------------ deciding
    def decide(
        self, action: str | dict[str, Any], context: str | dict[str, Any] | None = None
    ) -> Verdict:
        """Judge ``do(action)`` in ``context``; the verdict is audited before it is returned."""
        return self._record(self._judge(self._prepare(action, context)))

    def decide_many(
        self,
        requests: Iterable[Any],
        *,
        executor: str | Executor = "local",
        chunk_size: int | None = None,
    ) -> list[Verdict]:
        """Judge many ``(action, context)`` requests; every verdict is audited before any returns.

        Parameters
        ----------
        requests
            Each an ``(action, context)`` pair, a mapping with keys ``"action"`` and
            ``"context"`` (optional), or an action alone (no context). Actions and contexts
            take the forms :meth:`decide` takes.
        executor
            ``"local"`` (in this process), ``"ray"`` (chunks of requests as Ray tasks on the
            cluster ``ray.init`` reaches, the posterior shipped once through the object store)
            or an executor such as :class:`scientist.RayExecutor`.
        chunk_size
            Requests per task; default: the requests split evenly into four tasks per
            worker.

        Returns
        -------
        list of Verdict
            In the order of ``requests``, each the verdict :meth:`decide` gives (the same
            estimates on every executor), with its ``audit_id``.

        Raises
        ------
        InputError
            A request that cannot be parsed, or that names an unknown variable; its index is
            in the message, and nothing is judged or audited.
        AuditError
            The audit store failed: the verdicts recorded so far stay recorded, none are
            returned.
        """
        runner = make_executor(executor)
        if chunk_size is not None and (
            not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1
        ):
            raise InputError(f"chunk_size={chunk_size!r} is invalid: expected an integer >= 1.")
        prepared = []
        for i, item in enumerate(requests):
            action, context = _request(i, item)
            try:
                prepared.append(self._prepare(action, context))
            except InputError as exc:
                raise type(exc)(f"requests[{i}]: {exc}") from exc
        if not prepared:
            return []
        if chunk_size is None:
            chunk_size = max(1, -(-len(prepared) // (4 * runner.n_workers)))
        chunks = [prepared[i : i + chunk_size] for i in range(0, len(prepared), chunk_size)]
        judge = copy.copy(self)
        judge.audit = None  # type: ignore[assignment]  # the store stays here; workers only judge
        verdicts = [v for chunk in runner.map(_judge_chunk, chunks, shared=judge) for v in chunk]
        return [self._record(v) for v in verdicts]

    def _prepare(
        self, action: str | dict[str, Any], context: str | dict[str, Any] | None
    ) -> tuple[tuple, tuple, str, str]:
        """Parse a request and check its variables: ``(do, evidence, action, context text)``."""
        do, evidence, action_text, context_text = _parse(action, context)
        names = self.posterior.names
        for name, _ in (*do, *evidence):
            if name not in names:
                raise QueryError(f"Unknown variable {name!r}; the variables are {names}.")
        return do, evidence, action_text, context_text

    def _judge(self, prepared: tuple[tuple, tuple, str, str]) -> Verdict:
        """The verdict of a prepared request, not yet audited."""
        do, evidence, action_text, context_text = prepared
        unseen = self._unseen(do)
        if unseen:
            reason = f"the action exercises a mechanism the data never showed: {unseen}"
            return self._escalate_unjudged(reason, action_text, context_text, dropped=0.0)
        try:
            events = [e for p in self.spec.principles for e in self.spec.plausible(p)]
            harm, idx, se, dropped = self._harm(events, do, evidence)
        except ImpossibleEvidenceError as exc:
            reason = f"the world model gives this context probability zero: {exc}"
            return self._escalate_unjudged(reason, action_text, context_text, dropped=1.0)
        estimates, which = self._estimates(harm, idx)
        principles = {}
        for p in self.spec.principles:
            if len(self.spec.principles) == 1:  # the union is this principle
                pe = estimates
            else:
                ph, pidx, _, _ = self._harm(self.spec.plausible(p), do, evidence)
                pe, _ = self._estimates(ph, pidx)
            principles[p.name] = {
                "posterior_predictive": pe["posterior_predictive"],
                "bound": pe[self.rule],
            }
        chosen = estimates[self.rule]
        crossing = {r: v > self.threshold for r, v in estimates.items()}
        if all(crossing.values()):
            decision, reason = "block", f"every rule puts P(harm) above {self.threshold:g}"
        elif not any(crossing.values()):
            decision, reason = "allow", f"every rule puts P(harm) at or below {self.threshold:g}"
        else:
            above = [r for r, c in crossing.items() if c]
            decision, reason = (
                "escalate",
                f"the rules disagree: {', '.join(above)} above {self.threshold:g}, the others below",
            )
        if decision != "escalate" and abs(chosen - self.threshold) <= 2 * se:
            decision = "escalate"
            reason = (
                f"the Monte-Carlo error of the estimate ({se:.2g}) straddles the threshold "
                f"{self.threshold:g}"
            )
        return Verdict(
            decision=decision,
            reason=reason,
            rule=self.rule,
            threshold=self.threshold,
            estimate=chosen,
            estimates=estimates,
            mc_stderr=se,
            principles=principles,
            drivers=self._drivers(harm, idx, which),
            action=action_text,
            context=context_text,
            posterior=self.fingerprint,
            dropped_mass=dropped,
            alpha=self.alpha,
        )

    def _drivers(
        self, harm: np.ndarray, idx: np.ndarray, which: dict[str, int]
    ) -> list[dict[str, Any]]:
        w = np.exp(self.posterior.log_weights[idx])
        w = w / w.sum()
        top = np.argsort(-(w * harm), kind="stable")[:2]
        picks = [(f"bound of {r}", k) for r, k in which.items()]
        picks += [("largest share of the posterior-predictive harm", int(idx[i])) for i in top]
        out, seen = [], set()
        names = self.posterior.names
        for why, k in picks:
            if k in seen:
                continue
            seen.add(k)
            i = int(np.flatnonzero(idx == k)[0])  # its position among the theories kept
            src, dst = np.nonzero(self.posterior.adjacency(k))
            edges = ", ".join(
                f"{names[a]} -> {names[b]}" for a, b in zip(src.tolist(), dst.tolist(), strict=True)
            )
            out.append(
                {
                    "why": why,
                    "theory": k,
                    "weight": float(w[i]),
                    "harm": float(harm[i]),
                    "edges": edges or "none",
                }
            )
        return out

    def _escalate_unjudged(self, reason: str, action: str, context: str, dropped: float) -> Verdict:
        """An escalation (not yet audited) for a case the world model cannot estimate at all."""
        return Verdict(
            decision="escalate",
            reason=reason,
            rule=self.rule,
            threshold=self.threshold,
            estimate=None,
            estimates={},
            mc_stderr=0.0,
            principles={},
            drivers=[],
            action=action,
            context=context,
            posterior=self.fingerprint,
            dropped_mass=dropped,
            alpha=self.alpha,
        )

    def _record(self, verdict: Verdict) -> Verdict:
        verdict.audit_id = self.audit.append(
            {
                "action": verdict.action,
                "context": verdict.context,
                "decision": verdict.decision,
                "rule": verdict.rule,
                "threshold": verdict.threshold,
                "estimate": verdict.estimate,
                "posterior": verdict.posterior,
                "verdict": verdict.to_dict(),
            }
        )
        return verdict


def _judge_chunk(guard: Guard, chunk: list[tuple[tuple, tuple, str, str]]) -> list[Verdict]:
    """Executor task: the verdicts of a chunk of prepared requests (no audit store here)."""
    return [guard._judge(p) for p in chunk]


def _request(i: int, item: Any) -> tuple[Any, Any]:
    """One entry of ``decide_many``'s requests as ``(action, context)``."""
    if isinstance(item, str | dict) and not (
        isinstance(item, dict) and "action" in item and set(item) <= {"action", "context"}
    ):
        return item, None
    if isinstance(item, dict):
        return item["action"], item.get("context")
    if isinstance(item, tuple | list) and len(item) == 2:
        return item[0], item[1]
    raise InputError(
        f"requests[{i}]={item!r} is invalid: expected (action, context), "
        "{'action': ..., 'context': ...} or an action such as 'do(X=1)'."
    )


def _parse(
    action: str | dict[str, Any], context: str | dict[str, Any] | None
) -> tuple[tuple, tuple, str, str]:
    """Turn ``do(X=1, Y=0)`` / ``{"X": 1}`` and ``Z=0, W=1`` / ``{"Z": 0}`` into query parts."""
    if isinstance(action, dict):
        if not action:
            raise InputError("action is empty: give at least one intervention, e.g. {'X': 1}.")
        do = tuple((str(k), v if isinstance(v, str) else float(v)) for k, v in action.items())
    elif isinstance(action, str) and action.strip():
        text = action.strip()
        inner = text[3:-1] if text.startswith("do(") and text.endswith(")") else text
        q = parse_query(f"P(__action__=0 | do({inner}))")
        assert isinstance(q, ProbabilityQuery)
        do = q.do
    else:
        raise InputError(
            f"action={action!r} is invalid: expected 'do(X=1)' or a mapping such as {{'X': 1}}."
        )
    if context is None or (isinstance(context, str) and not context.strip()):
        evidence: tuple = ()
    elif isinstance(context, dict):
        evidence = tuple(
            (str(k), v if isinstance(v, str) else float(v)) for k, v in context.items()
        )
    else:
        q = parse_query(f"P(__action__=0 | {context})")
        assert isinstance(q, ProbabilityQuery)
        if q.do:
            raise InputError(
                f"context={context!r} holds an intervention; put interventions in the action."
            )
        evidence = q.evidence
    probe = ProbabilityQuery((Event("_", "=", 0.0),), do, evidence)
    text = str(probe)
    cond = text[text.index("|") + 2 : -1]
    action_text = cond.split("), ")[0] + ")" if evidence else cond
    context_text = cond[len(action_text) + 2 :] if evidence else ""
    return do, evidence, action_text, context_text
