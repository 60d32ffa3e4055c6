"""Who may read and write the report page: a signed session cookie and CSRF tokens.

With a token configured (always, when the page is reachable beyond loopback), the analyst signs in once
through the form at /signin; the answer sets an HttpOnly, SameSite=Strict session cookie (Secure over
https). Scripts may send `Authorization: Bearer <token>` instead. Without a token (loopback only), reads
and writes are open, but writes are still refused when the app is told it is reachable beyond loopback.

Every POST carries a CSRF token (synchronizer token): the HMAC of the session cookie's nonce, so a page
of another site can neither read nor forge it. Every browser gets a session cookie on its first visit,
anonymous until it signs in; signing in starts a new session (a planted cookie is worth nothing).

Cookie value: `<level>.<nonce>.<issued>.<mac>`, level "a" (anonymous) or "s" (signed in), issued the Unix
time it was made, mac = HMAC-SHA256 over `<level>.<nonce>.<issued>` with a key derived from the token and the
session secret (INFLUENCERS_SESSION_SECRET; empty: the token alone, so that page replicas sharing a token share
sessions; a random key per process when there is no token). A new secret, or a new token, ends every session.
A session expires `lifetime_s` after it was issued (INFLUENCERS_SESSION_LIFETIME_S): its cookie then reads as
no session, and the analyst signs in again. Signing out revokes the session on the server: its nonce is kept
(in this process's memory) until the cookie would have expired anyway, so a copy of the cookie taken before is
worth nothing either.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from services.analytics.web.local_paths import local_path
from services.common.rpc import token_matches

SESSION_COOKIE = "influencers_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
ANONYMOUS, SIGNED_IN = "a", "s"
_MAX_COOKIE_CHARS = 200  # a real cookie is ~90; anything longer is not ours
SESSION_LIFETIME_S = 12 * 3600.0
_MAX_REVOKED = 100_000  # sign-outs held at once (each ~100 bytes); past it the oldest go first


@dataclass(frozen=True)
class Session:
    level: str  # ANONYMOUS or SIGNED_IN
    nonce: str  # 32 hex digits

    @property
    def signed_in(self) -> bool:
        return self.level == SIGNED_IN


class Revocations(Protocol):
    """Where sign-outs are kept for every replica (services/analytics/store_sessions.py)."""

    def revoke(self, nonce: str, until: float) -> None: ...

    def is_revoked(self, nonce: str) -> bool: ...


class Keys:
    """Signs and checks session cookies and CSRF tokens with one secret key."""

    def __init__(self, token: str, lifetime_s: float = SESSION_LIFETIME_S,
                 clock: Callable[[], float] = time.time, secret: str = "",
                 shared: Revocations | None = None) -> None:
        """`shared`: the revocation list every page replica reads (the analytics database); without it a
        sign-out is known to this process only."""
        self._token = token
        self._lifetime_s = lifetime_s
        self._clock = clock
        seed = token.encode("utf-8", "surrogateescape") if token else secrets.token_bytes(32)
        salt = secret.encode("utf-8", "surrogateescape")
        self._key = hmac.new(seed, b"influencers report page sessions\0" + salt, hashlib.sha256).digest()
        self._revoked: dict[str, float] = {}  # nonce -> Unix time its cookie expires anyway
        self._lock = threading.Lock()
        self._shared = shared

    def token_matches(self, given: str) -> bool:
        """Constant-time check of a token typed in the sign-in form or sent as a Bearer header."""
        if not self._token or not given:
            return False
        return token_matches(given, self._token.encode("utf-8", "surrogateescape"))

    def new_session(self, level: str) -> tuple[Session, str]:
        """A fresh session and its cookie value."""
        session = Session(level, secrets.token_hex(16))
        signed = f"{level}.{session.nonce}.{int(self._clock())}"
        return session, f"{signed}.{self._mac(signed)}"

    def read_session(self, cookie: str | None) -> Session | None:
        """The session of a cookie value, or None when it is missing, malformed, not signed by us or expired."""
        if not cookie or len(cookie) > _MAX_COOKIE_CHARS:
            return None
        parts = cookie.split(".")
        if len(parts) != 4 or parts[0] not in (ANONYMOUS, SIGNED_IN) or not parts[2].isdigit():
            return None
        level, nonce, issued, mac = parts
        if not hmac.compare_digest(mac.encode(), self._mac(f"{level}.{nonce}.{issued}").encode()):
            return None
        if not 0 <= self._clock() - int(issued) <= self._lifetime_s:
            return None
        with self._lock:
            if nonce in self._revoked:
                return None
        if self._shared is not None and self._shared.is_revoked(nonce):
            return None
        return Session(level, nonce)

    def revoke(self, session: Session) -> None:
        """Ends `session` on the server (sign-out): its cookie reads as no session from now on."""
        now = self._clock()
        with self._lock:
            for nonce in [n for n, until in self._revoked.items() if until < now]:
                del self._revoked[nonce]  # expired cookies are refused by their time already
            self._revoked[session.nonce] = now + self._lifetime_s
            while len(self._revoked) > _MAX_REVOKED:
                del self._revoked[next(iter(self._revoked))]
        if self._shared is not None:
            self._shared.revoke(session.nonce, now + self._lifetime_s)

    def csrf_token(self, session: Session) -> str:
        """The CSRF token of a session (hex): forms carry it in CSRF_FIELD, scripts in CSRF_HEADER."""
        return self._mac("csrf." + session.nonce)

    def csrf_matches(self, session: Session | None, given: str | None) -> bool:
        if session is None or not given or len(given) > _MAX_COOKIE_CHARS:
            return False
        return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), self.csrf_token(session).encode())

    def _mac(self, message: str) -> str:
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()


def safe_next(target: str | None) -> str:
    """Where to go after signing in or an undo: a path on this site only (local_paths.local_path), "/" for
    anything else, such as `//evil.example` or `https://...`, which would make the form an open redirect."""
    return local_path(target) or "/"
