"""Admin login for the browser and the API: signed session cookies, HTTP Basic, CSRF tokens.

The session cookie carries no secret of its own: it is a random session id, the session
generation and the expiry, signed with HMAC-SHA256 under the facade's persisted session secret,
so it survives a restart. Revocation is server-side and persisted too (the facade's session
ledger): a logout voids that session id, a password change starts a new generation. The CSRF
token is derived from the session id with the same secret, so the page can carry it and the
server can check it without storage.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from starlette.requests import HTTPConnection
from starlette.responses import Response

log = logging.getLogger(__name__)

SESSION_COOKIE = "ampshare_session"
LOGIN_COOKIE = "ampshare_login"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SESSION_LIFETIME_S = 30 * 24 * 3600
#: how long a verified HTTP Basic credential is remembered, so that API clients polling every
#: second do not pay a password hash per request
BASIC_CACHE_S = 60.0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Identity:
    """Who made a request: via "cookie" (needs CSRF on changes) or "basic"; `user` is the
    user id of a self-service login (None: the admin)."""

    via: str
    session_id: str = ""
    user: str | None = None


class Signer:
    """Signs and checks small JSON payloads with HMAC-SHA256 (stdlib only)."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("session secret too short")
        self._key = hashlib.sha256(b"ampshare-cookie|" + secret).digest()
        self._csrf_key = hashlib.sha256(b"ampshare-csrf|" + secret).digest()

    def sign(self, payload: dict[str, object]) -> str:
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        mac = hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest()
        return f"{body}.{_b64(mac)}"

    def unsign(self, token: str) -> dict[str, object] | None:
        body, sep, mac = token.partition(".")
        if not sep or not body or not mac:
            return None
        want = hmac.new(self._key, body.encode("ascii", "replace"), hashlib.sha256).digest()
        try:
            got = _unb64(mac)
            if not hmac.compare_digest(want, got):
                return None
            data = json.loads(_unb64(body))
        except (ValueError, binascii.Error):
            return None
        return data if isinstance(data, dict) else None

    def csrf_for(self, purpose: str, nonce: str) -> str:
        return _b64(hmac.new(self._csrf_key, f"{purpose}|{nonce}".encode(), "sha256").digest())


class SessionLedger(Protocol):
    """Where ended sessions are kept; the facade keeps it in the stored settings."""

    def session_generation(self) -> int: ...

    def session_revoked(self, session_id: str) -> bool: ...

    async def end_session(self, session_id: str, expires: int) -> None: ...

    async def end_all_sessions(self) -> None: ...


@dataclass
class MemoryLedger:
    """A ledger that lives only as long as the process (for tests and tools)."""

    generation: int = 0
    revoked: set[str] = field(default_factory=set)

    def session_generation(self) -> int:
        return self.generation

    def session_revoked(self, session_id: str) -> bool:
        return session_id in self.revoked

    async def end_session(self, session_id: str, expires: int) -> None:
        self.revoked.add(session_id)

    async def end_all_sessions(self) -> None:
        self.generation += 1
        self.revoked.clear()


class Authenticator:
    """Decides who a request is. One per app; holds only the short Basic credential cache."""

    def __init__(
        self,
        secret: bytes,
        verify: Callable[[str, str], Awaitable[bool]],
        clock: Callable[[], float] = time.time,
        ledger: SessionLedger | None = None,
        verify_user: Callable[[str, str, str], Awaitable[str | None]] | None = None,
    ) -> None:
        self.signer = Signer(secret)
        self._verify = verify
        self._verify_user = verify_user
        self._clock = clock
        self._ledger: SessionLedger = ledger or MemoryLedger()
        self._basic_ok: dict[bytes, float] = {}

    # -- sessions ---------------------------------------------------------------------------

    def new_session(self, user: str | None = None) -> tuple[str, str]:
        """A fresh signed cookie value and the session id it carries (`user`: a user's own
        login, not the admin's)."""
        sid = secrets.token_urlsafe(18)
        now = self._clock()
        payload: dict[str, object] = {
            "sid": sid,
            "gen": self._ledger.session_generation(),
            "exp": int(now) + SESSION_LIFETIME_S,
        }
        if user is not None:
            payload["usr"] = user
        return self.signer.sign(payload), sid

    def session_user(self, cookie: str | None) -> str | None:
        """The user id of a user's session cookie (None: none, or the admin's)."""
        if self._session(cookie) is None:
            return None
        data = self.signer.unsign(cookie or "") or {}
        user = data.get("usr")
        return user if isinstance(user, str) else None

    def _session(self, cookie: str | None) -> tuple[str, int] | None:
        """The session id and expiry of a valid, unexpired, not revoked cookie."""
        data = self.signer.unsign(cookie) if cookie else None
        if data is None:
            return None
        sid, exp, gen = data.get("sid"), data.get("exp"), data.get("gen")
        if not isinstance(sid, str) or not isinstance(exp, int) or exp < self._clock():
            return None
        if gen != self._ledger.session_generation() or self._ledger.session_revoked(sid):
            return None  # logged out, or issued before the password was changed
        return sid, exp

    def session_id(self, cookie: str | None) -> str | None:
        found = self._session(cookie)
        return found[0] if found else None

    async def end_session(self, cookie: str | None) -> None:
        """Logout: the cookie stops working here and after a restart."""
        found = self._session(cookie)
        if found is not None:
            await self._ledger.end_session(*found)

    async def revoke_sessions(self) -> None:
        """Ends every session issued until now."""
        await self._ledger.end_all_sessions()

    def csrf_token(self, identity: Identity) -> str:
        return self.signer.csrf_for("session", identity.session_id) if identity.session_id else ""

    def check_csrf(self, identity: Identity, token: str | None) -> bool:
        if identity.via != "cookie":
            return True
        want = self.csrf_token(identity)
        return bool(token) and hmac.compare_digest(want, token or "")

    # -- login form CSRF (before there is a session) -----------------------------------------

    def login_nonce(self) -> str:
        return secrets.token_urlsafe(18)

    def login_csrf(self, nonce: str) -> str:
        return self.signer.csrf_for("login", nonce)

    def check_login_csrf(self, nonce: str | None, token: str | None) -> bool:
        if not nonce or not token:
            return False
        return hmac.compare_digest(self.login_csrf(nonce), token)

    # -- who is it ---------------------------------------------------------------------------

    async def identify(self, conn: HTTPConnection) -> Identity | None:
        """Cookie first, then HTTP Basic. Raises the facade's Throttled from verify."""
        cookie = conn.cookies.get(SESSION_COOKIE)
        sid = self.session_id(cookie)
        if sid is not None:
            return Identity("cookie", sid, self.session_user(cookie))
        header = conn.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic" or not value:
            return None
        try:
            user, sep, password = (
                base64.b64decode(value.strip(), validate=True).decode().partition(":")
            )
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
        if not sep:
            return None
        client = conn.client.host if conn.client else "unknown"
        if user != "admin":
            return await self._basic_user(user, password, client)
        # remembered per client, so another client guessing is still throttled by the facade
        remembered = f"{client}|{value.strip()}"
        if self._basic_cached(remembered):
            return Identity("basic")
        if not await self._verify(password, client):
            log.warning("failed API login from %s", client)
            return None
        self._remember_basic(remembered)
        return Identity("basic")

    async def _basic_user(self, name: str, password: str, client: str) -> Identity | None:
        if self._verify_user is None:
            return None
        user_id = await self._verify_user(name, password, client)
        return Identity("basic", user=user_id) if user_id else None

    async def verify_password(self, password: str, client: str) -> bool:
        return await self._verify(password, client)

    def forget_credentials(self) -> None:
        """Drop remembered Basic credentials (after a password change)."""
        self._basic_ok.clear()

    def _digest(self, value: str) -> bytes:
        return hmac.new(self.signer._key, value.encode(), hashlib.sha256).digest()

    def _basic_cached(self, value: str) -> bool:
        until = self._basic_ok.get(self._digest(value))
        return until is not None and until > self._clock()

    def _remember_basic(self, value: str) -> None:
        now = self._clock()
        self._basic_ok = {k: t for k, t in self._basic_ok.items() if t > now}
        if len(self._basic_ok) < 16:
            self._basic_ok[self._digest(value)] = now + BASIC_CACHE_S


def set_session_cookie(resp: Response, conn: HTTPConnection, cookie: str) -> None:
    """HttpOnly, SameSite=Strict, and Secure whenever the page came over https."""
    resp.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=SESSION_LIFETIME_S,
        path="/",
        httponly=True,
        samesite="strict",
        secure=conn.url.scheme == "https",
    )
