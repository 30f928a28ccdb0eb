"""Request and response bodies of the guard service (pydantic models, the OpenAPI schemas).

Request models forbid unknown fields and bound every size (names, query text, number of
interventions), so that a malformed or hostile body is refused with 422 before any work is done.
Response models document what the endpoints return; the service writes the JSON itself (the
library's ``Verdict.to_dict()`` and ``Answer.to_dict()``), and the tests check every response
against these models.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "AnswerOut",
    "AskRequest",
    "AuditPage",
    "AuditRecord",
    "DecideRequest",
    "DecisionOut",
    "DecisionsPage",
    "EdgesOut",
    "ErrorOut",
    "HealthOut",
    "PosteriorInfo",
    "PosteriorsOut",
    "TheoriesOut",
    "TheoryEdge",
    "TheoryOut",
    "VariableInfo",
    "VerdictOut",
    "WhoAmIOut",
]

Rule = Literal["posterior_predictive", "prop33", "prop45", "credible"]
Name = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Value = (
    Annotated[str, StringConstraints(min_length=1, max_length=128)]
    | Annotated[float, Field(allow_inf_nan=False)]
)
Assignment = Annotated[dict[Name, Value], Field(min_length=1, max_length=64)]
Text = Annotated[str, StringConstraints(max_length=2000)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class DecideRequest(_Request):
    """Judge ``do(action)`` in ``context`` with the posterior's harm spec."""

    posterior: Name = Field(description="Name of a loaded posterior (see GET /v1/posteriors).")
    action: Text | Assignment = Field(
        description="The proposed action: 'do(X=1, Y=0)' or a mapping such as {'X': 1}.",
        examples=["do(smoke=yes)", {"smoke": "yes"}],
    )
    context: Text | Assignment | None = Field(
        default=None,
        description="What is observed: 'Z=0, W=1', a mapping, or null.",
        examples=["xray=yes", {"xray": "yes"}],
    )
    threshold: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] | None = Field(
        default=None, description="Largest acceptable P(harm); default the server's."
    )
    rule: Rule | None = Field(
        default=None,
        description=(
            "The bound reported as the verdict's estimate (the decision needs every rule to "
            "agree); default the server's."
        ),
    )


class AskRequest(_Request):
    """Answer a causal question by averaging over the posterior's theories."""

    posterior: Name = Field(description="Name of a loaded posterior.")
    query: Annotated[str, StringConstraints(min_length=1, max_length=2000)] = Field(
        description="e.g. 'P(Y=1 | do(X=0), Z=1)', 'E[Y | do(X=2)]', 'P(X -> Y)'.",
        examples=["P(dysp=yes | do(smoke=yes))"],
    )
    level: Annotated[float, Field(gt=0.0, lt=1.0, allow_inf_nan=False)] = Field(
        default=0.9, description="Mass of the credible interval."
    )
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = Field(
        default=0, description="Seed of the parameter draws."
    )
    draws: Annotated[int, Field(ge=0, le=128)] = Field(
        default=32, description="Parameter draws per theory (0: point parameters)."
    )


class VerdictOut(BaseModel):
    """The guard's decision (``scientist.guard.Verdict``), committed to the audit store."""

    decision: Literal["allow", "block", "escalate"]
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
    posterior: str = Field(description="Fingerprint of the posterior that decided.")
    dropped_mass: float
    alpha: float
    audit_id: int = Field(description="Id of the committed audit record.")
    time: str


class AnswerOut(BaseModel):
    """The inference machine's answer (``scientist.infer.Answer``)."""

    query: str
    kind: str
    mean: float
    interval: list[float]
    level: float
    epistemic: float
    aleatoric: float
    mc_stderr: float
    per_theory: dict[str, list[Any]]
    support: list[dict[str, Any]]
    dropped_mass: float
    n_theories: int
    weighting: str
    seed: int | None
    n_draws: int
    per_theory_truncated: bool = False


class VariableInfo(BaseModel):
    """One variable of a posterior."""

    name: str
    kind: str
    states: list[str] | None


class PosteriorInfo(BaseModel):
    """One loaded posterior."""

    name: str
    variables: list[VariableInfo]
    n_theories: int
    fingerprint: str
    weighting: str
    principles: list[str] = Field(description="Principles of its harm spec (empty: none).")


class PosteriorsOut(BaseModel):
    """What the service has loaded."""

    posteriors: list[PosteriorInfo]


class AuditRecord(BaseModel):
    """One committed decision."""

    id: int
    time: str
    action: str
    context: str
    decision: str
    rule: str
    threshold: float
    estimate: float | None
    posterior: str
    verdict: dict[str, Any]


class AuditPage(BaseModel):
    """Audit records, oldest first; pass ``next_after_id`` as ``after_id`` for the next page."""

    records: list[AuditRecord]
    next_after_id: int


class DecisionsPage(BaseModel):
    """Audit records, newest first; pass ``next_before_id`` as ``before_id`` for older ones."""

    records: list[AuditRecord]
    next_before_id: int | None = Field(description="null when there are no older records.")


class DecisionOut(AuditRecord):
    """One committed decision with its explanation in words (``Verdict.explain()``)."""

    explanation: str


class WhoAmIOut(BaseModel):
    """The calling key: its public id and scopes."""

    key_id: str
    scopes: list[str]


class EdgesOut(BaseModel):
    """The edge marginals of a posterior: ``edge_marginals[i][j] = P(i -> j | data)``."""

    name: str
    variables: list[str]
    edge_marginals: list[list[float]]
    n_theories: int
    weighting: str


class TheoryEdge(BaseModel):
    """One edge of a theory: its posterior probability, effect size and mechanism."""

    parent: str
    child: str
    probability: float = Field(description="P(parent -> child | data) over all theories.")
    measure: str | None = Field(
        description="'weight' (linear-Gaussian) or 'strength' (categorical: total variation)."
    )
    value: float | None
    interval: list[float] | None = Field(description="Credible interval of the effect size.")
    mechanism: str | None = Field(description="The child's mechanism in this theory, in words.")


class TheoryOut(BaseModel):
    """One theory: its rank (0 is the most probable), posterior weight and edges."""

    rank: int
    weight: float
    edges: list[TheoryEdge]


class TheoriesOut(BaseModel):
    """The most probable theories of a posterior."""

    name: str
    variables: list[str]
    n_theories: int
    weighting: str
    level: float = Field(description="Mass of the effect sizes' credible intervals.")
    mass: float = Field(description="Total posterior weight of the theories listed.")
    theories: list[TheoryOut]


class HealthOut(BaseModel):
    """Liveness and whether the audit store answers."""

    status: Literal["ok", "unavailable"]
    audit: bool
    posteriors: int


class ErrorOut(BaseModel):
    """An error: a message, or pydantic's list of validation errors."""

    detail: str | list[dict[str, Any]]
