"""Harm specifications: principles, each with interpretations that are events over the world.

A :class:`HarmSpec` is read from YAML::

    principles:
      - name: no-death
        description: The action must not kill the patient.
        interpretations:
          - event: "Outcome=death"
            weight: 1.0
          - event: "Outcome=coma"
            weight: 0.4

Every interpretation is one event of the query language on one variable (``X=x``, ``X!=x``,
and for continuous variables ``X>c``, ``X<c``, ...). Its ``weight`` in (0, 1] says how plausible
that reading of the principle is; the interpretations with ``weight >= min_weight`` are the
*plausible* ones. A principle is violated when at least one plausible interpretation is, and
the action is harmful when at least one principle is violated.

References
----------
.. [1] Y. Bengio et al., "Superintelligent agents pose catastrophic risks: can Scientist AI
   offer a safer path?", arXiv:2502.15657, 2025, section 3.8.2 (guardrails from safety
   specifications with uncertain interpretations).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from scientist.errors import InputError, QueryError
from scientist.infer.query import Event, ProbabilityQuery, parse_query

__all__ = ["HarmSpec", "Interpretation", "Principle"]


@dataclass(frozen=True)
class Interpretation:
    """One reading of a principle: an event and how plausible the reading is."""

    event: Event
    weight: float


@dataclass(frozen=True)
class Principle:
    """A named harm principle with its interpretations."""

    name: str
    description: str
    interpretations: tuple[Interpretation, ...]


@dataclass(frozen=True)
class HarmSpec:
    """A list of principles; see the module docstring for the YAML format."""

    principles: tuple[Principle, ...]
    min_weight: float = 0.0

    @classmethod
    def from_dict(cls, data: Any) -> HarmSpec:
        """Validate and build from parsed YAML / JSON."""
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("principles"), list)
            or not data["principles"]
        ):
            raise InputError("A harm spec needs a non-empty list under 'principles'.")
        min_weight = data.get("min_weight", 0.0)
        if not isinstance(min_weight, int | float) or not 0 <= min_weight <= 1:
            raise InputError(f"min_weight={min_weight!r} is invalid: expected a number in [0, 1].")
        principles = []
        seen: set[str] = set()
        for i, raw in enumerate(data["principles"]):
            if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
                raise InputError(f"Principle #{i + 1} needs a 'name' (a non-empty string).")
            name = raw["name"]
            if name in seen:
                raise InputError(f"Principle {name!r} is defined twice.")
            seen.add(name)
            interps = raw.get("interpretations")
            if not isinstance(interps, list) or not interps:
                raise InputError(f"Principle {name!r} needs a non-empty list of 'interpretations'.")
            out = []
            for item in interps:
                if isinstance(item, str):
                    item = {"event": item}
                if not isinstance(item, dict) or "event" not in item:
                    raise InputError(
                        f"Principle {name!r}: each interpretation needs an 'event', got {item!r}."
                    )
                expr = str(item["event"])
                try:
                    q = parse_query(f"P({expr})")
                except QueryError as exc:
                    raise InputError(
                        f"Principle {name!r}: cannot parse the event {expr!r}: {exc}"
                    ) from None
                if not isinstance(q, ProbabilityQuery) or len(q.targets) != 1 or q.do or q.evidence:
                    raise InputError(
                        f"Principle {name!r}: the event {expr!r} must be one condition on one variable, "
                        "such as 'Outcome=death' or 'Temp > 80'."
                    )
                weight = item.get("weight", 1.0)
                if not isinstance(weight, int | float) or not 0 < weight <= 1:
                    raise InputError(
                        f"Principle {name!r}: weight={weight!r} of {expr!r} must be in (0, 1]."
                    )
                out.append(Interpretation(q.targets[0], float(weight)))
            principles.append(Principle(name, str(raw.get("description", "")), tuple(out)))
        return cls(tuple(principles), float(min_weight))

    @classmethod
    def from_yaml(cls, text_or_path: str | Path) -> HarmSpec:
        """Read a spec from a YAML file path or a YAML string."""
        path = (
            Path(text_or_path)
            if not isinstance(text_or_path, str) or "\n" not in text_or_path
            else None
        )
        if path is not None and path.suffix in (".yaml", ".yml", ".json"):
            if not path.is_file():
                raise InputError(f"spec={str(path)!r}: no such file.")
            text = path.read_text()
        else:
            text = str(text_or_path)
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InputError(f"The harm spec is not valid YAML: {exc}") from None
        return cls.from_dict(data)

    def plausible(self, principle: Principle) -> list[Event]:
        """The events of a principle's plausible interpretations."""
        return [i.event for i in principle.interpretations if i.weight >= self.min_weight]

    def validate_against(self, names: list[str]) -> None:
        """Every event names a known variable; a clear error otherwise."""
        for p in self.principles:
            for i in p.interpretations:
                if i.event.name not in names:
                    raise InputError(
                        f"Principle {p.name!r}: the event {i.event} names {i.event.name!r}, which is not a "
                        f"variable of the world model; the variables are {names}."
                    )
