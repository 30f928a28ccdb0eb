"""The audit store: every guard decision, appended through SQLAlchemy before it is returned.

SQLite by default (``sqlite:///audit.db``), any SQLAlchemy URL otherwise (PostgreSQL included).
A record is committed in its own transaction; if that fails, :class:`AuditError` is raised and
the guard returns no decision (never a silent allow).

References
----------
.. [1] SQLAlchemy 2.0 documentation, "Working with Transactions and the DBAPI".
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa

from scientist.errors import ScientistError

__all__ = ["AuditError", "AuditStore"]


class AuditError(ScientistError, RuntimeError):
    """The audit store could not record a decision, so no decision is returned."""


_META = sa.MetaData()
DECISIONS = sa.Table(
    "decisions",
    _META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("time", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("context", sa.Text, nullable=False),
    sa.Column("decision", sa.String(16), nullable=False, index=True),
    sa.Column("rule", sa.String(64), nullable=False),
    sa.Column("threshold", sa.Float, nullable=False),
    sa.Column("estimate", sa.Float, nullable=True),
    sa.Column("posterior", sa.String(64), nullable=False),
    sa.Column("verdict", sa.Text, nullable=False),
)


class AuditStore:
    """Append-only store of decisions.

    Parameters
    ----------
    url
        A SQLAlchemy database URL; default a SQLite file ``audit.db`` in the working directory.
    """

    def __init__(self, url: str = "sqlite:///audit.db") -> None:
        self.url = url
        try:
            self.engine = sa.create_engine(url, future=True)
            _META.create_all(self.engine)
        except (sa.exc.SQLAlchemyError, ValueError) as exc:
            raise AuditError(f"Cannot open the audit store {url!r}: {exc}") from None

    def append(self, record: dict[str, Any]) -> int:
        """Commit one decision; returns its id. Raises :class:`AuditError` on any failure."""
        row = {
            "time": dt.datetime.now(dt.UTC),
            "action": record["action"],
            "context": record["context"],
            "decision": record["decision"],
            "rule": record["rule"],
            "threshold": float(record["threshold"]),
            "estimate": record.get("estimate"),
            "posterior": record["posterior"],
            "verdict": json.dumps(record["verdict"]),
        }
        try:
            with self.engine.begin() as conn:
                result = conn.execute(DECISIONS.insert().values(**row))
                key = result.inserted_primary_key
                assert key is not None
                return int(key[0])
        except sa.exc.SQLAlchemyError as exc:
            raise AuditError(
                f"The audit store {self.url!r} failed; no decision is returned: {exc}"
            ) from None

    def tail(self, limit: int = 20, since: dt.datetime | None = None) -> list[dict[str, Any]]:
        """The latest ``limit`` records (oldest first), optionally only those after ``since``."""
        query = sa.select(DECISIONS).order_by(DECISIONS.c.id.desc()).limit(limit)
        if since is not None:
            query = query.where(DECISIONS.c.time > since)
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(query).mappings().all()
        except sa.exc.SQLAlchemyError as exc:
            raise AuditError(f"Cannot read the audit store {self.url!r}: {exc}") from None
        out = []
        for r in reversed(rows):
            d = dict(r)
            d["time"] = d["time"].isoformat()
            d["verdict"] = json.loads(d["verdict"])
            out.append(d)
        return out
