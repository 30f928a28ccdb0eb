"""The audit store: every guard decision, appended through SQLAlchemy before it is returned.

SQLite by default (``sqlite:///audit.db``), any SQLAlchemy URL otherwise (PostgreSQL included).
A record is committed in its own transaction; if that fails, :class:`AuditError` is raised and
the guard returns no decision (never a silent allow).

Concurrent writers (threads, or the worker processes of ``scientist serve``) lose nothing: a
SQLite file is opened in write-ahead-log mode with ``synchronous=FULL`` (a committed record
survives a crash) and a busy timeout, so a writer waits for the lock instead of failing, and an
append that still finds the database locked is retried; PostgreSQL serialises the inserts itself.

References
----------
.. [1] SQLAlchemy 2.0 documentation, "Working with Transactions and the DBAPI".
"""

from __future__ import annotations

import datetime as dt
import json
import time
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
            self.engine = make_engine(url)
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
        for attempt in range(_RETRIES + 1):
            try:
                with self.engine.begin() as conn:
                    result = conn.execute(DECISIONS.insert().values(**row))
                    key = result.inserted_primary_key
                    assert key is not None
                    return int(key[0])
            except sa.exc.OperationalError as exc:
                if attempt < _RETRIES and _locked(exc):
                    time.sleep(0.05 * 2**attempt)
                    continue
                raise AuditError(
                    f"The audit store {self.url!r} failed; no decision is returned: {exc}"
                ) from None
            except sa.exc.SQLAlchemyError as exc:
                raise AuditError(
                    f"The audit store {self.url!r} failed; no decision is returned: {exc}"
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def tail(self, limit: int = 20, since: dt.datetime | None = None) -> list[dict[str, Any]]:
        """The latest ``limit`` records (oldest first), optionally only those after ``since``.

        A naive ``since`` is taken as UTC; times come back in UTC with their offset.
        """
        query = sa.select(DECISIONS).order_by(DECISIONS.c.id.desc()).limit(limit)
        if since is not None:
            query = query.where(self._after(since))
        return list(reversed(self._read(query)))

    def page(
        self, *, after_id: int = 0, since: dt.datetime | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Up to ``limit`` records with ``id > after_id`` (and newer than ``since``), oldest first.

        For reading the store forward in pages: pass the last ``id`` seen as the next
        ``after_id``. A naive ``since`` is taken as UTC; times come back in UTC with their
        offset, whatever the backend.
        """
        query = (
            sa.select(DECISIONS)
            .where(DECISIONS.c.id > after_id)
            .order_by(DECISIONS.c.id)
            .limit(limit)
        )
        if since is not None:
            query = query.where(self._after(since))
        return self._read(query)

    def _after(self, since: dt.datetime) -> sa.ColumnElement[bool]:
        """``time > since``, with a naive ``since`` taken as UTC, on either backend."""
        since = since.replace(tzinfo=dt.UTC) if since.tzinfo is None else since.astimezone(dt.UTC)
        if self.engine.dialect.name == "sqlite":  # stored as naive UTC text
            since = since.replace(tzinfo=None)
        return DECISIONS.c.time > since

    def recent(
        self, *, before_id: int | None = None, decision: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Up to ``limit`` records, newest first, with ``id < before_id`` and this ``decision``.

        For reading the store backwards in pages (a dashboard's "latest decisions"): pass the
        last ``id`` seen as the next ``before_id``. ``decision`` is ``allow``, ``block``,
        ``escalate`` or None for all.
        """
        query = sa.select(DECISIONS).order_by(DECISIONS.c.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(DECISIONS.c.id < before_id)
        if decision is not None:
            query = query.where(DECISIONS.c.decision == decision)
        return self._read(query)

    def get(self, record_id: int) -> dict[str, Any] | None:
        """The record with this id, or None if there is none."""
        rows = self._read(sa.select(DECISIONS).where(DECISIONS.c.id == record_id))
        return rows[0] if rows else None

    def _read(self, query: sa.Select[Any]) -> list[dict[str, Any]]:
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(query).mappings().all()
        except sa.exc.SQLAlchemyError as exc:
            raise AuditError(f"Cannot read the audit store {self.url!r}: {exc}") from None
        out = []
        for r in rows:
            d = dict(r)
            t = d["time"]
            d["time"] = (t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t).isoformat()
            d["verdict"] = json.loads(d["verdict"])
            out.append(d)
        return out

    def count(self) -> int:
        """The number of records in the store."""
        try:
            with self.engine.connect() as conn:
                return int(
                    conn.execute(sa.select(sa.func.count()).select_from(DECISIONS)).scalar_one()
                )
        except sa.exc.SQLAlchemyError as exc:
            raise AuditError(f"Cannot read the audit store {self.url!r}: {exc}") from None

    def ping(self) -> bool:
        """Whether the store answers a trivial query now (for health checks)."""
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.select(DECISIONS.c.id).limit(1))
            return True
        except sa.exc.SQLAlchemyError:
            return False

    def open_pool(self) -> int:
        """Open the pool's connections now instead of on first use; returns how many opened.

        On a server database each new connection costs a server process and a handshake, and a
        pool that grows lazily makes the first burst pay for a dozen at once (a stall of up to
        0.7 s at 100 decisions/s). A service calls this when it starts. Nothing to do on
        SQLite. Best effort: a store that is down is reported by the calls that need it.
        """
        if self.engine.dialect.name == "sqlite":
            return 0
        conns = []
        try:
            for _ in range(POOL_SIZE):
                conns.append(self.engine.connect())
        except sa.exc.SQLAlchemyError:
            pass
        finally:
            for conn in conns:
                conn.close()
        return len(conns)

    def close(self) -> None:
        """Close the store's pooled connections."""
        self.engine.dispose()


_RETRIES = 5


def _locked(exc: sa.exc.OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "locked" in text or "busy" in text


# Connections a server-backed engine keeps open, and no more. Opening a PostgreSQL connection
# (a new server process and a SCRAM handshake) took 12-60 ms of CPU on a loaded 2-core machine,
# against a few milliseconds for a commit. SQLAlchemy's default pool keeps 5 and opens up to 10
# more under a burst, closing each as it is returned: every burst then paid for new connections
# and a burst at 100 decisions/s stalled the service for up to a second. A fixed pool opens its
# connections once (lazily) and keeps them; callers beyond it wait for a free one.
POOL_SIZE = 16


def make_engine(url: str) -> sa.Engine:
    """An engine; SQLite files in WAL mode with FULL sync and a busy timeout.

    Other backends (PostgreSQL) get a fixed pool of :data:`POOL_SIZE` connections, checked
    before use.
    """
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=0)
    engine = sa.create_engine(url, connect_args={"timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        try:
            if parsed.database and parsed.database != ":memory:":
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA busy_timeout=30000")
        finally:
            cur.close()

    return engine
