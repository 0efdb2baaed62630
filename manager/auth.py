"""Admin password hashing (scrypt) and slowing down repeated failed logins."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

MIN_PASSWORD = 4


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
