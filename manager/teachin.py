"""Teach-in: "Add card" gives the next unknown tag presented at any box to one user.

One window at a time, 60 s by default. The window ends with the first unknown tag (assigned),
when it runs out (nothing assigned), or when the admin cancels it. A tag that already belongs
to someone is never moved.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from manager.users import UserBook, tag_key, tag_problem

log = logging.getLogger(__name__)

TEACH_S = 60.0


@dataclass
class Window:
    user: str
    until: float
    result: str = "waiting"  # waiting | assigned | timeout | cancelled
    tag: str | None = None
    box: str | None = None


class TeachIn:
    def __init__(self, users: UserBook, clock: Callable[[], float] = time.monotonic) -> None:
        self.users = users
        self.clock = clock
        self.window: Window | None = None

    def start(self, user_id: str, seconds: float = TEACH_S) -> dict[str, Any]:
        if self.users.get(user_id) is None:
            raise KeyError(user_id)
        self.window = Window(user_id, self.clock() + seconds)
        log.info("teach-in for user %s: waiting %.0f s for a card", user_id, seconds)
        return self.status()

    def cancel(self) -> None:
        w = self.window
        if w is not None and w.result == "waiting":
            w.result = "cancelled"

    def _expire(self) -> None:
        w = self.window
        if w is not None and w.result == "waiting" and self.clock() >= w.until:
            w.result = "timeout"
            log.info("teach-in for user %s ended without a card", w.user)

    def offer(self, tag: str | None, box: str) -> bool:
        """A tag was presented at `box`; True if it was just assigned to the waiting user."""
        self._expire()
        w = self.window
        if w is None or w.result != "waiting" or not tag or tag_problem(tag):
            return False
        if self.users.by_tag(tag) is not None:
            return False
        user = self.users.get(w.user)
        if user is None:
            w.result = "cancelled"
            return False
        if any(tag_key(t) == tag_key(tag) for t in user.tags) or len(user.tags) >= 20:
            return False
        self.users.put(user.model_copy(update={"tags": [*user.tags, tag]}))
        w.result, w.tag, w.box = "assigned", tag, box
        log.info("teach-in: tag %s at %s assigned to user %s", tag, box, w.user)
        return True

    def status(self) -> dict[str, Any]:
        """For the page: whose window, seconds left, and how it ended."""
        self._expire()
        w = self.window
        if w is None:
            return {"user": None, "result": None, "remaining_s": 0, "tag": None, "box": None}
        left = max(0.0, w.until - self.clock()) if w.result == "waiting" else 0.0
        return {
            "user": w.user,
            "result": w.result,
            "remaining_s": round(left),
            "tag": w.tag,
            "box": w.box,
        }
