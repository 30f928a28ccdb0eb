"""API keys of the guard service: random bearer tokens with scopes, stored only as digests.

A key is ``sci_<id>_<secret>``: a public 12-hex-digit id and 256 random bits
(:func:`secrets.token_urlsafe`). The store keeps the id, the SHA-256 digest of the whole token
and the scopes, never the token itself; the token is shown once, when it is created. A fast
unsalted digest is safe here because the token is random and 256 bits long (no dictionary to
try); checks use :func:`hmac.compare_digest`. Tokens are never logged.

Scopes: ``decide`` (POST /v1/decide), ``ask`` (POST /v1/ask and a posterior's edges and
theories), ``admin`` (GET /v1/audit and /v1/decisions). Any valid key may list the loaded
posteriors and ask who it is (GET /v1/whoami). The table ``api_keys`` lives in the same database as
the audit store.

References
----------
.. [1] OWASP, "Authentication Cheat Sheet" and RFC 6750, "The OAuth 2.0 Authorization
   Framework: Bearer Token Usage" (the ``Authorization: Bearer`` header and 401/403).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from scientist.errors import InputError
from scientist.guard.audit import AuditError, make_engine

__all__ = ["SCOPES", "KeyStore", "Principal"]

SCOPES = ("decide", "ask", "admin")
_TOKEN = re.compile(r"^sci_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")

_META = sa.MetaData()
KEYS = sa.Table(
    "api_keys",
    _META,
    sa.Column("id", sa.String(12), primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("scopes", sa.String(64), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked", sa.DateTime(timezone=True), nullable=True),
)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's public id and its scopes."""

    key_id: str
    scopes: frozenset[str]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class KeyStore:
    """Create, check, list and revoke API keys.

    Parameters
    ----------
    url
        A SQLAlchemy URL (the audit store's) or an engine.
    cache_seconds
        How long a checked key is remembered before the database is asked again (so a revoked
        key stops working within this time).
    """

    def __init__(self, url: str | sa.Engine, *, cache_seconds: float = 5.0) -> None:
        try:
            self.engine = make_engine(url) if isinstance(url, str) else url
            _META.create_all(self.engine)
        except (sa.exc.SQLAlchemyError, ValueError) as exc:
            raise AuditError(f"Cannot open the key store {url!r}: {exc}") from None
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def create(self, scopes: list[str] | tuple[str, ...], name: str = "") -> tuple[str, str]:
        """Make a key with ``scopes``; returns ``(key_id, token)``. The token is not stored."""
        bad = [s for s in scopes if s not in SCOPES]
        if not scopes or bad:
            raise InputError(
                f"scope={bad or list(scopes)!r} is invalid: expected one or more of {list(SCOPES)}."
            )
        if len(name) > 128:
            raise InputError(f"name has {len(name)} characters; at most 128 are allowed.")
        key_id = secrets.token_hex(6)
        token = f"sci_{key_id}_{secrets.token_urlsafe(32)}"
        row = {
            "id": key_id,
            "digest": _digest(token),
            "scopes": " ".join(sorted(set(scopes))),
            "name": name,
            "created": dt.datetime.now(dt.UTC),
            "revoked": None,
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(KEYS.insert().values(**row))
        except sa.exc.SQLAlchemyError as exc:
            raise AuditError(f"Cannot write the key store: {exc}") from None
        return key_id, token

    def cached(self, token: str) -> Principal | None:
        """The principal of ``token`` if it was checked less than ``cache_seconds`` ago."""
        digest = _digest(token)
        with self._lock:
            hit = self._cache.get(digest)
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    def verify(self, token: str) -> Principal | None:
        """The principal of a valid, unrevoked token; None otherwise."""
        match = _TOKEN.match(token)
        if match is None:
            return None
        hit = self.cached(token)
        if hit is not None:
            return hit
        digest = _digest(token)
        now = time.monotonic()
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    sa.select(KEYS.c.digest, KEYS.c.scopes, KEYS.c.revoked).where(
                        KEYS.c.id == match.group(1)
                    )
                ).first()
        except sa.exc.SQLAlchemyError as exc:
            raise AuditError(f"Cannot read the key store: {exc}") from None
        if row is None or row.revoked is not None or not hmac.compare_digest(row.digest, digest):
            with self._lock:
                self._cache.pop(digest, None)
            return None
        principal = Principal(match.group(1), frozenset(row.scopes.split()))
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now + self.cache_seconds, principal)
        return principal

    def revoke(self, key_id: str) -> bool:
        """Revoke a key by its id; False if there is no such active key."""
        try:
            with self.engine.begin() as conn:
                result = conn.execute(
                    KEYS.update()
                    .where(KEYS.c.id == key_id, KEYS.c.revoked.is_(None))
                    .values(revoked=dt.datetime.now(dt.UTC))
                )
        except sa.exc.SQLAlchemyError as exc:
            raise AuditError(f"Cannot write the key store: {exc}") from None
        with self._lock:
            self._cache.clear()
        return bool(result.rowcount)

    def list(self) -> list[dict[str, Any]]:
        """Every key's id, name, scopes, creation and revocation time (never a digest)."""
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    sa.select(
                        KEYS.c.id, KEYS.c.name, KEYS.c.scopes, KEYS.c.created, KEYS.c.revoked
                    ).order_by(KEYS.c.created)
                ).all()
        except sa.exc.SQLAlchemyError as exc:
            raise AuditError(f"Cannot read the key store: {exc}") from None
        return [
            {
                "id": r.id,
                "name": r.name,
                "scopes": r.scopes.split(),
                "created": r.created.isoformat(),
                "revoked": None if r.revoked is None else r.revoked.isoformat(),
            }
            for r in rows
        ]

    def count_active(self) -> int:
        """The number of unrevoked keys."""
        try:
            with self.engine.connect() as conn:
                return int(
                    conn.execute(
                        sa.select(sa.func.count()).select_from(KEYS).where(KEYS.c.revoked.is_(None))
                    ).scalar_one()
                )
        except sa.exc.SQLAlchemyError as exc:
            raise AuditError(f"Cannot read the key store: {exc}") from None
