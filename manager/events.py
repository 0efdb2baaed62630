"""The recent events an operator reads: overload cuts, safe mode, devices offline and back."""

from __future__ import annotations

import logging
from collections import deque
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("ampshare.events")


class EventLog:
    """Bounded in memory; every event also goes to the log, where field diagnosis starts."""

    def __init__(self, size: int = 500) -> None:
        self._events: deque[dict[str, Any]] = deque(maxlen=size)

    def __call__(self, kind: str, message: str, *, device: str | None = None) -> None:
        event = {
            "ts": datetime.now(UTC).isoformat(timespec="seconds"),
            "kind": kind,
            "message": message,
            "device": device,
        }
        self._events.append(event)
        log.info("%s: %s", kind, message)

    def recent(self, limit: int = 200) -> list[dict[str, Any]]:
        items = list(self._events)[-limit:]
        items.reverse()
        return items
