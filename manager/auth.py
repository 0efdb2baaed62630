"""The admin login: password hashing (scrypt), the throttle on failed logins, and the ledger
of ended login sessions, which lives in the stored settings and so survives a restart."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from manager.config import InvalidInput

log = logging.getLogger("ampshare.auth")

MIN_PASSWORD = 4
#: a throttled client's login is checked after this pause, one attempt at a time
THROTTLED_CHECK_DELAY_S = 1.0
#: logouts remembered one by one; beyond this, every session ends (bounded file)
MAX_ENDED_SESSIONS = 256


def check_new_password(password: str) -> None:
    """Raises ValueError if `password` is too weak to be the admin password."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"use at least {MIN_PASSWORD} characters")


# scrypt cost: ~50 ms on a small machine, so guessing is slow but logging in is not
_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt = base64.b64decode(salt_b64)
        expected = base64.b64decode(digest_b64)
        digest = hashlib.scrypt(
            password.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


class Throttled(Exception):
    """Too many failed logins from one client; try again after `retry_after_s`."""

    def __init__(self, retry_after_s: float) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(f"too many failed logins, try again in {retry_after_s:.0f} s")


@dataclass
class LoginThrottle:
    """After `free` failures a client waits 1, 2, 4 ... s (at most `cap_s`) before the next try."""

    free: int = 5
    cap_s: float = 300.0
    clock: Callable[[], float] = time.monotonic
    _fails: dict[str, tuple[int, float]] = field(default_factory=dict)

    def wait(self, client: str) -> float:
        """Seconds until `client` may try again freely; 0 when it is not throttled."""
        _, until = self._fails.get(client, (0, 0.0))
        return max(0.0, until - self.clock())

    def check(self, client: str) -> None:
        wait = self.wait(client)
        if wait > 0:
            raise Throttled(wait)

    def failed(self, client: str) -> None:
        count, _ = self._fails.get(client, (0, 0.0))
        count += 1
        delay = 0.0 if count < self.free else min(self.cap_s, 2.0 ** (count - self.free))
        self._fails[client] = (count, self.clock() + delay)
        if len(self._fails) > 10_000:  # bounded memory under a spray of clients
            oldest = min(self._fails, key=lambda k: self._fails[k][1])
            del self._fails[oldest]

    def succeeded(self, client: str) -> None:
        self._fails.pop(client, None)


class CredentialStore(Protocol):
    """Where the hash and the session ledger are stored (manager.configstore.ConfigStore)."""

    def admin_hash(self) -> str | None: ...

    def set_admin_hash(self, value: str) -> None: ...

    def session_ledger(self) -> tuple[int, dict[str, int]]: ...

    def save_session_ledger(self, generation: int, revoked: dict[str, int]) -> None: ...


class AdminLogin:
    """Checks and changes the admin password and keeps track of ended login sessions.

    Memory follows the store: every change is written first, so a failed write changes nothing.
    A password change starts a new session generation (in the same write): every older login
    ends. A logout voids one session id until its cookie would have expired anyway.
    """

    def __init__(self, store: CredentialStore, throttle: LoginThrottle) -> None:
        self.store = store
        self.throttle = throttle
        self._lock = asyncio.Lock()  # one scrypt check at a time (16 MB each)
        self._checking_throttled: set[str] = set()
        self._hash = store.admin_hash()
        self._generation, self._revoked = store.session_ledger()

    def has_password(self) -> bool:
        return self._hash is not None

    async def verify(self, password: str, client: str) -> bool:
        """Checks the password; raises Throttled for a wrong one while `client` is throttled.

        The right password is accepted even then, so a guesser on the same address cannot lock
        the owner out; a throttled client gets one check at a time, each after a pause, which
        keeps guessing slow. scrypt runs in a worker thread, so the event loop goes on.
        """
        async with self._lock:
            wait = self.throttle.wait(client)
            if wait <= 0:
                return await self._check(password, client)
        if client in self._checking_throttled:
            raise Throttled(wait)
        self._checking_throttled.add(client)
        try:
            await asyncio.sleep(min(wait, THROTTLED_CHECK_DELAY_S))
            async with self._lock:
                ok = await self._check(password, client)
        finally:
            self._checking_throttled.discard(client)
        if not ok:
            raise Throttled(max(self.throttle.wait(client), THROTTLED_CHECK_DELAY_S))
        return True

    async def _check(self, password: str, client: str) -> bool:
        """One scrypt check, counted by the throttle; the caller holds the lock."""
        stored = self._hash
        ok = stored is not None and await asyncio.to_thread(verify_password, password, stored)
        if ok:
            self.throttle.succeeded(client)
        else:
            self.throttle.failed(client)
            log.warning("failed admin login from %s", client)
        return ok

    def set_now(self, new: str) -> None:
        """Sets the password without asking for the old one (first start, CLI)."""
        self._store_hash(hash_password(_checked(new)))

    async def change(self, old: str, new: str) -> None:
        async with self._lock:
            stored = self._hash
            if stored is None or not await asyncio.to_thread(verify_password, old, stored):
                raise InvalidInput.one(
                    "old_password", "is not the current password", "wrong_password"
                )
            self._store_hash(await asyncio.to_thread(hash_password, _checked(new)))

    def _store_hash(self, new_hash: str) -> None:
        self.store.set_admin_hash(new_hash)  # also starts a new session generation
        self._hash = new_hash
        self._generation, self._revoked = self.store.session_ledger()

    # -- login sessions ------------------------------------------------------------------
    def session_generation(self) -> int:
        return self._generation

    def session_revoked(self, session_id: str) -> bool:
        return session_id in self._revoked

    async def end_session(self, session_id: str, expires: int) -> None:
        now = time.time()
        revoked = {sid: exp for sid, exp in self._revoked.items() if exp > now}
        revoked[session_id] = int(expires)
        if len(revoked) > MAX_ENDED_SESSIONS:
            await self.end_all_sessions()
            return
        self.store.save_session_ledger(self._generation, revoked)
        self._revoked = revoked

    async def end_all_sessions(self) -> None:
        self.store.save_session_ledger(self._generation + 1, {})
        self._generation, self._revoked = self._generation + 1, {}


def _checked(new: str) -> str:
    try:
        check_new_password(new)
    except ValueError as exc:
        raise InvalidInput.one(
            "new_password", str(exc), "password_short", min=MIN_PASSWORD
        ) from None
    return new
