"""The query language of the inference machine, parsed into typed objects.

Grammar (whitespace is free; names and states are identifiers, numbers or quoted strings)::

    query       := prob | expectation | structural
    prob        := "P" "(" event ("," event)* [ "|" condition ("," condition)* ] ")"
    expectation := "E" "[" NAME [ "|" condition ("," condition)* ] "]"
    structural  := "P" "(" NAME ("->" | "~>") NAME ")"
    condition   := "do" "(" NAME "=" value ("," NAME "=" value)* ")" | NAME "=" value
    event       := NAME ("=" | "!=" | "<" | "<=" | ">" | ">=") value

Examples: ``P(Cancer=yes | do(Smoker=no), Age=old)``, ``E[Erk | do(Raf=1.5)]``,
``P(Raf -> Mek)`` (a direct edge), ``P(Raf ~> Erk)`` (Raf is a causal ancestor of Erk),
``P(Temp > 80 | do(Valve=1))``.

A parse error says where (the column, with a caret under the query) and what was expected.

References
----------
.. [1] J. Pearl, *Causality*, 2nd ed., Cambridge University Press, 2009 (the do-operator).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from scientist.errors import QueryError

__all__ = ["EdgeQuery", "Event", "ExpectationQuery", "ProbabilityQuery", "Query", "parse_query"]

Value = str | float


@dataclass(frozen=True)
class Event:
    """``name op value``; ``op`` is one of ``= != < <= > >=``."""

    name: str
    op: str
    value: Value

    def __str__(self) -> str:
        return f"{self.name}{'' if self.op == '=' else ' '}{self.op}{'' if self.op == '=' else ' '}{_fmt(self.value)}"


@dataclass(frozen=True)
class ProbabilityQuery:
    """``P(targets | do(interventions), evidence)``."""

    targets: tuple[Event, ...]
    do: tuple[tuple[str, Value], ...] = ()
    evidence: tuple[tuple[str, Value], ...] = ()

    def __str__(self) -> str:
        return f"P({', '.join(map(str, self.targets))}{_conditions(self.do, self.evidence)})"


@dataclass(frozen=True)
class ExpectationQuery:
    """``E[target | do(interventions), evidence]`` for a continuous target."""

    target: str
    do: tuple[tuple[str, Value], ...] = ()
    evidence: tuple[tuple[str, Value], ...] = ()

    def __str__(self) -> str:
        return f"E[{self.target}{_conditions(self.do, self.evidence)}]"


@dataclass(frozen=True)
class EdgeQuery:
    """``P(source -> target)`` (``kind='edge'``) or ``P(source ~> target)`` (``'ancestor'``)."""

    source: str
    target: str
    kind: str

    def __str__(self) -> str:
        return f"P({self.source} {'->' if self.kind == 'edge' else '~>'} {self.target})"


Query = ProbabilityQuery | ExpectationQuery | EdgeQuery


def _fmt(v: Value) -> str:
    if isinstance(v, float):
        return repr(int(v)) if v.is_integer() else repr(v)
    return v if re.fullmatch(r"[A-Za-z_][\w.\-/]*", v) else repr(v)


def _conditions(do: tuple[tuple[str, Value], ...], evidence: tuple[tuple[str, Value], ...]) -> str:
    parts = []
    if do:
        parts.append("do(" + ", ".join(f"{n}={_fmt(v)}" for n, v in do) + ")")
    parts.extend(f"{n}={_fmt(v)}" for n, v in evidence)
    return " | " + ", ".join(parts) if parts else ""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<arrow>->|~>)
      | (?P<op><=|>=|!=|=|<|>)
      | (?P<punct>[()\[\],|])
      | (?P<string>"[^"]*"|'[^']*')
      | (?P<number>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?![\w.\-/]))
      | (?P<name>[A-Za-z_0-9][\w.\-/]*)
    )""",
    re.VERBOSE,
)


@dataclass
class _Tok:
    kind: str
    text: str
    pos: int


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise _error(
                text,
                pos + len(text[pos:]) - len(text[pos:].lstrip()),
                "a name, a value or one of ( ) [ ] , | = -> ~>",
            )
        kind = m.lastgroup or ""
        start = m.start(kind)
        toks.append(_Tok(kind, m.group(kind), start))
        pos = m.end()
    toks.append(_Tok("end", "", len(text)))
    return toks


def _error(text: str, pos: int, expected: str) -> QueryError:
    found = text[pos:].strip()[:12] or "the end of the query"
    return QueryError(
        f"Cannot parse the query at column {pos + 1}: expected {expected}, found {found!r}.\n"
        f"  {text}\n  {' ' * pos}^"
    )


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def take(self, text: str | None = None, kind: str | None = None, expected: str = "") -> _Tok:
        t = self.tok
        if (text is not None and t.text != text) or (kind is not None and t.kind != kind):
            raise _error(self.text, t.pos, expected or repr(text))
        self.i += 1
        return t

    def name(self) -> str:
        t = self.tok
        if t.kind == "string":
            self.i += 1
            return t.text[1:-1]
        if t.kind in ("name", "number"):
            self.i += 1
            return t.text
        raise _error(self.text, t.pos, "a variable name")

    def value(self) -> Value:
        t = self.tok
        if t.kind == "number":
            number = float(t.text)
            if not math.isfinite(number):
                raise _error(self.text, t.pos, "a finite number (this one overflows a float)")
            self.i += 1
            return number
        if t.kind == "string":
            self.i += 1
            return t.text[1:-1]
        if t.kind == "name":
            self.i += 1
            return t.text
        raise _error(self.text, t.pos, "a value (a state or a number)")

    def conditions(
        self, closer: str
    ) -> tuple[tuple[tuple[str, Value], ...], tuple[tuple[str, Value], ...]]:
        do: list[tuple[str, Value]] = []
        evidence: list[tuple[str, Value]] = []
        while True:
            if self.tok.text == "do" and self.toks[self.i + 1].text == "(":
                self.i += 2
                while True:
                    n = self.name()
                    self.take("=", expected="'=' after the intervened variable")
                    do.append((n, self.value()))
                    if self.tok.text == ",":
                        self.i += 1
                        continue
                    self.take(")", expected="',' or ')' closing do(...)")
                    break
            else:
                n = self.name()
                self.take("=", expected="'=' (evidence is NAME=value)")
                evidence.append((n, self.value()))
            if self.tok.text == ",":
                self.i += 1
                continue
            if self.tok.text != closer:
                raise _error(self.text, self.tok.pos, f"',' or '{closer}'")
            return tuple(do), tuple(evidence)

    def parse(self) -> Query:
        head = self.tok
        if head.text not in ("P", "E"):
            raise _error(self.text, head.pos, "'P(' or 'E['")
        self.i += 1
        if head.text == "E":
            self.take("[", expected="'[' after E")
            target = self.name()
            do: tuple[tuple[str, Value], ...] = ()
            ev: tuple[tuple[str, Value], ...] = ()
            if self.tok.text == "|":
                self.i += 1
                do, ev = self.conditions("]")
            self.take("]", expected="'|' or ']'")
            query: Query = ExpectationQuery(target, do, ev)
        else:
            self.take("(", expected="'(' after P")
            first = self.name()
            if self.tok.kind == "arrow":
                kind = "edge" if self.tok.text == "->" else "ancestor"
                self.i += 1
                second = self.name()
                self.take(")", expected="')' closing the structural query")
                query = EdgeQuery(first, second, kind)
            else:
                targets = [self._event(first)]
                while self.tok.text == ",":
                    self.i += 1
                    targets.append(self._event(self.name()))
                do, ev = (), ()
                if self.tok.text == "|":
                    self.i += 1
                    do, ev = self.conditions(")")
                self.take(")", expected="',', '|' or ')'")
                query = ProbabilityQuery(tuple(targets), do, ev)
        if self.tok.kind != "end":
            raise _error(self.text, self.tok.pos, "the end of the query")
        return query

    def _event(self, name: str) -> Event:
        t = self.tok
        if t.kind != "op":
            raise _error(
                self.text,
                t.pos,
                f"an operator after {name!r}: '=' (P(Y=y)), '<', '>', ... or '->' / '~>'",
            )
        self.i += 1
        return Event(name, t.text, self.value())


def parse_query(text: str) -> Query:
    """Parse a query string into a :class:`ProbabilityQuery`, :class:`ExpectationQuery` or :class:`EdgeQuery`.

    Raises
    ------
    QueryError
        With the column and what was expected there.
    """
    if not isinstance(text, str) or not text.strip():
        raise QueryError(
            f"query={text!r} is invalid: expected a string such as 'P(Y=1 | do(X=0))'."
        )
    return _Parser(text).parse()
