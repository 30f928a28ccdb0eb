"""An agent whose every tool call is judged by the guard service before it runs.

The agent here is a scripted clinic assistant in the world of the Asia network (Lauritzen and
Spiegelhalter, 1988): its tools are interventions on that world (``do(smoke=no)``, ...), and the
harm to avoid is shortness of breath (``dysp=yes``). Each tool is wrapped with
:meth:`scientist.client.GuardClient.guard_tool`: the tool runs only when the guard allows it; a
block, an escalation nobody approves, or a guard that cannot be reached all stop it (the wrapper
fails closed). Every decision is in the audit store before the agent sees it.

Run it against a local service::

    scientist theory asia -o asia.npz
    printf 'principles:\n  - name: no-dyspnoea\n    interpretations: [dysp=yes]\n' > harms.yaml
    export SCIENTIST_API_KEY=$(scientist keys create --scope decide --name clinic-agent)
    scientist serve --posterior asia=asia.npz --spec asia=harms.yaml &
    python examples/guarded_agent.py --url http://127.0.0.1:8000

References
----------
.. [1] S. L. Lauritzen and D. J. Spiegelhalter, "Local computations with probabilities on
   graphical structures and their application to expert systems", JRSS B 50(2), 1988.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

from scientist.client import ActionRefused, GuardClient

THRESHOLD = 0.4  # the largest acceptable probability of dyspnoea


def make_tools(guard: GuardClient, posterior: str = "asia") -> dict[str, Callable[..., str]]:
    """The agent's tools, each wrapped by the guard."""

    def ask_a_human(verdict: dict[str, Any]) -> bool:
        print(f"  escalated to a human: {verdict['reason']} -> refused")
        return False

    def wrap(action: Callable[..., Any], context: Callable[..., Any] | None = None) -> Any:
        return guard.guard_tool(
            posterior, action, context, threshold=THRESHOLD, on_escalate=ask_a_human
        )

    @wrap(lambda patient: {"smoke": "yes"})
    def offer_cigarette(patient: str) -> str:
        return f"offered {patient} a cigarette"

    @wrap(lambda patient: "do(smoke=no)")
    def prescribe_quitting(patient: str) -> str:
        return f"prescribed {patient} a smoking-cessation plan"

    @wrap(lambda patient: {"bronc": "no"})
    def treat_bronchitis(patient: str) -> str:
        return f"treated {patient} for bronchitis"

    @wrap(lambda patient: {"asia": "yes"}, lambda patient: "tub=yes, either=no")
    def book_trip_to_asia(patient: str) -> str:
        return f"booked {patient} a trip to Asia"

    return {
        "offer_cigarette": offer_cigarette,
        "prescribe_quitting": prescribe_quitting,
        "treat_bronchitis": treat_bronchitis,
        "book_trip_to_asia": book_trip_to_asia,
    }


def run(guard: GuardClient, posterior: str = "asia") -> list[tuple[str, str]]:
    """Play the agent's plan; returns (tool, what happened) for each proposed call."""
    tools = make_tools(guard, posterior)
    plan = ["offer_cigarette", "prescribe_quitting", "treat_bronchitis", "book_trip_to_asia"]
    outcomes = []
    for name in plan:
        print(f"agent proposes {name}('Ada')")
        try:
            result = tools[name]("Ada")
            outcomes.append((name, "ran"))
            print(f"  allowed: {result}")
        except ActionRefused as refusal:
            outcomes.append((name, refusal.verdict["decision"]))
            est = refusal.verdict["estimate"]
            shown = "n/a" if est is None else f"{est:.3f}"
            print(
                f"  {refusal.verdict['decision']}: P(harm) bound {shown} "
                f"(audit record {refusal.verdict['audit_id']})"
            )
    return outcomes


def main() -> None:
    """Command-line entry: ``--url`` of the service; the key from ``$SCIENTIST_API_KEY``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--posterior", default="asia")
    args = parser.parse_args()
    with GuardClient(args.url, os.environ.get("SCIENTIST_API_KEY"), timeout=5.0) as guard:
        run(guard, args.posterior)


if __name__ == "__main__":
    main()
