"""Limits against broken or hostile clients on the OCPP port: failed logins and event floods.

Without an OCPP password anyone on the network can open connections; these keep what such a
client can make ampshare remember or write bounded.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Peer:
    failures: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0


class LoginThrottle:
    """Per peer address: after `limit` failed logins within `window_s`, every login attempt from
    that address is refused for `block_s`. At most `max_peers` addresses are remembered."""

    def __init__(
        self,
        limit: int = 10,
        window_s: float = 60.0,
        block_s: float = 60.0,
        max_peers: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.window_s, self.block_s = limit, window_s, block_s
        self.max_peers = max_peers
        self._clock = clock
        self._peers: OrderedDict[str, _Peer] = OrderedDict()

    def blocked_for(self, peer: str) -> float:
        """Seconds this address must still wait (0: it may try)."""
        entry = self._peers.get(peer)
        if entry is None:
            return 0.0
        return max(0.0, entry.blocked_until - self._clock())

    def failed(self, peer: str) -> bool:
        """Count a failed login; True if the address is blocked from now on."""
        now = self._clock()
        entry = self._peers.pop(peer, None) or _Peer()
        self._peers[peer] = entry  # most recent last
        while len(self._peers) > self.max_peers:
            self._peers.popitem(last=False)
        entry.failures.append(now)
        while entry.failures and entry.failures[0] < now - self.window_s:
            entry.failures.popleft()
        if len(entry.failures) >= self.limit:
            entry.blocked_until = now + self.block_s
            entry.failures.clear()
            return True
        return False

    def succeeded(self, peer: str) -> None:
        self._peers.pop(peer, None)


class EventLimiter:
    """At most `burst` events per `window_s`; the ones held back are counted, and the count is
    handed out with the next event that is let through (so the log says how many were lost)."""

    def __init__(
        self, burst: int = 20, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.burst, self.window_s = burst, window_s
        self._clock = clock
        self._sent: deque[float] = deque()
        self.suppressed = 0

    def allow(self) -> tuple[bool, int]:
        """(let this one through?, how many were held back before it)."""
        now = self._clock()
        while self._sent and self._sent[0] <= now - self.window_s:
            self._sent.popleft()
        if len(self._sent) >= self.burst:
            self.suppressed += 1
            return False, 0
        self._sent.append(now)
        held, self.suppressed = self.suppressed, 0
        return True, held
